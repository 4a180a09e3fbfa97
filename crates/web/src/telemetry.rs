//! The request span every call runs in, and the request metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use health_sinks::MetricsSink;
use tracing::Instrument;
use tracing::field::Empty;

/// The counter of requests, labelled `route`, `method` and `status`.
pub const REQUESTS_METRIC: &str = "http_requests";
/// The histogram of request latencies in seconds, labelled `route`.
pub const REQUEST_DURATION_METRIC: &str = "http_request_duration_seconds";

/// The `# HELP` text of each metric this crate emits, by name.
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        REQUESTS_METRIC,
        "HTTP requests served, by route pattern, method and status",
    ),
    (
        REQUEST_DURATION_METRIC,
        "HTTP request latency in seconds, by route pattern",
    ),
];

/// What the request middleware needs.
#[derive(Debug, Clone)]
pub(crate) struct RequestTelemetry {
    pub(crate) sink: Arc<dyn MetricsSink>,
    pub(crate) access_log: bool,
}

/// Runs the request in a `request` span with `method`, `path`, `status` and
/// `latency_ms`, logs its completion, and counts it by route (the matched pattern, never
/// the raw path, so label values stay bounded).
pub(crate) async fn request_span(
    State(telemetry): State<Arc<RequestTelemetry>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %request.uri().path(),
        status = Empty,
        latency_ms = Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = response.status();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.record("status", status.as_u16());
    span.record("latency_ms", latency_ms);
    // A 503 (not ready, storage down) is an answer, not a failure of the server: only a
    // 500 is worth a warning.
    span.in_scope(|| {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!("request failed");
        } else if telemetry.access_log {
            tracing::info!("request completed");
        } else {
            tracing::debug!("request completed");
        }
    });
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    telemetry.sink.emit_counter(
        REQUESTS_METRIC,
        1,
        &[
            ("route", route),
            ("method", method),
            ("status", status.as_str()),
        ],
    );
    telemetry.sink.emit_histogram(
        REQUEST_DURATION_METRIC,
        elapsed.as_secs_f64(),
        &[("route", route)],
    );
    response
}

/// The method as a label: standard methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
