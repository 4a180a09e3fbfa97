//! Property tests: the decision rule against a plainly written reference, and the
//! transition log's invariants over random sequences of health states.

use std::sync::Arc;

use fallback::{CascadePolicy, FallbackManager, FallbackMode, Hysteresis, ThresholdPolicy};
use health_model::{CircuitState, HealthState, ResourceLevel};
use proptest::prelude::*;
use storage::MemoryStorage;

fn circuit() -> impl Strategy<Value = CircuitState> {
    prop_oneof![
        Just(CircuitState::Closed),
        Just(CircuitState::Open),
        Just(CircuitState::HalfOpen),
        Just(CircuitState::Unknown),
    ]
}

fn level() -> impl Strategy<Value = ResourceLevel> {
    prop_oneof![
        Just(ResourceLevel::Healthy),
        Just(ResourceLevel::Warning),
        Just(ResourceLevel::Critical),
        Just(ResourceLevel::Unknown),
    ]
}

fn health_state() -> impl Strategy<Value = HealthState> {
    (0_u64..6, circuit(), 0.0_f64..120.0, 0_u64..120, level()).prop_map(
        |(failed, circuit, open_for, failures, overall)| {
            let mut state = HealthState::default();
            state.system.failed_components = failed;
            state.circuit_breaker.state = circuit;
            state.circuit_breaker.open_duration_seconds = open_for;
            state.retry.failures_1h = failures;
            state.resources.status.overall = overall;
            state
        },
    )
}

fn policy() -> impl Strategy<Value = ThresholdPolicy> {
    (0_u64..5, any::<bool>(), any::<bool>(), 0_u64..100).prop_map(
        |(failed, resources, circuit, retries)| {
            let mut policy = ThresholdPolicy::default();
            policy.safe_failed_components = failed;
            policy.safe_on_critical_resources = resources;
            policy.heuristic_on_open_circuit = circuit;
            policy.heuristic_retry_failures = retries;
            policy
        },
    )
}

/// The rule as the issue states it, written independently of the crate.
fn reference(policy: &ThresholdPolicy, state: &HealthState) -> (FallbackMode, Vec<String>) {
    let many_failed = state.system.failed_components >= policy.safe_failed_components;
    let critical = policy.safe_on_critical_resources
        && state.resources.status.overall == ResourceLevel::Critical;
    let open =
        policy.heuristic_on_open_circuit && state.circuit_breaker.state == CircuitState::Open;
    let retrying = state.retry.failures_1h > policy.heuristic_retry_failures;
    let mode = if many_failed || critical {
        FallbackMode::Safe
    } else if open || retrying {
        FallbackMode::Heuristic
    } else {
        FallbackMode::Primary
    };
    let mut reasons = Vec::new();
    if many_failed {
        reasons.push(format!(
            "multiple_failures({})",
            state.system.failed_components
        ));
    }
    if critical {
        reasons.push("resource_exhaustion".to_owned());
    }
    if open {
        let seconds = state
            .circuit_breaker
            .open_duration_seconds
            .round_ties_even();
        reasons.push(format!("circuit_open({seconds}s)"));
    }
    if retrying {
        reasons.push(format!("high_retry_failures({})", state.retry.failures_1h));
    }
    (mode, reasons)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

proptest! {
    #[test]
    fn the_policy_matches_the_reference(policy in policy(), state in health_state()) {
        let (mode, reasons) = reference(&policy, &state);
        prop_assert_eq!(policy.target(&state), mode);
        prop_assert_eq!(&policy.reasons(&state), &reasons);
        if !reasons.is_empty() {
            prop_assert_eq!(policy.explain(&state, FallbackMode::Primary, mode), reasons.join("; "));
        }
    }

    #[test]
    fn without_hysteresis_the_mode_follows_every_state(
        policy in policy(),
        states in prop::collection::vec(health_state(), 1..25),
    ) {
        runtime().block_on(async {
            let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
                .policy(policy.clone())
                .build();
            let mut expected_changes = 0;
            let mut previous = FallbackMode::Primary;
            for state in &states {
                let target = reference(&policy, state).0;
                prop_assert_eq!(manager.cascade(state).await, target);
                expected_changes += u64::from(target != previous);
                previous = target;
            }
            prop_assert_eq!(manager.total_transitions(), expected_changes);
            let log = manager.get_transitions_log(usize::MAX);
            let mut mode = FallbackMode::Primary;
            for record in &log {
                prop_assert_eq!(record.from, mode);
                prop_assert_ne!(record.from, record.to);
                mode = record.to;
            }
            Ok(())
        })?;
    }

    #[test]
    fn stepwise_hysteresis_degrades_at_once_and_recovers_one_step_at_a_time(
        evaluations in 1_u32..4,
        states in prop::collection::vec(health_state(), 1..40),
    ) {
        runtime().block_on(async {
            let policy = ThresholdPolicy::default();
            let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
                .hysteresis(Hysteresis::new().recovery_evaluations(evaluations).stepwise(true))
                .max_log_entries(100)
                .build();
            for state in &states {
                let target = policy.target(state);
                let before = manager.total_transitions();
                let mode = manager.cascade(state).await;
                prop_assert!(mode >= target, "never healthier than the state allows");
                if manager.total_transitions() > before {
                    let record = manager.get_transitions_log(1).pop().unwrap();
                    if record.to > record.from {
                        prop_assert_eq!(record.to, target, "degradation goes straight to the target");
                    } else {
                        prop_assert_eq!(record.from.level() - record.to.level(), 1);
                    }
                }
            }
            Ok(())
        })?;
    }
}
