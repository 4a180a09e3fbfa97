//! The health data model, re-exported from the `health-model` crate: the [`HealthState`]
//! the monitor assembles and its sections, the [`HealthCheckResult`] of one check, the
//! statuses and the [`Timestamp`] every record carries.
//!
//! Crates that only read health (the fallback cascade, a dashboard) can depend on
//! `health-model` alone, without the checks, probes and HTTP client of this crate.

pub use health_model::{
    BreakerSnapshot, CircuitState, ComponentHealth, ComponentStatus, GroupHealth, GroupMember,
    HealthCheckResult, HealthCheckStatus, HealthState, HealthSummary, RETRY_CRITICAL_AT,
    RETRY_ELEVATED_AT, ResourceHealth, ResourceLevel, ResourceLevels, ResourceMetrics, RetryHealth,
    RetryState, SystemHealth, SystemStatus, Timestamp, TimestampParseError, UnknownStatus,
};
