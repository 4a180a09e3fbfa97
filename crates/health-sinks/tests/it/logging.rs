//! `LoggingMetricsSink`: the original's logging tests, against captured `tracing` events.

use std::time::{Duration, UNIX_EPOCH};

use health_sinks::logging::LOG_TARGET;
use health_sinks::{LoggingMetricsSink, MetricsSink};
use tracing::Level;

use crate::support::{capture_events, emit_check};

/// Emits with `emit` into a sink logging at `sink_level`, captured at `capture_level`,
/// and asserts the messages logged.
fn check(
    sink_level: Level,
    capture_level: Level,
    emit: impl FnOnce(&dyn MetricsSink),
    expected: &[&str],
) {
    let sink = LoggingMetricsSink::new(sink_level);
    let events = capture_events(capture_level, || emit(&sink));
    let messages: Vec<&str> = events.iter().map(|event| event.message.as_str()).collect();
    assert_eq!(messages, expected);
    for event in &events {
        assert_eq!(event.level, sink_level);
        assert_eq!(event.target, LOG_TARGET);
    }
}

#[test]
fn each_kind_logs_one_line_in_the_original_shape() {
    // Originals: test_logging_sink_emit, _emit_with_tags, _emit_counter, _emit_histogram.
    check(
        Level::INFO,
        Level::INFO,
        |sink| {
            sink.emit("test_metric", 42.0, &[], None);
            sink.emit(
                "tagged_metric",
                1.5,
                &[("host", "server1"), ("env", "prod")],
                None,
            );
            sink.emit_counter("requests_total", 1, &[]);
            sink.emit_histogram("latency_ms", 150.5, &[]);
            sink.emit(
                "stamped",
                -1.0,
                &[],
                Some(UNIX_EPOCH + Duration::from_millis(1_767_268_800_250)),
            );
        },
        &[
            "METRIC gauge test_metric=42.0",
            "METRIC gauge tagged_metric=1.5 env=prod host=server1",
            "METRIC counter requests_total+=1",
            "METRIC histogram latency_ms=150.5",
            "METRIC gauge stamped=-1.0 ts=2026-01-01T12:00:00.250Z",
        ],
    );
}

#[test]
fn tagged_gauges_and_latency_histograms_log_their_values() {
    check(
        Level::WARN,
        Level::WARN,
        |sink| emit_check(sink, "redis", 0.5, Duration::from_millis(12)),
        &[
            "METRIC gauge health_check_status=0.5 check=redis",
            "METRIC histogram health_check_latency_seconds=0.012 check=redis",
        ],
    );
}

#[test]
fn the_sink_level_decides_visibility() {
    // Original: test_logging_sink_custom_log_level.
    let emit = |sink: &dyn MetricsSink| sink.emit_counter("hidden", 1, &[]);
    check(Level::DEBUG, Level::INFO, emit, &[]);
    check(
        Level::DEBUG,
        Level::DEBUG,
        emit,
        &["METRIC counter hidden+=1"],
    );
    check(
        Level::TRACE,
        Level::TRACE,
        emit,
        &["METRIC counter hidden+=1"],
    );
    check(
        Level::ERROR,
        Level::ERROR,
        emit,
        &["METRIC counter hidden+=1"],
    );
    assert_eq!(LoggingMetricsSink::default().level(), Level::DEBUG);
}

#[test]
fn events_carry_structured_fields() {
    let sink = LoggingMetricsSink::new(Level::INFO);
    let events = capture_events(Level::INFO, || sink.emit_counter("jobs", 7, &[("q", "a")]));
    let fields = &events[0].fields;
    assert_eq!(fields["metric_kind"], "counter");
    assert_eq!(fields["metric_name"], "jobs");
    assert_eq!(fields["metric_value"], "7");
}

#[test]
fn nothing_is_validated_or_dropped() {
    check(
        Level::INFO,
        Level::INFO,
        |sink| {
            sink.emit("", f64::NAN, &[("", "x")], None);
            sink.emit_counter("db-pool size", 1, &[("b", "2"), ("a", "1")]);
        },
        &[
            "METRIC gauge =NaN =x",
            "METRIC counter db-pool size+=1 a=1 b=2",
        ],
    );
}
