//! Cost of one emission into each exporting sink, with two tags, on an already seen series
//! (the steady state of a health monitor: the same checks, run after run).
//!
//! Ids: `health-sinks/prometheus/{gauge,counter,histogram,health-check}` (`health-check`:
//! the gauge and the histogram the `health` crate emits per check run),
//! `health-sinks/prometheus/gauge-new-series` (first emission of a series: validation and
//! registration), `health-sinks/prometheus/render-100` (render 100 series),
//! `health-sinks/dogstatsd/{gauge,gauge-buffered}` (to a loopback socket).
//!
//! Target: a Prometheus emission on a seen series under 1 µs.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::hint::black_box;
use std::net::UdpSocket;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use health_sinks::{DogStatsdMetricsSink, MetricsSink, PrometheusMetricsSink};

const TAGS: [(&str, &str); 2] = [("check", "redis"), ("env", "prod")];

/// What `health` emits per check run: a status gauge and a latency histogram, tagged
/// with the check's name.
fn emit_check(sink: &dyn MetricsSink, check: &str, latency: Duration) {
    let tags = [("check", check)];
    sink.emit("health_check_status", 1.0, &tags, None);
    sink.emit_histogram("health_check_latency_seconds", latency.as_secs_f64(), &tags);
}

fn prometheus(c: &mut Criterion) {
    let mut group = c.benchmark_group("health-sinks/prometheus");
    let sink = PrometheusMetricsSink::new();
    sink.emit("bench_gauge", 0.0, &TAGS, None);
    sink.emit_counter("bench_requests", 0, &TAGS);
    sink.emit_histogram("bench_latency_seconds", 0.0, &TAGS);

    let mut value = 0.0_f64;
    group.bench_function("gauge", |b| {
        b.iter(|| {
            value += 1.0;
            sink.emit(
                black_box("bench_gauge"),
                black_box(value),
                black_box(&TAGS),
                None,
            );
        });
    });
    group.bench_function("counter", |b| {
        b.iter(|| sink.emit_counter(black_box("bench_requests"), black_box(1), black_box(&TAGS)));
    });
    group.bench_function("histogram", |b| {
        b.iter(|| {
            sink.emit_histogram(
                black_box("bench_latency_seconds"),
                black_box(0.012),
                black_box(&TAGS),
            );
        });
    });
    group.bench_function("health-check", |b| {
        b.iter(|| {
            emit_check(
                &sink,
                black_box("redis"),
                black_box(Duration::from_millis(3)),
            );
        });
    });

    // A fresh sink per batch, so every measured emission creates its series.
    let names: Vec<String> = (0..1000).map(|i| format!("bench_new_{i}")).collect();
    group.bench_function("gauge-new-series", |b| {
        b.iter_batched_ref(
            PrometheusMetricsSink::new,
            |sink| {
                for name in &names {
                    sink.emit(name, 1.0, &TAGS, None);
                }
            },
            criterion::BatchSize::LargeInput,
        );
    });

    let rendered = PrometheusMetricsSink::new();
    for i in 0..100 {
        let check = format!("check-{i}");
        emit_check(&rendered, &check, Duration::from_millis(i));
    }
    group.bench_function("render-100", |b| b.iter(|| black_box(rendered.render())));
    group.finish();
}

fn dogstatsd(c: &mut Criterion) {
    let mut group = c.benchmark_group("health-sinks/dogstatsd");
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = agent.local_addr().unwrap().to_string();
    // Nobody reads `agent`: once its receive buffer is full the kernel discards datagrams,
    // which costs the sender the same as delivering them.
    let unbuffered = DogStatsdMetricsSink::new(&address).unwrap();
    let now = SystemTime::now();
    group.bench_function("gauge", |b| {
        b.iter(|| unbuffered.emit(black_box("bench.gauge"), black_box(1.0), &TAGS, Some(now)));
    });
    let buffered = DogStatsdMetricsSink::builder()
        .address(&address)
        .max_datagram_size(8192)
        .buffered(Duration::from_millis(100))
        .build()
        .unwrap();
    group.bench_function("gauge-buffered", |b| {
        b.iter(|| buffered.emit(black_box("bench.gauge"), black_box(1.0), &TAGS, Some(now)));
    });
    group.finish();
}

criterion_group!(benches, prometheus, dogstatsd);
criterion_main!(benches);
