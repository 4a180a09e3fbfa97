//! Request telemetry for the crate's own routes: a counter and a latency histogram per
//! route pattern, kept in atomics and rendered beside the Prometheus sink's exposition,
//! and one log event per request.
//!
//! Why not the sink: an emission into a `PrometheusMetricsSink` hashes its name and tags
//! and takes a lock, twice per request, and every emission makes the next `/metrics`
//! render everything again. Here a request costs two clock reads and three uncontended
//! atomic additions on counters found when the router was built, and `/metrics` renders
//! these few lines on its own schedule.

#![cfg_attr(
    not(feature = "prometheus"),
    allow(
        dead_code,
        reason = "without `prometheus` no route serves the counts: they are kept, unread"
    )
)]

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use parking_lot::Mutex;
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

/// The counter of requests, labelled `route`, `method` and `status`.
pub const REQUESTS_METRIC: &str = "http_requests_total";
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

/// The latency histogram's bucket bounds, in seconds: the Prometheus client libraries'
/// defaults (5 ms to 10 s), as `health_sinks`'s Prometheus sink uses, so dashboards
/// built for either keep working.
const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The route label of requests no route matched.
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

/// The methods counted by name; any other is counted as `other`.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "other",
];

/// Distinct statuses counted per route and method; any further one is counted as
/// `status="other"`, so a route cannot grow the exposition without bound.
const STATUS_SLOTS: usize = 16;

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::HEAD => 4,
        Method::OPTIONS => 5,
        Method::PATCH => 6,
        _ => 7,
    }
}

/// The request counters and histograms of every route, by pattern.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    /// In the order routes were first registered; only grows while routers are built.
    routes: Mutex<Vec<Arc<RouteStats>>>,
}

impl RequestMetrics {
    /// The statistics of `route`, created at its first registration: building the
    /// router twice (merged in two places) counts into the same series.
    pub(crate) fn route(&self, route: &str) -> Arc<RouteStats> {
        let mut routes = self.routes.lock();
        if let Some(stats) = routes.iter().find(|stats| &*stats.route == route) {
            return Arc::clone(stats);
        }
        let stats = Arc::new(RouteStats::new(route));
        routes.push(Arc::clone(&stats));
        stats
    }

    /// Appends both families, with their `# HELP` and `# TYPE` lines, in the text
    /// exposition format. Each histogram is read once and rendered from what was read,
    /// so its buckets, `+Inf` and `_count` always agree however many requests land
    /// meanwhile.
    pub(crate) fn render(&self, out: &mut String) {
        let routes: Vec<Arc<RouteStats>> = self.routes.lock().clone();
        let seen: Vec<(&RouteStats, HistogramRead)> = routes
            .iter()
            .map(|stats| (&**stats, stats.duration.read()))
            .filter(|(_, read)| read.count() > 0)
            .collect();
        if seen.is_empty() {
            return;
        }
        let (requests_help, duration_help) = (METRIC_DESCRIPTIONS[0].1, METRIC_DESCRIPTIONS[1].1);
        let _ = writeln!(out, "# HELP {REQUESTS_METRIC} {requests_help}");
        let _ = writeln!(out, "# TYPE {REQUESTS_METRIC} counter");
        for (stats, _) in &seen {
            stats.render_counts(out);
        }
        let _ = writeln!(out, "# HELP {REQUEST_DURATION_METRIC} {duration_help}");
        let _ = writeln!(out, "# TYPE {REQUEST_DURATION_METRIC} histogram");
        for (stats, read) in &seen {
            read.render(&stats.route, out);
        }
    }
}

/// One route's counters: requests by method and status, latencies.
#[derive(Debug)]
pub(crate) struct RouteStats {
    route: Box<str>,
    by_method: [StatusCounts; METHODS.len()],
    duration: Histogram,
}

impl RouteStats {
    fn new(route: &str) -> Self {
        Self {
            route: route.into(),
            by_method: Default::default(),
            duration: Histogram::default(),
        }
    }

    fn record(&self, method: usize, status: StatusCode, nanos: u64) {
        if let Some(counts) = self.by_method.get(method) {
            counts.increment(status.as_u16());
        }
        self.duration.record(nanos);
    }

    fn render_counts(&self, out: &mut String) {
        let route = &self.route;
        for (method, counts) in METHODS.iter().zip(&self.by_method) {
            for (status, count) in counts.read() {
                let _ = writeln!(
                    out,
                    "{REQUESTS_METRIC}{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
            let other = counts.overflow.load(Ordering::Relaxed);
            if other > 0 {
                let _ = writeln!(
                    out,
                    "{REQUESTS_METRIC}{{method=\"{method}\",route=\"{route}\",status=\"other\"}} {other}"
                );
            }
        }
    }
}

/// Counts by status code in a fixed table filled lock-free: a slot is claimed for a
/// status by compare-and-swap the first time it is seen; once all are taken, further
/// statuses are counted together.
#[derive(Debug, Default)]
struct StatusCounts {
    statuses: [AtomicU32; STATUS_SLOTS],
    counts: [AtomicU64; STATUS_SLOTS],
    overflow: AtomicU64,
}

impl StatusCounts {
    fn increment(&self, status: u16) {
        let status = u32::from(status);
        for (slot, count) in self.statuses.iter().zip(&self.counts) {
            let claimed = match slot.load(Ordering::Acquire) {
                0 => match slot.compare_exchange(0, status, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => status,
                    Err(other) => other,
                },
                other => other,
            };
            if claimed == status {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.overflow.fetch_add(1, Ordering::Relaxed);
    }

    /// The statuses seen and their counts.
    fn read(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.statuses
            .iter()
            .zip(&self.counts)
            .map(|(slot, count)| (slot.load(Ordering::Acquire), count.load(Ordering::Relaxed)))
            .filter(|(status, count)| *status != 0 && *count > 0)
    }
}

/// A latency histogram over [`DEFAULT_BUCKETS`] (seconds), one atomic per bucket plus
/// `+Inf`, and the sum in nanoseconds.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; DEFAULT_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// Bucket bounds in nanoseconds, so recording compares integers.
const BUCKET_NANOS: [u64; DEFAULT_BUCKETS.len()] = {
    let mut nanos = [0; DEFAULT_BUCKETS.len()];
    let mut index = 0;
    while index < nanos.len() {
        // Exact: every default bound is a whole number of microseconds.
        nanos[index] = (DEFAULT_BUCKETS[index] * 1e9) as u64;
        index += 1;
    }
    nanos
};

impl Histogram {
    fn record(&self, nanos: u64) {
        let bucket = BUCKET_NANOS
            .iter()
            .position(|bound| nanos <= *bound)
            .unwrap_or(DEFAULT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn read(&self) -> HistogramRead {
        HistogramRead {
            buckets: std::array::from_fn(|index| self.buckets[index].load(Ordering::Relaxed)),
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

/// A histogram as read once: what a scrape shows.
struct HistogramRead {
    buckets: [u64; DEFAULT_BUCKETS.len() + 1],
    sum_nanos: u64,
}

impl HistogramRead {
    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    fn render(&self, route: &str, out: &mut String) {
        let name = REQUEST_DURATION_METRIC;
        let mut cumulative = 0;
        for (bound, count) in DEFAULT_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[DEFAULT_BUCKETS.len()];
        let _ = writeln!(
            out,
            "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
        );
        #[allow(
            clippy::cast_precision_loss,
            reason = "a sum of latencies in nanoseconds, shown in seconds"
        )]
        let sum = self.sum_nanos as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {cumulative}");
    }
}

/// The tower layer that counts and times every call of one route, and logs it.
#[derive(Debug, Clone)]
pub(crate) struct TelemetryLayer {
    pub(crate) stats: Arc<RouteStats>,
    pub(crate) access_log: bool,
}

impl<S> Layer<S> for TelemetryLayer {
    type Service = Telemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Telemetry {
            inner,
            layer: self.clone(),
        }
    }
}

/// [`TelemetryLayer`]'s service.
#[derive(Debug, Clone)]
pub(crate) struct Telemetry<S> {
    inner: S,
    layer: TelemetryLayer,
}

impl<S> Service<Request> for Telemetry<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TelemetryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = method_index(request.method());
        // At debug level only: a span per request costs more than the probes it would
        // describe. The completion event carries the same fields at any level.
        let span = tracing::debug_span!(
            "request",
            method = METHODS[method],
            path = %request.uri().path(),
        );
        let path = self
            .layer
            .access_log
            .then(|| request.uri().path().to_owned());
        TelemetryFuture {
            inner: self.inner.call(request).instrument(span),
            started: Instant::now(),
            method,
            path,
            layer: self.layer.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Telemetry`]'s future: the route's, then the count, the time and the log event.
    pub(crate) struct TelemetryFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        started: Instant,
        method: usize,
        path: Option<String>,
        layer: TelemetryLayer,
    }
}

impl<F, E> Future for TelemetryFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = std::task::ready!(this.inner.as_mut().poll(cx));
        let elapsed = this.started.elapsed();
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let status = match &result {
            Ok(response) => response.status(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let layer = &*this.layer;
        layer.stats.record(*this.method, status, nanos);
        let method = METHODS[*this.method];
        let route = &*layer.stats.route;
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        // Inside the request span (when it exists), so the event shows its path.
        let _entered = this.inner.as_ref().get_ref().span().enter();
        // A 503 (not ready, storage down) is an answer, not a failure of the server: only
        // a 500 is worth a warning.
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(
                method,
                route,
                status = status.as_u16(),
                latency_ms,
                "request failed"
            );
        } else if let Some(path) = this.path.as_deref() {
            tracing::info!(
                method,
                path,
                route,
                status = status.as_u16(),
                latency_ms,
                "request completed"
            );
        } else {
            tracing::debug!(
                method,
                route,
                status = status.as_u16(),
                latency_ms,
                "request completed"
            );
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fill_slots_then_overflow() {
        let counts = StatusCounts::default();
        for status in 200..(200 + STATUS_SLOTS as u16 + 2) {
            counts.increment(status);
        }
        counts.increment(200);
        let read: Vec<(u32, u64)> = counts.read().collect();
        assert_eq!(read.len(), STATUS_SLOTS);
        assert_eq!(read[0], (200, 2));
        assert_eq!(counts.overflow.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn latencies_land_in_their_bucket_and_render_cumulatively() {
        let metrics = RequestMetrics::default();
        let stats = metrics.route("/r");
        assert!(
            Arc::ptr_eq(&stats, &metrics.route("/r")),
            "one series per route"
        );
        stats.record(0, StatusCode::OK, 5_000_000); // exactly 5 ms: the first bucket
        stats.record(0, StatusCode::OK, 5_000_001);
        stats.record(1, StatusCode::SERVICE_UNAVAILABLE, 60_000_000_000);
        let mut text = String::new();
        metrics.render(&mut text);
        for line in [
            "http_requests_total{method=\"GET\",route=\"/r\",status=\"200\"} 2",
            "http_requests_total{method=\"POST\",route=\"/r\",status=\"503\"} 1",
            "http_request_duration_seconds_bucket{route=\"/r\",le=\"0.005\"} 1",
            "http_request_duration_seconds_bucket{route=\"/r\",le=\"0.01\"} 2",
            "http_request_duration_seconds_bucket{route=\"/r\",le=\"10\"} 2",
            "http_request_duration_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3",
            "http_request_duration_seconds_sum{route=\"/r\"} 60.010000001",
            "http_request_duration_seconds_count{route=\"/r\"} 3",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line} not in\n{text}"
            );
        }
        // A route never called is not rendered.
        let _idle = metrics.route("/idle");
        let mut again = String::new();
        metrics.render(&mut again);
        assert!(!again.contains("/idle"));
    }
}
