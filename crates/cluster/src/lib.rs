//! `cluster` will give many replicas of a service one fallback mode through Redis. This
//! part holds its foundation: the keys and records shared with the original's
//! `RedisClient`, and the store the protocol runs on, whose operations are atomic Lua
//! scripts on Redis ([`RedisStore`]) and the same operations on an in-memory model
//! ([`MemoryStore`]).
//!
//! - **A lease with fencing.** The leader key is taken with `SET NX PX` in a script that
//!   also issues a new **epoch**, kept under `P:resilience:lease`: above every epoch
//!   issued, above the caller's floor and the record's, and at least the store's clock in
//!   milliseconds, so it keeps growing across a store that restarts empty. Renewal and
//!   release compare (id, epoch).
//! - **Fenced decisions.** A [`Decision`] is written by a script that checks the lease is
//!   the writer's with the decision's epoch, that the record has no newer epoch and is
//!   still the one the decision was made from, then announces it on the channel.
//! - **Membership and votes** under the original's keys (`P:health:{id}`,
//!   `P:resilience:vote:{id}`, JSON with a `timestamp`), plus an index of members.
//!
//! What it deliberately does not do: invent a consensus protocol (Redis is the single
//! source of truth).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cluster::Error> {
//! use std::time::Duration;
//! use cluster::{ClusterStore, MemoryStore};
//! use cluster::store::{Acquire, Publication, Publish, Refusal};
//!
//! let store = MemoryStore::new();
//! let Acquire::Granted(epoch) = store.acquire("a", Duration::from_secs(10), 0).await? else {
//!     unreachable!("the lease is free")
//! };
//! assert_eq!(store.acquire("b", Duration::from_secs(10), 0).await?, Acquire::Held("a".into()));
//! # let _ = (epoch, Publication::new, Publish::Published(0), Refusal::Fenced);
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no cargo features.

mod config;
pub use config::{ClusterConfig, Quorum, default_instance_id};

mod error;
pub use error::{Error, Result};

mod keys;
pub use keys::KeySpace;

pub mod record;
pub use record::Decision;

pub mod store;
pub use store::{ClusterStore, MemoryStore, RedisStore};

mod util;
