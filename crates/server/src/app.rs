//! Building the one process-wide set of libraries from a configuration, and the
//! background tasks that keep it current.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};
use std::task::{self, Poll};
use std::time::Duration;

use axum::http::HeaderName;
use condition::Context;
use fallback::{BoxError, FallbackManager, FallbackMode, Hysteresis, ThresholdPolicy};
use health::{
    DiskSpaceCheck, DownstreamServiceCheck, HealthCheck, HealthCheckResult, HealthCheckStatus,
    HealthMonitor, RefresherHandle, StorageHealthCheck,
};
use health_sinks::{
    DogStatsdMetricsSink, FanoutMetricsSink, LoggingMetricsSink, MetricsSink, PrometheusMetricsSink,
};
use serde_json::Value;
use storage::{MemoryStorage, Storage};
use storage_redis::RedisAdapter;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::auth::Secret;
use crate::config::{Config, FallbackRule, StorageBackend};
use crate::error::ServerError;
use crate::telemetry::{REQUEST_DURATION_METRIC, REQUESTS_METRIC};

/// The libraries, built once per process and shared by every route: one storage, one
/// health monitor, one fallback manager, so every endpoint reads the same mode.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) storage: Arc<dyn Storage>,
    /// The name of the storage check, whose cached result says whether storage answers.
    pub(crate) storage_check: Option<String>,
    pub(crate) prometheus: PrometheusMetricsSink,
    pub(crate) dogstatsd: Option<DogStatsdMetricsSink>,
    pub(crate) monitor: HealthMonitor,
    pub(crate) fallback: Arc<FallbackManager>,
    pub(crate) auth: Auth,
    pub(crate) max_body_bytes: usize,
    pub(crate) access_log: bool,
    /// Set when shutdown starts: readiness fails first, so balancers stop sending.
    pub(crate) shutting_down: AtomicBool,
}

/// The credentials the routes check.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) admin: Secret,
    /// The shared secret of each of `health::PROVIDERS`.
    webhook_secrets: Vec<(&'static str, Secret)>,
    pub(crate) webhook_header: HeaderName,
}

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

/// The metrics sinks a configuration asks for.
pub(crate) struct Sinks {
    pub(crate) prometheus: PrometheusMetricsSink,
    pub(crate) dogstatsd: Option<DogStatsdMetricsSink>,
    pub(crate) all: Arc<dyn MetricsSink>,
}

pub(crate) fn build_sinks(config: &Config) -> Result<Sinks, ServerError> {
    let mut prometheus = PrometheusMetricsSink::builder()
        .describe(
            REQUESTS_METRIC,
            "HTTP requests served, by route pattern, method and status",
        )
        .describe(
            REQUEST_DURATION_METRIC,
            "HTTP request latency in seconds, by route pattern",
        );
    for (name, help) in fallback::METRIC_DESCRIPTIONS
        .iter()
        .chain(health::METRIC_DESCRIPTIONS)
    {
        prometheus = prometheus.describe(name, help);
    }
    let prometheus = prometheus
        .build()
        .map_err(|error| ServerError::startup("the prometheus sink", error))?;
    let mut all = FanoutMetricsSink::default().with(prometheus.clone());
    if config.sinks.logging {
        all = all.with(LoggingMetricsSink::default());
    }
    let dogstatsd = match &config.sinks.dogstatsd {
        None => None,
        Some(section) => {
            let mut builder = DogStatsdMetricsSink::builder()
                .address(&section.address)
                .prefix(&section.prefix);
            for (key, value) in &section.tags {
                builder = builder.constant_tag(key, value);
            }
            if let Some(interval) = section.flush_interval {
                builder = builder.buffered(interval);
            }
            let sink = builder
                .build()
                .map_err(|error| ServerError::config("sinks.dogstatsd", error.to_string()))?;
            all = all.with(sink.clone());
            Some(sink)
        }
    };
    Ok(Sinks {
        prometheus,
        dogstatsd,
        all: Arc::new(all),
    })
}

/// The storage backend of a configuration, not yet connected.
pub(crate) fn build_storage(config: &Config) -> Result<Arc<dyn Storage>, ServerError> {
    Ok(match &config.storage.backend {
        StorageBackend::Memory => Arc::new(MemoryStorage::new()),
        StorageBackend::Redis(redis) => Arc::new(
            RedisAdapter::from_config((**redis).clone())
                .map_err(|error| ServerError::config("storage", error.to_string()))?,
        ),
    })
}

/// The health checks of a configuration.
pub(crate) fn build_checks(
    config: &Config,
    storage: &Arc<dyn Storage>,
) -> Result<Vec<Arc<dyn HealthCheck>>, ServerError> {
    let mut checks: Vec<Arc<dyn HealthCheck>> = Vec::new();
    for (index, disk) in config.checks.disk.iter().enumerate() {
        let check = DiskSpaceCheck::new(disk.path.clone())
            .with_name(disk.check_name())
            .with_timeout(disk.timeout)
            .with_thresholds(disk.warning_percent, disk.critical_percent)
            .map_err(|error| {
                ServerError::config(format!("checks.disk[{index}]"), error.to_string())
            })?;
        checks.push(Arc::new(check));
    }
    let storage_check = &config.checks.storage;
    if storage_check.enabled {
        checks.push(Arc::new(
            StorageHealthCheck::new(storage.clone())
                .with_name(storage_check.name.clone())
                .with_timeout(storage_check.timeout),
        ));
    }
    for (index, http) in config.checks.http.iter().enumerate() {
        let check = DownstreamServiceCheck::new(http.url.clone())
            .map_err(|error| {
                ServerError::config(format!("checks.http[{index}].url"), error.to_string())
            })?
            .with_name(http.name.clone())
            .with_timeout(http.timeout)
            .with_expected_status(http.expected_status);
        checks.push(Arc::new(check));
    }
    Ok(checks)
}

fn build_monitor(
    config: &Config,
    sink: Arc<dyn MetricsSink>,
) -> Result<HealthMonitor, ServerError> {
    let refresh = config.monitor.refresh_interval;
    // A result missing three refreshes in a row reads `unknown`; never less than the
    // library's default of a minute.
    let staleness = refresh.saturating_mul(3).max(health::DEFAULT_MAX_STALENESS);
    HealthMonitor::builder()
        .metrics_sink(sink)
        .resources(config.monitor.resource_config()?)
        .max_staleness(staleness)
        .build()
        .map_err(|error| ServerError::config("monitor", error.to_string()))
}

fn build_fallback(
    config: &Config,
    storage: Arc<dyn Storage>,
    sink: Arc<dyn MetricsSink>,
) -> FallbackManager {
    let cascade = &config.cascade;
    let mut policy = ThresholdPolicy::default();
    policy.safe_failed_components = cascade.safe_failed_components;
    policy.safe_on_critical_resources = cascade.safe_on_critical_resources;
    policy.heuristic_on_open_circuit = cascade.heuristic_on_open_circuit;
    policy.heuristic_retry_failures = cascade.heuristic_retry_failures;
    let mut builder = FallbackManager::builder(storage)
        .policy(policy)
        .max_log_entries(cascade.max_log_entries)
        .record_ttl(cascade.record_ttl)
        .metrics_sink(sink);
    if let Some(hysteresis) = &cascade.hysteresis {
        builder = builder.hysteresis(
            Hysteresis::new()
                .min_dwell(hysteresis.min_dwell)
                .recovery_evaluations(hysteresis.recovery_evaluations)
                .stepwise(hysteresis.stepwise),
        );
    }
    builder.build()
}

/// Registers a configured rule: when its condition holds for a context posted to
/// `/fallback/evaluate`, it is logged and, if the rule names a mode, that mode is set,
/// unless an operator holds the mode (a rule never undoes an operator).
///
/// A storage outage does not stop start-up: the manager keeps the rule pending until
/// storage takes its definition (the cascade loop's `flush_pending`).
async fn register_rule(
    manager: &Arc<FallbackManager>,
    index: usize,
    rule: &FallbackRule,
) -> Result<(), ServerError> {
    let target = rule.mode;
    let weak: Weak<FallbackManager> = Arc::downgrade(manager);
    let name = rule.name.clone();
    let action = move |_context: Context| {
        let weak = weak.clone();
        let name = name.clone();
        async move {
            tracing::info!(fallback = %name, mode = ?target.map(FallbackMode::as_str), "fallback rule fired");
            if let (Some(mode), Some(manager)) = (target, weak.upgrade()) {
                manager
                    .set_mode_unless_held(mode)
                    .await
                    .map_err(|error| -> BoxError { Box::new(error) })?;
            }
            Ok(())
        }
    };
    let metadata = Value::Object(rule.metadata.clone());
    match manager
        .register_fallback_or_queue(&rule.name, &rule.condition, action, metadata)
        .await
    {
        // Active, or pending until storage takes it (the manager logged why).
        Ok(_) => Ok(()),
        Err(
            error @ (fallback::Error::InvalidCondition { .. }
            | fallback::Error::InvalidMetadata { .. }),
        ) => Err(ServerError::config(
            format!("fallbacks[{index}]"),
            error_chain(&error),
        )),
        Err(other) => Err(ServerError::startup(
            format!("fallback rule {:?}", rule.name),
            error_chain(&other),
        )),
    }
}

/// An error and its causes, `: `-separated.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Everything `--check-config` can verify without binding a port or reaching a server:
/// the sinks build (DogStatsD address resolved), the storage adapter and the checks can
/// be created. Returns a one-paragraph summary.
pub(crate) fn check_config(config: &Config) -> Result<String, ServerError> {
    let sinks = build_sinks(config)?;
    let storage = build_storage(config)?;
    let checks = build_checks(config, &storage)?;
    let names: Vec<&str> = checks.iter().map(|check| check.name()).collect();
    let mut sink_names = vec!["prometheus"];
    if config.sinks.logging {
        sink_names.push("logging");
    }
    if sinks.dogstatsd.is_some() {
        sink_names.push("dogstatsd");
    }
    Ok(format!(
        "configuration ok: listen {}, storage {}, checks [{}], cascade every {}, {} fallback rule(s), sinks [{}]",
        config.server.listen,
        storage_description(config),
        names.join(", "),
        humantime::format_duration(config.cascade.interval),
        config.fallbacks.len(),
        sink_names.join(", "),
    ))
}

/// The backend with its redacted address, safe to print.
pub(crate) fn storage_description(config: &Config) -> String {
    match &config.storage.backend {
        StorageBackend::Memory => "memory".to_owned(),
        StorageBackend::Redis(redis) => format!("redis at {}", redis.redacted_url()),
    }
}

/// The tasks that run beside the routes; dropped, they stop (a [`Server`](crate::Server)
/// started and never served must not leave the cascade loop holding the [`App`]).
#[derive(Debug)]
pub(crate) struct Background {
    refresher: RefresherHandle,
    cascade: AbortOnDrop,
}

/// A task aborted when its handle is dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl App {
    /// Builds every library from `config` (with every secret set), runs the checks and
    /// one cascade so the first answers are real, and starts the background tasks.
    pub(crate) async fn start(config: &Config) -> Result<(Arc<Self>, Background), ServerError> {
        let secret = |secret: Option<&Secret>, key: &str| {
            secret
                .cloned()
                .ok_or_else(|| ServerError::config(key, "must be set before the server starts"))
        };
        let auth = Auth {
            admin: secret(config.auth.admin_token.as_ref(), "auth.admin_token")?,
            webhook_secrets: health::PROVIDERS
                .iter()
                .map(|&provider| {
                    let key = format!("auth.webhook_secrets.{provider}");
                    Ok((
                        provider,
                        secret(config.auth.webhook_secrets.get(provider), &key)?,
                    ))
                })
                .collect::<Result<_, ServerError>>()?,
            webhook_header: HeaderName::from_bytes(
                config.auth.webhook_header.to_ascii_lowercase().as_bytes(),
            )
            .map_err(|error| ServerError::config("auth.webhook_header", error.to_string()))?,
        };
        let sinks = build_sinks(config)?;
        let storage = build_storage(config)?;
        if let Err(error) = storage.connect().await {
            // Not fatal: the storage check reports it, transitions wait in the queue, and
            // the adapter reconnects when the server is back.
            tracing::warn!(
                storage = %storage_description(config),
                error = %error_chain(&error),
                "storage is unreachable at start-up; serving from memory until it answers"
            );
        }
        let monitor = build_monitor(config, sinks.all.clone())?;
        for check in build_checks(config, &storage)? {
            monitor.register_shared_check(check);
        }
        let fallback = Arc::new(build_fallback(config, storage.clone(), sinks.all.clone()));
        for (index, rule) in config.fallbacks.iter().enumerate() {
            register_rule(&fallback, index, rule).await?;
        }

        fallback
            .cascade(&monitor.get_comprehensive_state().await)
            .await;

        let app = Arc::new(Self {
            storage,
            storage_check: config
                .checks
                .storage
                .enabled
                .then(|| config.checks.storage.name.clone()),
            prometheus: sinks.prometheus,
            dogstatsd: sinks.dogstatsd,
            monitor,
            fallback,
            auth,
            max_body_bytes: config.server.max_body_bytes,
            access_log: config.log.access_log,
            shutting_down: AtomicBool::new(false),
        });
        let refresher = app
            .monitor
            .spawn_refresher(config.monitor.refresh_interval)
            .map_err(|error| ServerError::startup("the health refresher", error))?;
        let cascade = AbortOnDrop(tokio::spawn(cascade_every(
            app.clone(),
            config.cascade.interval,
        )));
        Ok((app, Background { refresher, cascade }))
    }

    /// The storage check's status: from `snapshot` when the caller already holds the
    /// check results (so one response never disagrees with itself), else from the cache
    /// without copying any result.
    pub(crate) fn storage_check_status(
        &self,
        snapshot: Option<&BTreeMap<String, HealthCheckResult>>,
    ) -> Option<HealthCheckStatus> {
        let name = self.storage_check.as_deref()?;
        match snapshot {
            Some(results) => results.get(name).map(|result| result.status),
            None => self.monitor.cached_status(name),
        }
    }

    /// Stops the background tasks, writes the transitions still waiting for storage
    /// (within `grace`), flushes DogStatsD and closes storage.
    pub(crate) async fn stop(&self, background: Background, grace: Duration) {
        let Background {
            refresher,
            mut cascade,
        } = background;
        cascade.0.abort();
        // Cancelled is the expected end of the loop.
        let _cancelled = (&mut cascade.0).await;
        refresher.stop().await;
        let pending = self.fallback.pending_records();
        if pending > 0 {
            match tokio::time::timeout(grace, self.fallback.flush_pending()).await {
                Ok(Ok(written)) => {
                    tracing::info!(written, "pending fallback transitions persisted");
                }
                Ok(Err(error)) => tracing::warn!(
                    error = %error_chain(&error),
                    left = self.fallback.pending_records(),
                    "pending fallback transitions could not be persisted"
                ),
                Err(_) => tracing::warn!(
                    left = self.fallback.pending_records(),
                    "persisting pending fallback transitions timed out"
                ),
            }
        }
        if let Some(dogstatsd) = &self.dogstatsd {
            dogstatsd.flush();
        }
        if let Err(error) = self.storage.close().await {
            tracing::warn!(error = %error_chain(&error), "closing storage failed");
        }
    }
}

/// Cascades on the monitor's latest state every `interval`, and retries the transition
/// records and fallback rule definitions that storage refused.
async fn cascade_every(app: Arc<App>, interval: Duration) {
    every(interval, move || {
        let app = app.clone();
        async move {
            let state = app.monitor.cached_state();
            app.fallback.cascade(&state).await;
            if let Err(error) = app.fallback.flush_pending().await {
                tracing::debug!(error = %error_chain(&error), "transition records or fallback rules still wait for storage");
            }
            app.prometheus.run_upkeep();
        }
    })
    .await;
}

/// Runs `round` every `interval`, the first time one interval from now (start-up has
/// just cascaded). A round that panics is logged and the next one runs: the loop never
/// dies silently, leaving the mode frozen and queued records unwritten.
async fn every<F, Fut>(interval: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(panic) = CatchUnwind(Box::pin(round())).await {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic".to_owned());
            tracing::error!(%message, "a background cascade round panicked; the next one runs on schedule");
        }
    }
}

/// A future that turns a panic while polling `0` into an `Err`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, context: &mut task::Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| inner.poll(context))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A configuration whose checks cannot fail on a busy machine and whose background
    /// work waits an hour.
    fn quiet_config() -> Config {
        let mut config = Config::from_toml_str(
            "[monitor]\nrefresh_interval = \"1h\"\n[[checks.disk]]\nwarning_percent = 100.0\ncritical_percent = 100.0\n[cascade]\ninterval = \"1h\"\nsafe_on_critical_resources = false\n",
        )
        .unwrap();
        config.auth.generate_missing().unwrap();
        config
    }

    async fn released(app: &Weak<App>) -> bool {
        for _ in 0..100 {
            if app.upgrade().is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_background_tasks_stops_them_and_releases_the_app() {
        let (app, background) = App::start(&quiet_config()).await.unwrap();
        let weak = Arc::downgrade(&app);
        drop(app);
        drop(background);
        assert!(
            released(&weak).await,
            "the cascade loop outlived its Background and keeps the App (storage, monitor) alive"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_that_panics_does_not_end_the_loop() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let looping = tokio::spawn(every(Duration::from_millis(5), move || {
            let round = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(round != 0, "the first round panics");
            }
        }));
        for _ in 0..200 {
            if rounds.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!looping.is_finished(), "the loop ended");
        assert!(
            rounds.load(Ordering::SeqCst) >= 3,
            "no round after the panic"
        );
        looping.abort();
    }
}
