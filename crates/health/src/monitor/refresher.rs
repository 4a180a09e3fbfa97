//! The background refresher: [`RefresherHandle`] and the task it stops.

use std::sync::Weak;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Inner;

/// Runs each check when its turn comes (its own interval, else `interval`, from its
/// initial delay on), and re-samples resources at least every `interval` (or every
/// sample interval, if shorter).
pub(super) async fn refresh_every(monitor: Weak<Inner>, interval: Duration) {
    loop {
        let Some(inner) = monitor.upgrade() else {
            return;
        };
        // Resources are sampled beside the checks, never awaited: a probe stuck on a dead
        // network mount must not stop the checks from being refreshed.
        let mut wake_within = interval;
        if let Some(sampler) = &inner.resources {
            sampler.refresh_in_background();
            wake_within = wake_within.min(sampler.sample_interval());
        }
        let now = Instant::now();
        let (due, wake) = inner.take_due(now, interval);
        inner.run_entries(due).await;
        inner.emit_gauges();
        drop(inner);
        tokio::time::sleep_until(wake.min(now + wake_within)).await;
    }
}

/// Stops the task started by [`HealthMonitor::spawn_refresher`](super::HealthMonitor::spawn_refresher) when stopped or dropped.
#[derive(Debug)]
pub struct RefresherHandle {
    pub(super) task: JoinHandle<()>,
}

impl RefresherHandle {
    /// Whether the task still runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the task and waits until it has stopped (a check it was running is
    /// cancelled).
    pub async fn stop(mut self) {
        self.task.abort();
        // Cancelled is the expected outcome; a panic cannot happen (checks are isolated).
        let _stopped = (&mut self.task).await;
    }
}

impl Drop for RefresherHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
