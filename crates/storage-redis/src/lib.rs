//! `storage-redis` provides [`RedisAdapter`], the [`storage::Storage`] trait over Redis,
//! built on redis-rs and deadpool-redis.
//!
//! It passes the same conformance suite as `MemoryStorage`, so code written against the
//! trait behaves the same on both. Beyond the trait it adds what a network backend
//! needs: a per-attempt timeout, retries with backoff and jitter for transient failures
//! only (never re-sending a non-idempotent command that may have run), recovery after a
//! server restart or failover without reconnecting by hand, passwords and keys kept out
//! of logs, and an optional key prefix for sharing a database.
//!
//! **Deployments** ([`RedisConfig`]): one server (`redis_url`, the original's keys); over
//! TLS with `rediss://` and an optional [`TlsConfig`] (feature `tls`; a certificate
//! problem is a final [`StorageError::Tls`](storage::StorageError::Tls), never retried);
//! a master found and followed through Redis Sentinel ([`SentinelConfig`], feature
//! `sentinel`); or a Redis Cluster ([`ClusterConfig`], feature `cluster`), each command
//! sent to the master of its key's slot and `keys` scanning every master.
//!
//! **Beyond the trait**, for crates that need more of Redis: raw commands and Lua scripts
//! ([`RedisAdapter::command`], [`RedisAdapter::script`], retried as their [`Idempotence`]
//! allows), `PUBLISH` and subscriptions ([`Subscription`]), under the same rules and on
//! every deployment.
//!
//! What it deliberately does not do: transactions (`MULTI`), multi-key operations across
//! cluster slots, reads from replicas, blocking commands longer than the per-attempt
//! timeout, and certificate checks that can be switched off.
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
