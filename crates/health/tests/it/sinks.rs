//! The monitor through real sinks (the original's `test_sinks.py` usage, re-expressed):
//! what it emits renders as Prometheus exposition that `promtool` accepts, and
//! `emit_health_check` on the Prometheus and DogStatsD sinks.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use health::checks::check_fn;
use health::metrics::{METRIC_DESCRIPTIONS, MetricsSinkExt};
use health::{CheckOutcome, HealthCheckStatus, HealthMonitor};
use health_sinks::prometheus::PrometheusSinkBuilder;
use health_sinks::{DogStatsdMetricsSink, FanoutMetricsSink, MetricsSink, PrometheusMetricsSink};

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

/// A Prometheus sink described with health's help texts, as a service sets one up.
fn described_prometheus() -> PrometheusMetricsSink {
    METRIC_DESCRIPTIONS
        .iter()
        .fold(PrometheusSinkBuilder::new(), |sink, (name, help)| {
            sink.describe(name, help)
        })
        .build()
        .unwrap()
}

#[test]
fn health_checks_are_labelled_by_check_with_latency_in_seconds() {
    // Original: test_prometheus_sink_emit_health_check and
    // test_metrics_sink_health_check_status_mapping (whose values it never asserted).
    let sink = described_prometheus();
    for (check, status) in [
        ("redis", "healthy"),
        ("db-primary", "degraded"),
        ("payments api", "unhealthy"),
        ("disk", "unknown"),
    ] {
        sink.emit_health_check(check, status, Duration::from_millis(30));
    }
    sink.emit_health_check("redis", "healthy", Duration::from_millis(70));
    let text = sink.render();
    assert_promtool_clean(&text);
    for (check, value) in [
        ("redis", "1"),
        ("db-primary", "0.5"),
        ("payments api", "0"),
        ("disk", "-1"),
    ] {
        assert_eq!(
            sample(&text, &format!(r#"health_check_status{{check="{check}"}}"#)),
            value,
            "{check}"
        );
    }
    assert_eq!(
        sample(
            &text,
            r#"health_check_latency_seconds_count{check="redis"}"#
        ),
        "2"
    );
    assert_eq!(
        sample(
            &text,
            r#"health_check_latency_seconds_bucket{check="redis",le="0.05"}"#
        ),
        "1"
    );
    assert_eq!(
        sample(
            &text,
            r#"health_check_latency_seconds_bucket{check="redis",le="0.075"}"#
        ),
        "2"
    );
    assert!(
        text.contains(
            "# HELP health_check_status Health check status by check: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "# HELP health_check_latency_seconds Health check latency by check, in seconds\n"
        ),
        "{text}"
    );
    // Never a metric name built from a check name, as the original did.
    assert!(!text.contains("health_check_redis"), "{text}");
}

#[test]
fn health_checks_send_a_status_gauge_and_a_latency_histogram_to_dogstatsd() {
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let sink = DogStatsdMetricsSink::new(&agent.local_addr().unwrap().to_string()).unwrap();
    sink.emit_health_check("redis", "healthy", Duration::from_millis(12));
    sink.emit_health_check("db primary", "degraded", Duration::from_micros(1500));
    sink.emit_health_check("queue", "unhealthy", Duration::ZERO);
    sink.emit_health_check("disk", "unknown", Duration::from_secs(2));
    let mut buffer = [0_u8; 1024];
    let datagrams: Vec<String> = (0..8)
        .map(|_| {
            let len = agent.recv(&mut buffer).unwrap();
            String::from_utf8(buffer[..len].to_vec()).unwrap()
        })
        .collect();
    assert_eq!(
        datagrams,
        [
            "health_check_status:1|g|#check:redis",
            "health_check_latency_seconds:0.012|h|#check:redis",
            "health_check_status:0.5|g|#check:db primary",
            "health_check_latency_seconds:0.0015|h|#check:db primary",
            "health_check_status:0|g|#check:queue",
            "health_check_latency_seconds:0|h|#check:queue",
            "health_check_status:-1|g|#check:disk",
            "health_check_latency_seconds:2|h|#check:disk",
        ]
    );
}
