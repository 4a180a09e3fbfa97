//! `/metrics` passes promtool's strict check (exit code 0: parses and lint-clean).

use health_sinks::testing::{Promtool, assert_promtool};

use crate::support::{TestServer, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
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
        assert_promtool(&text, Promtool::LintClean);
    }
    server.stop().await.unwrap();
}
