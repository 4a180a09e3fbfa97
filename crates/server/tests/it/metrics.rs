//! `/metrics` passes promtool's strict check (exit code 0: parses and lint-clean).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{TestServer, fixture};

/// promtool from `PROMTOOL` or `PATH`; `None` after a loud skip (a failure under
/// `RESILIENCE_CI=1`).
fn promtool(test: &str) -> Option<String> {
    let candidate = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    match Command::new(&candidate).arg("--version").output() {
        Ok(output) if output.status.success() => Some(candidate),
        _ => storage_redis::testing::skip(
            test,
            "promtool is not installed (set PROMTOOL, or extract it from Debian's prometheus package)",
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let Some(promtool) = promtool("server_metrics_pass_promtool") else {
        return;
    };
    let server = TestServer::memory("").await;
    // Traffic of every kind, so that counters, gauges and histograms with labels show.
    server.get("/health/ready").await.expect(200);
    server.get("/nope").await.expect(404);
    server.set_mode("safe").await.expect(200);
    server.set_mode("primary").await.expect(200);
    server
        .webhook("datadog", &fixture("datadog_triggered_metric.json"))
        .await
        .expect(200);
    server.admin_post("/health/cascade", "").await.expect(200);
    for path in ["/metrics", "/health/metrics"] {
        let text = server.get(path).await.expect(200).text();
        assert!(
            text.contains("http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("fallback_transitions_total"), "{text}");
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool check metrics {path}: {}{}\n{text}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    server.stop().await.unwrap();
}
