//! Concurrency: 100 checks at once, the concurrency bound, panic isolation among many,
//! the breaker's half-open admission under contention, the registry across threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health::breaker::CircuitBreakerConfig;
use health::checks::check_fn;
use health::model::CircuitState;
use health::{
    CheckOutcome, CircuitBreaker, ComponentRegistry, ComponentStatus, HealthCheckStatus,
    HealthMonitor,
};
use tokio::sync::Barrier;
use tokio::time::Instant;

use crate::support::{Knob, quiet};

fn register_sleepers(monitor: &HealthMonitor, count: usize) -> Knob {
    let first = Knob::healthy("check-000").sleeping(Duration::from_millis(50));
    monitor.register_check(first.clone());
    for index in 1..count {
        monitor.register_check(
            Knob::healthy(&format!("check-{index:03}"))
                .sleeping(Duration::from_millis(50))
                .sharing_counters_with(&first),
        );
    }
    first
}

#[tokio::test(start_paused = true)]
async fn a_hundred_checks_run_at_once() {
    let monitor = quiet();
    let counters = register_sleepers(&monitor, 100);
    let started = Instant::now();
    let results = monitor.run_checks().await;
    // Tokio's paused clock makes this exact: one 50 ms sleep, not a hundred in a row.
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    assert_eq!(results.len(), 100);
    assert!(
        results
            .values()
            .all(|result| result.status == HealthCheckStatus::Healthy)
    );
    assert_eq!(counters.runs(), 100);
    assert_eq!(counters.max_in_flight(), 100);
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_bound_holds() {
    let monitor = HealthMonitor::builder()
        .max_concurrent_checks(10)
        .without_resources()
        .build()
        .unwrap();
    let counters = register_sleepers(&monitor, 100);
    let started = Instant::now();
    // Two callers at once share the bound.
    let (first, second) = tokio::join!(monitor.run_checks(), monitor.run_checks());
    assert_eq!((first.len(), second.len()), (100, 100));
    assert_eq!(counters.max_in_flight(), 10);
    assert_eq!(counters.runs(), 200);
    assert_eq!(started.elapsed(), Duration::from_millis(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_errors_and_timeouts_among_many_checks_stay_isolated() {
    let monitor = quiet();
    for index in 0..100 {
        let name = format!("check-{index:03}");
        match index % 4 {
            0 => monitor.register_check(check_fn(name, || async { panic!("bug") })),
            1 => monitor.register_check(check_fn(name, || async { Err("down".into()) })),
            2 => monitor.register_check(
                check_fn(name, || async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(CheckOutcome::healthy("never"))
                })
                .with_timeout(Duration::from_millis(100)),
            ),
            _ => monitor.register_check(check_fn(name, || async {
                Ok(CheckOutcome::healthy("fine"))
            })),
        };
    }
    for _ in 0..2 {
        let results = monitor.run_checks().await;
        assert_eq!(results.len(), 100);
        for (index, result) in results.values().enumerate() {
            let expected = if index % 4 == 3 {
                HealthCheckStatus::Healthy
            } else {
                HealthCheckStatus::Unhealthy
            };
            assert_eq!(result.status, expected, "{result:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_the_limit_however_many_ask() {
    const TASKS: usize = 100;
    for limit in [1_u32, 3] {
        let breaker = CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: 1,
            success_threshold: 1,
            recovery_timeout: Duration::from_millis(20),
            half_open_max_calls: limit,
        })
        .unwrap();
        for _round in 0..20 {
            breaker.try_acquire().unwrap().record_failure();
            assert_eq!(breaker.state(), CircuitState::Open);
            tokio::time::sleep(Duration::from_millis(25)).await;

            let admitted = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(Barrier::new(TASKS));
            let done = Arc::new(Barrier::new(TASKS));
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (breaker, admitted) = (breaker.clone(), Arc::clone(&admitted));
                    let (start, done) = (Arc::clone(&start), Arc::clone(&done));
                    tokio::spawn(async move {
                        start.wait().await;
                        let permit = breaker.try_acquire();
                        if permit.is_some() {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                        // Hold the permit until everyone has asked.
                        done.wait().await;
                        permit
                    })
                })
                .collect();
            let mut permits = Vec::new();
            for task in tasks {
                permits.extend(task.await.unwrap());
            }
            assert_eq!(admitted.load(Ordering::SeqCst), limit as usize);
            assert_eq!(breaker.state(), CircuitState::HalfOpen);
            for permit in permits {
                permit.record_success();
            }
            assert_eq!(breaker.state(), CircuitState::Closed);
        }
    }
}

#[test]
fn the_registry_counts_every_mark_from_many_threads() {
    let registry = ComponentRegistry::new();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let registry = registry.clone();
            scope.spawn(move || {
                for _ in 0..1000 {
                    registry.mark_failed("shared", Some("boom"), None);
                    registry.mark_degraded(&format!("own-{thread}"), None, false, None);
                    let _ = registry.get_component_health("never-registered");
                }
            });
        }
    });
    let shared = registry.get_component_health("shared");
    assert_eq!(shared.error_count, 8000);
    assert_eq!(shared.status, ComponentStatus::Failed);
    assert_eq!(
        registry.len(),
        9,
        "reads of unknown names registered nothing"
    );
    assert_eq!(registry.counts().degraded, 8);
}
