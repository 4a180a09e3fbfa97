//! Every operation of the store (every Lua script), checked on a real Redis and, with
//! the same assertions, on the in-memory model the simulation runs on.

use std::time::Duration;

use cluster::record::{Decision, Heartbeat, OverrideRequest, Vote, VoteTally};
use cluster::store::{Acquire, Beat, Hint, Publication, Publish, Refusal, Renewal};
use cluster::{ClusterStore, MemoryStore};
use fallback::FallbackMode::{self, Heuristic, Primary, Safe};
use serde_json::json;

const TTL: Duration = Duration::from_millis(400);

fn beat(id: &str, vote: Option<FallbackMode>) -> Beat {
    let heartbeat: Heartbeat =
        serde_json::from_value(json!({"instance_id": id, "mode": "primary", "version": "test"}))
            .unwrap();
    let vote = vote.map(|mode| {
        serde_json::from_value::<Vote>(json!({"instance_id": id, "fallback_mode": mode})).unwrap()
    });
    let mut beat = Beat::new(id, heartbeat, vote);
    beat.member_ttl = TTL;
    beat.vote_ttl = TTL;
    beat
}

fn decision(leader: &str, epoch: u64, seq: u64, mode: FallbackMode) -> Decision {
    serde_json::from_value(json!({
        "kind": "decision", "epoch": epoch, "seq": seq, "mode": mode, "reason": "test",
        "held": false, "leader": leader, "decided_at_ms": 1, "mode_since_ms": 1,
        "votes": VoteTally::default(),
    }))
    .unwrap()
}

fn request(id: &str, mode: FallbackMode, hold: bool) -> OverrideRequest {
    serde_json::from_value(
        json!({"kind": "override", "id": id, "mode": mode, "hold": hold, "requested_by": "ops"}),
    )
    .unwrap()
}

async fn granted(store: &dyn ClusterStore, id: &str, floor: u64) -> u64 {
    match store.acquire(id, TTL, floor).await.unwrap() {
        Acquire::Granted(epoch) => epoch,
        other => panic!("{id} expected the lease, got {other:?}"),
    }
}

async fn the_lease_is_exclusive_and_its_epoch_only_grows(store: &dyn ClusterStore) {
    let now_ms = store.heartbeat(&beat("x", None)).await.unwrap().now_ms;
    let first = granted(store, "a", 0).await;
    // At least the store's clock in milliseconds.
    assert!(
        (now_ms..now_ms + 1000).contains(&first),
        "{first} vs {now_ms}"
    );
    assert_eq!(
        store.acquire("b", TTL, 0).await.unwrap(),
        Acquire::Held("a".into())
    );
    // Its own id takes over (a restart, a lost reply) with a new epoch.
    let second = granted(store, "a", 0).await;
    assert!(second > first);
    // A floor above the counter and the clock wins.
    let floor = second + 1_000_000;
    let third = granted(store, "a", floor).await;
    assert_eq!(third, floor + 1);
    // Compare-and-delete: only with the right id and epoch.
    assert!(!store.step_down("b", third).await.unwrap());
    assert!(!store.step_down("a", second).await.unwrap());
    assert!(store.step_down("a", third).await.unwrap());
    assert_eq!(granted(store, "b", 0).await, third + 1);
    // After expiry, anyone: the epoch keeps growing.
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(granted(store, "c", 0).await, third + 2);
}

async fn a_heartbeat_writes_renews_and_reads(store: &dyn ClusterStore) {
    let epoch = granted(store, "a", 0).await;
    // Not listing: the state only.
    let observation = store.heartbeat(&beat("b", Some(Safe))).await.unwrap();
    assert_eq!(observation.leader.as_deref(), Some("a"));
    assert_eq!(observation.lease_epoch, Some(epoch));
    assert!(observation.lease_remaining.is_some_and(|left| left <= TTL));
    assert_eq!(observation.epoch_counter, epoch);
    assert_eq!(observation.live_members, 1);
    assert!(observation.members.is_none());
    assert!(!observation.renewed);
    assert!(observation.now_ms > 1_600_000_000_000);

    // The leader renews (only with its epoch) and lists the members with their votes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut leader = beat("a", None);
    leader.renew = Some(Renewal::new(epoch + 1, TTL));
    assert!(!store.heartbeat(&leader).await.unwrap().renewed);
    leader.renew = Some(Renewal::new(epoch, TTL));
    leader.list_members = true;
    let observation = store.heartbeat(&leader).await.unwrap();
    assert!(observation.renewed);
    assert!(
        observation
            .lease_remaining
            .is_some_and(|left| left > Duration::from_millis(300))
    );
    let members = observation.members.unwrap();
    let listed: Vec<_> = members.iter().map(|m| (m.id.as_str(), m.vote)).collect();
    assert_eq!(listed, [("a", None), ("b", Some(Safe))]);
    assert_eq!(members[1].heartbeat.version, "test");
    assert_eq!(store.members().await.unwrap(), members);

    // Heartbeats and votes expire: `b` is no member any more, `a` is.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let observation = store.heartbeat(&leader).await.unwrap();
    let members = observation.members.unwrap();
    assert_eq!(
        members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(observation.live_members, 1);
}

async fn a_decision_is_fenced_and_announced(store: &dyn ClusterStore) {
    let mut hints = store.subscribe().await.unwrap();
    let epoch = granted(store, "a", 0).await;
    let first = decision("a", epoch, 1, Safe);
    // Not the leader, not its epoch.
    assert_eq!(
        store
            .publish(&Publication::new(&decision("b", epoch, 1, Safe), 0))
            .await
            .unwrap(),
        Publish::Refused(Refusal::NotLeader)
    );
    assert_eq!(
        store
            .publish(&Publication::new(&decision("a", epoch + 1, 1, Safe), 0))
            .await
            .unwrap(),
        Publish::Refused(Refusal::Fenced)
    );
    // The record it was decided from must still be there.
    assert_eq!(
        store.publish(&Publication::new(&first, 7)).await.unwrap(),
        Publish::Refused(Refusal::Conflict)
    );
    assert!(matches!(
        store.publish(&Publication::new(&first, 0)).await.unwrap(),
        Publish::Published(_)
    ));
    assert_eq!(store.read_decision().await.unwrap(), Some(first.clone()));
    let hint = tokio::time::timeout(Duration::from_secs(2), hints.next())
        .await
        .unwrap();
    assert_eq!(hint, Some(Hint::Decision(first.stamp())));
    // Same seq again: not newer.
    assert_eq!(
        store.publish(&Publication::new(&first, 1)).await.unwrap(),
        Publish::Refused(Refusal::Conflict)
    );
    // A new leader's decisions move on; the old leader's are refused.
    assert!(store.step_down("a", epoch).await.unwrap());
    let newer = granted(store, "b", 0).await;
    let second = decision("b", newer, 2, Primary);
    assert!(matches!(
        store.publish(&Publication::new(&second, 1)).await.unwrap(),
        Publish::Published(_)
    ));
    assert_eq!(
        store
            .publish(&Publication::new(&decision("a", epoch, 3, Heuristic), 2))
            .await
            .unwrap(),
        Publish::Refused(Refusal::NotLeader)
    );
    assert_eq!(store.read_decision().await.unwrap(), Some(second));
}

async fn a_record_of_a_newer_epoch_is_never_overwritten(store: &dyn ClusterStore) {
    // A leader whose lease was issued before the record's epoch (a store that lost its
    // counter but kept the record is handled by acquire; this is the script's own check).
    let epoch = granted(store, "a", 0).await;
    assert!(matches!(
        store
            .publish(&Publication::new(&decision("a", epoch, 1, Safe), 0))
            .await
            .unwrap(),
        Publish::Published(_)
    ));
    assert!(store.step_down("a", epoch).await.unwrap());
    let newer = granted(store, "b", 0).await;
    assert!(matches!(
        store
            .publish(&Publication::new(&decision("b", newer, 2, Primary), 1))
            .await
            .unwrap(),
        Publish::Published(_)
    ));
    assert!(store.step_down("b", newer).await.unwrap());
    // `a` takes the lease again, gets a newer epoch than the record's: writes fine; with
    // its old epoch it is fenced.
    let latest = granted(store, "a", 0).await;
    assert!(latest > newer);
    assert_eq!(
        store
            .publish(&Publication::new(&decision("a", epoch, 3, Safe), 2))
            .await
            .unwrap(),
        Publish::Refused(Refusal::Fenced)
    );
}

async fn operator_requests_are_kept_consumed_and_restored(store: &dyn ClusterStore) {
    let mut hints = store.subscribe().await.unwrap();
    let hold = request("r1", Safe, true);
    store
        .request(&hold, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let hint = tokio::time::timeout(Duration::from_secs(2), hints.next())
        .await
        .unwrap();
    assert_eq!(hint, Some(Hint::Operator));
    let observation = store.heartbeat(&beat("a", None)).await.unwrap();
    let (seen, left) = observation.operator.unwrap();
    assert_eq!(seen, hold);
    assert!(left.is_some_and(|left| left > Duration::from_secs(59)));

    // A one-shot request replaces it, and the decision that carries it out consumes it
    // (and only it).
    let once = request("r2", Heuristic, false);
    store.request(&once, None).await.unwrap();
    let epoch = granted(store, "a", 0).await;
    let unrelated = decision("a", epoch, 1, Heuristic);
    let mut other = Publication::new(&unrelated, 0);
    other.consume = Some("not-r2");
    assert!(matches!(
        store.publish(&other).await.unwrap(),
        Publish::Published(_)
    ));
    let observation = store.heartbeat(&beat("a", None)).await.unwrap();
    assert_eq!(observation.operator, Some((once.clone(), None)));
    let carried = decision("a", epoch, 2, Heuristic);
    let mut publication = Publication::new(&carried, 1);
    publication.consume = Some("r2");
    assert!(matches!(
        store.publish(&publication).await.unwrap(),
        Publish::Published(_)
    ));
    assert_eq!(
        store.heartbeat(&beat("a", None)).await.unwrap().operator,
        None
    );

    // A decision can write a lost hold back, with its time left.
    let restored = decision("a", epoch, 3, Safe);
    let mut publication = Publication::new(&restored, 2);
    publication.restore = Some((&hold, Some(Duration::from_secs(30))));
    assert!(matches!(
        store.publish(&publication).await.unwrap(),
        Publish::Published(_)
    ));
    let (seen, left) = store
        .heartbeat(&beat("a", None))
        .await
        .unwrap()
        .operator
        .unwrap();
    assert_eq!(seen, hold);
    assert!(left.is_some_and(|left| left <= Duration::from_secs(30)));

    // A release deletes it, with a hint; expiry ends one too.
    assert!(store.clear_request().await.unwrap());
    assert!(!store.clear_request().await.unwrap());
    assert_eq!(
        store.heartbeat(&beat("a", None)).await.unwrap().operator,
        None
    );
    store
        .request(&hold, Some(Duration::from_millis(100)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.heartbeat(&beat("a", None)).await.unwrap().operator,
        None
    );
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = crate::support::redis_store(stringify!($name)) else { return };
                    super::$name(&store).await;
                }
            )*
        }

        mod on_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&cluster::MemoryStore::new()).await;
                }
            )*
        }
    };
}

conformance!(
    the_lease_is_exclusive_and_its_epoch_only_grows,
    a_heartbeat_writes_renews_and_reads,
    a_decision_is_fenced_and_announced,
    a_record_of_a_newer_epoch_is_never_overwritten,
    operator_requests_are_kept_consumed_and_restored,
);

#[tokio::test]
async fn a_memory_store_restart_loses_everything_and_ends_subscriptions() {
    let store = MemoryStore::new();
    let mut hints = store.subscribe().await.unwrap();
    let epoch = granted(&store, "a", 0).await;
    store
        .publish(&Publication::new(&decision("a", epoch, 1, Safe), 0))
        .await
        .unwrap();
    assert!(hints.next().await.is_some());
    store.restart();
    assert_eq!(hints.next().await, None);
    assert_eq!(store.read_decision().await.unwrap(), None);
    assert_eq!(store.lease(), None);
    // The counter is gone too: the clock (or a floor) keeps the epoch from going back.
    assert!(granted(&store, "b", 0).await > epoch);
    assert_eq!(
        granted(&store, "b", epoch + 1_000_000).await,
        epoch + 1_000_001
    );
}

#[tokio::test]
async fn the_redis_keys_are_the_originals() {
    let Some(url) = storage_redis::testing::redis_url("the_redis_keys_are_the_originals") else {
        return;
    };
    let prefix = crate::support::prefix("keys");
    let store = cluster::RedisStore::new(
        crate::support::redis_config(&url),
        cluster::KeySpace::new(&prefix).unwrap(),
    )
    .unwrap();
    let epoch = granted(&store, "web-1", 0).await;
    store
        .heartbeat(&beat("web-1", Some(Heuristic)))
        .await
        .unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let get = |key: String| {
        let mut connection = connection.clone();
        async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(&mut connection)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        get(format!("{prefix}:resilience:leader")).await.as_deref(),
        Some("web-1")
    );
    assert_eq!(
        get(format!("{prefix}:resilience:lease")).await,
        Some(epoch.to_string())
    );
    let vote: serde_json::Value = serde_json::from_str(
        &get(format!("{prefix}:resilience:vote:web-1"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(vote["fallback_mode"], "heuristic");
    let health: serde_json::Value =
        serde_json::from_str(&get(format!("{prefix}:health:web-1")).await.unwrap()).unwrap();
    assert_eq!(health["instance_id"], "web-1");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:resilience:vote:web-1"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 400, "{ttl}");
}

#[tokio::test]
async fn an_evicted_epoch_counter_never_reissues_an_epoch() {
    let test = "an_evicted_epoch_counter_never_reissues_an_epoch";
    let Some(url) = storage_redis::testing::redis_url(test) else {
        return;
    };
    let prefix = crate::support::prefix(test);
    let store = cluster::RedisStore::new(
        crate::support::redis_config(&url),
        cluster::KeySpace::new(&prefix).unwrap(),
    )
    .unwrap();
    let epoch = granted(&store, "a", 0).await;
    let epoch = granted(&store, "a", epoch + 1_000_000).await;
    store
        .publish(&Publication::new(&decision("a", epoch, 1, Safe), 0))
        .await
        .unwrap();
    assert!(store.step_down("a", epoch).await.unwrap());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{prefix}:resilience:epoch"))
        .query_async(&mut connection)
        .await
        .unwrap();
    // The counter restarts (at the clock), behind the record: the lease comes after it.
    assert_eq!(granted(&store, "b", 0).await, epoch + 1);
}
