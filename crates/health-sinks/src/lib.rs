//! `health-sinks` is where the workspace's health signals leave the process: the
//! [`MetricsSink`] trait that the health monitor and the fallback cascade emit gauges,
//! counters, histograms and health-check results through, and the sinks that implement
//! it.
//!
//! | Sink | Sends to |
//! |------|----------|
//! | [`NoOpMetricsSink`] | nowhere (the default) |
//! | [`LoggingMetricsSink`] | one `tracing` event per metric |
//! | [`PrometheusMetricsSink`] | its own registry, rendered for a `/metrics` endpoint |
//! | [`DogStatsdMetricsSink`] | a Datadog Agent, as DogStatsD datagrams over UDP |
//! | [`FanoutMetricsSink`] | several of the above |
//!
//! Emitting is synchronous, cheap and never fails: a metric a sink cannot export is
//! normalized or dropped, logged once and counted ([`SinkStats`], [`DropReason`]); only
//! building a sink returns a [`SinkError`]. Tag order never creates a second series.
//!
//! What it deliberately does not do: serve HTTP (the server crate serves
//! [`PrometheusMetricsSink::render`]), install a global `metrics` recorder (each
//! Prometheus sink owns its registry, so sinks and tests stay independent), aggregate
//! for Datadog (the Agent does), or know about health statuses beyond the
//! string-to-number mapping of [`health_status_value`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use health_sinks::{
//!     FanoutMetricsSink, LoggingMetricsSink, MetricsSink, PrometheusMetricsSink,
//! };
//!
//! let prometheus = PrometheusMetricsSink::new();
//! let sink: Arc<dyn MetricsSink> = Arc::new(
//!     FanoutMetricsSink::default()
//!         .with(prometheus.clone()) // clones share one registry
//!         .with(LoggingMetricsSink::default()),
//! );
//!
//! sink.emit_health_check("redis", "degraded", Duration::from_millis(12));
//! sink.emit_counter("fallback_transitions", 1, &[("to", "heuristic")]);
//! sink.emit_counter("db-pool.timeouts", 1, &[]); // exported as db_pool_timeouts_total
//!
//! let text = prometheus.render();
//! assert!(text.contains("health_check_status{check=\"redis\"} 0.5"));
//! assert!(text.contains("health_check_latency_seconds_bucket{check=\"redis\",le=\"0.025\"} 1"));
//! assert!(text.contains("fallback_transitions_total{to=\"heuristic\"} 1"));
//! assert!(text.contains("db_pool_timeouts_total 1"));
//! assert!(text.contains("# HELP health_check_status "));
//! assert_eq!(prometheus.stats().normalized(), 1);
//! ```
//!
//! # Feature flags
//!
//! | Name      | Default | Enables |
//! |-----------|---------|---------|
//! | `testing` | no      | `health_sinks::testing`: check an exposition with promtool in tests |

mod error;
pub use error::{Result, SinkError};

mod sink;
pub use sink::{
    HEALTH_CHECK_LATENCY_METRIC, HEALTH_CHECK_STATUS_METRIC, HEALTH_CHECK_TAG, MetricsSink, Tag,
    health_status_value,
};

mod report;
pub use report::{DropReason, SinkStats};

mod noop;
pub use noop::NoOpMetricsSink;

mod logging;
pub use logging::{LOG_TARGET, LoggingMetricsSink};

mod prometheus;
pub use prometheus::{
    CONTENT_TYPE, DEFAULT_BUCKETS, DEFAULT_MAX_SERIES, DROPPED_METRIC, PrometheusMetricsSink,
    PrometheusSinkBuilder,
};

mod dogstatsd;
pub use dogstatsd::{
    DEFAULT_DOGSTATSD_ADDRESS, DEFAULT_MAX_DATAGRAM_SIZE, DogStatsdMetricsSink,
    DogStatsdSinkBuilder,
};

mod fanout;
pub use fanout::FanoutMetricsSink;

mod names;
mod tags;

#[cfg(feature = "testing")]
pub mod testing;
