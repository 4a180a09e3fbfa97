//! Redis Cluster: the conformance suite across slots, `keys` on every master (each key
//! once, also while a slot moves), redirects followed under load with nothing
//! acknowledged lost, and `increment`'s exactly-once rule.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parking_lot::Mutex;
use serde_json::json;
use storage::{Operation, Storage, StorageError};
use storage_redis::testing::cluster::ClusterTopology;
use storage_redis::testing::unique_prefix;
use storage_redis::{Idempotence, RedisAdapter, RedisConfig};

use crate::chain;

fn config(topology: &ClusterTopology) -> RedisConfig {
    let mut config = RedisConfig::default();
    config.cluster = Some(topology.cluster_config());
    config.timeout = Duration::from_millis(1000);
    config.max_retries = 3;
    config.retry_delay = Duration::from_millis(50);
    config.max_retry_delay = Duration::from_millis(200);
    config
}

async fn connected(config: RedisConfig) -> RedisAdapter {
    let adapter = RedisAdapter::from_config(config).unwrap();
    adapter.connect().await.unwrap();
    adapter
}

/// The 24 conformance cases in one test, on one 3-master cluster (each case under a key
/// prefix of its own, without braces, so its keys spread over the slots).
#[test]
fn conformance_across_slots() {
    let Some(topology) = ClusterTopology::start_or_skip("cluster conformance", 3, 0) else {
        return;
    };
    let base = config(&topology);
    storage::conformance_suite!(|| {
        let mut config = base.clone();
        config.key_prefix = unique_prefix("cluster");
        async move {
            let adapter: Arc<dyn Storage> = Arc::new(connected(config).await);
            Some(adapter)
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keys_on_every_master_are_each_listed_once() {
    let Some(topology) = ClusterTopology::start_or_skip("cluster_ten_thousand_keys", 3, 0) else {
        return;
    };
    let mut config = config(&topology);
    config.key_prefix = "app:".into();
    let adapter = connected(config).await;
    let expected: Vec<String> = {
        let mut keys: Vec<String> = (0..10_000).map(|n| format!("k:{n}")).collect();
        keys.sort();
        keys
    };
    let writers: Vec<_> = expected
        .chunks(10_000 / 32)
        .map(|chunk| {
            let (adapter, chunk) = (adapter.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for key in chunk {
                    adapter.set(&key, json!(1), None).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    // Every master holds a share, and together they cover the slot space.
    let mut slots = std::collections::BTreeSet::new();
    for key in expected.iter().step_by(10) {
        slots.insert(topology.slot_of(&format!("app:{key}")).unwrap());
    }
    assert!(slots.len() > 900 && *slots.first().unwrap() < 100 && *slots.last().unwrap() > 16_284);
    for port in topology.ports() {
        let mut node = redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let size: u64 = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
        assert!(size > 2500, "master on {port} holds {size} keys");
    }
    let started = Instant::now();
    let keys = adapter.keys("*").await.unwrap();
    let took = started.elapsed();
    assert_eq!(keys.len(), expected.len(), "each key once");
    assert_eq!(keys, expected);
    assert_eq!(adapter.keys("k:99?").await.unwrap().len(), 10);
    assert!(took < Duration::from_secs(5), "keys took {took:?}");
}

/// What the load saw: the last value acknowledged per key, acknowledged increments, and
/// failed operations.
#[derive(Default)]
struct Ledger {
    written: BTreeMap<String, u64>,
    increments: u64,
    failures: Vec<String>,
}

/// A slot moves from one master to another (IMPORTING/MIGRATING, keys moved in batches,
/// then SETSLOT NODE) while tasks write, read and increment keys in it and in others:
/// redirects (ASK while it moves, MOVED after) are followed, no operation fails, nothing
/// acknowledged is lost, every increment counts once, and `keys` run during the move
/// always lists every key that existed before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_under_load_loses_nothing_acknowledged() {
    let Some(topology) = ClusterTopology::start_or_skip("cluster_slot_moved", 3, 0) else {
        return;
    };
    let adapter = connected(config(&topology)).await;
    // `{hot}` keys share one slot: that slot moves.
    let slot = topology.slot_of("{hot}").unwrap();
    let from = topology.owner_of(slot).unwrap();
    let to = *topology.ports().iter().find(|port| **port != from).unwrap();
    let mut stable = Vec::new();
    for n in 0..200 {
        let key = if n % 2 == 0 {
            format!("{{hot}}:seed:{n}")
        } else {
            format!("cold:{n}")
        };
        adapter.set(&key, json!(n), None).await.unwrap();
        stable.push(key);
    }
    stable.sort();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (adapter, ledger, stop, next) = (
                adapter.clone(),
                Arc::clone(&ledger),
                Arc::clone(&stop),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let key = if n % 4 == 0 {
                        format!("cold:w:{n}")
                    } else {
                        format!("{{hot}}:w:{n}")
                    };
                    match adapter.set(&key, json!(n), None).await {
                        Ok(()) => {
                            ledger.lock().written.insert(key.clone(), n);
                        }
                        Err(error) => ledger.lock().failures.push(format!("set {key}: {error}")),
                    }
                    match adapter.get(&key).await {
                        Ok(Some(value)) if value == json!(n) => {}
                        other => ledger.lock().failures.push(format!("get {key}: {other:?}")),
                    }
                    if worker % 2 == 0 {
                        match adapter.increment("{hot}:counter", 1).await {
                            Ok(_) => ledger.lock().increments += 1,
                            Err(error) => {
                                ledger.lock().failures.push(format!("increment: {error}"));
                            }
                        }
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let migration = tokio::task::spawn_blocking(move || {
        let migration = topology.begin_migration(slot, to).unwrap();
        while migration.move_keys(25).unwrap() > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        migration.finish().unwrap();
        topology
    });
    // `keys` while the slot moves lists every key that existed before, each once.
    let mut listings = 0;
    while !migration.is_finished() {
        let keys = adapter.keys("*").await.unwrap();
        let mut deduplicated = keys.clone();
        deduplicated.dedup();
        assert_eq!(deduplicated.len(), keys.len(), "each key once");
        for key in &stable {
            assert!(
                keys.binary_search(key).is_ok(),
                "{key} missing from a listing during the move"
            );
        }
        listings += 1;
    }
    let topology = migration.await.unwrap();
    assert_eq!(topology.owner_of(slot).unwrap(), to, "the slot moved");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let ledger = std::mem::take(&mut *ledger.lock());
    assert!(
        ledger.failures.is_empty(),
        "{:?}",
        &ledger.failures[..ledger.failures.len().min(5)]
    );
    assert!(listings > 0);
    assert!(
        ledger.written.len() > 100,
        "the load ran: {}",
        ledger.written.len()
    );
    for (key, n) in &ledger.written {
        assert_eq!(adapter.get(key).await.unwrap(), Some(json!(n)), "{key}");
    }
    let counter = adapter.get("{hot}:counter").await.unwrap();
    assert_eq!(
        counter,
        Some(json!(ledger.increments)),
        "every increment counted once"
    );
    let keys = adapter.keys("*").await.unwrap();
    for key in stable.iter().chain(ledger.written.keys()) {
        assert!(keys.binary_search(key).is_ok(), "{key}");
    }
}

/// Scripts route by their first key (CROSSSLOT for keys in different slots), pub/sub
/// crosses nodes, and an increment that may have run on a frozen master is not sent
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_pubsub_and_exactly_once_increments_on_a_cluster() {
    let Some(mut topology) = ClusterTopology::start_or_skip("cluster_beyond", 3, 0) else {
        return;
    };
    let mut config = config(&topology);
    config.timeout = Duration::from_millis(300);
    let adapter = connected(config).await;

    let bump = redis::Script::new(
        "redis.call('SET', KEYS[2], ARGV[1]) return redis.call('INCR', KEYS[1])",
    );
    for tag in ["a", "b", "c", "d", "e", "f"] {
        let epoch: i64 = adapter
            .script(
                bump.key(format!("{{{tag}}}:epoch"))
                    .key(format!("{{{tag}}}:holder"))
                    .arg("me"),
                Idempotence::NotIdempotent,
            )
            .await
            .unwrap();
        assert_eq!(epoch, 1);
    }
    let error = adapter
        .script::<i64>(
            bump.key("{a}:epoch").key("{b}:holder").arg("me"),
            Idempotence::NotIdempotent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StorageError::Backend {
                operation: Operation::Script,
                ..
            }
        ) && !error.is_transient(),
        "{error:?}"
    );
    assert!(chain(&error).contains("CROSSSLOT"), "{}", chain(&error));

    let mut subscription = adapter.subscribe(&["news"]).await.unwrap();
    assert!(adapter.publish("news", "hello").await.unwrap() >= 1);
    let message = tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.payload(), b"hello");

    adapter.increment("n", 1).await.unwrap();
    let owner = topology.owner_of(topology.slot_of("n").unwrap()).unwrap();
    let node = topology.node_mut(owner).unwrap();
    node.pause().unwrap();
    let started = Instant::now();
    let error = adapter.increment("n", 1).await.unwrap_err();
    let elapsed = started.elapsed();
    node.resume().unwrap();
    assert!(matches!(error, StorageError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "one attempt only: {elapsed:?}"
    );
    let mut value = None;
    for _ in 0..50 {
        if let Ok(read) = adapter.get("n").await {
            value = read;
            break;
        }
    }
    assert_eq!(
        value,
        Some(json!(2)),
        "run once when the master thawed, never twice"
    );
}

#[tokio::test]
async fn cluster_settings_are_checked_and_passwords_hidden() {
    for (value, fragment) in [
        (
            json!({"cluster": {"nodes": []}}),
            "`cluster.nodes` must list at least one seed node",
        ),
        (
            json!({"cluster": {"nodes": ["redis://:a@h:1", "redis://:b@h:2"]}}),
            "`cluster.nodes` must all carry the same credentials",
        ),
        (
            json!({"cluster": {"nodes": ["redis://h:1/2"]}}),
            "`cluster.nodes` must not name a database",
        ),
        (
            json!({"cluster": {"nodes": ["redis://h:1", "rediss://h:2"]}}),
            "`cluster.nodes` mixes `rediss://` and plain URLs",
        ),
        (
            json!({"redis_url": "redis://h:1", "cluster": {"nodes": ["redis://h:1"]}}),
            "`redis_url` names one server: leave it unset with `cluster`",
        ),
        (
            json!({"cluster": {"nodes": ["redis://h:1"]}, "sentinel": {"master_name": "m", "sentinels": ["redis://h:2"]}}),
            "`cluster` cannot be combined with `sentinel`",
        ),
    ] {
        let error = RedisConfig::from_value(value.clone()).unwrap_err();
        let shown = chain(&error);
        assert!(shown.contains(fragment), "{value}: {shown}");
    }
    let port = storage_redis::testing::free_port().unwrap();
    let mut config = RedisConfig::from_value(json!({
        "cluster": {"nodes": [format!("redis://127.0.0.1:{port}")]},
        "timeout": 0.3,
        "max_retries": 1,
    }))
    .unwrap();
    config.set_password("hunter2");
    assert_eq!(
        config.cluster.as_ref().unwrap().nodes,
        vec![format!("redis://:hunter2@127.0.0.1:{port}")]
    );
    let adapter = RedisAdapter::from_config(config.clone()).unwrap();
    let error = adapter.connect().await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    let shown = format!("{} {error:?} {config:?} {adapter:?}", chain(&error));
    assert!(
        shown.contains(&format!("cluster redis://:***@127.0.0.1:{port}")),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}
