//! The original's `backend.redis_client`, deprecated: use [`crate::storage`].
//!
//! Every name here warns when used. The legacy [`RedisClient`] coordination client is
//! `cluster::legacy::RedisClient`: the original's method names and semantics on the same
//! keys (`astra:resilience:leader`, `astra:resilience:vote:{id}`, `astra:health:{id}`) that
//! the `cluster` crate's `Coordinator` uses, so Python and Rust replicas interoperate
//! during a migration; new code runs a `cluster::Coordinator`.
//!
//! ```
//! # #![allow(deprecated)]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use backend::redis_client::{MemoryStorage, RedisAdapter, Storage};
//!
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! storage.set("user:1", serde_json::json!({"name": "alice"}), None).await?;
//! let config = backend::storage::RedisConfig::new("redis://127.0.0.1:6379");
//! let _redis: RedisAdapter = RedisAdapter::from_config(config)?;
//! // An old-path handle goes wherever the new trait is expected.
//! let manager = backend::fallback::FallbackManager::new(storage);
//! # let _ = manager;
//!
//! // The legacy coordination client: the old calls, neutral answers while disconnected
//! // (as the original: `False`, `None`, `{}`), the original's keys.
//! let client = backend::redis_client::RedisClient::new("redis://127.0.0.1:6379")?;
//! assert!(!client.connected());
//! assert!(!client.leader_election("instance-a", 30).await);
//! assert_eq!(client.get_leader().await, None);
//! assert!(client.get_cluster_votes(None).await.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! The same names under `#![deny(deprecated)]` do not compile, one by one:
//!
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::redis_client::MemoryStorage::new();
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let config = backend::storage::RedisConfig::new("redis://127.0.0.1:6379");
//! let _ = backend::redis_client::RedisAdapter::from_config(config);
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<std::sync::Arc<dyn backend::redis_client::Storage>> = None;
//! ```
//! ```compile_fail
//! #![deny(deprecated)]
//! let _ = backend::redis_client::RedisClient::new("redis://127.0.0.1:6379");
//! ```

/// The old name of the [`Storage`](::storage::Storage) trait: a deprecated subtrait that
/// every storage implements. Use it as a bound or behind `dyn` (an
/// `Arc<dyn redis_client::Storage>` converts to `Arc<dyn storage::Storage>`); implement
/// the new trait.
#[deprecated(since = "0.1.0", note = "use `backend::storage::Storage`")]
pub trait Storage: ::storage::Storage {}

#[allow(deprecated, reason = "the blanket impl of the deprecated name itself")]
impl<T: ::storage::Storage + ?Sized> Storage for T {}

/// Brings the new trait's methods into scope for `use backend::redis_client::*`.
pub use ::storage::Storage as _;

/// The old name of [`RedisAdapter`](::storage_redis::RedisAdapter).
#[deprecated(since = "0.1.0", note = "use `backend::storage::RedisAdapter`")]
pub type RedisAdapter = ::storage_redis::RedisAdapter;

/// The old name of [`MemoryStorage`](::storage::MemoryStorage).
#[deprecated(since = "0.1.0", note = "use `backend::storage::MemoryStorage`")]
pub type MemoryStorage = ::storage::MemoryStorage;

/// The original's legacy coordination client, [`cluster::legacy::RedisClient`]: leader
/// election, votes, instance health and state over pub/sub with the original's method
/// names, keys and JSON payloads (each with a `timestamp`).
#[deprecated(
    since = "0.1.0",
    note = "use `cluster::Coordinator` (fenced leases, quorum decisions); `cluster::legacy::RedisClient` keeps the old calls"
)]
pub type RedisClient = ::cluster::legacy::RedisClient;
