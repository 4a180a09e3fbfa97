//! Sentinel: the adapter finds the master through the sentinels and follows a failover,
//! killed or demoted, within its retry budget, losing no write a replica acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parking_lot::Mutex;
use serde_json::json;
use storage::{Storage, StorageError};
use storage_redis::testing::free_port;
use storage_redis::testing::sentinel::{DATA_PASSWORD, SENTINEL_PASSWORD, SentinelTopology};
use storage_redis::{Idempotence, RedisAdapter, RedisConfig, SentinelConfig};

use crate::chain;

/// Per-attempt timeout 500 ms, three retries 100-400 ms apart: a retry budget
/// (`worst_case_latency`) of 2.7 s.
fn config(sentinel: SentinelConfig) -> RedisConfig {
    let mut config = RedisConfig::default();
    config.sentinel = Some(sentinel);
    config.timeout = Duration::from_millis(500);
    config.max_retries = 3;
    config.retry_delay = Duration::from_millis(100);
    config.max_retry_delay = Duration::from_millis(400);
    config
}

/// What the writer saw: acknowledged writes, those a replica also acknowledged (`WAIT`),
/// and when each success happened.
#[derive(Default)]
struct Log {
    acknowledged: Vec<u64>,
    replicated: usize,
    successes: Vec<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_replaced_within_the_failover_and_one_retry_budget() {
    let Some(mut topology) = SentinelTopology::start_or_skip("sentinel_killed_master") else {
        return;
    };
    let adapter = RedisAdapter::from_config(config(topology.sentinel_config())).unwrap();
    adapter.connect().await.unwrap();
    let budget = adapter.config().worst_case_latency();

    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (adapter, log, stop) = (adapter.clone(), Arc::clone(&log), Arc::clone(&stop));
        async move {
            let mut wait = redis::cmd("WAIT");
            wait.arg(1).arg(200);
            let mut next = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if adapter
                    .set(&format!("k:{next}"), json!(next), None)
                    .await
                    .is_ok()
                {
                    {
                        let mut entry = log.lock();
                        entry.acknowledged.push(next);
                        entry.successes.push(Instant::now());
                    }
                    // Everything acknowledged so far reached the replica.
                    if let Ok(replicas) =
                        adapter.command::<i64>(&wait, Idempotence::Idempotent).await
                        && replicas >= 1
                    {
                        let mut entry = log.lock();
                        entry.replicated = entry.acknowledged.len();
                    }
                }
                next += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    tokio::time::sleep(Duration::from_millis(400)).await;
    let replicated_before_kill = {
        let log = log.lock();
        log.acknowledged[..log.replicated].to_vec()
    };
    assert!(
        replicated_before_kill.len() > 10,
        "the load runs before the kill"
    );
    let killed = Instant::now();
    let old_port = topology.kill_master().unwrap();
    let new_port = tokio::task::spawn_blocking(move || {
        let port = topology.wait_for_failover(old_port, Duration::from_secs(15));
        (topology, port)
    });
    let (topology, new_port) = new_port.await.unwrap();
    let new_port = new_port.unwrap();
    let failed_over = killed.elapsed();
    let first_success_after = |log: &Log| {
        log.successes
            .iter()
            .find(|success| **success > killed)
            .map(|success| success.duration_since(killed))
    };
    let deadline = Instant::now() + budget + Duration::from_millis(500);
    while first_success_after(&log.lock()).is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let recovered =
        first_success_after(&log.lock()).expect("writes succeed again after the failover");
    // Scheduling slack on a loaded 2-core machine.
    assert!(
        recovered <= failed_over + budget + Duration::from_millis(300),
        "served again after {recovered:?}; failover took {failed_over:?}, retry budget {budget:?}"
    );
    assert_ne!(new_port, old_port);

    // Every write a replica acknowledged before the kill survived on the new master.
    for n in &replicated_before_kill {
        assert_eq!(
            adapter.get(&format!("k:{n}")).await.unwrap(),
            Some(json!(n)),
            "k:{n} was replicated (WAIT) before the kill"
        );
    }
    assert_eq!(topology.master_port().unwrap(), new_port);
}

/// A master demoted by a failover it survives (`SENTINEL FAILOVER`) refuses writes with
/// `READONLY` or drops its clients: the adapter moves to the new master, and a
/// subscription reports the loss, after which a new one reaches the new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_master_is_left_for_the_new_one() {
    let Some(topology) = SentinelTopology::start_or_skip("sentinel_demoted_master") else {
        return;
    };
    let adapter = RedisAdapter::from_config(config(topology.sentinel_config())).unwrap();
    adapter.connect().await.unwrap();
    adapter.set("before", json!(1), None).await.unwrap();
    let mut subscription = adapter.subscribe(&["hints"]).await.unwrap();
    assert_eq!(adapter.publish("hints", "one").await.unwrap(), 1);
    assert_eq!(
        subscription.next().await.unwrap().unwrap().payload(),
        b"one"
    );

    let old_port = topology.master_port().unwrap();
    let sentinel_url = topology.sentinel_config().sentinels[0].clone();
    let mut sentinel = redis::Client::open(
        sentinel_url.replace("redis://", &format!("redis://:{SENTINEL_PASSWORD}@")),
    )
    .unwrap()
    .get_multiplexed_async_connection()
    .await
    .unwrap();
    let _: () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(storage_redis::testing::sentinel::MASTER_NAME)
        .query_async(&mut sentinel)
        .await
        .unwrap();
    let new_port = tokio::task::spawn_blocking(move || {
        let port = topology.wait_for_failover(old_port, Duration::from_secs(15));
        (topology, port)
    });
    let (topology, new_port) = new_port.await.unwrap();
    let new_port = new_port.unwrap();

    // Writes go on, and soon land on the new master: until the sentinels demote the old
    // one (they promote first), a write may still reach it and be lost, as Sentinel's
    // asynchronous replication allows; then READONLY or the dropped connection moves the
    // adapter over.
    let mut on_new = redis::Client::open(topology.node_url(new_port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let started = Instant::now();
    let mut landed = false;
    let mut n = 0;
    while !landed && started.elapsed() < Duration::from_secs(10) {
        n += 1;
        match adapter.set("after", json!(n), None).await {
            Ok(()) => {
                let stored: Option<String> = redis::cmd("GET")
                    .arg("after")
                    .query_async(&mut on_new)
                    .await
                    .unwrap();
                landed = stored == Some(n.to_string());
            }
            Err(error) => assert!(error.is_transient(), "{error:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(landed, "writes reach the new master");
    assert_eq!(adapter.get("before").await.unwrap(), Some(json!(1)));

    // The demoted master dropped the subscriber: the stream says so, then ends.
    let lost = tokio::time::timeout(Duration::from_secs(3), subscription.next())
        .await
        .expect("the loss is reported")
        .expect("an item");
    assert!(lost.is_err(), "{lost:?}");
    let mut subscription = adapter.subscribe(&["hints"]).await.unwrap();
    assert_eq!(adapter.publish("hints", "two").await.unwrap(), 1);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(2), subscription.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .payload(),
        b"two"
    );
}

#[tokio::test]
async fn sentinel_errors_and_debug_hide_both_passwords() {
    let mut sentinel = SentinelConfig::new(
        "nowhere",
        vec![
            format!("redis://127.0.0.1:{}", free_port().unwrap()),
            format!("redis://127.0.0.1:{}", free_port().unwrap()),
        ],
    );
    sentinel.sentinel_password = Some(SENTINEL_PASSWORD.to_owned());
    sentinel.master_password = Some(DATA_PASSWORD.to_owned());
    let mut config = config(sentinel);
    config.max_retries = 1;
    let adapter = RedisAdapter::from_config(config.clone()).unwrap();
    let error = adapter.connect().await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    let shown = format!("{} {error:?} {config:?} {adapter:?}", chain(&error));
    assert!(
        shown.contains("sentinel master \"nowhere\" via redis://127.0.0.1:"),
        "{shown}"
    );
    for secret in [SENTINEL_PASSWORD, DATA_PASSWORD] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        matches!(error, StorageError::Connection { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn sentinel_settings_are_checked_with_the_key_named() {
    let sentinels = json!(["redis://127.0.0.1:26379"]);
    for (value, fragment) in [
        (
            json!({"sentinel": {"sentinels": sentinels}}),
            "`sentinel.master_name` must name the master",
        ),
        (
            json!({"sentinel": {"master_name": "m"}}),
            "`sentinel.sentinels` must list at least one sentinel",
        ),
        (
            json!({"sentinel": {"master_name": "m", "sentinels": ["redis://:pw@127.0.0.1:26379"]}}),
            "`sentinel.sentinels` must not carry credentials",
        ),
        (
            json!({"sentinel": {"master_name": "m", "sentinels": ["redis://a:1", "rediss://b:1"]}}),
            "`sentinel.sentinels` mixes `rediss://` and plain URLs",
        ),
        (
            json!({"redis_url": "redis://db:6379", "sentinel": {"master_name": "m", "sentinels": sentinels}}),
            "`redis_url` names one server: leave it unset with `sentinel`",
        ),
        (
            json!({"sentinel": {"master_name": "m", "sentinels": sentinels}, "tls": {}}),
            "`tls` is set, but the sentinels' URLs are not `rediss://` URLs",
        ),
        (
            json!({"sentinel": {"master_name": "m", "sentinels": ["nope://x"]}}),
            "`sentinel.sentinels` \"nope://x\" is not a URL",
        ),
    ] {
        let error = RedisConfig::from_value(value.clone()).unwrap_err();
        let shown = chain(&error);
        assert!(shown.contains(fragment), "{value}: {shown}");
    }
    let mut config = RedisConfig::from_value(json!({
        "sentinel": {"master_name": "m", "sentinels": sentinels, "db": 2},
    }))
    .unwrap();
    config.set_password("from-env");
    let sentinel = config.sentinel.as_ref().unwrap();
    assert_eq!(sentinel.master_password.as_deref(), Some("from-env"));
    assert_eq!(sentinel.db, 2);
}
