//! `health` tells a service how healthy it is. Checks probe dependencies; a component
//! registry holds what the code itself reports; a circuit breaker, retry failures and
//! CPU, memory and disk use complete the picture. The [`HealthMonitor`] assembles all of
//! it into a [`HealthState`], the input of the fallback cascade, and exports every check
//! result through a [`MetricsSink`](health_sinks::MetricsSink). The data model
//! ([`HealthState`], statuses, results, [`Timestamp`]) comes from the `health-model`
//! crate and is re-exported here.
//!
//! - [`HealthCheck`] is the one trait a check implements: a name, a timeout (default
//!   5 s) and the probing logic. [`run_check`] adds the rest once, for every check: the
//!   timeout (a timed-out check is cancelled), latency on a monotonic clock, and an
//!   `unhealthy` result for an error or a panic.
//! - Built-in checks: [`StorageHealthCheck`] (any `storage::Storage`, Redis included;
//!   [`RedisHealthCheck`] is the original's name), [`DownstreamServiceCheck`] (HTTP
//!   `GET`), [`DiskSpaceCheck`], [`ComponentHealthCheck`].
//! - [`ComponentRegistry`]: components marked healthy, degraded or failed; an ordinary
//!   value, never a singleton, whose reads never register anything.
//! - [`CircuitBreaker`] with bounded half-open admission; the monitor reads any breaker
//!   through [`BreakerStatus`] and any retry policy through [`RetryStatus`].
//! - [`HealthMonitor`]: runs checks concurrently (bounded), caches results with a TTL and
//!   a staleness bound, refreshes them in the background on request, tells
//!   [`StatusListener`]s about changes, and samples resources off the event loop.
//! - Alert webhooks: [`DatadogAdapter`] and [`NewRelicAdapter`] turn payloads into
//!   [`Alert`]s ([`MonitoringAdapter`]) and apply them to the registry.
//! - [`metrics`]: the metric names health emits, their help texts
//!   ([`METRIC_DESCRIPTIONS`]) and
//!   [`emit_health_check`](metrics::MetricsSinkExt::emit_health_check), one check result
//!   on any sink.
//!
//! What it deliberately does not do: keep a fallback mode (the `fallback` crate owns the
//! mode and reads the [`HealthState`]), serve HTTP (the `server` crate does), speak TLS
//! (the HTTP check probes `http://` only), deduplicate webhook deliveries (alerts carry a
//! `dedup_key` for the receiver that wants to), or install any global state.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use health::{
//!     CheckOutcome, CircuitBreaker, ComponentRegistry, ComponentStatus, DatadogAdapter,
//!     HealthCheckStatus, HealthMonitor, MonitoringAdapter, StorageHealthCheck, check_fn,
//! };
//! use health_sinks::PrometheusMetricsSink;
//! use serde_json::json;
//! use storage::{MemoryStorage, Storage};
//!
//! let storage = Arc::new(MemoryStorage::new());
//! storage.connect().await?;
//! let registry = ComponentRegistry::new();
//! let breaker = CircuitBreaker::default();
//! let prometheus = PrometheusMetricsSink::new();
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
//! assert!(prometheus.render().contains("health_check_status{check=\"payments\"} 0.5"));
//!
//! // An alert webhook fails the component it names...
//! let alerts = DatadogAdapter.parse_payload(&json!({
//!     "alert_transition": "Triggered",
//!     "title": "[Triggered] Model latency above 2s",
//!     "tags": "env:prod,service:model",
//! }))?;
//! DatadogAdapter.ingest(&alerts, &registry);
//! assert_eq!(registry.get_component_health("model").status, ComponentStatus::Failed);
//!
//! // ... which the next state shows, read from the cache without running any check.
//! assert_eq!(monitor.cached_state().system.failed_components, 1);
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no cargo features. It needs a Tokio runtime with the time driver.

mod error;
pub use error::{HealthError, Result};

mod check;
pub use check::{
    CheckError, CheckOutcome, DEFAULT_CHECK_TIMEOUT, FnHealthCheck, HealthCheck, check_fn,
    run_check,
};

mod checks;
pub use checks::{
    ComponentHealthCheck, DiskSpaceCheck, DownstreamServiceCheck, HEALTH_CHECK_KEY,
    RedisHealthCheck, StorageHealthCheck,
};

mod registry;
pub use registry::{ComponentCounts, ComponentRegistry};

mod breaker;
pub use breaker::{BreakerPermit, BreakerStatus, CallError, CircuitBreaker, CircuitBreakerConfig};

mod retry;
pub use retry::{MAX_TRACKED_RETRY_FAILURES, RetryStatus, RetryTracker};

mod resources;
pub use resources::{DiskUsage, ResourceConfig, ResourceThresholds, Thresholds};

mod integrations;
pub use integrations::{
    AdapterParseError, Alert, AlertImpact, DEFAULT_ALERT_COMPONENT, DatadogAdapter,
    MAX_ALERT_COMPONENT_CHARS, MAX_ALERT_METADATA_ENTRIES, MAX_ALERT_TEXT_CHARS,
    MAX_ALERTS_PER_PAYLOAD, MonitoringAdapter, NewRelicAdapter, PROVIDERS, adapter_for,
    ingest_alerts,
};

mod monitor;
pub use monitor::{
    DEFAULT_CACHE_TTL, DEFAULT_FAILURE_WINDOW, DEFAULT_LISTENER_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_CHECKS, DEFAULT_MAX_STALENESS, HealthMonitor, HealthMonitorBuilder,
    LISTENER_QUEUE_CAPACITY, RefresherHandle, StatusChange, StatusListener,
};

pub mod metrics;
pub use metrics::{METRIC_DESCRIPTIONS, RETRY_FAILURES_METRIC, STATE_DURATION_METRIC};

// The data model lives in `health-model`, which readers of a state depend on alone.
pub use health_model::{
    BreakerSnapshot, CircuitState, ComponentHealth, ComponentStatus, HealthCheckResult,
    HealthCheckStatus, HealthState, HealthSummary, RETRY_CRITICAL_AT, RETRY_ELEVATED_AT,
    ResourceHealth, ResourceLevel, ResourceLevels, ResourceMetrics, RetryHealth, RetryState,
    SystemHealth, SystemStatus, Timestamp, TimestampParseError, UnknownStatus,
};
