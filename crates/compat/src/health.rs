//! `backend.health`: the [`HealthMonitor`], its checks ([`checks`]), metric sinks
//! ([`sinks`]) and alert-webhook adapters ([`integrations`]).
//!
//! Every name the `health` crate exported at its root before it grouped them into modules
//! is still here, so code ported against `backend::health::*` keeps compiling.
//!
//! The original's usage, in Rust (the example `cargo run -p compat --example health`):
//!
#![doc = concat!("```\n", include_str!("../examples/health.rs"), "\n```")]

pub use ::health::alerts::{
    AdapterParseError, Alert, AlertImpact, DEFAULT_ALERT_COMPONENT, DatadogAdapter,
    MAX_ALERT_COMPONENT_CHARS, MAX_ALERT_METADATA_ENTRIES, MAX_ALERT_TEXT_CHARS,
    MAX_ALERTS_PER_PAYLOAD, MonitoringAdapter, NewRelicAdapter, PROVIDERS, adapter_for,
    ingest_alerts,
};
pub use ::health::breaker::{BreakerPermit, BreakerStatus, CallError, CircuitBreakerConfig};
pub use ::health::checks::{
    ComponentHealthCheck, DEFAULT_CHECK_TIMEOUT, DiskSpaceCheck, DownstreamServiceCheck,
    FnHealthCheck, HEALTH_CHECK_KEY, RedisHealthCheck, StorageHealthCheck, check_fn, run_check,
};
pub use ::health::metrics::{
    METRIC_DESCRIPTIONS, MetricsSinkExt, RETRY_FAILURES_METRIC, STATE_DURATION_METRIC,
};
pub use ::health::model::{
    BreakerSnapshot, CircuitState, ComponentHealth, HealthSummary, RETRY_CRITICAL_AT,
    RETRY_ELEVATED_AT, ResourceHealth, ResourceLevel, ResourceLevels, ResourceMetrics, RetryHealth,
    RetryState, SystemHealth, SystemStatus, Timestamp, TimestampParseError, UnknownStatus,
};
pub use ::health::monitor::{
    DEFAULT_CACHE_TTL, DEFAULT_FAILURE_WINDOW, DEFAULT_LISTENER_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_CHECKS, DEFAULT_MAX_STALENESS, HealthMonitorBuilder,
    LISTENER_QUEUE_CAPACITY, RefresherHandle, StatusChange, StatusListener,
};
pub use ::health::registry::ComponentCounts;
pub use ::health::resources::{DiskUsage, ResourceConfig, ResourceThresholds, Thresholds};
pub use ::health::retry::{MAX_TRACKED_RETRY_FAILURES, RetryStatus, RetryTracker};
pub use ::health::*;
pub use ::health_sinks::{LoggingMetricsSink, MetricsSink, NoOpMetricsSink, PrometheusMetricsSink};

/// `backend.health.checks`: the [`HealthCheck`] trait and the
/// built-in checks.
pub mod checks {
    pub use ::health::checks::{
        CheckError, CheckOutcome, ComponentHealthCheck, DEFAULT_CHECK_TIMEOUT, DiskSpaceCheck,
        DownstreamServiceCheck, FnHealthCheck, HealthCheck, RedisHealthCheck, StorageHealthCheck,
        check_fn, run_check,
    };
    pub use ::health::{HealthCheckResult, HealthCheckStatus};
}

/// `backend.health.sinks`: the [`MetricsSink`] trait and every sink, with the health
/// check metrics' names and [`emit_health_check`](MetricsSinkExt::emit_health_check)
/// (now defined by the `health` crate).
pub mod sinks {
    pub use ::health::metrics::{
        HEALTH_CHECK_LATENCY_METRIC, HEALTH_CHECK_STATUS_METRIC, HEALTH_CHECK_TAG, MetricsSinkExt,
        health_status_value,
    };
    pub use ::health_sinks::dogstatsd::{
        DEFAULT_DOGSTATSD_ADDRESS, DEFAULT_MAX_DATAGRAM_SIZE, DogStatsdSinkBuilder,
    };
    pub use ::health_sinks::logging::LOG_TARGET;
    pub use ::health_sinks::prometheus::{
        CONTENT_TYPE, DEFAULT_BUCKETS, DEFAULT_MAX_SERIES, PrometheusSinkBuilder,
    };
    pub use ::health_sinks::*;
}

/// `backend.health.integrations`: the Datadog and New Relic webhook adapters.
pub mod integrations {
    pub use ::health::alerts::{
        AdapterParseError, Alert, AlertImpact, DEFAULT_ALERT_COMPONENT, DatadogAdapter,
        MonitoringAdapter, NewRelicAdapter, adapter_for, ingest_alerts,
    };
}
