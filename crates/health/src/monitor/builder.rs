//! [`HealthMonitorBuilder`]: the monitor's settings, validated by `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use health_sinks::{MetricsSink, NoOpMetricsSink};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{
    CheckObserver, DEFAULT_CACHE_TTL, DEFAULT_FAILURE_WINDOW, DEFAULT_LISTENER_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_CHECKS, DEFAULT_MAX_STALENESS, HealthMonitor, Inner,
};
use crate::ComponentRegistry;
use crate::breaker::BreakerStatus;
use crate::error::{HealthError, positive};
use crate::resources::{ResourceConfig, ResourceSampler};
use crate::retry::{FailureWindow, RetryStatus};
use health_model::Timestamp;

/// Settings for a [`HealthMonitor`]; start from [`HealthMonitor::builder`].
pub struct HealthMonitorBuilder {
    breaker: Option<Arc<dyn BreakerStatus>>,
    retry: Option<Arc<dyn RetryStatus>>,
    sink: Arc<dyn MetricsSink>,
    registry: ComponentRegistry,
    failure_window: Duration,
    cache_ttl: Duration,
    max_staleness: Duration,
    max_concurrent_checks: usize,
    listener_timeout: Duration,
    resources: Option<ResourceConfig>,
    observers: Vec<Arc<dyn CheckObserver>>,
}

impl Default for HealthMonitorBuilder {
    fn default() -> Self {
        Self {
            breaker: None,
            retry: None,
            sink: Arc::new(NoOpMetricsSink),
            registry: ComponentRegistry::new(),
            failure_window: DEFAULT_FAILURE_WINDOW,
            cache_ttl: DEFAULT_CACHE_TTL,
            max_staleness: DEFAULT_MAX_STALENESS,
            max_concurrent_checks: DEFAULT_MAX_CONCURRENT_CHECKS,
            listener_timeout: DEFAULT_LISTENER_TIMEOUT,
            resources: Some(ResourceConfig::default()),
            observers: Vec::new(),
        }
    }
}

impl HealthMonitorBuilder {
    /// The circuit breaker to report (default: none, reported as `available: false`).
    #[must_use]
    pub fn circuit_breaker(mut self, breaker: Arc<dyn BreakerStatus>) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The retry policy whose `total_attempts` to report (default: none, reported as 0).
    #[must_use]
    pub fn retry_tracker(mut self, retry: Arc<dyn RetryStatus>) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Where check results and monitor metrics go (default: [`NoOpMetricsSink`]).
    #[must_use]
    pub fn metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The component registry to report (default: a new, empty one).
    #[must_use]
    pub fn registry(mut self, registry: ComponentRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// How far back retry failures count (default 1 h).
    #[must_use]
    pub const fn failure_window(mut self, window: Duration) -> Self {
        self.failure_window = window;
        self
    }

    /// How long a check result is reused before
    /// [`get_comprehensive_state`](HealthMonitor::get_comprehensive_state) runs the check
    /// again (default 1 s). Zero runs every check on every call.
    #[must_use]
    pub const fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How old a cached result may get before it reads `unknown` (default 60 s; at least
    /// the cache TTL).
    #[must_use]
    pub const fn max_staleness(mut self, staleness: Duration) -> Self {
        self.max_staleness = staleness;
        self
    }

    /// How many checks may run at once, across all callers (default 128).
    #[must_use]
    pub const fn max_concurrent_checks(mut self, limit: usize) -> Self {
        self.max_concurrent_checks = limit;
        self
    }

    /// How long a status listener may take per change before it is cancelled (default
    /// 5 s).
    #[must_use]
    pub const fn listener_timeout(mut self, timeout: Duration) -> Self {
        self.listener_timeout = timeout;
        self
    }

    /// How CPU, memory and disk are sampled (default [`ResourceConfig::default`]).
    #[must_use]
    pub fn resources(mut self, config: ResourceConfig) -> Self {
        self.resources = Some(config);
        self
    }

    /// Adds an observer told the raw result of every check run (see [`CheckObserver`]).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn CheckObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Reports no resources (`available: false`, levels `unknown`): for tests, or where
    /// another component watches the host.
    #[must_use]
    pub fn without_resources(mut self) -> Self {
        self.resources = None;
        self
    }

    /// Builds the monitor.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] for a zero failure window, staleness or listener
    /// timeout, a staleness below the cache TTL, a concurrency limit of 0 or beyond
    /// Tokio's semaphore limit, or invalid resource thresholds.
    pub fn build(self) -> Result<HealthMonitor, HealthError> {
        positive("failure_window", self.failure_window)?;
        positive("max_staleness", self.max_staleness)?;
        positive("listener_timeout", self.listener_timeout)?;
        if self.max_staleness < self.cache_ttl {
            return Err(HealthError::config(
                "max_staleness",
                format!(
                    "must be at least the cache TTL ({})",
                    humantime::format_duration(self.cache_ttl)
                ),
            ));
        }
        if self.max_concurrent_checks == 0 || self.max_concurrent_checks > Semaphore::MAX_PERMITS {
            return Err(HealthError::config(
                "max_concurrent_checks",
                format!("must be between 1 and {}", Semaphore::MAX_PERMITS),
            ));
        }
        if let Some(resources) = &self.resources {
            resources.validate()?;
        }
        Ok(self.build_unchecked())
    }

    /// Builds without validating: for the defaults, which are valid.
    pub(super) fn build_unchecked(self) -> HealthMonitor {
        HealthMonitor {
            inner: Arc::new(Inner {
                breaker: self.breaker,
                retry: self.retry,
                sink: self.sink,
                registry: self.registry,
                failure_window: self.failure_window,
                cache_ttl: self.cache_ttl,
                max_staleness: self.max_staleness,
                listener_timeout: self.listener_timeout,
                checks: RwLock::default(),
                permits: Semaphore::new(self.max_concurrent_checks),
                failures: Mutex::new(FailureWindow::new(self.failure_window)),
                listeners: RwLock::default(),
                observers: self.observers,
                resources: self.resources.map(ResourceSampler::new),
                started: Instant::now(),
                started_at: Timestamp::now(),
            }),
        }
    }
}

impl fmt::Debug for HealthMonitorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthMonitorBuilder")
            .field("circuit_breaker", &self.breaker.is_some())
            .field("retry_tracker", &self.retry.is_some())
            .field("metrics_sink", &self.sink)
            .field("failure_window", &self.failure_window)
            .field("cache_ttl", &self.cache_ttl)
            .field("max_staleness", &self.max_staleness)
            .field("max_concurrent_checks", &self.max_concurrent_checks)
            .field("listener_timeout", &self.listener_timeout)
            .field("resources", &self.resources)
            .field("observers", &self.observers.len())
            .finish_non_exhaustive()
    }
}
