//! Metrics through the sink: the mode gauge, transitions by from/to, time in mode, and
//! the same through the real Prometheus sink.

use std::sync::Arc;
use std::time::Duration;

use fallback::FallbackManager;
use fallback::metrics::{
    MODE_METRIC, PERSIST_FAILURES_METRIC, TIME_IN_MODE_METRIC, TRANSITIONS_METRIC,
};
use health_sinks::PrometheusMetricsSink;
use storage::MemoryStorage;

use crate::support::{Emitted, FlakyStorage, RecordingSink, failed, healthy, open};

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_transition_sets_the_gauge_counts_and_times_the_mode_left() {
    let sink = Arc::new(RecordingSink::default());
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .metrics_sink(sink.clone())
        .build();
    assert_eq!(
        sink.take(),
        [Emitted::Gauge(MODE_METRIC.to_owned(), 0.0, vec![])],
        "the gauge starts at primary"
    );

    tokio::time::advance(Duration::from_secs(90)).await;
    manager.cascade(&open(1.0)).await;
    assert_eq!(
        sink.take(),
        [
            Emitted::Gauge(MODE_METRIC.to_owned(), 1.0, vec![]),
            Emitted::Counter(
                TRANSITIONS_METRIC.to_owned(),
                1,
                tags(&[("from", "primary"), ("to", "heuristic")])
            ),
            Emitted::Histogram(
                TIME_IN_MODE_METRIC.to_owned(),
                90.0,
                tags(&[("mode", "primary")])
            ),
        ]
    );

    manager.cascade(&open(2.0)).await;
    assert!(sink.take().is_empty(), "an unchanged cascade emits nothing");

    tokio::time::advance(Duration::from_secs(5)).await;
    manager.cascade(&failed(2)).await;
    let emitted = sink.take();
    assert_eq!(
        emitted[0],
        Emitted::Gauge(MODE_METRIC.to_owned(), 2.0, vec![])
    );
    assert_eq!(
        emitted[2],
        Emitted::Histogram(
            TIME_IN_MODE_METRIC.to_owned(),
            5.0,
            tags(&[("mode", "heuristic")])
        )
    );
    assert!((manager.get_metrics().time_in_mode_seconds - 0.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn persistence_failures_are_counted() {
    let sink = Arc::new(RecordingSink::default());
    let manager = FallbackManager::builder(FlakyStorage::failing())
        .metrics_sink(sink.clone())
        .build();
    manager.set_mode("safe").await.unwrap();
    assert!(sink.take().contains(&Emitted::Counter(
        PERSIST_FAILURES_METRIC.to_owned(),
        1,
        vec![]
    )));
}

#[tokio::test]
async fn the_prometheus_sink_exports_mode_and_transitions() {
    let prometheus = PrometheusMetricsSink::new();
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .metrics_sink(Arc::new(prometheus.clone()))
        .build();
    manager.cascade(&failed(2)).await;
    manager.cascade(&healthy()).await;
    manager.cascade(&failed(2)).await;
    let text = prometheus.render();
    assert!(text.contains("fallback_mode 2"), "{text}");
    assert!(
        text.contains("fallback_transitions_total{from=\"primary\",to=\"safe\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("fallback_transitions_total{from=\"safe\",to=\"primary\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("fallback_time_in_mode_seconds_count{mode=\"safe\"} 1"),
        "{text}"
    );
}
