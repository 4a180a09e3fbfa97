//! The same code on both backends: `MemoryStorage` always, and `RedisAdapter` when a
//! Redis server answers at `REDIS_URL` (default `redis://127.0.0.1:6379`).
//!
//! ```sh
//! cargo run --example storage_tour -p storage-redis
//! ```
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use storage::{MemoryStorage, Storage, StorageError, StorageExt};
use storage_redis::{RedisAdapter, RedisConfig};

/// Everything here goes through `dyn Storage`: nothing knows which backend it runs on.
async fn tour(storage: Arc<dyn Storage>) -> storage::Result<()> {
    let name = storage.backend();
    storage
        .set("tour:user:1", json!({"name": "alice", "admin": true}), None)
        .await?;
    storage
        .set(
            "tour:user:2",
            json!({"name": "bob"}),
            Some(Duration::from_secs(3600)),
        )
        .await?;
    println!(
        "[{name}] get tour:user:1      = {:?}",
        storage.get("tour:user:1").await?
    );
    println!(
        "[{name}] get tour:user:404    = {:?}",
        storage.get("tour:user:404").await?
    );
    println!(
        "[{name}] ttl tour:user:2      = {:?}",
        storage.ttl("tour:user:2").await?
    );
    println!(
        "[{name}] keys tour:user:[12]  = {:?}",
        storage.keys("tour:user:[12]").await?
    );
    println!(
        "[{name}] increment tour:visits = {}",
        storage.increment("tour:visits", 1).await?
    );
    match storage.increment("tour:user:1", 1).await {
        Err(error @ StorageError::WrongType { .. }) => {
            println!("[{name}] increment a JSON object -> {error}");
        }
        other => println!("[{name}] unexpected: {other:?}"),
    }
    let typed: Option<serde_json::Map<String, serde_json::Value>> =
        storage.get_json("tour:user:2").await?;
    println!("[{name}] get_json tour:user:2 = {typed:?}");
    for key in storage.keys("tour:*").await? {
        storage.delete(&key).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let memory = MemoryStorage::new();
    memory.connect().await?;
    tour(Arc::new(memory)).await?;

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(1);
    config.max_retries = 1;
    let redis = RedisAdapter::from_config(config)?;
    match redis.connect().await {
        Ok(()) => tour(Arc::new(redis)).await?,
        Err(error) => println!("[redis] skipped: {error} (start redis-server or set REDIS_URL)"),
    }
    Ok(())
}
