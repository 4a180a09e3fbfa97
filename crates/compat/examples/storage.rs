//! The original's storage usage through `backend::storage`: the same calls on
//! `MemoryStorage`, and on `RedisAdapter` when `REDIS_URL` names a server.
//!
//! ```sh
//! cargo run -p compat --example storage
//! ```
#![deny(deprecated)] // the new paths are not deprecated
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;
use std::time::Duration;

use backend::storage::{MemoryStorage, RedisAdapter, RedisConfig, Storage};
use serde_json::json;

/// `await storage.set('user:1', data, expire=3600)` and friends, on any backend.
async fn use_storage(storage: Arc<dyn Storage>) -> Result<(), Box<dyn std::error::Error>> {
    storage.connect().await?;
    let data = json!({"name": "alice", "role": "admin"});
    storage
        .set("user:1", data.clone(), Some(Duration::from_secs(3600)))
        .await?;
    assert_eq!(storage.get("user:1").await?, Some(data));
    assert_eq!(storage.get("user:404").await?, None);
    assert!(storage.exists("user:1").await?);
    assert!(
        storage
            .ttl("user:1")
            .await?
            .is_some_and(|ttl| ttl <= Duration::from_secs(3600))
    );
    assert_eq!(storage.keys("user:*").await?, vec!["user:1"]);
    assert_eq!(storage.increment("counter:logins", 1).await?, 1);
    assert!(storage.expire("user:1", Duration::from_secs(60)).await?);
    assert!(storage.delete("user:1").await?);
    storage.delete("counter:logins").await?;
    assert!(storage.health_check().await);
    println!(
        "{}: set/get/exists/ttl/keys/increment/expire/delete behave",
        storage.backend()
    );
    storage.close().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use_storage(Arc::new(MemoryStorage::new())).await?;

    // `RedisAdapter({"redis_url": ..., "timeout": 5.0, "max_retries": 3})`
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let mut config = RedisConfig::from_value(json!({
                "redis_url": url, "timeout": 5.0, "max_retries": 3, "retry_delay": 0.5
            }))?;
            config.key_prefix = format!("compat-example:{}:", std::process::id());
            use_storage(Arc::new(RedisAdapter::from_config(config)?)).await?;
        }
        Err(_) => println!("redis: skipped (set REDIS_URL to run the same calls on Redis)"),
    }
    Ok(())
}
