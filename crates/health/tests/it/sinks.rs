//! The monitor through real sinks (the original's `test_sinks.py` usage, re-expressed):
//! what it emits renders as Prometheus exposition that `promtool` accepts.

use std::sync::Arc;
use std::time::Duration;

use health::{CheckOutcome, HealthCheckStatus, HealthMonitor, check_fn};
use health_sinks::{FanoutMetricsSink, MetricsSink, PrometheusMetricsSink};

use crate::support::{Emitted, Knob, RecordingSink, assert_promtool_clean, recorded, sample};

#[tokio::test]
async fn every_status_reaches_the_sink_with_its_gauge_value() {
    let (monitor, sink) = recorded();
    for (name, status) in [
        ("up", HealthCheckStatus::Healthy),
        ("slow", HealthCheckStatus::Degraded),
        ("down", HealthCheckStatus::Unhealthy),
        ("unsure", HealthCheckStatus::Unknown),
    ] {
        monitor.register_check(Knob::new(name, status));
    }
    monitor.run_checks().await;
    let mut gauges: Vec<(String, f64)> = sink
        .all()
        .into_iter()
        .filter_map(|emission| match emission {
            Emitted::Gauge(name, value, tags) if name == "health_check_status" => {
                Some((tags[0].1.clone(), value))
            }
            _ => None,
        })
        .collect();
    gauges.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        gauges,
        [
            ("down".to_owned(), 0.0),
            ("slow".to_owned(), 0.5),
            ("unsure".to_owned(), -1.0),
            ("up".to_owned(), 1.0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn latencies_reach_the_sink_in_seconds() {
    let (monitor, sink) = recorded();
    monitor.register_check(Knob::healthy("db").sleeping(Duration::from_millis(250)));
    monitor.run_checks().await;
    let latency = sink
        .all()
        .into_iter()
        .find_map(|emission| match emission {
            Emitted::Histogram(name, value, _) if name == "health_check_latency_seconds" => {
                Some(value)
            }
            _ => None,
        })
        .unwrap();
    assert!((0.25..0.26).contains(&latency), "{latency}");
}

#[tokio::test]
async fn the_monitors_metrics_render_and_pass_promtool() {
    let prometheus = PrometheusMetricsSink::new();
    let recorder = Arc::new(RecordingSink::default());
    let sink: Arc<dyn MetricsSink> = Arc::new(
        FanoutMetricsSink::default()
            .with(prometheus.clone())
            .with(recorder.clone()),
    );
    let monitor = HealthMonitor::builder().metrics_sink(sink).build().unwrap();
    // Names the original could not export (dashes, spaces, dots) are label values here.
    monitor.register_check(Knob::healthy("redis"));
    monitor.register_check(Knob::new("db-connection", HealthCheckStatus::Degraded));
    monitor.register_check(check_fn("payments api.v2", || async {
        Err("connection refused".into())
    }));
    monitor.register_check(check_fn("simple", || async {
        Ok(CheckOutcome::healthy("ok"))
    }));
    monitor.get_comprehensive_state().await;
    monitor.run_checks().await;
    monitor.record_retry_failure();
    monitor.record_retry_failure();

    let text = prometheus.render();
    assert_promtool_clean(&text);
    assert_eq!(sample(&text, "health_check_status{check=\"redis\"}"), "1");
    assert_eq!(sample(&text, "health_check_status{check=\"simple\"}"), "1");
    assert_eq!(
        sample(&text, "health_check_status{check=\"db-connection\"}"),
        "0.5"
    );
    assert_eq!(
        sample(&text, "health_check_status{check=\"payments api.v2\"}"),
        "0"
    );
    assert_eq!(
        sample(&text, "health_check_latency_seconds_count{check=\"redis\"}"),
        "2"
    );
    assert_eq!(sample(&text, "retry_failures_total"), "2");
    let duration: f64 = sample(&text, "health_check_duration_seconds")
        .parse()
        .unwrap();
    assert!(duration >= 0.0);
    assert_eq!(prometheus.stats().dropped_total(), 0);
    assert!(!recorder.all().is_empty(), "the fan-out reached both sinks");
}
