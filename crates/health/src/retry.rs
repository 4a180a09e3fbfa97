//! Retry signals: [`RetryStatus`], through which the monitor reads any retry policy's
//! attempt count, [`RetryTracker`] for code without one, and the bound on the retry
//! failures the monitor remembers. The verdict for a number of failures is
//! [`RetryState::for_failures`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use health_model::{RetryHealth, RetryState};
use tokio::time::Instant;

/// Anything the monitor can read a retry policy's attempt count from.
///
/// [`RetryTracker`] implements it; implement it for your own retry layer to have its
/// attempts reported as `retry.total_attempts`.
pub trait RetryStatus: Send + Sync {
    /// Retry attempts made so far.
    fn total_attempts(&self) -> u64;
}

impl<T: RetryStatus + ?Sized> RetryStatus for Arc<T> {
    fn total_attempts(&self) -> u64 {
        (**self).total_attempts()
    }
}

/// A counter of retry attempts, for retry code that has none of its own. Clones share
/// the count.
#[derive(Debug, Clone, Default)]
pub struct RetryTracker {
    attempts: Arc<AtomicU64>,
}

impl RetryTracker {
    /// A tracker at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one attempt.
    pub fn record_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }
}

impl RetryStatus for RetryTracker {
    fn total_attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }
}

/// The most failures a window remembers; beyond it the oldest are forgotten, so a flood
/// of failures costs bounded memory (the count saturates here, far above critical).
pub const MAX_TRACKED_RETRY_FAILURES: usize = 100_000;

/// Retry failures in a sliding time window.
#[derive(Debug)]
pub(crate) struct FailureWindow {
    window: Duration,
    failures: VecDeque<Instant>,
}

impl FailureWindow {
    pub(crate) const fn new(window: Duration) -> Self {
        Self {
            window,
            failures: VecDeque::new(),
        }
    }

    pub(crate) fn record(&mut self, at: Instant) {
        if self.failures.len() >= MAX_TRACKED_RETRY_FAILURES {
            self.failures.pop_front();
        }
        self.failures.push_back(at);
    }

    /// Forgets failures at or before `now - window` and reports the rest.
    pub(crate) fn health(&mut self, now: Instant, total_attempts: u64) -> RetryHealth {
        if let Some(cutoff) = now.checked_sub(self.window) {
            while self.failures.front().is_some_and(|at| *at <= cutoff) {
                self.failures.pop_front();
            }
        }
        let failures = self.failures.len() as u64;
        RetryHealth {
            state: RetryState::for_failures(failures),
            failures_1h: failures,
            #[allow(
                clippy::cast_precision_loss,
                reason = "at most MAX_TRACKED_RETRY_FAILURES, exact in f64"
            )]
            failure_rate: failures as f64 / self.window.as_secs_f64(),
            total_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_the_rate_uses_its_real_length() {
        let start = Instant::now();
        let mut window = FailureWindow::new(Duration::from_secs(60));
        window.record(start);
        window.record(start + Duration::from_secs(30));
        window.record(start + Duration::from_secs(59));
        let health = window.health(start + Duration::from_secs(59), 7);
        assert_eq!(health.failures_1h, 3);
        assert!((health.failure_rate - 3.0 / 60.0).abs() < 1e-12);
        assert_eq!(health.total_attempts, 7);
        // At exactly one window after the first failure, it has left the window.
        let health = window.health(start + Duration::from_secs(60), 0);
        assert_eq!(health.failures_1h, 2);
        let health = window.health(start + Duration::from_secs(200), 0);
        assert_eq!((health.failures_1h, health.state), (0, RetryState::Stable));
    }

    #[test]
    fn memory_is_bounded() {
        let now = Instant::now();
        let mut window = FailureWindow::new(Duration::from_secs(3600));
        for _ in 0..MAX_TRACKED_RETRY_FAILURES + 10 {
            window.record(now);
        }
        let health = window.health(now, 0);
        assert_eq!(health.failures_1h, MAX_TRACKED_RETRY_FAILURES as u64);
        assert_eq!(health.state, RetryState::Critical);
    }

    #[test]
    fn the_tracker_counts_across_clones() {
        let tracker = RetryTracker::new();
        let clone = tracker.clone();
        tracker.record_attempt();
        clone.record_attempt();
        assert_eq!(tracker.total_attempts(), 2);
        let shared: Arc<dyn RetryStatus> = Arc::new(clone);
        assert_eq!(shared.total_attempts(), 2);
    }
}
