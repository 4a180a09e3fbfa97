use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fallback::FallbackMode;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Acquire, Beat, ClusterStore, Hint, Hints, Observation, Publication, Publish, Refusal};
use crate::Result;
use crate::record::{Decision, Heartbeat, Member, OverrideRequest, Stamp};
use crate::util::millis;

/// How many hints wait for a slow subscriber before new ones are dropped.
const HINT_BUFFER: usize = 64;

/// The [`ClusterStore`] in memory: the same operations as the Lua scripts of
/// [`RedisStore`](crate::RedisStore), each atomic under one lock, with expiry on tokio's
/// clock (so a paused test clock drives it) and hints delivered to subscribers at once.
///
/// It is the model the deterministic simulation runs the protocol on, and it lets
/// several coordinators share a cluster within one process (tests, examples). [`restart`](Self::restart) loses everything, as a Redis server
/// without persistence does when it restarts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cluster::Error> {
/// use std::time::Duration;
/// use cluster::{ClusterStore, MemoryStore};
/// use cluster::store::Acquire;
///
/// // Epochs are at least the store's clock in milliseconds.
/// let store = MemoryStore::starting_at(1_000);
/// let ttl = Duration::from_secs(10);
/// assert_eq!(store.acquire("a", ttl, 0).await?, Acquire::Granted(1_000));
/// assert_eq!(store.acquire("b", ttl, 0).await?, Acquire::Held("a".into()));
/// // A restart of its own id takes over with a new epoch, which fences the old one.
/// assert_eq!(store.acquire("a", ttl, 0).await?, Acquire::Granted(1_001));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    world: Arc<parking_lot::Mutex<World>>,
}

#[derive(Default)]
struct World {
    leader: Option<Expiring<String>>,
    lease: Option<Expiring<u64>>,
    epoch: u64,
    decision: Option<Decision>,
    operator: Option<Expiring<OverrideRequest>>,
    members: BTreeMap<String, Instant>,
    heartbeats: BTreeMap<String, Expiring<Heartbeat>>,
    votes: BTreeMap<String, Expiring<FallbackMode>>,
    subscribers: Vec<mpsc::Sender<Hint>>,
    /// The clock: `now_ms` is `base_ms` plus the time since `started`.
    base_ms: u64,
    started: Option<Instant>,
}

/// A value and when it expires (`None`: never).
struct Expiring<T> {
    value: T,
    until: Option<Instant>,
}

impl<T> Expiring<T> {
    fn new(value: T, ttl: Option<Duration>) -> Self {
        Self {
            value,
            until: ttl.map(|ttl| Instant::now() + ttl),
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now < until)
    }

    fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until.map(|until| until.saturating_duration_since(now))
    }
}

/// The value of `slot` if it has not expired (an expired one is removed).
fn live<T>(slot: &mut Option<Expiring<T>>, now: Instant) -> Option<&mut Expiring<T>> {
    if slot.as_ref().is_some_and(|entry| !entry.live(now)) {
        *slot = None;
    }
    slot.as_mut()
}

impl World {
    fn now_ms(&self, now: Instant) -> u64 {
        let started = self.started.unwrap_or(now);
        self.base_ms
            .saturating_add(millis(now.saturating_duration_since(started)))
    }

    fn leader(&mut self, now: Instant) -> Option<String> {
        live(&mut self.leader, now).map(|entry| entry.value.clone())
    }

    fn lease(&mut self, now: Instant) -> Option<u64> {
        live(&mut self.lease, now).map(|entry| entry.value)
    }

    fn holds(&mut self, instance_id: &str, epoch: u64, now: Instant) -> bool {
        self.leader(now).as_deref() == Some(instance_id) && self.lease(now) == Some(epoch)
    }

    fn hint(&mut self, hint: Hint) {
        self.subscribers.retain(|subscriber| {
            !matches!(
                subscriber.try_send(hint),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }

    fn members(&mut self, now: Instant) -> Vec<Member> {
        self.members.retain(|_, until| now < *until);
        self.heartbeats.retain(|_, heartbeat| heartbeat.live(now));
        self.votes.retain(|_, vote| vote.live(now));
        self.members
            .keys()
            .filter_map(|id| {
                let heartbeat = self.heartbeats.get(id)?.value.clone();
                let vote = self.votes.get(id).map(|vote| vote.value);
                Some(Member::new(id.clone(), heartbeat, vote))
            })
            .collect()
    }
}

impl MemoryStore {
    /// An empty store whose clock starts at the current time.
    #[must_use]
    pub fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, millis);
        Self::starting_at(base_ms)
    }

    /// An empty store whose clock starts at `base_ms` (milliseconds since the Unix
    /// epoch) and advances with tokio's: with a paused clock, every time it reports is
    /// reproducible.
    #[must_use]
    pub fn starting_at(base_ms: u64) -> Self {
        Self {
            world: Arc::new(parking_lot::Mutex::new(World {
                base_ms,
                started: Some(Instant::now()),
                ..World::default()
            })),
        }
    }

    /// Loses every key and ends every subscription, as a Redis server without
    /// persistence does when it restarts. The clock goes on, one millisecond further (a
    /// restart takes at least that long), so no epoch is issued twice.
    pub fn restart(&self) {
        let mut world = self.world.lock();
        let (base_ms, started) = (world.base_ms.saturating_add(1), world.started);
        *world = World {
            base_ms,
            started,
            ..World::default()
        };
    }

    /// The decision record, without a round trip (for tests and status pages).
    #[must_use]
    pub fn decision(&self) -> Option<Decision> {
        self.world.lock().decision.clone()
    }

    /// The instance holding the lease, and its epoch.
    #[must_use]
    pub fn lease(&self) -> Option<(String, u64)> {
        let now = Instant::now();
        let mut world = self.world.lock();
        Some((world.leader(now)?, world.lease(now)?))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let world = self.world.lock();
        f.debug_struct("MemoryStore")
            .field("epoch", &world.epoch)
            .field("decision", &world.decision.as_ref().map(Decision::stamp))
            .field("members", &world.members.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ClusterStore for MemoryStore {
    async fn heartbeat(&self, beat: &Beat) -> Result<Observation> {
        let now = Instant::now();
        let mut world = self.world.lock();
        let now_ms = world.now_ms(now);
        let id = beat.instance_id.clone();
        world.heartbeats.insert(
            id.clone(),
            Expiring::new(beat.heartbeat.clone(), Some(beat.member_ttl)),
        );
        if let Some(vote) = &beat.vote {
            world.votes.insert(
                id.clone(),
                Expiring::new(vote.fallback_mode, Some(beat.vote_ttl)),
            );
        }
        world.members.insert(id.clone(), now + beat.member_ttl);
        let mut renewed = false;
        if let Some(renewal) = beat.renew
            && world.holds(&id, renewal.epoch, now)
        {
            let until = Some(now + renewal.ttl);
            if let Some(leader) = world.leader.as_mut() {
                leader.until = until;
            }
            if let Some(lease) = world.lease.as_mut() {
                lease.until = until;
            }
            renewed = true;
        }
        let leader = world.leader(now);
        let lease_epoch = world.lease(now);
        let lease_remaining = world.leader.as_ref().and_then(|entry| entry.remaining(now));
        let operator =
            live(&mut world.operator, now).map(|entry| (entry.value.clone(), entry.remaining(now)));
        world.members.retain(|_, until| now < *until);
        let live_members = world.members.len();
        let members = beat.list_members.then(|| world.members(now));
        Ok(Observation {
            now_ms,
            renewed,
            leader,
            lease_epoch,
            lease_remaining,
            epoch_counter: world.epoch,
            decision: world.decision.clone(),
            operator,
            live_members,
            members,
        })
    }

    async fn acquire(&self, instance_id: &str, ttl: Duration, floor: u64) -> Result<Acquire> {
        let now = Instant::now();
        let mut world = self.world.lock();
        if let Some(holder) = world.leader(now)
            && holder != instance_id
        {
            return Ok(Acquire::Held(holder));
        }
        let recorded = world.decision.as_ref().map_or(0, |decision| decision.epoch);
        let clock = world.now_ms(now).saturating_sub(1);
        let epoch = (world.epoch + 1).max(floor.max(recorded).max(clock) + 1);
        world.epoch = epoch;
        world.leader = Some(Expiring::new(instance_id.to_owned(), Some(ttl)));
        world.lease = Some(Expiring::new(epoch, Some(ttl)));
        Ok(Acquire::Granted(epoch))
    }

    async fn step_down(&self, instance_id: &str, epoch: u64) -> Result<bool> {
        let now = Instant::now();
        let mut world = self.world.lock();
        if world.holds(instance_id, epoch, now) {
            world.leader = None;
            world.lease = None;
            world.hint(Hint::Lease);
            return Ok(true);
        }
        Ok(false)
    }

    async fn publish(&self, publication: &Publication<'_>) -> Result<Publish> {
        let now = Instant::now();
        let decision = publication.decision;
        let mut world = self.world.lock();
        if world.leader(now).as_deref() != Some(decision.leader.as_str()) {
            return Ok(Publish::Refused(Refusal::NotLeader));
        }
        if world.lease(now) != Some(decision.epoch) {
            return Ok(Publish::Refused(Refusal::Fenced));
        }
        let current = world
            .decision
            .as_ref()
            .map_or(Stamp::default(), Decision::stamp);
        if current.epoch > decision.epoch {
            return Ok(Publish::Refused(Refusal::Stale));
        }
        if current.seq != publication.expected_seq || decision.seq <= current.seq {
            return Ok(Publish::Refused(Refusal::Conflict));
        }
        world.decision = Some(decision.clone());
        if let Some(id) = publication.consume
            && live(&mut world.operator, now).is_some_and(|entry| entry.value.id == id)
        {
            world.operator = None;
        }
        if let Some((request, ttl)) = publication.restore {
            world.operator = Some(Expiring::new(request.clone(), ttl));
        }
        let receivers = u64::try_from(world.subscribers.len()).unwrap_or(u64::MAX);
        world.hint(Hint::Decision(decision.stamp()));
        Ok(Publish::Published(receivers))
    }

    async fn read_decision(&self) -> Result<Option<Decision>> {
        Ok(self.world.lock().decision.clone())
    }

    async fn members(&self) -> Result<Vec<Member>> {
        Ok(self.world.lock().members(Instant::now()))
    }

    async fn request(&self, request: &OverrideRequest, ttl: Option<Duration>) -> Result<()> {
        let mut world = self.world.lock();
        world.operator = Some(Expiring::new(request.clone(), ttl));
        world.hint(Hint::Operator);
        Ok(())
    }

    async fn clear_request(&self) -> Result<bool> {
        let now = Instant::now();
        let mut world = self.world.lock();
        let had = live(&mut world.operator, now).is_some();
        world.operator = None;
        world.hint(Hint::Operator);
        Ok(had)
    }

    async fn subscribe(&self) -> Result<Hints> {
        let (sender, receiver) = mpsc::channel(HINT_BUFFER);
        self.world.lock().subscribers.push(sender);
        Ok(Hints::new(receiver))
    }
}
