//! `DogStatsdMetricsSink` against a fake Agent: a UDP socket on 127.0.0.1, datagrams
//! checked byte for byte.

use std::net::UdpSocket;
use std::time::{Duration, Instant, UNIX_EPOCH};

use health_sinks::{DogStatsdMetricsSink, DropReason, MetricsSink, SinkError};

use crate::support::emit_check;

/// A fake Agent listening on an ephemeral loopback port.
struct Agent {
    socket: UdpSocket,
}

impl Agent {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self { socket }
    }

    fn address(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    /// The next datagram, waiting up to 5 s.
    fn recv(&self) -> String {
        let mut buffer = [0_u8; 65_536];
        let len = self
            .socket
            .recv(&mut buffer)
            .expect("a datagram within 5 s");
        String::from_utf8(buffer[..len].to_vec()).unwrap()
    }

    /// Asserts the next datagrams are exactly `expected`, in order.
    #[track_caller]
    fn expect(&self, expected: &[&str]) {
        let received: Vec<String> = expected.iter().map(|_| self.recv()).collect();
        assert_eq!(received, expected);
    }

    /// Asserts nothing arrives for `wait`.
    #[track_caller]
    fn expect_silence(&self, wait: Duration) {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buffer = [0_u8; 65_536];
        let received = self.socket.recv(&mut buffer);
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(
            received.is_err(),
            "unexpected datagram {:?}",
            String::from_utf8_lossy(&buffer[..received.unwrap()])
        );
    }
}

#[test]
fn each_kind_is_sent_in_the_datagram_format() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::new(&agent.address()).unwrap();
    assert_eq!(sink.target().to_string(), agent.address());
    let at = UNIX_EPOCH + Duration::from_millis(1_767_268_800_500);

    sink.emit("test_metric", 42.0, &[], None);
    sink.emit(
        "tagged_metric",
        1.5,
        &[("host", "server1"), ("env", "prod")],
        None,
    );
    sink.emit("observed", -0.25, &[("check", "redis")], Some(at));
    sink.emit_counter("requests_total", 1, &[]);
    sink.emit_counter("requests_total", 5, &[("route", "/health")]);
    sink.emit_histogram("latency_seconds", 0.1505, &[("route", "/")]);
    agent.expect(&[
        "test_metric:42|g",
        "tagged_metric:1.5|g|#env:prod,host:server1",
        "observed:-0.25|g|#check:redis|T1767268800",
        "requests_total:1|c",
        "requests_total:5|c|#route:/health",
        "latency_seconds:0.1505|h|#route:/",
    ]);
    assert_eq!(sink.stats().dropped_total(), 0);
}

#[test]
fn tagged_gauges_and_latency_histograms_keep_values_and_tag_values_intact() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::new(&agent.address()).unwrap();
    emit_check(&sink, "redis", 1.0, Duration::from_millis(12));
    emit_check(&sink, "db primary", 0.5, Duration::from_micros(1500));
    emit_check(&sink, "queue", 0.0, Duration::ZERO);
    emit_check(&sink, "disk", -1.0, Duration::from_secs(2));
    agent.expect(&[
        "health_check_status:1|g|#check:redis",
        "health_check_latency_seconds:0.012|h|#check:redis",
        "health_check_status:0.5|g|#check:db primary",
        "health_check_latency_seconds:0.0015|h|#check:db primary",
        "health_check_status:0|g|#check:queue",
        "health_check_latency_seconds:0|h|#check:queue",
        "health_check_status:-1|g|#check:disk",
        "health_check_latency_seconds:2|h|#check:disk",
    ]);
}

#[test]
fn prefix_and_constant_tags_apply_to_every_metric() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::builder()
        .address(&agent.address())
        .prefix("checkout.v2")
        .constant_tag("env", "prod")
        .constant_tag("service", "checkout")
        .build()
        .unwrap();
    sink.emit_counter("retries", 2, &[("zone", "b"), ("attempt", "3")]);
    sink.emit("up", 1.0, &[], None);
    agent.expect(&[
        "checkout.v2.retries:2|c|#attempt:3,zone:b,env:prod,service:checkout",
        "checkout.v2.up:1|g|#env:prod,service:checkout",
    ]);
}

#[test]
fn tag_order_never_changes_the_datagram() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::new(&agent.address()).unwrap();
    sink.emit_counter("c", 1, &[("b", "2"), ("a", "1"), ("a", "0")]);
    sink.emit_counter("c", 1, &[("a", "1"), ("a", "0"), ("b", "2")]);
    agent.expect(&["c:1|c|#a:0,a:1,b:2", "c:1|c|#a:0,a:1,b:2"]);
}

#[test]
fn separators_in_names_and_tags_are_replaced() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::new(&agent.address()).unwrap();
    sink.emit_counter("db-pool:size|x@y\nz", 1, &[]);
    sink.emit(
        "gauge",
        1.0,
        &[("key:with,sep", "value,with|sep\nand:colon")],
        None,
    );
    sink.emit(
        "caf\u{e9}.visits",
        3.0,
        &[("caf\u{e9}", "cr\u{e8}me")],
        None,
    );
    agent.expect(&[
        "db_pool_size_x_y_z:1|c",
        "gauge:1|g|#key_with_sep:value_with_sep_and:colon",
        "caf_.visits:3|g|#caf\u{e9}:cr\u{e8}me",
    ]);
    assert_eq!(sink.stats().normalized(), 3);
}

#[test]
fn invalid_emissions_are_dropped_and_counted() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::builder()
        .address(&agent.address())
        .max_datagram_size(64)
        .build()
        .unwrap();
    sink.emit("", 1.0, &[], None);
    sink.emit("nan", f64::NAN, &[], None);
    sink.emit_histogram("inf", f64::INFINITY, &[]);
    sink.emit_counter("empty_key", 1, &[("", "v")]);
    sink.emit("long", 1.0, &[("payload", &"x".repeat(64))], None);
    sink.emit("sentinel", 1.0, &[], None);
    // Nothing before the sentinel: every invalid emission was dropped.
    agent.expect(&["sentinel:1|g"]);
    let stats = sink.stats();
    assert_eq!(stats.dropped(DropReason::EmptyName), 1);
    assert_eq!(stats.dropped(DropReason::NonFiniteValue), 2);
    assert_eq!(stats.dropped(DropReason::EmptyTagKey), 1);
    assert_eq!(stats.dropped(DropReason::TooLarge), 1);
    assert_eq!(stats.dropped_total(), 5);
}

#[test]
fn buffered_sinks_pack_lines_up_to_the_datagram_size() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::builder()
        .address(&agent.address())
        .max_datagram_size(64)
        .buffered(Duration::from_secs(3600))
        .build()
        .unwrap();
    // Each line is 20 bytes; three fit in 64 with their two newlines (62), four do not.
    for i in 0..7 {
        sink.emit_counter(&format!("packed.metric.{i:02}"), 1, &[]);
    }
    agent.expect(&[
        "packed.metric.00:1|c\npacked.metric.01:1|c\npacked.metric.02:1|c",
        "packed.metric.03:1|c\npacked.metric.04:1|c\npacked.metric.05:1|c",
    ]);
    agent.expect_silence(Duration::from_millis(100));
    sink.flush();
    agent.expect(&["packed.metric.06:1|c"]);
    sink.flush(); // nothing left: no empty datagram
    agent.expect_silence(Duration::from_millis(100));
}

#[test]
fn buffered_sinks_flush_on_their_interval_and_when_dropped() {
    let agent = Agent::new();
    let sink = DogStatsdMetricsSink::builder()
        .address(&agent.address())
        .buffered(Duration::from_millis(50))
        .build()
        .unwrap();
    let started = Instant::now();
    sink.emit("interval", 1.0, &[], None);
    agent.expect(&["interval:1|g"]);
    assert!(started.elapsed() < Duration::from_secs(2));

    let clone = sink.clone();
    let slow = DogStatsdMetricsSink::builder()
        .address(&agent.address())
        .buffered(Duration::from_secs(3600))
        .build()
        .unwrap();
    slow.emit("on_drop", 2.0, &[], None);
    drop(slow);
    agent.expect(&["on_drop:2|g"]);
    drop(sink);
    clone.emit("clone_alive", 3.0, &[], None); // the flusher outlives the first handle
    agent.expect(&["clone_alive:3|g"]);
}

#[test]
fn sending_without_a_listener_is_counted_not_raised() {
    let port = {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap().port()
    };
    let sink = DogStatsdMetricsSink::new(&format!("127.0.0.1:{port}")).unwrap();
    // Loopback answers with ICMP port unreachable, which Linux reports on the next send.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.stats().dropped(DropReason::SendFailed) == 0 && Instant::now() < deadline {
        sink.emit("nobody_listens", 1.0, &[], None);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sink.stats().dropped(DropReason::SendFailed) >= 1);
}

#[test]
fn send_failures_are_logged_outside_the_buffer_lock() {
    let port = {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap().port()
    };
    let sink = DogStatsdMetricsSink::builder()
        .address(&format!("127.0.0.1:{port}"))
        .buffered(Duration::from_secs(3600))
        .build()
        .unwrap();
    let emitter = sink.clone();
    // A service counting its log warnings as metrics, into this very sink.
    crate::support::run_with_warnings_counted_into(std::sync::Arc::new(sink.clone()), move || {
        let deadline = Instant::now() + Duration::from_secs(4);
        while emitter.stats().dropped(DropReason::SendFailed) == 0 && Instant::now() < deadline {
            emitter.emit("nobody_listens", 1.0, &[], None);
            emitter.flush();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(sink.stats().dropped(DropReason::SendFailed) >= 1);
}

#[test]
fn builder_resolves_names_and_rejects_bad_addresses() {
    let agent = Agent::new();
    let port = agent.socket.local_addr().unwrap().port();
    let sink = DogStatsdMetricsSink::new(&format!("localhost:{port}")).unwrap();
    assert!(
        sink.target().is_ipv4(),
        "IPv4 is preferred: {}",
        sink.target()
    );
    sink.emit("resolved", 1.0, &[], None);
    agent.expect(&["resolved:1|g"]);

    let error = DogStatsdMetricsSink::new("127.0.0.1").unwrap_err();
    assert!(matches!(error, SinkError::InvalidAddress { .. }), "{error}");
    assert!(std::error::Error::source(&error).is_some());
}
