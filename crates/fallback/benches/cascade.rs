//! The cost of `FallbackManager::cascade`: when the mode stays (the common case), when
//! every call changes it (record, log, persistence to `MemoryStorage`), and from eight
//! tasks at once.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fallback::{FallbackManager, Hysteresis};
use health_model::{CircuitState, HealthState};
use storage::MemoryStorage;

fn healthy() -> HealthState {
    serde_json::from_value(serde_json::json!({
        "circuit_breaker": {"state": "CLOSED"},
        "retry": {"failures_1h": 0},
        "system": {"failed_components": 0}
    }))
    .unwrap_or_default()
}

fn open() -> HealthState {
    let mut state = healthy();
    state.circuit_breaker.state = CircuitState::Open;
    state.circuit_breaker.open_duration_seconds = 15.0;
    state
}

fn manager() -> FallbackManager {
    FallbackManager::new(Arc::new(MemoryStorage::new()))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|error| panic!("no runtime: {error}"))
}

fn unchanged(c: &mut Criterion) {
    let runtime = current_thread();
    let state = healthy();
    let plain = runtime.block_on(async { manager() });
    c.bench_function("fallback/cascade/unchanged", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(plain.cascade(black_box(&state)).await) });
    });
    let damped = runtime.block_on(async {
        FallbackManager::builder(Arc::new(MemoryStorage::new()))
            .hysteresis(
                Hysteresis::new()
                    .min_dwell(Duration::from_secs(30))
                    .recovery_evaluations(3),
            )
            .build()
    });
    c.bench_function("fallback/cascade/unchanged-hysteresis", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(damped.cascade(black_box(&state)).await) });
    });
}

fn transition(c: &mut Criterion) {
    let runtime = current_thread();
    let states = [open(), healthy()];
    c.bench_function("fallback/cascade/transition", |b| {
        // A fresh manager and store per sample, so the store holds at most one sample's
        // records (each kept 24 h, as in production) rather than the whole run's.
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let manager = manager();
                let start = Instant::now();
                for round in 0..iters {
                    let state = &states[usize::from(round % 2 == 1)];
                    black_box(manager.cascade(black_box(state)).await);
                }
                let elapsed = start.elapsed();
                assert_eq!(
                    manager.total_transitions(),
                    iters,
                    "every call changed the mode"
                );
                elapsed
            })
        });
    });
}

fn concurrent(c: &mut Criterion) {
    const TASKS: u64 = 8;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|error| panic!("no runtime: {error}"));
    let state = Arc::new(healthy());
    let shared = Arc::new(runtime.block_on(async { manager() }));
    // Per iteration: one cascade in each of eight tasks on the runtime's workers (one per
    // core), against the same eight cascades in one task: with no global lock on this path
    // the ratio approaches the number of cores.
    c.bench_function("fallback/cascade/sequential-8", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let (manager, state) = (shared.clone(), state.clone());
                let start = Instant::now();
                tokio::spawn(async move {
                    for _ in 0..iters * TASKS {
                        black_box(manager.cascade(black_box(&state)).await);
                    }
                })
                .await
                .unwrap_or_else(|error| panic!("bench task failed: {error}"));
                start.elapsed()
            })
        });
    });
    c.bench_function("fallback/cascade/concurrent-8", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let (manager, state) = (shared.clone(), state.clone());
                        tokio::spawn(async move {
                            for _ in 0..iters {
                                black_box(manager.cascade(black_box(&state)).await);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await
                        .unwrap_or_else(|error| panic!("bench task failed: {error}"));
                }
                start.elapsed()
            })
        });
    });
}

criterion_group!(benches, unchanged, transition, concurrent);
criterion_main!(benches);
