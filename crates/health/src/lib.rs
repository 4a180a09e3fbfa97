//! `health` tells a service how healthy it is: health checks with timeouts and panic
//! isolation, a component registry, a circuit breaker, retry-failure tracking and
//! resource use, assembled by the `HealthMonitor` into a [`HealthState`].
//!
//! (Crate documentation in progress.)

mod result;
pub use result::HealthCheckResult;

mod state;
pub use state::{
    BreakerSnapshot, CircuitState, ComponentHealth, HealthState, ResourceHealth, ResourceLevel,
    ResourceLevels, ResourceMetrics, RetryHealth, RetryState, SystemHealth, SystemStatus,
};

mod status;
pub use status::{ComponentStatus, HealthCheckStatus, UnknownStatus};

mod time;
pub use time::{Timestamp, TimestampParseError};
