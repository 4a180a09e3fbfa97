//! The original's health usage through `backend::health`: a monitor with a circuit
//! breaker and a metrics sink, checks, retry failures, the comprehensive state driving the
//! fallback cascade, a sink written by the user, and the alert-webhook adapters.
//!
//! ```sh
//! cargo run -p compat --example health
//! ```
#![deny(deprecated)] // the new paths are not deprecated
#![allow(clippy::print_stdout, reason = "an example shows its results")]
#![allow(
    clippy::disallowed_types,
    reason = "user code as the seed wrote it: the workspace's parking_lot rule is for our crates"
)]

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use backend::fallback::{FallbackManager, FallbackMode};
use backend::health::checks::{CheckOutcome, RedisHealthCheck, check_fn};
use backend::health::integrations::{DatadogAdapter, MonitoringAdapter, NewRelicAdapter};
use backend::health::sinks::{FanoutMetricsSink, MetricsSink, Tag};
use backend::health::{
    CircuitBreaker, CircuitBreakerConfig, ComponentStatus, HealthMonitor, PrometheusMetricsSink,
};
use backend::storage::{MemoryStorage, Storage};
use serde_json::json;

/// A sink of the user's own, as the seed's custom Datadog sink: here it keeps lines.
#[derive(Debug, Default)]
struct LineSink(Mutex<Vec<String>>);

impl MetricsSink for LineSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], _timestamp: Option<SystemTime>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{name}={value} {tags:?}"));
        }
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{name}+={value} {tags:?}"));
        }
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{name}~{value} {tags:?}"));
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // monitor = HealthMonitor(circuit_breaker=cb, metrics_sink=PrometheusMetricsSink())
    let prometheus = PrometheusMetricsSink::new();
    let lines = Arc::new(LineSink::default());
    let sink = FanoutMetricsSink::default()
        .with(prometheus.clone())
        .with(lines.clone());
    let breaker = Arc::new(CircuitBreaker::new(CircuitBreakerConfig::default())?);
    let monitor = HealthMonitor::builder()
        .circuit_breaker(breaker.clone())
        .metrics_sink(Arc::new(sink))
        .without_resources()
        .build()?;

    // monitor.register_check(RedisHealthCheck(redis)); a check of one's own
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    storage.connect().await?;
    monitor.register_check(RedisHealthCheck::new(storage.clone()));
    monitor.register_check(check_fn("queue", || async {
        Ok(CheckOutcome::healthy("draining"))
    }));
    for name in ["anomaly_detector", "memory_store", "policy_engine"] {
        monitor.registry().register(name, None);
        monitor.registry().mark_healthy(name, None);
    }
    monitor.record_retry_failure();

    // state = await monitor.get_comprehensive_state(); await fallback_manager.cascade(state)
    let manager = FallbackManager::new(storage.clone());
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(state.health_checks.len(), 2);
    assert_eq!(state.retry.failures_1h, 1);
    assert_eq!(state.circuit_breaker.state.as_str(), "CLOSED");
    assert_eq!(manager.cascade(&state).await, FallbackMode::Primary);
    println!("state: {}", serde_json::to_string(&state.system)?);

    // Alerts from the monitoring webhooks fail two components: the cascade goes SAFE.
    let datadog = DatadogAdapter.parse_payload(&json!({
        "alert_type": "error", "check": "memory_store", "text": "OOM killed"
    }))?;
    let newrelic = NewRelicAdapter.parse_payload(&json!({
        "condition_name": "policy_engine", "severity": "critical", "details": "crash loop"
    }))?;
    assert_eq!(DatadogAdapter.ingest(&datadog, monitor.registry()), 1);
    assert_eq!(NewRelicAdapter.ingest(&newrelic, monitor.registry()), 1);
    assert_eq!(
        monitor
            .registry()
            .get_component_health("memory_store")
            .status,
        ComponentStatus::Failed
    );
    let state = monitor.get_comprehensive_state().await;
    assert_eq!(manager.cascade(&state).await, FallbackMode::Safe);
    println!("cascade: {}", manager.get_transitions_log(1)[0].reason);
    assert!(
        NewRelicAdapter
            .parse_payload(&json!({"unknown": "format"}))
            .is_err()
    );

    let exposition = prometheus.render();
    assert!(exposition.contains("health_check_status{check=\"queue\"} 1"));
    assert!(lines.0.lock().map_or(0, |lines| lines.len()) > 0);
    println!("health: monitor, checks, sinks and webhooks behave");
    Ok(())
}
