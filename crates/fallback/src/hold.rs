use std::time::Duration;

use serde::{Serialize, Serializer};

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
pub(crate) struct HoldWord(pub(crate) u64);

impl HoldWord {
    pub(crate) const NONE: Self = Self(0);
    const MODE_SHIFT: u32 = 62;
    const DEADLINE_MASK: u64 = (1 << Self::MODE_SHIFT) - 1;
    /// The deadline of a hold until released.
    const INDEFINITE: u64 = Self::DEADLINE_MASK;

    /// A hold of `mode` until `deadline` (nanoseconds on the manager's clock; capped at
    /// about 146 years), or until released.
    pub(crate) fn new(mode: FallbackMode, deadline: Option<u64>) -> Self {
        let deadline = deadline.map_or(Self::INDEFINITE, |nanos| nanos.min(Self::INDEFINITE - 1));
        Self((u64::from(mode.level() + 1) << Self::MODE_SHIFT) | deadline)
    }

    pub(crate) const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// The mode held, unless this is no hold.
    pub(crate) fn mode(self) -> Option<FallbackMode> {
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
    pub(crate) fn at(self, now: u64) -> Option<ModeHold> {
        let mode = self.mode()?;
        let remaining = match self.deadline() {
            None => None,
            Some(deadline) if now < deadline => Some(Duration::from_nanos(deadline - now)),
            Some(_) => return None,
        };
        Some(ModeHold { mode, remaining })
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
}
