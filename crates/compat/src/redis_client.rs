//! The original's `backend.redis_client`, deprecated: use [`crate::storage`].
//!
//! Every name here warns when used. The legacy `RedisClient` coordination client is not
//! ported yet (it arrives with cluster coordination).
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
