//! `storage` is the key-value layer every other crate of the workspace keeps its state in:
//! one async [`Storage`] trait holding JSON values, with per-key expiry, Redis-glob key
//! listing and atomic counters, and [`MemoryStorage`], the embedded default.
//!
//! Backends live in their own crates (`storage-redis` provides `RedisAdapter`) and are
//! used through `Arc<dyn Storage>`, so code written against the trait runs unchanged on
//! either. What the crate deliberately does not do: transactions, pub/sub, or any
//! structure beyond a JSON value per key.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> storage::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use serde_json::json;
//! use storage::{MemoryStorage, Storage, StorageError};
//!
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! storage.connect().await?;
//!
//! storage.set("user:1", json!({"name": "alice"}), Some(Duration::from_secs(3600))).await?;
//! assert_eq!(storage.get("user:1").await?, Some(json!({"name": "alice"})));
//! assert_eq!(storage.get("user:2").await?, None); // missing is not an error
//!
//! assert_eq!(storage.increment("logins", 1).await?, 1); // counters are ordinary keys
//! assert_eq!(storage.get("logins").await?, Some(json!(1)));
//! assert!(matches!(
//!     storage.increment("user:1", 1).await,
//!     Err(StorageError::WrongType { .. })
//! ));
//!
//! assert_eq!(storage.keys("user:[0-9]*").await?, vec!["user:1"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | Name      | Default | Enables |
//! |-----------|---------|---------|
//! | `testing` | no      | `storage::testing`: the conformance suite a backend must pass |

mod error;
pub use error::{BoxError, Operation, Result, StorageError};

mod glob;
pub use glob::{GlobPattern, MAX_STAR_NESTING, escape_glob, glob_match};

mod store;
pub use store::Storage;

mod typed;
pub use typed::StorageExt;

mod memory;
pub use memory::{DEFAULT_SWEEP_INTERVAL, MemoryStorage, MemoryStorageBuilder};

#[cfg(feature = "testing")]
pub mod testing;
