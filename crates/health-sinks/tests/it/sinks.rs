//! The trait as the health monitor uses it: every sink behind `dyn MetricsSink`,
//! forwarding through pointers, and fan-out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use health_sinks::{MetricsSink, NoOpMetricsSink, Tag};
use parking_lot::Mutex;

use crate::support::emit_check;

/// A sink recording calls as text, to check that pointers and fan-out forward every
/// method.
#[derive(Debug, Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock())
    }
}

impl MetricsSink for Recording {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
        let call = format!("gauge {name} {value} {tags:?} {}", timestamp.is_some());
        self.calls.lock().push(call);
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        self.calls
            .lock()
            .push(format!("counter {name} {value} {tags:?}"));
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        self.calls
            .lock()
            .push(format!("histogram {name} {value} {tags:?}"));
    }
}

fn emit_all(sink: &dyn MetricsSink) {
    sink.emit("g", 1.0, &[("k", "v")], Some(SystemTime::now()));
    sink.emit_counter("c", 2, &[]);
    sink.emit_histogram("h_seconds", 0.5, &[]);
    emit_check(sink, "redis", 1.0, Duration::from_millis(5));
}

#[test]
fn pointers_forward_every_method() {
    let recording = Arc::new(Recording::default());
    let expected = [
        "gauge g 1 [(\"k\", \"v\")] true",
        "counter c 2 []",
        "histogram h_seconds 0.5 []",
        "gauge health_check_status 1 [(\"check\", \"redis\")] false",
        "histogram health_check_latency_seconds 0.005 [(\"check\", \"redis\")]",
    ];
    let as_arc: Arc<dyn MetricsSink> = recording.clone();
    emit_all(&as_arc);
    assert_eq!(recording.take(), expected);
    let as_ref: &dyn MetricsSink = &&*recording;
    emit_all(as_ref);
    assert_eq!(recording.take(), expected);
    let boxed: Box<dyn MetricsSink> = Box::new(Arc::clone(&recording));
    emit_all(&boxed);
    assert_eq!(recording.take(), expected);
}

#[cfg(all(feature = "prometheus", feature = "dogstatsd"))]
#[test]
fn fanout_reaches_every_sink_in_order() {
    // Original: test_metrics_sink_interface_methods, for every sink at once.
    use std::net::UdpSocket;

    use health_sinks::{
        DogStatsdMetricsSink, FanoutMetricsSink, LoggingMetricsSink, PrometheusMetricsSink,
    };

    use crate::support::{Promtool, assert_promtool, sample};

    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let prometheus = PrometheusMetricsSink::new();
    let recording = Arc::new(Recording::default());
    let fanout = FanoutMetricsSink::new([recording.clone() as Arc<dyn MetricsSink>])
        .with(NoOpMetricsSink::new())
        .with(LoggingMetricsSink::default())
        .with(prometheus.clone())
        .with(DogStatsdMetricsSink::new(&agent.local_addr().unwrap().to_string()).unwrap());
    assert_eq!(fanout.sinks().len(), 5);
    let sink: Arc<dyn MetricsSink> = Arc::new(fanout);
    emit_all(&sink);

    // Every sink got every emission, the recording one included.
    assert_eq!(
        recording.take().last().unwrap(),
        "histogram health_check_latency_seconds 0.005 [(\"check\", \"redis\")]"
    );

    let text = prometheus.render();
    assert_promtool(&text, Promtool::LintClean);
    assert_eq!(sample(&text, r#"g{k="v"}"#), "1");
    assert_eq!(sample(&text, "c_total"), "2");
    assert_eq!(sample(&text, "h_seconds_count"), "1");
    assert_eq!(sample(&text, r#"health_check_status{check="redis"}"#), "1");

    let mut datagrams = Vec::new();
    let mut buffer = [0_u8; 1024];
    for _ in 0..5 {
        let len = agent.recv(&mut buffer).unwrap();
        datagrams.push(String::from_utf8(buffer[..len].to_vec()).unwrap());
    }
    assert_eq!(
        datagrams[1..],
        [
            "c:2|c",
            "h_seconds:0.5|h",
            "health_check_status:1|g|#check:redis",
            "health_check_latency_seconds:0.005|h|#check:redis",
        ]
    );
    assert!(datagrams[0].starts_with("g:1|g|#k:v|T"), "{}", datagrams[0]);
}

#[cfg(feature = "prometheus")]
#[test]
fn a_sink_dropping_a_metric_does_not_stop_the_others() {
    use health_sinks::{FanoutMetricsSink, PrometheusMetricsSink};

    use crate::support::sample;

    let prometheus = PrometheusMetricsSink::new();
    let recording = Arc::new(Recording::default());
    let fanout = FanoutMetricsSink::default()
        .with(prometheus.clone())
        .with(Arc::clone(&recording));
    fanout.emit("", f64::NAN, &[], None);
    fanout.emit_counter("db-pool", 1, &[]);
    assert_eq!(
        recording.take(),
        ["gauge  NaN [] false", "counter db-pool 1 []"]
    );
    assert_eq!(prometheus.stats().dropped_total(), 1);
    assert_eq!(sample(&prometheus.render(), "db_pool_total"), "1");
}

#[test]
fn the_no_op_sink_is_free_to_hold() {
    // Original: the four test_noop_sink_* tests asserted only "does not raise"; what can
    // break is that the default sink stops being zero-sized and copyable.
    assert_eq!(size_of::<NoOpMetricsSink>(), 0);
    let sink = NoOpMetricsSink;
    let copy = sink;
    emit_all(&sink);
    emit_all(&copy);
    assert_eq!(format!("{sink:?}"), "NoOpMetricsSink");
}
