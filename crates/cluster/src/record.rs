//! What the protocol writes to the store: the decision record, votes, heartbeats and
//! operator requests, as JSON. Readers are lenient (unknown fields are ignored, missing
//! ones take defaults), so replicas of other versions, and the original's `RedisClient`,
//! can share the keys.

use std::fmt;
use std::time::{Duration, SystemTime};

use fallback::FallbackMode;
use health_model::{CircuitState, HealthState, SystemStatus, Timestamp};
use serde::{Deserialize, Serialize};

/// A decision's place in the cluster's history: the epoch of the lease it was made
/// under, then its sequence number. Decisions are applied in this order, and one not
/// newer than the last applied is refused.
///
/// `seq` grows by one with every decision, across epochs; after a store that lost its
/// data it may restart, but the epoch then grows past every one seen, so the order holds.
///
/// ```
/// use cluster::record::Stamp;
///
/// assert!(Stamp::new(2, 1) > Stamp::new(1, 9));
/// assert!(Stamp::new(2, 3) > Stamp::new(2, 2));
/// assert_eq!(Stamp::new(4, 7).to_string(), "4/7");
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Stamp {
    /// The lease epoch the decision was made under.
    pub epoch: u64,
    /// The decision's sequence number.
    pub seq: u64,
}

impl Stamp {
    /// The stamp `epoch/seq`.
    #[must_use]
    pub const fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.epoch, self.seq)
    }
}

/// The cluster's decision: which mode every replica runs in, and why. Only the leader
/// writes one, under its lease, through a fenced compare-and-set; it is kept under
/// `P:resilience:decision` and announced on `P:resilience:state`.
///
/// Serialized as `{"kind": "decision", "epoch": 3, "seq": 12, "mode": "safe", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "decision")]
#[non_exhaustive]
pub struct Decision {
    /// The lease epoch it was made under.
    pub epoch: u64,
    /// Its sequence number.
    pub seq: u64,
    /// The mode decided.
    pub mode: FallbackMode,
    /// Why: the vote and quorum, or the operator's request, plus hysteresis notes.
    pub reason: String,
    /// Whether the mode is held by an operator: no vote changes it while held.
    pub held: bool,
    /// When the hold ends, in milliseconds since the Unix epoch on the store's clock
    /// (`None`: until released, or not held).
    #[serde(default)]
    pub hold_expires_at_ms: Option<u64>,
    /// The leader that made it.
    pub leader: String,
    /// The vote it was made on.
    #[serde(default)]
    pub votes: VoteTally,
    /// The operator's request it carries out, if any.
    #[serde(default)]
    pub operator: Option<OverrideRequest>,
    /// When it was made, in milliseconds since the Unix epoch on the store's clock.
    pub decided_at_ms: u64,
    /// Since when the cluster has been in `mode` (the store's clock, milliseconds), for
    /// the hysteresis' dwell time.
    pub mode_since_ms: u64,
    /// `decided_at_ms` as RFC 3339, for people (the original's records carry a
    /// `timestamp`).
    #[serde(default)]
    pub timestamp: String,
}

impl Decision {
    /// Its place in the cluster's history.
    #[must_use]
    pub const fn stamp(&self) -> Stamp {
        Stamp::new(self.epoch, self.seq)
    }

    /// How long the hold has left at `now_ms` (the store's clock): `None` when not held
    /// or held until released; zero once expired.
    #[must_use]
    pub fn hold_remaining(&self, now_ms: u64) -> Option<Duration> {
        if !self.held {
            return None;
        }
        self.hold_expires_at_ms
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms)))
    }

    /// Whether `other` decides the same thing (mode, hold and the operator's request),
    /// whatever its stamp, reason or time.
    #[must_use]
    pub fn same_outcome(&self, other: &Self) -> bool {
        self.mode == other.mode
            && self.held == other.held
            && self.operator.as_ref().map(|o| &o.id) == other.operator.as_ref().map(|o| &o.id)
    }
}

/// How the live members voted, as the leader counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct VoteTally {
    /// Members with a fresh heartbeat.
    pub live: u32,
    /// Live members with a fresh vote.
    pub voted: u32,
    /// Votes needed for a decision.
    pub needed: u32,
    /// Votes for PRIMARY.
    pub primary: u32,
    /// Votes for HEURISTIC.
    pub heuristic: u32,
    /// Votes for SAFE.
    pub safe: u32,
}

impl VoteTally {
    /// Counts `votes` (one per live member that voted) among `live` members.
    #[must_use]
    pub fn count(
        live: usize,
        needed: usize,
        votes: impl IntoIterator<Item = FallbackMode>,
    ) -> Self {
        let mut tally = Self {
            live: saturate(live),
            needed: saturate(needed),
            ..Self::default()
        };
        for vote in votes {
            tally.voted = tally.voted.saturating_add(1);
            let slot = match vote {
                FallbackMode::Primary => &mut tally.primary,
                FallbackMode::Heuristic => &mut tally.heuristic,
                FallbackMode::Safe => &mut tally.safe,
            };
            *slot = slot.saturating_add(1);
        }
        tally
    }

    /// Whether enough members voted.
    #[must_use]
    pub const fn has_quorum(&self) -> bool {
        self.voted >= self.needed
    }

    /// Votes for `mode` or a more degraded one.
    #[must_use]
    pub const fn at_or_above(&self, mode: FallbackMode) -> u32 {
        match mode {
            FallbackMode::Safe => self.safe,
            FallbackMode::Heuristic => self.safe.saturating_add(self.heuristic),
            FallbackMode::Primary => self.voted,
        }
    }

    /// The most degraded mode that a quorum votes at or above (a median: SAFE, SAFE,
    /// PRIMARY decide SAFE; SAFE, HEURISTIC, PRIMARY decide HEURISTIC), or `None` without
    /// quorum.
    ///
    /// ```
    /// use cluster::record::VoteTally;
    /// use fallback::FallbackMode::{Heuristic, Primary, Safe};
    ///
    /// assert_eq!(VoteTally::count(3, 2, [Safe, Safe, Primary]).decided(), Some(Safe));
    /// assert_eq!(VoteTally::count(3, 2, [Safe, Heuristic, Primary]).decided(), Some(Heuristic));
    /// assert_eq!(VoteTally::count(5, 3, [Safe, Safe]).decided(), None);
    /// ```
    #[must_use]
    pub fn decided(&self) -> Option<FallbackMode> {
        if !self.has_quorum() {
            return None;
        }
        FallbackMode::ALL
            .into_iter()
            .rev()
            .find(|&mode| self.at_or_above(mode) >= self.needed)
    }
}

impl fmt::Display for VoteTally {
    /// `3 of 3 live members voted (quorum 2): safe=2 heuristic=0 primary=1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} live members voted (quorum {}): safe={} heuristic={} primary={}",
            self.voted, self.live, self.needed, self.safe, self.heuristic, self.primary
        )
    }
}

fn saturate(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// An operator's request, kept under `P:resilience:override` until the leader carries
/// it out: a one-shot override (consumed by the decision), or a hold (kept, with the
/// hold's expiry, until it ends or is released).
///
/// Serialized as `{"kind": "override", "id": ..., "mode": "safe", "hold": true, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "override")]
#[non_exhaustive]
pub struct OverrideRequest {
    /// Unique per request.
    pub id: String,
    /// The mode asked for.
    pub mode: FallbackMode,
    /// A hold (kept until released or expired) rather than a one-shot override.
    pub hold: bool,
    /// The hold's length as asked, in milliseconds (`None`: until released).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The instance the operator asked.
    pub requested_by: String,
    /// When, for people (RFC 3339).
    #[serde(default)]
    pub timestamp: String,
}

/// A member's health, as its heartbeat carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MemberHealth {
    /// The overall verdict: `healthy`, `degraded`, `failed` or `unknown`.
    pub status: String,
    /// Failed components (and unhealthy checks).
    pub failed_components: u64,
    /// The circuit breaker's state: `CLOSED`, `OPEN`, `HALF_OPEN` or `UNKNOWN`.
    pub circuit_breaker_state: String,
    /// The original's score: 1.0 healthy, 0.6 degraded, 0.5 unknown, 0.0 failed.
    pub health_score: f64,
}

impl Default for MemberHealth {
    fn default() -> Self {
        Self {
            status: "unknown".to_owned(),
            failed_components: 0,
            circuit_breaker_state: CircuitState::Unknown.as_str().to_owned(),
            health_score: 0.5,
        }
    }
}

impl MemberHealth {
    /// The summary of `state`.
    #[must_use]
    pub fn of(state: &HealthState) -> Self {
        let (status, health_score) = match state.system.status {
            SystemStatus::Healthy => ("healthy", 1.0),
            SystemStatus::Degraded => ("degraded", 0.6),
            SystemStatus::Failed => ("failed", 0.0),
            SystemStatus::Unknown => ("unknown", 0.5),
        };
        Self {
            status: status.to_owned(),
            failed_components: state.system.failed_components,
            circuit_breaker_state: state.circuit_breaker.state.as_str().to_owned(),
            health_score,
        }
    }
}

/// An instance's vote, under `P:resilience:vote:{id}`, in the original's shape
/// (`fallback_mode`, `circuit_breaker_state`, `health_score`, `timestamp`) plus its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vote {
    /// The voter.
    #[serde(default)]
    pub instance_id: String,
    /// The mode its own health calls for.
    pub fallback_mode: FallbackMode,
    /// Its circuit breaker's state.
    #[serde(default)]
    pub circuit_breaker_state: String,
    /// Its health score.
    #[serde(default)]
    pub health_score: f64,
    /// When it voted, for people.
    #[serde(default)]
    pub timestamp: String,
}

impl Vote {
    /// `instance_id`'s vote for `mode`, with its health.
    #[must_use]
    pub fn new(instance_id: &str, mode: FallbackMode, health: &MemberHealth) -> Self {
        Self {
            instance_id: instance_id.to_owned(),
            fallback_mode: mode,
            circuit_breaker_state: health.circuit_breaker_state.clone(),
            health_score: health.health_score,
            timestamp: now_rfc3339(),
        }
    }
}

/// An instance's heartbeat, under `P:health:{id}`: who it is, the mode it runs, its
/// health, its version, the last decision it applied and when it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Heartbeat {
    /// The instance.
    pub instance_id: String,
    /// The mode it runs in.
    pub mode: FallbackMode,
    /// Its health.
    pub health: MemberHealth,
    /// Its health score, at the top level where the original reads it.
    pub health_score: f64,
    /// The version of this crate it runs.
    pub version: String,
    /// The last decision it applied.
    pub applied: Option<Stamp>,
    /// The newest lease epoch it has seen: a leader whose epoch is older steps down (the
    /// store lost data after issuing the newer one) and takes a lease above it.
    pub epoch_seen: u64,
    /// Whether it follows the cluster (`coordinated`) or cascades alone (`local`).
    pub coordination: String,
    /// Whether it leads.
    pub leader: bool,
    /// When it wrote this heartbeat (RFC 3339); `timestamp` holds the same, for the
    /// original.
    pub last_seen: String,
    /// The original's field.
    pub timestamp: String,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            instance_id: String::new(),
            mode: FallbackMode::Primary,
            health: MemberHealth::default(),
            health_score: 0.5,
            version: String::new(),
            applied: None,
            epoch_seen: 0,
            coordination: String::new(),
            leader: false,
            last_seen: String::new(),
            timestamp: String::new(),
        }
    }
}

/// A live member, as listed from the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Member {
    /// Its id.
    pub id: String,
    /// Its last heartbeat.
    pub heartbeat: Heartbeat,
    /// Its fresh vote, if it has one.
    pub vote: Option<FallbackMode>,
}

impl Member {
    /// A member from its id, heartbeat and vote.
    #[must_use]
    pub const fn new(id: String, heartbeat: Heartbeat, vote: Option<FallbackMode>) -> Self {
        Self {
            id,
            heartbeat,
            vote,
        }
    }
}

/// The current time as RFC 3339 with microseconds.
pub(crate) fn now_rfc3339() -> String {
    Timestamp::now().to_string()
}

/// A time on the store's clock (milliseconds since the Unix epoch) as RFC 3339.
pub(crate) fn rfc3339_of_ms(ms: u64) -> String {
    Timestamp::from_system_time(SystemTime::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Reads a vote leniently: any JSON object whose `fallback_mode` names a mode (any
/// case), as the original's and this crate's votes do.
pub(crate) fn parse_vote(text: &str) -> Option<FallbackMode> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("fallback_mode")?.as_str()?.parse().ok()
}

/// Reads a heartbeat leniently: the original's health documents read too, with defaults
/// for what they lack.
pub(crate) fn parse_heartbeat(id: &str, text: &str) -> Heartbeat {
    let mut heartbeat: Heartbeat = serde_json::from_str(text).unwrap_or_default();
    if heartbeat.instance_id.is_empty() {
        id.clone_into(&mut heartbeat.instance_id);
    }
    heartbeat
}

#[cfg(test)]
mod tests {
    use super::*;
    use FallbackMode::{Heuristic, Primary, Safe};
    use serde_json::json;

    #[test]
    fn the_median_rule_decides_the_most_degraded_mode_a_quorum_reaches() {
        fn check(
            live: usize,
            needed: usize,
            votes: &[FallbackMode],
            expected: Option<FallbackMode>,
        ) {
            let tally = VoteTally::count(live, needed, votes.iter().copied());
            assert_eq!(tally.decided(), expected, "{tally}");
        }
        check(3, 2, &[Safe, Safe, Primary], Some(Safe));
        check(3, 2, &[Safe, Heuristic, Primary], Some(Heuristic));
        check(3, 2, &[Primary, Primary, Safe], Some(Primary));
        check(3, 2, &[Safe, Heuristic], Some(Heuristic));
        check(3, 2, &[Safe], None);
        check(5, 3, &[Safe, Safe, Primary], Some(Primary));
        check(
            5,
            3,
            &[Safe, Safe, Heuristic, Primary, Primary],
            Some(Heuristic),
        );
        check(1, 1, &[Safe], Some(Safe));
        check(4, 3, &[Safe, Safe, Heuristic], Some(Heuristic));
        check(2, 5, &[Safe, Safe], None);
    }

    #[test]
    fn stamps_order_by_epoch_then_seq() {
        fn check(older: (u64, u64), newer: (u64, u64)) {
            let (older, newer) = (Stamp::new(older.0, older.1), Stamp::new(newer.0, newer.1));
            assert!(older < newer, "{older} < {newer}");
        }
        check((1, 1), (1, 2));
        check((1, 9), (2, 1));
        // A seq that restarted after the store lost its data: the epoch decides.
        check((5, 40), (6, 1));
        check((0, 0), (1, 0));
        assert_eq!(Stamp::new(3, 4), Stamp::new(3, 4));
    }

    #[test]
    fn a_tally_says_why_in_words() {
        let tally = VoteTally::count(5, 3, [Safe, Primary]);
        assert_eq!(
            tally.to_string(),
            "2 of 5 live members voted (quorum 3): safe=1 heuristic=0 primary=1"
        );
        assert!(!tally.has_quorum());
    }

    #[test]
    fn votes_read_the_originals_shape_in_any_case() {
        assert_eq!(
            parse_vote(
                r#"{"circuit_breaker_state":"CLOSED","fallback_mode":"PRIMARY","health_score":1.0,"timestamp":"2026-01-21T10:00:00"}"#
            ),
            Some(Primary)
        );
        assert_eq!(parse_vote(r#"{"fallback_mode":"safe"}"#), Some(Safe));
        assert_eq!(parse_vote(r#"{"fallback_mode":"degraded"}"#), None);
        assert_eq!(parse_vote("not json"), None);
        let vote = Vote::new("web-1", Heuristic, &MemberHealth::default());
        let value = serde_json::to_value(&vote).unwrap();
        assert_eq!(value["fallback_mode"], "heuristic");
        assert_eq!(value["instance_id"], "web-1");
        assert!(
            value["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }

    #[test]
    fn records_carry_their_kind_and_read_back() {
        let decision = Decision {
            epoch: 3,
            seq: 12,
            mode: Safe,
            reason: "r".into(),
            held: true,
            hold_expires_at_ms: Some(1_000),
            leader: "a".into(),
            votes: VoteTally::default(),
            operator: None,
            decided_at_ms: 400,
            mode_since_ms: 400,
            timestamp: rfc3339_of_ms(400),
        };
        let value = serde_json::to_value(&decision).unwrap();
        assert_eq!(value["kind"], "decision");
        assert_eq!(value["timestamp"], "1970-01-01T00:00:00.400000Z");
        assert_eq!(serde_json::from_value::<Decision>(value).unwrap(), decision);
        assert_eq!(
            decision.hold_remaining(600),
            Some(Duration::from_millis(400))
        );
        assert_eq!(decision.hold_remaining(2_000), Some(Duration::ZERO));
        assert!(
            serde_json::from_value::<Decision>(json!({"kind": "override", "epoch": 1})).is_err()
        );
    }

    #[test]
    fn heartbeats_read_leniently() {
        let heartbeat = parse_heartbeat("py-1", r#"{"health_score": 0.8, "timestamp": "x"}"#);
        assert_eq!(heartbeat.instance_id, "py-1");
        assert!((heartbeat.health_score - 0.8).abs() < f64::EPSILON);
        assert_eq!(parse_heartbeat("py-2", "garbage").instance_id, "py-2");
    }
}
