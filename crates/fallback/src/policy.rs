use std::fmt;

use health_model::{CircuitState, HealthState, ResourceLevel};
use serde::{Deserialize, Serialize};

use crate::FallbackMode;

/// Turns a [`HealthState`] into the mode the service should run in, and explains a change.
///
/// [`ThresholdPolicy`] (the original's rule) is the default; implement this trait for
/// another rule. [`target`](Self::target) runs on every cascade, so keep it cheap and
/// free of allocation; [`explain`](Self::explain) runs only when the mode changes.
pub trait CascadePolicy: Send + Sync + fmt::Debug {
    /// The mode `state` calls for.
    fn target(&self, state: &HealthState) -> FallbackMode;

    /// Why the mode changes from `from` to `to` under `state`: a short, `"; "`-separated
    /// list of reasons, kept in the transition record.
    fn explain(&self, state: &HealthState, from: FallbackMode, to: FallbackMode) -> String;
}

/// The original's decision rule, with its thresholds configurable:
///
/// 1. SAFE when `system.failed_components >= safe_failed_components` (default 2), or when
///    `resources.status.overall` is critical (unless `safe_on_critical_resources` is off);
/// 2. else HEURISTIC when the circuit breaker is OPEN (unless `heuristic_on_open_circuit`
///    is off; HALF_OPEN does not count), or when `retry.failures_1h >
///    heuristic_retry_failures` (default 50);
/// 3. else PRIMARY.
///
/// Reasons use the original's vocabulary, in this order, joined by `"; "`:
/// `multiple_failures(N)`, `resource_exhaustion`, `circuit_open(Xs)` (seconds open, no
/// decimals) and `high_retry_failures(N)`, each listed when its condition holds. A
/// recovery that no condition explains says what the signals are now, e.g.
/// `recovered(failed_components=0, circuit=CLOSED, failures_1h=3, resources=healthy)`
/// (the original said `unknown`); any other change no condition explains is `unknown`.
///
/// ```
/// use fallback::{CascadePolicy, FallbackMode, ThresholdPolicy};
/// use health_model::HealthState;
///
/// let state: HealthState = serde_json::from_value(serde_json::json!({
///     "circuit_breaker": {"state": "OPEN", "open_duration_seconds": 15.4},
///     "retry": {"failures_1h": 60},
///     "system": {"failed_components": 1}
/// }))?;
/// let policy = ThresholdPolicy::default();
/// assert_eq!(policy.target(&state), FallbackMode::Heuristic);
/// assert_eq!(
///     policy.explain(&state, FallbackMode::Primary, FallbackMode::Heuristic),
///     "circuit_open(15s); high_retry_failures(60)"
/// );
///
/// let mut strict = ThresholdPolicy::default();
/// strict.safe_failed_components = 1;
/// assert_eq!(strict.target(&state), FallbackMode::Safe);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ThresholdPolicy {
    /// SAFE when at least this many components failed (default 2). 0 means always SAFE.
    pub safe_failed_components: u64,
    /// SAFE when the resources' overall level is critical (default on).
    pub safe_on_critical_resources: bool,
    /// HEURISTIC when the circuit breaker is OPEN (default on).
    pub heuristic_on_open_circuit: bool,
    /// HEURISTIC when more than this many retry failures are in the window (default 50).
    pub heuristic_retry_failures: u64,
}

impl ThresholdPolicy {
    /// The original's thresholds: 2 failed components, critical resources, an open
    /// breaker, more than 50 retry failures.
    pub const ORIGINAL: Self = Self {
        safe_failed_components: 2,
        safe_on_critical_resources: true,
        heuristic_on_open_circuit: true,
        heuristic_retry_failures: 50,
    };

    fn too_many_failures(&self, state: &HealthState) -> bool {
        state.system.failed_components >= self.safe_failed_components
    }

    fn resources_critical(&self, state: &HealthState) -> bool {
        self.safe_on_critical_resources && state.resources.status.overall == ResourceLevel::Critical
    }

    fn circuit_open(&self, state: &HealthState) -> bool {
        self.heuristic_on_open_circuit && state.circuit_breaker.state == CircuitState::Open
    }

    fn high_retry_failures(&self, state: &HealthState) -> bool {
        state.retry.failures_1h > self.heuristic_retry_failures
    }

    /// Every reason that holds under `state`, in the documented order.
    #[must_use]
    pub fn reasons(&self, state: &HealthState) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.too_many_failures(state) {
            reasons.push(format!(
                "multiple_failures({})",
                state.system.failed_components
            ));
        }
        if self.resources_critical(state) {
            reasons.push("resource_exhaustion".to_owned());
        }
        if self.circuit_open(state) {
            let open = state.circuit_breaker.open_duration_seconds;
            let open = if open.is_finite() { open.max(0.0) } else { 0.0 };
            reasons.push(format!("circuit_open({open:.0}s)"));
        }
        if self.high_retry_failures(state) {
            reasons.push(format!("high_retry_failures({})", state.retry.failures_1h));
        }
        reasons
    }
}

impl Default for ThresholdPolicy {
    fn default() -> Self {
        Self::ORIGINAL
    }
}

impl CascadePolicy for ThresholdPolicy {
    #[inline]
    fn target(&self, state: &HealthState) -> FallbackMode {
        if self.too_many_failures(state) || self.resources_critical(state) {
            FallbackMode::Safe
        } else if self.circuit_open(state) || self.high_retry_failures(state) {
            FallbackMode::Heuristic
        } else {
            FallbackMode::Primary
        }
    }

    fn explain(&self, state: &HealthState, from: FallbackMode, to: FallbackMode) -> String {
        let reasons = self.reasons(state);
        if !reasons.is_empty() {
            return reasons.join("; ");
        }
        if to < from {
            return format!(
                "recovered(failed_components={}, circuit={}, failures_1h={}, resources={})",
                state.system.failed_components,
                state.circuit_breaker.state,
                state.retry.failures_1h,
                level_name(state.resources.status.overall),
            );
        }
        "unknown".to_owned()
    }
}

const fn level_name(level: ResourceLevel) -> &'static str {
    match level {
        ResourceLevel::Healthy => "healthy",
        ResourceLevel::Warning => "warning",
        ResourceLevel::Critical => "critical",
        ResourceLevel::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(value: serde_json::Value) -> HealthState {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_original_rule_decides_each_documented_case() {
        fn check(input: &serde_json::Value, expected: FallbackMode) {
            assert_eq!(
                ThresholdPolicy::default().target(&state(input.clone())),
                expected,
                "{input}"
            );
        }
        use FallbackMode::{Heuristic, Primary, Safe};
        check(&json!({}), Primary);
        check(
            &json!({"circuit_breaker": {"state": "CLOSED"}, "retry": {"failures_1h": 0}, "system": {"failed_components": 0}}),
            Primary,
        );
        check(
            &json!({"circuit_breaker": {"state": "CLOSED"}, "retry": {"failures_1h": 0}, "system": {"failed_components": 2}}),
            Safe,
        );
        check(&json!({"system": {"failed_components": 1}}), Primary);
        check(&json!({"circuit_breaker": {"state": "OPEN"}}), Heuristic);
        check(&json!({"circuit_breaker": {"state": "HALF_OPEN"}}), Primary);
        check(&json!({"retry": {"failures_1h": 50}}), Primary);
        check(&json!({"retry": {"failures_1h": 51}}), Heuristic);
        check(
            &json!({"resources": {"status": {"overall": "critical"}}}),
            Safe,
        );
        check(
            &json!({"resources": {"status": {"overall": "warning"}}}),
            Primary,
        );
        check(
            &json!({"resources": {"status": {"overall": "critical"}}, "system": {"failed_components": 1}}),
            Safe,
        );
        check(
            &json!({"circuit_breaker": {"state": "OPEN"}, "resources": {"status": {"overall": "critical"}}}),
            Safe,
        );
    }

    #[test]
    fn reasons_use_the_original_vocabulary_in_order() {
        fn check(input: &serde_json::Value, from: FallbackMode, to: FallbackMode, expected: &str) {
            let reason = ThresholdPolicy::default().explain(&state(input.clone()), from, to);
            assert_eq!(reason, expected, "{input}");
        }
        use FallbackMode::{Heuristic, Primary, Safe};
        check(
            &json!({"circuit_breaker": {"state": "OPEN", "open_duration_seconds": 15.6}, "retry": {"failures_1h": 60}, "system": {"failed_components": 3}}),
            Primary,
            Safe,
            "multiple_failures(3); circuit_open(16s); high_retry_failures(60)",
        );
        check(
            &json!({"circuit_breaker": {"state": "OPEN", "open_duration_seconds": 10}}),
            Primary,
            Heuristic,
            "circuit_open(10s)",
        );
        check(
            &json!({"circuit_breaker": {"state": "OPEN"}}),
            Primary,
            Heuristic,
            "circuit_open(0s)",
        );
        check(
            &json!({"circuit_breaker": {"state": "OPEN", "open_duration_seconds": -3.0}}),
            Primary,
            Heuristic,
            "circuit_open(0s)",
        );
        check(
            &json!({"resources": {"status": {"overall": "critical"}}, "system": {"failed_components": 2}}),
            Primary,
            Safe,
            "multiple_failures(2); resource_exhaustion",
        );
        check(
            &json!({"circuit_breaker": {"state": "OPEN", "open_duration_seconds": 4}}),
            Safe,
            Heuristic,
            "circuit_open(4s)",
        );
        check(
            &json!({"circuit_breaker": {"state": "CLOSED"}, "retry": {"failures_1h": 3}, "resources": {"status": {"overall": "healthy"}}}),
            Safe,
            Primary,
            "recovered(failed_components=0, circuit=CLOSED, failures_1h=3, resources=healthy)",
        );
        check(&json!({}), Primary, Heuristic, "unknown");
    }

    #[test]
    fn thresholds_are_configurable_and_switchable() {
        let policy = ThresholdPolicy {
            safe_failed_components: 3,
            safe_on_critical_resources: false,
            heuristic_on_open_circuit: false,
            heuristic_retry_failures: 10,
        };
        let target = |value| policy.target(&state(value));
        assert_eq!(
            target(json!({"system": {"failed_components": 2}})),
            FallbackMode::Primary
        );
        assert_eq!(
            target(json!({"system": {"failed_components": 3}})),
            FallbackMode::Safe
        );
        assert_eq!(
            target(json!({"retry": {"failures_1h": 11}})),
            FallbackMode::Heuristic
        );
        assert_eq!(
            target(json!({"circuit_breaker": {"state": "OPEN"}})),
            FallbackMode::Primary
        );
        assert_eq!(
            target(json!({"resources": {"status": {"overall": "critical"}}})),
            FallbackMode::Primary
        );
        let from_json: ThresholdPolicy =
            serde_json::from_value(json!({"heuristic_retry_failures": 5})).unwrap();
        assert_eq!(from_json.heuristic_retry_failures, 5);
        assert_eq!(from_json.safe_failed_components, 2);
    }
}
