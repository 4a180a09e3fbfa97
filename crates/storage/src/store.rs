use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;

/// An async key-value store holding JSON values, with per-key expiry, Redis-glob key
/// listing and atomic integer counters.
///
/// Every backend keeps the same contract, which the conformance suite in
/// `storage::testing` (feature `testing`) checks:
///
/// - **Missing is not failure.** Reads of an absent or expired key return `Ok(None)` /
///   `Ok(false)`; an `Err` always means the backend failed.
/// - **Expiry** has millisecond precision (shorter durations round up to 1 ms) and is
///   measured on a monotonic clock where the backend allows it. `set` without an expiry
///   clears any previous one; `increment` keeps it. An expired key is never returned,
///   counted or revived.
/// - **Counters are ordinary keys** holding JSON integers, so `get` sees them and `set`
///   can seed them. Incrementing anything else is [`StorageError::WrongType`], and the
///   value is left as it was.
/// - **Keys** are any UTF-8 string, the empty one included, and patterns follow Redis glob
///   rules exactly, with the same matcher ([`GlobPattern`]) on every backend.
///
/// [`StorageError::WrongType`]: crate::StorageError::WrongType
/// [`GlobPattern`]: crate::GlobPattern
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// A short name for the backend (`"memory"`, `"redis"`), used in messages and metrics.
    fn backend(&self) -> &'static str;

    /// Prepares the backend for use (opens connections, starts background work).
    /// Calling it again on a connected backend is harmless.
    async fn connect(&self) -> Result<()>;

    /// Releases the backend's resources. Afterwards [`Storage::health_check`] reports
    /// `false` until the next [`Storage::connect`].
    async fn close(&self) -> Result<()>;

    /// Whether the backend is connected and answering. Never fails: a failure is `false`.
    async fn health_check(&self) -> bool;

    /// The value at `key`, or `None` when the key does not exist or has expired.
    async fn get(&self, key: &str) -> Result<Option<Value>>;

    /// Stores `value` at `key`, replacing any previous value and expiry. With `expire`,
    /// the key disappears after that long; a zero expiry is
    /// [`StorageError::InvalidArgument`](crate::StorageError::InvalidArgument).
    async fn set(&self, key: &str, value: Value, expire: Option<Duration>) -> Result<()>;

    /// Removes `key`; `true` if it existed (an expired key does not).
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Whether `key` exists and has not expired.
    async fn exists(&self, key: &str) -> Result<bool>;

    /// Every live key matching the Redis glob `pattern`, sorted and without duplicates.
    /// Backends walk their key space incrementally (Redis: `SCAN`, never `KEYS`).
    async fn keys(&self, pattern: &str) -> Result<Vec<String>>;

    /// Makes `key` expire after `ttl`; `false` if the key does not exist. A zero `ttl`
    /// deletes the key at once (and returns `true` if it existed), as Redis does.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool>;

    /// The time `key` has left, or `None` when the key does not exist or never expires
    /// (use [`Storage::exists`] to tell those apart).
    async fn ttl(&self, key: &str) -> Result<Option<Duration>>;

    /// Atomically adds `amount` (which may be negative) to the integer at `key` and
    /// returns the new value. A missing key starts at 0 without expiry; an existing expiry
    /// is kept. A non-integer value is [`StorageError::WrongType`] and a result outside
    /// `i64` is [`StorageError::Overflow`]; in both cases the value is unchanged.
    ///
    /// [`StorageError::WrongType`]: crate::StorageError::WrongType
    /// [`StorageError::Overflow`]: crate::StorageError::Overflow
    async fn increment(&self, key: &str, amount: i64) -> Result<i64>;
}
