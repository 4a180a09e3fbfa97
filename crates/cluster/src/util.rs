//! Small helpers shared by the store and the coordinator.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

/// Whole milliseconds of `duration`, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Random bits from the standard library's hasher keys (seeded by the operating system).
pub(crate) fn random_u64() -> u64 {
    RandomState::new().hash_one(SystemTime::now())
}
