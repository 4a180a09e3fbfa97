//! [`ResilienceState`]: the libraries every route reads, built once and shared, its
//! builder, and the defaults of its settings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
#[cfg(feature = "alerts")]
use axum::http::HeaderName;
use fallback::FallbackManager;
use health::CircuitBreaker;
#[cfg(feature = "alerts")]
use health::alerts::{AlertBook, AlertLimits};
use health::groups::HealthGroup;
use health::model::{GroupHealth, HealthSummary};
use health::monitor::{HealthMonitorBuilder, StatusChange, StatusListener};
use health::retry::RetryTracker;
use health::{HealthCheckResult, HealthCheckStatus, HealthMonitor};
#[cfg(feature = "prometheus")]
use health_sinks::PrometheusMetricsSink;
use storage::Storage;

use crate::auth::Secret;
use crate::cache::Cached;
use crate::error::WebError;
use crate::telemetry::{RequestMetrics, TelemetryLayer};

/// The default header a webhook's shared secret is read from (besides `Authorization:
/// Bearer`).
#[cfg(feature = "alerts")]
pub const DEFAULT_WEBHOOK_HEADER: &str = "x-webhook-secret";

/// The default largest request body the routes read, in bytes: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The default [`ResilienceStateBuilder::storage_write_timeout`]: 2 s, the fallback
/// manager's default bound on a transition record's write.
pub const DEFAULT_STORAGE_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The default [`ResilienceStateBuilder::cache_max_age`]: 1 s.
///
/// The monitor refreshes its checks every few seconds (5 s in the server) and probes
/// come every few seconds more; a second more on a change that did not come through
/// the routes goes unnoticed, while a service under load renders `/health/state` and
/// `/metrics` once a second instead of once a request.
pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(1);

/// The libraries the routes read, built once per process and shared: one storage, one
/// health monitor, one fallback manager, so every route reads the same mode. Clones
/// share them.
///
/// The same instances are yours to use directly ([`storage`](Self::storage),
/// [`monitor`](Self::monitor), [`manager`](Self::manager)): register checks, mark
/// components, cascade on your own schedule.
#[derive(Clone)]
pub struct ResilienceState {
    pub(crate) shared: Arc<Shared>,
}

/// What the routes hold: the state's fields.
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    /// The name of the storage check, whose cached result says whether storage answers.
    pub(crate) storage_check: Option<String>,
    #[cfg(feature = "prometheus")]
    pub(crate) prometheus: PrometheusMetricsSink,
    pub(crate) monitor: HealthMonitor,
    pub(crate) fallback: Arc<FallbackManager>,
    /// The breaker the layer records calls into; the monitor reports it.
    pub(crate) breaker: CircuitBreaker,
    /// The attempts the layer counts; the monitor reports them.
    pub(crate) retries: RetryTracker,
    pub(crate) auth: Auth,
    pub(crate) max_body_bytes: usize,
    pub(crate) access_log: bool,
    /// Set when shutdown starts: readiness fails first, so balancers stop sending.
    pub(crate) shutting_down: AtomicBool,
    /// The request counters of the routes.
    pub(crate) requests: RequestMetrics,
    /// Answers kept between requests.
    pub(crate) views: Views,
    /// How long a kept answer may serve when nothing the routes know of changed.
    pub(crate) cache_max_age: Duration,
    /// Set, for good, once start-up has completed: every start-up check passed once and
    /// every critical readiness check produced a result.
    pub(crate) started: AtomicBool,
    /// The three probe groups, built once.
    pub(crate) probes: Probes,
    /// The named groups of `/health/group/{name}`.
    pub(crate) groups: Vec<HealthGroup>,
    /// Who sees check messages, metadata and alert texts.
    pub(crate) show_details: ShowDetails,
    /// Alert webhooks, within bounds.
    #[cfg(feature = "alerts")]
    pub(crate) alerts: AlertBook,
    /// How long a route waits for a storage write before answering 503.
    #[cfg_attr(
        not(feature = "alerts"),
        allow(
            dead_code,
            reason = "the route that writes storage itself is an `alerts` route"
        )
    )]
    pub(crate) storage_write_timeout: Duration,
}

/// Answers kept between requests, each made again when its key changes or it is older
/// than the state's `cache_max_age`.
#[derive(Debug, Default)]
pub(crate) struct Views {
    /// Bumped by every route that changes what the answers show (a mode set, alerts
    /// ingested, a cascade run), by every change of a check's status (a listener on the
    /// monitor) and by [`ResilienceState::invalidate_cache`].
    pub(crate) generation: Arc<AtomicU64>,
    /// The monitor's summary, as the storage section reads it.
    pub(crate) summary: Cached<u64, Arc<HealthSummary>>,
    /// The liveness group's health, as `/health/live` reads it.
    pub(crate) liveness: Cached<u64, Arc<GroupHealth>>,
    /// The readiness group's health, as `/health/ready` reads it.
    pub(crate) readiness: Cached<u64, Arc<GroupHealth>>,
    /// The `/health/state` body with details shown, and with them hidden, keyed by the
    /// generation and the transitions made.
    pub(crate) state_shown: Cached<(u64, u64), Bytes>,
    pub(crate) state_hidden: Cached<(u64, u64), Bytes>,
    /// The `/metrics` body, keyed by the sink's rendering it starts with.
    #[cfg(feature = "prometheus")]
    pub(crate) metrics: Cached<SameText, Bytes>,
}

/// Makes the kept answers out of date whenever a check's status changes: told after the
/// monitor stored the result, so an answer made after the bump shows it.
struct InvalidateOnChange(Arc<AtomicU64>);

#[async_trait::async_trait]
impl StatusListener for InvalidateOnChange {
    async fn on_status_change(&self, _change: &StatusChange) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A sink rendering compared by identity: the sink hands out the same `Arc` until
/// something is emitted.
#[cfg(feature = "prometheus")]
#[derive(Debug, Clone)]
pub(crate) struct SameText(pub(crate) Arc<str>);

#[cfg(feature = "prometheus")]
impl PartialEq for SameText {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The liveness, readiness and start-up groups (`health::groups`' defaults, by tag).
#[derive(Debug)]
pub(crate) struct Probes {
    pub(crate) liveness: HealthGroup,
    pub(crate) readiness: HealthGroup,
    pub(crate) startup: HealthGroup,
}

/// Who sees check messages and metadata (URLs, paths, status codes) and alert texts in
/// `/health/state`, `/health/checks` and the group routes, as Spring Boot's
/// `show-details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShowDetails {
    /// Nobody.
    Never,
    /// Callers with the admin token (the default).
    #[default]
    WhenAuthorized,
    /// Everybody.
    Always,
}

/// The credentials the routes check.
pub(crate) struct Auth {
    /// The admin token; without one, admin routes refuse every call.
    pub(crate) admin: Option<Secret>,
    /// The shared secret of each provider (as `health::alerts::PROVIDERS` names it).
    #[cfg(feature = "alerts")]
    webhook_secrets: Vec<(&'static str, Secret)>,
    #[cfg(feature = "alerts")]
    pub(crate) webhook_header: HeaderName,
}

#[cfg(feature = "alerts")]
impl Auth {
    /// The shared secret of `provider` (one of `health::PROVIDERS`, as its adapter names
    /// it).
    pub(crate) fn webhook_secret(&self, provider: &str) -> Option<&Secret> {
        self.webhook_secrets
            .iter()
            .find(|(name, _)| *name == provider)
            .map(|(_, secret)| secret)
    }
}

impl Shared {
    /// The storage check's status: from `snapshot` when the caller already holds the
    /// check results (so one response never disagrees with itself), else from the kept
    /// summary.
    pub(crate) fn storage_check_status(
        &self,
        snapshot: Option<&BTreeMap<String, HealthCheckResult>>,
    ) -> Option<HealthCheckStatus> {
        let name = self.storage_check.as_deref()?;
        match snapshot {
            Some(results) => results.get(name).map(|result| result.status),
            None => self.summary().checks.get(name).copied(),
        }
    }

    /// The monitor's [`cached_summary`](HealthMonitor::cached_summary), made at most
    /// once per `cache_max_age` unless a route changed something meanwhile.
    pub(crate) fn summary(&self) -> Arc<HealthSummary> {
        self.views
            .summary
            .get(self.generation(), self.cache_max_age, || {
                Arc::new(self.monitor.cached_summary())
            })
    }

    /// The layer that counts, times and logs the calls of `route`.
    pub(crate) fn telemetry(&self, route: &str) -> TelemetryLayer {
        TelemetryLayer {
            stats: self.requests.route(route),
            access_log: self.access_log,
        }
    }

    /// The liveness group's health, made at most once per `cache_max_age` unless a
    /// route changed something meanwhile.
    pub(crate) fn liveness(&self) -> Arc<GroupHealth> {
        self.views
            .liveness
            .get(self.generation(), self.cache_max_age, || {
                Arc::new(self.monitor.group_health(&self.probes.liveness))
            })
    }

    /// The readiness group's health, kept as [`liveness`](Self::liveness).
    pub(crate) fn readiness(&self) -> Arc<GroupHealth> {
        self.views
            .readiness
            .get(self.generation(), self.cache_max_age, || {
                Arc::new(self.monitor.group_health(&self.probes.readiness))
            })
    }

    /// Whether start-up has completed: every start-up check passed once and every
    /// critical readiness check has produced a result. Once true, true for good (and
    /// then one atomic load).
    pub(crate) fn startup_complete(&self) -> bool {
        if self.started.load(Ordering::Relaxed) {
            return true;
        }
        let startup = self.monitor.group_health(&self.probes.startup);
        let readiness = self.monitor.group_health(&self.probes.readiness);
        let complete = startup.is_up() && readiness.pending.is_empty();
        if complete && !self.started.swap(true, Ordering::Relaxed) {
            tracing::info!("start-up complete: readiness now follows the readiness checks");
        }
        complete
    }

    /// The current generation of the kept answers.
    pub(crate) fn generation(&self) -> u64 {
        self.views.generation.load(Ordering::Acquire)
    }

    /// Makes every kept answer out of date: called after a change.
    pub(crate) fn invalidate(&self) {
        self.views.generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl ResilienceState {
    /// Starts building a state on `storage`.
    pub fn builder(storage: Arc<dyn Storage>) -> ResilienceStateBuilder {
        ResilienceStateBuilder {
            storage,
            monitor: HealthMonitor::builder(),
            breaker: CircuitBreaker::default(),
            retries: RetryTracker::new(),
            manager: None,
            #[cfg(feature = "prometheus")]
            prometheus: None,
            storage_check: None,
            admin: None,
            #[cfg(feature = "alerts")]
            webhook_secrets: Vec::new(),
            #[cfg(feature = "alerts")]
            webhook_header: HeaderName::from_static(DEFAULT_WEBHOOK_HEADER),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            access_log: false,
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            storage_write_timeout: DEFAULT_STORAGE_WRITE_TIMEOUT,
            groups: Vec::new(),
            show_details: ShowDetails::default(),
            #[cfg(feature = "alerts")]
            alert_limits: AlertLimits::default(),
        }
    }

    /// The storage.
    #[must_use]
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.shared.storage
    }

    /// The health monitor.
    #[must_use]
    pub fn monitor(&self) -> &HealthMonitor {
        &self.shared.monitor
    }

    /// The circuit breaker the [`ResilienceLayer`](crate::layer::ResilienceLayer) records
    /// calls into and the monitor reports (so an open breaker sends the cascade to
    /// HEURISTIC). Yours to record into as well, from any other client.
    #[must_use]
    pub fn circuit_breaker(&self) -> &CircuitBreaker {
        &self.shared.breaker
    }

    /// The retry tracker the monitor reports as `retry.total_attempts`: the
    /// [`ResilienceLayer`](crate::layer::ResilienceLayer) counts one attempt per failed
    /// call (one its client will have to retry); your retry code may count its own.
    #[must_use]
    pub fn retry_tracker(&self) -> &RetryTracker {
        &self.shared.retries
    }

    /// The fallback manager.
    #[must_use]
    pub fn manager(&self) -> &Arc<FallbackManager> {
        &self.shared.fallback
    }

    /// The Prometheus sink `/metrics` renders (feature `prometheus`).
    #[cfg(feature = "prometheus")]
    #[must_use]
    pub fn prometheus(&self) -> &PrometheusMetricsSink {
        &self.shared.prometheus
    }

    /// Marks the service as shutting down: readiness answers 503 from now on, so load
    /// balancers stop sending while in-flight requests finish.
    pub fn begin_shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Relaxed)
    }

    /// Makes the routes' kept answers (`/health/state`, readiness's view of the checks
    /// and components, `/metrics`) out of date at once. Changes made through the routes
    /// do this themselves, and anything else shows within the
    /// [cache max age](ResilienceStateBuilder::cache_max_age); call it after changing the
    /// monitor or the components directly when the next answer must show it.
    pub fn invalidate_cache(&self) {
        self.shared.invalidate();
    }
}

impl fmt::Debug for ResilienceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceState")
            .field("storage", &self.shared.storage.backend())
            .field("mode", &self.shared.fallback.get_current_mode())
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

/// Builds a [`ResilienceState`]; start from [`ResilienceState::builder`].
#[must_use]
pub struct ResilienceStateBuilder {
    storage: Arc<dyn Storage>,
    monitor: HealthMonitorBuilder,
    breaker: CircuitBreaker,
    retries: RetryTracker,
    manager: Option<Arc<FallbackManager>>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<PrometheusMetricsSink>,
    storage_check: Option<String>,
    admin: Option<Secret>,
    #[cfg(feature = "alerts")]
    webhook_secrets: Vec<(String, Secret)>,
    #[cfg(feature = "alerts")]
    webhook_header: HeaderName,
    max_body_bytes: usize,
    access_log: bool,
    cache_max_age: Duration,
    storage_write_timeout: Duration,
    groups: Vec<HealthGroup>,
    show_details: ShowDetails,
    #[cfg(feature = "alerts")]
    alert_limits: AlertLimits,
}

impl ResilienceStateBuilder {
    /// The health monitor's settings (default: [`HealthMonitor::builder`]). The state
    /// builds it with its [circuit breaker](Self::circuit_breaker) and
    /// [retry tracker](Self::retry_tracker), replacing any the settings name, so what the
    /// layer records is what the monitor reports and the cascade sees.
    pub fn monitor(mut self, monitor: HealthMonitorBuilder) -> Self {
        self.monitor = monitor;
        self
    }

    /// The circuit breaker (default: [`CircuitBreaker::default`]: opens after 5 failures
    /// in a row, tries again after 30 s).
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = breaker;
        self
    }

    /// The retry tracker (default: a new one).
    pub fn retry_tracker(mut self, retries: RetryTracker) -> Self {
        self.retries = retries;
        self
    }

    /// The fallback manager (default: [`FallbackManager::new`] on the state's storage).
    pub fn manager(mut self, manager: Arc<FallbackManager>) -> Self {
        self.manager = Some(manager);
        self
    }

    /// The Prometheus sink `/metrics` renders (default: a new, empty one; feature
    /// `prometheus`). Give the same sink (or a fan-out holding it) to the monitor and the
    /// manager.
    #[cfg(feature = "prometheus")]
    pub fn prometheus(mut self, sink: PrometheusMetricsSink) -> Self {
        self.prometheus = Some(sink);
        self
    }

    /// The name of the check that probes the storage: the routes' `storage` section
    /// reports `degraded` while it is not healthy.
    pub fn storage_check(mut self, name: impl Into<String>) -> Self {
        self.storage_check = Some(name.into());
        self
    }

    /// The bearer token of the admin routes. Without one, they refuse every call.
    pub fn admin_token(mut self, token: Secret) -> Self {
        self.admin = Some(token);
        self
    }

    /// The shared secret of a webhook provider (`datadog`, `newrelic`). A provider
    /// without one refuses every call (feature `alerts`).
    #[cfg(feature = "alerts")]
    pub fn webhook_secret(mut self, provider: &str, secret: Secret) -> Self {
        self.webhook_secrets.push((provider.to_owned(), secret));
        self
    }

    /// The header a webhook's shared secret is read from (default
    /// [`DEFAULT_WEBHOOK_HEADER`]); `Authorization: Bearer` is accepted too (feature
    /// `alerts`).
    #[cfg(feature = "alerts")]
    pub fn webhook_header(mut self, header: HeaderName) -> Self {
        self.webhook_header = header;
        self
    }

    /// The largest request body read (default [`DEFAULT_MAX_BODY_BYTES`]); a larger one
    /// gets 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Whether every request is logged at `info` when it completes (default: at `debug`).
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.access_log = enabled;
        self
    }

    /// Adds a named group, served at `/health/group/{name}` (a later group of the same
    /// name replaces it).
    pub fn group(mut self, group: HealthGroup) -> Self {
        self.groups.retain(|known| known.name() != group.name());
        self.groups.push(group);
        self
    }

    /// Who sees check messages and metadata and alert texts (default
    /// [`ShowDetails::WhenAuthorized`]: callers with the admin token).
    pub fn show_details(mut self, show: ShowDetails) -> Self {
        self.show_details = show;
        self
    }

    /// The bounds on what alert webhooks may create: quiet time before an alert's
    /// component expires, how many components alerts may create (default
    /// `AlertLimits::default()`; feature `alerts`).
    #[cfg(feature = "alerts")]
    pub fn alert_limits(mut self, limits: AlertLimits) -> Self {
        self.alert_limits = limits;
        self
    }

    /// How long a route that writes to storage itself (`POST /monitoring/register`)
    /// waits for the write before answering 503 `storage_unavailable` (default
    /// [`DEFAULT_STORAGE_WRITE_TIMEOUT`]), rather than the storage adapter's whole retry
    /// budget. Routes that change the mode write through the fallback manager, whose
    /// [`persist_timeout`](fallback::FallbackManagerBuilder::persist_timeout) bounds them
    /// (give it the same value), and never wait for storage to change the mode.
    pub fn storage_write_timeout(mut self, timeout: Duration) -> Self {
        self.storage_write_timeout = timeout;
        self
    }

    /// How long the routes may serve a kept answer when nothing they know of changed
    /// (default [`DEFAULT_CACHE_MAX_AGE`]): `/health/state`'s body, the liveness and
    /// readiness groups' health as the probes read it, and the request counters in
    /// `/metrics`. The mode, the operator's hold, shutdown, every change of a check's
    /// status and every change made through the routes show at once; what changes
    /// without notice (a result going stale, a check's message, resource use, the
    /// breaker's open time, components marked by your own code unless you call
    /// [`ResilienceState::invalidate_cache`]) shows within this age; the rest of
    /// `/metrics` is always current. Zero makes every request render anew.
    pub fn cache_max_age(mut self, max_age: Duration) -> Self {
        self.cache_max_age = max_age;
        self
    }

    /// The state.
    ///
    /// # Errors
    ///
    /// `WebError::UnknownProvider` for a webhook secret of a provider no adapter
    /// serves, [`WebError::Monitor`] for invalid monitor settings.
    pub fn build(self) -> Result<ResilienceState, WebError> {
        let monitor = self
            .monitor
            .circuit_breaker(Arc::new(self.breaker.clone()))
            .retry_tracker(Arc::new(self.retries.clone()))
            .build()
            .map_err(|source| WebError::Monitor { source })?;
        let views = Views::default();
        monitor.add_status_listener(Arc::new(InvalidateOnChange(Arc::clone(&views.generation))));
        #[cfg(feature = "alerts")]
        let alerts = AlertBook::new(monitor.registry().clone(), self.alert_limits)
            .map_err(|source| WebError::AlertLimits { source })?
            .with_metrics_sink(monitor.metrics_sink().clone());
        #[cfg(feature = "alerts")]
        let webhook_secrets = self
            .webhook_secrets
            .into_iter()
            .map(|(provider, secret)| {
                health::alerts::adapter_for(provider.trim())
                    .map(|adapter| (adapter.provider(), secret))
                    .ok_or(WebError::UnknownProvider { provider })
            })
            .collect::<Result<_, _>>()?;
        let manager = self
            .manager
            .unwrap_or_else(|| Arc::new(FallbackManager::new(self.storage.clone())));
        Ok(ResilienceState {
            shared: Arc::new(Shared {
                storage: self.storage,
                storage_check: self.storage_check,
                #[cfg(feature = "prometheus")]
                prometheus: self.prometheus.unwrap_or_default(),
                monitor,
                fallback: manager,
                breaker: self.breaker,
                retries: self.retries,
                auth: Auth {
                    admin: self.admin,
                    #[cfg(feature = "alerts")]
                    webhook_secrets,
                    #[cfg(feature = "alerts")]
                    webhook_header: self.webhook_header,
                },
                max_body_bytes: self.max_body_bytes,
                access_log: self.access_log,
                shutting_down: AtomicBool::new(false),
                requests: RequestMetrics::default(),
                views,
                cache_max_age: self.cache_max_age,
                storage_write_timeout: self.storage_write_timeout,
                started: AtomicBool::new(false),
                probes: Probes {
                    liveness: HealthGroup::liveness(),
                    readiness: HealthGroup::readiness(),
                    startup: HealthGroup::startup(),
                },
                groups: self.groups,
                show_details: self.show_details,
                #[cfg(feature = "alerts")]
                alerts,
            }),
        })
    }
}

impl fmt::Debug for ResilienceStateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceStateBuilder")
            .field("storage", &self.storage.backend())
            .field("storage_check", &self.storage_check)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}
