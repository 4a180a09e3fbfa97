//! Logs (the subscriber the binary installs) and the request span every call runs in.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use health_sinks::MetricsSink;
use serde::Deserialize;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::ServerError;

/// The counter of requests, labelled `route`, `method` and `status`.
pub(crate) const REQUESTS_METRIC: &str = "http_requests";
/// The histogram of request latencies in seconds, labelled `route`.
pub(crate) const REQUEST_DURATION_METRIC: &str = "http_request_duration_seconds";

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses a log filter: comma-separated directives, each a level (`info`) or
/// `target=level` (`storage_redis=warn`).
pub(crate) fn parse_filter(filter: &str) -> Result<Targets, String> {
    let valid_level = |level: &str| LEVELS.contains(&level.trim().to_ascii_lowercase().as_str());
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.split_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level,
            Some(_) => return Err(format!("{directive:?} has no target before '='")),
            None => directive,
        };
        if !valid_level(level) {
            return Err(format!(
                "{level:?} in {filter:?} is not a level: expected trace, debug, info, warn, error or off"
            ));
        }
    }
    filter
        .to_ascii_lowercase()
        .parse::<Targets>()
        .map_err(|error| format!("{filter:?} is not a log filter: {error}"))
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected human or json"
            )),
        }
    }
}

/// The process's logging, validated: the format and the parsed filter.
#[derive(Debug, Clone)]
pub(crate) struct Logging {
    pub(crate) format: LogFormat,
    pub(crate) filter: Targets,
}

impl Logging {
    /// Installs the process-wide log subscriber: human or JSON lines on standard error,
    /// filtered. Called once, by a binary (libraries never install one).
    pub(crate) fn install(&self) -> Result<(), ServerError> {
        let human = (self.format == LogFormat::Human).then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(true)
        });
        let json = (self.format == LogFormat::Json).then(|| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr)
        });
        tracing_subscriber::registry()
            .with(human)
            .with(json)
            .with(self.filter.clone())
            .try_init()
            .map_err(|error| ServerError::startup("logging", error))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_accept_levels_and_targets_only() {
        fn check(filter: &str, valid: bool) {
            assert_eq!(parse_filter(filter).is_ok(), valid, "{filter:?}");
        }
        check("info", true);
        check("INFO", true);
        check("warn,server=debug,storage_redis=off", true);
        check("loud", false);
        check("server=loud", false);
        check("=info", false);
        check("", false);
    }
}
