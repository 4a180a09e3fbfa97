//! Mode callbacks: [`Callbacks`] keeps them by mode and runs those of the mode entered,
//! each isolated, on a task of their own.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tracing::Instrument as _;

use super::FallbackManager;
use super::metrics::Emitter;
use crate::isolate::{self, BoxFuture};
use crate::{BoxError, FallbackMode, Result, Transition};

type ModeCallback = Arc<dyn Fn(Transition) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;

tokio::task_local! {
    /// The [`Callbacks`] (by owner id) whose callbacks this task is running, innermost
    /// last.
    static RUNNING_CALLBACKS_OF: Arc<[u64]>;
}

/// The callbacks registered for each mode, and how they run: one after another in
/// registration order, each isolated ([`isolate::run`]: an error, a panic or the timeout
/// is logged and counted, and the next one still runs).
///
/// They run on a task of their own, which also holds the guard the caller hands over
/// (the manager's transition lock) until the last one ends: a caller that stops waiting
/// cannot cut them short, and the next change waits for them. Code they run can ask
/// [`running_here`](Self::running_here) whether it is one of them.
pub(super) struct Callbacks {
    /// Tells these callbacks apart from another manager's in [`RUNNING_CALLBACKS_OF`].
    owner: u64,
    timeout: Duration,
    metrics: Emitter,
    by_mode: RwLock<[Vec<ModeCallback>; 3]>,
}

impl Callbacks {
    /// No callbacks yet; each will run for at most `timeout`.
    pub(super) fn new(timeout: Duration, metrics: Emitter) -> Self {
        static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);
        Self {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            timeout,
            metrics,
            by_mode: RwLock::new([Vec::new(), Vec::new(), Vec::new()]),
        }
    }

    /// Adds `callback` after those already registered for `mode`.
    pub(super) fn register<F, Fut>(&self, mode: FallbackMode, callback: F)
    where
        F: Fn(Transition) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let callback: ModeCallback = Arc::new(move |transition| Box::pin(callback(transition)));
        self.by_mode.write()[usize::from(mode.level())].push(callback);
    }

    /// How many callbacks are registered for `mode`.
    pub(super) fn count(&self, mode: FallbackMode) -> usize {
        self.by_mode.read()[usize::from(mode.level())].len()
    }

    /// Whether the calling task is running one of these callbacks.
    pub(super) fn running_here(&self) -> bool {
        RUNNING_CALLBACKS_OF
            .try_with(|owners| owners.contains(&self.owner))
            .unwrap_or(false)
    }

    /// Runs the callbacks of the mode `transition` entered, then drops `guard`, both on a
    /// task of its own; returns when they are done (at once, with `guard` dropped, if
    /// there are none).
    pub(super) async fn run(&self, transition: &Transition, guard: impl Send + 'static) {
        let callbacks = self.by_mode.read()[usize::from(transition.to.level())].clone();
        if callbacks.is_empty() {
            return;
        }
        let mut running: Vec<u64> = RUNNING_CALLBACKS_OF
            .try_with(|owners| owners.to_vec())
            .unwrap_or_default();
        running.push(self.owner);
        let running: Arc<[u64]> = running.into();
        let (transition, timeout, metrics) =
            (transition.clone(), self.timeout, self.metrics.clone());
        let run = async move {
            for (index, callback) in callbacks.iter().enumerate() {
                // The callback builds its future inside the scope, so that code sees which
                // manager's callbacks it runs in too.
                let start = || {
                    let (running, transition) = (running.clone(), transition.clone());
                    RUNNING_CALLBACKS_OF.scope(running, async move { callback(transition).await })
                };
                let outcome = isolate::run(start, timeout).await;
                if !outcome.is_completed() {
                    tracing::warn!(
                        mode = %transition.to,
                        callback = index,
                        %outcome,
                        "fallback mode callback did not complete; the transition stands"
                    );
                    metrics.callback_failure(transition.to, &outcome);
                }
            }
            drop(guard);
        };
        // Fails only when the runtime shuts down, which cancels the callbacks anyway.
        let _ = tokio::spawn(run.instrument(tracing::Span::current())).await;
    }
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = FallbackMode::ALL.map(|mode| self.count(mode));
        f.debug_struct("Callbacks")
            .field("per_mode", &counts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FallbackManager {
    /// Registers `callback` to run each time the manager enters `mode`; several may be
    /// registered per mode and run one after another, in registration order, with the
    /// transition that entered the mode.
    ///
    /// Each runs isolated: an error, a panic or running longer than
    /// [`FallbackConfig::callback_timeout`] is logged and counted, and neither stops the
    /// transition nor the other callbacks. Callbacks run while the change still holds the
    /// manager's lock, so [`get_current_mode`](Self::get_current_mode) inside one returns
    /// `mode`; for the same reason a callback must not change this manager's mode (such a
    /// call is refused with [`Error::Reentrant`]). They run on a task of their own (in the
    /// caller's tracing span), so a caller that stops waiting for the change does not cut
    /// them short.
    ///
    /// [`FallbackConfig::callback_timeout`]: crate::FallbackConfig::callback_timeout
    /// [`Error::Reentrant`]: crate::Error::Reentrant
    pub fn register_mode_callback<F, Fut>(&self, mode: FallbackMode, callback: F)
    where
        F: Fn(Transition) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.callbacks.register(mode, callback);
    }

    /// How many callbacks are registered for `mode`.
    #[must_use]
    pub fn mode_callback_count(&self, mode: FallbackMode) -> usize {
        self.callbacks.count(mode)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use health_model::Timestamp;
    use health_sinks::testing::{Emitted, RecordingSink};
    use parking_lot::Mutex;

    use super::*;
    use crate::manager::CALLBACK_FAILURES_METRIC;

    fn entering(mode: FallbackMode) -> Transition {
        Transition::new(
            Timestamp::now(),
            FallbackMode::Primary,
            mode,
            "test".to_owned(),
        )
    }

    type Calls = Arc<Mutex<Vec<String>>>;

    /// A callback that notes `name` and the mode entered, then does `then`.
    fn noting<Fut>(
        calls: &Calls,
        name: &'static str,
        then: impl Fn() -> Fut + Send + Sync + 'static,
    ) -> impl Fn(Transition) -> BoxFuture<Result<(), BoxError>> + Send + Sync + 'static
    where
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let calls = calls.clone();
        move |transition: Transition| {
            calls.lock().push(format!("{name}@{}", transition.to));
            Box::pin(then())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_modes_callbacks_run_in_order_and_each_failure_is_contained() {
        let sink = Arc::new(RecordingSink::new());
        let callbacks = Callbacks::new(Duration::from_secs(1), Emitter::new(Some(sink.clone())));
        let calls = Calls::default();
        callbacks.register(
            FallbackMode::Safe,
            noting(&calls, "fails", || async { Err("no".into()) }),
        );
        callbacks.register(
            FallbackMode::Safe,
            noting(
                &calls,
                "hangs",
                std::future::pending::<Result<(), BoxError>>,
            ),
        );
        callbacks.register(FallbackMode::Safe, |_| -> BoxFuture<Result<(), BoxError>> {
            panic!("callback bug")
        });
        callbacks.register(
            FallbackMode::Safe,
            noting(&calls, "works", || async { Ok(()) }),
        );
        callbacks.register(
            FallbackMode::Heuristic,
            noting(&calls, "other", || async { Ok(()) }),
        );
        assert_eq!(
            FallbackMode::ALL.map(|mode| callbacks.count(mode)),
            [0, 1, 4]
        );

        callbacks.run(&entering(FallbackMode::Safe), ()).await;
        assert_eq!(*calls.lock(), ["fails@safe", "hangs@safe", "works@safe"]);
        let outcomes: Vec<String> = sink
            .take()
            .into_iter()
            .map(|emitted| match emitted {
                Emitted::Counter(name, 1, tags) if name == CALLBACK_FAILURES_METRIC => {
                    assert_eq!(tags[0], ("mode".to_owned(), "safe".to_owned()));
                    tags[1].1.clone()
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(outcomes, ["failed", "timed_out", "panicked"]);

        callbacks.run(&entering(FallbackMode::Primary), ()).await;
        assert_eq!(calls.lock().len(), 3, "no callback for primary");
    }

    #[tokio::test]
    async fn callbacks_know_they_run_and_whose_they_are() {
        let (ours, theirs) = (
            Arc::new(Callbacks::new(Duration::from_secs(1), Emitter::default())),
            Arc::new(Callbacks::new(Duration::from_secs(1), Emitter::default())),
        );
        let seen: Arc<Mutex<Vec<(bool, bool)>>> = Arc::default();
        let (inside, ours_inside, theirs_inside) = (seen.clone(), ours.clone(), theirs.clone());
        ours.register(FallbackMode::Safe, move |_| {
            let (seen, ours, theirs) = (inside.clone(), ours_inside.clone(), theirs_inside.clone());
            async move {
                seen.lock()
                    .push((ours.running_here(), theirs.running_here()));
                Ok(())
            }
        });
        assert!(!ours.running_here());
        ours.run(&entering(FallbackMode::Safe), ()).await;
        assert_eq!(*seen.lock(), [(true, false)]);
        assert!(!ours.running_here());
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_gives_up_does_not_cut_the_callbacks_short() {
        let callbacks = Callbacks::new(Duration::from_secs(60), Emitter::default());
        let done: Arc<Mutex<bool>> = Arc::default();
        let flag = done.clone();
        callbacks.register(FallbackMode::Heuristic, move |_| {
            let flag = flag.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                *flag.lock() = true;
                Ok(())
            }
        });
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let guard = lock.clone().lock_owned().await;
        let gave_up = tokio::time::timeout(
            Duration::from_secs(1),
            callbacks.run(&entering(FallbackMode::Heuristic), guard),
        )
        .await;
        assert!(gave_up.is_err());
        assert!(!*done.lock());
        // The guard is released only once the callback has finished.
        let _next = lock.lock().await;
        assert!(*done.lock());
    }
}
