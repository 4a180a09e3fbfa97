//! Counting components and checks into the `system` section, once each.

use std::borrow::Cow;
use std::collections::BTreeMap;

use health_model::{ComponentStatus, HealthCheckResult, HealthCheckStatus, SystemHealth};

use crate::registry::ComponentCounts;

/// Counts components and checks together into the `system` section. A check named like a
/// registered component, or naming it in its `component` metadata, is the same thing seen
/// twice and counts once, as the worse of the two. The state and the summary both count
/// through it, so they never disagree.
#[derive(Default)]
pub(super) struct SystemTally<'a> {
    statuses: BTreeMap<Cow<'a, str>, HealthCheckStatus>,
}

impl<'a> SystemTally<'a> {
    pub(super) fn count(&mut self, name: Cow<'a, str>, status: HealthCheckStatus) {
        self.statuses
            .entry(name)
            .and_modify(|worst| *worst = (*worst).max(status))
            .or_insert(status);
    }

    pub(super) fn finish(self) -> SystemHealth {
        let mut counts = ComponentCounts::default();
        for status in self.statuses.into_values() {
            counts.add(match status {
                HealthCheckStatus::Healthy => ComponentStatus::Healthy,
                HealthCheckStatus::Degraded => ComponentStatus::Degraded,
                HealthCheckStatus::Unhealthy => ComponentStatus::Failed,
                HealthCheckStatus::Unknown => ComponentStatus::Unknown,
            });
        }
        counts.to_system_health()
    }
}

/// The name a check's result counts under: its `component` metadata entry (as
/// [`ComponentHealthCheck`](crate::checks::ComponentHealthCheck)'s results carry), else the check's.
pub(super) fn counted_as<'a>(name: &'a str, result: &'a HealthCheckResult) -> &'a str {
    result
        .metadata
        .get("component")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(name)
}

/// The status a check counts with: a non-critical check that is unhealthy counts as
/// degraded, never as a failed component.
pub(super) fn counted_status(status: HealthCheckStatus, critical: bool) -> HealthCheckStatus {
    if !critical && status == HealthCheckStatus::Unhealthy {
        HealthCheckStatus::Degraded
    } else {
        status
    }
}
