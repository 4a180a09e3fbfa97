//! `compat` is the library named `backend`: the Python original's module paths, so code
//! being ported from `backend.storage`, `backend.fallback` and `backend.health` finds its
//! names where it left them.
//!
//! It has no logic of its own: every item is a re-export of the workspace's crates, or a
//! deprecated alias of one. The current paths re-export:
//!
//! | Path | Items | From |
//! |------|-------|------|
//! | [`backend::storage`](crate::storage) | `Storage`, `MemoryStorage`, `RedisAdapter`, ... | `storage`, `storage-redis` |
//! | [`backend::fallback`](crate::fallback) | `FallbackManager`, `FallbackMode`, `ConditionParser`, `Condition`, `parse_condition`, `evaluate`, ... | `fallback`, `condition` |
//! | [`backend::health`](crate::health) | `HealthMonitor`, `NoOpMetricsSink`, `LoggingMetricsSink`, `PrometheusMetricsSink`, `checks`, `sinks`, `integrations`, ... | `health`, `health-sinks` |
//!
//! The original's legacy shims are kept too, deprecated: using any of their names gives a
//! compiler warning that names the replacement (each module's documentation proves it
//! with `#![deny(deprecated)]` tests that must fail to compile).
//!
//! | Old path | Use instead |
//! |----------|-------------|
//! | [`backend::redis_client`](crate::redis_client)`::{Storage, RedisAdapter, MemoryStorage}` | `backend::storage::*` |
//! | [`backend::redis_client::RedisClient`](crate::redis_client::RedisClient) | `cluster::Coordinator`, or `cluster::legacy::RedisClient` for the old calls |
//! | [`backend::fallback_manager`](crate::fallback_manager)`::FallbackManager` (no storage argument: `FallbackManager::in_memory()`) | `backend::fallback::FallbackManager::new(storage)` |
//! | [`backend::health_monitor`](crate::health_monitor)`::HealthMonitor` | `backend::health::HealthMonitor` |
//! | [`backend::monitoring_integrations`](crate::monitoring_integrations)`::{DatadogAdapter, NewRelicAdapter, MonitoringAdapter, AdapterParseError}` | `backend::health::integrations::*` |
//!
//! What it deliberately does not do: add behaviour, wrappers or defaults of its own (a
//! deprecated re-export in Rust warns nobody, so the old names are type aliases,
//! constants and a subtrait, the things the compiler does warn about). The original's
//! usage, ported snippet by snippet, is in each module's documentation and in
//! `crates/compat/examples/` (`cargo run -p compat --example fallback`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::sync::Arc;
//! use backend::fallback::{FallbackManager, FallbackMode};
//! use backend::health::HealthState;
//! use backend::storage::{MemoryStorage, Storage};
//!
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! let manager = FallbackManager::new(storage);
//! let state: HealthState = serde_json::from_value(serde_json::json!({
//!     "circuit_breaker": {"state": "OPEN", "open_duration_seconds": 15},
//! }))?;
//! assert_eq!(manager.cascade(&state).await, FallbackMode::Heuristic);
//! assert_eq!(manager.get_transitions_log(1)[0].reason, "circuit_open(15s)");
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no cargo features.
//!
//! # The legacy paths, still working
//!
//! The example `cargo run -p compat --example legacy` (every use warns; it allows that):
//!
#![doc = concat!("```\n", include_str!("../examples/legacy.rs"), "\n```")]

pub mod fallback;
pub mod health;
pub mod storage;

#[deprecated(
    since = "0.1.0",
    note = "use `backend::storage` (crates `storage` and `storage-redis`)"
)]
pub mod redis_client;

#[deprecated(since = "0.1.0", note = "use `backend::fallback` (crate `fallback`)")]
pub mod fallback_manager;

#[deprecated(since = "0.1.0", note = "use `backend::health` (crate `health`)")]
pub mod health_monitor;

#[deprecated(
    since = "0.1.0",
    note = "use `backend::health::integrations` (crate `health`)"
)]
pub mod monitoring_integrations;
