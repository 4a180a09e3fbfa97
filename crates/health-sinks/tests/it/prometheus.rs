//! `PrometheusMetricsSink`: the original's sink tests re-expressed against the rendered
//! text, adversarial input, isolation, configuration and concurrency; every exposition
//! goes through `promtool check metrics`.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use health_sinks::prometheus::{CONTENT_TYPE, PrometheusSinkBuilder};
use health_sinks::{DROPPED_METRIC, DropReason, MetricsSink, PrometheusMetricsSink, SinkError};
use proptest::prelude::*;

use crate::support::{Promtool, assert_promtool, emit_check, helps, sample, samples, types};

/// Renders `sink`, checks it with promtool, and returns the text.
fn render_checked(sink: &PrometheusMetricsSink, strictness: Promtool) -> String {
    let text = sink.render();
    types(&text); // one TYPE line per family
    assert_promtool(&text, strictness);
    text
}

#[test]
fn gauges_render_with_type_help_and_the_last_value() {
    // Original: test_prometheus_sink_emit_creates_gauge, test_prometheus_sink_reuses_metrics
    // (promtool lints names containing their type, like the original's `queue_depth`).
    let sink = PrometheusMetricsSink::new();
    sink.emit("queue_depth", 42.0, &[], None);
    sink.emit("queue_depth", 43.5, &[], Some(SystemTime::now()));
    sink.emit("queue_depth", 44.0, &[], None);
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(sample(&text, "queue_depth"), "44");
    assert_eq!(types(&text)["queue_depth"], "gauge");
    assert_eq!(helps(&text)["queue_depth"], "Gauge metric: queue_depth");
    let series: Vec<_> = samples(&text)
        .into_keys()
        .filter(|series| series.starts_with("queue_depth"))
        .collect();
    assert_eq!(series, ["queue_depth"]);
}

#[test]
fn tags_become_labels_sorted_by_key() {
    // Original: test_prometheus_sink_emit_with_tags.
    let sink = PrometheusMetricsSink::new();
    sink.emit(
        "labeled_depth",
        1.5,
        &[("host", "server1"), ("env", "prod")],
        None,
    );
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(
        sample(&text, r#"labeled_depth{env="prod",host="server1"}"#),
        "1.5"
    );
}

#[test]
fn counters_accumulate_and_end_in_total() {
    // Original: test_prometheus_sink_emit_counter (two increments).
    let sink = PrometheusMetricsSink::new();
    sink.emit_counter("jobs_processed", 1, &[]);
    sink.emit_counter("jobs_processed", 1, &[]);
    sink.emit_counter("requests_total", 5, &[("route", "/health")]);
    sink.emit_counter("requests_total", 0, &[("route", "/ready")]);
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(sample(&text, "jobs_processed_total"), "2");
    assert_eq!(types(&text)["jobs_processed_total"], "counter");
    assert_eq!(sample(&text, r#"requests_total{route="/health"}"#), "5");
    assert_eq!(sample(&text, r#"requests_total{route="/ready"}"#), "0");
}

#[test]
fn histograms_have_second_buckets_sum_and_count() {
    // Original: test_prometheus_sink_emit_histogram.
    let sink = PrometheusMetricsSink::new();
    for value in [0.003, 0.15, 0.15, 4.0, 60.0] {
        sink.emit_histogram("request_duration_seconds", value, &[("route", "/")]);
    }
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(types(&text)["request_duration_seconds"], "histogram");
    let bucket = |le: &str| {
        sample(
            &text,
            &format!(r#"request_duration_seconds_bucket{{route="/",le="{le}"}}"#),
        )
    };
    assert_eq!(bucket("0.005"), "1");
    assert_eq!(bucket("0.1"), "1");
    assert_eq!(bucket("0.25"), "3");
    assert_eq!(bucket("5"), "4");
    assert_eq!(bucket("10"), "4");
    assert_eq!(bucket("+Inf"), "5");
    assert_eq!(
        sample(&text, r#"request_duration_seconds_count{route="/"}"#),
        "5"
    );
    let sum: f64 = sample(&text, r#"request_duration_seconds_sum{route="/"}"#)
        .parse()
        .unwrap();
    assert!((sum - 64.303).abs() < 1e-9, "{sum}");
    assert!(
        !text.contains("quantile"),
        "histograms must not render as summaries"
    );
}

#[test]
fn tag_values_label_series_and_latencies_fill_second_buckets() {
    // Original: test_prometheus_sink_emit_health_check, the sink's side of it (the
    // status mapping is the health crate's, tested there).
    let sink = PrometheusMetricsSink::new();
    for (check, value) in [
        ("redis", 1.0),
        ("db-primary", 0.5),
        ("payments api", 0.0),
        ("disk", -1.0),
    ] {
        emit_check(&sink, check, value, Duration::from_millis(30));
    }
    emit_check(&sink, "redis", 1.0, Duration::from_millis(70));
    let text = render_checked(&sink, Promtool::LintClean);
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
    // Undescribed, a metric gets the generic help text: the sink gives no name a meaning.
    assert_eq!(
        helps(&text)["health_check_status"],
        "Gauge metric: health_check_status",
        "{text}"
    );
    // Never a metric name built from a tag value.
    assert!(!text.contains("health_check_redis"), "{text}");
}

#[test]
fn sinks_are_isolated_from_each_other() {
    // Original: test_prometheus_sink_initialization (custom registry kept).
    let first = PrometheusMetricsSink::new();
    let second = PrometheusMetricsSink::new();
    first.emit("only_in_first", 1.0, &[], None);
    second.emit_counter("only_in_second", 1, &[]);
    // The same name as two kinds in two sinks is no conflict.
    second.emit("only_in_first_kind", 1.0, &[], None);
    first.emit_counter("only_in_first_kind", 1, &[]);
    let (first, second) = (first.render(), second.render());
    assert!(first.contains("only_in_first 1") && !first.contains("only_in_second"));
    assert!(second.contains("only_in_second_total 1") && !second.contains("only_in_first "));
    assert!(first.contains("only_in_first_kind_total 1"));
    assert!(second.contains("only_in_first_kind 1"));
}

#[test]
fn clones_share_one_registry() {
    let sink = PrometheusMetricsSink::new();
    let shared: Arc<dyn MetricsSink> = Arc::new(sink.clone());
    shared.emit("from_clone", 3.0, &[], None);
    assert_eq!(sample(&sink.render(), "from_clone"), "3");
    assert_eq!(sink.content_type(), CONTENT_TYPE);
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
}

#[test]
fn tag_order_never_creates_a_second_series() {
    let sink = PrometheusMetricsSink::new();
    let tags = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")];
    let mut emitted = 0;
    // Every permutation of the four tags.
    for i in 0..24_usize {
        let mut pool: Vec<_> = tags.to_vec();
        let mut order = Vec::new();
        let mut rest = i;
        for n in (1..=4).rev() {
            order.push(pool.remove(rest % n));
            rest /= n;
        }
        sink.emit_counter("permuted", 1, &order);
        sink.emit_histogram("permuted_seconds", 0.01, &order);
        sink.emit("permuted_level", i as f64, &order, None);
        emitted += 1;
    }
    let text = render_checked(&sink, Promtool::LintClean);
    let labels = r#"{a="1",b="2",c="3",d="4"}"#;
    assert_eq!(
        sample(&text, &format!("permuted_total{labels}")),
        emitted.to_string()
    );
    assert_eq!(
        sample(&text, &format!("permuted_seconds_count{labels}")),
        "24"
    );
    assert_eq!(sample(&text, &format!("permuted_level{labels}")), "23");
    let permuted_series = samples(&text)
        .keys()
        .filter(|series| {
            series.starts_with("permuted_total") || series.starts_with("permuted_level")
        })
        .count();
    assert_eq!(permuted_series, 2, "{text}");
}

/// What one adversarial case must render, beyond passing promtool.
struct Expect {
    /// `(series, value)` pairs that must be rendered exactly.
    samples: &'static [(&'static str, &'static str)],
    /// Substrings that must not appear anywhere.
    absent: &'static [&'static str],
    normalized: u64,
    dropped: &'static [(DropReason, u64)],
}

fn check(case: &str, emit: impl FnOnce(&PrometheusMetricsSink), expect: &Expect) {
    let sink = PrometheusMetricsSink::new();
    emit(&sink);
    let text = render_checked(&sink, Promtool::LintClean);
    for (series, value) in expect.samples {
        assert_eq!(&sample(&text, series), value, "{case}: {series}\n{text}");
    }
    for absent in expect.absent {
        assert!(
            !text.contains(absent),
            "{case}: {absent:?} rendered\n{text}"
        );
    }
    let stats = sink.stats();
    assert_eq!(stats.normalized(), expect.normalized, "{case}: normalized");
    let mut dropped_total = 0;
    for &(reason, count) in expect.dropped {
        assert_eq!(stats.dropped(reason), count, "{case}: {reason}");
        assert_eq!(
            sample(&text, &format!(r#"{DROPPED_METRIC}{{reason="{reason}"}}"#)),
            count.to_string(),
            "{case}: exported drop count"
        );
        dropped_total += count;
    }
    assert_eq!(
        stats.dropped_total(),
        dropped_total,
        "{case}: dropped total"
    );
}

#[test]
fn adversarial_names_and_labels_render_valid_exposition() {
    check(
        "dashes, dots, spaces and colons in names",
        |sink| {
            sink.emit("db-connection", 1.0, &[], None);
            sink.emit("http.in flight", 2.0, &[], None);
            sink.emit_counter("rule:errors", 3, &[]);
        },
        &Expect {
            samples: &[
                ("db_connection", "1"),
                ("http_in_flight", "2"),
                ("rule_errors_total", "3"),
            ],
            absent: &["db-connection", "rule:errors"],
            normalized: 3,
            dropped: &[],
        },
    );
    check(
        "leading digits and non-ASCII",
        |sink| {
            sink.emit_counter("5xx_responses", 1, &[]);
            sink.emit("température", 21.5, &[], None);
        },
        &Expect {
            samples: &[("_5xx_responses_total", "1"), ("temp_rature", "21.5")],
            absent: &[],
            normalized: 2,
            dropped: &[],
        },
    );
    check(
        "empty name",
        |sink| {
            sink.emit("", 1.0, &[], None);
            sink.emit_counter("", 1, &[("a", "b")]);
            sink.emit_histogram("", 1.0, &[]);
            sink.emit("", 1.0, &[], None);
        },
        &Expect {
            samples: &[],
            absent: &["# TYPE  ", "\n 1\n"],
            normalized: 0,
            dropped: &[(DropReason::EmptyName, 4)],
        },
    );
    check(
        "reserved, digit-led, dashed and empty label keys",
        |sink| {
            sink.emit(
                "labels",
                1.0,
                &[("__reserved", "a"), ("1bad", "b"), ("check-name", "c")],
                None,
            );
            sink.emit("labels", 2.0, &[("__name__", "other_metric")], None);
            sink.emit("labels", 3.0, &[("", "empty key")], None);
        },
        &Expect {
            samples: &[
                (r#"labels{_1bad="b",_reserved="a",check_name="c"}"#, "1"),
                (r#"labels{_name__="other_metric"}"#, "2"),
            ],
            absent: &["__reserved", "__name__", "empty key"],
            normalized: 2,
            dropped: &[(DropReason::EmptyTagKey, 1)],
        },
    );
    check(
        "label values with quotes, newlines and backslashes",
        |sink| {
            sink.emit("values", 1.0, &[("v", "say \"hi\"\nbye")], None);
            sink.emit("values", 2.0, &[("v", r"C:\temp\")], None);
            sink.emit("values", 3.0, &[("v", r"C:\\temp")], None);
            sink.emit("values", 4.0, &[("v", r#"\""#)], None);
            sink.emit("values", 5.0, &[("v", "")], None);
            sink.emit("values", 6.0, &[("v", "ünï 🚀 {a=\"b\"}")], None);
        },
        &Expect {
            samples: &[
                (r#"values{v="say \"hi\"\nbye"}"#, "1"),
                (r#"values{v="C:\\temp\\"}"#, "2"),
                (r#"values{v="C:\\\\temp"}"#, "3"),
                (r#"values{v="\\\""}"#, "4"),
                (r#"values{v=""}"#, "5"),
                (r#"values{v="ünï 🚀 {a=\"b\"}"}"#, "6"),
            ],
            absent: &[],
            normalized: 0,
            dropped: &[],
        },
    );
    check(
        "one name as counter then gauge then histogram",
        |sink| {
            sink.emit_counter("dup", 1, &[]);
            sink.emit("dup", 5.0, &[], None);
            sink.emit_histogram("dup", 0.1, &[]);
            sink.emit("dup_total", 5.0, &[], None);
            sink.emit_counter("dup", 1, &[("k", "v")]);
        },
        &Expect {
            samples: &[("dup_total", "1"), (r#"dup_total{k="v"}"#, "1")],
            absent: &["dup_bucket", "dup 5"],
            normalized: 0,
            dropped: &[(DropReason::NameConflict, 3)],
        },
    );
    check(
        "gauge first, then counters claiming its name",
        |sink| {
            sink.emit("jobs", 7.0, &[], None);
            sink.emit_counter("jobs", 1, &[]);
            sink.emit_counter("jobs_total", 1, &[]);
        },
        &Expect {
            samples: &[("jobs", "7")],
            absent: &["jobs_total"],
            normalized: 0,
            dropped: &[(DropReason::NameConflict, 2)],
        },
    );
    check(
        "names colliding with histogram samples",
        |sink| {
            sink.emit_histogram("queue_wait_seconds", 0.2, &[]);
            sink.emit("queue_wait_seconds_count", 1.0, &[], None);
            sink.emit_counter("queue_wait_seconds_bucket", 1, &[]);
            sink.emit("queue_wait_seconds_sum", 1.0, &[], None);
        },
        &Expect {
            samples: &[("queue_wait_seconds_count", "1")],
            absent: &[
                "queue_wait_seconds_bucket_total",
                "# TYPE queue_wait_seconds_count",
            ],
            normalized: 0,
            dropped: &[(DropReason::NameConflict, 3)],
        },
    );
    check(
        "the name the sink gives meaning to keeps its kind",
        |sink| {
            sink.emit(DROPPED_METRIC, 1.0, &[], None);
            sink.emit_histogram(DROPPED_METRIC, 1.0, &[]);
        },
        &Expect {
            samples: &[],
            absent: &[
                "health_sinks_dropped_total 1",
                "health_sinks_dropped_total_bucket",
            ],
            normalized: 0,
            dropped: &[(DropReason::NameConflict, 2)],
        },
    );
    check(
        "normalization collisions inside one tag set",
        |sink| {
            sink.emit(
                "pair",
                1.0,
                &[("check-name", "a"), ("check_name", "b")],
                None,
            );
            sink.emit("pair", 2.0, &[("k", "a"), ("k", "b")], None);
            sink.emit("pair", 3.0, &[("k", "a"), ("k", "a")], None);
        },
        &Expect {
            samples: &[],
            absent: &["pair{"],
            normalized: 0,
            dropped: &[(DropReason::DuplicateTagKey, 3)],
        },
    );
    check(
        "a `le` tag on a histogram",
        |sink| {
            sink.emit_histogram("sized_seconds", 0.1, &[("le", "1")]);
            sink.emit_histogram("sized_seconds", 0.1, &[("tier", "1")]);
        },
        &Expect {
            samples: &[(r#"sized_seconds_count{tier="1"}"#, "1")],
            absent: &[r#"le="1","#],
            normalized: 0,
            dropped: &[(DropReason::ReservedTagKey, 1)],
        },
    );
    check(
        "non-finite values",
        |sink| {
            sink.emit("finite", 1.0, &[], None);
            sink.emit("finite", f64::NAN, &[], None);
            sink.emit("finite", f64::INFINITY, &[], None);
            sink.emit_histogram("finite_seconds", f64::NEG_INFINITY, &[]);
            sink.emit_histogram("finite_seconds", 0.5, &[]);
        },
        &Expect {
            samples: &[("finite", "1"), ("finite_seconds_sum", "0.5")],
            absent: &["NaN", "inf"],
            normalized: 0,
            dropped: &[(DropReason::NonFiniteValue, 3)],
        },
    );
    check(
        "extreme finite values",
        |sink| {
            sink.emit("tiny", 1e-300, &[], None);
            sink.emit("huge", -1.7e308, &[], None);
            sink.emit_counter("max", u64::MAX, &[]);
        },
        &Expect {
            samples: &[("max_total", "18446744073709551615")],
            absent: &[],
            normalized: 0,
            dropped: &[],
        },
    );
}

#[test]
fn label_values_round_trip_exactly() {
    // The exporter's escaper merges some backslash sequences; the sink compensates.
    let values = [
        r"\",
        r"\\",
        r"\\\",
        r#"\""#,
        "\\\n",
        r"a\nb",
        "a\nb",
        r"trailing\",
        "quote\"",
    ];
    let sink = PrometheusMetricsSink::new();
    for (i, value) in values.iter().enumerate() {
        sink.emit("escaped", i as f64, &[("v", value)], None);
    }
    let text = render_checked(&sink, Promtool::LintClean);
    let rendered = samples(&text);
    for (i, value) in values.iter().enumerate() {
        let escaped = value
            .replace('\\', r"\\")
            .replace('"', r#"\""#)
            .replace('\n', r"\n");
        let series = format!(r#"escaped{{v="{escaped}"}}"#);
        assert_eq!(
            rendered.get(&series),
            Some(&i.to_string()),
            "{value:?}\n{text}"
        );
    }
}

#[test]
fn normalizations_and_drops_are_logged_once_per_name() {
    let sink = PrometheusMetricsSink::new();
    let events = crate::support::capture_events(tracing::Level::WARN, || {
        for _ in 0..3 {
            sink.emit("db-pool", 1.0, &[], None);
            sink.emit("", 1.0, &[], None);
            sink.emit_counter("db-pool", 1, &[]);
        }
    });
    let messages: Vec<&str> = events.iter().map(|event| event.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(
        messages[0].contains(r#""db-pool" is exported with its name as "db_pool""#),
        "{messages:#?}"
    );
    assert!(
        messages[1].contains("the metric name is empty"),
        "{messages:#?}"
    );
    assert!(
        messages[2].contains(
            r#"counter "db_pool_total" clashes with the name "db_pool" of the gauge "db_pool""#
        ),
        "{messages:#?}"
    );
    assert_eq!(events[2].fields["reason"], "name_conflict");
    let stats = sink.stats();
    assert_eq!(stats.normalized(), 3);
    assert_eq!(stats.dropped(DropReason::EmptyName), 3);
    assert_eq!(stats.dropped(DropReason::NameConflict), 3);
}

#[test]
fn warnings_are_logged_outside_the_sinks_lock() {
    // A service counting its log warnings as metrics, into this very sink.
    let sink = PrometheusMetricsSink::new();
    let emitter = sink.clone();
    crate::support::run_with_warnings_counted_into(Arc::new(sink.clone()), move || {
        emitter.emit("db-pool", 1.0, &[], None); // normalized: warns
        emitter.emit("", 1.0, &[], None); // dropped: warns
        emitter.emit_counter("db-pool", 1, &[]); // name conflict: warns
    });
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(sample(&text, "log_warnings_total"), "3");
    assert_eq!(sample(&text, "db_pool"), "1");
}

#[test]
fn builder_configures_buckets_help_and_limits() {
    let sink = PrometheusMetricsSink::builder()
        .buckets(&[0.1, 1.0])
        .buckets_for("db-query seconds", &[0.001, 0.01])
        .describe("requests", "Requests served, by route")
        .describe("db-query seconds", "Query time\nin seconds, C:\\ included")
        .build()
        .unwrap();
    sink.emit_histogram("other_seconds", 0.5, &[]);
    sink.emit_histogram("db-query seconds", 0.005, &[]);
    sink.emit_counter("requests", 1, &[]);
    let text = render_checked(&sink, Promtool::LintClean);
    let buckets: Vec<_> = samples(&text)
        .into_iter()
        .filter(|(series, _)| series.starts_with("other_seconds_bucket"))
        .collect();
    assert_eq!(buckets.len(), 3, "{text}");
    assert_eq!(sample(&text, r#"other_seconds_bucket{le="1"}"#), "1");
    assert_eq!(sample(&text, r#"db_query_seconds_bucket{le="0.01"}"#), "1");
    assert_eq!(sample(&text, r#"db_query_seconds_bucket{le="0.001"}"#), "0");
    let helps = helps(&text);
    assert_eq!(helps["requests_total"], "Requests served, by route");
    assert_eq!(
        helps["db_query_seconds"],
        r"Query time\nin seconds, C:\\ included"
    );
}

#[test]
fn builder_rejects_invalid_settings() {
    fn check(builder: PrometheusSinkBuilder, expected: &str) {
        let error: SinkError = builder.build().unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    let base = PrometheusMetricsSink::builder;
    check(
        base().buckets(&[]),
        "invalid histogram buckets []: at least one bound is needed",
    );
    check(
        base().buckets(&[1.0, f64::INFINITY]),
        "invalid histogram buckets [1.0, inf]: bounds must be finite (+Inf is always added)",
    );
    check(
        base().buckets_for("x", &[2.0, 1.0]),
        "invalid histogram buckets [2.0, 1.0]: bounds must be strictly increasing",
    );
    check(
        base().buckets_for("", &[1.0]),
        "invalid metric name \"\": a metric name cannot be empty",
    );
    check(
        base().describe("", "help"),
        "invalid metric name \"\": a metric name cannot be empty",
    );
    check(
        base().max_series(0),
        "invalid setting max_series: must be at least 1",
    );
}

#[test]
fn series_beyond_the_limit_are_dropped_and_counted() {
    let sink = PrometheusMetricsSink::builder()
        .max_series(3)
        .build()
        .unwrap();
    for user in ["a", "b", "c", "d", "e"] {
        sink.emit_counter("logins", 1, &[("user", user)]);
    }
    sink.emit_counter("logins", 1, &[("user", "a")]); // a remembered series still works
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(sample(&text, r#"logins_total{user="a"}"#), "2");
    assert_eq!(sample(&text, r#"logins_total{user="c"}"#), "1");
    assert!(!text.contains(r#"user="d""#), "{text}");
    assert_eq!(sink.stats().dropped(DropReason::SeriesLimit), 2);
    assert_eq!(
        sample(
            &text,
            r#"health_sinks_dropped_total{reason="series_limit"}"#
        ),
        "2"
    );
}

#[test]
fn concurrent_emitters_render_consistent_totals() {
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 5_000;
    let sink = PrometheusMetricsSink::new();
    let renders = thread::scope(|scope| {
        let renderer = scope.spawn(|| (0..20).map(|_| sink.render()).collect::<Vec<_>>());
        for thread in 0..THREADS {
            let sink = &sink;
            scope.spawn(move || {
                // Half the threads pass the tags in the other order.
                let tags = if thread % 2 == 0 {
                    [("route", "/"), ("method", "GET")]
                } else {
                    [("method", "GET"), ("route", "/")]
                };
                let own = thread.to_string();
                for i in 0..PER_THREAD {
                    sink.emit_counter("requests", 1, &tags);
                    sink.emit_histogram("request_seconds", 0.02, &tags);
                    sink.emit("in_flight", i as f64, &[("thread", &own)], None);
                    emit_check(sink, &format!("check-{}", i % 4), 1.0, Duration::ZERO);
                }
            });
        }
        renderer.join().unwrap()
    });
    for text in &renders {
        types(text);
    }
    let total = (THREADS as u64 * PER_THREAD).to_string();
    let text = render_checked(&sink, Promtool::LintClean);
    assert_eq!(
        sample(&text, r#"requests_total{method="GET",route="/"}"#),
        total
    );
    assert_eq!(
        sample(&text, r#"request_seconds_count{method="GET",route="/"}"#),
        total
    );
    assert_eq!(
        sample(
            &text,
            r#"request_seconds_bucket{method="GET",route="/",le="0.025"}"#
        ),
        total
    );
    for thread in 0..THREADS {
        assert_eq!(
            sample(&text, &format!(r#"in_flight{{thread="{thread}"}}"#)),
            (PER_THREAD - 1).to_string()
        );
    }
    let checks: u64 = (0..4)
        .map(|i| {
            sample(
                &text,
                &format!(r#"health_check_latency_seconds_count{{check="check-{i}"}}"#),
            )
            .parse::<u64>()
            .unwrap()
        })
        .sum();
    assert_eq!(checks.to_string(), total);
    assert_eq!(sink.stats().dropped_total(), 0);
}

/// One arbitrary emission: kind, name, tags and value.
fn emission() -> impl Strategy<Value = (u8, String, Vec<(String, String)>, f64)> {
    (
        0..3_u8,
        // Names and keys mix valid characters with the ones that break exposition.
        "[a-z_:.\\- 0-9é]{0,12}",
        proptest::collection::vec(("[a-z_\\-0-9]{0,6}", "\\PC{0,8}|[\\\\\"\n]{0,4}"), 0..4),
        proptest::num::f64::ANY,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn any_emissions_render_an_exposition_promtool_parses(
        emissions in proptest::collection::vec(emission(), 1..40),
    ) {
        let sink = PrometheusMetricsSink::new();
        for (kind, name, tags, value) in &emissions {
            let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            match kind {
                0 => sink.emit(name, *value, &tags, None),
                1 => sink.emit_counter(name, value.abs() as u64, &tags),
                _ => sink.emit_histogram(name, *value, &tags),
            }
        }
        // Arbitrary names may be lint findings (`_count` on a gauge, `le` on a gauge),
        // never parse errors.
        render_checked(&sink, Promtool::Parses);
    }
}
