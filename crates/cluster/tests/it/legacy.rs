//! The original's `RedisClient` on a real Redis, alone and beside coordinators.

use std::time::Duration;

use cluster::KeySpace;
use cluster::legacy::RedisClient;
use fallback::FallbackMode;
use serde_json::json;
use storage_redis::testing::{RedisServer, redis_url};

use crate::support::{coordinator, fast_config, healthy, prefix, redis_config, until};

async fn client(test: &str) -> Option<(RedisClient, String, String)> {
    let url = redis_url(test)?;
    let prefix = prefix(test);
    let client =
        RedisClient::from_config(redis_config(&url), KeySpace::new(&prefix).unwrap()).unwrap();
    assert!(client.connect().await);
    Some((client, url, prefix))
}

#[tokio::test]
async fn leader_election_and_renewal_are_the_originals() {
    let Some((client, url, prefix)) = client("legacy_leader").await else {
        return;
    };
    assert_eq!(client.get_leader().await, None);
    assert!(client.leader_election("astra-1", 30).await);
    assert!(!client.leader_election("astra-2", 30).await);
    assert_eq!(client.get_leader().await.as_deref(), Some("astra-1"));
    assert!(client.renew_leadership("astra-1", 60).await);
    assert!(!client.renew_leadership("astra-2", 60).await);
    let raw = redis::Client::open(url.as_str()).unwrap();
    let mut connection = raw.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:resilience:leader"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((55..=60).contains(&ttl), "{ttl}");
    assert!(client.health_check().await);
}

#[tokio::test]
async fn votes_and_health_carry_a_timestamp_and_are_listed_by_instance() {
    let Some((client, _, prefix)) = client("legacy_votes").await else {
        return;
    };
    let vote =
        json!({"circuit_breaker_state": "CLOSED", "fallback_mode": "PRIMARY", "health_score": 1.0});
    assert!(client.register_vote("astra-1", &vote, 30).await);
    assert!(
        client
            .register_vote("astra-2", &json!({"fallback_mode": "safe"}), 30)
            .await
    );
    assert!(
        !client
            .register_vote("astra-3", &json!("not an object"), 30)
            .await
    );
    let votes = client.get_cluster_votes(None).await;
    assert_eq!(votes.keys().collect::<Vec<_>>(), ["astra-1", "astra-2"]);
    assert_eq!(votes["astra-1"]["fallback_mode"], "PRIMARY");
    assert!(votes["astra-1"]["timestamp"].as_str().is_some());
    // An explicit prefix, as the original takes it.
    let explicit = client
        .get_cluster_votes(Some(&format!("{prefix}:resilience:vote")))
        .await;
    assert_eq!(explicit, votes);

    assert!(
        client
            .publish_health("astra-1", &json!({"health_score": 0.9}), 60)
            .await
    );
    assert_eq!(
        client.get_instance_health("astra-1").await.unwrap()["health_score"],
        0.9
    );
    assert_eq!(client.get_instance_health("astra-9").await, None);
    let all = client.get_all_instance_health().await;
    assert_eq!(all.keys().collect::<Vec<_>>(), ["astra-1"]);

    assert_eq!(client.clear_stale_votes(None).await, 2);
    assert!(client.get_cluster_votes(None).await.is_empty());
    assert_eq!(client.clear_stale_votes(None).await, 0);
}

#[tokio::test]
async fn state_is_published_to_subscribers() {
    let Some((client, _, prefix)) = client("legacy_pubsub").await else {
        return;
    };
    let channel = format!("{prefix}:resilience:state");
    let mut subscription = client.subscribe_to_channel(&channel).await.unwrap();
    let state = json!({"instance_id": "astra-1", "is_leader": true, "state": {}});
    assert_eq!(client.publish_state(&channel, &state).await, 1);
    assert_eq!(
        subscription.next_within(Duration::from_secs(2)).await,
        Some(state)
    );
}

#[tokio::test]
async fn every_call_is_neutral_when_not_connected() {
    // Nothing listens on port 1.
    let client =
        RedisClient::from_config(redis_config("redis://127.0.0.1:1/0"), KeySpace::default())
            .unwrap();
    assert!(!client.connected());
    assert!(!client.leader_election("a", 30).await);
    assert!(!client.renew_leadership("a", 30).await);
    assert_eq!(client.get_leader().await, None);
    assert_eq!(client.publish_state("c", &json!({})).await, 0);
    assert!(!client.register_vote("a", &json!({}), 30).await);
    assert!(client.get_cluster_votes(None).await.is_empty());
    assert!(!client.publish_health("a", &json!({}), 60).await);
    assert_eq!(client.get_instance_health("a").await, None);
    assert!(client.get_all_instance_health().await.is_empty());
    assert_eq!(client.clear_stale_votes(None).await, 0);
    assert!(client.subscribe_to_channel("c").await.is_none());
    assert!(!client.health_check().await);
    assert!(!client.connect().await);
    assert!(RedisClient::new("redis://127.0.0.1:1/0").is_ok());
}

#[tokio::test]
async fn a_server_that_goes_away_gives_neutral_answers_and_comes_back() {
    let Some(mut server) = RedisServer::start_or_skip("legacy_outage") else {
        return;
    };
    let client =
        RedisClient::from_config(redis_config(&server.url()), KeySpace::default()).unwrap();
    assert!(client.connect().await);
    assert!(client.leader_election("astra-1", 30).await);
    server.kill();
    let started = std::time::Instant::now();
    assert_eq!(client.get_leader().await, None);
    assert!(!client.health_check().await);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.restart().unwrap();
    // Unlike the original, a failed health check does not disconnect it for good.
    assert!(client.connect().await);
    assert!(client.health_check().await);
    assert_eq!(
        client.get_leader().await,
        None,
        "the server restarted empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_client_and_coordinators_share_keys() {
    let test = "legacy_interop";
    let Some((client, url, prefix)) = client(test).await else {
        return;
    };
    let config = fast_config(&prefix);
    let a = coordinator("web-1", &url, &config);
    let running = a.spawn();
    a.cascade(&healthy()).await;
    until(Duration::from_secs(3), || a.decision().is_some())
        .await
        .expect("a decides alone");

    // The original's view of a coordinated cluster.
    assert_eq!(client.get_leader().await.as_deref(), Some("web-1"));
    let votes = client.get_cluster_votes(None).await;
    assert_eq!(votes["web-1"]["fallback_mode"], "primary");
    let health = client.get_all_instance_health().await;
    assert_eq!(health["web-1"]["instance_id"], "web-1");
    assert_eq!(health["web-1"]["health_score"], 1.0);
    assert!(!client.renew_leadership("astra-py", 30).await);

    // A replica on the original's client votes and heartbeats: it is a member, and its
    // vote counts (SAFE from both members: SAFE).
    assert!(
        client
            .publish_health("astra-py", &json!({"health_score": 0.0}), 60)
            .await
    );
    assert!(
        client
            .register_vote("astra-py", &json!({"fallback_mode": "SAFE"}), 30)
            .await
    );
    a.cascade(&crate::support::failing()).await;
    until(Duration::from_secs(2), || {
        a.manager().get_current_mode() == FallbackMode::Safe
    })
    .await
    .expect("the legacy replica's vote counts");
    let status = a.status().await;
    assert_eq!(status.members.len(), 2);
    assert_eq!(status.votes.unwrap().safe, 2);
    running.stop().await;

    // The original holds the leader key (no fenced lease): coordinators follow no leader
    // of theirs and cascade locally.
    assert!(client.leader_election("astra-py", 30).await);
    let b = coordinator("web-2", &url, &config);
    let running = b.spawn();
    b.cascade(&healthy()).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!b.is_leader());
    assert_eq!(b.status().await.leader.as_deref(), Some("astra-py"));
    running.stop().await;
}
