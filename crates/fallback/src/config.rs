use std::time::Duration;

/// The manager's settings. Start from [`FallbackConfig::default`] and change fields, or
/// use the setters of [`FallbackManagerBuilder`](crate::FallbackManagerBuilder).
///
/// ```
/// use std::time::Duration;
/// use fallback::{FallbackConfig, Hysteresis};
///
/// let mut config = FallbackConfig::default();
/// config.max_log_entries = 500;
/// config.hysteresis = Some(Hysteresis::new().min_dwell(Duration::from_secs(30)));
/// assert_eq!(config.record_ttl, Duration::from_secs(24 * 3600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FallbackConfig {
    /// The first segment of every storage key: records go under
    /// `<namespace>:transition:<id>` and fallback definitions under
    /// `<namespace>:definition:<name>` (default `"fallback"`).
    pub namespace: String,
    /// How many transitions the in-memory log keeps, the newest (default 100).
    /// `total_transitions` still counts every transition.
    pub max_log_entries: usize,
    /// How many records wait for storage at most while it fails; beyond that the oldest
    /// are dropped and counted (default 1000; 0 counts as 1, the record being written).
    pub max_pending_records: usize,
    /// How long a persisted transition record lives in storage (default 24 hours). It
    /// must be one the storage accepts (not zero): a record storage refuses as an invalid
    /// argument is dropped and counted, not retried.
    pub record_ttl: Duration,
    /// How long one mode callback or fallback action may run before it is abandoned
    /// (default 5 seconds).
    pub callback_timeout: Duration,
    /// How long one storage write may take before the record is put back in the queue
    /// (default 2 seconds).
    pub persist_timeout: Duration,
    /// Damping of recoveries; `None` (the default) changes mode at every cascade whose
    /// target differs, as the original does.
    pub hysteresis: Option<Hysteresis>,
}

impl FallbackConfig {
    /// The default namespace of storage keys.
    pub const DEFAULT_NAMESPACE: &'static str = "fallback";
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            namespace: Self::DEFAULT_NAMESPACE.to_owned(),
            max_log_entries: 100,
            max_pending_records: 1000,
            record_ttl: Duration::from_secs(24 * 60 * 60),
            callback_timeout: Duration::from_secs(5),
            persist_timeout: Duration::from_secs(2),
            hysteresis: None,
        }
    }
}

/// Damping of recoveries, so a service that flaps between healthy and unhealthy does not
/// flap between modes.
///
/// Degradation is never delayed: a worse target is entered at the next cascade, since
/// staying on a failing path is what the cascade exists to avoid. A step towards PRIMARY
/// needs all of:
///
/// - the current mode was entered at least [`min_dwell`](Self::min_dwell) ago;
/// - the last [`recovery_evaluations`](Self::recovery_evaluations) cascades in a row all
///   called for a healthier mode (any other cascade restarts the count);
/// - the step goes no further than the least healthy mode those cascades called for
///   (SAFE, then two cascades for HEURISTIC and one for PRIMARY: HEURISTIC), the reason
///   then ending in `damped_recovery(target=<mode>)`;
/// - with [`stepwise`](Self::stepwise), the step goes one mode at a time (SAFE, then
///   HEURISTIC, then PRIMARY, each step meeting the rules above again), the reason then
///   ending in `stepwise_recovery(target=<mode>)` when the target was further.
///
/// `Hysteresis::new()` alone damps nothing; set what you need:
///
/// ```
/// use std::time::Duration;
/// use fallback::Hysteresis;
///
/// let damped = Hysteresis::new()
///     .min_dwell(Duration::from_secs(60))
///     .recovery_evaluations(3)
///     .stepwise(true);
/// assert_eq!(damped.get_recovery_evaluations(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    min_dwell: Duration,
    recovery_evaluations: u32,
    stepwise: bool,
}

impl Hysteresis {
    /// No damping yet: no dwell time, one evaluation, straight to the target.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            min_dwell: Duration::ZERO,
            recovery_evaluations: 1,
            stepwise: false,
        }
    }

    /// The least time spent in a mode before stepping up out of it.
    #[must_use]
    pub const fn min_dwell(self, min_dwell: Duration) -> Self {
        Self { min_dwell, ..self }
    }

    /// How many cascades in a row must call for a healthier mode before stepping up
    /// (0 counts as 1).
    #[must_use]
    pub const fn recovery_evaluations(self, evaluations: u32) -> Self {
        let recovery_evaluations = if evaluations == 0 { 1 } else { evaluations };
        Self {
            recovery_evaluations,
            ..self
        }
    }

    /// Whether to step up one mode at a time.
    #[must_use]
    pub const fn stepwise(self, stepwise: bool) -> Self {
        Self { stepwise, ..self }
    }

    /// See [`min_dwell`](Self::min_dwell).
    #[must_use]
    pub const fn get_min_dwell(&self) -> Duration {
        self.min_dwell
    }

    /// See [`recovery_evaluations`](Self::recovery_evaluations); at least 1.
    #[must_use]
    pub const fn get_recovery_evaluations(&self) -> u32 {
        self.recovery_evaluations
    }

    /// See [`stepwise`](Self::stepwise).
    #[must_use]
    pub const fn is_stepwise(&self) -> bool {
        self.stepwise
    }
}

impl Default for Hysteresis {
    /// [`Hysteresis::new`]: no damping.
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_new_and_counts_at_least_one_evaluation() {
        assert_eq!(Hysteresis::default(), Hysteresis::new());
        assert_eq!(Hysteresis::default().get_recovery_evaluations(), 1);
        assert_eq!(
            Hysteresis::new()
                .recovery_evaluations(0)
                .get_recovery_evaluations(),
            1
        );
    }
}
