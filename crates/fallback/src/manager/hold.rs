//! The operator's hold: [`ModeHold`], as the manager reports it, and [`HoldCell`], the
//! one word that holds it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::clock::Clock;
use crate::FallbackMode;

/// An operator's hold on the mode, as [`FallbackManager::current_hold`] reports it: while
/// it lasts, cascades change nothing.
///
/// Serializes as `{"mode": "safe", "expires_in_seconds": 42.5}`, with `null` for a hold
/// that lasts until released.
///
/// [`FallbackManager::current_hold`]: crate::FallbackManager::current_hold
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModeHold {
    /// The mode held.
    pub mode: FallbackMode,
    /// How long the hold has left; `None` until released.
    #[serde(rename = "expires_in_seconds", serialize_with = "as_seconds")]
    pub remaining: Option<Duration>,
}

impl ModeHold {
    /// Whether the hold lasts until released.
    #[must_use]
    pub const fn is_indefinite(&self) -> bool {
        self.remaining.is_none()
    }
}

fn as_seconds<S: Serializer>(
    remaining: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match remaining {
        None => serializer.serialize_none(),
        Some(remaining) => serializer.serialize_some(&remaining.as_secs_f64()),
    }
}

/// A hold packed into one word, so that mode and deadline are read and replaced together
/// without a lock: 0 for none, else the mode's level plus one in the top two bits and the
/// deadline below them, in nanoseconds of the manager's monotonic clock (all ones: until
/// released).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HoldWord(u64);

impl HoldWord {
    const NONE: Self = Self(0);
    const MODE_SHIFT: u32 = 62;
    const DEADLINE_MASK: u64 = (1 << Self::MODE_SHIFT) - 1;
    /// The deadline of a hold until released.
    const INDEFINITE: u64 = Self::DEADLINE_MASK;

    /// A hold of `mode` until `deadline` (nanoseconds on the manager's clock; capped at
    /// about 146 years), or until released.
    fn new(mode: FallbackMode, deadline: Option<u64>) -> Self {
        let deadline = deadline.map_or(Self::INDEFINITE, |nanos| nanos.min(Self::INDEFINITE - 1));
        Self((u64::from(mode.level() + 1) << Self::MODE_SHIFT) | deadline)
    }

    const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// The mode held, unless this is no hold.
    fn mode(self) -> Option<FallbackMode> {
        let level = u8::try_from(self.0 >> Self::MODE_SHIFT).unwrap_or(u8::MAX);
        level.checked_sub(1).map(FallbackMode::from_level)
    }

    /// The deadline, `None` for a hold until released.
    const fn deadline(self) -> Option<u64> {
        match self.0 & Self::DEADLINE_MASK {
            Self::INDEFINITE => None,
            deadline => Some(deadline),
        }
    }

    /// The hold as seen at `now` (nanoseconds on the manager's clock): `None` when there
    /// is none or it has expired.
    fn at(self, now: u64) -> Option<ModeHold> {
        let mode = self.mode()?;
        let remaining = match self.deadline() {
            None => None,
            Some(deadline) if now < deadline => Some(Duration::from_nanos(deadline - now)),
            Some(_) => return None,
        };
        Some(ModeHold { mode, remaining })
    }
}

/// What a look at the hold found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Look {
    /// No hold.
    Free,
    /// A hold in force.
    Held(ModeHold),
    /// A hold that had expired (or, for [`HoldCell::release`], any hold): this call
    /// cleared it, and the caller acts on its end once.
    Ended,
}

impl Look {
    /// The hold in force, if any.
    pub(super) const fn held(self) -> Option<ModeHold> {
        match self {
            Self::Held(hold) => Some(hold),
            Self::Free | Self::Ended => None,
        }
    }
}

/// The operator's hold, packed into one atomic word ([`HoldWord`]) so that a cascade
/// reads it without a lock. The manager pins and clears it under the lock that
/// serializes mode changes, and releases it or lets it expire without that lock; the
/// word changes as a whole, so each reader sees one hold or none.
///
/// Each change is logged here, once: an expired hold by the call that clears it.
#[derive(Debug)]
pub(super) struct HoldCell {
    word: AtomicU64,
    clock: Clock,
}

impl HoldCell {
    /// No hold, with deadlines on `clock`.
    pub(super) const fn new(clock: Clock) -> Self {
        Self {
            word: AtomicU64::new(HoldWord::NONE.0),
            clock,
        }
    }

    /// Whether no hold is set, in force or expired: no clock read.
    pub(super) fn is_clear(&self) -> bool {
        self.word().is_none()
    }

    /// The hold in force; an expired one is cleared, unless another hold replaced it
    /// meanwhile, and reported as [`Look::Ended`] to the one call that cleared it.
    pub(super) fn look(&self) -> Look {
        let word = self.word();
        if word.is_none() {
            return Look::Free;
        }
        match word.at(self.clock.now()) {
            Some(hold) => Look::Held(hold),
            None => self.expire(word),
        }
    }

    /// Ends the hold: [`Look::Held`] with the time it had left if it was in force,
    /// [`Look::Ended`] if it had expired, [`Look::Free`] if there was none.
    pub(super) fn release(&self) -> Look {
        let word = HoldWord(self.word.swap(HoldWord::NONE.0, Ordering::AcqRel));
        if word.is_none() {
            return Look::Free;
        }
        if let Some(hold) = word.at(self.clock.now()) {
            tracing::info!(mode = %hold.mode, "fallback mode hold released; cascades decide the mode again");
            return Look::Held(hold);
        }
        log_expired(word);
        Look::Ended
    }

    /// Clears the hold for a one-shot change (`set_mode`), logging one in force.
    pub(super) fn clear(&self) {
        let word = HoldWord(self.word.swap(HoldWord::NONE.0, Ordering::AcqRel));
        if let Some(held) = word.at(self.clock.now()) {
            tracing::info!(mode = %held.mode, "fallback mode hold cleared by set_mode");
        }
    }

    /// Holds `mode` for `duration` from now, or until released; replaces any hold.
    pub(super) fn pin(&self, mode: FallbackMode, duration: Option<Duration>) {
        let deadline = duration.map(|duration| self.clock.after(duration));
        self.word
            .store(HoldWord::new(mode, deadline).0, Ordering::Release);
        match duration {
            None => tracing::info!(mode = %mode, "fallback mode held until released"),
            Some(duration) => tracing::info!(
                mode = %mode,
                seconds = duration.as_secs_f64(),
                "fallback mode held"
            ),
        }
    }

    fn word(&self) -> HoldWord {
        HoldWord(self.word.load(Ordering::Acquire))
    }

    /// Clears the expired hold `word` unless another hold replaced it meanwhile.
    #[cold]
    fn expire(&self, word: HoldWord) -> Look {
        let cleared = self
            .word
            .compare_exchange(
                word.0,
                HoldWord::NONE.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if cleared {
            log_expired(word);
            Look::Ended
        } else {
            Look::Free
        }
    }
}

#[cold]
fn log_expired(word: HoldWord) {
    if let Some(mode) = word.mode() {
        tracing::info!(mode = %mode, "fallback mode hold expired; cascades decide the mode again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_round_trips_mode_and_deadline() {
        fn check(mode: FallbackMode, deadline: Option<u64>, expected_deadline: Option<u64>) {
            let word = HoldWord::new(mode, deadline);
            assert!(!word.is_none());
            assert_eq!(word.mode(), Some(mode));
            assert_eq!(word.deadline(), expected_deadline);
        }
        for mode in FallbackMode::ALL {
            check(mode, None, None);
            check(mode, Some(0), Some(0));
            check(mode, Some(5_000), Some(5_000));
            // A deadline past the clock's range is capped, never taken for "until released".
            check(mode, Some(u64::MAX), Some(HoldWord::INDEFINITE - 1));
        }
        assert_eq!(HoldWord::NONE.mode(), None);
        assert_eq!(HoldWord::NONE.at(0), None);
    }

    #[test]
    fn a_hold_expires_at_its_deadline() {
        let word = HoldWord::new(FallbackMode::Safe, Some(1_000));
        assert_eq!(
            word.at(400),
            Some(ModeHold {
                mode: FallbackMode::Safe,
                remaining: Some(Duration::from_nanos(600)),
            })
        );
        assert_eq!(word.at(1_000), None);
        let forever = HoldWord::new(FallbackMode::Primary, None);
        assert!(
            forever
                .at(u64::MAX)
                .is_some_and(|hold| hold.is_indefinite())
        );
    }

    #[test]
    fn a_hold_serializes_with_seconds_or_null() {
        let timed = ModeHold {
            mode: FallbackMode::Heuristic,
            remaining: Some(Duration::from_millis(2_500)),
        };
        assert_eq!(
            serde_json::to_value(timed).unwrap(),
            serde_json::json!({"mode": "heuristic", "expires_in_seconds": 2.5})
        );
        let forever = ModeHold {
            mode: FallbackMode::Safe,
            remaining: None,
        };
        assert_eq!(
            serde_json::to_value(forever).unwrap(),
            serde_json::json!({"mode": "safe", "expires_in_seconds": null})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_hold_is_in_force_until_its_deadline_then_ends_once() {
        let cell = HoldCell::new(Clock::start());
        assert!(cell.is_clear());
        assert_eq!(cell.look(), Look::Free);
        cell.pin(FallbackMode::Safe, Some(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(
            cell.look(),
            Look::Held(ModeHold {
                mode: FallbackMode::Safe,
                remaining: Some(Duration::from_secs(6)),
            })
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(
            !cell.is_clear(),
            "an expired hold stays set until someone looks"
        );
        assert_eq!(cell.look(), Look::Ended);
        assert!(cell.is_clear());
        assert_eq!(cell.look(), Look::Free, "only the first look ends it");
    }

    #[tokio::test(start_paused = true)]
    async fn release_clear_and_a_new_pin_replace_the_hold() {
        let cell = HoldCell::new(Clock::start());
        assert_eq!(cell.release(), Look::Free);
        cell.pin(FallbackMode::Heuristic, None);
        cell.pin(FallbackMode::Primary, None);
        let held = cell.look().held();
        assert_eq!(held.map(|hold| hold.mode), Some(FallbackMode::Primary));
        assert!(held.is_some_and(|hold| hold.is_indefinite()));
        assert_eq!(cell.release().held(), held);
        assert!(cell.is_clear());

        cell.pin(FallbackMode::Safe, Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cell.release(), Look::Ended, "an expired hold released");

        cell.pin(FallbackMode::Safe, None);
        cell.clear();
        assert_eq!(cell.look(), Look::Free);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_word_replaced_meanwhile_is_not_cleared() {
        let cell = HoldCell::new(Clock::start());
        cell.pin(FallbackMode::Safe, Some(Duration::from_secs(1)));
        let stale = cell.word();
        tokio::time::advance(Duration::from_secs(2)).await;
        cell.pin(FallbackMode::Heuristic, None);
        assert_eq!(cell.expire(stale), Look::Free);
        assert_eq!(
            cell.look().held().map(|hold| hold.mode),
            Some(FallbackMode::Heuristic)
        );
    }
}
