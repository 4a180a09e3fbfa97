//! Graceful shutdown: in-flight requests finish, new connections are refused, and the
//! grace period bounds the wait.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::support::{TestServer, admin_bearer, downstream_service, eventually, request};

/// A downstream service that answers its first two probes (start-up and the refresher's
/// first round) at once and every later one after `delay`.
async fn slow_service(delay: Duration) -> SocketAddr {
    downstream_service(2, delay).await.0
}

fn slow_check(addr: SocketAddr) -> String {
    format!("[[checks.http]]\nname = \"slow\"\nurl = \"http://{addr}/health\"\ntimeout = \"30s\"\n")
}

/// Sends `POST /health/cascade`, which re-runs the (expired) slow check: a request that
/// stays in flight for the service's delay.
async fn slow_request(addr: SocketAddr) -> tokio::task::JoinHandle<u16> {
    // Let the start-up results pass the monitor's 1 s cache TTL.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let bearer = admin_bearer();
    let in_flight = tokio::spawn(async move {
        request(
            addr,
            "POST",
            "/health/cascade",
            &[("authorization", &bearer)],
            None,
        )
        .await
        .map_or(0, |reply| reply.status)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    in_flight
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let slow = slow_service(Duration::from_secs(2)).await;
    let server = TestServer::memory(&slow_check(slow)).await;
    let addr = server.addr;
    let in_flight = slow_request(addr).await;
    assert!(
        !in_flight.is_finished(),
        "the request should still be in flight"
    );

    let stopping = tokio::spawn(server.stop());
    eventually(
        "new connections to be refused",
        Duration::from_secs(2),
        || async { TcpStream::connect(addr).await.is_err() },
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "refused before the in-flight request ended"
    );
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the in-flight request was cut"
    );
    stopping.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_the_wait_for_in_flight_requests() {
    let slow = slow_service(Duration::from_secs(20)).await;
    let config = crate::support::config(&format!(
        "{}\n[server]\nshutdown_grace = \"500ms\"\n",
        slow_check(slow)
    ));
    let server = TestServer::start(config).await;
    let in_flight = slow_request(server.addr).await;
    let started = Instant::now();
    server.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?} for a 20 s request despite a 0.5 s grace",
        started.elapsed()
    );
    in_flight.abort();
}
