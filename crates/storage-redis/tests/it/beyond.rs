//! Redis beyond the trait: raw commands, scripts, PUBLISH and subscriptions, under the
//! adapter's timeout, retry and redaction rules.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use storage::{Operation, Storage, StorageError};
use storage_redis::testing::{RedisServer, free_port};
use storage_redis::{Idempotence, RedisAdapter, RedisConfig};

use crate::chain;

fn quick(url: String) -> RedisConfig {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_millis(300);
    config.max_retries = 3;
    config.retry_delay = Duration::from_millis(20);
    config.max_retry_delay = Duration::from_millis(40);
    config
}

async fn connected(config: RedisConfig) -> RedisAdapter {
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter
}

#[tokio::test]
async fn commands_and_scripts_decode_replies_and_use_keys_verbatim() {
    let Some(server) = RedisServer::start_or_skip("commands_and_scripts") else {
        return;
    };
    let mut config = quick(server.url());
    config.key_prefix = "app:".into();
    let adapter = connected(config).await;

    let mut set_nx = redis::cmd("SET");
    set_nx
        .arg("lock")
        .arg("token-1")
        .arg("NX")
        .arg("PX")
        .arg(60_000);
    let first: Option<String> = adapter
        .command(&set_nx, Idempotence::NotIdempotent)
        .await
        .unwrap();
    let second: Option<String> = adapter
        .command(&set_nx, Idempotence::NotIdempotent)
        .await
        .unwrap();
    assert_eq!(
        (first.as_deref(), second),
        (Some("OK"), None),
        "NX sets once"
    );
    // Verbatim: the trait's prefix is not applied, `full_key` applies it.
    assert_eq!(adapter.get("lock").await.unwrap(), None);
    adapter.set("seen", json!({"a": 1}), None).await.unwrap();
    let mut get = redis::cmd("GET");
    get.arg(adapter.full_key("seen").as_ref());
    let raw: String = adapter
        .command(&get, Idempotence::Idempotent)
        .await
        .unwrap();
    assert_eq!(raw, r#"{"a":1}"#);

    let bump = redis::Script::new(
        "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
         redis.call('SET', KEYS[2], ARGV[2]) return n",
    );
    let invocation = {
        let mut invocation = bump.key("epoch");
        invocation.key("holder").arg(5).arg("node-a");
        invocation
    };
    let epoch: i64 = adapter
        .script(&invocation, Idempotence::NotIdempotent)
        .await
        .unwrap();
    assert_eq!(epoch, 5);
    // A server that forgot the script (restart, SCRIPT FLUSH) is sent it again.
    let _: () = adapter
        .command(
            &redis::cmd("SCRIPT").arg("FLUSH").clone(),
            Idempotence::Idempotent,
        )
        .await
        .unwrap();
    let epoch: i64 = adapter
        .script(&invocation, Idempotence::NotIdempotent)
        .await
        .unwrap();
    assert_eq!(epoch, 10, "loaded again and run exactly once more");
    let mut get = redis::cmd("GET");
    get.arg("holder");
    let holder: String = adapter
        .command(&get, Idempotence::Idempotent)
        .await
        .unwrap();
    assert_eq!(holder, "node-a");

    // Errors: a script's own error and an undecodable reply are final, not transient.
    let failing = redis::Script::new("return redis.error_reply('STALE epoch too old')");
    let started = Instant::now();
    let error = adapter
        .script::<()>(&failing.prepare_invoke(), Idempotence::Idempotent)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "not retried"
    );
    assert!(
        matches!(
            error,
            StorageError::Backend {
                operation: Operation::Script,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(chain(&error).contains("epoch too old"), "{}", chain(&error));
    let error = adapter
        .command::<i64>(&get, Idempotence::Idempotent)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StorageError::Backend {
                operation: Operation::Command,
                ..
            }
        ),
        "{error:?}"
    );
}

/// A non-idempotent script that timed out may have run: it is not sent again, and it ran
/// exactly once when the server thawed. An idempotent command rides out a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_idempotence_flag() {
    let Some(mut server) = RedisServer::start_or_skip("retries_follow_idempotence") else {
        return;
    };
    let adapter = connected(quick(server.url())).await;
    let bump = redis::Script::new("return redis.call('INCR', KEYS[1])");
    let _: i64 = adapter
        .script(&bump.key("n"), Idempotence::NotIdempotent)
        .await
        .unwrap();

    server.pause().unwrap();
    let started = Instant::now();
    let error = adapter
        .script::<i64>(&bump.key("n"), Idempotence::NotIdempotent)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    server.resume().unwrap();
    assert!(matches!(error, StorageError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed < Duration::from_millis(550),
        "one attempt only: {elapsed:?}"
    );
    let mut get = redis::cmd("GET");
    get.arg("n");
    let mut value = None;
    for _ in 0..50 {
        if let Ok(read) = adapter.command::<i64>(&get, Idempotence::Idempotent).await {
            value = Some(read);
            break;
        }
    }
    assert_eq!(
        value,
        Some(2),
        "run once when the server thawed, never twice"
    );

    // An idempotent command that meets a dead server is retried until it is back.
    server.kill();
    let restart = async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        server.restart().unwrap();
    };
    let mut ping = redis::cmd("PING");
    ping.arg("back");
    let (reply, ()) = tokio::join!(
        adapter.command::<String>(&ping, Idempotence::Idempotent),
        restart
    );
    assert_eq!(reply.unwrap(), "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_reach_every_subscriber() {
    let Some(server) = RedisServer::start_or_skip("published_messages") else {
        return;
    };
    let adapter = connected(quick(server.url())).await;
    assert!(matches!(
        adapter.subscribe(&[]).await,
        Err(StorageError::InvalidArgument { .. })
    ));
    let mut first = adapter.subscribe(&["news", "other"]).await.unwrap();
    let mut second = adapter.subscribe(&["news"]).await.unwrap();
    assert_eq!(adapter.publish("news", b"hello").await.unwrap(), 2);
    assert_eq!(adapter.publish("other", "world").await.unwrap(), 1);
    assert_eq!(adapter.publish("nobody", "x").await.unwrap(), 0);

    let message = next(&mut first).await;
    assert_eq!(
        (message.channel(), message.payload()),
        ("news", &b"hello"[..])
    );
    let message = next(&mut first).await;
    assert_eq!(message.channel(), "other");
    assert_eq!(message.into_payload(), b"world".to_vec());
    assert_eq!(next(&mut second).await.payload(), b"hello");
    // Keepalive pings do not disturb the stream.
    tokio::time::sleep(Duration::from_millis(700)).await;
    adapter.publish("news", "later").await.unwrap();
    assert_eq!(next(&mut second).await.payload(), b"later");
    drop(first);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(adapter.publish("news", "x").await.unwrap(), 1, "dropped");
}

/// The loss of the subscription's connection is reported (a killed server at once, a
/// frozen one by the keepalive), and a new subscription works once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_reports_an_error_then_ends() {
    let Some(mut server) = RedisServer::start_or_skip("lost_subscription") else {
        return;
    };
    let adapter = connected(quick(server.url())).await;
    let mut subscription = adapter.subscribe(&["hints"]).await.unwrap();
    server.kill();
    let error = tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .expect("the loss is reported in time")
        .expect("an item")
        .unwrap_err();
    assert!(
        matches!(
            error,
            StorageError::Connection {
                operation: Operation::Subscribe,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(subscription.next().await.is_none(), "then the stream ends");

    server.restart().unwrap();
    let mut subscription = adapter.subscribe(&["hints"]).await.unwrap();
    server.pause().unwrap();
    let started = Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(3), subscription.next())
        .await
        .expect("the keepalive notices a frozen server")
        .expect("an item")
        .unwrap_err();
    server.resume().unwrap();
    assert!(matches!(error, StorageError::Timeout { .. }), "{error:?}");
    // One interval to the next PING, one for its answer, and scheduling slack.
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert!(subscription.next().await.is_none());
}

/// The next message of `subscription`, within two seconds.
async fn next(subscription: &mut storage_redis::Subscription) -> storage_redis::Message {
    tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .expect("a message in time")
        .expect("the stream goes on")
        .expect("a message, not an error")
}

#[tokio::test]
async fn errors_beyond_the_trait_hide_the_password() {
    let port = free_port().unwrap();
    let mut config = quick(format!("redis://app:hunter2@127.0.0.1:{port}/0"));
    config.max_retries = 1;
    let adapter = RedisAdapter::from_config(config).unwrap();
    assert!(adapter.connect().await.is_err());
    let errors = [
        adapter
            .command::<()>(&redis::cmd("PING"), Idempotence::Idempotent)
            .await
            .unwrap_err(),
        adapter
            .script::<()>(
                &redis::Script::new("return 1").prepare_invoke(),
                Idempotence::Idempotent,
            )
            .await
            .unwrap_err(),
        adapter.publish("c", "m").await.unwrap_err(),
        adapter.subscribe(&["c"]).await.unwrap_err(),
    ];
    for error in errors {
        let shown = format!("{} {error:?}", chain(&error));
        assert!(error.is_transient(), "{shown}");
        assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
