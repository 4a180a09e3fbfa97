//! Every health and fallback metric reaches whatever `metrics` recorder the program
//! installed, through health-sinks' facade sink: the same emissions a recording sink
//! sees, with the help texts of the crates that define them.

use std::collections::BTreeSet;
use std::sync::Arc;

use fallback::{FallbackManager, FallbackMode};
use health::checks::check_fn;
use health::{CheckOutcome, HealthMonitor};
use health_sinks::testing::{Emitted, RecordingSink};
use health_sinks::{FacadeMetricsSink, FanoutMetricsSink, MetricsSink};
use metrics_util::debugging::DebuggingRecorder;
use storage::MemoryStorage;

#[tokio::test(flavor = "current_thread")]
async fn every_health_and_fallback_metric_reaches_the_installed_recorder() {
    // A local default recorder stands for the global one an exporter installs: this
    // test runs on one thread, so every emission sees it.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let facade = health::metrics::METRIC_DESCRIPTIONS
        .iter()
        .chain(fallback::metrics::METRIC_DESCRIPTIONS)
        .fold(FacadeMetricsSink::builder(), |sink, (name, help)| {
            sink.describe(name, help)
        })
        .build();
    let recording = Arc::new(RecordingSink::new());
    let sink: Arc<dyn MetricsSink> = Arc::new(
        FanoutMetricsSink::default()
            .with(facade.clone())
            .with(recording.clone()),
    );

    let monitor = HealthMonitor::builder()
        .metrics_sink(sink.clone())
        .without_resources()
        .build()
        .unwrap();
    monitor.register_check(check_fn("db", || async {
        Err("connection refused".into())
    }));
    monitor.register_check(check_fn("cache", || async {
        Err("connection refused".into())
    }));
    monitor.register_check(check_fn("queue", || async {
        Ok(CheckOutcome::healthy("ok"))
    }));
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .metrics_sink(sink)
        .build();
    manager.register_mode_callback(FallbackMode::Safe, |_| async { Err("pager down".into()) });

    monitor.record_retry_failure();
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(manager.cascade(&state).await, FallbackMode::Safe);
    manager.set_mode_to(FallbackMode::Primary).await.unwrap();

    let emitted: BTreeSet<String> = recording
        .all()
        .into_iter()
        .map(|emission| match emission {
            Emitted::Gauge(name, ..)
            | Emitted::Counter(name, ..)
            | Emitted::Histogram(name, ..) => name,
        })
        .collect();
    let snapshot = snapshotter.snapshot().into_vec();
    let received: BTreeSet<String> = snapshot
        .iter()
        .map(|(key, ..)| key.key().name().to_owned())
        .collect();
    assert_eq!(
        received, emitted,
        "the recorder saw other metrics than were emitted"
    );
    for name in [
        health::metrics::HEALTH_CHECK_STATUS_METRIC,
        health::metrics::HEALTH_CHECK_LATENCY_METRIC,
        health::metrics::STATE_DURATION_METRIC,
        health::metrics::RETRY_FAILURES_METRIC,
        fallback::metrics::MODE_METRIC,
        fallback::metrics::TRANSITIONS_METRIC,
        fallback::metrics::TIME_IN_MODE_METRIC,
        fallback::metrics::CALLBACK_FAILURES_METRIC,
    ] {
        assert!(
            received.contains(name),
            "{name} never reached the recorder: {received:?}"
        );
    }
    // Described with the defining crate's help text.
    let (_, _, help, _) = snapshot
        .iter()
        .find(|(key, ..)| key.key().name() == fallback::metrics::MODE_METRIC)
        .unwrap();
    let expected = fallback::metrics::METRIC_DESCRIPTIONS
        .iter()
        .find(|(name, _)| *name == fallback::metrics::MODE_METRIC)
        .unwrap()
        .1;
    assert_eq!(
        help.as_ref().map(ToString::to_string).as_deref(),
        Some(expected)
    );
    assert_eq!(facade.stats().dropped_total(), 0);
}
