//! Errors are typed, classified and never leak the password; values written by other
//! clients are read sensibly; key prefixes isolate users of one database.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::json;
use storage::{Storage, StorageError};
use storage_redis::testing::RedisServer;
use storage_redis::{RedisAdapter, RedisConfig};

fn quick(url: String) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_millis(500);
    config.max_retries = 2;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(20);
    config
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn operations_before_connect_and_after_close_are_not_connected() {
    let Some(server) = RedisServer::start_or_skip("operations_before_connect") else {
        return;
    };
    let adapter = RedisAdapter::from_config(quick(server.url())).unwrap();
    assert!(!adapter.health_check().await);
    let error = adapter.get("k").await.unwrap_err();
    assert!(
        matches!(error, StorageError::NotConnected { backend: "redis" }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    adapter.connect().await.unwrap();
    assert!(adapter.health_check().await);
    adapter.set("k", json!(1), None).await.unwrap();
    adapter.close().await.unwrap();
    assert!(!adapter.health_check().await);
    assert!(matches!(
        adapter.get("k").await,
        Err(StorageError::NotConnected { .. })
    ));
}

#[tokio::test]
async fn unreachable_server_is_a_connection_error_naming_the_url_without_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let adapter =
        RedisAdapter::from_config(quick(format!("redis://app:hunter2@127.0.0.1:{port}/0")))
            .unwrap();
    let started = Instant::now();
    let error = adapter.connect().await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StorageError::Connection { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        !message.contains("hunter2") && !format!("{error:?}").contains("hunter2"),
        "{message}"
    );
    assert!(
        started.elapsed() < adapter.config().worst_case_latency(),
        "refusal must fail fast"
    );
    assert!(!adapter.health_check().await);
}

#[tokio::test]
async fn values_written_by_other_clients() {
    let Some(server) = RedisServer::start_or_skip("values_written_by_other_clients") else {
        return;
    };
    let mut raw = raw(&server).await;
    let _: () = raw.set("plain", "hello world").await.unwrap();
    let _: () = raw.set("bytes", vec![0xffu8, 0xfe]).await.unwrap();
    let _: () = raw.set("number", "5").await.unwrap();
    let _: () = raw.rpush("list", "x").await.unwrap();
    let adapter = RedisAdapter::from_config(quick(server.url())).unwrap();
    adapter.connect().await.unwrap();

    assert_eq!(
        adapter.get("plain").await.unwrap(),
        Some(json!("hello world"))
    );
    assert!(matches!(
        adapter.get("bytes").await,
        Err(StorageError::Serialization { .. })
    ));
    assert_eq!(adapter.get("number").await.unwrap(), Some(json!(5)));
    assert_eq!(adapter.increment("number", 2).await.unwrap(), 7);

    let error = adapter.get("list").await.unwrap_err();
    assert!(matches!(error, StorageError::WrongType { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert!(matches!(
        adapter.increment("list", 1).await,
        Err(StorageError::WrongType { .. })
    ));
    // Our own strings stay strings: no "123" -> 123 corruption.
    adapter.set("s", json!("123"), None).await.unwrap();
    assert_eq!(adapter.get("s").await.unwrap(), Some(json!("123")));
    let stored: String = raw.get("s").await.unwrap();
    assert_eq!(stored, "\"123\"", "values are stored as JSON");
}

#[tokio::test]
async fn key_prefixes_isolate_users_of_one_database() {
    let Some(server) = RedisServer::start_or_skip("key_prefixes_isolate") else {
        return;
    };
    let adapter = |prefix: &str| {
        let mut config = quick(server.url());
        config.key_prefix = prefix.into();
        RedisAdapter::from_config(config).unwrap()
    };
    let (a, b) = (adapter("app[a]:*"), adapter("app[b]:?"));
    a.connect().await.unwrap();
    b.connect().await.unwrap();
    a.set("user:1", json!("a"), None).await.unwrap();
    b.set("user:1", json!("b"), None).await.unwrap();
    b.set("user:2", json!("b"), None).await.unwrap();
    assert_eq!(a.keys("*").await.unwrap(), vec!["user:1"]);
    assert_eq!(b.keys("user:*").await.unwrap(), vec!["user:1", "user:2"]);
    assert_eq!(a.get("user:1").await.unwrap(), Some(json!("a")));
    let mut raw = raw(&server).await;
    let mut all: Vec<String> = raw.keys("*").await.unwrap();
    all.sort();
    assert_eq!(
        all,
        vec!["app[a]:*user:1", "app[b]:?user:1", "app[b]:?user:2"]
    );
}
