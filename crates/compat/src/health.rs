//! `backend.health`: the [`HealthMonitor`], its checks ([`checks`]), metric sinks
//! ([`sinks`]) and alert-webhook adapters ([`integrations`]).
//!
//! The original's usage, in Rust (the example `cargo run -p compat --example health`):
//!
#![doc = concat!("```\n", include_str!("../examples/health.rs"), "\n```")]

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

/// `backend.health.sinks`: the [`MetricsSink`] trait and every sink.
pub mod sinks {
    pub use ::health_sinks::*;
}

/// `backend.health.integrations`: the Datadog and New Relic webhook adapters.
pub mod integrations {
    pub use ::health::{
        AdapterParseError, Alert, AlertImpact, DEFAULT_ALERT_COMPONENT, DatadogAdapter,
        MonitoringAdapter, NewRelicAdapter, adapter_for, ingest_alerts,
    };
}
