//! The monitor's two speed targets, and what surrounds them.
//!
//! - `health/run_checks/100x50ms`: 100 registered checks that each sleep 50 ms, run by
//!   `run_checks` (target: under 100 ms; run one after another, as the original did, it
//!   would take over 5 s).
//! - `health/state/fresh-10`: `get_comprehensive_state` with 10 instant checks and a
//!   zero cache TTL, so every call runs all 10 (target: under 50 µs).
//! - `health/state/cached-10`: the same with the default 1 s TTL, so calls reuse the
//!   cached results (the steady state of a polling cascade).
//! - `health/state/cached-10-resources`: as `cached-10`, with resources sampled (in the
//!   background) and cached, as a default monitor does (features `resources` and `disk`).
//! - `health/cached-state/10`: `cached_state`, the whole state from the cache.
//! - `health/cached-summary/10`: `cached_summary`, the readiness-probe read.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use health::checks::check_fn;
use health::monitor::HealthMonitorBuilder;
use health::{CheckOutcome, HealthMonitor};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn instant_checks(builder: HealthMonitorBuilder) -> HealthMonitor {
    let monitor = builder.build().unwrap();
    for index in 0..10 {
        monitor.register_check(check_fn(format!("check-{index}"), || async {
            Ok(CheckOutcome::healthy("fine"))
        }));
    }
    monitor
}

fn run_checks(c: &mut Criterion) {
    let runtime = runtime();
    let monitor = HealthMonitor::builder()
        .without_resources()
        .build()
        .unwrap();
    for index in 0..100 {
        monitor.register_check(check_fn(format!("check-{index:03}"), || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(CheckOutcome::healthy("rested"))
        }));
    }
    let mut group = c.benchmark_group("health/run_checks");
    group.sample_size(20);
    group.bench_function("100x50ms", |b| {
        b.to_async(&runtime).iter(|| async {
            let results = monitor.run_checks().await;
            assert_eq!(results.len(), 100);
            black_box(results)
        });
    });
    group.finish();
}

fn state(c: &mut Criterion) {
    let runtime = runtime();
    let fresh = instant_checks(
        HealthMonitor::builder()
            .cache_ttl(Duration::ZERO)
            .without_resources(),
    );
    let cached = instant_checks(HealthMonitor::builder().without_resources());
    #[cfg(all(feature = "resources", feature = "disk"))]
    let with_resources = instant_checks(HealthMonitor::builder());
    // Take the first resource sample (it waits ~200 ms for a CPU figure) up front.
    #[cfg(all(feature = "resources", feature = "disk"))]
    runtime.block_on(with_resources.get_comprehensive_state());

    let mut group = c.benchmark_group("health/state");
    group.bench_function("fresh-10", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(fresh.get_comprehensive_state().await) });
    });
    group.bench_function("cached-10", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(cached.get_comprehensive_state().await) });
    });
    #[cfg(all(feature = "resources", feature = "disk"))]
    group.bench_function("cached-10-resources", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(with_resources.get_comprehensive_state().await) });
    });
    group.finish();

    let mut group = c.benchmark_group("health/cached-state");
    group.bench_function("10", |b| {
        let _guard = runtime.enter();
        b.iter(|| black_box(cached.cached_state()));
    });
    group.finish();

    let mut group = c.benchmark_group("health/cached-summary");
    group.bench_function("10", |b| b.iter(|| black_box(cached.cached_summary())));
    group.finish();
}

criterion_group!(benches, run_checks, state);
criterion_main!(benches);
