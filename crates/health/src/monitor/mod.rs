//! The [`HealthMonitor`]: runs the registered checks (concurrently, bounded, cached) and
//! assembles them with the component registry, the circuit breaker, retry failures and
//! resource use into a [`HealthState`]; with its builder, status listeners and background
//! refresher.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use health_model::{
    BreakerSnapshot, CircuitState, ComponentStatus, GroupHealth, GroupMember, HealthCheckResult,
    HealthCheckStatus, HealthState, HealthSummary, ResourceHealth, SystemStatus, Timestamp,
};
use health_sinks::MetricsSink;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::breaker::BreakerStatus;
use crate::checks::{HealthCheck, panic_message, run_check_timed};
use crate::error::{HealthError, positive};
use crate::groups::HealthGroup;
use crate::metrics::{
    BREAKER_STATE_METRIC, COMPONENT_STATUS_METRIC, COMPONENT_TAG, MetricsSinkExt as _,
    RETRY_FAILURES_METRIC, STATE_DURATION_METRIC, STATE_TAG, SYSTEM_STATUS_METRIC,
    health_status_value, system_status_value,
};
use crate::probe::{CheckOptions, ProbeState};
use crate::registry::ComponentRegistry;
use crate::resources::{ResourceSampler, unavailable};
use crate::retry::{FailureWindow, RetryStatus};

mod builder;
pub use builder::HealthMonitorBuilder;

mod listeners;
use listeners::ListenerSlot;
pub use listeners::{CheckObserver, StatusChange, StatusListener};

mod refresher;
pub use refresher::RefresherHandle;
use refresher::refresh_every;

mod tally;
use tally::{SystemTally, counted_as, counted_status};

/// Default [`HealthMonitorBuilder::failure_window`]: one hour, as the original.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(3600);
/// Default [`HealthMonitorBuilder::cache_ttl`].
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(1);
/// Default [`HealthMonitorBuilder::max_staleness`].
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(60);
/// Default [`HealthMonitorBuilder::max_concurrent_checks`].
pub const DEFAULT_MAX_CONCURRENT_CHECKS: usize = 128;
/// Default [`HealthMonitorBuilder::listener_timeout`].
pub const DEFAULT_LISTENER_TIMEOUT: Duration = Duration::from_secs(5);
/// Status changes a listener may have waiting; more are dropped (and logged) rather than
/// slowing the monitor down.
pub const LISTENER_QUEUE_CAPACITY: usize = 1024;

/// The service's health in one place: it runs the registered checks (concurrently, each
/// under its own timeout, results cached), and assembles them with the component
/// registry, the circuit breaker, retry failures and resource use into a
/// [`HealthState`], the input of the fallback cascade.
///
/// Four ways to read it, two that run checks and two that only read the cache:
///
/// | Method | Runs checks | Returns | For |
/// |--------|-------------|---------|-----|
/// | [`get_comprehensive_state`](Self::get_comprehensive_state) | those whose result is older than the [cache TTL](HealthMonitorBuilder::cache_ttl) | [`HealthState`] | the cascade, an operator asking now (the original's entry point) |
/// | [`run_checks`](Self::run_checks) | all of them, now | each check's result | forcing a fresh probe of everything |
/// | [`cached_state`](Self::cached_state) | none, waits for nothing | [`HealthState`] | state pages, a cascade on a timer |
/// | [`cached_summary`](Self::cached_summary) | none, copies no result | [`HealthSummary`] | readiness probes: counts, failed names, each check's status |
///
/// - Running checks runs at most
///   [`max_concurrent_checks`](HealthMonitorBuilder::max_concurrent_checks) at a time in
///   the calling task (cancelling the call cancels them all), and reports each result
///   through [`MetricsSinkExt::emit_health_check`](crate::metrics::MetricsSinkExt::emit_health_check).
///   A [refresher](Self::spawn_refresher) keeps the cache fresh in the background, so
///   probes never hammer dependencies.
/// - A cached result older than [`max_staleness`](HealthMonitorBuilder::max_staleness)
///   reads `unknown`: a stale "healthy" is never served.
/// - Unhealthy checks count as failed components in `system`, so a dead dependency can
///   drive the cascade. A check named like a registered component, or whose result names
///   one in a `component` metadata entry (as
///   [`ComponentHealthCheck`](crate::checks::ComponentHealthCheck)'s results do), counts once
///   with it, with the worse of the two statuses.
/// - Resources are sampled on a blocking thread and cached; reading them never blocks.
///
/// The monitor keeps no fallback mode: that is the `fallback` crate's job. Clones share
/// one monitor. Needs a Tokio runtime with the time driver.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), health::HealthError> {
/// use health::checks::check_fn;
/// use health::model::SystemStatus;
/// use health::{CheckOutcome, HealthCheckStatus, HealthMonitor};
///
/// let monitor = HealthMonitor::builder().without_resources().build()?;
/// monitor.register_check(check_fn("cache", || async { Ok(CheckOutcome::healthy("ok")) }));
/// monitor.register_check(check_fn("payments", || async { Err("connection refused".into()) }));
///
/// let state = monitor.get_comprehensive_state().await;
/// assert_eq!(state.health_checks["cache"].status, HealthCheckStatus::Healthy);
/// assert_eq!(state.health_checks["payments"].message, "connection refused");
/// assert_eq!(state.system.failed_components, 1);
/// assert_eq!(state.system.status, SystemStatus::Failed);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HealthMonitor {
    inner: Arc<Inner>,
}

struct Inner {
    breaker: Option<Arc<dyn BreakerStatus>>,
    retry: Option<Arc<dyn RetryStatus>>,
    sink: Arc<dyn MetricsSink>,
    registry: ComponentRegistry,
    failure_window: Duration,
    cache_ttl: Duration,
    max_staleness: Duration,
    listener_timeout: Duration,
    checks: RwLock<BTreeMap<String, Arc<Entry>>>,
    permits: Semaphore,
    failures: Mutex<FailureWindow>,
    listeners: RwLock<Vec<Arc<ListenerSlot>>>,
    observers: Vec<Arc<dyn CheckObserver>>,
    resources: Option<ResourceSampler>,
    started: Instant,
    started_at: Timestamp,
}

/// A registered check with its options and latest result.
struct Entry {
    check: Arc<dyn HealthCheck>,
    options: CheckOptions,
    /// When the first probe may run: registration plus the initial delay.
    first_run: Instant,
    /// When the refresher runs it next.
    next_run: Mutex<Instant>,
    /// Serializes runs of this check, so concurrent callers share one run.
    run: tokio::sync::Mutex<()>,
    latest: Mutex<Option<Latest>>,
    /// The failure and success runs behind the status shown.
    probe: Mutex<ProbeState>,
}

impl Entry {
    fn new(check: Arc<dyn HealthCheck>, options: CheckOptions) -> Self {
        let first_run = Instant::now() + options.schedule.initial_delay;
        Self {
            check,
            options,
            first_run,
            next_run: Mutex::new(first_run),
            run: tokio::sync::Mutex::new(()),
            latest: Mutex::new(None),
            probe: Mutex::new(ProbeState::default()),
        }
    }
}

#[derive(Clone)]
struct Latest {
    result: HealthCheckResult,
    finished: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Always,
    IfExpired,
}

impl Default for HealthMonitor {
    /// A monitor with every default: no breaker, no retry tracker, a no-op sink.
    fn default() -> Self {
        Self::new()
    }
}

impl HealthMonitor {
    /// A monitor with every default: no breaker, no retry tracker, a no-op sink, a fresh
    /// registry, resources sampled.
    #[must_use]
    pub fn new() -> Self {
        // The defaults are valid (a unit test holds `build` to that).
        HealthMonitorBuilder::default().build_unchecked()
    }

    /// Settings, starting from the defaults.
    #[must_use]
    pub fn builder() -> HealthMonitorBuilder {
        HealthMonitorBuilder::default()
    }

    /// The component registry this monitor reports.
    #[must_use]
    pub fn registry(&self) -> &ComponentRegistry {
        &self.inner.registry
    }

    /// The sink results and metrics go to.
    #[must_use]
    pub fn metrics_sink(&self) -> &Arc<dyn MetricsSink> {
        &self.inner.sink
    }

    /// How far back retry failures count.
    #[must_use]
    pub fn failure_window(&self) -> Duration {
        self.inner.failure_window
    }

    /// When the monitor was built.
    #[must_use]
    pub fn started_at(&self) -> Timestamp {
        self.inner.started_at
    }

    /// How long since the monitor was built (monotonic).
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Registers `check` under its name with the default [`CheckOptions`] (critical,
    /// tagged `ready`, every result counting at once), replacing (and forgetting the
    /// results of) a check of the same name. Returns whether one was replaced.
    pub fn register_check(&self, check: impl HealthCheck + 'static) -> bool {
        self.register_shared_check(Arc::new(check))
    }

    /// [`register_check`](Self::register_check) for a check that is already shared.
    pub fn register_shared_check(&self, check: Arc<dyn HealthCheck>) -> bool {
        self.insert_check(check, CheckOptions::default())
    }

    /// Registers `check` with `options`: its criticality, tags (the groups it is in) and
    /// probe schedule. Returns whether a check of the same name was replaced.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] for a schedule with a zero interval, timeout or
    /// threshold.
    pub fn register_check_with(
        &self,
        check: Arc<dyn HealthCheck>,
        options: CheckOptions,
    ) -> Result<bool, HealthError> {
        options.validate()?;
        Ok(self.insert_check(check, options))
    }

    fn insert_check(&self, check: Arc<dyn HealthCheck>, options: CheckOptions) -> bool {
        let name = check.name().to_owned();
        let entry = Arc::new(Entry::new(check, options));
        self.inner.checks.write().insert(name, entry).is_some()
    }

    /// The options `name` was registered with, `None` for an unknown check.
    #[must_use]
    pub fn check_options(&self, name: &str) -> Option<CheckOptions> {
        self.inner
            .checks
            .read()
            .get(name)
            .map(|entry| entry.options.clone())
    }

    /// Removes the check named `name`; `false` if there was none.
    pub fn unregister_check(&self, name: &str) -> bool {
        self.inner.checks.write().remove(name).is_some()
    }

    /// The registered checks' names, sorted.
    #[must_use]
    pub fn check_names(&self) -> Vec<String> {
        self.inner.checks.read().keys().cloned().collect()
    }

    /// Runs every registered check now and returns the results by name. See the type's
    /// documentation for concurrency, timeouts and metrics.
    pub async fn run_checks(&self) -> BTreeMap<String, HealthCheckResult> {
        self.inner.run_all(Run::Always).await
    }

    /// Records one retry failure now (and increments
    /// [`RETRY_FAILURES_METRIC`]).
    pub fn record_retry_failure(&self) {
        self.inner.failures.lock().record(Instant::now());
        self.inner.sink.emit_counter(RETRY_FAILURES_METRIC, 1, &[]);
    }

    /// The full state: runs the checks whose cached result is older than the cache TTL
    /// (or missing), waits for the first resource sample if there is none yet (taken on
    /// a blocking thread; after 2 s resources read `available: false` until it arrives),
    /// and assembles the rest from what is at hand. Sets the
    /// [`STATE_DURATION_METRIC`] gauge.
    pub async fn get_comprehensive_state(&self) -> HealthState {
        let started = Instant::now();
        // Every result is fresh (younger than the TTL, hence than the staleness bound).
        let health_checks = self.inner.run_all(Run::IfExpired).await;
        let resources = match &self.inner.resources {
            Some(sampler) => sampler.current().await,
            None => unavailable(),
        };
        let state = self.assemble(health_checks, resources);
        self.inner.sink.emit(
            STATE_DURATION_METRIC,
            started.elapsed().as_secs_f64(),
            &[],
            None,
        );
        state
    }

    /// The state from what is cached, running no check and waiting for nothing (a
    /// readiness probe needs only [`cached_summary`](Self::cached_summary)): each check's
    /// latest result, where a result older than the maximum staleness, or a check that
    /// never ran, reads `unknown`; before the first resource sample, resources read
    /// `available: false`.
    #[must_use]
    pub fn cached_state(&self) -> HealthState {
        let inner = &self.inner;
        let resources = inner
            .resources
            .as_ref()
            .map_or_else(unavailable, ResourceSampler::cached);
        let now = Instant::now();
        let health_checks = inner
            .checks
            .read()
            .iter()
            .map(|(name, entry)| (name.clone(), inner.view(name, entry, now)))
            .collect();
        self.assemble(health_checks, resources)
    }

    /// What a readiness probe needs, from what is cached and without copying any component
    /// or check result: the `system` section, counted exactly as
    /// [`cached_state`](Self::cached_state) counts it, the names of the failed components
    /// and unhealthy checks, and the status [`cached_state`](Self::cached_state) shows for
    /// each check. Runs nothing and waits for nothing.
    #[must_use]
    pub fn cached_summary(&self) -> HealthSummary {
        self.inner.summary()
    }

    /// The health of the checks `group` selects, from the cache (runs nothing); see
    /// [`GroupHealth`] for how the verdict is reached. A group that selects no check is
    /// `healthy`.
    #[must_use]
    pub fn group_health(&self, group: &HealthGroup) -> GroupHealth {
        let inner = &self.inner;
        let now = Instant::now();
        let mut health = GroupHealth {
            name: group.name().to_owned(),
            ..GroupHealth::default()
        };
        let mut degraded = false;
        for (name, entry) in inner.checks.read().iter() {
            if !group.includes(name, &entry.options.tags) {
                continue;
            }
            let (status, never_ran) = {
                let latest = entry.latest.lock();
                (inner.shown_status(latest.as_ref(), now), latest.is_none())
            };
            let critical = entry.options.is_critical();
            if critical && status == HealthCheckStatus::Unhealthy {
                health.failed.push(name.clone());
            } else if critical && never_ran {
                health.pending.push(name.clone());
            } else if status != HealthCheckStatus::Healthy {
                degraded = true;
            }
            health
                .checks
                .insert(name.clone(), GroupMember { status, critical });
        }
        health.status = if !health.failed.is_empty() {
            SystemStatus::Failed
        } else if !health.pending.is_empty() {
            SystemStatus::Unknown
        } else if degraded {
            SystemStatus::Degraded
        } else {
            SystemStatus::Healthy
        };
        health
    }

    /// Adds a listener told about every change of a check's status, including a check's
    /// first result. Changes are seen when checks run; a result going stale is a matter
    /// of reading it and is not announced.
    ///
    /// Each listener gets its changes in order, on a task of its own, each under the
    /// [listener timeout](HealthMonitorBuilder::listener_timeout); a listener that panics,
    /// hangs or falls behind (more than [`LISTENER_QUEUE_CAPACITY`] changes waiting) is
    /// logged and skipped, never slowing or breaking the monitor.
    pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) {
        self.inner.listeners.write().push(Arc::new(ListenerSlot {
            listener,
            queue: Mutex::new(None),
        }));
    }

    /// Starts a task that runs every check each `interval` (and re-samples resources), so
    /// that [`cached_state`](Self::cached_state) stays fresh. The task stops when the
    /// handle is stopped or dropped, or once every clone of the monitor is gone.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] for a zero interval, [`HealthError::NoRuntime`]
    /// outside a Tokio runtime.
    pub fn spawn_refresher(&self, interval: Duration) -> Result<RefresherHandle, HealthError> {
        positive("refresher interval", interval)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| HealthError::NoRuntime {
                operation: "HealthMonitor::spawn_refresher",
            })?;
        let monitor = Arc::downgrade(&self.inner);
        let task = runtime.spawn(refresh_every(monitor, interval));
        Ok(RefresherHandle { task })
    }

    fn assemble(
        &self,
        health_checks: BTreeMap<String, HealthCheckResult>,
        resources: ResourceHealth,
    ) -> HealthState {
        let inner = &self.inner;
        let components = inner.registry.get_all_health();
        let mut system = SystemTally::default();
        for (name, component) in &components {
            system.count(name.into(), component.status.into());
        }
        {
            let checks = inner.checks.read();
            for (name, result) in &health_checks {
                let critical = checks
                    .get(name)
                    .is_none_or(|entry| entry.options.is_critical());
                system.count(
                    counted_as(name, result).into(),
                    counted_status(result.status, critical),
                );
            }
        }

        let circuit_breaker =
            inner
                .breaker
                .as_ref()
                .map_or_else(BreakerSnapshot::default, |breaker| {
                    guarded("circuit breaker snapshot", || breaker.snapshot()).unwrap_or_default()
                });
        let total_attempts = inner.retry.as_ref().map_or(0, |retry| {
            guarded("retry tracker", || retry.total_attempts()).unwrap_or(0)
        });
        let retry = inner.failures.lock().health(Instant::now(), total_attempts);

        HealthState {
            timestamp: Timestamp::now(),
            system: system.finish(),
            circuit_breaker,
            retry,
            resources,
            components,
            health_checks,
            uptime_seconds: inner.started.elapsed().as_secs_f64(),
        }
    }
}

impl Inner {
    fn summary(&self) -> HealthSummary {
        let inner = self;
        // Both read guards live until the names borrowed from them are counted. Lock
        // order: the registry, then the checks, then one check's result at a time.
        let components = inner.registry.read();
        let checks = inner.checks.read();
        let now = Instant::now();
        let mut system = SystemTally::default();
        let mut summary = HealthSummary::default();
        for (name, component) in components.iter() {
            system.count(name.into(), component.status.into());
            if component.status == ComponentStatus::Failed {
                summary.failed_components.push(name.clone());
            }
        }
        for (name, entry) in checks.iter() {
            let (status, counted_as) = inner.current_status(name, entry, now);
            let critical = entry.options.is_critical();
            system.count(counted_as, counted_status(status, critical));
            if status == HealthCheckStatus::Unhealthy && critical {
                summary.unhealthy_checks.push(name.clone());
            }
            summary.checks.insert(name.clone(), status);
        }
        summary.system = system.finish();
        summary
    }

    /// Sets the state gauges: the overall status, each component's status and the
    /// breaker's state (one series per state, 1 for the current one).
    pub(super) fn emit_gauges(&self) {
        let summary = self.summary();
        self.sink.emit(
            SYSTEM_STATUS_METRIC,
            system_status_value(summary.system.status),
            &[],
            None,
        );
        for (name, component) in self.registry.read().iter() {
            let status: HealthCheckStatus = component.status.into();
            self.sink.emit(
                COMPONENT_STATUS_METRIC,
                health_status_value(status.as_str()),
                &[(COMPONENT_TAG, name.as_str())],
                None,
            );
        }
        if let Some(breaker) = &self.breaker
            && let Some(snapshot) = guarded("circuit breaker snapshot", || breaker.snapshot())
        {
            for state in [
                CircuitState::Closed,
                CircuitState::Open,
                CircuitState::HalfOpen,
            ] {
                self.sink.emit(
                    BREAKER_STATE_METRIC,
                    if snapshot.state == state { 1.0 } else { 0.0 },
                    &[(STATE_TAG, state.as_str())],
                    None,
                );
            }
        }
    }

    async fn run_all(&self, run: Run) -> BTreeMap<String, HealthCheckResult> {
        let entries: Vec<(String, Arc<Entry>)> = self
            .checks
            .read()
            .iter()
            .map(|(name, entry)| (name.clone(), Arc::clone(entry)))
            .collect();
        let mut runs: FuturesUnordered<_> = entries
            .into_iter()
            .map(|(name, entry)| async move {
                let result = self.run_entry(&name, &entry, run).await;
                (name, result)
            })
            .collect();
        let mut results = BTreeMap::new();
        while let Some((name, result)) = runs.next().await {
            results.insert(name, result);
        }
        results
    }

    async fn run_entry(&self, name: &str, entry: &Entry, run: Run) -> HealthCheckResult {
        let _running = entry.run.lock().await;
        if run == Run::IfExpired {
            if let Some(latest) = entry.latest.lock().as_ref()
                && latest.finished.elapsed() < self.cache_ttl
            {
                return latest.result.clone();
            }
            let now = Instant::now();
            if now < entry.first_run {
                return self.view(name, entry, now);
            }
        }
        // The semaphore is never closed; should it ever be, run unbounded rather than not.
        let _permit = self.permits.acquire().await.ok();
        let schedule = &entry.options.schedule;
        let (mut result, latency) = run_check_timed(entry.check.as_ref(), schedule.timeout).await;
        result.name.clear();
        result.name.push_str(name);
        for observer in &self.observers {
            guarded("check observer", || {
                observer.observe(name, &entry.options, &result);
            });
        }
        let observed = result.status;
        let (shown, failures, successes) = {
            let mut probe = entry.probe.lock();
            let shown = probe.observe(observed, schedule);
            (
                shown,
                probe.consecutive_failures(),
                probe.consecutive_successes(),
            )
        };
        if shown != observed {
            let (run_length, threshold) = if observed == HealthCheckStatus::Unhealthy {
                (failures, schedule.failure_threshold)
            } else {
                (successes, schedule.success_threshold)
            };
            result.message = format!(
                "{observed} {run_length} of {threshold} times in a row, still {shown}: {}",
                result.message
            );
            result.status = shown;
            result = result.with_metadata(
                "probe",
                serde_json::json!({
                    "observed": observed,
                    "consecutive_failures": failures,
                    "consecutive_successes": successes,
                    "failure_threshold": schedule.failure_threshold,
                    "success_threshold": schedule.success_threshold,
                }),
            );
        }
        self.sink
            .emit_health_check(name, result.status.as_str(), latency);
        let previous = entry
            .latest
            .lock()
            .replace(Latest {
                result: result.clone(),
                finished: Instant::now(),
            })
            .map(|latest| latest.result.status);
        if previous != Some(result.status) {
            self.notify(&StatusChange {
                check: name.to_owned(),
                previous,
                current: result.status,
                result: result.clone(),
            });
        }
        result
    }

    /// The checks whose turn has come at `now`, each rescheduled one interval (its own,
    /// else `default_interval`) from now, and when the next one is due.
    fn take_due(
        &self,
        now: Instant,
        default_interval: Duration,
    ) -> (Vec<(String, Arc<Entry>)>, Instant) {
        let mut due = Vec::new();
        let mut wake = now + default_interval;
        for (name, entry) in self.checks.read().iter() {
            let mut next = entry.next_run.lock();
            if *next <= now {
                *next = now + entry.options.schedule.interval.unwrap_or(default_interval);
                due.push((name.clone(), Arc::clone(entry)));
            }
            wake = wake.min(*next);
        }
        (due, wake)
    }

    /// Runs `entries` now, at most the concurrency limit at a time.
    async fn run_entries(&self, entries: Vec<(String, Arc<Entry>)>) {
        let mut runs: FuturesUnordered<_> = entries
            .into_iter()
            .map(|(name, entry)| async move {
                self.run_entry(&name, &entry, Run::Always).await;
            })
            .collect();
        while runs.next().await.is_some() {}
    }

    /// The result to show for `entry`: its latest, unless missing or stale.
    fn view(&self, name: &str, entry: &Entry, now: Instant) -> HealthCheckResult {
        let Some(latest) = entry.latest.lock().clone() else {
            let message = if now < entry.first_run {
                "health check is waiting for its initial delay"
            } else {
                "health check has not run yet"
            };
            return HealthCheckResult::new(name, HealthCheckStatus::Unknown).with_message(message);
        };
        if self.is_fresh(&latest, now) {
            return latest.result;
        }
        let age = now.saturating_duration_since(latest.finished);
        let last = latest.result;
        let message = format!(
            "stale: the last result ({}: {}) is {} old, more than the {} allowed",
            last.status,
            last.message,
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            humantime::format_duration(self.max_staleness)
        );
        let last_status = last.status;
        HealthCheckResult {
            status: HealthCheckStatus::Unknown,
            message,
            ..last
        }
        .with_metadata("stale", true)
        .with_metadata("last_status", last_status.as_str())
    }

    /// The status [`view`](Self::view) shows for `entry` and the name it counts under
    /// (see [`counted_as`]), without copying the result.
    fn current_status<'a>(
        &self,
        name: &'a str,
        entry: &Entry,
        now: Instant,
    ) -> (HealthCheckStatus, Cow<'a, str>) {
        let latest = entry.latest.lock();
        let status = self.shown_status(latest.as_ref(), now);
        let Some(latest) = latest.as_ref() else {
            return (status, Cow::Borrowed(name));
        };
        let counted_as = match counted_as(name, &latest.result) {
            same if same == name => Cow::Borrowed(name),
            other => Cow::Owned(other.to_owned()),
        };
        (status, counted_as)
    }

    /// The status [`view`](Self::view) shows for a check whose latest result is `latest`.
    fn shown_status(&self, latest: Option<&Latest>, now: Instant) -> HealthCheckStatus {
        match latest {
            Some(latest) if self.is_fresh(latest, now) => latest.result.status,
            _ => HealthCheckStatus::Unknown,
        }
    }

    /// Whether `latest` is young enough to be shown; older, it reads `unknown`.
    fn is_fresh(&self, latest: &Latest, now: Instant) -> bool {
        now.saturating_duration_since(latest.finished) <= self.max_staleness
    }
}

impl fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthMonitor")
            .field("checks", &self.check_names())
            .field("components", &self.inner.registry.len())
            .field("circuit_breaker", &self.inner.breaker.is_some())
            .field("retry_tracker", &self.inner.retry.is_some())
            .field("metrics_sink", &self.inner.sink)
            .field("failure_window", &self.inner.failure_window)
            .field("cache_ttl", &self.inner.cache_ttl)
            .field("max_staleness", &self.inner.max_staleness)
            .field("resources", &self.inner.resources)
            .finish_non_exhaustive()
    }
}

/// Calls user code that should not panic, logging and returning `None` if it does.
#[allow(
    clippy::disallowed_methods,
    reason = "isolates a synchronous user call (a breaker snapshot, a retry count); futures use FutureExt::catch_unwind"
)]
fn guarded<T>(what: &str, call: impl FnOnce() -> T) -> Option<T> {
    match panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(value) => Some(value),
        Err(panic) => {
            tracing::error!(message = %panic_message(panic.as_ref()), "{what} panicked");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        // `HealthMonitor::new` skips validation on the strength of this.
        assert!(HealthMonitorBuilder::default().build().is_ok());
    }

    #[cfg(any(feature = "resources", feature = "disk"))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_resource_probe_neither_stops_the_refresher_nor_hangs_state_reads() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use crate::checks::{CheckOutcome, check_fn};

        let monitor = HealthMonitor::builder().build().unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        monitor.register_check(check_fn("db", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(CheckOutcome::healthy("ok")) }
        }));
        let sampler = monitor.inner.resources.clone().unwrap();
        let stall = sampler.stall_probe_for(Duration::from_secs(3));

        // The first state read waits a bounded time for a first sample, then reports
        // resources as unavailable rather than hanging with the probe.
        let state = tokio::time::timeout(Duration::from_secs(3), monitor.get_comprehensive_state())
            .await
            .expect("the state read hung on the resource probe");
        assert!(!state.resources.available);
        assert_eq!(state.health_checks["db"].status, HealthCheckStatus::Healthy);

        // The refresher keeps the checks fresh meanwhile.
        let refresher = monitor.spawn_refresher(Duration::from_millis(20)).unwrap();
        let before = runs.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let during = runs.load(Ordering::SeqCst) - before;
        assert!(
            during >= 5,
            "only {during} refreshes while the probe was stuck"
        );
        refresher.stop().await;

        tokio::task::spawn_blocking(move || stall.join().unwrap())
            .await
            .unwrap();
        let state = monitor.get_comprehensive_state().await;
        assert!(
            state.resources.available,
            "sampling resumes once the probe returns"
        );
    }
}
