//! Starting the one process-wide set of libraries from a [`Plan`], and the background
//! tasks that keep it current. Nothing here checks a configuration value or names a
//! configuration key: [`Config::validate`](crate::Config::validate) did, once.

use std::sync::{Arc, Weak};
use std::time::Duration;

use condition::Context;
use fallback::{BoxError, FallbackManager, FallbackMode};
use health::breaker::{BreakerFeed, CircuitBreaker};
use health::checks::StorageHealthCheck;
use health::monitor::{HealthMonitorBuilder, RefresherHandle};
use health::probe::CheckOptions;
use health::retry::RetryTracker;
use health::{HealthCheck, HealthMonitor};
use health_sinks::{
    DogStatsdMetricsSink, FanoutMetricsSink, LoggingMetricsSink, MetricsSink, PrometheusMetricsSink,
};
use storage::Storage;
use web::{CascadeTask, ResilienceState, ResilienceStateBuilder, WebError};

use crate::config::Plan;
use crate::config::plan::{
    AuthPlan, BreakerPlan, CascadePlan, ChecksPlan, FallbacksPlan, MonitorPlan, RulePlan, SinksPlan,
};
use crate::error::{Chain, ServerError};

/// The libraries, built once per process and shared by every route (the web state),
/// and what only the process needs besides.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) web: ResilienceState,
    dogstatsd: Option<DogStatsdMetricsSink>,
}

/// The metrics sinks: Prometheus (always), and what the plan asks for besides.
struct Sinks {
    prometheus: PrometheusMetricsSink,
    dogstatsd: Option<DogStatsdMetricsSink>,
    all: Arc<dyn MetricsSink>,
}

fn build_sinks(plan: SinksPlan) -> Result<Sinks, ServerError> {
    let mut prometheus = PrometheusMetricsSink::builder();
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

/// The circuit breaker and retry tracker the web state shares with the monitor, and the
/// monitor's settings with the feed that records the checks `plan.feed` selects into
/// both (the web layer records request outcomes into the same two).
fn monitor_settings(
    plan: MonitorPlan,
    breaker_plan: BreakerPlan,
    sink: Arc<dyn MetricsSink>,
) -> Result<(HealthMonitorBuilder, CircuitBreaker, RetryTracker), ServerError> {
    let breaker = CircuitBreaker::new(breaker_plan.config)
        .map_err(|error| ServerError::startup("the circuit breaker", Chain(&error)))?;
    let retries = RetryTracker::new();
    let feed =
        BreakerFeed::new(breaker.clone(), breaker_plan.feed).with_retry_tracker(retries.clone());
    let settings = HealthMonitor::builder()
        .metrics_sink(sink)
        .resources(plan.resources)
        .max_staleness(plan.max_staleness)
        .observer(Arc::new(feed));
    Ok((settings, breaker, retries))
}

fn build_fallback(
    cascade: &CascadePlan,
    fallbacks: &FallbacksPlan,
    storage: Arc<dyn Storage>,
    sink: Arc<dyn MetricsSink>,
    storage_write_timeout: Duration,
) -> FallbackManager {
    let mut builder = FallbackManager::builder(storage)
        .policy(cascade.policy.clone())
        // One bound for every write a route waits for: records, and registrations.
        .persist_timeout(storage_write_timeout)
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
    // Parsed once, by the plan: the manager takes it as it is.
    manager
        .register_condition_or_queue(&name, condition, action, metadata.into())
        .await
        // Active, or pending until storage takes it (the manager logged why).
        .map(drop)
        .map_err(|error| ServerError::startup(format!("fallback rule {name:?}"), Chain(&error)))
}

/// The web state: the libraries and the credentials the routes check, every secret set.
fn web_state(
    builder: ResilienceStateBuilder,
    plan: AuthPlan,
) -> Result<ResilienceState, ServerError> {
    let missing = |purpose: &str| {
        ServerError::startup(purpose.to_owned(), "no secret was configured or generated")
    };
    let admin = plan
        .admin_token
        .secret
        .ok_or_else(|| missing(plan.admin_token.purpose))?;
    let mut builder = builder
        .admin_token(admin)
        .webhook_header(plan.webhook_header);
    for webhook in plan.webhook_secrets {
        let secret = webhook
            .secret
            .secret
            .ok_or_else(|| missing(webhook.secret.purpose))?;
        builder = builder.webhook_secret(webhook.provider, secret);
    }
    builder.build().map_err(|error| match error {
        WebError::Monitor { .. } => ServerError::startup("the health monitor", Chain(&error)),
        WebError::AlertLimits { .. } => ServerError::startup("the alert book", Chain(&error)),
        _ => ServerError::startup("the routes", Chain(&error)),
    })
}

/// The tasks that run beside the routes; dropped, they stop (a [`Server`](crate::Server)
/// started and never served must not leave the cascade loop holding the [`App`]).
#[derive(Debug)]
pub(crate) struct Background {
    refresher: RefresherHandle,
    cascade: CascadeTask,
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
        let fallback = Arc::new(build_fallback(
            &cascade,
            &fallbacks,
            storage.clone(),
            sinks.all.clone(),
            server.storage_write_timeout,
        ));
        for rule in fallbacks.rules {
            register_rule(&fallback, rule).await?;
        }
        let checks = checks(checks_plan, &storage);
        let (settings, breaker, retries) = monitor_settings(monitor, breaker, sinks.all.clone())?;
        let mut builder = ResilienceState::builder(storage)
            .monitor(settings)
            .circuit_breaker(breaker)
            .retry_tracker(retries)
            .manager(fallback)
            .alert_limits(alerts)
            .show_details(health.show_details)
            .prometheus(sinks.prometheus)
            .max_body_bytes(server.max_body_bytes)
            .storage_write_timeout(server.storage_write_timeout)
            .access_log(server.access_log);
        if let Some(name) = storage_check {
            builder = builder.storage_check(name);
        }
        for group in health.groups {
            builder = builder.group(group);
        }
        let app = Arc::new(Self {
            web: web_state(builder, auth_plan)?,
            dogstatsd: sinks.dogstatsd,
        });
        let (monitor, manager) = (app.web.monitor(), app.web.manager());
        for (check, options) in checks {
            monitor
                .register_check_with(check, options)
                .map_err(|error| ServerError::startup("a health check", Chain(&error)))?;
        }
        manager
            .cascade(&monitor.get_comprehensive_state().await)
            .await;

        let refresher = app
            .web
            .monitor()
            .spawn_refresher(refresh_interval)
            .map_err(|error| ServerError::startup("the health refresher", Chain(&error)))?;
        let cascade = app
            .web
            .spawn_cascade(cascade.interval)
            .map_err(|error| ServerError::startup("the cascade loop", Chain(&error)))?;
        Ok((app, Background { refresher, cascade }))
    }

    /// Stops the background tasks, writes the transitions still waiting for storage
    /// (within `grace`), flushes DogStatsD and closes storage.
    pub(crate) async fn stop(&self, background: Background, grace: Duration) {
        let Background { refresher, cascade } = background;
        cascade.stop().await;
        refresher.stop().await;
        let pending = self.web.manager().pending_records();
        if pending > 0 {
            match tokio::time::timeout(grace, self.web.manager().flush_pending()).await {
                Ok(Ok(written)) => {
                    tracing::info!(written, "pending fallback transitions persisted");
                }
                Ok(Err(error)) => tracing::warn!(
                    error = %Chain(&error),
                    left = self.web.manager().pending_records(),
                    "pending fallback transitions could not be persisted"
                ),
                Err(_) => tracing::warn!(
                    left = self.web.manager().pending_records(),
                    "persisting pending fallback transitions timed out"
                ),
            }
        }
        if let Some(dogstatsd) = &self.dogstatsd {
            dogstatsd.flush();
        }
        if let Err(error) = self.web.storage().close().await {
            tracing::warn!(error = %Chain(&error), "closing storage failed");
        }
    }
}

#[cfg(test)]
mod tests {
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
}
