//! `backend.health`: the [`HealthMonitor`], its checks ([`checks`]), metric sinks
//! ([`sinks`]) and alert-webhook adapters ([`integrations`]).
//!
//! The original's usage, in Rust (the example `cargo run -p compat --example health`):
//!
#![doc = concat!("```\n", include_str!("../examples/health.rs"), "\n```")]

pub use ::health::metrics::MetricsSinkExt;
pub use ::health::*;
pub use ::health_sinks::{LoggingMetricsSink, MetricsSink, NoOpMetricsSink, PrometheusMetricsSink};

/// `backend.health.checks`: the [`HealthCheck`] trait and the
/// built-in checks.
pub mod checks {
    pub use ::health::{
        CheckError, CheckOutcome, ComponentHealthCheck, DEFAULT_CHECK_TIMEOUT, DiskSpaceCheck,
        DownstreamServiceCheck, FnHealthCheck, HealthCheck, HealthCheckResult, HealthCheckStatus,
        RedisHealthCheck, StorageHealthCheck, check_fn, run_check,
    };
}

/// `backend.health.sinks`: the [`MetricsSink`] trait and every sink, with the health
/// check metrics' names and [`emit_health_check`](MetricsSinkExt::emit_health_check)
/// (now defined by the `health` crate).
pub mod sinks {
    pub use ::health::metrics::{
        HEALTH_CHECK_LATENCY_METRIC, HEALTH_CHECK_STATUS_METRIC, HEALTH_CHECK_TAG, MetricsSinkExt,
        health_status_value,
    };
    pub use ::health_sinks::*;
}

/// `backend.health.integrations`: the Datadog and New Relic webhook adapters.
pub mod integrations {
    pub use ::health::{
        AdapterParseError, Alert, AlertImpact, DEFAULT_ALERT_COMPONENT, DatadogAdapter,
        MonitoringAdapter, NewRelicAdapter, adapter_for, ingest_alerts,
    };
}
