//! The [`FallbackManager`], composed of one unit per concern. Each unit owns its state
//! and its lock behind a small `pub(super)` interface; none knows another. This file
//! sequences them.
//!
//! | unit | owns | lock |
//! |------|------|------|
//! | [`ModeState`] (`mode.rs`) | mode, entry time, hysteresis streak, policy | none (atomics) |
//! | [`HoldCell`] (`hold.rs`) | the operator's hold, one packed word | none (one atomic) |
//! | [`Journal`] (`journal.rs`) | log, count, pending-record queue | `Mutex`es + async flush lock |
//! | [`Callbacks`] (`callbacks.rs`) | mode callbacks, re-entrancy marker | `RwLock` |
//! | [`Registry`] (`registry.rs`) | active and pending fallbacks, parser | `RwLock`, `Mutex` + async registration lock |
//! | [`Detectors`] (`detection.rs`) | the detector of each mode | none (immutable) |
//! | [`Store`] (`store.rs`), [`Emitter`] (`metrics.rs`), [`Clock`] (`clock.rs`) | timed storage calls, metric emission, the monotonic clock: shared by clones or copies | none |
//!
//! How they talk, all through this file:
//!
//! - [`cascade`](FallbackManager::cascade) asks [`ModeState`] for the current mode and
//!   the policy's target; when they agree it ends there (one atomic read and the policy:
//!   the unchanged path). Otherwise it asks [`HoldCell`] whether a hold is in force, then
//!   [`ModeState::admits`] whether hysteresis lets the change through.
//! - A change takes the manager's one transition lock, settles the hold
//!   ([`HoldCell`]), plans again ([`ModeState::plan`]), enters the new mode
//!   ([`ModeState::enter`]), records it ([`Journal::record`]) and emits it ([`Emitter`]);
//!   a hold request pins the hold ([`HoldCell::pin`]). It then hands the lock's guard to
//!   [`Callbacks::run`], which drops it once the callbacks end, and persists what is
//!   pending ([`Journal::flush`], then [`Registry::store_pending`]) without waiting for
//!   a flush or registration already running.
//! - A hold that ends ([`Look::Ended`], or a release) makes the manager drop the
//!   hysteresis evidence ([`ModeState::forget_streak`]), as a new hold does.
//! - No unit lock is held while another is taken: the synchronous locks guard short
//!   sections and are never held across an `await`, and the async locks (transition,
//!   journal flush, registration) are taken one after another, never nested.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use health_model::{HealthState, Timestamp};
use storage::{MemoryStorage, Storage};

use crate::{
    CascadePolicy, Error, FallbackConfig, FallbackMode, MANUAL_REASON, Result, Transition,
};

mod builder;
pub use builder::FallbackManagerBuilder;

mod callbacks;
use callbacks::Callbacks;

mod clock;
use clock::Clock;

mod detection;
use detection::Detectors;

mod hold;
pub use hold::ModeHold;
use hold::{HoldCell, Look};

mod journal;
use journal::Journal;

mod metrics;
use metrics::Emitter;
pub use metrics::{
    CALLBACK_FAILURES_METRIC, DROPPED_RECORDS_METRIC, METRIC_DESCRIPTIONS, MODE_METRIC,
    ManagerMetrics, PERSIST_FAILURES_METRIC, RECENT_TRANSITIONS, TIME_IN_MODE_METRIC,
    TRANSITIONS_METRIC,
};

mod mode;
use mode::ModeState;

mod registry;
use registry::Registry;

mod store;
use store::Store;

/// The progressive fallback manager: turns health into a mode (PRIMARY, HEURISTIC, SAFE),
/// explains and keeps every change, and tells whoever registered for it.
///
/// - [`cascade`](Self::cascade) applies the [`CascadePolicy`] (by default the original's
///   [`ThresholdPolicy`](crate::ThresholdPolicy)) to a [`HealthState`]. When the mode
///   does not change it takes no lock and allocates nothing: it is safe to call on every
///   request from every task.
/// - A change is serialized through one async lock and re-checked under it, so any number
///   of concurrent [`cascade`](Self::cascade) and [`set_mode`](Self::set_mode) calls make
///   exactly one [`Transition`] per real change. The record is kept in a bounded log and
///   persisted as a JSON object under `<namespace>:transition:<id>` (unique,
///   time-ordered ids; 24 h expiry). A storage failure never blocks or undoes a
///   transition: the record waits in a bounded queue and is written when storage works
///   again (at the next transition, or by [`flush_pending`](Self::flush_pending)).
/// - Operators override the mode two ways: [`set_mode`](Self::set_mode) is a one-shot
///   change (the next cascade decides again), [`hold_mode`](Self::hold_mode) pins the
///   mode, until [`release_hold`](Self::release_hold) or for a duration, and no cascade
///   changes it meanwhile ([`current_hold`](Self::current_hold) says what is held).
///   Automated actors use [`set_mode_unless_held`](Self::set_mode_unless_held), which
///   yields to a hold.
/// - Mode callbacks run on entry to their mode, while the change still holds the lock, so
///   each sees the mode it was called for; each runs isolated (its error, panic or
///   timeout is logged and counted, and never stops the transition or the others).
/// - [`detect_anomaly`](Self::detect_anomaly) asks the detector of the current mode;
///   [`register_fallback`](Self::register_fallback) and
///   [`evaluate_fallbacks`](Self::evaluate_fallbacks) run actions whose `condition`
///   expressions hold. [`register_fallback_or_queue`](Self::register_fallback_or_queue)
///   rides out a storage outage as transitions do: the fallback waits, inactive, until
///   its definition is stored.
///
/// See the [crate documentation](crate) for an example.
pub struct FallbackManager {
    config: FallbackConfig,
    /// The mode and the rule that moves it: read without locking by every cascade.
    modes: ModeState,
    /// The operator's hold: read only by cascades whose target differs from the current
    /// mode, pinned and cleared under `transition_lock` (released and expired without it).
    hold: HoldCell,
    /// Serializes mode changes; held while the entry callbacks run (by their task).
    transition_lock: Arc<tokio::sync::Mutex<()>>,
    /// The transitions: counted, logged, and queued for storage.
    journal: Journal,
    /// The mode callbacks, run on entry to their mode.
    callbacks: Callbacks,
    /// The registered fallbacks, active and pending.
    registry: Registry,
    /// The detector of each mode.
    detectors: Detectors,
    /// Where records and definitions go (the journal and the registry hold clones).
    store: Store,
    /// Where the mode gauge and the transition metrics go.
    metrics: Emitter,
}

/// What asks for a mode change.
#[derive(Clone, Copy)]
enum Request<'a> {
    /// A cascade on the state, with the target the policy found for it.
    Cascade(&'a HealthState, FallbackMode),
    Manual(FallbackMode, HoldRequest),
}

/// What a manual change does with the operator's hold.
#[derive(Clone, Copy)]
enum HoldRequest {
    /// Clears it: a one-shot change ([`FallbackManager::set_mode_to`]).
    Clear,
    /// Pins the mode, for a duration or until released ([`FallbackManager::hold_mode`]).
    Pin(Option<Duration>),
    /// Changes nothing while a hold is in force ([`FallbackManager::set_mode_unless_held`]).
    Yield,
}

impl FallbackManager {
    /// A manager with default settings on `storage`.
    #[must_use]
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::builder(storage).build()
    }

    /// A manager with default settings on a [`MemoryStorage`] of its own, as the
    /// original's legacy constructor made it. Records then live only as long as the
    /// manager: pass a shared storage to [`new`](Self::new) to keep them.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryStorage::new()))
    }

    /// The storage records and definitions are kept in.
    #[must_use]
    pub fn storage(&self) -> &Arc<dyn Storage> {
        self.store.storage()
    }

    /// The settings.
    #[must_use]
    pub const fn config(&self) -> &FallbackConfig {
        &self.config
    }

    /// The decision rule.
    #[must_use]
    pub fn policy(&self) -> &dyn CascadePolicy {
        self.modes.policy()
    }

    /// The current mode.
    #[must_use]
    #[inline]
    pub fn get_current_mode(&self) -> FallbackMode {
        self.modes.current()
    }

    /// The current mode's name: `"primary"`, `"heuristic"` or `"safe"`.
    #[must_use]
    pub fn get_mode_string(&self) -> &'static str {
        self.get_current_mode().as_str()
    }

    /// Whether the mode is anything but PRIMARY.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        self.get_current_mode().is_degraded()
    }

    /// Whether the mode is SAFE.
    #[must_use]
    pub fn is_safe_mode(&self) -> bool {
        self.get_current_mode() == FallbackMode::Safe
    }

    /// Applies the policy to `state` and moves to the mode it calls for (subject to the
    /// [`Hysteresis`](crate::Hysteresis), if configured). Returns the mode after the call.
    ///
    /// When the mode stays, this reads one atomic and evaluates the policy: no lock, no
    /// allocation, no await that suspends. A change records a [`Transition`] with the
    /// policy's reasons, emits metrics, runs the new mode's callbacks and persists the
    /// record; storage and callback failures are logged and never undo it.
    ///
    /// While an operator's hold is in force (see [`hold_mode`](Self::hold_mode)) nothing
    /// changes, whether the state is worse or better, and hysteresis counts no evaluation;
    /// the held mode is returned. The first cascade after a hold expires logs it and
    /// decides as usual.
    ///
    /// Called from a mode callback of this same manager, a change is refused (logged) and
    /// the current mode returned.
    pub async fn cascade(&self, state: &HealthState) -> FallbackMode {
        let current = self.get_current_mode();
        let target = self.modes.target(state);
        if target == current {
            // A hold pins the current mode, so it cannot matter here: this path does not
            // read it.
            self.modes.stay();
            return current;
        }
        if self.hold_in_force() {
            return self.get_current_mode();
        }
        if !self.modes.admits(current, target) {
            return current;
        }
        // Boxed so that the future of the common, unchanged path stays small.
        match Box::pin(self.change(Request::Cascade(state, target), "cascade")).await {
            Ok(Some(transition)) => transition.to,
            Ok(None) => self.get_current_mode(),
            Err(error) => {
                tracing::warn!(%error, "fallback cascade refused");
                self.get_current_mode()
            }
        }
    }

    /// Sets the mode by name, ignoring case: the operator's one-shot override. The
    /// transition's reason is [`MANUAL_REASON`]. Any hold is cleared, so the next
    /// [`cascade`](Self::cascade) applies the policy again; use
    /// [`hold_mode`](Self::hold_mode) to keep the mode.
    ///
    /// Returns whether the mode changed (`false` when it already was `mode`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMode`] for a name that is no mode: nothing changes.
    /// [`Error::Reentrant`] when called from a mode callback of this manager.
    pub async fn set_mode(&self, mode: &str) -> Result<bool> {
        let mode = mode
            .parse::<FallbackMode>()
            .inspect_err(|error| tracing::warn!(%error, "fallback set_mode refused"))?;
        self.set_mode_to(mode).await
    }

    /// [`set_mode`](Self::set_mode) with a typed mode: a one-shot change that clears any
    /// hold.
    ///
    /// # Errors
    ///
    /// [`Error::Reentrant`] when called from a mode callback of this manager.
    pub async fn set_mode_to(&self, mode: FallbackMode) -> Result<bool> {
        if mode == self.get_current_mode() && self.hold.is_clear() && !self.callbacks.running_here()
        {
            return Ok(false);
        }
        Box::pin(self.change(Request::Manual(mode, HoldRequest::Clear), "set_mode"))
            .await
            .map(|transition| transition.is_some())
    }

    /// Moves to `mode` (reason [`MANUAL_REASON`]) unless an operator's hold is in force:
    /// for automated actors, such as a fallback action, that must not undo an operator.
    /// The hold is checked again under the lock that serializes changes, so a hold taken
    /// meanwhile wins. Leaves no hold: the next [`cascade`](Self::cascade) decides again.
    ///
    /// Returns whether the mode changed (`false` when it already was `mode`, or a hold is
    /// in force).
    ///
    /// # Errors
    ///
    /// [`Error::Reentrant`] when called from a mode callback of this manager.
    pub async fn set_mode_unless_held(&self, mode: FallbackMode) -> Result<bool> {
        if self.hold_in_force() {
            tracing::info!(to = %mode, "fallback mode change skipped: an operator holds the mode");
            return Ok(false);
        }
        if mode == self.get_current_mode() && !self.callbacks.running_here() {
            return Ok(false);
        }
        Box::pin(self.change(
            Request::Manual(mode, HoldRequest::Yield),
            "set_mode_unless_held",
        ))
        .await
        .map(|transition| transition.is_some())
    }

    /// The operator's override that lasts: moves to `mode` (reason [`MANUAL_REASON`]) if
    /// it differs, then holds it until [`release_hold`](Self::release_hold) when
    /// `duration` is `None`, else for `duration` on the manager's monotonic clock (tokio's,
    /// so a paused test clock applies), counted from when the hold takes effect.
    ///
    /// While the hold is in force, [`cascade`](Self::cascade) changes nothing, however
    /// the health moves (the operator owns the mode, SAFE as well as PRIMARY), and
    /// hysteresis counts no evaluation; [`set_mode`](Self::set_mode) ends it,
    /// [`set_mode_unless_held`](Self::set_mode_unless_held) yields to it, and another
    /// `hold_mode` replaces it. The hold is taken under the lock that serializes changes:
    /// a cascade that has not made its transition by then makes none.
    ///
    /// A zero `duration` holds nothing: the call is [`set_mode_to`](Self::set_mode_to).
    /// A duration beyond the clock's range (about 146 years) is capped there.
    ///
    /// Returns whether the mode changed.
    ///
    /// # Errors
    ///
    /// [`Error::Reentrant`] when called from a mode callback of this manager.
    pub async fn hold_mode(&self, mode: FallbackMode, duration: Option<Duration>) -> Result<bool> {
        if duration == Some(Duration::ZERO) {
            return self.set_mode_to(mode).await;
        }
        Box::pin(self.change(
            Request::Manual(mode, HoldRequest::Pin(duration)),
            "hold_mode",
        ))
        .await
        .map(|transition| transition.is_some())
    }

    /// Ends the operator's hold, if one is in force, and returns it (with the time it had
    /// left). The mode stays as it is until the next [`cascade`](Self::cascade) decides,
    /// with a fresh hysteresis count. `None` when there was no hold or it had expired.
    pub fn release_hold(&self) -> Option<ModeHold> {
        let released = self.hold.release();
        if released != Look::Free {
            // Evidence gathered under the hold says nothing about health after it.
            self.modes.forget_streak();
        }
        released.held()
    }

    /// The operator's hold in force, if any, with the time it has left.
    #[must_use]
    pub fn current_hold(&self) -> Option<ModeHold> {
        match self.hold.look() {
            Look::Ended => {
                // Evidence gathered under the hold says nothing about health after it.
                self.modes.forget_streak();
                None
            }
            look => look.held(),
        }
    }

    /// Whether an operator's hold is in force; an expired one is cleared and logged.
    fn hold_in_force(&self) -> bool {
        self.current_hold().is_some()
    }

    /// Applies a manual change's hold request under the transition lock, before the mode
    /// changes; whether the change may go on.
    fn settle_hold_before(&self, hold: HoldRequest) -> bool {
        match hold {
            HoldRequest::Clear => {
                self.hold.clear();
                true
            }
            HoldRequest::Yield => {
                let in_force = self.hold_in_force();
                if in_force {
                    tracing::info!("fallback mode change skipped: an operator holds the mode");
                }
                !in_force
            }
            HoldRequest::Pin(_) => true,
        }
    }

    /// Pins `mode` under the transition lock, once the mode is `mode`.
    fn pin(&self, mode: FallbackMode, duration: Option<Duration>) {
        self.hold.pin(mode, duration);
        // Evidence gathered before the hold says nothing about health after it.
        self.modes.forget_streak();
    }

    /// The slow path: decides again under the lock and, if the mode changes, records,
    /// announces and persists the transition.
    async fn change(
        &self,
        request: Request<'_>,
        operation: &'static str,
    ) -> Result<Option<Transition>> {
        if self.callbacks.running_here() {
            return Err(Error::Reentrant { operation });
        }
        let guard = self.transition_lock.clone().lock_owned().await;
        let from = self.get_current_mode();
        let planned = match request {
            Request::Manual(to, hold) => {
                if !self.settle_hold_before(hold) {
                    return Ok(None);
                }
                (to != from).then(|| (to, MANUAL_REASON.to_owned()))
            }
            // Checked again under the lock: a hold taken since the fast path wins.
            Request::Cascade(..) if self.hold_in_force() => return Ok(None),
            Request::Cascade(state, target) => self.modes.plan(state, target, from),
        };
        let transition = planned.map(|(to, reason)| self.make_transition(from, to, reason));
        if let Request::Manual(mode, HoldRequest::Pin(duration)) = request {
            // After the mode, before the callbacks and the lock's release: whoever sees
            // the hold sees the mode held.
            self.pin(mode, duration);
        }
        let Some(transition) = transition else {
            return Ok(None);
        };
        self.callbacks.run(&transition, guard).await;
        self.flush_quietly().await;
        Ok(Some(transition))
    }

    /// Moves from `from` to `to` under the transition lock: the mode, the time and streak
    /// of the mode entered, the log, the pending queue, metrics and tracing.
    fn make_transition(&self, from: FallbackMode, to: FallbackMode, reason: String) -> Transition {
        let transition = Transition::new(Timestamp::now(), from, to, reason);
        let time_in_previous = self.modes.enter(to);
        self.journal.record(&transition);
        self.metrics.transition(&transition, time_in_previous);
        if to > from {
            tracing::warn!(from = %from, to = %to, reason = %transition.reason, "fallback mode degraded");
        } else {
            tracing::info!(from = %from, to = %to, reason = %transition.reason, "fallback mode recovered");
        }
        transition
    }

    /// Writes what storage refused earlier, oldest first: the transition records, then
    /// the definitions of the [pending fallbacks](Self::pending_fallbacks), each of which
    /// becomes active once stored. Returns how many transition records were written.
    /// Waits for a flush or a registration already in progress. With nothing pending it
    /// touches no storage: cheap enough to call on every tick of a background loop.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] from the first write that fails (or exceeds
    /// [`FallbackConfig::persist_timeout`]); that record or definition and the later ones
    /// stay queued. One that storage refuses for good (an invalid argument, a value it cannot
    /// encode) is dropped instead (a record is counted), so that it does not hold back
    /// the later ones.
    pub async fn flush_pending(&self) -> Result<usize> {
        let written = self.journal.flush(true).await?;
        self.registry.store_pending(true).await?;
        Ok(written)
    }

    /// Flushes after a transition unless another flush or a registration runs (they will
    /// take what is queued, or the next flush will).
    async fn flush_quietly(&self) {
        if let Err(error) = self.journal.flush(false).await {
            tracing::warn!(
                error = %error,
                pending = self.journal.pending(),
                "fallback transition not persisted yet; it stays queued"
            );
            return;
        }
        if let Err(error) = self.registry.store_pending(false).await {
            tracing::warn!(
                error = %error,
                "fallback definition not stored yet; its fallback stays inactive"
            );
        }
    }
}

impl Default for FallbackManager {
    /// [`FallbackManager::in_memory`].
    fn default() -> Self {
        Self::in_memory()
    }
}

impl fmt::Debug for FallbackManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackManager")
            .field("mode", &self.get_current_mode())
            .field("hold", &self.current_hold())
            .field("total_transitions", &self.total_transitions())
            .field("storage", &self.store.storage().backend())
            .field("policy", &self.modes.policy())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use health_model::CircuitState;

    fn open() -> HealthState {
        let mut state = HealthState::default();
        state.circuit_breaker.state = CircuitState::Open;
        state
    }

    #[tokio::test]
    async fn the_unchanged_path_touches_neither_lock_nor_log() {
        let manager = FallbackManager::in_memory();
        let healthy = HealthState::default();
        let _held = manager.transition_lock.lock().await;
        // With the lock held elsewhere, an unchanged cascade still returns at once.
        for _ in 0..3 {
            assert_eq!(manager.cascade(&healthy).await, FallbackMode::Primary);
        }
        assert_eq!(manager.total_transitions(), 0);
    }

    #[tokio::test]
    async fn a_held_cascade_returns_without_the_lock_whatever_the_state() {
        let manager = FallbackManager::in_memory();
        manager.hold_mode(FallbackMode::Safe, None).await.unwrap();
        let _held = manager.transition_lock.lock().await;
        // Both call for another mode: the hold answers on the lock-free path.
        for state in [open(), HealthState::default()] {
            assert_eq!(manager.cascade(&state).await, FallbackMode::Safe);
        }
        assert_eq!(manager.total_transitions(), 1);
    }
}
