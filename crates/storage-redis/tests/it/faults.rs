//! Fault behaviour against a private server the tests kill, restart and freeze.

use std::time::{Duration, Instant};

use serde_json::json;
use storage::{Storage, StorageError};
use storage_redis::testing::RedisServer;
use storage_redis::{RedisAdapter, RedisConfig};

/// Polls `get` until it succeeds or `limit` passes; returns how long it took.
async fn time_until_serving(adapter: &RedisAdapter, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if adapter.set("probe", json!(1), None).await.is_ok() && adapter.get("probe").await.is_ok()
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_server_is_used_again_without_reconnecting() {
    let Some(mut server) = RedisServer::start_or_skip("killed_and_restarted") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(500);
    config.max_retries = 1;
    config.retry_delay = Duration::from_millis(20);
    config.max_retry_delay = Duration::from_millis(40);
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter.set("k", json!("before"), None).await.unwrap();

    server.kill();
    let started = Instant::now();
    let error = adapter.get("k").await.unwrap_err();
    assert!(
        error.is_transient(),
        "a dead server is a transient failure: {error:?}"
    );
    assert!(
        matches!(
            error,
            StorageError::Connection { .. } | StorageError::Timeout { .. }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() <= adapter.config().worst_case_latency());
    assert!(!adapter.health_check().await, "a dead server is unhealthy");

    server.restart().unwrap();
    let recovered = time_until_serving(&adapter, Duration::from_secs(5)).await;
    assert!(
        recovered.is_some(),
        "the same adapter must serve again after the restart"
    );
    assert!(adapter.health_check().await);
    // No persistence: the restarted server is empty, and the adapter says so honestly.
    assert_eq!(adapter.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_gives_a_timeout_within_the_configured_bound() {
    let Some(server) = RedisServer::start_or_skip("frozen_server") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(300);
    config.max_retries = 2;
    config.retry_delay = Duration::from_millis(20);
    config.max_retry_delay = Duration::from_millis(100);
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter.set("k", json!("v"), None).await.unwrap();

    server.pause().unwrap();
    let bound = adapter.config().worst_case_latency();
    for operation in ["get", "increment", "keys"] {
        let started = Instant::now();
        let error = match operation {
            "get" => adapter.get("k").await.map(drop),
            "increment" => adapter.increment("n", 1).await.map(drop),
            _ => adapter.keys("*").await.map(drop),
        }
        .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(error, StorageError::Timeout { .. }),
            "{operation}: {error:?}"
        );
        // Scheduling slack on a loaded 2-core machine.
        assert!(
            elapsed <= bound + Duration::from_millis(250),
            "{operation} took {elapsed:?}, bound {bound:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(300),
            "{operation} gave up before one timeout: {elapsed:?}"
        );
    }
    assert!(
        !adapter.health_check().await,
        "a frozen server is unhealthy"
    );

    server.resume().unwrap();
    let recovered = time_until_serving(&adapter, Duration::from_secs(5)).await;
    assert!(
        recovered.is_some(),
        "the same adapter must serve again after the server thaws"
    );
    assert_eq!(adapter.get("k").await.unwrap(), Some(json!("v")));
}

/// A probe that only calls `health_check` (as a health monitor does while the service is
/// idle) must see the restarted server: the dead connection has to be replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_alone_sees_a_restarted_server() {
    let Some(mut server) = RedisServer::start_or_skip("health_check_alone") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(500);
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    assert!(adapter.health_check().await);

    server.restart().unwrap();
    let started = Instant::now();
    let mut healthy = false;
    while !healthy && started.elapsed() < Duration::from_secs(5) {
        healthy = adapter.health_check().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(healthy, "health_check must recover without other traffic");
}

/// A `connect` that fails, on a fresh adapter (start-up while the server is down) or on a
/// connected one (calling it again is harmless), must not leave the adapter dead: once the
/// server answers, operations succeed without another `connect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_leaves_the_adapter_able_to_recover() {
    let Some(mut server) = RedisServer::start_or_skip("failed_connect_recovers") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(300);
    config.max_retries = 1;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(20);
    let connected = RedisAdapter::from_config(config.clone()).unwrap();
    connected.connect().await.unwrap();
    let fresh = RedisAdapter::from_config(config).unwrap();

    server.kill();
    for adapter in [&connected, &fresh] {
        let error = adapter.connect().await.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
    }
    server.restart().unwrap();
    for (name, adapter) in [("connected", &connected), ("fresh", &fresh)] {
        let recovered = time_until_serving(adapter, Duration::from_secs(5)).await;
        assert!(recovered.is_some(), "{name} adapter must serve again");
    }
}

/// `close` while another task is checking a connection out of the pool: the checkout must
/// not install its connection after `close`, or the closed adapter keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_during_a_checkout_stays_closed() {
    let Some(server) = RedisServer::start_or_skip("close_during_a_checkout") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(600);
    config.max_retries = 0;
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter.set("k", json!(1), None).await.unwrap();

    // Two timeouts in a row make the adapter hand its connection back to the pool; the
    // next operation checks it out again, and the pool's recycling PING hangs while the
    // server is frozen.
    server.pause().unwrap();
    for _ in 0..2 {
        let error = adapter.get("k").await.unwrap_err();
        assert!(matches!(error, StorageError::Timeout { .. }), "{error:?}");
    }
    let checkout = tokio::spawn({
        let adapter = adapter.clone();
        async move { adapter.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let close = tokio::spawn({
        let adapter = adapter.clone();
        async move { adapter.close().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.resume().unwrap();
    let _ = checkout.await.unwrap();
    close.await.unwrap().unwrap();

    let after = adapter.get("k").await;
    assert!(
        matches!(after, Err(StorageError::NotConnected { .. })),
        "a closed adapter must not serve: {after:?}"
    );
    assert!(!adapter.health_check().await);
}

/// An `increment` that timed out may have reached the server, so it is not retried: the
/// frozen server runs it once when it thaws, and the counter shows exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_that_may_have_run_is_not_retried() {
    let Some(server) = RedisServer::start_or_skip("increment_not_retried") else {
        return;
    };
    let mut config = RedisConfig::new(server.url());
    config.timeout = Duration::from_millis(300);
    config.max_retries = 3;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(20);
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();

    server.pause().unwrap();
    let started = Instant::now();
    let error = adapter.increment("n", 1).await.unwrap_err();
    let elapsed = started.elapsed();
    server.resume().unwrap();
    assert!(matches!(error, StorageError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "one attempt only, took {elapsed:?}"
    );
    assert!(
        time_until_serving(&adapter, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert_eq!(adapter.get("n").await.unwrap(), Some(json!(1)));
}
