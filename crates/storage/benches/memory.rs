//! `MemoryStorage` get and set against its peers, measured in the same run:
//! `moka::future::Cache` with a time-to-live, and a bare `DashMap<String, Value>` (the
//! floor: no expiry, no trait object, no async).
//!
//! Ids: `storage/{get,set}/{memory,memory-no-ttl,moka,dashmap}/{1-task,8-tasks}`.
//! `1-task` is one task on a current-thread runtime; `8-tasks` is eight tasks on the
//! multi-thread runtime sharing one store, reported as time per operation.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use serde_json::{Value, json};
use storage::{MemoryStorage, Storage};
use tokio::runtime::Runtime;

const KEYS: usize = 10_000;
const TASKS: u64 = 8;
const TTL: Duration = Duration::from_secs(3600);

/// The ~110-byte document the Redis anchors use.
fn document() -> Value {
    json!({"id": 42, "user": "alice", "role": "admin", "active": true, "score": 0.87, "tags": ["a", "b", "c"]})
}

fn keys() -> Arc<Vec<String>> {
    Arc::new((0..KEYS).map(|i| format!("bench:key:{i}")).collect())
}

/// One store under test, behind a uniform async interface.
#[derive(Clone)]
enum Target {
    Memory(MemoryStorage, Option<Duration>),
    Moka(moka::future::Cache<String, Value>),
    DashMap(Arc<DashMap<String, Value>>),
}

impl Target {
    fn all() -> Vec<(&'static str, Self)> {
        vec![
            ("memory", Self::Memory(MemoryStorage::new(), Some(TTL))),
            ("memory-no-ttl", Self::Memory(MemoryStorage::new(), None)),
            (
                "moka",
                Self::Moka(moka::future::Cache::builder().time_to_live(TTL).build()),
            ),
            ("dashmap", Self::DashMap(Arc::new(DashMap::new()))),
        ]
    }

    async fn set(&self, key: &str, value: &Value) {
        match self {
            Self::Memory(storage, ttl) => storage.set(key, value.clone(), *ttl).await.unwrap(),
            Self::Moka(cache) => cache.insert(key.to_owned(), value.clone()).await,
            Self::DashMap(map) => {
                map.insert(key.to_owned(), value.clone());
            }
        }
    }

    async fn get(&self, key: &str) -> Option<Value> {
        match self {
            Self::Memory(storage, _) => storage.get(key).await.unwrap(),
            Self::Moka(cache) => cache.get(key).await,
            Self::DashMap(map) => map.get(key).map(|value| value.clone()),
        }
    }
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `iters` operations split over [`TASKS`] tasks and returns the wall time.
async fn run_tasks(target: &Target, keys: &Arc<Vec<String>>, iters: u64, get: bool) -> Duration {
    let value = document();
    let per_task = iters.div_ceil(TASKS);
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (target, keys, value) = (target.clone(), Arc::clone(keys), value.clone());
            tokio::spawn(async move {
                // Each task walks the keys from its own offset so tasks touch different shards.
                let offset = task as usize * (KEYS / TASKS as usize);
                for i in 0..per_task as usize {
                    let key = &keys[(offset + i) % KEYS];
                    if get {
                        black_box(target.get(key).await);
                    } else {
                        target.set(key, &value).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

fn bench_op(c: &mut Criterion, get: bool) {
    let op = if get { "get" } else { "set" };
    let mut group = c.benchmark_group(format!("storage/{op}"));
    let keys = keys();
    let value = document();
    let single = current_thread();
    let multi = multi_thread();
    for (name, target) in Target::all() {
        // Pre-fill so gets hit and sets overwrite, as in steady state.
        single.block_on(async {
            for key in keys.iter() {
                target.set(key, &value).await;
            }
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new(name, "1-task"), |b| {
            b.to_async(&single).iter(|| {
                i = (i + 1) % KEYS;
                let (target, key, value) = (&target, &keys[i], &value);
                async move {
                    if get {
                        black_box(target.get(key).await);
                    } else {
                        target.set(key, value).await;
                    }
                }
            });
        });
        group.bench_function(BenchmarkId::new(name, "8-tasks"), |b| {
            b.to_async(&multi).iter_custom(|iters| {
                let (target, keys) = (target.clone(), Arc::clone(&keys));
                async move { run_tasks(&target, &keys, iters, get).await }
            });
        });
    }
    group.finish();
}

fn get(c: &mut Criterion) {
    bench_op(c, true);
}

fn set(c: &mut Criterion) {
    bench_op(c, false);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = get, set
}
criterion_main!(benches);
