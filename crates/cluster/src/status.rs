//! What [`Coordinator::status`](crate::Coordinator::status) reports, as
//! `GET /cluster/status` serves it, and what the operator's calls return.

use std::fmt;

use fallback::FallbackMode;
use serde::Serialize;

use crate::record::{Decision, MemberHealth, OverrideRequest, Stamp, VoteTally};

/// A snapshot of one instance's view of the cluster. Serializes as JSON for
/// `GET /cluster/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClusterStatus {
    /// This instance.
    pub instance_id: String,
    /// Whether it follows the cluster's decisions, and why not.
    pub coordination: CoordinationStatus,
    /// Whether it leads.
    pub role: Role,
    /// The leader as last read (an instance of the original may hold the key).
    pub leader: Option<String>,
    /// The epoch of the current lease, as last read.
    pub epoch: Option<u64>,
    /// The mode this instance runs in now.
    pub mode: FallbackMode,
    /// The mode its own health calls for: its vote.
    pub local_vote: Option<FallbackMode>,
    /// The live members, as last listed.
    pub members: Vec<MemberStatus>,
    /// Their votes, counted as the leader counts them.
    pub votes: Option<VoteTally>,
    /// The last decision this instance applied, with its reason.
    pub decision: Option<Decision>,
    /// Why the mode is what it is now: the leader's last verdict (e.g. "2 of 5 live
    /// members voted (quorum 3): ... no quorum, nothing changes"), the decision's reason,
    /// or why this instance cascades on its own.
    pub why: String,
    /// The operator's request waiting in the store for the leader, if any.
    pub operator_request: Option<OverrideRequest>,
    /// An operator's request made here while the store was unreachable, to be stored
    /// when it answers again.
    pub undelivered_request: Option<String>,
}

/// Whether an instance follows the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CoordinationStatus {
    /// The state.
    pub state: Coordination,
    /// Why, when it does not follow the cluster.
    pub reason: Option<String>,
    /// Seconds in this state.
    pub since_seconds: f64,
}

/// How an instance chooses its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Coordination {
    /// It has not reached the store yet: it cascades on its own.
    Starting,
    /// It follows the cluster's decisions (or, before the first decision, cascades on
    /// its own while it votes).
    Coordinated,
    /// The store is unreachable: it keeps its mode and cascades on its own.
    Local,
    /// The coordinator stopped: the manager cascades on its own.
    Stopped,
}

impl Coordination {
    /// `"starting"`, `"coordinated"`, `"local"` or `"stopped"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Coordinated => "coordinated",
            Self::Local => "local",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Coordination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an instance leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// It holds the lease and decides.
    Leader,
    /// It applies the leader's decisions.
    Follower,
}

/// One member in [`ClusterStatus::members`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MemberStatus {
    /// Its id.
    pub id: String,
    /// The mode it runs in.
    pub mode: FallbackMode,
    /// Its fresh vote, if any.
    pub vote: Option<FallbackMode>,
    /// Its health.
    pub health: MemberHealth,
    /// Its version.
    pub version: String,
    /// The last decision it applied.
    pub applied: Option<Stamp>,
    /// Whether it follows the cluster.
    pub coordination: String,
    /// Whether it leads.
    pub leader: bool,
    /// When its heartbeat was written.
    pub last_seen: String,
}

/// What became of an operator's override, hold or release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "delivery", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Delivery {
    /// The leader decided it and this instance applied the decision: every instance
    /// applies it.
    Applied {
        /// The decision.
        stamp: Stamp,
    },
    /// Stored for the leader, not decided yet (e.g. a leader is being elected): every
    /// instance applies it once one decides.
    Requested,
    /// The store is unreachable: applied here only, and stored for the cluster as soon
    /// as the store answers.
    Pending {
        /// Why the store was not reached.
        reason: String,
    },
}
