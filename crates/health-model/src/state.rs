//! The health state the monitor reports and the fallback cascade reads.
//!
//! Every section and field has a default, so a partial JSON document, such as the
//! original's `{"circuit_breaker": {"state": "OPEN"}, "system": {"failed_components": 2}}`,
//! deserializes into a complete [`HealthState`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{ComponentStatus, HealthCheckResult, HealthCheckStatus, Timestamp};

/// Everything known about the service's health at one moment, in the original's JSON
/// shape (`timestamp`, `system`, `circuit_breaker`, `retry`, `resources`, `components`,
/// `health_checks`, `uptime_seconds`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthState {
    /// When the state was assembled.
    pub timestamp: Timestamp,
    /// Component counts and the overall verdict.
    pub system: SystemHealth,
    /// The circuit breaker's snapshot.
    pub circuit_breaker: BreakerSnapshot,
    /// Retry failures in the failure window.
    pub retry: RetryHealth,
    /// CPU, memory and disk use.
    pub resources: ResourceHealth,
    /// Every registered component, by name.
    pub components: BTreeMap<String, ComponentHealth>,
    /// The latest result of every health check, by name.
    pub health_checks: BTreeMap<String, HealthCheckResult>,
    /// Seconds since the monitor started.
    pub uptime_seconds: f64,
}

/// The overall verdict over components and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemStatus {
    /// Nothing is registered yet, or something's health is not known (a check that has
    /// not run, a stale result) while nothing failed or is degraded.
    #[default]
    Unknown,
    /// At least one component failed (or check is unhealthy).
    Failed,
    /// At least one component is degraded, none failed.
    Degraded,
    /// Everything reports healthy.
    Healthy,
}

/// Component counts. Unhealthy health checks count as failed components, so a dead
/// dependency can drive the fallback cascade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemHealth {
    /// The overall verdict.
    pub status: SystemStatus,
    /// Components (and checks) reporting healthy.
    pub healthy_components: u64,
    /// Components (and checks) reporting degraded.
    pub degraded_components: u64,
    /// Components that failed plus checks that are unhealthy.
    pub failed_components: u64,
    /// Everything counted.
    pub total_components: u64,
}

/// What a readiness probe reads: the `system` section of the cached state, the names of
/// what failed and each check's status, without any component or check result (the
/// health monitor's `cached_summary` builds it without copying them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSummary {
    /// The `system` section, counted as [`HealthState::system`] is.
    pub system: SystemHealth,
    /// Components marked failed, sorted.
    pub failed_components: Vec<String>,
    /// Checks whose current result is `unhealthy`, sorted.
    pub unhealthy_checks: Vec<String>,
    /// The status each check's current result shows, by check name (`unknown` for a
    /// check that never ran or whose result is stale).
    pub checks: BTreeMap<String, HealthCheckStatus>,
}

impl HealthSummary {
    /// Failed components and unhealthy checks together, sorted, each name once.
    #[must_use]
    pub fn failed_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .failed_components
            .iter()
            .chain(&self.unhealthy_checks)
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// One component's health, as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComponentHealth {
    /// The component's name.
    pub name: String,
    /// Its status.
    pub status: ComponentStatus,
    /// When it last changed.
    pub last_updated: Timestamp,
    /// How many times it was marked failed.
    pub error_count: u64,
    /// How many times it was marked degraded.
    pub warning_count: u64,
    /// The last error reported, if any.
    pub last_error: Option<String>,
    /// When the last error was reported.
    pub last_error_time: Option<Timestamp>,
    /// Whether the component runs on a fallback.
    pub fallback_active: bool,
    /// Free-form details.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Default for ComponentHealth {
    fn default() -> Self {
        Self {
            name: String::new(),
            status: ComponentStatus::Unknown,
            last_updated: Timestamp::now(),
            error_count: 0,
            warning_count: 0,
            last_error: None,
            last_error_time: None,
            fallback_active: false,
            metadata: serde_json::Map::new(),
        }
    }
}

/// A circuit breaker's state, serialized as the original's strings (`"CLOSED"`, `"OPEN"`,
/// `"HALF_OPEN"`, and `"UNKNOWN"` when no breaker is configured). Parsing ignores case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CircuitState {
    /// Calls flow.
    Closed,
    /// Calls are refused until the recovery timeout passes.
    Open,
    /// A bounded number of trial calls decide between closing and reopening.
    HalfOpen,
    /// No breaker is configured.
    #[default]
    Unknown,
}

impl CircuitState {
    /// `"CLOSED"`, `"OPEN"`, `"HALF_OPEN"` or `"UNKNOWN"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Open => "OPEN",
            Self::HalfOpen => "HALF_OPEN",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CircuitState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Closed, Self::Open, Self::HalfOpen, Self::Unknown]
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("{text:?} is not a circuit state (CLOSED, OPEN, HALF_OPEN, UNKNOWN)")
            })
    }
}

impl Serialize for CircuitState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CircuitState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A circuit breaker as the monitor reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerSnapshot {
    /// Whether a breaker is configured.
    pub available: bool,
    /// Its state.
    pub state: CircuitState,
    /// How long it has been open, 0 unless open.
    pub open_duration_seconds: f64,
    /// Failed calls since it was created.
    pub failures_total: u64,
    /// Successful calls since it was created.
    pub successes_total: u64,
    /// Times it opened.
    pub trips_total: u64,
    /// Failures in a row, right now.
    pub consecutive_failures: u64,
}

/// How worrying the retry failures in the window are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RetryState {
    /// Fewer than 5 failures in the window.
    #[default]
    Stable,
    /// 5 to 19.
    Elevated,
    /// 20 or more.
    Critical,
}

/// Failures fewer than this are [`RetryState::Stable`].
pub const RETRY_ELEVATED_AT: u64 = 5;
/// Failures fewer than this (and at least [`RETRY_ELEVATED_AT`]) are
/// [`RetryState::Elevated`]; this many or more are [`RetryState::Critical`].
pub const RETRY_CRITICAL_AT: u64 = 20;

impl RetryState {
    /// The state for `failures` in the window: stable below 5, elevated below 20,
    /// critical from 20.
    #[must_use]
    pub const fn for_failures(failures: u64) -> Self {
        if failures < RETRY_ELEVATED_AT {
            Self::Stable
        } else if failures < RETRY_CRITICAL_AT {
            Self::Elevated
        } else {
            Self::Critical
        }
    }
}

/// Retry failures recorded in the sliding failure window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryHealth {
    /// The verdict.
    pub state: RetryState,
    /// Failures in the window (named after the original's one-hour default window).
    pub failures_1h: u64,
    /// Failures per second over the window.
    pub failure_rate: f64,
    /// Retry attempts reported by the retry tracker, if one is plugged in.
    pub total_attempts: u64,
}

/// How close a resource is to exhaustion.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceLevel {
    /// Below the warning threshold.
    Healthy,
    /// At or above the warning threshold.
    Warning,
    /// At or above the critical threshold.
    Critical,
    /// Not measured.
    #[default]
    Unknown,
}

/// Per-resource verdicts; `overall` is the worst of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLevels {
    /// CPU use.
    pub cpu: ResourceLevel,
    /// Memory use.
    pub memory: ResourceLevel,
    /// Disk use.
    pub disk: ResourceLevel,
    /// The worst of the three, a resource that may not force SAFE counting at most as a
    /// warning (the `health` crate's `ResourceConfig::force_safe`: memory and disk by
    /// default, not CPU); `critical` sends the cascade to SAFE.
    pub overall: ResourceLevel,
}

impl ResourceLevels {
    /// The levels with `overall` set to the worst known one: critical if any is critical,
    /// else warning if any is, else healthy if any is healthy, else unknown. An
    /// unmeasured resource never hides a critical one.
    #[must_use]
    pub fn from_levels(cpu: ResourceLevel, memory: ResourceLevel, disk: ResourceLevel) -> Self {
        let all = [cpu, memory, disk];
        let overall = [
            ResourceLevel::Critical,
            ResourceLevel::Warning,
            ResourceLevel::Healthy,
        ]
        .into_iter()
        .find(|level| all.contains(level))
        .unwrap_or(ResourceLevel::Unknown);
        Self {
            cpu,
            memory,
            disk,
            overall,
        }
    }
}

/// The latest resource measurements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceMetrics {
    /// System-wide CPU use, percent.
    pub cpu_percent: f64,
    /// System-wide memory use, percent.
    pub memory_percent: f64,
    /// Memory still available, MiB.
    pub memory_available_mb: f64,
    /// Use of the monitored disk, percent.
    pub disk_usage_percent: f64,
    /// This process' resident memory, MiB.
    pub process_memory_mb: f64,
    /// When these were measured.
    pub timestamp: Option<Timestamp>,
}

/// CPU, memory and disk, as the original's `resources` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceHealth {
    /// The verdicts.
    pub status: ResourceLevels,
    /// The measurements.
    pub current_metrics: ResourceMetrics,
    /// Whether resources are measured at all.
    pub available: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_originals_partial_json_deserializes_with_defaults() {
        let state: HealthState = serde_json::from_value(json!({
            "circuit_breaker": {"state": "CLOSED"},
            "retry": {"failures_1h": 0},
            "system": {"failed_components": 2}
        }))
        .unwrap();
        assert_eq!(state.circuit_breaker.state, CircuitState::Closed);
        assert_eq!(state.system.failed_components, 2);
        assert_eq!(state.resources.status.overall, ResourceLevel::Unknown);
        assert!(state.components.is_empty());
        let empty: HealthState = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty.circuit_breaker.state, CircuitState::Unknown);
    }

    #[test]
    fn serializes_with_the_originals_sections_and_strings() {
        let mut state = HealthState::default();
        state.circuit_breaker.state = CircuitState::HalfOpen;
        state.retry.state = RetryState::Elevated;
        let json = serde_json::to_value(&state).unwrap();
        for key in [
            "timestamp",
            "system",
            "circuit_breaker",
            "retry",
            "resources",
            "components",
            "health_checks",
            "uptime_seconds",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert_eq!(json["circuit_breaker"]["state"], "HALF_OPEN");
        assert_eq!(json["retry"]["state"], "ELEVATED");
        assert_eq!(json["system"]["status"], "unknown");
        assert_eq!(serde_json::from_value::<HealthState>(json).unwrap(), state);
    }

    #[test]
    fn circuit_state_parses_case_insensitively_and_refuses_nonsense() {
        assert_eq!("open".parse::<CircuitState>().unwrap(), CircuitState::Open);
        assert_eq!(
            "Half_Open".parse::<CircuitState>().unwrap(),
            CircuitState::HalfOpen
        );
        assert!("CircuitState.OPEN".parse::<CircuitState>().is_err());
        assert!(serde_json::from_value::<BreakerSnapshot>(json!({"state": "AJAR"})).is_err());
    }

    #[test]
    fn retry_states_follow_the_originals_thresholds() {
        fn check(failures: u64, expected: RetryState) {
            assert_eq!(RetryState::for_failures(failures), expected, "{failures}");
        }
        check(0, RetryState::Stable);
        check(4, RetryState::Stable);
        check(5, RetryState::Elevated);
        check(19, RetryState::Elevated);
        check(20, RetryState::Critical);
        check(10_000, RetryState::Critical);
    }

    #[test]
    fn overall_is_the_worst_known_level() {
        use ResourceLevel::{Critical, Healthy, Unknown, Warning};
        fn check(levels: [ResourceLevel; 3], expected: ResourceLevel) {
            let [cpu, memory, disk] = levels;
            assert_eq!(
                ResourceLevels::from_levels(cpu, memory, disk).overall,
                expected,
                "{levels:?}"
            );
        }
        check([Healthy, Healthy, Healthy], Healthy);
        check([Healthy, Warning, Healthy], Warning);
        check([Warning, Healthy, Critical], Critical);
        check([Critical, Unknown, Unknown], Critical);
        check([Unknown, Healthy, Unknown], Healthy);
        check([Unknown, Unknown, Unknown], Unknown);
    }
}
