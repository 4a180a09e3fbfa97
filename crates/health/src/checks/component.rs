//! [`ComponentHealthCheck`]: one component of a [`ComponentRegistry`], as a check.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use health_model::ComponentStatus;

use super::{CheckError, CheckOutcome, HealthCheck};
use crate::ComponentRegistry;

/// Reports one component of a [`ComponentRegistry`] as a check: healthy, degraded,
/// failed (unhealthy) or unknown as registered. The message is the component's last
/// error while it is not healthy; metadata: `component` (the component's name, which
/// makes the [`HealthMonitor`](crate::HealthMonitor) count the check and the component
/// once, whatever the check is named), `error_count`, `warning_count`, `fallback_active`.
/// Reading never registers the component.
///
/// Named after the component unless renamed; 1 s timeout.
#[derive(Clone)]
pub struct ComponentHealthCheck {
    component: String,
    registry: ComponentRegistry,
    name: String,
    timeout: Duration,
}

impl fmt::Debug for ComponentHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentHealthCheck")
            .field("component", &self.component)
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ComponentHealthCheck {
    /// A check of `component` in `registry`.
    pub fn new(component: impl Into<String>, registry: ComponentRegistry) -> Self {
        let component = component.into();
        Self {
            name: component.clone(),
            component,
            registry,
            timeout: Duration::from_secs(1),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl HealthCheck for ComponentHealthCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let component = self.registry.get_component_health(&self.component);
        let message = match (&component.last_error, component.status) {
            (Some(error), ComponentStatus::Degraded | ComponentStatus::Failed) => error.clone(),
            _ => format!("component status: {}", component.status),
        };
        Ok(CheckOutcome::new(component.status.into(), message)
            .with_metadata("component", self.component.as_str())
            .with_metadata("error_count", component.error_count)
            .with_metadata("warning_count", component.warning_count)
            .with_metadata("fallback_active", component.fallback_active))
    }
}
