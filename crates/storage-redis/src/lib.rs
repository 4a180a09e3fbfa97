//! `storage-redis` provides [`RedisAdapter`], the [`storage::Storage`] trait over Redis,
//! built on deadpool-redis.
//!
//! It passes the same conformance suite as `MemoryStorage`, so code written against the
//! trait behaves the same on both. Beyond the trait it adds what a network backend
//! needs: a per-attempt timeout, retries with backoff and jitter for transient failures
//! only, recovery after a server restart without reconnecting by hand, passwords kept out
//! of logs, and an optional key prefix for sharing a database. For crates that need
//! Redis beyond the trait it runs raw commands and Lua scripts
//! ([`RedisAdapter::command`], [`RedisAdapter::script`], retried as their
//! [`Idempotence`] allows), publishes, and subscribes ([`Subscription`]), under the same
//! rules. With the `tls` feature it reaches servers over TLS (`rediss://` URLs, a CA
//! bundle and a client certificate in [`TlsConfig`]; certificate problems are a final
//! [`StorageError::Tls`](storage::StorageError::Tls), never retried). With the
//! `sentinel` feature it finds the master through Redis Sentinel ([`SentinelConfig`]) and
//! follows failovers; with the `cluster` feature it spreads keys over a Redis Cluster
//! ([`ClusterConfig`]), following redirects while slots move. It does not do
//! transactions (`MULTI`), multi-key operations across cluster slots, reads from
//! replicas, or blocking commands longer than the per-attempt timeout.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use serde_json::json;
//! use storage::Storage;
//! use storage_redis::{RedisAdapter, RedisConfig};
//!
//! // The original's configuration keys, verbatim.
//! let config = RedisConfig::from_value(json!({
//!     "redis_url": "redis://localhost:6379",
//!     "timeout": 5.0,
//!     "max_retries": 3,
//!     "retry_delay": 0.5,
//! }))?;
//! let storage = RedisAdapter::from_config(config)?;
//! storage.connect().await?;
//! storage.set("user:1", json!({"name": "alice"}), Some(Duration::from_secs(3600))).await?;
//! assert_eq!(storage.keys("user:*").await?, vec!["user:1"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | Name      | Default | Enables |
//! |-----------|---------|---------|
//! | `tls`     | no      | `rediss://` URLs and [`TlsConfig`], through rustls with the ring provider (installed as the process default when none is) |
//! | `sentinel` | no     | the `sentinel` section ([`SentinelConfig`]): the master found and followed through Redis Sentinel |
//! | `cluster` | no      | the `cluster` section ([`ClusterConfig`]): commands routed by slot, `MOVED`/`ASK` followed, `keys` on every master |
//! | `testing` | no      | `testing`: start, stop, freeze and restart private `redis-server`s (plain or TLS, with test certificates from `openssl`) in tests |

mod adapter;
pub use adapter::RedisAdapter;

mod commands;
pub use commands::Idempotence;

mod subscription;
pub use subscription::{Message, Subscription};

mod config;
pub use config::{ClusterConfig, RedisConfig, SentinelConfig, TlsConfig, redact_url};

mod error;
pub use error::ConfigError;

#[cfg(feature = "cluster")]
mod cluster_scan;
mod policy;
#[cfg(feature = "tls")]
mod tls;
mod topology;

#[cfg(feature = "testing")]
pub mod testing;
