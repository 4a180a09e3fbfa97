//! The deterministic simulation of the protocol: the real `Coordinator`s on the
//! in-memory model of the store, on tokio's paused clock (virtual time, one thread), with
//! seeded faults: requests and replies delayed, stalled past a lease (one request, or
//! all of an instance's for a while, then delivered) or lost (after being applied,
//! too), hints dropped, delayed and subscriptions cut, instances frozen
//! (not polled at all, as SIGSTOP does), partitioned from the store, crashed and
//! restarted (same id or a new one), the store restarted empty; operators hold, release
//! and override at random, health changes at random. Then the faults stop and the
//! cluster must converge.
//!
//! Invariants, checked as the schedule runs:
//! 1. no two instances ever apply different decisions for the same `(epoch, seq)`;
//! 2. no instance (incarnation) ever applies a decision not newer than one it applied;
//! 3. no decision is ever written outside its writer's lease (the lease as granted and
//!    renewed by the store, in virtual time): a leader paused past its lease publishes
//!    nothing;
//! 4. after the faults stop, every instance follows one decision, the record's, in its
//!    mode, and one instance leads.
//!
//! `CLUSTER_SIM_SEED=<seed>` replays one schedule and prints its trace;
//! `CLUSTER_SIM_SCHEDULES=<n>` runs n schedules (default 1,000).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use cluster::record::{Decision, Member, OverrideRequest, Stamp};
use cluster::status::Coordination;
use cluster::store::{Acquire, Beat, Hints, Observation, Publication, Publish};
use cluster::{ClusterConfig, ClusterStore, Coordinator, MemoryStore, Quorum};
use fallback::{FallbackManager, FallbackMode, Hysteresis};
use health_model::HealthState;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

/// How long the faults last, then how long the cluster has to converge.
const CHAOS: Duration = Duration::from_secs(30);

#[test]
fn the_protocol_keeps_its_invariants_under_seeded_faults() {
    if let Ok(seed) = std::env::var("CLUSTER_SIM_SEED") {
        let seed: u64 = seed.trim().parse().expect("CLUSTER_SIM_SEED is a number");
        let outcome = run(seed);
        println!("{}", outcome.trace);
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:#?}",
            outcome.violations
        );
        return;
    }
    let schedules: u64 = std::env::var("CLUSTER_SIM_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let started = std::time::Instant::now();
    let mut stats = Stats::default();
    for index in 0..schedules {
        let seed = Rng::new(0x00C1_5EED ^ index).next();
        let outcome = run(seed);
        if !outcome.violations.is_empty() {
            panic!(
                "schedule {index} broke the protocol: {:#?}\nreplay it: CLUSTER_SIM_SEED={seed} cargo nextest run -p cluster sim --no-capture",
                outcome.violations
            );
        }
        stats.add(&outcome);
    }
    println!(
        "{schedules} schedules in {:.1}s: {stats:?}",
        started.elapsed().as_secs_f64()
    );
    // The faults must have bitten, or the schedules prove little.
    assert!(stats.leader_epochs > schedules * 2, "{stats:?}");
    assert!(stats.refused_by_fence > 0, "{stats:?}");
    assert!(
        stats.store_restarts > 0 && stats.crashes > 0 && stats.pauses > 0,
        "{stats:?}"
    );
}

#[derive(Debug, Default)]
struct Stats {
    decisions: u64,
    leader_epochs: u64,
    refused_by_fence: u64,
    crashes: u64,
    pauses: u64,
    store_restarts: u64,
    operator_calls: u64,
}

impl Stats {
    fn add(&mut self, outcome: &Outcome) {
        self.decisions += outcome.decisions;
        self.leader_epochs += outcome.epochs;
        self.refused_by_fence += outcome.refused;
        self.crashes += outcome.crashes;
        self.pauses += outcome.pauses;
        self.store_restarts += outcome.store_restarts;
        self.operator_calls += outcome.operator_calls;
    }
}

struct Outcome {
    violations: Vec<String>,
    trace: String,
    decisions: u64,
    epochs: u64,
    refused: u64,
    crashes: u64,
    pauses: u64,
    store_restarts: u64,
    operator_calls: u64,
}

/// SplitMix64: small, seedable, stable across versions.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    const fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

/// The lease as the store granted and renewed it: the ground truth of invariant 3.
#[derive(Debug, Default)]
struct Oracle {
    holder: Option<(String, u64, Instant)>,
}

/// Everything the schedule shares: faults, the oracle, what was applied, the trace.
struct World {
    rng: Rng,
    store: MemoryStore,
    start: Instant,
    calm: bool,
    partitions: Vec<Vec<(Instant, Instant)>>,
    stalls: Vec<Vec<(Instant, Instant)>>,
    pauses: Vec<Vec<(Instant, Instant)>>,
    oracle: Oracle,
    /// Every applied decision by stamp (invariant 1).
    applied: BTreeMap<Stamp, Decision>,
    /// The last stamp each incarnation applied (invariant 2).
    last: BTreeMap<(usize, u32), Stamp>,
    epochs: std::collections::BTreeSet<u64>,
    refused: u64,
    violations: Vec<String>,
    trace: String,
}

impl World {
    fn log(&mut self, line: impl std::fmt::Display) {
        let at = self.start.elapsed().as_millis();
        let _ = writeln!(self.trace, "{at:>6} ms  {line}");
    }

    fn violate(&mut self, violation: String) {
        self.log(format!("VIOLATION {violation}"));
        self.violations.push(violation);
    }

    fn partitioned(&self, node: usize, now: Instant) -> bool {
        !self.calm
            && self.partitions[node]
                .iter()
                .any(|&(from, to)| from <= now && now < to)
    }

    /// When a stall of `node`'s network ends: what it sends meanwhile lands then.
    fn stalled_until(&self, node: usize, now: Instant) -> Option<Instant> {
        if self.calm {
            return None;
        }
        self.stalls[node]
            .iter()
            .find(|&&(from, to)| from <= now && now < to)
            .map(|&(_, to)| to)
    }

    fn paused_until(&self, node: usize, now: Instant) -> Option<Instant> {
        self.pauses[node]
            .iter()
            .find(|&&(from, to)| from <= now && now < to)
            .map(|&(_, to)| to)
    }

    /// What happens to one request of `node`.
    fn fate(&mut self, node: usize) -> Fate {
        let now = Instant::now();
        if self.partitioned(node, now) {
            return Fate::Lost;
        }
        if self.calm {
            return Fate::Delivered {
                request: self.rng.millis(2),
                reply: self.rng.millis(2),
                reply_lost: false,
            };
        }
        if self.rng.chance(2) {
            return Fate::Lost;
        }
        if let Some(until) = self.stalled_until(node, now) {
            return Fate::Delivered {
                request: until - now + self.rng.millis(5),
                reply: self.rng.millis(5),
                reply_lost: false,
            };
        }
        let delay = |rng: &mut Rng| match rng.below(100) {
            0..=89 => rng.millis(5),
            90..=97 => rng.millis(1000),
            // A stall past a lease: a request that lands long after it was sent.
            _ => rng.millis(12_000),
        };
        Fate::Delivered {
            request: delay(&mut self.rng),
            reply: delay(&mut self.rng),
            reply_lost: self.rng.chance(2),
        }
    }

    fn check_applied(&mut self, node: usize, incarnation: u32, decision: &Decision) {
        let stamp = decision.stamp();
        match self.applied.get(&stamp) {
            Some(seen) if seen != decision => self.violate(format!(
                "invariant 1: node {node} applied {stamp} = {decision:?}, another applied {seen:?}"
            )),
            Some(_) => {}
            None => {
                self.applied.insert(stamp, decision.clone());
            }
        }
        if let Some(&last) = self.last.get(&(node, incarnation))
            && last >= stamp
        {
            self.violate(format!(
                "invariant 2: node {node}#{incarnation} applied {stamp} after {last}"
            ));
        }
        self.last.insert((node, incarnation), stamp);
        self.log(format!(
            "node {node}#{incarnation} applied {stamp} {} held={} ({})",
            decision.mode, decision.held, decision.reason
        ));
    }
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Lost,
    Delivered {
        request: Duration,
        reply: Duration,
        reply_lost: bool,
    },
}

/// One instance's view of the store: the shared model, through the faults.
#[derive(Clone)]
struct FaultyStore {
    node: usize,
    world: Arc<Mutex<World>>,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaultyStore({})", self.node)
    }
}

type Applied<T> = Pin<Box<dyn Future<Output = cluster::Result<T>> + Send>>;

impl FaultyStore {
    /// Sends `apply` to the store through the faults: it lands after the request delay
    /// (even if the caller gave up), its reply comes back after the reply delay, or not.
    async fn op<T: Send + 'static>(
        &self,
        apply: impl FnOnce(MemoryStore, Arc<Mutex<World>>) -> Applied<T> + Send + 'static,
    ) -> cluster::Result<T> {
        let (fate, store) = {
            let mut world = self.world.lock();
            (world.fate(self.node), world.store.clone())
        };
        let Fate::Delivered {
            request,
            reply,
            reply_lost,
        } = fate
        else {
            return std::future::pending().await;
        };
        let (sender, receiver) = oneshot::channel();
        let world = Arc::clone(&self.world);
        tokio::spawn(async move {
            tokio::time::sleep(request).await;
            let result = apply(store, world).await;
            tokio::time::sleep(reply).await;
            if !reply_lost {
                let _ = sender.send(result);
            }
        });
        match receiver.await {
            Ok(result) => result,
            Err(_) => std::future::pending().await,
        }
    }
}

#[async_trait]
impl ClusterStore for FaultyStore {
    async fn heartbeat(&self, beat: &Beat) -> cluster::Result<Observation> {
        let beat = beat.clone();
        self.op(move |store, world| {
            Box::pin(async move {
                let observation = store.heartbeat(&beat).await?;
                if let Some(renewal) = beat.renew
                    && observation.renewed
                {
                    world.lock().oracle.holder = Some((
                        beat.instance_id.clone(),
                        renewal.epoch,
                        Instant::now() + renewal.ttl,
                    ));
                }
                Ok(observation)
            })
        })
        .await
    }

    async fn acquire(&self, id: &str, ttl: Duration, floor: u64) -> cluster::Result<Acquire> {
        let id = id.to_owned();
        self.op(move |store, world| {
            Box::pin(async move {
                let acquired = store.acquire(&id, ttl, floor).await?;
                if let Acquire::Granted(epoch) = acquired {
                    let mut world = world.lock();
                    world.oracle.holder = Some((id.clone(), epoch, Instant::now() + ttl));
                    world.epochs.insert(epoch);
                    world.log(format!("{id} leads with epoch {epoch} (floor {floor})"));
                }
                Ok(acquired)
            })
        })
        .await
    }

    async fn step_down(&self, id: &str, epoch: u64) -> cluster::Result<bool> {
        let id = id.to_owned();
        self.op(move |store, world| {
            Box::pin(async move {
                let released = store.step_down(&id, epoch).await?;
                if released {
                    let mut world = world.lock();
                    world.oracle.holder = None;
                    world.log(format!("{id} stepped down from epoch {epoch}"));
                }
                Ok(released)
            })
        })
        .await
    }

    async fn publish(&self, publication: &Publication<'_>) -> cluster::Result<Publish> {
        let decision = publication.decision.clone();
        let expected = publication.expected_seq;
        let consume = publication.consume.map(str::to_owned);
        let restore = publication
            .restore
            .map(|(request, ttl)| (request.clone(), ttl));
        self.op(move |store, world| {
            Box::pin(async move {
                let mut late = Publication::new(&decision, expected);
                late.consume = consume.as_deref();
                late.restore = restore.as_ref().map(|(request, ttl)| (request, *ttl));
                let published = store.publish(&late).await?;
                let mut world = world.lock();
                match published {
                    Publish::Published(_) => {
                        let now = Instant::now();
                        let lawful = world.oracle.holder.as_ref().is_some_and(|(id, epoch, until)| {
                            *id == decision.leader && *epoch == decision.epoch && now < *until
                        });
                        if !lawful {
                            let start = world.start;
                            let holder = world.oracle.holder.clone().map(|(id, epoch, until)| {
                                format!("{id} with epoch {epoch} until {} ms", (until - start).as_millis())
                            });
                            world.violate(format!(
                                "invariant 3: {} wrote {} under epoch {} outside its lease (the lease: {holder:?})",
                                decision.leader,
                                decision.stamp(),
                                decision.epoch
                            ));
                        }
                        world.log(format!(
                            "{} published {} {} held={}",
                            decision.leader,
                            decision.stamp(),
                            decision.mode,
                            decision.held
                        ));
                    }
                    Publish::Refused(refusal) => {
                        if refusal.lost_lease() {
                            world.refused += 1;
                        }
                        world.log(format!(
                            "{} refused {}: {refusal}",
                            decision.leader,
                            decision.stamp()
                        ));
                    }
                    _ => {}
                }
                Ok(published)
            })
        })
        .await
    }

    async fn read_decision(&self) -> cluster::Result<Option<Decision>> {
        self.op(|store, _| Box::pin(async move { store.read_decision().await }))
            .await
    }

    async fn members(&self) -> cluster::Result<Vec<Member>> {
        self.op(|store, _| Box::pin(async move { store.members().await }))
            .await
    }

    async fn request(
        &self,
        request: &OverrideRequest,
        ttl: Option<Duration>,
    ) -> cluster::Result<()> {
        let request = request.clone();
        self.op(move |store, _| Box::pin(async move { store.request(&request, ttl).await }))
            .await
    }

    async fn clear_request(&self) -> cluster::Result<bool> {
        self.op(|store, _| Box::pin(async move { store.clear_request().await }))
            .await
    }

    async fn subscribe(&self) -> cluster::Result<Hints> {
        let mut inner = self
            .op(|store, _| Box::pin(async move { store.subscribe().await }))
            .await?;
        let (sender, receiver) = mpsc::channel(64);
        let world = Arc::clone(&self.world);
        tokio::spawn(async move {
            while let Some(hint) = inner.next().await {
                let (drop, delay, cut) = {
                    let mut world = world.lock();
                    if world.calm {
                        (false, Duration::ZERO, false)
                    } else {
                        let drop = world.rng.chance(20);
                        let delay = world.rng.millis(50);
                        let cut = world.rng.chance(2);
                        (drop, delay, cut)
                    }
                };
                if cut {
                    return;
                }
                if !drop {
                    let sender = sender.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = sender.try_send(hint);
                    });
                }
            }
        });
        Ok(Hints::new(receiver))
    }
}

/// A future not polled while its instance is paused: the process is frozen (time goes
/// on, nothing runs), then resumes where it was.
struct Freezable<F> {
    inner: Pin<Box<F>>,
    node: usize,
    world: Arc<Mutex<World>>,
    thaw: Option<Pin<Box<Sleep>>>,
}

impl<F: Future> Future for Freezable<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let paused = self.world.lock().paused_until(self.node, Instant::now());
        if let Some(until) = paused {
            let thaw = self
                .thaw
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
            if thaw.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        self.thaw = None;
        self.inner.as_mut().poll(cx)
    }
}

fn health_of(mode: FallbackMode) -> HealthState {
    let value = match mode {
        FallbackMode::Primary => json!({"system": {"status": "healthy"}}),
        FallbackMode::Heuristic => json!({"circuit_breaker": {"state": "OPEN"}}),
        FallbackMode::Safe => json!({"system": {"status": "failed", "failed_components": 2}}),
    };
    serde_json::from_value(value).unwrap()
}

/// One instance: its coordinator and the tasks that run it and feed it health.
struct Node {
    id: String,
    incarnation: u32,
    coordinator: Coordinator,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn start_node(
    world: &Arc<Mutex<World>>,
    config: &ClusterConfig,
    health: &Arc<Mutex<Vec<FallbackMode>>>,
    node: usize,
    id: String,
    incarnation: u32,
    seed: u64,
) -> Node {
    let store = Arc::new(FaultyStore {
        node,
        world: Arc::clone(world),
    });
    let observer_world = Arc::clone(world);
    let coordinator = Coordinator::builder(Arc::new(FallbackManager::in_memory()))
        .config(config.clone())
        .instance_id(id.clone())
        .store(store)
        .seed(seed)
        .on_decision(move |decision| {
            observer_world
                .lock()
                .check_applied(node, incarnation, decision);
        })
        .build()
        .unwrap();
    let runner = Freezable {
        inner: Box::pin(coordinator.clone().run()),
        node,
        world: Arc::clone(world),
        thaw: None,
    };
    let cascading = coordinator.clone();
    let health = Arc::clone(health);
    let feeder = Freezable {
        inner: Box::pin(async move {
            loop {
                let mode = health.lock()[node];
                cascading.cascade(&health_of(mode)).await;
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        }),
        node,
        world: Arc::clone(world),
        thaw: None,
    };
    Node {
        id,
        incarnation,
        coordinator,
        tasks: vec![tokio::spawn(runner), tokio::spawn(feeder)],
    }
}

fn run(seed: u64) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(simulate(seed))
}

async fn simulate(seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let nodes = 3 + rng.below(3) as usize;
    let mut config = ClusterConfig::default();
    config.heartbeat_interval = Duration::from_secs(1);
    config.vote_ttl = Duration::from_secs(3);
    config.lease_ttl = Duration::from_secs(3 + rng.below(3));
    config.command_timeout = Duration::from_secs(1);
    config.quorum = if rng.chance(80) {
        Quorum::Majority
    } else {
        Quorum::Count(2)
    };
    if rng.chance(40) {
        config.hysteresis = Some(
            Hysteresis::new()
                .min_dwell(rng.millis(4000))
                .recovery_evaluations(1 + rng.below(3) as u32)
                .stepwise(rng.chance(50)),
        );
    }
    let start = Instant::now();
    let window = |rng: &mut Rng, longest: u64| {
        let from = start + rng.millis(CHAOS.as_millis() as u64);
        (from, (from + rng.millis(longest)).min(start + CHAOS))
    };
    let lease_ms = config.lease_ttl.as_millis() as u64;
    let mut partitions = vec![Vec::new(); nodes];
    let mut stalls = vec![Vec::new(); nodes];
    let mut pauses = vec![Vec::new(); nodes];
    let mut pause_count = 0;
    for node in 0..nodes {
        for _ in 0..rng.below(3) {
            partitions[node].push(window(&mut rng, 3 * lease_ms));
        }
        for _ in 0..rng.below(3) {
            stalls[node].push(window(&mut rng, 3 * lease_ms));
        }
        for _ in 0..rng.below(3) {
            pauses[node].push(window(&mut rng, 3 * lease_ms));
            pause_count += 1;
        }
    }
    let store = MemoryStore::starting_at(1_700_000_000_000);
    let world = Arc::new(Mutex::new(World {
        rng: Rng::new(rng.next()),
        store: store.clone(),
        start,
        calm: false,
        partitions,
        stalls,
        pauses,
        oracle: Oracle::default(),
        applied: BTreeMap::new(),
        last: BTreeMap::new(),
        epochs: Default::default(),
        refused: 0,
        violations: Vec::new(),
        trace: String::new(),
    }));
    world.lock().log(format!(
        "seed {seed}: {nodes} nodes, lease {:?}, quorum {}, hysteresis {:?}",
        config.lease_ttl, config.quorum, config.hysteresis
    ));
    let health = Arc::new(Mutex::new(vec![FallbackMode::Primary; nodes]));
    let mut cluster: Vec<Option<Node>> = (0..nodes)
        .map(|node| {
            Some(start_node(
                &world,
                &config,
                &health,
                node,
                format!("n{node}"),
                0,
                rng.next(),
            ))
        })
        .collect();
    let mut incarnations = vec![0u32; nodes];
    let mut restarts: Vec<Option<Instant>> = vec![None; nodes];
    let (mut crashes, mut store_restarts, mut operator_calls) = (0, 0, 0);
    let store_restart_at = rng
        .chance(30)
        .then(|| start + rng.millis(CHAOS.as_millis() as u64));

    // The chaos: a step every 250 ms of virtual time.
    while start.elapsed() < CHAOS {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        for node in 0..nodes {
            if restarts[node].is_some_and(|at| at <= now) {
                restarts[node] = None;
                incarnations[node] += 1;
                let id = if rng.chance(70) {
                    format!("n{node}")
                } else {
                    format!("n{node}r{}", incarnations[node])
                };
                world.lock().log(format!(
                    "restart node {node} as {id}#{}",
                    incarnations[node]
                ));
                cluster[node] = Some(start_node(
                    &world,
                    &config,
                    &health,
                    node,
                    id,
                    incarnations[node],
                    rng.next(),
                ));
            }
        }
        if rng.chance(2) {
            let node = rng.below(nodes as u64) as usize;
            if let Some(crashed) = cluster[node].take() {
                for task in crashed.tasks {
                    task.abort();
                }
                crashes += 1;
                restarts[node] = Some(now + rng.millis(2 * lease_ms));
                world.lock().log(format!(
                    "crash node {node} ({}#{})",
                    crashed.id, crashed.incarnation
                ));
            }
        }
        if rng.chance(8) {
            let node = rng.below(nodes as u64) as usize;
            let mode = FallbackMode::from_level(rng.below(3) as u8);
            health.lock()[node] = mode;
        }
        if store_restart_at.is_some_and(|at| at <= now) && store_restarts == 0 {
            store_restarts += 1;
            store.restart();
            let mut world = world.lock();
            world.oracle.holder = None;
            world.log("the store restarts empty");
        }
        if rng.chance(3) {
            let node = rng.below(nodes as u64) as usize;
            if let Some(target) = &cluster[node] {
                let coordinator = target.coordinator.clone();
                let mode = FallbackMode::from_level(rng.below(3) as u8);
                let action = rng.below(4);
                let duration = rng.chance(50).then(|| rng.millis(3 * lease_ms));
                operator_calls += 1;
                world.lock().log(format!(
                    "operator on node {node}: action {action} {mode} {duration:?}"
                ));
                tokio::spawn(Freezable {
                    inner: Box::pin(async move {
                        let _ = match action {
                            0 => coordinator.override_mode(mode).await,
                            1 | 2 => coordinator.hold(mode, duration).await,
                            _ => coordinator.release().await,
                        };
                    }),
                    node,
                    world: Arc::clone(&world),
                    thaw: None,
                });
            }
        }
    }

    // The faults stop: every instance runs, health is stable, the network is quick.
    world.lock().calm = true;
    world.lock().log("calm");
    for node in 0..nodes {
        if cluster[node].is_none() {
            incarnations[node] += 1;
            cluster[node] = Some(start_node(
                &world,
                &config,
                &health,
                node,
                format!("n{node}"),
                incarnations[node],
                rng.next(),
            ));
        }
    }
    let quiet = config.lease_ttl * 3 + Duration::from_secs(10);
    tokio::time::sleep(quiet).await;

    // Invariant 4: one decision, the record's, everywhere; one leader.
    let record = store.decision();
    let mut violations = Vec::new();
    let running: Vec<&Node> = cluster.iter().flatten().collect();
    for node in &running {
        let coordinator = &node.coordinator;
        let applied = coordinator.decision();
        let mode = coordinator.manager().get_current_mode();
        if coordinator.coordination() != Coordination::Coordinated
            || applied.as_ref().map(Decision::stamp) != record.as_ref().map(Decision::stamp)
            || applied.as_ref().is_some_and(|d| d.mode != mode)
        {
            violations.push(format!(
                "invariant 4: {} is {:?} with {:?} in {mode} after the faults stopped; the record is {:?}",
                node.id,
                coordinator.coordination(),
                applied.as_ref().map(Decision::stamp),
                record.as_ref().map(Decision::stamp)
            ));
        }
    }
    let leaders = running
        .iter()
        .filter(|node| node.coordinator.is_leader())
        .count();
    if leaders != 1 {
        violations.push(format!(
            "invariant 4: {leaders} leaders after the faults stopped"
        ));
    }
    let held_record = record.is_some();
    for node in cluster.into_iter().flatten() {
        for task in node.tasks {
            task.abort();
        }
    }
    let mut world = world.lock();
    for violation in violations {
        world.violate(violation);
    }
    if !held_record {
        world.log("no decision was ever made");
    }
    Outcome {
        violations: std::mem::take(&mut world.violations),
        trace: std::mem::take(&mut world.trace),
        decisions: world.applied.len() as u64,
        epochs: world.epochs.len() as u64,
        refused: world.refused,
        crashes,
        pauses: pause_count,
        store_restarts,
        operator_calls,
    }
}
