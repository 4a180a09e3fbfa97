//! Errors are typed, classified and never leak the password; values written by other
//! clients are read sensibly; key prefixes isolate users of one database.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::json;
use storage::{Storage, StorageError};
use storage_redis::testing::{RedisServer, free_port};
use storage_redis::{RedisAdapter, RedisConfig};

use crate::{chain, raw};

fn quick(url: String) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_millis(500);
    config.max_retries = 2;
    config.retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(20);
    config
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
    let port = free_port().unwrap();
    let adapter =
        RedisAdapter::from_config(quick(format!("redis://app:hunter2@127.0.0.1:{port}/0")))
            .unwrap();
    let started = Instant::now();
    let error = adapter.connect().await.unwrap_err();
    let message = chain(&error);
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
    let error = adapter.get("bytes").await.unwrap_err();
    assert!(
        matches!(error, StorageError::Serialization { .. }),
        "{error:?}"
    );
    assert!(chain(&error).contains("could not be (de)serialized: "));
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

/// A wrong password or database is a configuration error: retrying cannot fix it, so it
/// is reported at once and not as transient (a caller would retry it forever).
#[tokio::test]
async fn refused_credentials_and_databases_are_final_and_not_retried() {
    let Some(server) = RedisServer::start_or_skip("refused_credentials") else {
        return;
    };
    let mut raw = raw(&server).await;
    let port = server.port();
    for (url, secret) in [
        (format!("redis://127.0.0.1:{port}/99"), None),
        (
            format!("redis://:wrong-pass@127.0.0.1:{port}/0"),
            Some("wrong-pass"),
        ),
    ] {
        if secret.is_some() {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("requirepass")
                .arg("right-pass")
                .query_async(&mut raw)
                .await
                .unwrap();
        }
        let mut config = quick(url.clone());
        config.retry_delay = Duration::from_millis(400);
        config.max_retry_delay = Duration::from_millis(400);
        let adapter = RedisAdapter::from_config(config).unwrap();
        let started = Instant::now();
        let error = adapter.connect().await.unwrap_err();
        assert!(!error.is_transient(), "{url}: {error:?}");
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "{url}: retried for {:?}",
            started.elapsed()
        );
        let message = format!("{} {error:?}", chain(&error));
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        // The reason comes from the client's error, the cause of ours.
        let reason = if secret.is_some() {
            "authentication failed"
        } else {
            "db index"
        };
        assert!(message.to_lowercase().contains(reason), "{message}");
        if let Some(secret) = secret {
            assert!(!message.contains(secret), "{message}");
        }
        // The same holds for an operation after the failed connect.
        let error = adapter.get("k").await.unwrap_err();
        assert!(!error.is_transient(), "{url}: get: {error:?}");
    }
}

/// A server that refuses a command for a while without running it (`LOADING` after a
/// restart, `MASTERDOWN` on a replica that lost its master) is a transient failure: it is
/// retried, even for `increment`, and the operation succeeds once the server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_that_mean_try_again_later_are_retried() {
    let Some(server) = RedisServer::start_or_skip("try_again_later") else {
        return;
    };
    let mut raw = raw(&server).await;
    let mut config = quick(server.url());
    config.max_retries = 0;
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter.set("n", json!(1), None).await.unwrap();
    let mut config = quick(server.url());
    config.max_retries = 5;
    config.retry_delay = Duration::from_millis(100);
    config.max_retry_delay = Duration::from_millis(100);
    let patient = RedisAdapter::from_config(config).unwrap();
    patient.connect().await.unwrap();
    // A (writable) replica of a master that does not exist, told not to serve stale data.
    let dead_port = free_port().unwrap();
    for command in [
        vec!["CONFIG", "SET", "replica-serve-stale-data", "no"],
        vec!["CONFIG", "SET", "replica-read-only", "no"],
        vec!["REPLICAOF", "127.0.0.1", &dead_port.to_string()],
    ] {
        let _: () = redis::cmd(command[0])
            .arg(&command[1..])
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    for operation in ["get", "increment"] {
        let error = match operation {
            "get" => adapter.get("n").await.map(drop),
            _ => adapter.increment("n", 1).await.map(drop),
        }
        .unwrap_err();
        assert!(error.is_transient(), "{operation}: {error:?}");
        assert!(chain(&error).contains("MASTER is down"), "{error}");
    }

    let promote = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _: () = redis::cmd("REPLICAOF")
            .arg("NO")
            .arg("ONE")
            .query_async(&mut raw)
            .await
            .unwrap();
    };
    let (incremented, ()) = tokio::join!(patient.increment("n", 1), promote);
    assert_eq!(incremented.unwrap(), 2, "retried until the server served");
}

/// `keys` follows the SCAN cursor over many small pages, and returns each key once.
#[tokio::test]
async fn keys_walks_every_scan_page() {
    let Some(server) = RedisServer::start_or_skip("keys_walks_every_scan_page") else {
        return;
    };
    let mut config = quick(server.url());
    config.scan_count = 7;
    config.key_prefix = "app:".into();
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    let mut raw = raw(&server).await;
    let mut expected = Vec::new();
    for i in 0..250 {
        let key = format!("item:{i:03}");
        adapter.set(&key, json!(i), None).await.unwrap();
        expected.push(key);
        // Keys outside the prefix are scanned past, never returned.
        let _: () = raw.set(format!("other:{i}"), i).await.unwrap();
    }
    assert_eq!(adapter.keys("item:*").await.unwrap(), expected);
    assert_eq!(adapter.keys("item:1?0").await.unwrap().len(), 10);
}
