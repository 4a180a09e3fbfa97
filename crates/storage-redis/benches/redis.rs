//! `RedisAdapter` against its peer in the same run: SET with expiry + GET of a ~110-byte
//! JSON document (serialize, SET PX, GET, parse), at 1, 8 and 64 concurrent tasks, through
//! the adapter (`adapter`) and through one shared redis-rs `MultiplexedConnection`
//! (`multiplexed`, the fastest client the anchors measured).
//!
//! Ids: `storage-redis/set-get/{adapter,multiplexed}/{1,8,64}`, reported as time per
//! SET+GET pair (throughput = tasks / time is not what is shown; pairs/s = 1e9 / ns).
//! Uses `REDIS_URL` when set, otherwise starts a private `redis-server`.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use storage::Storage;
use storage_redis::testing::url_or_private_server;
use storage_redis::{RedisAdapter, RedisConfig};
use tokio::runtime::Runtime;

const TTL: Duration = Duration::from_secs(60);
const KEYS: u64 = 1000;

fn document(i: u64) -> Value {
    json!({"id": i, "user": "alice", "role": "admin", "active": true, "score": 0.87, "tags": ["a", "b", "c"]})
}

#[derive(Clone)]
enum Target {
    Adapter(RedisAdapter),
    Multiplexed(redis::aio::MultiplexedConnection),
}

impl Target {
    /// One SET (with expiry) + GET of `value`, which each target takes by value: the
    /// document is built once per pair for both.
    async fn pair(&self, key: &str, value: Value) {
        match self {
            Self::Adapter(adapter) => {
                adapter.set(key, value, Some(TTL)).await.unwrap();
                let read = adapter.get(key).await.unwrap();
                assert!(read.is_some());
            }
            Self::Multiplexed(connection) => {
                let mut connection = connection.clone();
                let payload = serde_json::to_vec(&value).unwrap();
                let _: () = redis::cmd("SET")
                    .arg(key)
                    .arg(payload)
                    .arg("PX")
                    .arg(u64::try_from(TTL.as_millis()).unwrap())
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let bytes: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let read: Value = serde_json::from_slice(&bytes.unwrap()).unwrap();
                assert!(!read.is_null());
            }
        }
    }
}

/// Runs `iters` pairs spread over `tasks` tasks; returns the wall time.
async fn run(target: &Target, tasks: u64, iters: u64) -> Duration {
    let per_task = iters.div_ceil(tasks);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let target = target.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let n = (task * per_task + i) % KEYS;
                    target.pair(&format!("bench:{n}"), document(n)).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn set_get(c: &mut Criterion) {
    let (url, server) =
        url_or_private_server().expect("REDIS_URL unset and redis-server did not start");
    let runtime: Runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (adapter, multiplexed) = runtime.block_on(async {
        let mut config = RedisConfig::new(url.clone());
        config.key_prefix = "bench-adapter:".into();
        let adapter = RedisAdapter::from_config(config).unwrap();
        adapter.connect().await.unwrap();
        let client = redis::Client::open(url.as_str()).unwrap();
        (
            adapter,
            client.get_multiplexed_async_connection().await.unwrap(),
        )
    });
    let targets = [
        ("adapter", Target::Adapter(adapter)),
        ("multiplexed", Target::Multiplexed(multiplexed)),
    ];
    let mut group = c.benchmark_group("storage-redis/set-get");
    group.throughput(Throughput::Elements(1));
    for tasks in [1u64, 8, 64] {
        for (name, target) in &targets {
            group.bench_function(BenchmarkId::new(*name, tasks), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let target = target.clone();
                    async move { run(&target, tasks, iters).await }
                });
            });
        }
    }
    group.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = set_get
}
criterion_main!(benches);
