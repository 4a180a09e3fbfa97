use std::sync::Arc;

use fallback::FallbackMode;
use health_sinks::MetricsSink;

/// The gauge of live members, as this instance last counted them (fresh heartbeats).
pub const MEMBERS_METRIC: &str = "cluster_members";
/// The counter of leader changes this instance observed (a new leader, or a new epoch).
pub const LEADER_CHANGES_METRIC: &str = "cluster_leader_changes";
/// The counter of cluster decisions this instance applied, tagged `mode`.
pub const DECISIONS_METRIC: &str = "cluster_decisions";
/// The counter of stale decisions refused, tagged `stage`: `publish` (the store's fence
/// refused this instance's decision: it had lost its lease) or `apply` (a decision older
/// than one already applied was read, and ignored).
pub const STALE_DECISIONS_METRIC: &str = "cluster_stale_decisions_refused";
/// The gauge of this instance's coordination: 1 while it follows the cluster's
/// decisions, 0 while it cascades on its own (the store is unreachable).
pub const COORDINATED_METRIC: &str = "cluster_coordinated";

/// The `# HELP` text of each metric above, by name.
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        MEMBERS_METRIC,
        "Live members of the cluster (fresh heartbeats), as this instance last counted them",
    ),
    (
        LEADER_CHANGES_METRIC,
        "Leader changes (a new leader or a new lease epoch) this instance observed",
    ),
    (
        DECISIONS_METRIC,
        "Cluster decisions this instance applied, by the mode decided",
    ),
    (
        STALE_DECISIONS_METRIC,
        "Stale cluster decisions refused: by the store's fence (stage publish) or by this instance (stage apply)",
    ),
    (
        COORDINATED_METRIC,
        "1 while this instance follows the cluster's decisions, 0 while it cascades on its own",
    ),
];

/// Where a stale decision was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Publish,
    Apply,
}

/// The optional sink and the emitting helpers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    sink: Option<Arc<dyn MetricsSink>>,
}

impl Metrics {
    pub(crate) const fn new(sink: Option<Arc<dyn MetricsSink>>) -> Self {
        Self { sink }
    }

    #[allow(clippy::cast_precision_loss, reason = "a member count fits an f64")]
    pub(crate) fn members(&self, live: usize) {
        if let Some(sink) = &self.sink {
            sink.emit(MEMBERS_METRIC, live as f64, &[], None);
        }
    }

    pub(crate) fn leader_change(&self) {
        if let Some(sink) = &self.sink {
            sink.emit_counter(LEADER_CHANGES_METRIC, 1, &[]);
        }
    }

    pub(crate) fn decision(&self, mode: FallbackMode) {
        if let Some(sink) = &self.sink {
            sink.emit_counter(DECISIONS_METRIC, 1, &[("mode", mode.as_str())]);
        }
    }

    pub(crate) fn stale(&self, stage: Stage) {
        if let Some(sink) = &self.sink {
            let stage = match stage {
                Stage::Publish => "publish",
                Stage::Apply => "apply",
            };
            sink.emit_counter(STALE_DECISIONS_METRIC, 1, &[("stage", stage)]);
        }
    }

    pub(crate) fn coordinated(&self, coordinated: bool) {
        if let Some(sink) = &self.sink {
            sink.emit(
                COORDINATED_METRIC,
                if coordinated { 1.0 } else { 0.0 },
                &[],
                None,
            );
        }
    }
}
