//! Bad input gets a 4xx with the shared JSON error body, never a 500.

use serde_json::{Value, json};

use crate::support::{ADMIN, DATADOG, JSON, NEWRELIC, TestServer, admin_bearer};

/// Sends one request and checks the status, the error code and, when given, a piece of
/// the detail.
async fn check(
    server: &TestServer,
    (method, path): (&str, &str),
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
    (status, code, detail): (u16, &str, &str),
) -> Value {
    let reply = server.request(method, path, headers, body).await;
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.text());
    let body = reply.json();
    assert_eq!(body["error"], code, "{method} {path}: {body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|text| text.contains(detail)),
        "{method} {path}: {body} lacks {detail:?}"
    );
    if status == 401 {
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|value| value.starts_with("Bearer"))
        );
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_gets_its_status() {
    let server = TestServer::memory("").await;
    let admin = admin_bearer();
    let with_admin = [JSON, ("authorization", admin.as_str())];
    let mode = ("POST", "/fallback/mode");
    let register = ("POST", "/monitoring/register");
    let datadog = ("POST", "/monitoring/datadog/webhook");
    let dd_secret = [JSON, ("x-webhook-secret", DATADOG)];
    let body = |text: &str| Some(text.as_bytes().to_vec());

    // Malformed JSON: 400.
    check(
        &server,
        mode,
        &with_admin,
        body("{\"mode\":"),
        (400, "malformed_json", "line 1"),
    )
    .await;
    check(
        &server,
        register,
        &with_admin,
        body("{provider"),
        (400, "malformed_json", ""),
    )
    .await;
    check(
        &server,
        datadog,
        &dd_secret,
        body("not json"),
        (400, "malformed_json", ""),
    )
    .await;
    check(
        &server,
        mode,
        &with_admin,
        body(""),
        (400, "malformed_json", "EOF"),
    )
    .await;
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    check(
        &server,
        datadog,
        &dd_secret,
        body(&nested),
        (400, "malformed_json", "recursion"),
    )
    .await;
    check(
        &server,
        mode,
        &with_admin,
        Some(vec![0xff, 0xfe, b'{']),
        (400, "malformed_json", ""),
    )
    .await;

    // Unknown provider or route: 404.
    for provider in ["pagerduty", "", "datadog%2F..", "%FF"] {
        let path = format!("/monitoring/{provider}/webhook");
        let reply = server.request("POST", &path, &dd_secret, body("{}")).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        assert_eq!(reply.json()["error"], "not_found");
    }
    check(
        &server,
        ("GET", "/nope"),
        &[],
        None,
        (404, "not_found", "no such route"),
    )
    .await;

    // Missing or wrong credentials: 401, whichever part is wrong.
    let wrong = format!("Bearer {ADMIN}x");
    let short = format!("Bearer {}", &ADMIN[..ADMIN.len() - 1]);
    let basic = format!("Basic {ADMIN}");
    let webhook_as_admin = format!("Bearer {DATADOG}");
    for authorization in [
        None,
        Some(wrong.as_str()),
        Some(short.as_str()),
        Some(basic.as_str()),
        Some(webhook_as_admin.as_str()),
        Some("Bearer "),
    ] {
        let mut headers = vec![JSON];
        if let Some(value) = authorization {
            headers.push(("authorization", value));
        }
        for route in [
            mode,
            ("DELETE", "/fallback/mode"),
            register,
            ("POST", "/health/cascade"),
            ("POST", "/fallback/evaluate"),
        ] {
            check(
                &server,
                route,
                &headers,
                body(r#"{"mode": "safe"}"#),
                (401, "unauthorized", "credentials"),
            )
            .await;
        }
    }
    for secret in [None, Some(NEWRELIC), Some(ADMIN), Some("")] {
        let mut headers = vec![JSON];
        if let Some(value) = secret {
            headers.push(("x-webhook-secret", value));
        }
        check(
            &server,
            datadog,
            &headers,
            body("{}"),
            (401, "unauthorized", "credentials"),
        )
        .await;
    }

    // Wrong or missing content type: 415 (after authentication, before reading).
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut headers = vec![("authorization", admin.as_str())];
        if let Some(value) = content_type {
            headers.push(("content-type", value));
        }
        check(
            &server,
            mode,
            &headers,
            body(r#"{"mode": "safe"}"#),
            (415, "unsupported_media_type", "JSON"),
        )
        .await;
        let mut headers = vec![("x-webhook-secret", DATADOG)];
        if let Some(value) = content_type {
            headers.push(("content-type", value));
        }
        check(
            &server,
            datadog,
            &headers,
            body("alert_type=error"),
            (415, "unsupported_media_type", "JSON"),
        )
        .await;
    }

    // Over 1 MiB: 413, whatever the text.
    let big = vec![b' '; (1 << 20) + 1];
    let reply = check(
        &server,
        datadog,
        &dd_secret,
        Some(big.clone()),
        (413, "payload_too_large", "1048576"),
    )
    .await;
    assert_eq!(reply["limit_bytes"], 1 << 20);
    check(
        &server,
        mode,
        &with_admin,
        Some(big),
        (413, "payload_too_large", ""),
    )
    .await;
    let mut exactly = br#"{"mode": "safe"}"#.to_vec();
    exactly.resize(1 << 20, b' ');
    server
        .request("POST", "/fallback/mode", &with_admin, Some(exactly))
        .await
        .expect(200);

    // Unknown mode: 400 listing the valid names.
    let reply = check(
        &server,
        mode,
        &with_admin,
        body(r#"{"mode": "degraded"}"#),
        (400, "invalid_mode", "primary, heuristic, safe"),
    )
    .await;
    assert_eq!(
        reply["valid_modes"],
        serde_json::json!(["primary", "heuristic", "safe"])
    );
    // The answer does not echo a long input back.
    let long = format!(r#"{{"mode": "{}"}}"#, "x".repeat(100_000));
    let reply = check(
        &server,
        mode,
        &with_admin,
        body(&long),
        (400, "invalid_mode", "primary, heuristic, safe"),
    )
    .await;
    assert!(
        reply.to_string().len() < 1024,
        "{} bytes",
        reply.to_string().len()
    );

    // A hold that is negative or longer than 30 days: 400 naming the field; nothing
    // changes. One of the wrong type: 422 naming it. A number too large for JSON: 400.
    server.set_mode("heuristic").await.expect(200);
    for (hold, status, code) in [
        ("-1", 400, "invalid_hold"),
        ("-0.001", 400, "invalid_hold"),
        ("2592000.5", 400, "invalid_hold"),
        ("1e300", 400, "invalid_hold"),
        ("-1e300", 400, "invalid_hold"),
        ("1e999", 400, "malformed_json"),
        ("\"60\"", 422, "invalid_body"),
        ("true", 422, "invalid_body"),
        ("[60]", 422, "invalid_body"),
    ] {
        let reply = check(
            &server,
            mode,
            &with_admin,
            body(&format!(r#"{{"mode": "safe", "hold_seconds": {hold}}}"#)),
            (
                status,
                code,
                if status == 400 && code == "malformed_json" {
                    ""
                } else {
                    "hold_seconds"
                },
            ),
        )
        .await;
        if code != "malformed_json" {
            assert_eq!(reply["field"], "hold_seconds", "{hold}: {reply}");
        }
        assert_eq!(
            server.get("/fallback/mode").await.json()["mode"],
            "heuristic",
            "{hold} changed the mode"
        );
    }
    // The bounds themselves are accepted.
    for (hold, expires_in) in [("2592000", json!(2_592_000.0)), ("0", Value::Null)] {
        let reply = server
            .request(
                "POST",
                "/fallback/mode",
                &with_admin,
                body(&format!(r#"{{"mode": "safe", "hold_seconds": {hold}}}"#)),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(reply["mode"], "safe");
        let left = &reply["hold"]["expires_in_seconds"];
        match expires_in.as_f64() {
            Some(most) => assert!(
                left.as_f64()
                    .is_some_and(|left| left > most - 60.0 && left <= most),
                "{reply}"
            ),
            None => assert_eq!(reply["hold"], Value::Null, "{reply}"),
        }
    }

    // Valid JSON of the wrong shape: 422 naming the field.
    let reply = check(
        &server,
        mode,
        &with_admin,
        body(r#"{"mode": 2}"#),
        (422, "invalid_body", "mode"),
    )
    .await;
    assert_eq!(reply["field"], "mode");
    check(
        &server,
        mode,
        &with_admin,
        body(r#"{"mode": "safe", "force": true}"#),
        (422, "invalid_body", "force"),
    )
    .await;
    check(
        &server,
        mode,
        &with_admin,
        body("null"),
        (422, "invalid_body", ""),
    )
    .await;
    check(
        &server,
        datadog,
        &dd_secret,
        body("{}"),
        (422, "invalid_body", "datadog parse error"),
    )
    .await;
    check(
        &server,
        datadog,
        &dd_secret,
        body("[]"),
        (422, "invalid_body", ""),
    )
    .await;

    // Bad query: 400.
    for query in [
        "limit=abc",
        "limit=0",
        "limit=-1",
        "limit=100001",
        "other=1",
    ] {
        check(
            &server,
            ("GET", &format!("/fallback/transitions?{query}")),
            &[],
            None,
            (400, "invalid_query", ""),
        )
        .await;
    }

    // Wrong method: 405.
    check(
        &server,
        ("DELETE", "/health/live"),
        &[],
        None,
        (405, "method_not_allowed", ""),
    )
    .await;
    check(
        &server,
        ("GET", "/monitoring/datadog/webhook"),
        &[],
        None,
        (405, "method_not_allowed", ""),
    )
    .await;
    server.stop().await.unwrap();
}

/// Every write route with every malformed body answers a 4xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_makes_a_write_route_fail_with_a_500() {
    let server = TestServer::memory("").await;
    let admin = admin_bearer();
    let bodies: [&[u8]; 17] = [
        b"",
        b"null",
        b"true",
        b"1e999",
        b"\"mode\"",
        b"[]",
        b"{}",
        b"{\"mode\": null}",
        b"{\"mode\": [\"safe\"]}",
        b"{\"mode\": \"safe\", \"hold_seconds\": -1}",
        b"{\"mode\": \"safe\", \"hold_seconds\": 1e308}",
        b"{\"mode\": \"safe\", \"hold_seconds\": {}}",
        b"{\"provider\": 1, \"name\": {}}",
        b"{\"events\": [1, \"x\", null, {\"alert_type\": 5}]}",
        b"{\"violations\": {}}",
        b"{\"severity\": \"high\", \"confidence\": \"x\"}",
        b"\xf0\x28\x8c\x28",
    ];
    let routes = [
        (
            "/fallback/mode",
            vec![JSON, ("authorization", admin.as_str())],
        ),
        (
            "/fallback/evaluate",
            vec![JSON, ("authorization", admin.as_str())],
        ),
        (
            "/monitoring/register",
            vec![JSON, ("authorization", admin.as_str())],
        ),
        (
            "/health/cascade",
            vec![JSON, ("authorization", admin.as_str())],
        ),
        (
            "/monitoring/datadog/webhook",
            vec![JSON, ("x-webhook-secret", DATADOG)],
        ),
        (
            "/monitoring/newrelic/webhook",
            vec![JSON, ("x-webhook-secret", NEWRELIC)],
        ),
    ];
    for (path, headers) in &routes {
        for body in bodies {
            let reply = server
                .request("POST", path, headers, Some(body.to_vec()))
                .await;
            assert!(
                reply.status < 500,
                "{path} {:?}: {} {}",
                String::from_utf8_lossy(body),
                reply.status,
                reply.text()
            );
            if reply.status >= 400 {
                assert!(
                    reply.json()["error"].is_string(),
                    "{path}: {}",
                    reply.text()
                );
            }
        }
    }
    server.stop().await.unwrap();
}
