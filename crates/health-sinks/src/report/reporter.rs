//! [`Reporter`]: what a validating sink counts and logs about what it normalizes or drops.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{DropReason, SinkStats};

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
    #[cfg(feature = "dogstatsd")]
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
