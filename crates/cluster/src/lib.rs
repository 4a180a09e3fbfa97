//! `cluster` gives many replicas of a service one fallback mode, through Redis: each
//! replica's [`Coordinator`] heartbeats and votes the mode its own health calls for, one
//! replica holds a fenced lease and decides by quorum, and every replica applies the
//! decisions, in order, to its [`fallback::FallbackManager`].
//!
//! - **Membership.** Every [`heartbeat_interval`](ClusterConfig::heartbeat_interval)
//!   (1 s) each instance writes `{id, mode, health, version, applied, last_seen}` under
//!   `P:health:{id}` with a TTL of three heartbeats, and its vote under
//!   `P:resilience:vote:{id}`; the members are those with a fresh heartbeat.
//! - **A lease with fencing.** The leader key is taken with `SET NX PX` in a script that
//!   also issues a new **epoch** (`INCR`, never below an epoch seen before) and keeps it
//!   under `P:resilience:lease`; renewal and release are compare-and-set scripts on
//!   (id, epoch). A leader acts only while its lease is valid on its own monotonic clock,
//!   measured from before the command that took or renewed it, minus drift.
//! - **Votes and quorum.** The leader counts the live members' fresh votes: with a
//!   [`Quorum`] (default: more than half of the live members) it decides the most
//!   degraded mode that a quorum votes at or above (SAFE, SAFE, PRIMARY: SAFE; SAFE,
//!   HEURISTIC, PRIMARY: HEURISTIC); without one nothing changes and the status says why
//!   ("2 of 5 live members voted (quorum 3)"). A [`fallback::Hysteresis`] damps the
//!   cluster's recoveries as it damps a manager's.
//! - **Fenced, ordered decisions.** A [`Decision`] is written by a script that checks the
//!   lease is the writer's with the decision's epoch and the record is the one it
//!   decided from, then announces it on `P:resilience:state`. Every instance applies
//!   decisions in `(epoch, seq)` order and refuses older ones, so a leader paused past
//!   its lease publishes and applies nothing stale. Pub/sub is only a hint: the record is
//!   read at every heartbeat, at start and after every (re)subscription.
//! - **Operators.** [`Coordinator::hold`], [`Coordinator::override_mode`] and
//!   [`Coordinator::release`] on any instance become cluster decisions; a hold is kept
//!   (with its expiry) in the store and the record, so it survives restarts of every
//!   instance, and of a Redis that lost its data while a replica remembers it.
//! - **Redis unreachable.** Every instance keeps its last mode, cascades locally (the
//!   manager's own cascade), says so in its [`ClusterStatus`], and converges on the
//!   record when Redis answers again. No instance stops serving because Redis is gone.
//! - **The original's keys.** `astra:resilience:leader` (holding the instance id),
//!   `astra:resilience:vote:{id}` and `astra:health:{id}` (JSON with a `timestamp`) under
//!   a configurable prefix ([`KeySpace`]), and the original's `RedisClient` in
//!   [`legacy`], so a fleet moves over replica by replica.
//! - **Metrics** through an optional [`health_sinks::MetricsSink`]: members, leader
//!   changes, decisions applied, stale decisions refused, coordination
//!   ([`METRIC_DESCRIPTIONS`]).
//!
//! What it deliberately does not do: invent a consensus protocol (Redis is the single
//! source of truth; on a primary that loses acknowledged writes in a failover the epoch
//! may repeat, see [`RedisStore`]), gather health or decide a single instance's mode
//! (the manager's policy does, and its result is the vote), or serve HTTP (the server
//! does, from [`Coordinator::status`] and the operator calls).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use cluster::{ClusterConfig, Coordinator, MemoryStore};
//! use fallback::{FallbackManager, FallbackMode};
//!
//! // Two replicas on one store (a `MemoryStore` here; `.redis(RedisConfig)` in production).
//! let store = Arc::new(MemoryStore::new());
//! let mut config = ClusterConfig::default();
//! config.heartbeat_interval = Duration::from_millis(20);
//! config.vote_ttl = Duration::from_millis(60);
//! config.lease_ttl = Duration::from_millis(200);
//! let replica = |id: &str| {
//!     Coordinator::builder(Arc::new(FallbackManager::in_memory()))
//!         .config(config.clone())
//!         .instance_id(id)
//!         .store(store.clone())
//!         .build()
//! };
//! let (a, b) = (replica("a")?, replica("b")?);
//! let (running_a, running_b) = (a.spawn(), b.spawn());
//!
//! // An operator holds SAFE on `a`: the leader decides it, both apply it.
//! let delivery = a.hold(FallbackMode::Safe, None).await?;
//! println!("{delivery:?}");
//! let decision = store.decision().expect("a decision");
//! b.wait_for_decision(decision.stamp()).await;
//! assert_eq!(b.manager().get_current_mode(), FallbackMode::Safe);
//! assert!(b.manager().current_hold().is_some());
//! assert!(b.status().await.decision.is_some_and(|d| d.held));
//!
//! running_a.stop().await;
//! running_b.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no cargo features.

mod config;
pub use config::{ClusterConfig, Quorum, default_instance_id};

mod coordinator;
pub use coordinator::{Coordinator, CoordinatorBuilder, Running};

mod decide;

mod error;
pub use error::{Error, Result};

mod keys;
pub use keys::KeySpace;

pub mod legacy;

mod metrics;
pub use metrics::{
    COORDINATED_METRIC, DECISIONS_METRIC, LEADER_CHANGES_METRIC, MEMBERS_METRIC,
    METRIC_DESCRIPTIONS, STALE_DECISIONS_METRIC,
};

pub mod record;
pub use record::Decision;

pub mod status;
pub use status::ClusterStatus;

pub mod store;
pub use store::{ClusterStore, MemoryStore, RedisStore};

mod util;
