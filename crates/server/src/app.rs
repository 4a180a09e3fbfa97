//! Starting the one process-wide set of libraries from a [`Plan`], and the background
//! tasks that keep it current. Nothing here checks a configuration value or names a
//! configuration key: [`Config::validate`](crate::Config::validate) did, once.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::HeaderName;
use condition::Context;
use fallback::{BoxError, FallbackManager, FallbackMode};
use futures_util::FutureExt as _;
use health::alerts::AlertBook;
use health::breaker::{BreakerFeed, CircuitBreaker};
use health::checks::StorageHealthCheck;
use health::groups::HealthGroup;
use health::monitor::RefresherHandle;
use health::probe::CheckOptions;
use health::retry::RetryTracker;
use health::{HealthCheck, HealthCheckResult, HealthCheckStatus, HealthMonitor};
use health_sinks::{
    DogStatsdMetricsSink, FanoutMetricsSink, LoggingMetricsSink, MetricsSink, PrometheusMetricsSink,
};
use storage::Storage;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::auth::Secret;
use crate::config::Plan;
use crate::config::plan::{
    AuthPlan, BreakerPlan, CascadePlan, ChecksPlan, FallbacksPlan, MonitorPlan, RulePlan,
    ShowDetails, SinksPlan,
};
use crate::error::{Chain, ServerError};
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
    /// Set, for good, once start-up has completed: every start-up check passed once and
    /// every critical readiness check produced a result.
    pub(crate) started: AtomicBool,
    /// Alert webhooks, within bounds.
    pub(crate) alerts: AlertBook,
    /// The named groups of `/health/group/{name}`.
    pub(crate) groups: Vec<HealthGroup>,
    /// Who sees check messages, metadata and alert texts.
    pub(crate) show_details: ShowDetails,
}

/// The credentials the routes check.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) admin: Secret,
    /// The shared secret of each of `health::alerts::PROVIDERS`.
    webhook_secrets: Vec<(&'static str, Secret)>,
    pub(crate) webhook_header: HeaderName,
}

impl Auth {
    /// The shared secret of `provider` (one of `health::alerts::PROVIDERS`, as its adapter names
    /// it).
    pub(crate) fn webhook_secret(&self, provider: &str) -> Option<&Secret> {
        self.webhook_secrets
            .iter()
            .find(|(name, _)| *name == provider)
            .map(|(_, secret)| secret)
    }
}

/// The metrics sinks: Prometheus (always), and what the plan asks for besides.
struct Sinks {
    prometheus: PrometheusMetricsSink,
    dogstatsd: Option<DogStatsdMetricsSink>,
    all: Arc<dyn MetricsSink>,
}

fn build_sinks(plan: SinksPlan) -> Result<Sinks, ServerError> {
    let mut prometheus = PrometheusMetricsSink::builder()
        .describe(
            REQUESTS_METRIC,
            "HTTP requests served, by route pattern, method and status",
        )
        .describe(
            REQUEST_DURATION_METRIC,
            "HTTP request latency in seconds, by route pattern",
        );
    for (name, help) in fallback::metrics::METRIC_DESCRIPTIONS
        .iter()
        .chain(health::metrics::METRIC_DESCRIPTIONS)
    {
        prometheus = prometheus.describe(name, help);
    }
    let prometheus = prometheus
        .build()
        .map_err(|error| ServerError::startup("the prometheus sink", Chain(&error)))?;
    let mut all = FanoutMetricsSink::default().with(prometheus.clone());
    if plan.logging {
        all = all.with(LoggingMetricsSink::default());
    }
    if let Some(dogstatsd) = &plan.dogstatsd {
        all = all.with(dogstatsd.clone());
    }
    Ok(Sinks {
        prometheus,
        dogstatsd: plan.dogstatsd,
        all: Arc::new(all),
    })
}

/// The checks of the plan with their options, the storage check around `storage`, in
/// the plan's order.
fn checks(
    checks: ChecksPlan,
    storage: &Arc<dyn Storage>,
) -> Vec<(Arc<dyn HealthCheck>, CheckOptions)> {
    let ChecksPlan {
        disk,
        storage: storage_check,
        http,
    } = checks;
    let mut all: Vec<(Arc<dyn HealthCheck>, CheckOptions)> = Vec::new();
    all.extend(
        disk.into_iter()
            .map(|(check, options)| (Arc::new(check) as Arc<dyn HealthCheck>, options)),
    );
    all.extend(storage_check.map(|check| {
        (
            Arc::new(
                StorageHealthCheck::new(storage.clone())
                    .with_name(check.name)
                    .with_timeout(check.timeout),
            ) as Arc<dyn HealthCheck>,
            check.options,
        )
    }));
    all.extend(
        http.into_iter()
            .map(|(check, options)| (Arc::new(check) as Arc<dyn HealthCheck>, options)),
    );
    all
}

/// The monitor, reporting `breaker` and the retry tracker, both fed by the checks
/// `plan.feed` selects.
fn build_monitor(
    plan: MonitorPlan,
    breaker_plan: BreakerPlan,
    sink: Arc<dyn MetricsSink>,
) -> Result<HealthMonitor, ServerError> {
    let breaker = CircuitBreaker::new(breaker_plan.config)
        .map_err(|error| ServerError::startup("the circuit breaker", Chain(&error)))?;
    let retries = RetryTracker::new();
    let feed =
        BreakerFeed::new(breaker.clone(), breaker_plan.feed).with_retry_tracker(retries.clone());
    HealthMonitor::builder()
        .metrics_sink(sink)
        .resources(plan.resources)
        .max_staleness(plan.max_staleness)
        .circuit_breaker(Arc::new(breaker))
        .retry_tracker(Arc::new(retries))
        .observer(Arc::new(feed))
        .build()
        .map_err(|error| ServerError::startup("the health monitor", Chain(&error)))
}

fn build_fallback(
    cascade: &CascadePlan,
    fallbacks: &FallbacksPlan,
    storage: Arc<dyn Storage>,
    sink: Arc<dyn MetricsSink>,
) -> FallbackManager {
    let mut builder = FallbackManager::builder(storage)
        .policy(cascade.policy.clone())
        .max_log_entries(cascade.max_log_entries)
        .record_ttl(cascade.record_ttl)
        .metrics_sink(sink)
        // The parser that parsed the rules' conditions.
        .condition_parser(fallbacks.parser.clone());
    if let Some(hysteresis) = cascade.hysteresis {
        builder = builder.hysteresis(hysteresis);
    }
    builder.build()
}

/// Registers a configured rule: when its condition holds for a context posted to
/// `/fallback/evaluate`, it is logged and, if the rule names a mode, that mode is set,
/// unless an operator holds the mode (a rule never undoes an operator).
///
/// A storage outage does not stop start-up: the manager keeps the rule pending until
/// storage takes its definition (the cascade loop's `flush_pending`).
async fn register_rule(manager: &Arc<FallbackManager>, rule: RulePlan) -> Result<(), ServerError> {
    let RulePlan {
        name,
        condition,
        mode: target,
        metadata,
    } = rule;
    let weak: Weak<FallbackManager> = Arc::downgrade(manager);
    let fired = name.clone();
    let action = move |_context: Context| {
        let weak = weak.clone();
        let name = fired.clone();
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
    // The manager takes the condition's text and parses it again with the same parser
    // (it has no way to take a parsed one), so it cannot refuse it.
    manager
        .register_fallback_or_queue(&name, condition.source(), action, metadata.into())
        .await
        // Active, or pending until storage takes it (the manager logged why).
        .map(drop)
        .map_err(|error| ServerError::startup(format!("fallback rule {name:?}"), Chain(&error)))
}

/// The credentials the routes check, every secret set.
fn auth(plan: AuthPlan) -> Result<Auth, ServerError> {
    let missing = |purpose: &str| {
        ServerError::startup(purpose.to_owned(), "no secret was configured or generated")
    };
    let admin = plan
        .admin_token
        .secret
        .ok_or_else(|| missing(plan.admin_token.purpose))?;
    let webhook_secrets = plan
        .webhook_secrets
        .into_iter()
        .map(|webhook| {
            let secret = webhook
                .secret
                .secret
                .ok_or_else(|| missing(webhook.secret.purpose))?;
            Ok((webhook.provider, secret))
        })
        .collect::<Result<_, ServerError>>()?;
    Ok(Auth {
        admin,
        webhook_secrets,
        webhook_header: plan.webhook_header,
    })
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
    /// Builds every library from `plan` (every secret set), connects storage, runs the
    /// checks and one cascade so the first answers are real, and starts the background
    /// tasks. Nothing of the plan is checked or built again: a failure here is one of
    /// the running system (a socket, a thread), never of the configuration.
    pub(crate) async fn start(plan: Plan) -> Result<(Arc<Self>, Background), ServerError> {
        let Plan {
            server,
            logging: _,
            auth: auth_plan,
            storage,
            monitor,
            checks: checks_plan,
            cascade,
            fallbacks,
            sinks,
            health,
            alerts,
            breaker,
        } = plan;
        let auth = auth(auth_plan)?;
        let sinks = build_sinks(sinks)?;
        let storage_check = checks_plan.storage.as_ref().map(|check| check.name.clone());
        let description = storage.description;
        let storage = storage.storage;
        if let Err(error) = storage.connect().await {
            // Not fatal: the storage check reports it, transitions wait in the queue, and
            // the adapter reconnects when the server is back.
            tracing::warn!(
                storage = %description,
                error = %Chain(&error),
                "storage is unreachable at start-up; serving from memory until it answers"
            );
        }
        let refresh_interval = monitor.refresh_interval;
        let monitor = build_monitor(monitor, breaker, sinks.all.clone())?;
        for (check, options) in checks(checks_plan, &storage) {
            monitor
                .register_check_with(check, options)
                .map_err(|error| ServerError::startup("a health check", Chain(&error)))?;
        }
        let alerts = AlertBook::new(monitor.registry().clone(), alerts)
            .map_err(|error| ServerError::startup("the alert book", Chain(&error)))?
            .with_metrics_sink(sinks.all.clone());
        let fallback = Arc::new(build_fallback(
            &cascade,
            &fallbacks,
            storage.clone(),
            sinks.all.clone(),
        ));
        for rule in fallbacks.rules {
            register_rule(&fallback, rule).await?;
        }

        fallback
            .cascade(&monitor.get_comprehensive_state().await)
            .await;

        let app = Arc::new(Self {
            storage,
            storage_check,
            prometheus: sinks.prometheus,
            dogstatsd: sinks.dogstatsd,
            monitor,
            fallback,
            auth,
            max_body_bytes: server.max_body_bytes,
            access_log: server.access_log,
            shutting_down: AtomicBool::new(false),
            started: AtomicBool::new(false),
            alerts,
            groups: health.groups,
            show_details: health.show_details,
        });
        let refresher = app
            .monitor
            .spawn_refresher(refresh_interval)
            .map_err(|error| ServerError::startup("the health refresher", Chain(&error)))?;
        let cascade = AbortOnDrop(tokio::spawn(cascade_every(app.clone(), cascade.interval)));
        Ok((app, Background { refresher, cascade }))
    }

    /// Whether start-up has completed: every start-up check passed once and every
    /// critical readiness check has produced a result. Once true, true for good.
    pub(crate) fn startup_complete(&self) -> bool {
        if self.started.load(Ordering::Relaxed) {
            return true;
        }
        let startup = self.monitor.group_health(&HealthGroup::startup());
        let readiness = self.monitor.group_health(&HealthGroup::readiness());
        let complete = startup.is_up() && readiness.pending.is_empty();
        if complete {
            self.started.store(true, Ordering::Relaxed);
            tracing::info!("start-up complete: readiness now follows the readiness checks");
        }
        complete
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
            None => self.monitor.cached_summary().checks.get(name).copied(),
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
                    error = %Chain(&error),
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
            tracing::warn!(error = %Chain(&error), "closing storage failed");
        }
    }
}

/// Cascades on the monitor's latest state every `interval`, and retries the transition
/// records and fallback rule definitions that storage refused.
async fn cascade_every(app: Arc<App>, interval: Duration) {
    every(interval, move || {
        let app = app.clone();
        async move {
            app.alerts.expire();
            let state = app.monitor.cached_state();
            app.fallback.cascade(&state).await;
            if let Err(error) = app.fallback.flush_pending().await {
                tracing::debug!(error = %Chain(&error), "transition records or fallback rules still wait for storage");
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
        // Built inside the caught future, so a panic while building it is caught too.
        if let Err(panic) = AssertUnwindSafe(async { round().await })
            .catch_unwind()
            .await
        {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            tracing::error!(%message, "a background cascade round panicked; the next one runs on schedule");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A configuration whose checks cannot fail on a busy machine and whose background
    /// work waits an hour.
    fn quiet_plan() -> Plan {
        let mut plan = crate::Config::from_toml_str(
            "[monitor]\nrefresh_interval = \"1h\"\n[[checks.disk]]\nwarning_percent = 100.0\ncritical_percent = 100.0\n[cascade]\ninterval = \"1h\"\nsafe_on_critical_resources = false\n",
        )
        .and_then(crate::Config::validate)
        .unwrap();
        plan.generate_missing_secrets().unwrap();
        plan
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
        let (app, background) = App::start(quiet_plan()).await.unwrap();
        let weak = Arc::downgrade(&app);
        drop(app);
        drop(background);
        assert!(
            released(&weak).await,
            "the cascade loop outlived its Background and keeps the App (storage, monitor) alive"
        );
    }

    /// Runs [`every`] with rounds whose first one panics, while being built or while
    /// running, and checks that rounds go on.
    async fn check_rounds_go_on_after(panic_while_building: bool) {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let looping = tokio::spawn(every(Duration::from_millis(5), move || {
            let round = counted.fetch_add(1, Ordering::SeqCst);
            assert!(
                !(panic_while_building && round == 0),
                "building the first round panics"
            );
            async move {
                assert!(panic_while_building || round != 0, "the first round panics");
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
            "no round after the panic (while building: {panic_while_building})"
        );
        looping.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_that_panics_does_not_end_the_loop() {
        check_rounds_go_on_after(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_that_panics_while_being_built_does_not_end_the_loop() {
        check_rounds_go_on_after(true).await;
    }
}
