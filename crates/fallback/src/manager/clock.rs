//! [`Clock`]: the manager's monotonic clock, which hold deadlines and the time in a mode
//! are read on.

use std::time::Duration;

use tokio::time::Instant;

/// Nanoseconds since the manager was built, on tokio's monotonic clock (so a paused test
/// clock applies). A `u64` reading fits an atomic word; it saturates after about 584
/// years.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock that reads 0 now.
    pub(super) fn start() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// The time now.
    #[inline]
    pub(super) fn now(self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// The time `duration` from now.
    pub(super) fn after(self, duration: Duration) -> u64 {
        self.now().saturating_add(nanos(duration))
    }

    /// The time since `then`, a reading of this clock (zero for one that is later).
    pub(super) fn since(self, then: u64) -> Duration {
        Duration::from_nanos(self.now().saturating_sub(then))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn readings_follow_tokios_clock_and_saturate() {
        let clock = Clock::start();
        let start = clock.now();
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(clock.now() - start, 250_000_000);
        assert_eq!(clock.since(start), Duration::from_millis(250));
        assert_eq!(clock.since(u64::MAX), Duration::ZERO);
        assert_eq!(
            clock.after(Duration::from_secs(1)),
            clock.now() + 1_000_000_000
        );
        assert_eq!(clock.after(Duration::MAX), u64::MAX);
    }
}
