//! [`AlertBook`]: alerts from the outside applied to a registry within bounds.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use health_model::ComponentStatus;
use health_sinks::{MetricsSink, NoOpMetricsSink};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Alert, AlertImpact, apply_alert, component_name};
use crate::ComponentRegistry;
use crate::error::{HealthError, positive};
use crate::metrics::{
    ALERT_COMPONENTS_METRIC, ALERTS_DEDUPLICATED_METRIC, ALERTS_DROPPED_METRIC,
    ALERTS_EXPIRED_METRIC,
};

/// Default [`AlertLimits::quiet_time`]: one hour. Monitors re-notify an open alert every
/// few minutes to hours; an hour without a word means the "Recovered" was lost, or the
/// monitor was deleted.
pub const DEFAULT_ALERT_QUIET_TIME: Duration = Duration::from_secs(3600);
/// Default [`AlertLimits::max_components`]: 100 components created by alerts. Enough for
/// a service's real dependencies; 25,600 distinct titles once took the server from 26 MB
/// to 176 MB and `/health/state` to 9.5 MB.
pub const DEFAULT_MAX_ALERT_COMPONENTS: usize = 100;
/// How many deduplication keys are remembered at most (the oldest go first).
const MAX_DEDUP_KEYS: usize = 10_000;
/// At most one warning per this long about alerts dropped at the cap.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The bounds of an [`AlertBook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertLimits {
    /// How long a component an alert touched keeps what the alert said without hearing
    /// from an alert again: then a component an alert created is removed, and one that
    /// existed before is marked healthy (default [`DEFAULT_ALERT_QUIET_TIME`]). Also how
    /// long a repeated alert is recognized as one.
    pub quiet_time: Duration,
    /// How many components alerts may create; an alert that would create one more is
    /// dropped, counted and logged (default [`DEFAULT_MAX_ALERT_COMPONENTS`]).
    pub max_components: usize,
}

impl Default for AlertLimits {
    fn default() -> Self {
        Self {
            quiet_time: DEFAULT_ALERT_QUIET_TIME,
            max_components: DEFAULT_MAX_ALERT_COMPONENTS,
        }
    }
}

/// What [`AlertBook::ingest`] did with a batch of alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    /// Alerts applied to their component.
    pub applied: usize,
    /// Repeats of an alert already applied within the quiet time (same provider, alert
    /// id and state): they only keep the component from expiring.
    pub deduplicated: usize,
    /// Alerts dropped because they would have created a component beyond the cap.
    pub dropped: usize,
    /// Recoveries of a component that does not exist: nothing to recover.
    pub ignored: usize,
}

/// Applies alerts to a [`ComponentRegistry`] within bounds, for alerts that arrive from
/// the outside (webhooks):
///
/// - **Deduplicated**: an alert whose provider, id and state (its `dedup_key` metadata,
///   else its component and impact) were applied within the quiet time is not applied
///   again (its counters do not grow), and is counted
///   ([`ALERTS_DEDUPLICATED_METRIC`]).
/// - **Expiring**: a component that has not heard from an alert for the quiet time is
///   removed if an alert created it, or marked healthy if it existed before (a lost
///   "Recovered" must not leave it failed forever). [`expire`](Self::expire) does it;
///   every [`ingest`](Self::ingest) does it first.
/// - **Capped**: at most `max_components` components created by alerts; an alert that
///   would create one more is dropped, counted ([`ALERTS_DROPPED_METRIC`] with
///   `reason="component_cap"`) and logged, at most once a minute.
///
/// Clones share one book. Time is Tokio's monotonic clock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use health::alerts::{AlertBook, AlertLimits, DatadogAdapter, MonitoringAdapter};
/// use health::{ComponentRegistry, ComponentStatus};
///
/// let registry = ComponentRegistry::new();
/// let book = AlertBook::new(registry.clone(), AlertLimits { max_components: 1, ..AlertLimits::default() })?;
/// let alert = |title: &str| DatadogAdapter.parse_payload(&serde_json::json!({
///     "alert_transition": "Triggered", "alert_id": 7, "title": title,
/// }));
/// let report = book.ingest(&alert("db down")?);
/// assert_eq!(report.applied, 1);
/// assert_eq!(book.ingest(&alert("db down")?).deduplicated, 1);
/// assert_eq!(book.ingest(&alert("cache down")?).dropped, 1);
/// assert_eq!(registry.get_component_health("db down").error_count, 1);
/// assert_eq!(registry.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AlertBook {
    registry: ComponentRegistry,
    limits: AlertLimits,
    sink: Arc<dyn MetricsSink>,
    state: Arc<Mutex<BookState>>,
}

#[derive(Default)]
struct BookState {
    /// The components alerts touched, and when last.
    touched: HashMap<String, Touch>,
    /// How many of them alerts created.
    created: usize,
    /// Deduplication keys applied, and when.
    seen: HashMap<String, Instant>,
    /// The same keys, oldest first, to forget them in order.
    seen_order: VecDeque<(String, Instant)>,
    /// Drops not logged yet, and when the last warning was.
    unlogged_drops: u64,
    last_drop_log: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Touch {
    last: Instant,
    created: bool,
}

impl AlertBook {
    /// A book applying alerts to `registry` within `limits`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] for a zero quiet time or a cap of 0.
    pub fn new(registry: ComponentRegistry, limits: AlertLimits) -> Result<Self, HealthError> {
        positive("quiet_time", limits.quiet_time)?;
        if limits.max_components == 0 {
            return Err(HealthError::config("max_components", "must be at least 1"));
        }
        Ok(Self {
            registry,
            limits,
            sink: Arc::new(NoOpMetricsSink),
            state: Arc::default(),
        })
    }

    /// Where the counts go (default nowhere).
    #[must_use]
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The limits.
    #[must_use]
    pub const fn limits(&self) -> &AlertLimits {
        &self.limits
    }

    /// How many components alerts created and that still exist.
    #[must_use]
    pub fn alert_components(&self) -> usize {
        self.state.lock().created
    }

    /// Applies `alerts` in order, within the bounds; see the type's documentation.
    pub fn ingest(&self, alerts: &[Alert]) -> IngestReport {
        let now = Instant::now();
        self.expire_at(now);
        let mut report = IngestReport::default();
        let mut state = self.state.lock();
        forget_old_keys(&mut state, now, self.limits.quiet_time);
        for alert in alerts {
            let component = component_name(alert);
            let key = dedup_key(alert, &component);
            if state.seen.contains_key(&key) {
                report.deduplicated += 1;
                if let Some(touch) = state.touched.get_mut(&component) {
                    touch.last = now;
                }
                continue;
            }
            let known =
                state.touched.contains_key(&component) || self.registry.contains(&component);
            if !known {
                if alert.impact() == AlertImpact::Healthy {
                    report.ignored += 1;
                    continue;
                }
                if state.created >= self.limits.max_components {
                    report.dropped += 1;
                    state.unlogged_drops += 1;
                    continue;
                }
            }
            let created = !known;
            if created {
                state.created += 1;
            }
            state
                .touched
                .entry(component.clone())
                .and_modify(|touch| touch.last = now)
                .or_insert(Touch { last: now, created });
            state.seen.insert(key.clone(), now);
            state.seen_order.push_back((key, now));
            while state.seen_order.len() > MAX_DEDUP_KEYS {
                if let Some((old, _)) = state.seen_order.pop_front() {
                    state.seen.remove(&old);
                }
            }
            apply_alert(alert, &component, &self.registry);
            report.applied += 1;
        }
        self.log_drops(&mut state, now);
        let created = state.created;
        drop(state);
        self.emit(&report, created);
        report
    }

    /// Removes the components alerts created that have been quiet for the quiet time,
    /// and marks healthy the others alerts touched; returns how many were handled.
    pub fn expire(&self) -> usize {
        self.expire_at(Instant::now())
    }

    fn expire_at(&self, now: Instant) -> usize {
        let quiet = self.limits.quiet_time;
        let expired: Vec<(String, Touch)> = {
            let mut state = self.state.lock();
            let names: Vec<String> = state
                .touched
                .iter()
                .filter(|(_, touch)| now.saturating_duration_since(touch.last) >= quiet)
                .map(|(name, _)| name.clone())
                .collect();
            let expired: Vec<(String, Touch)> = names
                .into_iter()
                .filter_map(|name| state.touched.remove(&name).map(|touch| (name, touch)))
                .collect();
            state.created -= expired.iter().filter(|(_, touch)| touch.created).count();
            expired
        };
        for (name, touch) in &expired {
            if touch.created {
                self.registry.unregister(name);
            } else {
                self.registry.update_component(name, |component| {
                    if component.status != ComponentStatus::Healthy {
                        component.status = ComponentStatus::Healthy;
                        component.last_updated = health_model::Timestamp::now();
                    }
                });
            }
            tracing::info!(component = %name, quiet = %humantime::format_duration(quiet), removed = touch.created, "alert expired: no alert for the quiet time");
        }
        if !expired.is_empty() {
            #[allow(clippy::cast_possible_truncation, reason = "a count of components")]
            self.sink
                .emit_counter(ALERTS_EXPIRED_METRIC, expired.len() as u64, &[]);
            #[allow(clippy::cast_precision_loss, reason = "a count of components")]
            self.sink.emit(
                ALERT_COMPONENTS_METRIC,
                self.alert_components() as f64,
                &[],
                None,
            );
        }
        expired.len()
    }

    fn log_drops(&self, state: &mut BookState, now: Instant) {
        if state.unlogged_drops == 0 {
            return;
        }
        let due = state
            .last_drop_log
            .is_none_or(|last| now.saturating_duration_since(last) >= DROP_LOG_INTERVAL);
        if due {
            tracing::warn!(
                dropped = state.unlogged_drops,
                cap = self.limits.max_components,
                "alerts dropped: they would create components beyond the cap"
            );
            state.unlogged_drops = 0;
            state.last_drop_log = Some(now);
        }
    }

    fn emit(&self, report: &IngestReport, created: usize) {
        if report.dropped > 0 {
            self.sink.emit_counter(
                ALERTS_DROPPED_METRIC,
                report.dropped as u64,
                &[("reason", "component_cap")],
            );
        }
        if report.deduplicated > 0 {
            self.sink
                .emit_counter(ALERTS_DEDUPLICATED_METRIC, report.deduplicated as u64, &[]);
        }
        #[allow(clippy::cast_precision_loss, reason = "a count of components")]
        self.sink
            .emit(ALERT_COMPONENTS_METRIC, created as f64, &[], None);
    }
}

/// The key a repeat of `alert` shares: provider, then its `dedup_key` (alert id and
/// state), else its component and impact.
fn dedup_key(alert: &Alert, component: &str) -> String {
    match alert.metadata.get("dedup_key").and_then(|key| key.as_str()) {
        Some(key) => format!("{}\u{0}{key}", alert.provider),
        None => format!(
            "{}\u{0}{component}\u{0}{:?}",
            alert.provider,
            alert.impact()
        ),
    }
}

fn forget_old_keys(state: &mut BookState, now: Instant, quiet: Duration) {
    while let Some((key, at)) = state.seen_order.front() {
        if now.saturating_duration_since(*at) < quiet {
            break;
        }
        let key = key.clone();
        state.seen_order.pop_front();
        state.seen.remove(&key);
    }
}

impl fmt::Debug for AlertBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertBook")
            .field("limits", &self.limits)
            .field("alert_components", &self.alert_components())
            .finish_non_exhaustive()
    }
}
