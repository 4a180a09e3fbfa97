//! Every route against MemoryStorage, in-process.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{JSON, TestServer, downstream_service, eventually};

fn is_timestamp(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.parse::<health::model::Timestamp>().is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answers_alive_with_a_timestamp() {
    let server = TestServer::memory("").await;
    let body = server.get("/health/live").await.expect(200).json();
    assert_eq!(body["status"], "alive");
    assert!(is_timestamp(&body["timestamp"]), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_200_in_every_mode_and_with_failed_components() {
    let server = TestServer::memory("").await;
    let ready = server.get("/health/ready").await.expect(200);
    assert_eq!(ready.header("content-type"), Some("application/json"));
    assert_eq!(ready.json(), json!({"status": "ready"}));
    server.get("/readyz").await.expect(200);
    server.get("/health/startup").await.expect(200);
    server.get("/startupz").await.expect(200);
    server.get("/livez").await.expect(200);

    // A degraded mode still serves: readiness says so, with 200.
    for mode in ["heuristic", "safe"] {
        server.set_mode(mode).await.expect(200);
        let body = server.get("/health/ready").await.expect(200).json();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["mode"], mode);
    }
    server.set_mode("primary").await.expect(200);
    // A failed component drives the mode, not readiness.
    server
        .webhook(
            "datadog",
            r#"{"alert_type": "error", "check": "payments", "text": "down"}"#,
        )
        .await
        .expect(200);
    server.get("/health/ready").await.expect(200);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_non_critical_check_degrades_and_a_critical_one_fails_readiness() {
    let (up, _probes) = downstream_service(usize::MAX, Duration::ZERO).await;
    // Nothing listens there.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = TestServer::start(crate::support::config_every(
        "100ms",
        "100ms",
        &format!(
            "[[checks.http]]\nname = \"recommendations\"\nurl = \"http://{down}/health\"\ncritical = false\n\
             [[checks.http]]\nname = \"billing\"\nurl = \"http://{up}/health\"\n"
        ),
    ))
    .await;
    eventually(
        "the optional check to fail",
        Duration::from_secs(10),
        || async { server.get("/health/state").await.json()["system"]["status"] == "degraded" },
    )
    .await;
    let body = server.get("/health/ready").await.expect(200).json();
    assert_eq!(body["health"], "degraded");
    assert_eq!(body["degraded_checks"], json!(["recommendations"]));
    let state = server.get("/health/state").await.json();
    assert_eq!(state["system"]["failed_components"], 0);
    assert_eq!(state["fallback"]["mode"], "primary");
    server.stop().await.unwrap();

    let server = TestServer::start(crate::support::config_every(
        "100ms",
        "100ms",
        &format!("[[checks.http]]\nname = \"billing\"\nurl = \"http://{down}/health\"\n"),
    ))
    .await;
    eventually(
        "the critical check to fail readiness",
        Duration::from_secs(10),
        || async { server.get("/health/ready").await.status == 503 },
    )
    .await;
    let body = server.get("/health/ready").await.expect(503).json();
    assert_eq!(body["failed_checks"], json!(["billing"]));
    assert_eq!(body["failed_count"], 1);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_are_hidden_without_the_token() {
    let server = TestServer::memory(
        "[health.groups.core]\ninclude = [\"tag:ready\"]\nexclude = [\"disk\"]\n",
    )
    .await;
    server
        .webhook(
            "datadog",
            r#"{"alert_type": "error", "check": "payments", "text": "secret.internal:5432 refused"}"#,
        )
        .await
        .expect(200);
    for path in ["/health/state", "/health/checks"] {
        let text = server.get(path).await.expect(200).text();
        assert!(!text.contains("secret.internal"), "{path}: {text}");
        assert!(!text.contains("\"path\""), "{path}: {text}");
        assert!(text.contains("\"details\":\"hidden\""), "{path}: {text}");
        let shown = server.admin_get(path).await.expect(200).text();
        assert!(shown.contains("\"details\":\"shown\""), "{path}: {shown}");
    }
    let state = server.admin_get("/health/state").await.json();
    assert_eq!(
        state["components"]["payments"]["last_error"],
        "secret.internal:5432 refused"
    );
    assert!(state["health_checks"]["disk"]["metadata"]["path"].is_string());

    let group = server.get("/health/group/core").await.expect(200).json();
    assert_eq!(group["name"], "core");
    assert!(group["checks"]["storage"].is_object());
    assert!(group["checks"].get("disk").is_none());
    assert!(group.get("results").is_none());
    let group = server
        .admin_get("/health/group/core")
        .await
        .expect(200)
        .json();
    assert_eq!(group["results"]["storage"]["status"], "healthy");
    server.get("/health/group/nope").await.expect(404);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_whose_alert_fields_are_all_null_is_refused_with_422() {
    let server = TestServer::memory("").await;
    for (provider, body) in [
        ("datadog", r#"{"title": null}"#),
        ("newrelic", r#"{"condition_name": null, "severity": null}"#),
    ] {
        let reply = server.webhook(provider, body).await.expect(422).json();
        assert!(
            reply["detail"].as_str().unwrap().contains("null"),
            "{reply}"
        );
    }
    let state = server.get("/health/state").await.json();
    assert_eq!(state["components"], json!({}));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_the_monitors_state_with_the_fallback_mode_and_the_last_ten_transitions() {
    let server = TestServer::memory("").await;
    let modes = ["heuristic", "safe", "primary"];
    for index in 0..12 {
        server.set_mode(modes[index % 3]).await.expect(200);
    }
    let body = server.get("/health/state").await.expect(200).json();
    for key in [
        "timestamp",
        "system",
        "circuit_breaker",
        "retry",
        "resources",
        "components",
        "health_checks",
        "uptime_seconds",
        "fallback",
        "storage",
    ] {
        assert!(body.get(key).is_some(), "no {key} in {body}");
    }
    assert_eq!(body["fallback"]["mode"], "primary");
    let log = body["fallback"]["cascade_log"].as_array().unwrap();
    assert_eq!(log.len(), 10);
    // The last ten, oldest first: the 3rd change (to primary) through the 12th.
    let targets: Vec<&str> = log
        .iter()
        .map(|record| record["to"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = (2..12).map(|index| modes[index % 3]).collect();
    assert_eq!(targets, expected);
    assert_eq!(log[0]["reason"], "manual");
    assert_eq!(body["health_checks"]["disk"]["status"], "healthy");
    assert_eq!(body["health_checks"]["storage"]["status"], "healthy");
    assert_eq!(
        body["storage"],
        json!({"backend": "memory", "status": "ok", "pending_records": 0})
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_lists_the_latest_results_of_every_configured_check() {
    let server = TestServer::memory("").await;
    let body = server.admin_get("/health/checks").await.expect(200).json();
    let names: BTreeSet<&str> = body["checks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, BTreeSet::from(["disk", "storage"]));
    assert_eq!(
        body["checks"]["storage"]["message"],
        "memory connection healthy"
    );
    assert!(is_timestamp(&body["timestamp"]));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_state_and_checks_are_served_from_the_cache_never_by_running_checks() {
    let (addr, probes) = downstream_service(usize::MAX, Duration::ZERO).await;
    let server = TestServer::memory(&format!(
        "[[checks.http]]\nname = \"billing\"\nurl = \"http://{addr}/health\"\n"
    ))
    .await;
    // Start-up runs the checks, and the refresher's first round follows at once.
    eventually("the start-up probes", Duration::from_secs(10), || async {
        probes.load(Ordering::SeqCst) >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = probes.load(Ordering::SeqCst);
    for _ in 0..30 {
        server.get("/health/ready").await.expect(200);
        server.get("/health/state").await.expect(200);
        server.get("/health/checks").await.expect(200);
        server.get("/health/cascade").await.expect(200);
    }
    assert_eq!(
        probes.load(Ordering::SeqCst),
        before,
        "a read route ran a check"
    );
    let body = server.get("/health/checks").await.json();
    assert_eq!(body["checks"]["billing"]["status"], "healthy");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_reads_the_same_mode() {
    let server = TestServer::memory("").await;
    for mode in ["safe", "heuristic", "primary"] {
        server.set_mode(mode).await.expect(200);
        let level = match mode {
            "primary" => 0,
            "heuristic" => 1,
            _ => 2,
        };
        let state = server.get("/health/state").await.json();
        assert_eq!(state["fallback"]["mode"], mode);
        assert_eq!(server.get("/fallback/mode").await.json()["mode"], mode);
        assert_eq!(
            server.get("/fallback/metrics").await.json()["current_mode"],
            mode
        );
        assert_eq!(
            server.get("/health/cascade").await.json()["fallback_mode"],
            mode
        );
        // Readiness serves in every mode.
        let ready = server.get("/health/ready").await.expect(200);
        if mode != "primary" {
            assert_eq!(ready.json()["mode"], mode);
        }
        let metrics = server.get("/metrics").await.text();
        assert!(
            metrics.contains(&format!("\nfallback_mode {level}\n")),
            "{mode}: {metrics}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cascade_applies_the_cached_state_and_post_cascade_refreshes_it_first() {
    let server = TestServer::memory("").await;
    let body = server.set_mode_once("heuristic").await.expect(200).json();
    assert_eq!(body["hold"], Value::Null, "hold_seconds 0 holds nothing");
    let applied = server.get("/health/cascade").await.expect(200).json();
    assert_eq!(applied["fallback_mode"], "primary");
    assert_eq!(applied["previous_mode"], "heuristic");
    assert_eq!(applied["changed"], true);
    assert_eq!(applied["held"], false);
    assert!(is_timestamp(&applied["timestamp"]), "{applied}");
    assert_eq!(server.get("/fallback/mode").await.json()["mode"], "primary");
    let log = server.get("/fallback/transitions?limit=1").await.json();
    assert_eq!(log["transitions"][0]["from"], "heuristic");
    assert_ne!(log["transitions"][0]["reason"], "manual");
    let again = server.get("/health/cascade").await.expect(200).json();
    assert_eq!(
        (&again["fallback_mode"], &again["changed"]),
        (&json!("primary"), &json!(false))
    );

    server
        .request("POST", "/health/cascade", &[], None)
        .await
        .expect(401);
    server.set_mode_once("safe").await.expect(200);
    let applied = server
        .admin_post("/health/cascade", "")
        .await
        .expect(200)
        .json();
    assert_eq!(
        applied
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "fallback_mode",
            "previous_mode",
            "changed",
            "held",
            "timestamp"
        ])
    );
    assert_eq!(applied["fallback_mode"], "primary");
    assert_eq!(applied["previous_mode"], "safe");
    assert_eq!(applied["changed"], true);

    // Two failed components: the cascade goes SAFE and explains why.
    for component in ["db", "cache"] {
        server
            .webhook(
                "newrelic",
                &format!(r#"{{"condition_name": "{component}", "severity": "critical"}}"#),
            )
            .await
            .expect(200);
    }
    let applied = server
        .admin_post("/health/cascade", "")
        .await
        .expect(200)
        .json();
    assert_eq!(applied["fallback_mode"], "safe");
    let log = server.get("/fallback/transitions?limit=1").await.json();
    assert_eq!(log["transitions"][0]["reason"], "multiple_failures(2)");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_mode_survives_every_cascade_until_released() {
    let server = TestServer::memory(
        "[[fallbacks]]\nname = \"hot\"\ncondition = \"severity >= 0.8\"\nmode = \"heuristic\"\n",
    )
    .await;
    let held = json!({"mode": "safe", "expires_in_seconds": null});
    let body = server.set_mode("safe").await.expect(200).json();
    assert_eq!(
        body,
        json!({"mode": "safe", "previous_mode": "primary", "changed": true, "hold": held})
    );
    for _ in 0..3 {
        let applied = server.get("/health/cascade").await.expect(200).json();
        assert_eq!(applied["fallback_mode"], "safe", "{applied}");
        assert_eq!(applied["changed"], false);
        assert_eq!(applied["held"], true);
        let refreshed = server
            .admin_post("/health/cascade", "")
            .await
            .expect(200)
            .json();
        assert_eq!(
            (&refreshed["fallback_mode"], &refreshed["held"]),
            (&json!("safe"), &json!(true))
        );
    }
    // A webhook's cascade and a fallback rule's mode yield to the hold too.
    let ingested = server
        .webhook(
            "datadog",
            r#"{"alert_type": "error", "check": "payments", "text": "down"}"#,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(ingested["ingested"], 1);
    let evaluated = server
        .admin_post("/fallback/evaluate", r#"{"severity": 0.9}"#)
        .await
        .expect(200)
        .json();
    assert_eq!(evaluated["report"]["fired"][0]["name"], "hot");
    assert_eq!(evaluated["mode"], "safe", "{evaluated}");
    assert_eq!(
        server.get("/fallback/mode").await.json(),
        json!({"mode": "safe", "is_degraded": true, "hold": held})
    );
    assert_eq!(server.get("/fallback/metrics").await.json()["hold"], held);
    assert_eq!(
        server.get("/health/state").await.json()["fallback"]["hold"],
        held
    );
    assert_eq!(
        server.get("/fallback/metrics").await.json()["total_transitions"],
        1
    );

    server
        .request("DELETE", "/fallback/mode", &[], None)
        .await
        .expect(401);
    assert_eq!(server.get("/fallback/mode").await.json()["hold"], held);
    let released = server
        .admin_delete("/fallback/mode")
        .await
        .expect(200)
        .json();
    assert_eq!(
        released,
        json!({"mode": "primary", "previous_mode": "safe", "changed": true, "released": held})
    );
    let again = server
        .admin_delete("/fallback/mode")
        .await
        .expect(200)
        .json();
    assert_eq!(
        again,
        json!({"mode": "primary", "previous_mode": "primary", "changed": false, "released": null})
    );
    assert_eq!(
        server.get("/fallback/mode").await.json()["hold"],
        Value::Null
    );
    assert_eq!(server.get("/health/cascade").await.json()["held"], false);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_hold_ends_and_the_cascade_loop_takes_the_mode_back() {
    let config = crate::support::config_every("1h", "100ms", "");
    let server = TestServer::start(config).await;
    let body = server
        .admin_post(
            "/fallback/mode",
            r#"{"mode": "heuristic", "hold_seconds": 3}"#,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(body["mode"], "heuristic");
    assert_eq!(body["hold"]["mode"], "heuristic");
    let left = body["hold"]["expires_in_seconds"].as_f64().unwrap();
    assert!(left > 0.0 && left <= 3.0, "{body}");

    // Several ticks of the loop later, the hold still stands.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mode = server.get("/fallback/mode").await.json();
    assert_eq!(mode["mode"], "heuristic", "{mode}");
    assert!(mode["hold"]["expires_in_seconds"].as_f64().unwrap() < left);

    eventually(
        "the loop to recover after the hold",
        Duration::from_secs(20),
        || async {
            server.get("/fallback/mode").await.json()
                == json!({"mode": "primary", "is_degraded": false, "hold": null})
        },
    )
    .await;
    let log = server.get("/fallback/transitions?limit=1").await.json();
    assert_eq!(log["transitions"][0]["from"], "heuristic");
    assert_ne!(log["transitions"][0]["reason"], "manual");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_on_both_paths() {
    let server = TestServer::memory("").await;
    server.get("/health/ready").await.expect(200);
    for path in ["/metrics", "/health/metrics"] {
        let reply = server.get(path).await.expect(200);
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = reply.text();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/health/ready",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE health_check_status gauge"), "{text}");
        assert!(
            text.contains(r#"health_check_status{check="storage"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("# HELP fallback_mode The fallback mode"),
            "{text}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_honour_the_limit_and_fallback_metrics_count_them() {
    let server = TestServer::memory("").await;
    for mode in ["heuristic", "safe", "primary"] {
        server.set_mode(mode).await.expect(200);
    }
    let body = server
        .get("/fallback/transitions?limit=2")
        .await
        .expect(200)
        .json();
    let targets: Vec<&str> = body["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["to"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["safe", "primary"]);
    assert_eq!(body["total_transitions"], 3);
    let all = server.get("/fallback/transitions").await.expect(200).json();
    assert_eq!(all["transitions"].as_array().unwrap().len(), 3);

    let metrics = server.get("/fallback/metrics").await.expect(200).json();
    assert_eq!(metrics["current_mode"], "primary");
    assert_eq!(metrics["is_degraded"], false);
    assert_eq!(metrics["total_transitions"], 3);
    assert_eq!(metrics["recent_transitions"].as_array().unwrap().len(), 3);
    assert_eq!(metrics["pending_records"], 0);
    assert_eq!(metrics["storage"]["status"], "ok");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_the_mode_ignores_case_and_reports_whether_it_changed() {
    let server = TestServer::memory("").await;
    let body = server.set_mode("HEURISTIC").await.expect(200).json();
    assert_eq!(
        body,
        json!({
            "mode": "heuristic",
            "previous_mode": "primary",
            "changed": true,
            "hold": {"mode": "heuristic", "expires_in_seconds": null},
        })
    );
    let body = server.set_mode("heuristic").await.expect(200).json();
    assert_eq!(body["changed"], false);
    assert_eq!(
        server.get("/fallback/metrics").await.json()["total_transitions"],
        1
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_fallback_rules_fire_on_posted_variables() {
    let server = TestServer::memory(
        r#"
[[fallbacks]]
name = "hot"
condition = "severity >= 0.8 and recurrence_count >= 2"
mode = "heuristic"

[[fallbacks]]
name = "noted"
condition = "confidence < 0.1"
"#,
    )
    .await;
    let body = server
        .admin_post(
            "/fallback/evaluate",
            r#"{"severity": 0.9, "recurrence_count": 3}"#,
        )
        .await
        .expect(200)
        .json();
    let fired: Vec<&str> = body["report"]["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["name"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["hot"]);
    let skipped: Vec<&str> = body["report"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|skip| skip["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["noted"], "confidence was not given: {body}");
    assert_eq!(body["mode"], "heuristic");

    let body = server
        .admin_post(
            "/fallback/evaluate",
            r#"{"severity": 0.1, "recurrence_count": 3, "confidence": 0.05}"#,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(body["report"]["fired"][0]["name"], "noted");
    assert_eq!(body["report"]["fired"].as_array().unwrap().len(), 1);

    server
        .admin_post("/fallback/evaluate", "[1, 2]")
        .await
        .expect(422);
    server
        .request("POST", "/fallback/evaluate", &[JSON], Some(b"{}".to_vec()))
        .await
        .expect(401);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_an_integration_validates_provider_and_name() {
    let server = TestServer::memory("").await;
    let body = server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "DataDog", "name": "prod-eu", "config": {"site": "datadoghq.eu"}}"#,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        body,
        json!({"status": "registered", "name": "prod-eu", "provider": "datadog"})
    );
    let body = server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "pagerduty", "name": "x"}"#,
        )
        .await
        .expect(400)
        .json();
    assert_eq!(body["error"], "unknown_provider");
    assert_eq!(body["valid_providers"], json!(["datadog", "newrelic"]));
    server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "datadog", "name": "  "}"#,
        )
        .await
        .expect(400);
    server
        .admin_post("/monitoring/register", r#"{"provider": "datadog"}"#)
        .await
        .expect(422);
    server
        .admin_post(
            "/monitoring/register",
            r#"{"provider": "datadog", "name": "a", "config": [1]}"#,
        )
        .await
        .expect(422);
    server.stop().await.unwrap();
}

/// A downstream on 127.0.0.1 that answers 200 to every third probe and hangs up on the
/// others without answering.
async fn flapping_downstream() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let probes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = probes.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let probe = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                if probe.is_multiple_of(3) {
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                }
            });
        }
    });
    (addr, probes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_hold_a_flapping_critical_check_steady() {
    async fn sample(failures: u32, successes: u32) -> (usize, usize) {
        let (addr, probes) = flapping_downstream().await;
        let server = TestServer::start(crate::support::config_every(
            "50ms",
            "50ms",
            &format!(
                "[[checks.http]]\nname = \"billing\"\nurl = \"http://{addr}/health\"\nprobe = {{ failure_threshold = {failures}, success_threshold = {successes} }}\n"
            ),
        ))
        .await;
        let (mut ready, mut not_ready) = (0, 0);
        while probes.load(Ordering::SeqCst) < 40 {
            match server.get("/health/ready").await.status {
                200 => ready += 1,
                _ => not_ready += 1,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.stop().await.unwrap();
        (ready, not_ready)
    }
    // Two failures in every three probes, never three in a row: the default thresholds
    // (3 failures, 2 successes) hold readiness at 200 throughout.
    let (ready, not_ready) = sample(3, 2).await;
    assert_eq!(not_ready, 0, "{ready} ready, {not_ready} not ready");
    assert!(ready > 10, "{ready}");
    // With thresholds of 1 (the original's), the same dependency flaps readiness.
    let (ready, not_ready) = sample(1, 1).await;
    assert!(
        ready > 0 && not_ready > 0,
        "{ready} ready, {not_ready} not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_start_up_to_complete() {
    let (addr, _probes) = downstream_service(usize::MAX, Duration::ZERO).await;
    let server = TestServer::memory(&format!(
        "[[checks.http]]\nname = \"warmup\"\nurl = \"http://{addr}/health\"\ntags = [\"startup\"]\nprobe = {{ initial_delay = \"1h\" }}\n"
    ))
    .await;
    let body = server.get("/health/ready").await.expect(503).json();
    assert_eq!(body["status"], "starting");
    assert_eq!(body["waiting_for"], json!(["warmup"]));
    let body = server.get("/startupz").await.expect(503).json();
    assert_eq!(body["pending"], json!(["warmup"]));
    // Liveness does not wait for start-up.
    server.get("/livez").await.expect(200);
    server.stop().await.unwrap();
}
