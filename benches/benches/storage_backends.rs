//! The same workload through `Arc<dyn Storage>` on each backend, so the cost of choosing
//! Redis over the embedded store is visible in one table.
//!
//! Ids: `backends/{get,set,increment}/{memory,redis}`. Redis comes from `REDIS_URL` or a
//! private `redis-server` started here.
#![allow(missing_docs, reason = "criterion generates the entry points")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench aborts on failure"
)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use storage::{MemoryStorage, Storage};
use storage_redis::testing::url_or_private_server;
use storage_redis::{RedisAdapter, RedisConfig};

fn backends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, server) =
        url_or_private_server().expect("REDIS_URL unset and redis-server did not start");
    let memory: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let redis: Arc<dyn Storage> = runtime.block_on(async {
        let mut config = RedisConfig::new(url);
        config.key_prefix = "bench-backends:".into();
        let adapter = RedisAdapter::from_config(config).unwrap();
        adapter.connect().await.unwrap();
        Arc::new(adapter)
    });
    let value = json!({"id": 42, "user": "alice", "role": "admin", "active": true, "score": 0.87, "tags": ["a", "b", "c"]});
    for (name, storage) in [("memory", &memory), ("redis", &redis)] {
        runtime
            .block_on(storage.set("hit", value.clone(), None))
            .unwrap();
        c.bench_function(&format!("backends/get/{name}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { storage.get("hit").await.unwrap() });
        });
        c.bench_function(&format!("backends/set/{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                storage
                    .set("k", value.clone(), Some(Duration::from_secs(60)))
                    .await
                    .unwrap();
            });
        });
        c.bench_function(&format!("backends/increment/{name}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { storage.increment("n", 1).await.unwrap() });
        });
    }
    drop(server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = backends
}
criterion_main!(benches);
