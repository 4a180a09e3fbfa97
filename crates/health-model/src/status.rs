use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The outcome of a health check: `healthy`, `degraded`, `unhealthy` or `unknown`.
///
/// Ordered from best to worst for worst-of aggregation: `Healthy < Degraded < Unknown <
/// Unhealthy`. A status nobody could establish is worse than a degraded one but never
/// outranks a known failure.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckStatus {
    /// Working as expected.
    Healthy,
    /// Working, with reduced quality (slow, near a limit, unexpected answer).
    Degraded,
    /// Not established (never ran, result too old, check could not run).
    #[default]
    Unknown,
    /// Not working.
    Unhealthy,
}

impl HealthCheckStatus {
    /// The status as the original wrote it: `"healthy"`, `"degraded"`, ...
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for HealthCheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HealthCheckStatus {
    type Err = UnknownStatus;

    /// Parses a status name, ignoring ASCII case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Healthy,
            Self::Degraded,
            Self::Unhealthy,
            Self::Unknown,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// The health of a registered component: `healthy`, `degraded`, `failed` or `unknown`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    /// Working.
    Healthy,
    /// Working in a reduced way (often with a fallback active).
    Degraded,
    /// Not working.
    Failed,
    /// Never reported.
    #[default]
    Unknown,
}

impl ComponentStatus {
    /// The status as the original wrote it: `"healthy"`, `"degraded"`, `"failed"`, `"unknown"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ComponentStatus> for HealthCheckStatus {
    fn from(status: ComponentStatus) -> Self {
        match status {
            ComponentStatus::Healthy => Self::Healthy,
            ComponentStatus::Degraded => Self::Degraded,
            ComponentStatus::Failed => Self::Unhealthy,
            ComponentStatus::Unknown => Self::Unknown,
        }
    }
}

/// A string that names no health status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a health status (healthy, degraded, unhealthy, unknown)")]
pub struct UnknownStatus(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_the_original_strings() {
        for (status, text) in [
            (HealthCheckStatus::Healthy, "healthy"),
            (HealthCheckStatus::Degraded, "degraded"),
            (HealthCheckStatus::Unhealthy, "unhealthy"),
            (HealthCheckStatus::Unknown, "unknown"),
        ] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(text)
            );
            assert_eq!(
                text.to_uppercase().parse::<HealthCheckStatus>().unwrap(),
                status
            );
        }
        assert!("fine".parse::<HealthCheckStatus>().is_err());
        assert_eq!(
            serde_json::to_value(ComponentStatus::Failed).unwrap(),
            serde_json::json!("failed")
        );
    }

    #[test]
    fn worst_of_ranks_unknown_between_degraded_and_unhealthy() {
        use HealthCheckStatus::{Degraded, Healthy, Unhealthy, Unknown};
        let mut statuses = [Unhealthy, Unknown, Healthy, Degraded];
        statuses.sort();
        assert_eq!(statuses, [Healthy, Degraded, Unknown, Unhealthy]);
    }
}
