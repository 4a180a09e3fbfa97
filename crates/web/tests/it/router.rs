//! The router merged into an application: every route answers under the prefix it is
//! nested under, the application's own routes and fallback keep working beside it.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use storage::MemoryStorage;
use tokio::net::TcpStream;
use web::{ResilienceState, Secret, ServeOptions};

use crate::support::{Served, exchange_full, get as get_request};

const ADMIN: &str = "router-test-admin-token-0123";
const DATADOG: &str = "router-test-datadog-secret-0123";

fn state() -> ResilienceState {
    ResilienceState::builder(Arc::new(MemoryStorage::new()))
        .monitor(health::HealthMonitor::builder().without_resources())
        .admin_token(Secret::new(ADMIN))
        .webhook_secret("datadog", Secret::new(DATADOG))
        .build()
        .unwrap()
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text
}

fn admin(method: &str, path: &str, body: &str) -> String {
    let bearer = format!("Bearer {ADMIN}");
    request(
        method,
        path,
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_under_the_chosen_prefix() {
    let state = state();
    // An application with its own routes and its own fallback.
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .nest("/internal/resilience", web::router(&state))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "app 404") });
    let served = Served::start(app, ServeOptions::default()).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    let prefix = "/internal/resilience";
    let mut calls = Vec::new();
    for path in [
        "/health/live",
        "/health/ready",
        "/health/state",
        "/health/checks",
        "/health/cascade",
        "/health/metrics",
        "/metrics",
        "/fallback/transitions?limit=5",
        "/fallback/metrics",
        "/fallback/mode",
    ] {
        calls.push((
            format!("GET {path}"),
            get_request(&format!("{prefix}{path}")),
            200,
        ));
    }
    for (method, path, body) in [
        ("POST", "/health/cascade", ""),
        (
            "POST",
            "/fallback/mode",
            r#"{"mode": "heuristic", "hold_seconds": 0}"#,
        ),
        ("DELETE", "/fallback/mode", ""),
        ("POST", "/fallback/evaluate", r#"{"severity": 0.5}"#),
        (
            "POST",
            "/monitoring/register",
            r#"{"provider": "datadog", "name": "x"}"#,
        ),
    ] {
        calls.push((
            format!("{method} {path}"),
            admin(method, &format!("{prefix}{path}"), body),
            200,
        ));
    }
    calls.push((
        "POST webhook".to_owned(),
        request(
            "POST",
            &format!("{prefix}/monitoring/datadog/webhook"),
            &[
                ("x-webhook-secret", DATADOG),
                ("Content-Type", "application/json"),
            ],
            r#"{"alert_type": "error", "check": "payments", "text": "down"}"#,
        ),
        200,
    ));
    // Admin routes refuse without the token, under the prefix too.
    calls.push((
        "POST mode without token".to_owned(),
        request("POST", &format!("{prefix}/fallback/mode"), &[], "{}"),
        401,
    ));
    // The JSON 405 of a route, and the application's own routes and fallback.
    calls.push((
        "PUT mode".to_owned(),
        admin("PUT", &format!("{prefix}/fallback/mode"), ""),
        405,
    ));
    calls.push(("app home".to_owned(), get_request("/"), 200));
    calls.push((
        "not under the prefix".to_owned(),
        get_request("/health/live"),
        404,
    ));
    for (what, request, expected) in calls {
        let (status, body) = exchange_full(&mut client, &request).await;
        assert_eq!(status, expected, "{what}: {body}");
        if what == "PUT mode" {
            assert!(body.contains("method_not_allowed"), "{body}");
        }
        if what == "not under the prefix" {
            assert_eq!(body, "app 404");
        }
    }
    // The webhook's alert is in the state at once (the kept state was made out of date).
    let (_, body) =
        exchange_full(&mut client, &get_request(&format!("{prefix}/health/state"))).await;
    assert!(body.contains("\"payments\""), "{body}");
    // Request metrics are labelled by the route as written, whatever the prefix.
    let (_, metrics) = exchange_full(&mut client, &get_request(&format!("{prefix}/metrics"))).await;
    assert!(
        metrics
            .contains(r#"http_requests_total{method="GET",route="/health/live",status="200"} 1"#),
        "{metrics}"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_at_the_root_with_not_found_every_unknown_path_gets_the_json_404() {
    let state = state();
    let app = web::router(&state).fallback_service(web::not_found(&state));
    let served = Served::start(app, ServeOptions::default()).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    let (status, body) = exchange_full(&mut client, &get_request("/nope")).await;
    assert_eq!(status, 404);
    assert!(body.contains("\"error\":\"not_found\""), "{body}");
    assert_eq!(
        exchange_full(&mut client, &get_request("/health/live"))
            .await
            .0,
        200
    );
    let (_, metrics) = exchange_full(&mut client, &get_request("/metrics")).await;
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{metrics}"
    );
    served.stop().await;
}
