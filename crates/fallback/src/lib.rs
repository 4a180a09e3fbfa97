//! `fallback` degrades a service step by step as its health worsens, and brings it back:
//! the [`FallbackManager`] turns a [`health_model::HealthState`] into a [`FallbackMode`]
//! (PRIMARY, then HEURISTIC, then SAFE), explains and keeps every change, runs the
//! callbacks registered for the mode entered, and lets operators override the mode, once
//! or with a hold that no cascade undoes.
//!
//! - **The original's rule, configurable.** 2 or more failed components or critical
//!   resources: SAFE; else an open circuit breaker or more than 50 retry failures in the
//!   window: HEURISTIC; else PRIMARY ([`ThresholdPolicy`]; any [`CascadePolicy`] can
//!   replace it). Optional [`Hysteresis`] damps recoveries: a dwell time, N healthier
//!   evaluations in a row, one mode at a time.
//! - **Explained and kept.** Each change is a [`Transition`] `{timestamp, from, to,
//!   reason}` with the original's reasons (`multiple_failures(2); circuit_open(15s)`), in
//!   a bounded log and in [`storage`] as a JSON object under
//!   `fallback:transition:<unique, time-ordered id>` for 24 hours. Storage outages never
//!   block a change: records wait in a bounded queue until storage answers again.
//! - **Cheap when nothing changes.** A cascade that keeps the mode reads one atomic and
//!   the policy: no lock, no allocation. Changes go through one async lock, so concurrent
//!   callers make exactly one transition per real change.
//! - **Operator overrides that last.** [`FallbackManager::set_mode`] is a one-shot change
//!   that the next cascade may undo; [`FallbackManager::hold_mode`] pins the mode until
//!   [`FallbackManager::release_hold`] or for a duration on a monotonic clock, and
//!   cascades change nothing meanwhile, however the health moves. The hold is taken under
//!   the lock that serializes changes, so no cascade racing it transitions after it, and
//!   [`FallbackManager::get_metrics`] reports it ([`ModeHold`]).
//! - **Isolated user code.** Mode callbacks, fallback actions and detectors may fail,
//!   panic or hang (per-call timeout): it is logged, counted and contained.
//! - **Detectors and fallbacks.** [`FallbackManager::detect_anomaly`] asks the detector of
//!   the current mode ([`detection::RuleBasedDetector`] is a heuristic one whose rules are
//!   [`condition`] expressions); [`FallbackManager::register_fallback`] stores a named
//!   condition and action, and [`FallbackManager::evaluate_fallbacks`] runs the actions
//!   whose conditions hold. [`FallbackManager::register_fallback_or_queue`] waits out a
//!   storage outage: the fallback becomes active once its definition is stored.
//! - **Metrics** through an optional [`health_sinks::MetricsSink`]: the mode gauge
//!   ([`metrics::MODE_METRIC`], 0/1/2), transitions by `from`/`to`
//!   ([`metrics::TRANSITIONS_METRIC`]) and time spent in each mode
//!   ([`metrics::TIME_IN_MODE_METRIC`]); [`metrics::METRIC_DESCRIPTIONS`] holds the help
//!   text of each.
//!
//! What it deliberately does not do: gather health (the `health` crate's `HealthMonitor`
//! builds the [`health_model::HealthState`], circuit breaker included, and is the one source
//! of it), coordinate the mode across replicas, or persist the current mode or a hold
//! (a restarted manager starts in PRIMARY, unheld, and the next cascade decides).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use std::sync::Arc;
//! use fallback::{FallbackManager, FallbackMode};
//! use health_model::HealthState;
//! use storage::{MemoryStorage, Storage};
//!
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! let manager = FallbackManager::new(storage.clone());
//! manager.register_mode_callback(FallbackMode::Safe, |transition| async move {
//!     println!("entered safe mode: {}", transition.reason);
//!     Ok(())
//! });
//!
//! // The original's health document; missing fields take their defaults.
//! let state: HealthState = serde_json::from_value(serde_json::json!({
//!     "circuit_breaker": {"state": "CLOSED"},
//!     "retry": {"failures_1h": 0},
//!     "system": {"failed_components": 2}
//! }))?;
//! assert_eq!(manager.cascade(&state).await, FallbackMode::Safe);
//!
//! let log = manager.get_transitions_log(10);
//! assert_eq!((log[0].from, log[0].to), (FallbackMode::Primary, FallbackMode::Safe));
//! assert_eq!(log[0].reason, "multiple_failures(2)");
//! let keys = storage.keys("fallback:transition:*").await?;
//! assert_eq!(storage.get(&keys[0]).await?.unwrap()["to"], "safe");
//!
//! // The operator's one-shot override; an unknown name changes nothing.
//! assert!(manager.set_mode("Heuristic").await?);
//! assert!(manager.set_mode("degraded").await.is_err());
//! assert_eq!(manager.get_mode_string(), "heuristic");
//! assert_eq!(manager.get_metrics().total_transitions, 2);
//!
//! // A hold lasts: no cascade undoes it until it is released (or its duration ends).
//! let healthy = HealthState::default();
//! manager.hold_mode(FallbackMode::Safe, None).await?;
//! assert_eq!(manager.cascade(&healthy).await, FallbackMode::Safe);
//! assert_eq!(manager.get_metrics().hold.map(|hold| hold.mode), Some(FallbackMode::Safe));
//! assert!(manager.release_hold().is_some_and(|hold| hold.is_indefinite()));
//! assert_eq!(manager.cascade(&healthy).await, FallbackMode::Primary);
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no cargo features.

mod config;
pub use config::{FallbackConfig, Hysteresis};

mod error;
pub use error::{BoxError, Error, Result};

mod manager;
pub use manager::{FallbackManager, FallbackManagerBuilder, ManagerMetrics, ModeHold};

mod mode;
pub use mode::FallbackMode;

mod policy;
pub use policy::{CascadePolicy, ThresholdPolicy};

mod transition;
pub use transition::{MANUAL_REASON, Transition};

mod detector;
mod fallbacks;
mod isolate;

/// Anomaly detection per mode: the [`AnomalyDetector`](detection::AnomalyDetector) trait
/// and [`RuleBasedDetector`](detection::RuleBasedDetector), whose rules are `condition`
/// expressions; [`FallbackManager::detect_anomaly`] asks the detector of the current mode.
pub mod detection {
    pub use crate::detector::{AnomalyDetector, Detection, DetectionRule, RuleBasedDetector};
}

/// Registered fallbacks: named `condition` rules with actions, what
/// [`FallbackManager::register_fallback`] stores and
/// [`FallbackManager::evaluate_fallbacks`] reports.
pub mod rules {
    pub use crate::fallbacks::{
        FallbackDefinition, FallbackReport, FallbackRun, Registration, SkippedFallback,
    };
    pub use crate::isolate::Outcome;
}

/// The metric names the manager emits through its [`health_sinks::MetricsSink`], with the
/// help text of each in [`METRIC_DESCRIPTIONS`](metrics::METRIC_DESCRIPTIONS), and the
/// size of [`ManagerMetrics::recent_transitions`].
pub mod metrics {
    pub use crate::manager::{
        CALLBACK_FAILURES_METRIC, DROPPED_RECORDS_METRIC, METRIC_DESCRIPTIONS, MODE_METRIC,
        PERSIST_FAILURES_METRIC, RECENT_TRANSITIONS, TIME_IN_MODE_METRIC, TRANSITIONS_METRIC,
    };
}
