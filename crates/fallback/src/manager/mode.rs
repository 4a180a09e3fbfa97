//! [`ModeState`]: the current mode and the rule that moves it (the policy, damped by the
//! hysteresis), read without a lock by every cascade.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use health_model::HealthState;

use super::clock::Clock;
use crate::{CascadePolicy, FallbackMode, Hysteresis};

/// The mode, when it was entered and the run of cascades calling for a healthier one,
/// each in an atomic word, with the policy and hysteresis that decide on them.
///
/// Reads and the streak's count are lock-free; [`plan`](Self::plan) and
/// [`enter`](Self::enter) run under the manager's transition lock, which serializes
/// changes, so the mode is only ever written by one caller at a time.
pub(super) struct ModeState {
    policy: Arc<dyn CascadePolicy>,
    hysteresis: Option<Hysteresis>,
    clock: Clock,
    /// The current mode's level.
    mode: AtomicU8,
    /// When the current mode was entered, a reading of `clock`.
    entered_at: AtomicU64,
    /// Cascades in a row that called for a healthier mode (hysteresis only): a packed
    /// [`Streak`].
    streak: AtomicU64,
}

impl ModeState {
    /// PRIMARY, entered now.
    pub(super) fn new(
        policy: Arc<dyn CascadePolicy>,
        hysteresis: Option<Hysteresis>,
        clock: Clock,
    ) -> Self {
        Self {
            policy,
            hysteresis,
            clock,
            mode: AtomicU8::new(FallbackMode::Primary.level()),
            entered_at: AtomicU64::new(clock.now()),
            streak: AtomicU64::new(0),
        }
    }

    pub(super) fn policy(&self) -> &dyn CascadePolicy {
        &*self.policy
    }

    /// The current mode: one atomic read.
    #[inline]
    pub(super) fn current(&self) -> FallbackMode {
        FallbackMode::from_level(self.mode.load(Ordering::Acquire))
    }

    /// The mode the policy calls for under `state`.
    #[inline]
    pub(super) fn target(&self, state: &HealthState) -> FallbackMode {
        self.policy.target(state)
    }

    /// A cascade called for the current mode: a streak towards a healthier one ends. No
    /// write unless there is a streak.
    #[inline]
    pub(super) fn stay(&self) {
        if self.hysteresis.is_some() && self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
        }
    }

    /// Whether a cascade calling for `target`, which differs from `current`, may change
    /// the mode now: a degradation always may, and so may any change without hysteresis;
    /// a recovery is counted into the streak, and may once the streak is long enough and
    /// the mode has been kept for the minimum dwell time.
    #[inline]
    pub(super) fn admits(&self, current: FallbackMode, target: FallbackMode) -> bool {
        match &self.hysteresis {
            Some(hysteresis) if target < current => self.recovery_due(hysteresis, target),
            _ => true,
        }
    }

    /// Drops the streak: evidence gathered before an operator's hold (or under one) says
    /// nothing about health after it.
    pub(super) fn forget_streak(&self) {
        self.streak.store(0, Ordering::Relaxed);
    }

    /// Where a cascade calling for `target` goes from `from`, and why; `None` to stay.
    /// Decided again under the transition lock: a transition or an unhealthy evaluation
    /// since [`admits`](Self::admits) restarted the count and the dwell time.
    pub(super) fn plan(
        &self,
        state: &HealthState,
        target: FallbackMode,
        from: FallbackMode,
    ) -> Option<(FallbackMode, String)> {
        if target == from {
            return None;
        }
        let Some(hysteresis) = self.hysteresis.filter(|_| target < from) else {
            return Some((target, self.policy.explain(state, from, target)));
        };
        let streak = Streak::unpack(self.streak.load(Ordering::Relaxed));
        if streak.count < u64::from(hysteresis.get_recovery_evaluations())
            || !self.dwell_elapsed(&hysteresis)
        {
            return None;
        }
        // No further than every evaluation of the streak allows, one mode at a time if
        // stepwise.
        let allowed = target.max(streak.least_healthy);
        let step = if hysteresis.is_stepwise() {
            allowed.max(from.healthier())
        } else {
            allowed
        };
        if step >= from {
            // The streak counted evaluations made before the last change.
            return None;
        }
        let mut reason = self.policy.explain(state, from, step);
        if step != target {
            reason.push_str(if hysteresis.is_stepwise() {
                "; stepwise_recovery(target="
            } else {
                "; damped_recovery(target="
            });
            reason.push_str(target.as_str());
            reason.push(')');
        }
        Some((step, reason))
    }

    /// Enters `to` now, with a fresh streak; returns the time spent in the mode left.
    pub(super) fn enter(&self, to: FallbackMode) -> Duration {
        self.mode.store(to.level(), Ordering::Release);
        let entered = self.entered_at.swap(self.clock.now(), Ordering::AcqRel);
        self.streak.store(0, Ordering::Relaxed);
        self.clock.since(entered)
    }

    /// The time since the current mode was entered.
    pub(super) fn time_in_mode(&self) -> Duration {
        self.clock.since(self.entered_at.load(Ordering::Acquire))
    }

    /// Counts one more cascade calling for the healthier mode `target`; whether a step
    /// up is due.
    fn recovery_due(&self, hysteresis: &Hysteresis, target: FallbackMode) -> bool {
        let previous = self
            .streak
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |packed| {
                Some(Streak::unpack(packed).extended(target).pack())
            })
            .unwrap_or_else(|packed| packed);
        let streak = Streak::unpack(previous).extended(target);
        streak.count >= u64::from(hysteresis.get_recovery_evaluations())
            && self.dwell_elapsed(hysteresis)
    }

    fn dwell_elapsed(&self, hysteresis: &Hysteresis) -> bool {
        let min_dwell = hysteresis.get_min_dwell();
        min_dwell.is_zero() || self.time_in_mode() >= min_dwell
    }
}

impl fmt::Debug for ModeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModeState")
            .field("mode", &self.current())
            .field(
                "streak",
                &Streak::unpack(self.streak.load(Ordering::Relaxed)),
            )
            .field("policy", &self.policy)
            .field("hysteresis", &self.hysteresis)
            .finish_non_exhaustive()
    }
}

/// A run of cascades that called for a healthier mode: how many, and the least healthy
/// mode any of them called for. Packed into one atomic word so that the lock-free path
/// updates both at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streak {
    count: u64,
    least_healthy: FallbackMode,
}

impl Streak {
    const LEVEL_SHIFT: u32 = 56;
    const COUNT_MASK: u64 = (1 << Self::LEVEL_SHIFT) - 1;

    fn unpack(packed: u64) -> Self {
        Self {
            count: packed & Self::COUNT_MASK,
            least_healthy: FallbackMode::from_level(
                u8::try_from(packed >> Self::LEVEL_SHIFT).unwrap_or(u8::MAX),
            ),
        }
    }

    fn pack(self) -> u64 {
        (u64::from(self.least_healthy.level()) << Self::LEVEL_SHIFT) | self.count
    }

    /// The streak with one more evaluation calling for `target`.
    fn extended(self, target: FallbackMode) -> Self {
        Self {
            count: (self.count + 1).min(Self::COUNT_MASK),
            least_healthy: self.least_healthy.max(target),
        }
    }
}

#[cfg(test)]
mod tests {
    use health_model::CircuitState;

    use super::*;
    use crate::ThresholdPolicy;

    /// A state the original's policy sends to `mode`.
    fn calling_for(mode: FallbackMode) -> HealthState {
        let mut state = HealthState::default();
        match mode {
            FallbackMode::Primary => {}
            FallbackMode::Heuristic => state.circuit_breaker.state = CircuitState::Open,
            FallbackMode::Safe => state.system.failed_components = 2,
        }
        state
    }

    fn modes(hysteresis: Option<Hysteresis>) -> ModeState {
        ModeState::new(
            Arc::new(ThresholdPolicy::default()),
            hysteresis,
            Clock::start(),
        )
    }

    fn streak(modes: &ModeState) -> Streak {
        Streak::unpack(modes.streak.load(Ordering::Relaxed))
    }

    #[test]
    fn a_streak_packs_its_count_and_least_healthy_mode_into_one_word() {
        let start = Streak::unpack(0);
        assert_eq!(
            (start.count, start.least_healthy),
            (0, FallbackMode::Primary)
        );
        let two = start
            .extended(FallbackMode::Heuristic)
            .extended(FallbackMode::Primary);
        assert_eq!((two.count, two.least_healthy), (2, FallbackMode::Heuristic));
        assert_eq!(Streak::unpack(two.pack()), two);
        let full = Streak {
            count: Streak::COUNT_MASK,
            least_healthy: FallbackMode::Safe,
        };
        assert_eq!(
            full.extended(FallbackMode::Primary),
            full,
            "the count saturates"
        );
    }

    #[test]
    fn without_hysteresis_every_change_is_admitted_and_planned_straight() {
        let modes = modes(None);
        assert_eq!(modes.current(), FallbackMode::Primary);
        let safe = calling_for(FallbackMode::Safe);
        assert_eq!(modes.target(&safe), FallbackMode::Safe);
        assert!(modes.admits(FallbackMode::Primary, FallbackMode::Safe));
        assert_eq!(
            modes.plan(&safe, FallbackMode::Safe, FallbackMode::Primary),
            Some((FallbackMode::Safe, "multiple_failures(2)".to_owned()))
        );
        modes.enter(FallbackMode::Safe);
        assert_eq!(modes.current(), FallbackMode::Safe);
        assert!(modes.admits(FallbackMode::Safe, FallbackMode::Primary));
        assert_eq!(streak(&modes).count, 0, "no hysteresis, no streak");
        assert_eq!(
            modes.plan(&safe, FallbackMode::Safe, FallbackMode::Safe),
            None
        );
    }

    #[test]
    fn a_recovery_is_admitted_after_enough_healthier_evaluations_in_a_row() {
        let modes = modes(Some(Hysteresis::new().recovery_evaluations(3)));
        modes.enter(FallbackMode::Safe);
        assert!(!modes.admits(FallbackMode::Safe, FallbackMode::Primary));
        assert!(!modes.admits(FallbackMode::Safe, FallbackMode::Heuristic));
        // A cascade that calls for the current mode breaks the run.
        modes.stay();
        assert_eq!(streak(&modes).count, 0);
        assert!(!modes.admits(FallbackMode::Safe, FallbackMode::Primary));
        assert!(!modes.admits(FallbackMode::Safe, FallbackMode::Heuristic));
        assert!(modes.admits(FallbackMode::Safe, FallbackMode::Primary));
        // Degradation is never counted nor delayed.
        assert!(modes.admits(FallbackMode::Heuristic, FallbackMode::Safe));
        // The step goes no further than the least healthy evaluation of the run.
        let healthy = calling_for(FallbackMode::Primary);
        assert_eq!(
            modes.plan(&healthy, FallbackMode::Primary, FallbackMode::Safe),
            Some((
                FallbackMode::Heuristic,
                format!(
                    "{}; damped_recovery(target=primary)",
                    modes
                        .policy()
                        .explain(&healthy, FallbackMode::Safe, FallbackMode::Heuristic)
                )
            ))
        );
        modes.enter(FallbackMode::Heuristic);
        assert_eq!(streak(&modes).count, 0, "entering a mode restarts the run");
        assert_eq!(
            modes.plan(&healthy, FallbackMode::Primary, FallbackMode::Heuristic),
            None
        );
    }

    #[test]
    fn stepwise_recovery_goes_one_mode_at_a_time() {
        let modes = modes(Some(Hysteresis::new().stepwise(true)));
        modes.enter(FallbackMode::Safe);
        assert!(modes.admits(FallbackMode::Safe, FallbackMode::Primary));
        let planned = modes.plan(
            &calling_for(FallbackMode::Primary),
            FallbackMode::Primary,
            FallbackMode::Safe,
        );
        assert_eq!(
            planned.as_ref().map(|plan| plan.0),
            Some(FallbackMode::Heuristic)
        );
        assert!(
            planned.is_some_and(|plan| plan.1.ends_with("; stepwise_recovery(target=primary)"))
        );
        modes.forget_streak();
        assert_eq!(
            modes.plan(
                &calling_for(FallbackMode::Primary),
                FallbackMode::Primary,
                FallbackMode::Safe
            ),
            None,
            "a forgotten streak plans nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_recovery_waits_for_the_minimum_dwell_time() {
        let dwell = Duration::from_secs(30);
        let modes = modes(Some(Hysteresis::new().min_dwell(dwell)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(modes.enter(FallbackMode::Heuristic), Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(!modes.admits(FallbackMode::Heuristic, FallbackMode::Primary));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(modes.time_in_mode(), dwell);
        assert!(modes.admits(FallbackMode::Heuristic, FallbackMode::Primary));
    }
}
