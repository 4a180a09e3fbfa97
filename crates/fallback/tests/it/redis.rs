//! Transitions and definitions persisted to a real Redis (the server `REDIS_URL` names;
//! skipped loudly without it, failed under `RESILIENCE_CI=1`).

use std::sync::Arc;
use std::time::Duration;

use fallback::{FallbackManager, FallbackMode};
use serde_json::json;
use storage::Storage;
use storage_redis::testing::shared_adapter;

use crate::support::{failed, healthy, open, stored_records};

#[tokio::test]
async fn transitions_and_definitions_reach_redis_as_json_objects_with_expiry() {
    let Some(adapter) = shared_adapter("fallback_transitions_reach_redis").await else {
        return;
    };
    let storage: Arc<dyn Storage> = Arc::new(adapter);
    let manager = FallbackManager::new(storage.clone());
    manager.cascade(&open(12.0)).await;
    manager.cascade(&failed(2)).await;
    manager.cascade(&healthy()).await;
    assert_eq!(manager.pending_records(), 0);

    let stored = stored_records(&*storage).await;
    assert_eq!(stored, manager.get_transitions_log(10));
    assert_eq!(stored[0].reason, "circuit_open(12s)");
    assert_eq!(stored[2].to, FallbackMode::Primary);

    let keys = storage.keys("fallback:transition:*").await.unwrap();
    for key in &keys {
        let ttl = storage.ttl(key).await.unwrap().unwrap();
        assert!(
            ttl > Duration::from_secs(23 * 3600) && ttl <= Duration::from_secs(24 * 3600),
            "{ttl:?}"
        );
    }

    manager
        .register_fallback(
            "cache",
            "severity >= 0.8",
            |_| async { Ok(()) },
            json!({"tier": 2}),
        )
        .await
        .unwrap();
    let definition = storage
        .get("fallback:definition:cache")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(definition["metadata"], json!({"tier": 2}));
    assert_eq!(definition["condition"], "severity >= 0.8");
    assert!(
        storage
            .ttl("fallback:definition:cache")
            .await
            .unwrap()
            .is_none()
    );

    for key in keys {
        storage.delete(&key).await.unwrap();
    }
    storage.delete("fallback:definition:cache").await.unwrap();
}
