//! Three coordinators in one process on one real Redis: operator holds, leader loss, a
//! leader frozen past its lease, Redis stopped and restarted empty, a restart mid-hold.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cluster::record::{Decision, Member, OverrideRequest, Stamp};
use cluster::status::{Coordination, Delivery, Role};
use cluster::store::{Acquire, Beat, Hints, Observation, Publication, Publish};
use cluster::{
    ClusterConfig, ClusterStore, Coordinator, DECISIONS_METRIC, KeySpace, LEADER_CHANGES_METRIC,
    MEMBERS_METRIC, Quorum, RedisStore, Running,
};
use fallback::{FallbackManager, FallbackMode};
use health_sinks::testing::{Emitted, RecordingSink};
use storage_redis::testing::{RedisServer, redis_url};

use crate::support::{coordinator, failing, fast_config, healthy, prefix, redis_config, until};

/// Replicas on one store, each with its running loop.
struct Replicas {
    coordinators: Vec<Coordinator>,
    running: Vec<Option<Running>>,
}

impl Replicas {
    fn start(url: &str, config: &ClusterConfig, ids: &[&str]) -> Self {
        let coordinators: Vec<_> = ids.iter().map(|id| coordinator(id, url, config)).collect();
        let running = coordinators.iter().map(|c| Some(c.spawn())).collect();
        Self {
            coordinators,
            running,
        }
    }

    async fn vote(&self, state: &health_model::HealthState) {
        for coordinator in &self.coordinators {
            coordinator.cascade(state).await;
        }
    }

    fn leaders(&self) -> Vec<usize> {
        (0..self.coordinators.len())
            .filter(|&i| self.running[i].is_some() && self.coordinators[i].is_leader())
            .collect()
    }

    /// Whether every running replica applied the same decision and runs its mode.
    fn agree(&self) -> Option<Decision> {
        let mut decisions = self
            .coordinators
            .iter()
            .zip(&self.running)
            .filter(|(_, running)| running.is_some())
            .map(|(coordinator, _)| {
                let decision = coordinator.decision()?;
                (coordinator.manager().get_current_mode() == decision.mode).then_some(decision)
            });
        let first = decisions.next()??;
        decisions
            .all(|decision| decision.is_some_and(|d| d.stamp() == first.stamp()))
            .then_some(first)
    }

    fn modes(&self) -> Vec<FallbackMode> {
        self.coordinators
            .iter()
            .map(|c| c.manager().get_current_mode())
            .collect()
    }

    async fn stop(&mut self) {
        for running in &mut self.running {
            if let Some(running) = running.take() {
                running.stop().await;
            }
        }
    }
}

async fn agreed_on_primary(replicas: &Replicas) {
    replicas.vote(&healthy()).await;
    until(Duration::from_secs(5), || replicas.agree().is_some())
        .await
        .expect("three replicas agree on a first decision");
    assert_eq!(replicas.agree().unwrap().mode, FallbackMode::Primary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_on_one_is_applied_by_all_within_a_second() {
    let test = "an_override_on_one_is_applied_by_all_within_a_second";
    let Some(url) = redis_url(test) else { return };
    let config = fast_config(&prefix(test));
    let mut replicas = Replicas::start(&url, &config, &["a", "b", "c"]);
    agreed_on_primary(&replicas).await;
    let follower = (0..3).find(|i| !replicas.leaders().contains(i)).unwrap();

    let asked = tokio::time::Instant::now();
    let delivery = replicas.coordinators[follower]
        .hold(FallbackMode::Safe, None)
        .await
        .unwrap();
    assert!(matches!(delivery, Delivery::Applied { .. }), "{delivery:?}");
    until(Duration::from_secs(1), || {
        replicas.coordinators.iter().all(|c| {
            c.manager().get_current_mode() == FallbackMode::Safe
                && c.manager().current_hold().is_some()
        })
    })
    .await
    .expect("every replica held SAFE");
    let took = asked.elapsed();
    println!("hold applied by all in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Health says PRIMARY everywhere; the hold wins until released.
    replicas.vote(&healthy()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(replicas.modes(), [FallbackMode::Safe; 3]);

    let status = replicas.coordinators[follower].status().await;
    let decision = status.decision.clone().unwrap();
    assert!(
        decision.held && decision.reason.starts_with("hold(safe) by "),
        "{decision:?}"
    );
    assert_eq!(status.coordination.state, Coordination::Coordinated);
    assert_eq!(status.members.len(), 3);
    assert_eq!(status.votes.unwrap().primary, 3);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["decision"]["mode"], "safe");
    assert_eq!(json["coordination"]["state"], "coordinated");

    let released = replicas.coordinators[0].release().await.unwrap();
    assert!(matches!(released, Delivery::Applied { .. }), "{released:?}");
    until(Duration::from_secs(2), || {
        replicas.modes() == [FallbackMode::Primary; 3]
            && replicas
                .coordinators
                .iter()
                .all(|c| c.manager().current_hold().is_none())
    })
    .await
    .expect("released, the vote brings every replica back to PRIMARY");
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vote_moves_the_cluster_by_quorum() {
    let test = "the_vote_moves_the_cluster_by_quorum";
    let Some(url) = redis_url(test) else { return };
    let config = fast_config(&prefix(test));
    let mut replicas = Replicas::start(&url, &config, &["a", "b", "c"]);
    agreed_on_primary(&replicas).await;
    // One replica's health fails: 1 of 3, no change anywhere (not even on that one).
    replicas.coordinators[0].cascade(&failing()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(replicas.modes(), [FallbackMode::Primary; 3]);
    // A second one: a quorum votes SAFE, every replica goes SAFE.
    replicas.coordinators[1].cascade(&failing()).await;
    until(Duration::from_secs(2), || {
        replicas.modes() == [FallbackMode::Safe; 3]
    })
    .await
    .expect("a quorum for SAFE moves all three");
    let decision = replicas.agree().unwrap();
    assert_eq!((decision.votes.safe, decision.votes.primary), (2, 1));
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_quorum_nothing_changes_and_the_status_says_why() {
    let test = "without_quorum_nothing_changes_and_the_status_says_why";
    let Some(url) = redis_url(test) else { return };
    let mut config = fast_config(&prefix(test));
    config.quorum = Quorum::Count(3);
    let mut replicas = Replicas::start(&url, &config, &["a", "b"]);
    replicas.vote(&failing()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let leader = until(Duration::from_secs(2), || !replicas.leaders().is_empty())
        .await
        .map(|_| replicas.leaders()[0])
        .expect("a leader");
    let status = replicas.coordinators[leader].status().await;
    assert_eq!(status.decision, None);
    assert_eq!(status.role, Role::Leader);
    assert!(
        status.why.contains("2 of 2 live members voted (quorum 3)")
            && status.why.contains("no quorum"),
        "{}",
        status.why
    );
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_takes_over_within_one_lease_after_the_leader_dies() {
    let test = "a_new_leader_takes_over_within_one_lease_after_the_leader_dies";
    let Some(url) = redis_url(test) else { return };
    let config = fast_config(&prefix(test));
    let sink = Arc::new(RecordingSink::new());
    let coordinators: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            Coordinator::builder(Arc::new(FallbackManager::in_memory()))
                .config(config.clone())
                .instance_id(*id)
                .redis(redis_config(&url))
                .metrics_sink(sink.clone())
                .build()
                .unwrap()
        })
        .collect();
    let running = coordinators.iter().map(|c| Some(c.spawn())).collect();
    let mut replicas = Replicas {
        coordinators,
        running,
    };
    agreed_on_primary(&replicas).await;
    let old = replicas.leaders()[0];
    let old_epoch = replicas.coordinators[old].status().await.epoch.unwrap();
    // A crash: no step-down, the lease runs out on its own.
    replicas.running[old].take().unwrap().abort();
    let took = until(config.lease_ttl * 2, || !replicas.leaders().is_empty())
        .await
        .expect("a new leader");
    println!("new leader after {took:?} (lease {:?})", config.lease_ttl);
    assert!(
        took <= config.lease_ttl + Duration::from_millis(100),
        "{took:?}"
    );
    let new = replicas.leaders()[0];
    assert_ne!(new, old);
    let status = replicas.coordinators[new].status().await;
    assert!(status.epoch.unwrap() > old_epoch);
    // The survivors still agree, and follow the new leader's decisions.
    replicas.vote(&failing()).await;
    until(Duration::from_secs(1), || {
        replicas
            .agree()
            .is_some_and(|d| d.mode == FallbackMode::Safe && d.epoch > old_epoch)
    })
    .await
    .expect("the survivors follow the new leader");

    let emitted = sink.all();
    let counted = |name: &str| {
        emitted
            .iter()
            .filter(|e| matches!(e, Emitted::Counter(n, ..) if n == name))
            .count()
    };
    assert!(
        counted(LEADER_CHANGES_METRIC) >= 3,
        "every replica saw the first and the new leader"
    );
    assert!(counted(DECISIONS_METRIC) >= 5);
    assert!(
        emitted
            .iter()
            .any(|e| matches!(e, Emitted::Gauge(n, v, _) if n == MEMBERS_METRIC && *v == 3.0))
    );
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_leader_steps_down_and_another_leads_at_once() {
    let test = "a_stopped_leader_steps_down_and_another_leads_at_once";
    let Some(url) = redis_url(test) else { return };
    let mut config = fast_config(&prefix(test));
    config.lease_ttl = Duration::from_secs(20);
    let mut replicas = Replicas::start(&url, &config, &["a", "b", "c"]);
    agreed_on_primary(&replicas).await;
    let old = replicas.leaders()[0];
    replicas.running[old].take().unwrap().stop().await;
    let took = until(Duration::from_secs(2), || !replicas.leaders().is_empty())
        .await
        .expect("a new leader long before the 20 s lease would run out");
    println!("new leader {took:?} after a clean stop");
    replicas.stop().await;
}

/// A store that freezes the whole thread of its coordinator (as SIGSTOP does) at the
/// first decision it is asked to publish once armed, then sends that decision anyway.
#[derive(Debug)]
struct FreezingStore {
    inner: RedisStore,
    freeze: Duration,
    armed: std::sync::atomic::AtomicBool,
    frozen: parking_lot::Mutex<Option<(Decision, tokio::sync::oneshot::Receiver<Publish>)>>,
}

#[async_trait]
impl ClusterStore for FreezingStore {
    async fn heartbeat(&self, beat: &Beat) -> cluster::Result<Observation> {
        self.inner.heartbeat(beat).await
    }
    async fn acquire(&self, id: &str, ttl: Duration, floor: u64) -> cluster::Result<Acquire> {
        self.inner.acquire(id, ttl, floor).await
    }
    async fn step_down(&self, id: &str, epoch: u64) -> cluster::Result<bool> {
        self.inner.step_down(id, epoch).await
    }
    async fn publish(&self, publication: &Publication<'_>) -> cluster::Result<Publish> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            // The thread stops here: no timer of this runtime fires, nothing is sent.
            std::thread::sleep(self.freeze);
            // Resumed: the decision goes out, whether or not its caller still waits.
            let inner = self.inner.clone();
            let decision = publication.decision.clone();
            let (expected, consume) = (
                publication.expected_seq,
                publication.consume.map(str::to_owned),
            );
            let (sender, receiver) = tokio::sync::oneshot::channel();
            *self.frozen.lock() = Some((decision.clone(), receiver));
            let outcome = tokio::spawn(async move {
                let mut late = Publication::new(&decision, expected);
                late.consume = consume.as_deref();
                let outcome = inner.publish(&late).await.unwrap();
                let _sent = sender.send(outcome);
                outcome
            });
            return Ok(outcome.await.unwrap());
        }
        self.inner.publish(publication).await
    }
    async fn read_decision(&self) -> cluster::Result<Option<Decision>> {
        self.inner.read_decision().await
    }
    async fn members(&self) -> cluster::Result<Vec<Member>> {
        self.inner.members().await
    }
    async fn request(
        &self,
        request: &OverrideRequest,
        ttl: Option<Duration>,
    ) -> cluster::Result<()> {
        self.inner.request(request, ttl).await
    }
    async fn clear_request(&self) -> cluster::Result<bool> {
        self.inner.clear_request().await
    }
    async fn subscribe(&self) -> cluster::Result<Hints> {
        self.inner.subscribe().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_frozen_past_its_lease_publishes_and_applies_nothing_stale() {
    let test = "a_leader_frozen_past_its_lease_publishes_and_applies_nothing_stale";
    let Some(url) = redis_url(test) else { return };
    let config = fast_config(&prefix(test));
    let store = Arc::new(FreezingStore {
        inner: RedisStore::new(redis_config(&url), KeySpace::new(&config.prefix).unwrap()).unwrap(),
        freeze: config.lease_ttl * 2,
        armed: false.into(),
        frozen: parking_lot::Mutex::new(None),
    });
    let sink = Arc::new(RecordingSink::new());
    let applied_by_a = Arc::new(parking_lot::Mutex::new(Vec::<Stamp>::new()));
    let recorder = applied_by_a.clone();
    let a = Coordinator::builder(Arc::new(FallbackManager::in_memory()))
        .config(config.clone())
        .instance_id("a")
        .store(store.clone())
        .metrics_sink(sink.clone())
        .on_decision(move |decision| recorder.lock().push(decision.stamp()))
        .build()
        .unwrap();
    // `a` runs on a thread and runtime of its own, which the store can freeze whole.
    let runner = a.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(runner.run());
    });
    until(Duration::from_secs(3), || a.is_leader())
        .await
        .expect("a leads");
    let others = Replicas::start(&url, &config, &["b", "c"]);
    let mut replicas = others;
    a.cascade(&healthy()).await;
    replicas.vote(&healthy()).await;
    until(Duration::from_secs(3), || {
        replicas.agree().is_some() && a.decision() == replicas.agree()
    })
    .await
    .expect("three replicas agree");
    let before = a.decision().unwrap();

    // The vote changes; `a` decides, and freezes right before its decision goes out.
    store.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    a.cascade(&failing()).await;
    replicas.vote(&failing()).await;
    // Meanwhile its lease runs out, `b` or `c` leads and decides.
    let took = until(config.lease_ttl * 2, || {
        replicas
            .agree()
            .is_some_and(|d| d.mode == FallbackMode::Safe && d.leader != "a")
    })
    .await
    .expect("a new leader decides while `a` is frozen");
    println!("the others decided {took:?} into the freeze");
    let winner = replicas.agree().unwrap();
    assert!(winner.epoch > before.epoch);

    // `a` resumes: its frozen decision reaches Redis, which refuses it.
    let (stale, outcome) = loop {
        if let Some(frozen) = store.frozen.lock().take() {
            break frozen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let outcome = tokio::time::timeout(Duration::from_secs(5), outcome)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(outcome, Publish::Refused(refusal) if refusal.lost_lease()),
        "{outcome:?}"
    );
    assert_eq!(stale.leader, "a");
    assert!(stale.epoch < winner.epoch);
    // `a` steps down and follows the new leader's decision; it never applied its own.
    until(Duration::from_secs(3), || {
        a.decision().is_some_and(|d| d.stamp() >= winner.stamp())
    })
    .await
    .expect("`a` follows the new leader");
    assert!(!a.is_leader());
    let applied = applied_by_a.lock().clone();
    assert!(!applied.contains(&stale.stamp()), "{applied:?}");
    assert!(
        applied.windows(2).all(|pair| pair[0] < pair[1]),
        "{applied:?}"
    );
    let record = store.inner.read_decision().await.unwrap().unwrap();
    assert_ne!(record.leader, "a");
    assert!(record.stamp() >= winner.stamp());

    a.shutdown();
    thread.join().unwrap();
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_restarted_mid_hold_comes_back_held() {
    let test = "a_replica_restarted_mid_hold_comes_back_held";
    let Some(url) = redis_url(test) else { return };
    let config = fast_config(&prefix(test));
    let mut replicas = Replicas::start(&url, &config, &["a", "b", "c"]);
    agreed_on_primary(&replicas).await;
    replicas.coordinators[0]
        .hold(FallbackMode::Heuristic, Some(Duration::from_secs(120)))
        .await
        .unwrap();
    until(Duration::from_secs(1), || {
        replicas.modes() == [FallbackMode::Heuristic; 3]
    })
    .await
    .expect("held everywhere");

    // `c` restarts: a fresh manager (PRIMARY, unheld), the same id.
    replicas.running[2].take().unwrap().stop().await;
    let restarted = coordinator("c", &url, &config);
    let running = restarted.spawn();
    restarted.cascade(&healthy()).await;
    let took = until(Duration::from_secs(2), || {
        restarted.manager().get_current_mode() == FallbackMode::Heuristic
            && restarted.manager().current_hold().is_some_and(|hold| {
                hold.remaining
                    .is_some_and(|left| left > Duration::from_secs(100))
            })
    })
    .await
    .expect("the restarted replica comes back held");
    println!("restarted replica held again after {took:?}");
    running.stop().await;

    // Every replica restarts: the hold is in the store and the record.
    replicas.stop().await;
    let mut again = Replicas::start(&url, &config, &["a", "b", "c"]);
    again.vote(&healthy()).await;
    until(Duration::from_secs(2), || {
        again.modes() == [FallbackMode::Heuristic; 3]
            && again
                .coordinators
                .iter()
                .all(|c| c.manager().current_hold().is_some())
    })
    .await
    .expect("a restart of every replica keeps the hold");
    again.stop().await;
}

/// Redis stopped for 10 s and restarted without its data: every replica keeps serving
/// its mode, says it cascades locally, and they agree again within 2 s of its return.
#[allow(
    clippy::print_stdout,
    reason = "the measured time is part of the report"
)]
async fn redis_outage(hold: bool) {
    let test = if hold {
        "redis_outage_held"
    } else {
        "redis_outage"
    };
    let Some(mut server) = RedisServer::start_or_skip(test) else {
        return;
    };
    let url = server.url();
    let config = fast_config("astra");
    let mut replicas = Replicas::start(&url, &config, &["a", "b", "c"]);
    agreed_on_primary(&replicas).await;
    if hold {
        replicas.coordinators[1]
            .hold(FallbackMode::Safe, Some(Duration::from_secs(120)))
            .await
            .unwrap();
        until(Duration::from_secs(1), || {
            replicas.modes() == [FallbackMode::Safe; 3]
        })
        .await
        .expect("held everywhere");
    }
    let before = replicas.modes();
    let epoch_before = replicas.agree().unwrap().epoch;

    server.kill();
    let outage = tokio::time::Instant::now();
    until(Duration::from_secs(3), || {
        replicas
            .coordinators
            .iter()
            .all(|c| c.coordination() == Coordination::Local)
    })
    .await
    .expect("every replica says it cascades locally");
    // Still serving: the last mode, and local cascading works (a hold still pins it).
    assert_eq!(replicas.modes(), before);
    let local = replicas.coordinators[0].cascade(&failing()).await;
    assert_eq!(local, FallbackMode::Safe);
    let status = replicas.coordinators[0].status().await;
    assert!(status.why.contains("cascading locally"), "{}", status.why);
    while outage.elapsed() < Duration::from_secs(10) {
        let modes = replicas.modes();
        assert_eq!(&modes[1..], &before[1..], "the others keep their mode");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    server.restart().unwrap();
    let took = until(Duration::from_secs(2), || {
        replicas
            .coordinators
            .iter()
            .all(|c| c.coordination() == Coordination::Coordinated)
            && replicas.agree().is_some_and(|d| {
                d.epoch > epoch_before && (!hold || (d.held && d.mode == FallbackMode::Safe))
            })
    })
    .await
    .expect("they agree again within 2 s of Redis' return");
    println!("agreed {took:?} after Redis returned (hold: {hold})");
    let decision = replicas.agree().unwrap();
    if hold {
        assert!(
            replicas
                .coordinators
                .iter()
                .all(|c| c.manager().current_hold().is_some())
        );
    } else {
        // 1 of 3 votes SAFE: the cluster stays PRIMARY, the local SAFE is undone.
        assert_eq!(decision.mode, FallbackMode::Primary);
    }
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_ten_seconds_then_they_agree_again_within_two() {
    redis_outage(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_survives_redis_losing_its_data() {
    redis_outage(true).await;
}

#[tokio::test]
async fn a_decision_older_than_the_applied_one_is_refused_and_counted() {
    use cluster::STALE_DECISIONS_METRIC;
    use cluster::store::Publication;

    let store = Arc::new(cluster::MemoryStore::new());
    let sink = Arc::new(RecordingSink::new());
    let mut config = fast_config("astra");
    config.lease_ttl = Duration::from_secs(60);
    let follower = Coordinator::builder(Arc::new(FallbackManager::in_memory()))
        .config(config)
        .instance_id("follower")
        .store(store.clone())
        .metrics_sink(sink.clone())
        .build()
        .unwrap();
    // Another leader holds the lease before the follower starts, with a high epoch.
    let Acquire::Granted(high) = store
        .acquire("leader", Duration::from_secs(60), u64::MAX / 4)
        .await
        .unwrap()
    else {
        panic!("the lease is free")
    };
    let decision = |epoch: u64, seq: u64, mode: FallbackMode| -> Decision {
        serde_json::from_value(serde_json::json!({
            "kind": "decision", "epoch": epoch, "seq": seq, "mode": mode, "reason": "test",
            "held": false, "leader": "leader", "decided_at_ms": 1, "mode_since_ms": 1,
        }))
        .unwrap()
    };
    let newer = decision(high, 7, FallbackMode::Safe);
    store.publish(&Publication::new(&newer, 0)).await.unwrap();
    let running = follower.spawn();
    until(Duration::from_secs(2), || {
        follower
            .decision()
            .is_some_and(|d| d.stamp() == newer.stamp())
    })
    .await
    .expect("the follower applies the record");
    assert_eq!(follower.manager().get_current_mode(), FallbackMode::Safe);

    // The store loses its data and an older decision shows up: refused, counted once.
    store.restart();
    let Acquire::Granted(low) = store
        .acquire("leader", Duration::from_secs(60), 0)
        .await
        .unwrap()
    else {
        panic!("the lease is free after the restart")
    };
    assert!(low < high);
    let older = decision(low, 1, FallbackMode::Primary);
    store.publish(&Publication::new(&older, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(follower.decision().unwrap().stamp(), newer.stamp());
    assert_eq!(follower.manager().get_current_mode(), FallbackMode::Safe);
    let refused = sink
        .all()
        .iter()
        .filter(|e| matches!(e, Emitted::Counter(name, 1, tags) if name == STALE_DECISIONS_METRIC && tags == &[("stage".to_owned(), "apply".to_owned())]))
        .count();
    assert_eq!(refused, 1);
    running.stop().await;
}
