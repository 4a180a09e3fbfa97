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
