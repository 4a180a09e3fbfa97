//! The server on a real redis-server: the shared one (`REDIS_URL`) for the routes, a
//! private one to kill for the outage and shutdown tests.

use std::time::Duration;

use serde_json::json;
use server::Config;
use storage::Storage;
use storage_redis::testing::{RedisServer, shared_adapter};
use storage_redis::{RedisAdapter, RedisConfig};

use crate::support::{TestServer, config_every, eventually};

/// The base configuration on Redis at `url` under `prefix`, failing fast while the server
/// is down so the tests do not wait out the default retries.
fn on_redis(url: &str, prefix: &str, extra: &str) -> Config {
    on_redis_every("1h", "1h", url, prefix, extra)
}

/// [`on_redis`] with the checks refreshed every `refresh` and a cascade every `cascade`.
fn on_redis_every(refresh: &str, cascade: &str, url: &str, prefix: &str, extra: &str) -> Config {
    config_every(
        refresh,
        cascade,
        &format!(
            "[storage]\nredis_url = {url:?}\nkey_prefix = {prefix:?}\ntimeout = \"500ms\"\nmax_retries = 1\nretry_delay = \"50ms\"\nmax_retry_delay = \"100ms\"\n\n{extra}"
        ),
    )
}

/// An adapter on the same server and prefix as the server under test, to look at what it
/// stored.
async fn observer(url: &str, prefix: &str) -> RedisAdapter {
    let mut redis = RedisConfig::new(url);
    redis.key_prefix = prefix.to_owned();
    let adapter = RedisAdapter::from_config(redis).unwrap();
    adapter.connect().await.unwrap();
    adapter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works_on_redis_and_state_lands_in_it() {
    let Some(shared) = shared_adapter("server_routes_on_redis").await else {
        return;
    };
    let url = shared.config().redis_url.clone();
    let prefix = shared.config().key_prefix.clone();
    let server = TestServer::start(on_redis(&url, &prefix, "")).await;

    server.get("/health/live").await.expect(200);
    server.get("/health/ready").await.expect(200);
    let state = server.admin_get("/health/state").await.expect(200).json();
    assert_eq!(
        state["health_checks"]["storage"]["status"], "healthy",
        "{state}"
    );
    assert_eq!(
        state["health_checks"]["storage"]["metadata"]["backend"],
        "redis"
    );
    assert_eq!(
        state["storage"],
        json!({"backend": "redis", "status": "ok", "pending_records": 0})
    );
    server.get("/health/checks").await.expect(200);
    server.get("/health/cascade").await.expect(200);
    server.get("/metrics").await.expect(200);
    server.get("/health/metrics").await.expect(200);

    // One-shot (no hold), so that the cascade takes the mode back.
    server.set_mode_once("safe").await.expect(200);
    server.admin_post("/health/cascade", "").await.expect(200);
    let transitions = server.get("/fallback/transitions").await.expect(200).json();
    assert_eq!(transitions["total_transitions"], 2);
    assert_eq!(
        server.get("/fallback/metrics").await.expect(200).json()["pending_records"],
        0
    );

    let mut keys = shared.keys("fallback:transition:*").await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let first = shared.get(&keys[0]).await.unwrap().unwrap();
    assert_eq!(
        (first["from"].as_str(), first["to"].as_str()),
        (Some("primary"), Some("safe"))
    );
    assert_eq!(first["reason"], "manual");
    assert!(
        shared.ttl(&keys[0]).await.unwrap().is_some(),
        "transition records expire"
    );

    server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "newrelic", "name": "prod", "config": {"account_id": 3141592}}"#,
        )
        .await
        .expect(200);
    let stored = shared
        .get("monitoring:integration:prod")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["provider"], "newrelic");
    assert_eq!(stored["config"], json!({"account_id": 3141592}));
    assert!(stored["registered_at"].is_string());

    server
        .webhook(
            "datadog",
            r#"{"alert_type": "error", "check": "db", "text": "down"}"#,
        )
        .await
        .expect(200);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_rules_are_stored_as_definitions() {
    let Some(shared) = shared_adapter("server_rules_on_redis").await else {
        return;
    };
    let url = shared.config().redis_url.clone();
    let prefix = shared.config().key_prefix.clone();
    let server = TestServer::start(on_redis(
        &url,
        &prefix,
        "[[fallbacks]]\nname = \"hot\"\ncondition = \"severity >= 0.8\"\nmetadata = {owner = \"sre\"}\n",
    ))
    .await;
    let stored = shared
        .get("fallback:definition:hot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["condition"], "severity >= 0.8");
    assert_eq!(stored["metadata"], json!({"owner": "sre"}));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_degrades_storage_but_read_routes_still_answer() {
    let Some(mut redis) = RedisServer::start_or_skip("server_redis_outage") else {
        return;
    };
    let url = redis.url();
    let config = on_redis_every("200ms", "200ms", &url, "outage:", "");
    let server = TestServer::start(config).await;
    server.get("/health/ready").await.expect(200);

    redis.kill();
    eventually(
        "the storage check to fail",
        Duration::from_secs(15),
        || async { server.get("/health/state").await.json()["storage"]["status"] == "degraded" },
    )
    .await;
    let state = server.get("/health/state").await.expect(200).json();
    assert_eq!(
        state["health_checks"]["storage"]["status"], "unhealthy",
        "{state}"
    );
    // Storage is a critical readiness check: failing (three probes in a row), it fails
    // readiness.
    let ready = server.get("/health/ready").await.expect(503).json();
    assert_eq!(ready["failed_checks"], json!(["storage"]));
    assert_eq!(ready["storage"]["status"], "degraded");
    for path in [
        "/health/live",
        "/health/checks",
        "/health/cascade",
        "/metrics",
        "/fallback/transitions",
        "/fallback/metrics",
        "/fallback/mode",
    ] {
        let reply = server.get(path).await;
        assert_eq!(
            reply.status,
            200,
            "{path} during the outage: {}",
            reply.text()
        );
    }
    assert_eq!(
        server.get("/health/checks").await.json()["storage"]["status"],
        "degraded"
    );

    // A mode change is kept in memory and waits for storage.
    server.set_mode("heuristic").await.expect(200);
    let metrics = server.get("/fallback/metrics").await.expect(200).json();
    assert_eq!(metrics["current_mode"], "heuristic");
    assert!(
        metrics["pending_records"].as_u64().unwrap() >= 1,
        "{metrics}"
    );
    let transitions = server.get("/fallback/transitions").await.expect(200).json();
    assert_eq!(
        transitions["transitions"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["to"],
        "heuristic"
    );
    assert_eq!(transitions["storage"]["status"], "degraded");
    // A write that needs storage says so, with a 503 rather than a 500.
    let reply = server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "datadog", "name": "x"}"#,
        )
        .await
        .expect(503);
    assert_eq!(reply.json()["error"], "storage_unavailable");

    // Back: the queued records are written and storage reads ok again.
    redis.restart().unwrap();
    eventually("storage to recover", Duration::from_secs(20), || async {
        let metrics = server.get("/fallback/metrics").await.json();
        metrics["pending_records"] == 0 && metrics["storage"]["status"] == "ok"
    })
    .await;
    let observer = observer(&url, "outage:").await;
    let keys = observer.keys("fallback:transition:*").await.unwrap();
    let mut targets = Vec::new();
    for key in &keys {
        targets.push(
            observer.get(key).await.unwrap().unwrap()["to"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(targets.iter().any(|to| to == "heuristic"), "{targets:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_persists_a_transition_still_waiting_for_storage() {
    let Some(mut redis) = RedisServer::start_or_skip("server_shutdown_flush") else {
        return;
    };
    let url = redis.url();
    // Nothing in the background retries: only shutdown can write the record.
    let server = TestServer::start(on_redis(&url, "shutdown:", "")).await;
    redis.kill();
    server.set_mode("safe").await.expect(200);
    assert_eq!(
        server.get("/fallback/metrics").await.json()["pending_records"],
        1
    );

    redis.restart().unwrap();
    let observer = observer(&url, "shutdown:").await;
    assert!(
        observer
            .keys("fallback:transition:*")
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await.unwrap();

    let keys = observer.keys("fallback:transition:*").await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let record = observer.get(&keys[0]).await.unwrap().unwrap();
    assert_eq!(record["to"], "safe");
    assert_eq!(record["reason"], "manual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_at_start_up_does_not_stop_a_server_with_fallback_rules() {
    let Some(mut redis) = RedisServer::start_or_skip("server_rules_outage_at_start") else {
        return;
    };
    let url = redis.url();
    redis.kill();
    let config = on_redis_every(
        "1h",
        "200ms",
        &url,
        "rules-outage:",
        "[[fallbacks]]\nname = \"hot\"\ncondition = \"severity >= 0.8\"\nmode = \"heuristic\"\n",
    );
    // Starts (and answers) although storage cannot take the rule's definition yet.
    let server = TestServer::start(config).await;
    let state = server.get("/health/state").await.expect(200).json();
    assert_eq!(state["storage"]["status"], "degraded", "{state}");
    let body = server
        .admin_post("/fallback/evaluate", r#"{"severity": 0.9}"#)
        .await
        .expect(200)
        .json();
    assert_eq!(body["unregistered_rules"], json!(["hot"]), "{body}");
    assert_eq!(body["report"]["fired"], json!([]), "{body}");

    // Once storage is back, the rule is registered and fires.
    redis.restart().unwrap();
    eventually("the rule to fire", Duration::from_secs(20), || async {
        let body = server
            .admin_post("/fallback/evaluate", r#"{"severity": 0.9}"#)
            .await
            .expect(200)
            .json();
        body["report"]["fired"][0]["name"] == "hot" && body["unregistered_rules"] == json!([])
    })
    .await;
    assert_eq!(
        server.get("/fallback/mode").await.json()["mode"],
        "heuristic"
    );
    let observer = observer(&url, "rules-outage:").await;
    assert!(
        observer
            .get("fallback:definition:hot")
            .await
            .unwrap()
            .is_some(),
        "the definition was stored once storage answered"
    );
    server.stop().await.unwrap();
}
