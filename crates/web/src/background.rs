//! [`CascadeTask`]: the loop that keeps the mode current for a service that embeds the
//! routes, as the server runs it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::error::{Chain, WebError};
use crate::state::{ResilienceState, Shared};

impl Shared {
    /// Cascades on the monitor's cached state on a task of its own, now rather than at
    /// the next tick: after a change (alerts ingested, the breaker opened) whose cause
    /// should not wait for its answer. Nothing happens outside a Tokio runtime.
    pub(crate) fn cascade_soon(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            let health = shared.monitor.cached_state();
            shared.fallback.cascade(&health).await;
        });
    }
}

/// The cascade loop of [`ResilienceState::spawn_cascade`]: stopped by
/// [`stop`](Self::stop) or when dropped.
#[derive(Debug)]
pub struct CascadeTask {
    task: JoinHandle<()>,
}

impl CascadeTask {
    /// Stops the loop and waits until it has.
    pub async fn stop(mut self) {
        self.task.abort();
        // Cancelled is the expected end of the loop.
        let _cancelled = (&mut self.task).await;
    }
}

impl Drop for CascadeTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResilienceState {
    /// Starts the loop that keeps the mode current: every `interval`, alert components
    /// quiet for longer than the alert limits allow expire, a cascade runs on the
    /// monitor's cached state (no check runs: keep them fresh with
    /// [`HealthMonitor::spawn_refresher`](health::HealthMonitor::spawn_refresher)), then
    /// the transition records and fallback definitions storage refused are written again,
    /// and the Prometheus sink's histogram buffers are drained. The first round runs one
    /// interval from now. A round that panics is logged and the next one runs.
    ///
    /// # Errors
    ///
    /// [`WebError::Background`] for a zero interval or outside a Tokio runtime.
    pub fn spawn_cascade(&self, interval: Duration) -> Result<CascadeTask, WebError> {
        if interval.is_zero() {
            return Err(WebError::Background {
                reason: "the cascade interval must be greater than zero",
            });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebError::Background {
            reason: "spawn_cascade needs a Tokio runtime",
        })?;
        let state = self.clone();
        let task = runtime.spawn(every(interval, move || {
            let state = state.clone();
            async move {
                let shared = &state.shared;
                #[cfg(feature = "alerts")]
                if shared.alerts.expire() > 0 {
                    // Alert components went quiet and were removed.
                    shared.invalidate();
                }
                let health = shared.monitor.cached_state();
                shared.fallback.cascade(&health).await;
                if let Err(error) = shared.fallback.flush_pending().await {
                    tracing::debug!(error = %Chain(&error), "transition records or fallback rules still wait for storage");
                }
                #[cfg(feature = "prometheus")]
                shared.prometheus.run_upkeep();
            }
        }));
        Ok(CascadeTask { task })
    }
}

/// Runs `round` every `interval`, the first time one interval from now (start-up has
/// just cascaded). A round that panics is logged and the next one runs: the loop never
/// dies silently, leaving the mode frozen and queued records unwritten.
async fn every<F, Fut>(interval: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        // Built inside the caught future, so a panic while building it is caught too.
        if let Err(panic) = AssertUnwindSafe(async { round().await })
            .catch_unwind()
            .await
        {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            tracing::error!(%message, "a background cascade round panicked; the next one runs on schedule");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Runs [`every`] with rounds whose first one panics, while being built or while
    /// running, and checks that rounds go on.
    async fn check_rounds_go_on_after(panic_while_building: bool) {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let looping = tokio::spawn(every(Duration::from_millis(5), move || {
            let round = counted.fetch_add(1, Ordering::SeqCst);
            assert!(
                !(panic_while_building && round == 0),
                "building the first round panics"
            );
            async move {
                assert!(panic_while_building || round != 0, "the first round panics");
            }
        }));
        for _ in 0..200 {
            if rounds.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!looping.is_finished(), "the loop ended");
        assert!(
            rounds.load(Ordering::SeqCst) >= 3,
            "no round after the panic (while building: {panic_while_building})"
        );
        looping.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_that_panics_does_not_end_the_loop() {
        check_rounds_go_on_after(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_that_panics_while_being_built_does_not_end_the_loop() {
        check_rounds_go_on_after(true).await;
    }
}
