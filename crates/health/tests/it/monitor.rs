//! The monitor (the original's `test_monitor.py` and the monitor half of
//! `test_health_monitor_integration.py`, re-expressed): registration, runs, the state,
//! the breaker and retry sections, resources.

use std::sync::Arc;
use std::time::Duration;

use health::breaker::{BreakerStatus, CircuitBreakerConfig};
use health::checks::{ComponentHealthCheck, check_fn};
use health::metrics::STATE_DURATION_METRIC;
use health::model::{BreakerSnapshot, CircuitState, ResourceLevel, RetryState, SystemStatus};
use health::resources::ResourceConfig;
use health::retry::RetryTracker;
use health::{CircuitBreaker, ComponentRegistry, HealthCheckStatus, HealthError, HealthMonitor};
use health_sinks::{LoggingMetricsSink, MetricsSink, NoOpMetricsSink};
use serde_json::json;

use crate::support::{Emitted, Knob, RecordingSink, quiet, recorded};

#[test]
fn the_given_sink_is_kept_and_the_default_is_noop() {
    let sink: Arc<dyn MetricsSink> = Arc::new(LoggingMetricsSink::default());
    let monitor = HealthMonitor::builder()
        .metrics_sink(Arc::clone(&sink))
        .build()
        .unwrap();
    assert!(Arc::ptr_eq(monitor.metrics_sink(), &sink));

    let default = HealthMonitor::new();
    assert_eq!(
        format!("{:?}", default.metrics_sink()),
        format!("{:?}", NoOpMetricsSink)
    );
    assert_eq!(default.failure_window(), Duration::from_secs(3600));
    assert!(default.started_at().elapsed() < Duration::from_secs(60));
}

#[test]
fn bad_settings_are_refused() {
    for builder in [
        HealthMonitor::builder().failure_window(Duration::ZERO),
        HealthMonitor::builder().max_concurrent_checks(0),
        HealthMonitor::builder()
            .cache_ttl(Duration::from_secs(10))
            .max_staleness(Duration::from_secs(5)),
        HealthMonitor::builder().listener_timeout(Duration::ZERO),
        HealthMonitor::builder().resources(ResourceConfig {
            sample_interval: Duration::ZERO,
            ..ResourceConfig::default()
        }),
    ] {
        assert!(
            matches!(builder.build(), Err(HealthError::InvalidConfig { .. })),
            "accepted a bad setting"
        );
    }
}

#[tokio::test]
async fn registering_and_unregistering_checks() {
    let monitor = quiet();
    assert!(!monitor.register_check(Knob::healthy("db")));
    assert!(!monitor.register_check(Knob::healthy("cache")));
    assert_eq!(monitor.check_names(), ["cache", "db"]);
    assert!(monitor.unregister_check("db"));
    assert_eq!(monitor.check_names(), ["cache"]);
    assert!(!monitor.unregister_check("never-registered"));

    // Same name replaces, and the old check's results go with it.
    monitor.run_checks().await;
    let replacement = Knob::new("cache", HealthCheckStatus::Degraded);
    assert!(monitor.register_check(replacement.clone()));
    assert_eq!(replacement.runs(), 0);
    assert_eq!(
        monitor.cached_state().health_checks["cache"].status,
        HealthCheckStatus::Unknown
    );
    assert_eq!(
        monitor.run_checks().await["cache"].status,
        HealthCheckStatus::Degraded
    );
}

#[tokio::test]
async fn run_checks_runs_each_check_once_and_reports_errors_as_unhealthy() {
    let monitor = quiet();
    let good = Knob::healthy("mock_check");
    monitor.register_check(good.clone());
    monitor.register_check(check_fn("broken", || async { Err("Check failed".into()) }));
    monitor.register_check(Knob::new("slowish", HealthCheckStatus::Degraded));

    let results = monitor.run_checks().await;
    assert_eq!(good.runs(), 1);
    assert_eq!(results.len(), 3);
    assert_eq!(results["mock_check"].status, HealthCheckStatus::Healthy);
    assert_eq!(results["broken"].status, HealthCheckStatus::Unhealthy);
    assert_eq!(results["broken"].message, "Check failed");
    assert_eq!(results["slowish"].status, HealthCheckStatus::Degraded);
}

#[tokio::test]
async fn the_state_has_the_originals_sections_and_no_fallback_mode() {
    let monitor = quiet();
    monitor.register_check(Knob::healthy("mock_check"));
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(
        state.health_checks["mock_check"].status,
        HealthCheckStatus::Healthy
    );
    let json = serde_json::to_value(&state).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
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
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(
        json.get("fallback").is_none(),
        "the fallback crate owns the mode"
    );
    assert_eq!(json["health_checks"]["mock_check"]["status"], "healthy");
    assert!(json["uptime_seconds"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn the_state_emits_its_duration_and_each_checks_result() {
    let (monitor, sink) = recorded();
    monitor.register_check(Knob::new("db-connection", HealthCheckStatus::Degraded));
    monitor.get_comprehensive_state().await;
    let emitted = sink.all();
    let check_tags = vec![("check".to_owned(), "db-connection".to_owned())];
    assert!(
        emitted.contains(&Emitted::Gauge(
            "health_check_status".into(),
            0.5,
            check_tags.clone()
        )),
        "{emitted:?}"
    );
    assert!(emitted.iter().any(|emission| matches!(
        emission,
        Emitted::Histogram(name, seconds, tags)
            if name == "health_check_latency_seconds" && *seconds >= 0.0 && *tags == check_tags
    )));
    assert!(emitted.iter().any(|emission| matches!(
        emission,
        Emitted::Gauge(name, seconds, tags)
            if name == STATE_DURATION_METRIC && *seconds >= 0.0 && tags.is_empty()
    )));
}

#[tokio::test]
async fn unhealthy_checks_count_as_failed_components() {
    let registry = ComponentRegistry::new();
    registry.register("anomaly_detector", None);
    registry.register("memory_store", None);
    registry.mark_degraded("policy_engine", Some("slow rules"), true, None);
    let monitor = HealthMonitor::builder()
        .registry(registry.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(Knob::new("redis", HealthCheckStatus::Unhealthy));
    monitor.register_check(Knob::healthy("disk"));

    let state = monitor.get_comprehensive_state().await;
    assert_eq!(state.components.len(), 3);
    assert_eq!(
        state.components["policy_engine"].last_error.as_deref(),
        Some("slow rules")
    );
    let system = &state.system;
    assert_eq!(system.status, SystemStatus::Failed);
    assert_eq!(
        (
            system.healthy_components,
            system.degraded_components,
            system.failed_components,
            system.total_components
        ),
        (3, 1, 1, 5)
    );
}

#[tokio::test]
async fn a_component_check_and_its_component_count_once() {
    let registry = ComponentRegistry::new();
    registry.mark_failed("database", Some("down"), None);
    let monitor = HealthMonitor::builder()
        .registry(registry.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(ComponentHealthCheck::new("database", registry.clone()));
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(
        state.health_checks["database"].status,
        HealthCheckStatus::Unhealthy
    );
    // One failure seen twice must not look like the two failures that mean SAFE.
    assert_eq!(state.system.failed_components, 1);
    assert_eq!(state.system.total_components, 1);
}

#[tokio::test]
async fn a_renamed_component_check_still_counts_with_its_component() {
    // The original's ComponentHealthCheck takes a `name`; renaming the check must not turn
    // one failed component into the two failures that send the cascade to SAFE.
    let registry = ComponentRegistry::new();
    registry.mark_failed("database", Some("down"), None);
    registry.mark_degraded("cache", Some("slow"), true, None);
    let monitor = HealthMonitor::builder()
        .registry(registry.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(
        ComponentHealthCheck::new("database", registry.clone()).with_name("database-check"),
    );
    monitor.register_check(
        ComponentHealthCheck::new("cache", registry.clone()).with_name("cache-check"),
    );
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(
        state.health_checks["database-check"].status,
        HealthCheckStatus::Unhealthy
    );
    let system = &state.system;
    assert_eq!(
        (
            system.failed_components,
            system.degraded_components,
            system.total_components
        ),
        (1, 1, 2)
    );
    // An unregistered component's check still counts on its own, as unknown.
    monitor.register_check(
        ComponentHealthCheck::new("ghost", registry.clone()).with_name("ghost-check"),
    );
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(state.system.total_components, 3);
}

#[tokio::test]
async fn the_summary_counts_as_the_state_does_and_names_what_failed() {
    let registry = ComponentRegistry::new();
    registry.mark_failed("database", Some("down"), None);
    registry.mark_failed("payments", Some("down"), None);
    registry.mark_degraded("cache", Some("slow"), true, None);
    registry.mark_healthy("model", None);
    let monitor = HealthMonitor::builder()
        .registry(registry.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(
        ComponentHealthCheck::new("database", registry.clone()).with_name("database-check"),
    );
    monitor.register_check(Knob::new("payments", HealthCheckStatus::Unhealthy));
    monitor.register_check(Knob::new("model", HealthCheckStatus::Unhealthy));
    monitor.register_check(Knob::healthy("disk"));
    monitor.run_checks().await;
    monitor.register_check(Knob::healthy("not-run-yet"));

    let summary = monitor.cached_summary();
    assert_eq!(summary.system, monitor.cached_state().system);
    let system = &summary.system;
    assert_eq!(system.status, SystemStatus::Failed);
    // database (its check counts with it), payments and model (the worse of the two)
    // failed; cache degraded; disk healthy; not-run-yet unknown.
    assert_eq!(
        (
            system.failed_components,
            system.degraded_components,
            system.healthy_components,
            system.total_components
        ),
        (3, 1, 1, 6)
    );
    assert_eq!(summary.failed_components, ["database", "payments"]);
    assert_eq!(
        summary.unhealthy_checks,
        ["database-check", "model", "payments"]
    );
    assert_eq!(
        summary.failed_names(),
        ["database", "database-check", "model", "payments"]
    );

    assert_eq!(
        quiet().cached_summary(),
        health::model::HealthSummary::default()
    );
}

#[tokio::test]
async fn multiple_results_aggregate_to_the_worst() {
    let monitor = quiet();
    monitor.register_check(Knob::healthy("check1"));
    monitor.register_check(Knob::new("check2", HealthCheckStatus::Degraded));
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(state.health_checks.len(), 2);
    assert_eq!(
        state.health_checks["check1"].status,
        HealthCheckStatus::Healthy
    );
    assert_eq!(
        state.health_checks["check2"].status,
        HealthCheckStatus::Degraded
    );
    assert_eq!(state.system.status, SystemStatus::Degraded);
    assert_eq!(quiet().cached_state().system.status, SystemStatus::Unknown);
}

#[tokio::test]
async fn without_a_breaker_the_section_is_unavailable() {
    let state = quiet().get_comprehensive_state().await;
    let breaker = &state.circuit_breaker;
    assert!(!breaker.available);
    assert_eq!(breaker.state, CircuitState::Unknown);
    assert_eq!(serde_json::to_value(breaker).unwrap()["state"], "UNKNOWN");
    assert_eq!(
        (
            breaker.failures_total,
            breaker.successes_total,
            breaker.trips_total
        ),
        (0, 0, 0)
    );
}

/// A third-party breaker plugged in through the trait.
struct Fixed(BreakerSnapshot);

impl BreakerStatus for Fixed {
    fn snapshot(&self) -> BreakerSnapshot {
        self.0.clone()
    }
}

#[tokio::test]
async fn any_breaker_is_reported_through_the_trait() {
    let closed = Fixed(BreakerSnapshot {
        available: true,
        state: CircuitState::Closed,
        successes_total: 100,
        ..BreakerSnapshot::default()
    });
    let monitor = HealthMonitor::builder()
        .circuit_breaker(Arc::new(closed))
        .without_resources()
        .build()
        .unwrap();
    let breaker = monitor.get_comprehensive_state().await.circuit_breaker;
    assert!(breaker.available);
    assert_eq!(breaker.state, CircuitState::Closed);
    assert_eq!((breaker.failures_total, breaker.successes_total), (0, 100));

    let open = Fixed(BreakerSnapshot {
        available: true,
        state: CircuitState::Open,
        failures_total: 10,
        ..BreakerSnapshot::default()
    });
    let monitor = HealthMonitor::builder()
        .circuit_breaker(Arc::new(open))
        .without_resources()
        .build()
        .unwrap();
    let breaker = monitor.get_comprehensive_state().await.circuit_breaker;
    assert_eq!(breaker.state, CircuitState::Open);
    assert_eq!(breaker.failures_total, 10);
}

/// A breaker whose snapshot panics: the state still comes back.
struct Broken;

impl BreakerStatus for Broken {
    fn snapshot(&self) -> BreakerSnapshot {
        panic!("breaker exploded")
    }
}

#[tokio::test]
async fn a_panicking_breaker_reads_unavailable() {
    let monitor = HealthMonitor::builder()
        .circuit_breaker(Arc::new(Broken))
        .without_resources()
        .build()
        .unwrap();
    let state = monitor.get_comprehensive_state().await;
    assert!(!state.circuit_breaker.available);
    assert_eq!(state.circuit_breaker.state, CircuitState::Unknown);
}

#[tokio::test(start_paused = true)]
async fn a_real_open_breaker_serializes_as_open_and_half_opens_by_time() {
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 2,
        recovery_timeout: Duration::from_secs(30),
        ..CircuitBreakerConfig::default()
    })
    .unwrap();
    let monitor = HealthMonitor::builder()
        .circuit_breaker(Arc::new(breaker.clone()))
        .without_resources()
        .build()
        .unwrap();
    for _ in 0..2 {
        let _ = breaker.call(|| async { Err::<(), _>("refused") }).await;
    }
    tokio::time::advance(Duration::from_secs(12)).await;
    let json = serde_json::to_value(monitor.cached_state()).unwrap();
    // The original serialized `str(CircuitState.OPEN)`, which never equals "OPEN".
    assert_eq!(json["circuit_breaker"]["state"], "OPEN");
    assert_eq!(json["circuit_breaker"]["trips_total"], 1);
    assert_eq!(json["circuit_breaker"]["failures_total"], 2);
    assert_eq!(json["circuit_breaker"]["consecutive_failures"], 2);
    let open_for = json["circuit_breaker"]["open_duration_seconds"]
        .as_f64()
        .unwrap();
    assert!((open_for - 12.0).abs() < 0.01, "{open_for}");

    // Idle past the recovery timeout: no call needed to leave OPEN.
    tokio::time::advance(Duration::from_secs(18)).await;
    let state = monitor.cached_state();
    assert_eq!(state.circuit_breaker.state, CircuitState::HalfOpen);
    assert!(state.circuit_breaker.open_duration_seconds.abs() < f64::EPSILON);
}

#[tokio::test(start_paused = true)]
async fn retry_failures_slide_out_of_the_window() {
    let sink = Arc::new(RecordingSink::default());
    let tracker = RetryTracker::new();
    for _ in 0..50 {
        tracker.record_attempt();
    }
    let monitor = HealthMonitor::builder()
        .retry_tracker(Arc::new(tracker))
        .metrics_sink(sink.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.record_retry_failure();
    assert_eq!(monitor.cached_state().retry.failures_1h, 1);
    monitor.record_retry_failure();
    assert_eq!(monitor.cached_state().retry.failures_1h, 2);
    assert_eq!(
        sink.all()
            .iter()
            .filter(|emission| **emission
                == Emitted::Counter("retry_failures_total".into(), 1, Vec::new()))
            .count(),
        2
    );

    // Two hours later both have left the one-hour window.
    tokio::time::advance(Duration::from_secs(7200)).await;
    monitor.record_retry_failure();
    monitor.record_retry_failure();
    let retry = monitor.get_comprehensive_state().await.retry;
    assert_eq!(retry.failures_1h, 2);
    assert_eq!(retry.state, RetryState::Stable);
    assert_eq!(retry.total_attempts, 50);
}

#[tokio::test]
async fn retry_state_and_rate_follow_the_configured_window() {
    let monitor = HealthMonitor::builder()
        .failure_window(Duration::from_secs(60))
        .without_resources()
        .build()
        .unwrap();
    let mut states = Vec::new();
    for failures in 1..=20 {
        monitor.record_retry_failure();
        if [4, 5, 19, 20].contains(&failures) {
            states.push(monitor.cached_state().retry.state);
        }
    }
    assert_eq!(
        states,
        [
            RetryState::Stable,
            RetryState::Elevated,
            RetryState::Elevated,
            RetryState::Critical
        ]
    );
    let retry = monitor.cached_state().retry;
    assert_eq!(retry.failures_1h, 20);
    assert!(
        (retry.failure_rate - 20.0 / 60.0).abs() < 1e-9,
        "{}",
        retry.failure_rate
    );
    assert_eq!(retry.total_attempts, 0, "no tracker plugged in");
}

#[cfg(all(feature = "resources", feature = "disk"))]
#[tokio::test]
async fn resources_are_measured_with_the_originals_shape() {
    let monitor = HealthMonitor::new();
    let state = monitor.get_comprehensive_state().await;
    let resources = &state.resources;
    assert!(resources.available);
    let levels = [
        resources.status.cpu,
        resources.status.memory,
        resources.status.disk,
        resources.status.overall,
    ];
    for level in levels {
        assert_ne!(level, ResourceLevel::Unknown, "{:?}", resources.status);
    }
    let json = serde_json::to_value(resources).unwrap();
    for key in ["cpu", "memory", "disk", "overall"] {
        let level = json["status"][key].as_str().unwrap();
        assert!(
            ["healthy", "warning", "critical", "unknown"].contains(&level),
            "{key}: {level}"
        );
    }
    let metrics = json["current_metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), 6, "{metrics:?}");
    for key in [
        "cpu_percent",
        "memory_percent",
        "memory_available_mb",
        "disk_usage_percent",
        "process_memory_mb",
    ] {
        assert!(metrics[key].is_number(), "{key}: {metrics:?}");
    }
    assert!(metrics["timestamp"].is_string());
    assert!(json["available"].as_bool().unwrap());
}

#[cfg(feature = "resources")]
#[tokio::test]
async fn an_unmeasurable_disk_reads_unknown_without_hiding_the_rest() {
    let monitor = HealthMonitor::builder()
        .resources(ResourceConfig {
            disk_path: "/no/such/disk".into(),
            ..ResourceConfig::default()
        })
        .build()
        .unwrap();
    let resources = monitor.get_comprehensive_state().await.resources;
    assert!(resources.available);
    assert_eq!(resources.status.disk, ResourceLevel::Unknown);
    assert_ne!(resources.status.cpu, ResourceLevel::Unknown);
    assert_ne!(resources.status.overall, ResourceLevel::Unknown);

    let none = quiet().get_comprehensive_state().await.resources;
    assert!(!none.available);
    assert_eq!(none.status.overall, ResourceLevel::Unknown);
}

#[cfg(feature = "disk")]
#[tokio::test]
async fn critical_thresholds_make_resources_critical() {
    let mut config = ResourceConfig::default();
    config.thresholds.disk = health::resources::Thresholds::new(0.0, 0.0).unwrap();
    // One sample covers a window of one sample interval: judged at once.
    config.window = config.sample_interval;
    let monitor = HealthMonitor::builder().resources(config).build().unwrap();
    let status = monitor.get_comprehensive_state().await.resources.status;
    assert_eq!(status.disk, ResourceLevel::Critical);
    assert_eq!(status.overall, ResourceLevel::Critical);
}

#[cfg(not(any(feature = "resources", feature = "disk")))]
#[tokio::test]
async fn without_a_measuring_feature_resources_read_unavailable() {
    // The default configuration asks for resources; this build cannot measure any.
    let monitor = HealthMonitor::new();
    let resources = monitor.get_comprehensive_state().await.resources;
    assert!(!resources.available);
    assert_eq!(resources.status.overall, ResourceLevel::Unknown);
    assert_eq!(monitor.cached_state().resources, resources);
}

#[cfg(feature = "resources")]
#[test]
fn sampling_resources_never_blocks_the_event_loop() {
    // One thread runs everything: if sampling (which waits ~200 ms for a first CPU
    // figure) ran on it, the ticker below could not tick meanwhile.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let monitor = HealthMonitor::new();
        let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let state = monitor.get_comprehensive_state().await;
        ticker.abort();
        assert!(state.resources.available);
        assert!(
            ticks.load(std::sync::atomic::Ordering::SeqCst) >= 5,
            "the loop stalled while resources were sampled"
        );
    });
}

#[tokio::test]
async fn the_state_round_trips_through_json() {
    let registry = ComponentRegistry::new();
    registry.mark_degraded(
        "cache",
        Some("slow"),
        true,
        json!({"v": 1}).as_object().cloned(),
    );
    let monitor = HealthMonitor::builder()
        .registry(registry)
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(Knob::healthy("db"));
    let state = monitor.get_comprehensive_state().await;
    let json = serde_json::to_value(&state).unwrap();
    let back: health::HealthState = serde_json::from_value(json.clone()).unwrap();
    // Compared as JSON: serde_json may round a float's last bit on the way back.
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    assert_eq!(back.components, state.components);
    assert_eq!(back.system, state.system);
}
