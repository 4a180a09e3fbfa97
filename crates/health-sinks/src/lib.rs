//! `health-sinks` is where the workspace's health signals leave the process: the
//! [`MetricsSink`] trait that the health monitor and the fallback cascade emit gauges,
//! counters and histograms through, and the sinks that implement it.
//!
//! | Sink | Sends to | Feature | Builder and defaults |
//! |------|----------|---------|----------------------|
//! | [`NoOpMetricsSink`] | nowhere (the default) | always | |
//! | [`LoggingMetricsSink`] | one `tracing` event per metric | always | [`logging`] |
//! | [`FanoutMetricsSink`] | several sinks | always | |
//! | `PrometheusMetricsSink` | its own registry, rendered for a `/metrics` endpoint | `prometheus` | `prometheus` module |
//! | `DogStatsdMetricsSink` | a Datadog Agent, as DogStatsD datagrams over UDP | `dogstatsd` | `dogstatsd` module |
//!
//! Emitting is synchronous, cheap and never fails: a metric a sink cannot export is
//! normalized or dropped, logged once and counted ([`SinkStats`], [`DropReason`]); only
//! building a sink returns a [`SinkError`]. Tag order never creates a second series.
//!
//! What it deliberately does not do: serve HTTP (the server crate serves the Prometheus
//! sink's `render`), install a global `metrics` recorder (each Prometheus sink owns its
//! registry, so sinks and tests stay independent), aggregate for Datadog (the Agent does),
//! or know what any metric means: names, help texts and helpers such as health's
//! `emit_health_check` belong to the crates that emit them.
//!
//! ```
//! use std::sync::Arc;
//! use health_sinks::{FanoutMetricsSink, LoggingMetricsSink, MetricsSink};
//! # #[cfg(feature = "prometheus")]
//! # {
//! use health_sinks::PrometheusMetricsSink;
//!
//! let prometheus = PrometheusMetricsSink::new();
//! let sink: Arc<dyn MetricsSink> = Arc::new(
//!     FanoutMetricsSink::default()
//!         .with(prometheus.clone()) // clones share one registry
//!         .with(LoggingMetricsSink::default()),
//! );
//!
//! sink.emit("queue_depth", 7.0, &[("queue", "emails")], None);
//! sink.emit_histogram("request_seconds", 0.012, &[("route", "/health")]);
//! sink.emit_counter("fallback_transitions", 1, &[("to", "heuristic")]);
//! sink.emit_counter("db-pool.timeouts", 1, &[]); // exported as db_pool_timeouts_total
//!
//! let text = prometheus.render();
//! assert!(text.contains("queue_depth{queue=\"emails\"} 7"));
//! assert!(text.contains("request_seconds_bucket{route=\"/health\",le=\"0.025\"} 1"));
//! assert!(text.contains("fallback_transitions_total{to=\"heuristic\"} 1"));
//! assert!(text.contains("db_pool_timeouts_total 1"));
//! assert!(text.contains("# HELP queue_depth "));
//! assert_eq!(prometheus.stats().normalized(), 1);
//! # }
//! ```
//!
//! # Feature flags
//!
//! No feature is on by default, by the rule the workspace's libraries share: a default
//! feature adds no package. Without features the crate is the trait and the generic sinks,
//! on thiserror and tracing alone, which is all a library emitting metrics needs; the
//! program that exports them picks its exporter. DogStatsD adds a lock (parking_lot, small
//! and usually already in the tree); Prometheus adds the `metrics` facade, its exporter and
//! their dependencies.
//!
//! | Name | Default | Enables | Adds |
//! |------|---------|---------|------|
//! | `dogstatsd` | no | the `dogstatsd` module and `DogStatsdMetricsSink` | parking_lot |
//! | `prometheus` | no | the `prometheus` module and `PrometheusMetricsSink` | metrics, metrics-exporter-prometheus, hashbrown, parking_lot |
//! | `testing` | no | `health_sinks::testing`: check an exposition with promtool, and a recording sink, in tests | parking_lot |

mod error;
pub use error::{Result, SinkError};

mod sink;
pub use sink::{MetricsSink, Tag};

mod report;
pub use report::{DROPPED_METRIC, DropReason, METRIC_DESCRIPTIONS, SinkStats};

mod noop;
pub use noop::NoOpMetricsSink;

pub mod logging;
pub use logging::LoggingMetricsSink;

mod fanout;
pub use fanout::FanoutMetricsSink;

#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "prometheus")]
pub use prometheus::PrometheusMetricsSink;

#[cfg(feature = "dogstatsd")]
pub mod dogstatsd;
#[cfg(feature = "dogstatsd")]
pub use dogstatsd::DogStatsdMetricsSink;

#[cfg(feature = "prometheus")]
mod names;
mod tags;

#[cfg(feature = "testing")]
pub mod testing;
