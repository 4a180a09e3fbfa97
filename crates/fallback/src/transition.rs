use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use health_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::FallbackMode;

/// One change of mode, as kept in the in-memory log and persisted to storage as a JSON
/// object: `{"timestamp": "2026-11-27T13:35:07.123456Z", "from": "primary", "to":
/// "heuristic", "reason": "circuit_open(15s)"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transition {
    /// When the mode changed (RFC 3339, UTC, microseconds).
    pub timestamp: Timestamp,
    /// The mode left.
    pub from: FallbackMode,
    /// The mode entered.
    pub to: FallbackMode,
    /// Why: the policy's reasons (see [`ThresholdPolicy`](crate::ThresholdPolicy)), or
    /// [`MANUAL_REASON`] for [`FallbackManager::set_mode`](crate::FallbackManager::set_mode).
    pub reason: String,
}

/// The reason of a transition made by hand: [`FallbackManager::set_mode`](crate::FallbackManager::set_mode),
/// [`set_mode_to`](crate::FallbackManager::set_mode_to),
/// [`hold_mode`](crate::FallbackManager::hold_mode) or
/// [`set_mode_unless_held`](crate::FallbackManager::set_mode_unless_held).
pub const MANUAL_REASON: &str = "manual";

impl Transition {
    pub(crate) const fn new(
        timestamp: Timestamp,
        from: FallbackMode,
        to: FallbackMode,
        reason: String,
    ) -> Self {
        Self {
            timestamp,
            from,
            to,
            reason,
        }
    }
}

/// Makes the unique, time-ordered ids of transition records:
/// `<unix micros, 20 digits>-<process sequence, 10 digits>-<instance tag, 16 hex digits>`.
///
/// Within a process, ids sort in the order they were made even if the wall clock steps
/// back (the microseconds never decrease) and never repeat (the sequence is shared by
/// every manager of the process). The random instance tag keeps processes that share a
/// store apart; across processes, ids sort by wall-clock time.
pub(crate) fn next_record_id(timestamp: Timestamp) -> String {
    static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let now = timestamp.unix_micros();
    let micros = LAST_MICROS.fetch_max(now, Ordering::Relaxed).max(now);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 10_000_000_000;
    format!("{micros:020}-{sequence:010}-{}", instance_tag())
}

/// A random tag for this process, 16 hex digits.
fn instance_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        // `RandomState` is seeded from the operating system's randomness; hashing the
        // process id and the time on top keeps tags apart even where seeds repeat.
        let seed = RandomState::new().hash_one((
            std::process::id(),
            Timestamp::now().unix_micros(),
            std::thread::current().id(),
        ));
        format!("{seed:016x}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::{Duration, SystemTime};

    #[test]
    fn record_ids_are_unique_and_ordered_within_a_microsecond_and_across_clock_steps() {
        let stamp = Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000));
        let ids: Vec<String> = (0..1000).map(|_| next_record_id(stamp)).collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        // A clock that steps back does not make ids go back.
        let earlier = next_record_id(Timestamp::from(SystemTime::UNIX_EPOCH));
        assert!(earlier > ids[999], "{earlier} after {}", ids[999]);
        let parts: Vec<&str> = earlier.split('-').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "00004000000000000000");
        assert_eq!(parts[1].len(), 10);
        assert_eq!(parts[2], instance_tag());
        assert!(parts[2].len() == 16 && parts[2].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_record_serializes_as_the_originals_four_fields() {
        let stamp: Timestamp = "2026-11-27T13:35:07.123456Z".parse().unwrap();
        let record = Transition::new(
            stamp,
            FallbackMode::Primary,
            FallbackMode::Heuristic,
            "circuit_open(15s)".to_owned(),
        );
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timestamp": "2026-11-27T13:35:07.123456Z",
                "from": "primary",
                "to": "heuristic",
                "reason": "circuit_open(15s)"
            })
        );
        assert_eq!(serde_json::from_value::<Transition>(json).unwrap(), record);
    }
}
