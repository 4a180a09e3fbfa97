//! `health-model` is the health data model, in the original's JSON shape: the
//! [`HealthState`] the health monitor reports and the fallback cascade reads, with its
//! sections ([`SystemHealth`], [`BreakerSnapshot`], [`RetryHealth`], [`ResourceHealth`],
//! [`ComponentHealth`]), the [`HealthCheckResult`] of one check, a group's [`GroupHealth`], the statuses
//! ([`HealthCheckStatus`], [`ComponentStatus`], [`CircuitState`], ...) and the
//! [`Timestamp`] every record carries.
//!
//! It is plain data with serde: producers (the `health` crate's monitor) and consumers
//! (the `fallback` crate's cascade, a dashboard, a test) depend on it alone, so reading a
//! health state never pulls in checks, HTTP clients or system probes.
//!
//! What it deliberately does not do: run checks, sample resources, count or decide
//! anything beyond what the data says of itself (the worst resource level, the retry
//! verdict for a number of failures), keep state, or guess a time zone. Timestamps are
//! RFC 3339 in UTC (`...Z`); the original's zone-less `isoformat()` strings are refused
//! rather than read in some local zone.
//!
//! Every section and field has a default, so a partial document, as the original's tests
//! and callers write them, deserializes into a complete state:
//!
//! ```
//! use health_model::{
//!     CircuitState, ComponentStatus, HealthCheckStatus, HealthState, ResourceLevel,
//!     RetryState, SystemStatus,
//! };
//!
//! let state: HealthState = serde_json::from_value(serde_json::json!({
//!     "system": {"status": "failed", "failed_components": 1, "total_components": 2},
//!     "circuit_breaker": {"available": true, "state": "OPEN", "open_duration_seconds": 15},
//!     "retry": {"state": "ELEVATED", "failures_1h": 7},
//!     "resources": {"status": {"overall": "warning"}, "available": true},
//!     "components": {"model": {"name": "model", "status": "failed", "error_count": 3}},
//!     "health_checks": {
//!         "redis": {
//!             "name": "redis",
//!             "status": "degraded",
//!             "message": "slow",
//!             "latency_ms": 912.5,
//!             "timestamp": "2026-11-27T13:35:07.123456Z",
//!             "metadata": {"backend": "redis"}
//!         }
//!     },
//!     "uptime_seconds": 3600.5
//! }))?;
//!
//! assert_eq!(state.system.status, SystemStatus::Failed);
//! assert_eq!(state.circuit_breaker.state, CircuitState::Open);
//! assert_eq!(state.retry.state, RetryState::Elevated);
//! assert_eq!(state.resources.status.overall, ResourceLevel::Warning);
//! assert_eq!(state.resources.status.cpu, ResourceLevel::Unknown); // defaulted
//! assert_eq!(state.components["model"].status, ComponentStatus::Failed);
//! let redis = &state.health_checks["redis"];
//! assert_eq!(redis.status, HealthCheckStatus::Degraded);
//! assert_eq!(redis.timestamp.to_string(), "2026-11-27T13:35:07.123456Z");
//!
//! // Written back, it has every section, with the original's strings.
//! let json = serde_json::to_value(&state)?;
//! assert_eq!(json["circuit_breaker"]["state"], "OPEN");
//! assert_eq!(json["retry"]["state"], "ELEVATED");
//! assert_eq!(serde_json::from_value::<HealthState>(json)?, state);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Feature flags
//!
//! | Name | Default | Enables |
//! |------|---------|---------|
//! | none |         | the crate has no optional part: serde, serde_json (check metadata), thiserror and humantime (RFC 3339) are all it needs |

mod state;
pub use state::{
    BreakerSnapshot, CircuitState, ComponentHealth, HealthState, HealthSummary, RETRY_CRITICAL_AT,
    RETRY_ELEVATED_AT, ResourceHealth, ResourceLevel, ResourceLevels, ResourceMetrics, RetryHealth,
    RetryState, SystemHealth, SystemStatus,
};

mod group;
pub use group::{GroupHealth, GroupMember};

mod result;
pub use result::HealthCheckResult;

mod status;
pub use status::{ComponentStatus, HealthCheckStatus, UnknownStatus};

mod time;
pub use time::{Timestamp, TimestampParseError};
