//! Check roles, groups and probe schedules: criticality, tags, intervals, initial
//! delays, timeouts, and the thresholds that hold a flapping check steady.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use health::breaker::{BreakerFeed, CircuitBreaker, CircuitBreakerConfig};
use health::groups::{HealthGroup, Member};
use health::model::{CircuitState, SystemStatus};
use health::monitor::{StatusChange, StatusListener};
use health::probe::{CheckOptions, Criticality, ProbeSchedule, STARTUP_TAG};
use health::retry::RetryTracker;
use health::{HealthCheckStatus, HealthError, HealthMonitor};
use parking_lot::Mutex;

use crate::support::{Knob, quiet};

fn register(monitor: &HealthMonitor, knob: &Knob, options: CheckOptions) {
    monitor
        .register_check_with(Arc::new(knob.clone()), options)
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failing_non_critical_check_degrades_and_a_critical_one_fails() {
    let monitor = quiet();
    let optional = Knob::new("recommendations", HealthCheckStatus::Unhealthy);
    let needed = Knob::healthy("db");
    register(
        &monitor,
        &optional,
        CheckOptions::new().with_criticality(Criticality::NonCritical),
    );
    register(&monitor, &needed, CheckOptions::new());
    monitor.run_checks().await;

    let state = monitor.cached_state();
    assert_eq!(state.system.status, SystemStatus::Degraded);
    assert_eq!(state.system.failed_components, 0);
    assert_eq!(state.system.degraded_components, 1);
    // The result itself stays truthful.
    assert_eq!(
        state.health_checks["recommendations"].status,
        HealthCheckStatus::Unhealthy
    );
    let summary = monitor.cached_summary();
    assert_eq!(summary.system, state.system);
    assert!(summary.unhealthy_checks.is_empty());
    let ready = monitor.group_health(&HealthGroup::readiness());
    assert_eq!(ready.status, SystemStatus::Degraded);
    assert!(ready.is_up());
    assert!(!ready.checks["recommendations"].critical);

    needed.set(HealthCheckStatus::Unhealthy);
    monitor.run_checks().await;
    let ready = monitor.group_health(&HealthGroup::readiness());
    assert_eq!(ready.status, SystemStatus::Failed);
    assert_eq!(ready.failed, ["db"]);
    assert!(!ready.is_up());
    assert_eq!(monitor.cached_state().system.failed_components, 1);
}

#[tokio::test(start_paused = true)]
async fn groups_select_by_tag_and_name_and_liveness_has_no_check_by_default() {
    let monitor = quiet();
    let db = Knob::healthy("db");
    let warmup = Knob::healthy("warmup");
    register(&monitor, &db, CheckOptions::new());
    register(
        &monitor,
        &warmup,
        CheckOptions::new().with_tags([STARTUP_TAG]),
    );

    let live = monitor.group_health(&HealthGroup::liveness());
    assert!(live.checks.is_empty());
    assert_eq!(live.status, SystemStatus::Healthy);

    let startup = monitor.group_health(&HealthGroup::startup());
    assert_eq!(startup.status, SystemStatus::Unknown, "not run yet");
    assert_eq!(startup.pending, ["warmup"]);
    assert!(
        !monitor
            .group_health(&HealthGroup::readiness())
            .checks
            .contains_key("warmup")
    );

    monitor.run_checks().await;
    assert_eq!(
        monitor.group_health(&HealthGroup::startup()).status,
        SystemStatus::Healthy
    );
    let named = HealthGroup::new("custom")
        .include(Member::Check("warmup".into()))
        .include(Member::Tag("ready".into()))
        .exclude(Member::Check("db".into()));
    assert_eq!(
        monitor
            .group_health(&named)
            .checks
            .keys()
            .collect::<Vec<_>>(),
        ["warmup"]
    );
}

#[derive(Default)]
struct Changes(Mutex<Vec<StatusChange>>);

#[async_trait]
impl StatusListener for Changes {
    async fn on_status_change(&self, change: &StatusChange) {
        self.0.lock().push(change.clone());
    }
}

#[tokio::test(start_paused = true)]
async fn thresholds_hold_a_flapping_check_steady_under_the_refresher() {
    let monitor = quiet();
    let flapping = Knob::healthy("payments");
    register(
        &monitor,
        &flapping,
        CheckOptions::new().with_schedule(ProbeSchedule::damped()),
    );
    let changes = Arc::new(Changes::default());
    monitor.add_status_listener(changes.clone());
    let refresher = monitor.spawn_refresher(Duration::from_secs(1)).unwrap();

    // Fails two probes of every three, for a minute: never three in a row.
    let mut statuses = Vec::new();
    for second in 0..60 {
        flapping.set(if second % 3 == 0 {
            HealthCheckStatus::Healthy
        } else {
            HealthCheckStatus::Unhealthy
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        statuses.push(monitor.group_health(&HealthGroup::readiness()).status);
    }
    assert!(flapping.runs() >= 59, "{} runs", flapping.runs());
    assert!(
        statuses
            .iter()
            .all(|status| *status == SystemStatus::Healthy),
        "{statuses:?}"
    );
    let state = monitor.cached_state();
    assert_eq!(state.system.failed_components, 0);

    // Three failures in a row do flip it, and two successes bring it back.
    flapping.set(HealthCheckStatus::Unhealthy);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        monitor.group_health(&HealthGroup::readiness()).status,
        SystemStatus::Failed
    );
    flapping.set(HealthCheckStatus::Healthy);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        monitor.group_health(&HealthGroup::readiness()).status,
        SystemStatus::Failed,
        "one success is not enough"
    );
    let probe = &monitor.cached_state().health_checks["payments"].metadata["probe"];
    assert_eq!(probe["observed"], "healthy");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        monitor.group_health(&HealthGroup::readiness()).status,
        SystemStatus::Healthy
    );
    refresher.stop().await;
    tokio::task::yield_now().await;
    let seen: Vec<_> = changes
        .0
        .lock()
        .iter()
        .map(|change| change.current)
        .collect();
    assert_eq!(
        seen,
        [
            HealthCheckStatus::Healthy,
            HealthCheckStatus::Unhealthy,
            HealthCheckStatus::Healthy
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn each_check_runs_on_its_own_interval_after_its_initial_delay() {
    let monitor = quiet();
    let fast = Knob::healthy("fast");
    let slow = Knob::healthy("slow");
    let late = Knob::healthy("late");
    register(
        &monitor,
        &fast,
        CheckOptions::new().with_interval(Duration::from_secs(1)),
    );
    register(&monitor, &slow, CheckOptions::new());
    register(
        &monitor,
        &late,
        CheckOptions::new().with_initial_delay(Duration::from_secs(30)),
    );
    assert_eq!(
        monitor.cached_state().health_checks["late"].message,
        "health check is waiting for its initial delay"
    );
    let refresher = monitor.spawn_refresher(Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(20_500)).await;
    assert_eq!(fast.runs(), 21, "at 0, 1, ..., 20 s");
    assert_eq!(slow.runs(), 3, "at 0, 10, 20 s");
    assert_eq!(late.runs(), 0);
    // A state read does not run a check before its initial delay either.
    monitor.get_comprehensive_state().await;
    assert_eq!(late.runs(), 0);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(late.runs(), 1, "at 30 s");
    refresher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_schedule_timeout_overrides_the_checks_own() {
    let monitor = quiet();
    let slow = Knob::healthy("slow").sleeping(Duration::from_secs(3));
    register(
        &monitor,
        &slow,
        CheckOptions::new().with_timeout(Duration::from_secs(1)),
    );
    let result = &monitor.run_checks().await["slow"];
    assert_eq!(result.status, HealthCheckStatus::Unhealthy);
    assert_eq!(result.message, "health check timed out after 1s");
}

#[tokio::test]
async fn invalid_schedules_are_refused_at_registration() {
    let error = quiet()
        .register_check_with(
            Arc::new(Knob::healthy("x")),
            CheckOptions::new().with_failure_threshold(0),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            HealthError::InvalidConfig {
                setting: "failure_threshold",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_dependency_opens_the_breaker_and_its_recovery_closes_it() {
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 3,
        success_threshold: 1,
        recovery_timeout: Duration::from_secs(10),
        half_open_max_calls: 1,
    })
    .unwrap();
    let retries = RetryTracker::new();
    let feed = BreakerFeed::new(
        breaker.clone(),
        HealthGroup::new("breaker").include(Member::Tag("downstream".into())),
    )
    .with_retry_tracker(retries.clone());
    let monitor = HealthMonitor::builder()
        .circuit_breaker(Arc::new(breaker.clone()))
        .retry_tracker(Arc::new(retries.clone()))
        .observer(Arc::new(feed))
        .without_resources()
        .build()
        .unwrap();
    let billing = Knob::new("billing", HealthCheckStatus::Unhealthy);
    let local = Knob::new("local", HealthCheckStatus::Unhealthy);
    register(
        &monitor,
        &billing,
        CheckOptions::new().with_tag("downstream"),
    );
    register(&monitor, &local, CheckOptions::new());
    let refresher = monitor.spawn_refresher(Duration::from_secs(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let state = monitor.cached_state();
    assert_eq!(state.circuit_breaker.state, CircuitState::Open);
    assert_eq!(
        state.circuit_breaker.failures_total, 3,
        "only billing feeds it"
    );
    assert_eq!(state.retry.total_attempts, 2);

    billing.set(HealthCheckStatus::Healthy);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(breaker.state(), CircuitState::Open, "still within recovery");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "a trial succeeded");
    refresher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_refresher_sets_status_component_and_breaker_gauges() {
    use crate::support::{Emitted, RecordingSink};
    use health::metrics::{BREAKER_STATE_METRIC, COMPONENT_STATUS_METRIC, SYSTEM_STATUS_METRIC};

    let sink = Arc::new(RecordingSink::default());
    let breaker = CircuitBreaker::default();
    let monitor = HealthMonitor::builder()
        .metrics_sink(sink.clone())
        .circuit_breaker(Arc::new(breaker))
        .without_resources()
        .build()
        .unwrap();
    monitor.registry().mark_failed("model", None, None);
    monitor.register_check(Knob::healthy("db"));
    let refresher = monitor.spawn_refresher(Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    refresher.stop().await;
    let emitted = sink.take();
    let gauge = |name: &str, value: f64, tags: &[(&str, &str)]| {
        Emitted::Gauge(
            name.to_owned(),
            value,
            tags.iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        )
    };
    for expected in [
        gauge(SYSTEM_STATUS_METRIC, 0.0, &[]),
        gauge(COMPONENT_STATUS_METRIC, 0.0, &[("component", "model")]),
        gauge(BREAKER_STATE_METRIC, 1.0, &[("state", "CLOSED")]),
        gauge(BREAKER_STATE_METRIC, 0.0, &[("state", "OPEN")]),
        gauge(BREAKER_STATE_METRIC, 0.0, &[("state", "HALF_OPEN")]),
    ] {
        assert!(
            emitted.contains(&expected),
            "{expected:?} not in {emitted:?}"
        );
    }
}
