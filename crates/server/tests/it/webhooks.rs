//! The webhook fixtures of the research note, through the real route.

use serde_json::json;

use crate::support::{DATADOG, JSON, TestServer, fixture};

/// Posts each fixture to a fresh server and checks the component it names and the
/// status it leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_mark_the_components_they_name() {
    async fn check(provider: &str, fixture_name: &str, component: &str, status: &str) {
        let server = TestServer::memory("").await;
        let reply = server
            .webhook(provider, &fixture(fixture_name))
            .await
            .expect(200)
            .json();
        if status == "healthy" {
            // A recovery of a component nobody has: nothing to recover, nothing created.
            assert_eq!(reply["ignored"], json!(1), "{fixture_name}: {reply}");
            let state = server.admin_get("/health/state").await.json();
            assert_eq!(state["components"], json!({}), "{fixture_name}");
            let _ = component;
            server.stop().await.unwrap();
            return;
        }
        assert_eq!(reply["ingested"], json!(1), "{fixture_name}");
        let state = server.admin_get("/health/state").await.json();
        let components = state["components"].as_object().unwrap();
        assert_eq!(
            components.keys().collect::<Vec<_>>(),
            [component],
            "{fixture_name}: {state}"
        );
        assert_eq!(components[component]["status"], status, "{fixture_name}");
        assert_eq!(
            components[component]["metadata"]["last_alert"]["provider"], provider,
            "{fixture_name}"
        );
        server.stop().await.unwrap();
    }
    check(
        "datadog",
        "datadog_triggered_metric.json",
        "checkout",
        "failed",
    )
    .await;
    check(
        "datadog",
        "datadog_recovered_host.json",
        "web-03",
        "healthy",
    )
    .await;
    check(
        "datadog",
        "datadog_default_template_nodata.json",
        "queue-consumer cannot connect to broker",
        "degraded",
    )
    .await;
    check(
        "newrelic",
        "newrelic_channel_open_critical.json",
        "checkout-db",
        "failed",
    )
    .await;
    check(
        "newrelic",
        "newrelic_channel_closed_warning_flat.json",
        "orders-consumer",
        "healthy",
    )
    .await;
    check(
        "newrelic",
        "newrelic_workflow_activated.json",
        "api-gateway",
        "failed",
    )
    .await;
    check(
        "newrelic",
        "newrelic_workflow_closed.json",
        "api-gateway",
        "healthy",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_opens_then_closes_and_the_component_follows() {
    let server = TestServer::memory("").await;
    server
        .webhook("newrelic", &fixture("newrelic_workflow_activated.json"))
        .await
        .expect(200);
    let state = server.get("/health/state").await.json();
    assert_eq!(state["components"]["api-gateway"]["status"], "failed");
    // A failed component drives the mode (two send it to SAFE), not readiness.
    server
        .webhook("newrelic", &fixture("newrelic_workflow_closed.json"))
        .await
        .expect(200);
    server.get("/health/ready").await.expect(200);
    let state = server.get("/health/state").await.json();
    assert_eq!(state["components"]["api-gateway"]["error_count"], 1);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_originals_payloads_and_an_events_list_are_ingested() {
    let server = TestServer::memory("").await;
    let reply = server
        .webhook(
            "datadog",
            r#"{"alert_type": "warning", "check": "db-connection", "text": "slow"}"#,
        )
        .await;
    assert_eq!(reply.expect(200).json()["ingested"], json!(1));
    let reply = server
        .webhook(
            "datadog",
            r#"{"events": [
                {"title": "A", "alert_type": "error", "text": "a"},
                {"title": "B", "alert_type": "warning", "text": "b"}
            ]}"#,
        )
        .await;
    assert_eq!(reply.expect(200).json()["ingested"], json!(2));
    let reply = server
        .webhook(
            "newrelic",
            r#"{"condition_name": "CPU spike", "severity": "critical", "details": "95%"}"#,
        )
        .await;
    assert_eq!(reply.expect(200).json()["ingested"], json!(1));
    let state = server.get("/health/state").await.json();
    assert_eq!(state["components"]["db-connection"]["status"], "degraded");
    assert_eq!(state["components"]["CPU spike"]["status"], "failed");
    assert_eq!(state["system"]["failed_components"], 2, "{state}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_per_provider_and_bearer_is_accepted() {
    let server = TestServer::memory("").await;
    let body = r#"{"condition_name": "x", "severity": "info"}"#.as_bytes().to_vec();
    let bearer = format!("Bearer {DATADOG}");
    // The Datadog secret does not open the New Relic route.
    server
        .request(
            "POST",
            "/monitoring/newrelic/webhook",
            &[JSON, ("x-webhook-secret", DATADOG)],
            Some(body.clone()),
        )
        .await
        .expect(401);
    server
        .request(
            "POST",
            "/monitoring/datadog/webhook",
            &[JSON, ("authorization", &bearer)],
            Some(br#"{"title": "x", "alert_type": "info"}"#.to_vec()),
        )
        .await
        .expect(200);
    // Provider names ignore case, as the original's did.
    server
        .request(
            "POST",
            "/monitoring/DataDog/webhook",
            &[JSON, ("x-webhook-secret", DATADOG)],
            Some(br#"{"title": "x", "alert_type": "info"}"#.to_vec()),
        )
        .await
        .expect(200);
    server.stop().await.unwrap();
}
