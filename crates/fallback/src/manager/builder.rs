//! [`FallbackManagerBuilder`]: the manager's settings and collaborators, and the one
//! place a manager is assembled.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use condition::ConditionParser;
use health_sinks::MetricsSink;
use storage::Storage;

use super::{
    Callbacks, Clock, Detectors, Emitter, FallbackManager, HoldCell, Journal, ModeState, Registry,
    Store,
};
use crate::detection::AnomalyDetector;
use crate::{CascadePolicy, FallbackConfig, FallbackMode, Hysteresis, ThresholdPolicy};

/// Configures a [`FallbackManager`]; made by [`FallbackManager::builder`].
pub struct FallbackManagerBuilder {
    storage: Arc<dyn Storage>,
    config: FallbackConfig,
    policy: Arc<dyn CascadePolicy>,
    parser: ConditionParser,
    anomaly_detector: Option<Arc<dyn AnomalyDetector>>,
    heuristic_detector: Option<Arc<dyn AnomalyDetector>>,
    sink: Option<Arc<dyn MetricsSink>>,
}

impl FallbackManagerBuilder {
    /// Replaces every setting at once.
    #[must_use]
    pub fn config(mut self, config: FallbackConfig) -> Self {
        self.config = config;
        self
    }

    /// The decision rule (default: [`ThresholdPolicy::default`], the original's).
    #[must_use]
    pub fn policy(mut self, policy: impl CascadePolicy + 'static) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Damps recoveries (see [`Hysteresis`]); off by default.
    #[must_use]
    pub fn hysteresis(mut self, hysteresis: Hysteresis) -> Self {
        self.config.hysteresis = Some(hysteresis);
        self
    }

    /// See [`FallbackConfig::namespace`].
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.namespace = namespace.into();
        self
    }

    /// See [`FallbackConfig::max_log_entries`].
    #[must_use]
    pub fn max_log_entries(mut self, entries: usize) -> Self {
        self.config.max_log_entries = entries;
        self
    }

    /// See [`FallbackConfig::max_pending_records`].
    #[must_use]
    pub fn max_pending_records(mut self, records: usize) -> Self {
        self.config.max_pending_records = records;
        self
    }

    /// See [`FallbackConfig::record_ttl`].
    #[must_use]
    pub fn record_ttl(mut self, ttl: Duration) -> Self {
        self.config.record_ttl = ttl;
        self
    }

    /// See [`FallbackConfig::callback_timeout`].
    #[must_use]
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.config.callback_timeout = timeout;
        self
    }

    /// See [`FallbackConfig::persist_timeout`].
    #[must_use]
    pub fn persist_timeout(mut self, timeout: Duration) -> Self {
        self.config.persist_timeout = timeout;
        self
    }

    /// The detector asked in PRIMARY mode (the original's ML anomaly detector).
    #[must_use]
    pub fn anomaly_detector(mut self, detector: Arc<dyn AnomalyDetector>) -> Self {
        self.anomaly_detector = Some(detector);
        self
    }

    /// The detector asked in HEURISTIC mode, e.g. a [`RuleBasedDetector`](crate::detection::RuleBasedDetector).
    #[must_use]
    pub fn heuristic_detector(mut self, detector: Arc<dyn AnomalyDetector>) -> Self {
        self.heuristic_detector = Some(detector);
        self
    }

    /// Where the mode gauge, the transition counter and the time-in-mode histogram go.
    #[must_use]
    pub fn metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The parser of fallback conditions (default: [`ConditionParser::new`], the default
    /// whitelist of variables).
    #[must_use]
    pub fn condition_parser(mut self, parser: ConditionParser) -> Self {
        self.parser = parser;
        self
    }

    /// Builds the manager, in PRIMARY mode.
    #[must_use]
    pub fn build(self) -> FallbackManager {
        let config = self.config;
        let clock = Clock::start();
        let metrics = Emitter::new(self.sink);
        let store = Store::new(self.storage, config.persist_timeout);
        let manager = FallbackManager {
            modes: ModeState::new(self.policy, config.hysteresis, clock),
            hold: HoldCell::new(clock),
            transition_lock: Arc::new(tokio::sync::Mutex::new(())),
            journal: Journal::new(&config, store.clone(), metrics.clone()),
            callbacks: Callbacks::new(config.callback_timeout, metrics.clone()),
            registry: Registry::new(self.parser, &config, store.clone()),
            detectors: Detectors::new(
                self.anomaly_detector,
                self.heuristic_detector,
                config.callback_timeout,
            ),
            metrics,
            store,
            config,
        };
        manager.metrics.mode(FallbackMode::Primary);
        manager
    }
}

impl fmt::Debug for FallbackManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackManagerBuilder")
            .field("storage", &self.storage)
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl FallbackManager {
    /// Starts configuring a manager that keeps its records in `storage`.
    #[must_use]
    pub fn builder(storage: Arc<dyn Storage>) -> FallbackManagerBuilder {
        FallbackManagerBuilder {
            storage,
            config: FallbackConfig::default(),
            policy: Arc::new(ThresholdPolicy::default()),
            parser: ConditionParser::new(),
            anomaly_detector: None,
            heuristic_detector: None,
            sink: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use health_sinks::testing::{Emitted, RecordingSink};
    use storage::MemoryStorage;

    use super::*;
    use crate::manager::MODE_METRIC;

    #[test]
    fn building_outside_a_runtime_works_and_starts_primary() {
        let sink = Arc::new(RecordingSink::new());
        let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
            .metrics_sink(sink.clone())
            .build();
        assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
        assert!(manager.current_hold().is_none());
        assert_eq!(manager.total_transitions(), 0);
        assert!(manager.anomaly_detector().is_none() && manager.heuristic_detector().is_none());
        assert_eq!(manager.config(), &FallbackConfig::default());
        assert_eq!(
            sink.take(),
            [Emitted::Gauge(MODE_METRIC.to_owned(), 0.0, vec![])],
            "the mode gauge starts at PRIMARY"
        );
    }

    #[test]
    fn each_setter_lands_in_the_config_and_a_whole_config_replaces_them() {
        let hysteresis = Hysteresis::new().recovery_evaluations(3);
        let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
            .namespace("svc")
            .max_log_entries(3)
            .max_pending_records(4)
            .record_ttl(Duration::from_secs(5))
            .callback_timeout(Duration::from_secs(6))
            .persist_timeout(Duration::from_secs(7))
            .hysteresis(hysteresis)
            .build();
        let expected = FallbackConfig {
            namespace: "svc".to_owned(),
            max_log_entries: 3,
            max_pending_records: 4,
            record_ttl: Duration::from_secs(5),
            callback_timeout: Duration::from_secs(6),
            persist_timeout: Duration::from_secs(7),
            hysteresis: Some(hysteresis),
        };
        assert_eq!(manager.config(), &expected);

        let replaced = FallbackManager::builder(Arc::new(MemoryStorage::new()))
            .namespace("lost")
            .config(FallbackConfig::default())
            .build();
        assert_eq!(
            replaced.config().namespace,
            FallbackConfig::DEFAULT_NAMESPACE
        );
    }
}
