//! The serve loop against real clients: each way of holding a connection is bounded, the
//! connection cap leaves open connections served, shutdown ends within its grace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use storage::MemoryStorage;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use web::{ResilienceState, Secret, ServeOptions};

use crate::support::{Served, closed_within, exchange, get as get_request, read_response};

const ADMIN: &str = "serve-test-admin-token-0123";

/// How much later than its timeout a close may come on a loaded test machine.
const SLACK: Duration = Duration::from_secs(2);

fn options(header: u64, idle: u64, body: u64) -> ServeOptions {
    let mut options = ServeOptions::default();
    options.header_read_timeout = Duration::from_millis(header);
    options.idle_timeout = Duration::from_millis(idle);
    options.body_read_timeout = Duration::from_millis(body);
    options
}

/// An application with a quick route, a slow one, and the crate's routes.
fn app() -> Router {
    let state = ResilienceState::builder(Arc::new(MemoryStorage::new()))
        .admin_token(Secret::new(ADMIN))
        .build()
        .unwrap();
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .merge(web::router(&state))
}

/// Asserts `took` is the timeout `expected`, give or take the machine.
#[track_caller]
fn assert_around(what: &str, took: Option<Duration>, expected: Duration) {
    let took = took.unwrap_or_else(|| panic!("{what}: still open after {:?}", expected + SLACK));
    assert!(
        took + Duration::from_millis(100) >= expected,
        "{what}: closed after {took:?}, before its timeout {expected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_a_byte_is_closed_after_the_header_read_timeout() {
    let served = Served::start(app(), options(500, 60_000, 60_000)).await;
    let mut silent = TcpStream::connect(served.addr).await.unwrap();
    let took = closed_within(&mut silent, Duration::from_millis(500) + SLACK).await;
    assert_around("silent", took, Duration::from_millis(500));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_byte_by_byte_is_closed_after_the_header_read_timeout() {
    let served = Served::start(app(), options(800, 60_000, 60_000)).await;
    let mut trickler = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    let request = get_request("/hello");
    let closed = async {
        for byte in request.as_bytes().iter().cycle() {
            // A head that never ends: its last line is never sent.
            if trickler.write_all(&[*byte]).await.is_err() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > Duration::from_millis(800) + SLACK {
                return None;
            }
        }
        None
    };
    let took = closed.await;
    assert_around("trickled", took, Duration::from_millis(800));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_before() {
    // The idle timeout is longer than the header-read timeout: idleness is its own
    // setting, not the header timer running between requests.
    let served = Served::start(app(), options(400, 1200, 60_000)).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    for _ in 0..3 {
        let (status, body) = exchange(&mut client, &get_request("/hello")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "hello"));
        // Idle for less than the idle timeout (but more than the header-read one).
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let took = closed_within(&mut client, Duration::from_millis(1200) + SLACK).await;
    assert_around("idle", took, Duration::from_millis(1200 - 700));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_long_is_never_cut_by_the_idle_or_header_timeouts() {
    let served = Served::start(app(), options(300, 300, 60_000)).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    let (status, body) = exchange(&mut client, &get_request("/slow")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "slow"));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let served = Served::start(app(), options(5_000, 60_000, 500)).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    let head = format!(
        "POST /fallback/mode HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"mode\":"
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_millis(500) + SLACK,
        read_response(&mut client),
    )
    .await
    .expect("no answer to a stalled body")
    .expect("closed without an answer");
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("body_timeout"), "{body}");
    assert!(started.elapsed() + Duration::from_millis(100) >= Duration::from_millis(500));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_open_connections_are_still_served_and_new_ones_wait() {
    let mut options = options(10_000, 60_000, 60_000);
    options.max_connections = 2;
    let served = Served::start(app(), options).await;
    let mut probe = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(
        exchange(&mut probe, &get_request("/health/live"))
            .await
            .unwrap()
            .0,
        200
    );
    // The second place goes to a client that sends nothing.
    let silent = TcpStream::connect(served.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A third connection is not accepted: the kernel completes the handshake, nobody
    // answers.
    let mut waiting = TcpStream::connect(served.addr).await.unwrap();
    waiting
        .write_all(get_request("/hello").as_bytes())
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), read_response(&mut waiting))
            .await
            .is_err(),
        "a connection over the cap was served"
    );
    // The probe's keep-alive connection still answers, again and again.
    for _ in 0..3 {
        let (status, body) = exchange(&mut probe, &get_request("/health/live"))
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // A place frees up: the waiting connection is served.
    drop(silent);
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut waiting))
        .await
        .expect("the waiting connection was not served once a place freed")
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_and_ends_within_the_grace_despite_slow_clients() {
    let mut options = options(30_000, 60_000, 60_000);
    options.shutdown_grace = Duration::from_millis(2500);
    let served = Served::start(app(), options).await;
    let addr = served.addr;
    // Slow clients: one silent, one trickling a head, one idle after a request.
    let silent = TcpStream::connect(addr).await.unwrap();
    let mut trickler = TcpStream::connect(addr).await.unwrap();
    trickler
        .write_all(b"GET /hello HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        exchange(&mut idle, &get_request("/hello")).await.unwrap().0,
        200
    );
    // And a request in flight for 1.5 s.
    let in_flight = tokio::spawn(async move {
        let mut client = TcpStream::connect(addr).await.unwrap();
        exchange(&mut client, &get_request("/slow")).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let took = served.stop().await;
    assert!(
        took < Duration::from_millis(2500) + SLACK,
        "shutdown took {took:?} with a 2.5 s grace"
    );
    let (status, body) = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was cut");
    assert_eq!((status, body.as_str()), (200, "slow"));
    // Every slow client was closed.
    for (what, mut stream) in [("silent", silent), ("trickler", trickler), ("idle", idle)] {
        assert!(
            closed_within(&mut stream, Duration::from_secs(1))
                .await
                .is_some(),
            "{what} still open after shutdown"
        );
    }
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
