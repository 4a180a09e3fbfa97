//! The store the protocol runs on: the [`ClusterStore`] trait, the handful of atomic
//! operations it needs, and what they exchange.
//!
//! Two implementations: [`RedisStore`] (Lua scripts on a real Redis)
//! and [`MemoryStore`] (the same operations on an in-memory model, on
//! tokio's clock, for tests and deterministic simulations). The coordinator's code is the
//! same for both.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::Result;
use crate::record::{Decision, Heartbeat, Member, OverrideRequest, Stamp, Vote};

mod memory;
pub use memory::MemoryStore;

mod redis_store;
pub(crate) use redis_store::Connection;
pub use redis_store::RedisStore;

/// The atomic operations of the protocol. Each is one round trip (one script on Redis),
/// so that what it checks and what it writes cannot be separated by another instance.
///
/// Implementations report failures as errors and protocol outcomes (a lease held by
/// another, a refused decision) as values. They need not bound their own time: the
/// coordinator gives each call [`ClusterConfig::effective_command_timeout`] and treats a
/// call it gave up on as one whose effect is unknown (it may still land).
///
/// [`ClusterConfig::effective_command_timeout`]: crate::ClusterConfig::effective_command_timeout
#[async_trait]
pub trait ClusterStore: Send + Sync + fmt::Debug {
    /// Writes `beat`'s heartbeat and vote (each with its TTL) and its membership, renews
    /// its lease if it asks to and still holds it with that epoch (compare-and-renew), and
    /// reads the cluster's state (lists the members if asked).
    async fn heartbeat(&self, beat: &Beat) -> Result<Observation>;

    /// Takes the lease for `ttl` if it is free or already `instance_id`'s, and issues a
    /// new epoch: above every one issued, above `floor` and the decision record's, and at
    /// least the store's clock in milliseconds (so it keeps growing across a store that
    /// restarts empty).
    async fn acquire(&self, instance_id: &str, ttl: Duration, floor: u64) -> Result<Acquire>;

    /// Frees the lease if `instance_id` holds it with `epoch` (compare-and-delete), and
    /// hints the others to take it; whether it did.
    async fn step_down(&self, instance_id: &str, epoch: u64) -> Result<bool>;

    /// Writes `publication`'s decision if its leader holds the lease with its epoch, the
    /// record has no newer epoch and is still at the sequence number expected; then
    /// announces it on the channel.
    async fn publish(&self, publication: &Publication<'_>) -> Result<Publish>;

    /// The decision record, if there is one (and it can be read).
    async fn read_decision(&self) -> Result<Option<Decision>>;

    /// The live members, with their heartbeats and votes.
    async fn members(&self) -> Result<Vec<Member>>;

    /// Stores an operator's request for `ttl` (`None`: until cleared or carried out) and
    /// hints the leader.
    async fn request(&self, request: &OverrideRequest, ttl: Option<Duration>) -> Result<()>;

    /// Deletes the operator's request (a release) and hints the leader; whether there was
    /// one.
    async fn clear_request(&self) -> Result<bool>;

    /// Subscribes to the channel of hints. The subscription ends (yields `None`) when its
    /// connection does; hints are at most once, so subscribers read the record again after
    /// (re)subscribing.
    async fn subscribe(&self) -> Result<Hints>;
}

/// What one heartbeat writes and asks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Beat {
    /// The instance.
    pub instance_id: String,
    /// Its heartbeat, kept for [`member_ttl`](Self::member_ttl).
    pub heartbeat: Heartbeat,
    /// Its vote, kept for [`vote_ttl`](Self::vote_ttl); `None` abstains (the previous
    /// vote expires).
    pub vote: Option<Vote>,
    /// How long the heartbeat (and the membership) lives.
    pub member_ttl: Duration,
    /// How long the vote lives.
    pub vote_ttl: Duration,
    /// The lease to renew, if the instance leads.
    pub renew: Option<Renewal>,
    /// Whether to list the members (the leader does, to count the vote).
    pub list_members: bool,
}

impl Beat {
    /// A heartbeat of `instance_id` that renews nothing and lists nothing.
    #[must_use]
    pub fn new(instance_id: &str, heartbeat: Heartbeat, vote: Option<Vote>) -> Self {
        Self {
            instance_id: instance_id.to_owned(),
            heartbeat,
            vote,
            member_ttl: Duration::from_secs(3),
            vote_ttl: Duration::from_secs(3),
            renew: None,
            list_members: false,
        }
    }
}

/// A lease to renew: compare-and-renew succeeds only while the lease is still this
/// epoch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Renewal {
    /// The lease's epoch.
    pub epoch: u64,
    /// The new time to live.
    pub ttl: Duration,
}

impl Renewal {
    /// Renew the lease of `epoch` for `ttl`.
    #[must_use]
    pub const fn new(epoch: u64, ttl: Duration) -> Self {
        Self { epoch, ttl }
    }
}

/// The cluster's state as one heartbeat read it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// The store's clock, milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// Whether the lease asked for was renewed.
    pub renewed: bool,
    /// The leader, if any (an instance of the original holds the key without a lease).
    pub leader: Option<String>,
    /// The epoch of the current lease, if any.
    pub lease_epoch: Option<u64>,
    /// How long the leader key has left (`None`: no leader, or no expiry).
    pub lease_remaining: Option<Duration>,
    /// The epoch counter.
    pub epoch_counter: u64,
    /// The decision record (`None`: none, or unreadable).
    pub decision: Option<Decision>,
    /// The operator's pending request and the time it has left (`None`: no expiry).
    pub operator: Option<(OverrideRequest, Option<Duration>)>,
    /// How many members have a fresh heartbeat.
    pub live_members: usize,
    /// The members, when asked for.
    pub members: Option<Vec<Member>>,
}

/// The outcome of [`ClusterStore::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acquire {
    /// The lease is the caller's, with this epoch.
    Granted(u64),
    /// Another instance holds it.
    Held(String),
}

/// A decision to write, fenced.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Publication<'a> {
    /// The decision; its `leader` and `epoch` are checked against the lease.
    pub decision: &'a Decision,
    /// The sequence number of the record it was decided from (0: none).
    pub expected_seq: u64,
    /// A one-shot request it carries out, deleted with it if still there.
    pub consume: Option<&'a str>,
    /// A hold request to write back with it, and the time it has left.
    pub restore: Option<(&'a OverrideRequest, Option<Duration>)>,
}

impl<'a> Publication<'a> {
    /// `decision`, decided from the record at `expected_seq`.
    #[must_use]
    pub const fn new(decision: &'a Decision, expected_seq: u64) -> Self {
        Self {
            decision,
            expected_seq,
            consume: None,
            restore: None,
        }
    }
}

/// The outcome of [`ClusterStore::publish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Publish {
    /// Written and announced to this many subscribers.
    Published(u64),
    /// Refused, and why.
    Refused(Refusal),
}

/// Why the store refused a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Another instance (or none) holds the lease.
    NotLeader,
    /// The lease has another epoch (or expired): the writer was fenced off.
    Fenced,
    /// The record has a newer epoch.
    Stale,
    /// The record changed since the decision was made from it.
    Conflict,
}

impl Refusal {
    /// Whether the writer no longer leads (and must stop acting as leader).
    #[must_use]
    pub const fn lost_lease(self) -> bool {
        matches!(self, Self::NotLeader | Self::Fenced | Self::Stale)
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "not_leader" => Some(Self::NotLeader),
            "fenced" => Some(Self::Fenced),
            "stale" => Some(Self::Stale),
            "conflict" => Some(Self::Conflict),
            _ => None,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotLeader => "another instance holds the lease",
            Self::Fenced => "the lease has another epoch",
            Self::Stale => "the record has a newer epoch",
            Self::Conflict => "the record changed meanwhile",
        })
    }
}

/// A hint on the channel: something changed, read the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// A decision was written.
    Decision(Stamp),
    /// An operator asked for (or released) an override or a hold.
    Operator,
    /// The leader stepped down: the lease is free.
    Lease,
}

impl Hint {
    /// The hint a channel message carries, if it is one of this protocol's (the original
    /// publishes other documents on the same channel).
    #[must_use]
    pub fn parse(payload: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Message {
            kind: String,
            #[serde(default)]
            epoch: u64,
            #[serde(default)]
            seq: u64,
        }
        let message: Message = serde_json::from_slice(payload).ok()?;
        match message.kind.as_str() {
            "decision" => Some(Self::Decision(Stamp::new(message.epoch, message.seq))),
            "override" | "release" => Some(Self::Operator),
            "lease_released" => Some(Self::Lease),
            _ => None,
        }
    }
}

/// A subscription to the channel of hints. `None` from [`next`](Self::next) means the
/// subscription ended.
#[derive(Debug)]
pub struct Hints {
    receiver: mpsc::Receiver<Hint>,
}

impl Hints {
    /// Hints arriving on `receiver`; the subscription ends when every sender is dropped.
    #[must_use]
    pub const fn new(receiver: mpsc::Receiver<Hint>) -> Self {
        Self { receiver }
    }

    /// The next hint, `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Hint> {
        self.receiver.recv().await
    }
}

/// The JSON of an operator's release, published as a hint.
pub(crate) const RELEASE_HINT: &str = r#"{"kind":"release"}"#;

/// The JSON of a leader stepping down, published as a hint.
pub(crate) const LEASE_HINT: &str = r#"{"kind":"lease_released"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_read_from_this_protocols_messages_only() {
        assert_eq!(
            Hint::parse(br#"{"kind":"decision","epoch":3,"seq":9,"mode":"safe"}"#),
            Some(Hint::Decision(Stamp::new(3, 9)))
        );
        assert_eq!(
            Hint::parse(br#"{"kind":"override","id":"x"}"#),
            Some(Hint::Operator)
        );
        assert_eq!(Hint::parse(RELEASE_HINT.as_bytes()), Some(Hint::Operator));
        assert_eq!(Hint::parse(LEASE_HINT.as_bytes()), Some(Hint::Lease));
        // The original's state documents share the channel.
        assert_eq!(
            Hint::parse(
                br#"{"instance_id":"astra-1","is_leader":true,"timestamp":"t","state":{}}"#
            ),
            None
        );
        assert_eq!(Hint::parse(b"not json"), None);
    }
}
