//! `health` tells a service how healthy it is. Checks probe dependencies; a component
//! registry holds what the code itself reports; a circuit breaker, retry failures and
//! CPU, memory and disk use complete the picture. The [`HealthMonitor`] assembles all of
//! it into a [`HealthState`], the input of the fallback cascade, and exports every check
//! result through a [`MetricsSink`](health_sinks::MetricsSink).
//!
//! The root holds the headline types; the rest lives in a module per concept:
//!
//! | Module | What |
//! |--------|------|
//! | [`checks`] | the [`HealthCheck`] trait, [`run_check`](checks::run_check) (timeout, latency and panic isolation, once for every check), [`check_fn`](checks::check_fn), and the built-in checks: storage (Redis included), components, HTTP, disk |
//! | [`probe`] | what a check is for and how it is probed: [`Criticality`](probe::Criticality), tags, [`ProbeSchedule`](probe::ProbeSchedule) (interval, timeout, initial delay, failure and success thresholds), [`CheckOptions`](probe::CheckOptions) |
//! | [`groups`] | [`HealthGroup`](groups::HealthGroup): liveness, readiness, start-up and named groups of checks, by tag or name |
//! | [`registry`] | the [`ComponentRegistry`]: components marked healthy, degraded or failed; an ordinary value, never a singleton |
//! | [`breaker`] | the [`CircuitBreaker`] with bounded half-open admission, and [`BreakerStatus`](breaker::BreakerStatus) to report any breaker |
//! | [`retry`] | [`RetryStatus`](retry::RetryStatus) to report any retry policy, and a [`RetryTracker`](retry::RetryTracker) |
//! | [`resources`] | how CPU, memory and disk are sampled and judged |
//! | [`monitor`] | the [`HealthMonitor`], its builder, status listeners and background refresher |
//! | `alerts` | Datadog and New Relic alert webhooks, turned into alerts that mark components (feature `alerts`) |
//! | [`metrics`] | the metrics health emits, their help texts, and [`emit_health_check`](metrics::MetricsSinkExt::emit_health_check) |
//! | [`model`] | the data model ([`HealthState`], statuses, results, [`Timestamp`](model::Timestamp)), re-exported from `health-model` |
//!
//! What it deliberately does not do: keep a fallback mode (the `fallback` crate owns the
//! mode and reads the [`HealthState`]), serve HTTP (the `server` crate does), or install
//! any global state.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use health::checks::{StorageHealthCheck, check_fn};
//! use health::metrics::METRIC_DESCRIPTIONS;
//! use health::{
//!     CheckOutcome, CircuitBreaker, ComponentRegistry, ComponentStatus, HealthCheckStatus,
//!     HealthMonitor,
//! };
//! use health_sinks::prometheus::PrometheusSinkBuilder;
//! use storage::{MemoryStorage, Storage};
//!
//! let storage = Arc::new(MemoryStorage::new());
//! storage.connect().await?;
//! let registry = ComponentRegistry::new();
//! let breaker = CircuitBreaker::default();
//! let prometheus = METRIC_DESCRIPTIONS
//!     .iter()
//!     .fold(PrometheusSinkBuilder::new(), |sink, (name, help)| sink.describe(name, help))
//!     .build()?;
//!
//! let monitor = HealthMonitor::builder()
//!     .registry(registry.clone())
//!     .circuit_breaker(Arc::new(breaker.clone()))
//!     .metrics_sink(Arc::new(prometheus.clone()))
//!     .without_resources() // sampled off the event loop by default; off here for brevity
//!     .build()?;
//! monitor.register_check(StorageHealthCheck::new(storage)); // named "memory"
//! monitor.register_check(check_fn("payments", || async {
//!     Ok(CheckOutcome::degraded("p95 at 900 ms").with_metadata("p95_ms", 900))
//! }));
//! registry.mark_healthy("model", None);
//!
//! let state = monitor.get_comprehensive_state().await;
//! assert_eq!(state.health_checks["memory"].status, HealthCheckStatus::Healthy);
//! assert_eq!(state.health_checks["payments"].status, HealthCheckStatus::Degraded);
//! assert_eq!(state.system.degraded_components, 1);
//! assert_eq!(state.circuit_breaker.state.as_str(), "CLOSED");
//! let text = prometheus.render();
//! assert!(text.contains("health_check_status{check=\"payments\"} 0.5"));
//! assert!(text.contains("# HELP health_check_status Health check status by check"));
//!
//! // An alert webhook fails the component it names...
//! # #[cfg(feature = "alerts")]
//! # {
//! use health::alerts::{DatadogAdapter, MonitoringAdapter};
//! let alerts = DatadogAdapter.parse_payload(&serde_json::json!({
//!     "alert_transition": "Triggered",
//!     "title": "[Triggered] Model latency above 2s",
//!     "tags": "env:prod,service:model",
//! }))?;
//! DatadogAdapter.ingest(&alerts, &registry);
//! assert_eq!(registry.get_component_health("model").status, ComponentStatus::Failed);
//!
//! // ... which the next state shows, read from the cache without running any check.
//! assert_eq!(monitor.cached_state().system.failed_components, 1);
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! It needs a Tokio runtime with the time driver.
//!
//! # Feature flags
//!
//! The default features add no package to the dependency tree; each feature that would
//! (an HTTP client, system probes) is off until asked for, so a service that only needs
//! the monitor, its own checks and the storage check builds lean. A resource that is not
//! measured reads `unknown`, and the `resources` section reads `available: false` when
//! nothing is.
//!
//! | Name | Default | Enables | Adds |
//! |------|---------|---------|------|
//! | `alerts` | yes | the `alerts` module: Datadog and New Relic webhook adapters, `HealthError::AdapterParse` | nothing (serde_json is already in) |
//! | `http-check` | no | `checks::DownstreamServiceCheck`, an HTTP/1 request to an `http://` or `https://` URL | hyper, hyper-util, http-body-util, tokio's `net`, rustls (`ring` provider), tokio-rustls, rustls-native-certs, rustls-pki-types |
//! | `disk` | no | `checks::DiskSpaceCheck`, `resources::DiskUsage`, and the disk part of the `resources` section | rustix (`statvfs(2)`) |
//! | `resources` | no | CPU, memory and process memory in the `resources` section | sysinfo |

mod error;
pub use error::{HealthError, Result};

pub mod checks;
pub use checks::{CheckError, CheckOutcome, HealthCheck};

pub mod probe;

pub mod groups;

pub mod registry;
pub use registry::ComponentRegistry;

pub mod breaker;
pub use breaker::CircuitBreaker;

pub mod retry;

pub mod resources;

pub mod monitor;
pub use monitor::HealthMonitor;

#[cfg(feature = "alerts")]
pub mod alerts;

pub mod metrics;

pub mod model;
pub use model::{ComponentStatus, HealthCheckResult, HealthCheckStatus, HealthState};
