use std::time::Duration;

use fallback::FallbackMode;
use tokio::time::Instant;

use crate::decide::Streak;
use crate::record::{Decision, Member, MemberHealth, OverrideRequest, Stamp};
use crate::status::Coordination;

/// What one instance knows, shared by its loop, its cascade calls and its status. Held
/// only briefly, never across an await.
#[derive(Debug)]
pub(crate) struct State {
    pub coordination: Coordination,
    pub coordination_since: Instant,
    pub coordination_reason: Option<String>,
    pub started: Instant,
    /// The last heartbeat the store answered.
    pub last_ok: Option<Instant>,
    pub role: Role,
    /// The leader and lease epoch as last read.
    pub leader: Option<String>,
    pub lease_epoch: Option<u64>,
    /// When the observed lease ends (followers wake then to take it).
    pub lease_ends: Option<Instant>,
    /// The store's clock: milliseconds at an instant of ours.
    pub server_clock: Option<(u64, Instant)>,
    /// The newest epoch seen anywhere: the floor of the next lease.
    pub max_epoch: u64,
    /// The last decision applied.
    pub applied: Option<Decision>,
    /// The last stale decision counted, so a stale record read at every heartbeat is
    /// counted once.
    pub refused: Option<Stamp>,
    pub live_members: usize,
    /// The members as last listed, and when.
    pub members: Option<(Vec<Member>, Instant)>,
    /// The operator's request waiting in the store.
    pub operator: Option<OverrideRequest>,
    /// This instance's own view: its vote.
    pub local: Option<LocalInput>,
    /// The leader's hysteresis evidence.
    pub streak: Streak,
    /// The leader's last reason for changing nothing.
    pub verdict: Option<String>,
    /// An operator's call made while the store was unreachable.
    pub undelivered: Option<Undelivered>,
}

/// The mode this instance's health calls for, and that health.
#[derive(Debug, Clone)]
pub(crate) struct LocalInput {
    pub target: FallbackMode,
    pub health: MemberHealth,
}

/// Whether this instance leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Follower,
    /// It holds the lease of `epoch`, valid (on our clock, measured from before the
    /// command that took or renewed it, minus drift) until `valid_until`; it decides by
    /// vote from `settled_at` on (every live member has heartbeated since it took the
    /// lease).
    Leader {
        epoch: u64,
        valid_until: Instant,
        settled_at: Instant,
    },
}

/// An operator's call to deliver when the store answers again.
#[derive(Debug, Clone)]
pub(crate) enum Undelivered {
    /// A request, and when it stops mattering (a timed hold's end; `None`: never).
    Request {
        request: OverrideRequest,
        until: Option<Instant>,
    },
    Release,
}

impl State {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            coordination: Coordination::Starting,
            coordination_since: now,
            coordination_reason: Some("the cluster store has not answered yet".to_owned()),
            started: now,
            last_ok: None,
            role: Role::Follower,
            leader: None,
            lease_epoch: None,
            lease_ends: None,
            server_clock: None,
            max_epoch: 0,
            applied: None,
            refused: None,
            live_members: 0,
            members: None,
            operator: None,
            local: None,
            streak: Streak::default(),
            verdict: None,
            undelivered: None,
        }
    }

    /// The epoch of a lease still valid at `now`.
    pub(crate) fn leading(&self, now: Instant) -> Option<u64> {
        match self.role {
            Role::Leader {
                epoch, valid_until, ..
            } if now < valid_until => Some(epoch),
            _ => None,
        }
    }

    /// Whether the mode follows the cluster's decisions (else the manager cascades).
    pub(crate) fn follows_cluster(&self) -> bool {
        self.coordination == Coordination::Coordinated && self.applied.is_some()
    }

    pub(crate) fn set_coordination(
        &mut self,
        coordination: Coordination,
        reason: Option<String>,
        now: Instant,
    ) -> bool {
        let changed = self.coordination != coordination;
        if changed {
            self.coordination = coordination;
            self.coordination_since = now;
        }
        self.coordination_reason = reason;
        changed
    }

    /// The store's clock now, estimated from the last heartbeat.
    pub(crate) fn server_now_ms(&self, now: Instant) -> Option<u64> {
        self.server_clock.map(|(ms, at)| {
            ms.saturating_add(
                u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX),
            )
        })
    }

    pub(crate) fn note_epoch(&mut self, epoch: u64) {
        self.max_epoch = self.max_epoch.max(epoch);
    }

    pub(crate) fn lose_lease(&mut self) {
        self.role = Role::Follower;
        self.streak = Streak::default();
        self.verdict = None;
    }
}

/// How much earlier than the lease's end a leader stops acting: the clocks of the store
/// and of this process may drift apart (Redlock's allowance: 1 % of the TTL, plus 2 ms).
pub(crate) fn drift(ttl: Duration) -> Duration {
    ttl / 100 + Duration::from_millis(2)
}

/// A small, seedable generator (SplitMix64) for jitter and request ids.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration in `[0, max)`.
    pub(crate) fn below(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_u64() % nanos)
    }
}
