//! The manager's metrics: the names and help texts it emits under, the snapshot
//! [`FallbackManager::get_metrics`] returns, and [`Emitter`], the one place that talks
//! to the [`MetricsSink`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use health_sinks::MetricsSink;
use serde::Serialize;

use super::FallbackManager;
use crate::rules::Outcome;
use crate::{FallbackMode, ModeHold, Transition};

/// The gauge holding the current mode's level (0 primary, 1 heuristic, 2 safe).
pub const MODE_METRIC: &str = "fallback_mode";
/// The counter of transitions, tagged `from` and `to` (Prometheus adds `_total`).
pub const TRANSITIONS_METRIC: &str = "fallback_transitions";
/// The histogram of seconds spent in a mode, tagged `mode`, recorded when it is left.
pub const TIME_IN_MODE_METRIC: &str = "fallback_time_in_mode_seconds";
/// The counter of failed attempts to persist a transition record.
pub const PERSIST_FAILURES_METRIC: &str = "fallback_persist_failures";
/// The counter of transition records dropped unpersisted: the queue was full, or storage
/// refused the record for good.
pub const DROPPED_RECORDS_METRIC: &str = "fallback_records_dropped";
/// The counter of mode callbacks that failed, panicked or timed out, tagged `mode` and
/// `outcome`.
pub const CALLBACK_FAILURES_METRIC: &str = "fallback_callback_failures";

/// The `# HELP` text of each metric above, by name: what a Prometheus sink describes
/// them with (`PrometheusSinkBuilder::describe`).
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        MODE_METRIC,
        "The fallback mode: 0 primary, 1 heuristic, 2 safe",
    ),
    (
        TRANSITIONS_METRIC,
        "Fallback mode changes, by the mode left and the mode entered",
    ),
    (
        TIME_IN_MODE_METRIC,
        "Seconds spent in a fallback mode before leaving it",
    ),
    (
        PERSIST_FAILURES_METRIC,
        "Failed attempts to persist a fallback transition record (it stays queued)",
    ),
    (
        DROPPED_RECORDS_METRIC,
        "Fallback transition records dropped unpersisted: the queue was full, or storage refused them for good",
    ),
    (
        CALLBACK_FAILURES_METRIC,
        "Fallback mode callbacks that failed, panicked or timed out, by mode and outcome",
    ),
];

/// How many transitions [`FallbackManager::get_metrics`] lists.
pub const RECENT_TRANSITIONS: usize = 10;

/// A snapshot of the manager for dashboards and the original's `get_metrics()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ManagerMetrics {
    /// The current mode.
    pub current_mode: FallbackMode,
    /// Whether the mode is not PRIMARY.
    pub is_degraded: bool,
    /// Whether the mode is SAFE.
    pub is_safe_mode: bool,
    /// Every transition since the manager was built.
    pub total_transitions: u64,
    /// The last [`RECENT_TRANSITIONS`] transitions, oldest first.
    pub recent_transitions: Vec<Transition>,
    /// Seconds since the current mode was entered (or the manager built).
    pub time_in_mode_seconds: f64,
    /// Transition records waiting for storage.
    pub pending_records: usize,
    /// Transition records dropped unpersisted: the queue was full, or storage refused the
    /// record for good.
    pub dropped_records: u64,
    /// The operator's hold in force, if any: `null` or `{"mode", "expires_in_seconds"}`
    /// (`expires_in_seconds` is `null` for a hold until released).
    pub hold: Option<ModeHold>,
}

impl FallbackManager {
    /// A snapshot: mode, degradation, transition counts and the recent transitions.
    #[must_use]
    pub fn get_metrics(&self) -> ManagerMetrics {
        let current_mode = self.get_current_mode();
        let (pending_records, dropped_records) = self.journal.backlog();
        ManagerMetrics {
            current_mode,
            is_degraded: current_mode.is_degraded(),
            is_safe_mode: current_mode == FallbackMode::Safe,
            total_transitions: self.journal.total(),
            recent_transitions: self.journal.recent(RECENT_TRANSITIONS),
            time_in_mode_seconds: self.modes.time_in_mode().as_secs_f64(),
            pending_records,
            dropped_records,
            hold: self.current_hold(),
        }
    }
}

/// Where the manager's units emit metrics: the optional sink, each metric behind one
/// method so that names and tags are written once. Without a sink every method is a
/// no-op. Cheap to clone (the units that emit hold a clone each).
#[derive(Clone, Default)]
pub(super) struct Emitter {
    sink: Option<Arc<dyn MetricsSink>>,
}

impl Emitter {
    pub(super) fn new(sink: Option<Arc<dyn MetricsSink>>) -> Self {
        Self { sink }
    }

    /// The mode gauge, set to `mode`'s level.
    pub(super) fn mode(&self, mode: FallbackMode) {
        if let Some(sink) = &self.sink {
            sink.emit(
                MODE_METRIC,
                f64::from(mode.level()),
                &[],
                Some(SystemTime::now()),
            );
        }
    }

    /// A transition: the mode gauge, the transition counter and the time spent in the
    /// mode left.
    pub(super) fn transition(&self, transition: &Transition, time_in_previous: Duration) {
        let Some(sink) = &self.sink else {
            return;
        };
        self.mode(transition.to);
        sink.emit_counter(
            TRANSITIONS_METRIC,
            1,
            &[
                ("from", transition.from.as_str()),
                ("to", transition.to.as_str()),
            ],
        );
        sink.emit_histogram(
            TIME_IN_MODE_METRIC,
            time_in_previous.as_secs_f64(),
            &[("mode", transition.from.as_str())],
        );
    }

    /// One failed attempt to persist a transition record.
    pub(super) fn persist_failure(&self) {
        if let Some(sink) = &self.sink {
            sink.emit_counter(PERSIST_FAILURES_METRIC, 1, &[]);
        }
    }

    /// `count` transition records dropped unpersisted.
    pub(super) fn dropped(&self, count: u64) {
        if let Some(sink) = &self.sink {
            sink.emit_counter(DROPPED_RECORDS_METRIC, count, &[]);
        }
    }

    /// A mode callback for `mode` that ended with `outcome` instead of completing.
    pub(super) fn callback_failure(&self, mode: FallbackMode, outcome: &Outcome) {
        if let Some(sink) = &self.sink {
            sink.emit_counter(
                CALLBACK_FAILURES_METRIC,
                1,
                &[("mode", mode.as_str()), ("outcome", outcome.kind())],
            );
        }
    }
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use health_model::Timestamp;
    use health_sinks::testing::{Emitted, RecordingSink};

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn each_event_emits_its_metric_with_its_tags() {
        let sink = Arc::new(RecordingSink::new());
        let emitter = Emitter::new(Some(sink.clone()));
        let transition = Transition::new(
            Timestamp::now(),
            FallbackMode::Primary,
            FallbackMode::Safe,
            "x".to_owned(),
        );
        emitter.transition(&transition, Duration::from_millis(1_500));
        emitter.persist_failure();
        emitter.dropped(3);
        emitter.callback_failure(FallbackMode::Safe, &Outcome::TimedOut);
        assert_eq!(
            sink.take(),
            [
                Emitted::Gauge(MODE_METRIC.to_owned(), 2.0, vec![]),
                Emitted::Counter(
                    TRANSITIONS_METRIC.to_owned(),
                    1,
                    tags(&[("from", "primary"), ("to", "safe")])
                ),
                Emitted::Histogram(
                    TIME_IN_MODE_METRIC.to_owned(),
                    1.5,
                    tags(&[("mode", "primary")])
                ),
                Emitted::Counter(PERSIST_FAILURES_METRIC.to_owned(), 1, vec![]),
                Emitted::Counter(DROPPED_RECORDS_METRIC.to_owned(), 3, vec![]),
                Emitted::Counter(
                    CALLBACK_FAILURES_METRIC.to_owned(),
                    1,
                    tags(&[("mode", "safe"), ("outcome", "timed_out")])
                ),
            ]
        );
    }

    #[test]
    fn without_a_sink_nothing_is_emitted_and_nothing_fails() {
        let emitter = Emitter::default();
        emitter.mode(FallbackMode::Heuristic);
        emitter.dropped(1);
        assert_eq!(format!("{emitter:?}"), "Emitter { sink: false }");
    }
}
