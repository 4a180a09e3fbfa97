//! The original's legacy imports, still compiling through the deprecated paths (each use
//! warns; this example allows it): `backend.redis_client`, the storage-less
//! `backend.fallback_manager.FallbackManager()`, `backend.health_monitor` and
//! `backend.monitoring_integrations`.
//!
//! ```sh
//! cargo run -p compat --example legacy
//! ```
#![allow(
    deprecated,
    reason = "this example shows the deprecated paths still work"
)]
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use backend::fallback_manager::{FallbackManager, FallbackMode};
use backend::health_monitor::HealthMonitor;
use backend::monitoring_integrations::*;
use backend::redis_client::{MemoryStorage, Storage};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // from backend.redis_client import MemoryStorage
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    storage
        .set("user:1", json!({"name": "alice"}), None)
        .await?;
    assert_eq!(storage.keys("user:*").await?, vec!["user:1"]);

    // from backend.fallback_manager import FallbackManager; manager = FallbackManager()
    let manager = FallbackManager::in_memory();
    let state = serde_json::from_value(json!({"circuit_breaker": {"state": "OPEN"}}))?;
    assert_eq!(manager.cascade(&state).await, FallbackMode::Heuristic);
    assert_eq!(manager.get_mode_string(), "heuristic");
    assert_eq!(
        manager.detect_anomaly(&json!({})).await.mode,
        "heuristic_unavailable"
    );

    // from backend.health_monitor import HealthMonitor, FallbackMode
    let monitor = HealthMonitor::new();
    assert_eq!(
        backend::health_monitor::FallbackMode::Primary.as_str(),
        "primary"
    );

    // from backend.monitoring_integrations import DatadogAdapter
    let adapter = DatadogAdapter;
    let alerts = adapter.parse_payload(&json!({
        "alert_type": "warning", "check": "db-connection", "text": "High latency"
    }))?;
    assert_eq!(adapter.ingest(&alerts, monitor.registry()), 1);
    let refused: Result<_, AdapterParseError> = NewRelicAdapter.parse_payload(&json!({"x": 1}));
    let error = refused
        .err()
        .ok_or("an unrecognised payload was accepted")?;
    println!("legacy paths: storage, FallbackManager(), HealthMonitor and adapters work ({error})");
    Ok(())
}
