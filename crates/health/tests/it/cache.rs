//! Beyond the original: cached results with a TTL, the staleness bound, the background
//! refresher, and status-change listeners that cannot hurt the monitor.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use health::model::SystemStatus;
use health::monitor::{StatusChange, StatusListener};
use health::{HealthCheckStatus, HealthError, HealthMonitor};
use parking_lot::Mutex;

use crate::support::{Knob, quiet};

fn monitor(ttl: Duration, staleness: Duration) -> HealthMonitor {
    HealthMonitor::builder()
        .cache_ttl(ttl)
        .max_staleness(staleness)
        .without_resources()
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn state_reads_reuse_results_within_the_ttl() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(60));
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());
    monitor.get_comprehensive_state().await;
    monitor.get_comprehensive_state().await;
    assert_eq!(knob.runs(), 1, "a fresh result is reused");
    tokio::time::advance(Duration::from_millis(999)).await;
    monitor.get_comprehensive_state().await;
    assert_eq!(knob.runs(), 1);
    tokio::time::advance(Duration::from_millis(1)).await;
    monitor.get_comprehensive_state().await;
    assert_eq!(knob.runs(), 2, "an expired result is refreshed");
    monitor.run_checks().await;
    assert_eq!(knob.runs(), 3, "run_checks always runs");
}

#[tokio::test(start_paused = true)]
async fn concurrent_readers_share_one_run() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(60));
    let knob = Knob::healthy("db").sleeping(Duration::from_millis(100));
    monitor.register_check(knob.clone());
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let monitor = monitor.clone();
            tokio::spawn(async move { monitor.get_comprehensive_state().await })
        })
        .collect();
    for reader in readers {
        let state = reader.await.unwrap();
        assert_eq!(state.health_checks["db"].status, HealthCheckStatus::Healthy);
    }
    assert_eq!(knob.runs(), 1, "probes must not hammer the dependency");
}

#[tokio::test(start_paused = true)]
async fn cached_state_runs_nothing_and_stale_results_read_unknown() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(5));
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());

    let before = monitor.cached_state();
    assert_eq!(knob.runs(), 0, "cached_state never runs a check");
    assert_eq!(
        before.health_checks["db"].status,
        HealthCheckStatus::Unknown
    );
    assert_eq!(
        before.health_checks["db"].message,
        "health check has not run yet"
    );
    assert_eq!(before.system.status, SystemStatus::Unknown);
    assert_eq!(monitor.cached_summary().system, before.system);

    monitor.run_checks().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    let fresh = monitor.cached_state();
    assert_eq!(fresh.health_checks["db"].status, HealthCheckStatus::Healthy);
    assert_eq!(fresh.system.status, SystemStatus::Healthy);
    assert_eq!(monitor.cached_summary().system, fresh.system);

    tokio::time::advance(Duration::from_millis(1)).await;
    let stale = monitor.cached_state();
    let result = &stale.health_checks["db"];
    assert_eq!(result.status, HealthCheckStatus::Unknown);
    assert!(
        result
            .message
            .starts_with("stale: the last result (healthy: knob says healthy)"),
        "{}",
        result.message
    );
    assert_eq!(result.metadata["stale"], true);
    assert_eq!(result.metadata["last_status"], "healthy");
    assert_eq!(stale.system.status, SystemStatus::Unknown);
    assert_eq!(monitor.cached_summary().system, stale.system);
    assert_eq!(knob.runs(), 1);

    // A state read refreshes it.
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(state.health_checks["db"].status, HealthCheckStatus::Healthy);
    assert_eq!(knob.runs(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_summarys_check_status_is_the_cached_states_without_running_anything() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(5));
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());
    let check = |expected: HealthCheckStatus| {
        assert_eq!(monitor.cached_summary().checks.get("db"), Some(&expected));
        assert_eq!(monitor.cached_state().health_checks["db"].status, expected);
    };

    check(HealthCheckStatus::Unknown); // never ran
    assert_eq!(knob.runs(), 0, "the summary never runs a check");
    assert_eq!(monitor.cached_summary().checks.get("nope"), None);

    monitor.run_checks().await;
    check(HealthCheckStatus::Healthy);
    knob.set(HealthCheckStatus::Unhealthy);
    monitor.run_checks().await;
    check(HealthCheckStatus::Unhealthy);

    // The same freshness bound as every cached read: shown up to the limit, then unknown.
    tokio::time::advance(Duration::from_secs(5)).await;
    check(HealthCheckStatus::Unhealthy);
    tokio::time::advance(Duration::from_millis(1)).await;
    check(HealthCheckStatus::Unknown);
    assert_eq!(knob.runs(), 2);

    monitor.unregister_check("db");
    assert_eq!(monitor.cached_summary().checks.get("db"), None);
}

#[tokio::test(start_paused = true)]
async fn the_refresher_keeps_the_cache_fresh_until_stopped() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(3));
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());
    let refresher = monitor.spawn_refresher(Duration::from_secs(1)).unwrap();
    assert!(refresher.is_running());
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(knob.runs(), 4, "ticks at 0, 1, 2 and 3 s");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        monitor.cached_state().health_checks["db"].status,
        HealthCheckStatus::Healthy,
        "never stale while refreshed"
    );

    refresher.stop().await;
    let runs = knob.runs();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(knob.runs(), runs, "a stopped refresher runs nothing");
    assert_eq!(
        monitor.cached_state().health_checks["db"].status,
        HealthCheckStatus::Unknown,
        "and the results go stale"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_handle_or_monitor_ends_the_refresher() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(3));
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());
    drop(monitor.spawn_refresher(Duration::from_secs(1)).unwrap());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        knob.runs() <= 1,
        "runs after the handle was dropped: {}",
        knob.runs()
    );

    let refresher = monitor.spawn_refresher(Duration::from_secs(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(monitor);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !refresher.is_running(),
        "the refresher outlived its monitor"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stale_unhealthy_result_is_no_longer_named_failed() {
    let monitor = monitor(Duration::from_secs(1), Duration::from_secs(5));
    monitor.register_check(Knob::new("queue", HealthCheckStatus::Unhealthy));
    monitor.run_checks().await;
    assert_eq!(monitor.cached_summary().unhealthy_checks, ["queue"]);
    tokio::time::advance(Duration::from_millis(5001)).await;
    let summary = monitor.cached_summary();
    assert!(summary.unhealthy_checks.is_empty(), "{summary:?}");
    assert_eq!(summary.system.status, SystemStatus::Unknown);
    assert_eq!(summary.system, monitor.cached_state().system);
}

#[test]
fn a_refresher_needs_a_runtime_and_an_interval() {
    let monitor = quiet();
    assert!(matches!(
        monitor.spawn_refresher(Duration::from_secs(1)),
        Err(HealthError::NoRuntime { .. })
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    assert!(matches!(
        monitor.spawn_refresher(Duration::ZERO),
        Err(HealthError::InvalidConfig { .. })
    ));
}

/// Records every change it is told about.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Option<HealthCheckStatus>, HealthCheckStatus)>>);

#[async_trait]
impl StatusListener for Recorder {
    async fn on_status_change(&self, change: &StatusChange) {
        assert_eq!(change.result.status, change.current);
        self.0
            .lock()
            .push((change.check.clone(), change.previous, change.current));
    }
}

struct Panics;

#[async_trait]
impl StatusListener for Panics {
    async fn on_status_change(&self, _change: &StatusChange) {
        panic!("listener bug");
    }
}

struct Hangs;

#[async_trait]
impl StatusListener for Hangs {
    async fn on_status_change(&self, _change: &StatusChange) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn listeners_hear_changes_in_order_and_bad_ones_change_nothing() {
    let monitor = HealthMonitor::builder()
        .cache_ttl(Duration::ZERO)
        .listener_timeout(Duration::from_millis(50))
        .without_resources()
        .build()
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    monitor.add_status_listener(Arc::new(Panics));
    monitor.add_status_listener(Arc::new(Hangs));
    monitor.add_status_listener(recorder.clone());
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());

    use HealthCheckStatus::{Degraded, Healthy, Unhealthy};
    for status in [Healthy, Healthy, Degraded, Degraded, Unhealthy, Healthy] {
        knob.set(status);
        // A hanging listener must not hold the monitor up.
        let results = tokio::time::timeout(Duration::from_secs(2), monitor.run_checks())
            .await
            .expect("run_checks waited for a listener");
        assert_eq!(results["db"].status, status);
    }
    let expected = vec![
        ("db".to_owned(), None, Healthy),
        ("db".to_owned(), Some(Healthy), Degraded),
        ("db".to_owned(), Some(Degraded), Unhealthy),
        ("db".to_owned(), Some(Unhealthy), Healthy),
    ];
    let delivered = async {
        loop {
            if recorder.0.lock().len() >= expected.len() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), delivered)
        .await
        .expect("changes were not delivered");
    assert_eq!(*recorder.0.lock(), expected);
    // The monitor still works after its listeners panicked and hung.
    assert_eq!(
        monitor.get_comprehensive_state().await.health_checks["db"].status,
        Healthy
    );
}

#[test]
fn listeners_outlive_the_runtime_that_first_told_them() {
    // A service may run a first round of checks on a short-lived runtime (a synchronous
    // `main` probing before it starts serving); the listener must still hear later changes
    // on the runtime that serves.
    let monitor = HealthMonitor::builder()
        .cache_ttl(Duration::ZERO)
        .without_resources()
        .build()
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    monitor.add_status_listener(recorder.clone());
    let knob = Knob::healthy("db");
    monitor.register_check(knob.clone());
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let startup = runtime();
    startup.block_on(async {
        monitor.run_checks().await;
        // Let the delivery task run before the runtime goes away.
        tokio::time::sleep(Duration::from_millis(20)).await;
    });
    drop(startup);
    assert_eq!(recorder.0.lock().len(), 1);

    runtime().block_on(async {
        knob.set(HealthCheckStatus::Unhealthy);
        monitor.run_checks().await;
        let delivered = async {
            while recorder.0.lock().len() < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(2), delivered)
            .await
            .expect("the change after the first runtime ended was never delivered");
    });
    assert_eq!(
        recorder.0.lock()[1],
        (
            "db".to_owned(),
            Some(HealthCheckStatus::Healthy),
            HealthCheckStatus::Unhealthy
        )
    );
}
