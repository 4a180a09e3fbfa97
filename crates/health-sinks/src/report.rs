use std::fmt;

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

#[cfg(any(feature = "prometheus", feature = "dogstatsd"))]
mod reporter;
#[cfg(any(feature = "prometheus", feature = "dogstatsd"))]
pub(crate) use reporter::Reporter;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_declaration_order() {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
    }
}
