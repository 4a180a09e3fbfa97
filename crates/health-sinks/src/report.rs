use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The counter, labelled `reason`, in which a `PrometheusMetricsSink` exports what it
/// dropped (see [`DropReason`]).
pub const DROPPED_METRIC: &str = "health_sinks_dropped_total";

/// The `# HELP` text of each metric this crate emits itself, by name (a Prometheus sink
/// describes them on its own).
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[(
    DROPPED_METRIC,
    "Metric emissions the sink dropped instead of exporting, by reason",
)];

/// Why a sink dropped an emission instead of exporting it.
///
/// Every drop is counted in [`SinkStats`] and logged as a `tracing` warning the first time
/// it happens for a metric name. A `PrometheusMetricsSink` also exports the counts as
/// [`DROPPED_METRIC`]`{reason="..."}`, labelled with [`DropReason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The metric name is empty.
    EmptyName,
    /// A gauge or histogram value is NaN or infinite.
    NonFiniteValue,
    /// A tag key is empty.
    EmptyTagKey,
    /// Two tags have the same key (after normalization, for Prometheus), so the series has
    /// no single value for it.
    DuplicateTagKey,
    /// A tag key the format reserves for itself, e.g. `le` on a Prometheus histogram.
    ReservedTagKey,
    /// The name (or one of the sample names it renders as) already belongs to a metric of
    /// another kind, e.g. a counter after a gauge of the same name.
    NameConflict,
    /// The sink already holds its configured maximum number of series.
    SeriesLimit,
    /// The encoded metric is larger than the configured maximum datagram size.
    TooLarge,
    /// The datagram could not be sent (no listener, socket buffer full).
    SendFailed,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::EmptyName,
        Self::NonFiniteValue,
        Self::EmptyTagKey,
        Self::DuplicateTagKey,
        Self::ReservedTagKey,
        Self::NameConflict,
        Self::SeriesLimit,
        Self::TooLarge,
        Self::SendFailed,
    ];

    /// The reason as a `snake_case` label value, e.g. `"name_conflict"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmptyName => "empty_name",
            Self::NonFiniteValue => "non_finite_value",
            Self::EmptyTagKey => "empty_tag_key",
            Self::DuplicateTagKey => "duplicate_tag_key",
            Self::ReservedTagKey => "reserved_tag_key",
            Self::NameConflict => "name_conflict",
            Self::SeriesLimit => "series_limit",
            Self::TooLarge => "too_large",
            Self::SendFailed => "send_failed",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sink rewrote or dropped since it was built: a snapshot of its counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    normalized: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl SinkStats {
    /// Emissions exported under a rewritten name or tag key (e.g. `db-pool` as `db_pool`).
    #[must_use]
    pub const fn normalized(&self) -> u64 {
        self.normalized
    }

    /// Emissions dropped for `reason`.
    #[must_use]
    pub const fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Emissions dropped for any reason.
    #[must_use]
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Distinct (reason, name) pairs warned about; past it, drops are only counted, so a
/// caller inventing names cannot grow memory or flood the log.
const MAX_WARNED: usize = 1024;

/// Counts and logs what a sink normalizes or drops; shared by the sinks that validate.
pub(crate) struct Reporter {
    sink: &'static str,
    normalized: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    warned: Mutex<Warned>,
}

/// The names warned about, by category (a drop reason, `normalized`, `warn_once`).
#[derive(Default)]
struct Warned {
    names: HashMap<&'static str, HashSet<String>>,
    total: usize,
}

impl Reporter {
    pub(crate) fn new(sink: &'static str) -> Self {
        Self {
            sink,
            normalized: AtomicU64::new(0),
            dropped: Default::default(),
            warned: Mutex::default(),
        }
    }

    /// Counts one dropped emission.
    pub(crate) fn count_dropped(&self, reason: DropReason) {
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Warns that `name` is dropped for `reason`, the first time for this reason and name.
    pub(crate) fn warn_dropped(&self, reason: DropReason, name: &str, detail: fmt::Arguments<'_>) {
        if self.first_time(reason.as_str(), name) {
            tracing::warn!(
                sink = self.sink,
                metric = name,
                reason = reason.as_str(),
                "metric dropped: {detail} (further drops of this metric are counted, not logged)"
            );
        }
    }

    /// Counts one emission exported under a rewritten name or tag key.
    pub(crate) fn count_normalized(&self) {
        self.normalized.fetch_add(1, Ordering::Relaxed);
    }

    /// Warns, once per name, that `name` is exported differently; `detail` says how.
    pub(crate) fn normalized(&self, name: &str, detail: fmt::Arguments<'_>) {
        if self.first_time("normalized", name) {
            tracing::warn!(
                sink = self.sink,
                metric = name,
                "metric normalized: {detail}"
            );
        }
    }

    /// Warns once per `kind` about a failure that is not tied to one metric.
    pub(crate) fn warn_once(&self, kind: &str, detail: fmt::Arguments<'_>) {
        if self.first_time("warn_once", kind) {
            tracing::warn!(
                sink = self.sink,
                "{detail} (further occurrences are counted, not logged)"
            );
        }
    }

    pub(crate) fn stats(&self) -> SinkStats {
        SinkStats {
            normalized: self.normalized.load(Ordering::Relaxed),
            dropped: std::array::from_fn(|i| self.dropped[i].load(Ordering::Relaxed)),
        }
    }

    fn first_time(&self, category: &'static str, name: &str) -> bool {
        let mut warned = self.warned.lock();
        let Warned { names, total } = &mut *warned;
        let names = names.entry(category).or_default();
        // Looked up before anything is allocated: this runs on every dropped emission.
        if *total >= MAX_WARNED || names.contains(name) {
            return false;
        }
        names.insert(name.to_owned());
        *total += 1;
        true
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("sink", &self.sink)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_declaration_order() {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
    }

    #[test]
    fn warnings_are_once_per_category_and_name() {
        let reporter = Reporter::new("test");
        assert!(reporter.first_time("normalized", "db-pool"));
        assert!(!reporter.first_time("normalized", "db-pool"));
        assert!(reporter.first_time("empty_name", "db-pool"));
        assert!(reporter.first_time("normalized", "other"));
        assert_eq!(reporter.warned.lock().total, 3);
    }

    #[test]
    fn stats_count_every_drop_but_warnings_are_bounded() {
        let reporter = Reporter::new("test");
        for i in 0..(MAX_WARNED + 10) {
            reporter.count_dropped(DropReason::EmptyName);
            reporter.warn_dropped(DropReason::EmptyName, &format!("m{i}"), format_args!("x"));
        }
        reporter.count_dropped(DropReason::TooLarge);
        reporter.count_normalized();
        let stats = reporter.stats();
        assert_eq!(
            stats.dropped(DropReason::EmptyName),
            (MAX_WARNED + 10) as u64
        );
        assert_eq!(stats.dropped(DropReason::TooLarge), 1);
        assert_eq!(stats.dropped_total(), (MAX_WARNED + 11) as u64);
        assert_eq!(stats.normalized(), 1);
        let warned = reporter.warned.lock().total;
        assert_eq!(warned, MAX_WARNED);
    }
}
