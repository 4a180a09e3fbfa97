use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{GlobPattern, Operation, Result, Storage, StorageError};

/// How often the background sweeper removes expired keys, unless configured otherwise.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The embedded [`Storage`]: an in-process, sharded hash map with per-key expiry.
///
/// - **Fast under contention**: keys are spread over independently locked shards (a
///   power of two, four per core by default), each hashed once, so tasks on different
///   cores rarely wait for each other; no lock is held across an `.await`.
/// - **Expiry on a monotonic clock** ([`Instant`]): a wall-clock jump neither revives nor
///   kills keys. Expired keys are invisible at once and removed by a background sweeper
///   (a tokio task started by [`MemoryStorage::new`] inside a runtime, by
///   [`Storage::connect`], or by the first key given an expiry inside a runtime), so they
///   never pile up; [`MemoryStorage::sweep_expired`] does the same on demand.
/// - **Values are owned copies**, as with Redis: changing a value after `set` or after
///   `get` never changes what is stored.
///
/// `MemoryStorage` is a handle: clones share the same data. Operations work before
/// [`Storage::connect`]; `connect`/`close` only drive [`Storage::health_check`], like the
/// original. Data lives as long as the last handle.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> storage::Result<()> {
/// use std::time::Duration;
/// use serde_json::json;
/// use storage::{MemoryStorage, Storage};
///
/// let storage = MemoryStorage::new();
/// storage.connect().await?;
/// storage.set("user:1", json!({"name": "alice"}), Some(Duration::from_secs(3600))).await?;
/// assert_eq!(storage.get("user:1").await?, Some(json!({"name": "alice"})));
/// assert_eq!(storage.increment("visits", 2).await?, 2);
/// assert_eq!(storage.keys("user:*").await?, vec!["user:1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStorage {
    inner: Arc<Inner>,
}

/// Configures a [`MemoryStorage`] before it is built.
#[derive(Debug, Clone)]
pub struct MemoryStorageBuilder {
    shards: usize,
    sweep_interval: Duration,
}

struct Inner {
    shards: Box<[Shard]>,
    /// Shifts a (pre-shifted) hash down to a shard index.
    shard_shift: u32,
    hasher: RandomState,
    connected: AtomicBool,
    sweep_interval: Duration,
    sweeper: Mutex<Option<JoinHandle<()>>>,
    /// Whether a sweeper task exists; cleared when it ends (its runtime shut down), so the
    /// next expiring key starts another one.
    sweeping: AtomicBool,
}

/// Padded to a cache line pair so neighbouring shard locks do not false-share.
#[repr(align(128))]
struct Shard(RwLock<ShardData>);

#[derive(Default)]
struct ShardData {
    table: HashTable<Entry>,
    /// Entries with a deadline; lets the sweeper skip shards with nothing to expire.
    expiring: usize,
}

struct Entry {
    key: Box<str>,
    value: Value,
    deadline: Option<Instant>,
}

impl Entry {
    /// Whether the entry has expired; reads the clock only when it has a deadline.
    fn is_expired(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn is_expired_at(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

impl MemoryStorage {
    /// An empty store with the default configuration.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to choose the shard count and sweep interval.
    #[must_use]
    pub fn builder() -> MemoryStorageBuilder {
        MemoryStorageBuilder::default()
    }

    /// Removes every expired key now and returns how many were removed.
    pub fn sweep_expired(&self) -> usize {
        self.inner.sweep_expired()
    }

    /// The number of keys held, expired ones not yet swept included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| shard.read().table.len())
            .sum()
    }

    /// Whether no key is held (see [`MemoryStorage::len`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key.
    pub fn clear(&self) {
        for shard in &self.inner.shards {
            *shard.write() = ShardData::default();
        }
    }

    /// Starts the sweeper task if a tokio runtime is running and no sweeper is alive.
    fn ensure_sweeper(&self) {
        if self.inner.sweeping.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut slot = self.inner.sweeper.lock();
        if slot.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        self.inner.sweeping.store(true, Ordering::Release);
        let sweeper = Sweeper(Arc::downgrade(&self.inner));
        let interval = self.inner.sweep_interval;
        *slot = Some(runtime.spawn(sweep_periodically(sweeper, interval)));
    }

    fn shard(&self, hash: u64) -> &Shard {
        // Skip the top 7 bits: hashbrown uses them inside each table.
        // A single shard shifts by 64, which `checked_shr` maps to index 0.
        let index = (hash << 7).checked_shr(self.inner.shard_shift).unwrap_or(0);
        // The shift leaves at most `shards.len() - 1`.
        #[allow(clippy::cast_possible_truncation, reason = "index < shard count")]
        &self.inner.shards[index as usize]
    }

    fn hash(&self, key: &str) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    fn rehasher(&self) -> impl Fn(&Entry) -> u64 + '_ {
        |entry| self.inner.hasher.hash_one(&*entry.key)
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("shards", &self.inner.shards.len())
            .field("keys", &self.len())
            .field("connected", &self.inner.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MemoryStorageBuilder {
    /// The number of independently locked shards, rounded up to a power of two
    /// (default: four per available core).
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// How often the background sweeper runs (default [`DEFAULT_SWEEP_INTERVAL`]).
    #[must_use]
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Builds the store, starting its sweeper if called inside a tokio runtime.
    #[must_use]
    pub fn build(self) -> MemoryStorage {
        let shards = self.shards.clamp(1, 1 << 16).next_power_of_two();
        let storage = MemoryStorage {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| Shard(RwLock::default())).collect(),
                shard_shift: 64 - shards.trailing_zeros(),
                hasher: RandomState::new(),
                connected: AtomicBool::new(false),
                // A zero interval would spin; one millisecond is the floor.
                sweep_interval: self.sweep_interval.max(Duration::from_millis(1)),
                sweeper: Mutex::new(None),
                sweeping: AtomicBool::new(false),
            }),
        };
        storage.ensure_sweeper();
        storage
    }
}

impl Default for MemoryStorageBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            shards: cores * 4,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }
}

impl Inner {
    fn sweep_expired(&self) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            if shard.read().expiring == 0 {
                continue;
            }
            let mut data = shard.write();
            let now = Instant::now();
            let before = data.table.len();
            data.table.retain(|entry| !entry.is_expired_at(now));
            let swept = before - data.table.len();
            data.expiring -= swept;
            removed += swept;
        }
        removed
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.sweeper.get_mut().take() {
            task.abort();
        }
    }
}

/// The sweeper task's handle on the store. Dropped with the task, however it ends (the
/// store dropped, its runtime shut down, even before the task first ran), it marks the
/// store as having no sweeper.
struct Sweeper(Weak<Inner>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.sweeping.store(false, Ordering::Release);
        }
    }
}

async fn sweep_periodically(sweeper: Sweeper, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate
    loop {
        ticker.tick().await;
        let Some(inner) = sweeper.0.upgrade() else {
            break;
        };
        let removed = inner.sweep_expired();
        if removed > 0 {
            tracing::trace!(removed, "swept expired keys");
        }
    }
}

impl Shard {
    #[inline]
    fn read(&self) -> RwLockReadGuard<'_, ShardData> {
        self.0.read()
    }

    #[inline]
    fn write(&self) -> RwLockWriteGuard<'_, ShardData> {
        self.0.write()
    }
}

/// Rounds an expiry up to whole milliseconds (the precision every backend shares) and
/// turns it into a deadline.
fn deadline_after(operation: Operation, ttl: Duration) -> Result<Instant> {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    let rounded = u64::try_from(millis)
        .ok()
        .map(Duration::from_millis)
        .and_then(|ttl| Instant::now().checked_add(ttl));
    rounded.ok_or_else(|| {
        StorageError::invalid_argument(operation, format!("expiry of {ttl:?} is too large"))
    })
}

/// Describes a JSON value for [`StorageError::WrongType`].
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a floating-point number",
        Value::Number(_) => "an integer outside the 64-bit signed range",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

#[async_trait]
impl Storage for MemoryStorage {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn connect(&self) -> Result<()> {
        self.inner.connected.store(true, Ordering::Release);
        self.ensure_sweeper();
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.inner.connected.store(false, Ordering::Release);
        Ok(())
    }

    async fn health_check(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let hash = self.hash(key);
        let data = self.shard(hash).read();
        Ok(data
            .table
            .find(hash, |entry| *entry.key == *key)
            .filter(|entry| !entry.is_expired())
            .map(|entry| entry.value.clone()))
    }

    async fn set(&self, key: &str, value: Value, expire: Option<Duration>) -> Result<()> {
        let deadline = match expire {
            Some(ttl) if ttl.is_zero() => {
                return Err(StorageError::invalid_argument(
                    Operation::Set,
                    "expiry must be greater than zero",
                ));
            }
            Some(ttl) => {
                self.ensure_sweeper();
                Some(deadline_after(Operation::Set, ttl)?)
            }
            None => None,
        };
        let hash = self.hash(key);
        // The value being replaced is freed after the lock is released: freeing a large
        // JSON tree is the slowest part of a set and must not hold up the shard.
        let _replaced = {
            let mut data = self.shard(hash).write();
            let data = &mut *data;
            match data
                .table
                .entry(hash, |entry| *entry.key == *key, self.rehasher())
            {
                TableEntry::Occupied(mut occupied) => {
                    let entry = occupied.get_mut();
                    data.expiring = data.expiring + usize::from(deadline.is_some())
                        - usize::from(entry.deadline.is_some());
                    entry.deadline = deadline;
                    Some(std::mem::replace(&mut entry.value, value))
                }
                TableEntry::Vacant(vacant) => {
                    vacant.insert(Entry {
                        key: key.into(),
                        value,
                        deadline,
                    });
                    data.expiring += usize::from(deadline.is_some());
                    None
                }
            }
        };
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let hash = self.hash(key);
        let removed = {
            let mut data = self.shard(hash).write();
            let Ok(occupied) = data.table.find_entry(hash, |entry| *entry.key == *key) else {
                return Ok(false);
            };
            let (entry, _) = occupied.remove();
            data.expiring -= usize::from(entry.deadline.is_some());
            entry
        };
        // Freed here, outside the lock.
        Ok(!removed.is_expired())
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let hash = self.hash(key);
        let data = self.shard(hash).read();
        Ok(data
            .table
            .find(hash, |entry| *entry.key == *key)
            .is_some_and(|entry| !entry.is_expired()))
    }

    async fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let pattern = GlobPattern::new(pattern);
        let mut keys = Vec::new();
        for shard in &self.inner.shards {
            let data = shard.read();
            let now = Instant::now();
            keys.extend(
                data.table
                    .iter()
                    .filter(|entry| !entry.is_expired_at(now) && pattern.matches(&entry.key))
                    .map(|entry| String::from(&*entry.key)),
            );
        }
        keys.sort_unstable();
        Ok(keys)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let deadline = if ttl.is_zero() {
            None
        } else {
            self.ensure_sweeper();
            Some(deadline_after(Operation::Expire, ttl)?)
        };
        let hash = self.hash(key);
        let removed = {
            let mut data = self.shard(hash).write();
            let Ok(mut occupied) = data.table.find_entry(hash, |entry| *entry.key == *key) else {
                return Ok(false);
            };
            let entry = occupied.get_mut();
            let had_deadline = entry.deadline.is_some();
            match deadline {
                // An expired key stays dead, and a zero TTL deletes (as Redis does).
                Some(deadline) if !entry.is_expired() => {
                    entry.deadline = Some(deadline);
                    data.expiring += usize::from(!had_deadline);
                    return Ok(true);
                }
                _ => {
                    let (entry, _) = occupied.remove();
                    data.expiring -= usize::from(had_deadline);
                    entry
                }
            }
        };
        // Freed here, outside the lock.
        Ok(!removed.is_expired())
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let hash = self.hash(key);
        let data = self.shard(hash).read();
        let now = Instant::now();
        Ok(data
            .table
            .find(hash, |entry| *entry.key == *key)
            .and_then(|entry| entry.deadline)
            .and_then(|deadline| deadline.checked_duration_since(now))
            .filter(|left| !left.is_zero()))
    }

    async fn increment(&self, key: &str, amount: i64) -> Result<i64> {
        let hash = self.hash(key);
        let mut data = self.shard(hash).write();
        let data = &mut *data;
        match data
            .table
            .entry(hash, |entry| *entry.key == *key, self.rehasher())
        {
            TableEntry::Occupied(mut occupied) => {
                let entry = occupied.get_mut();
                if entry.is_expired() {
                    // An expired key is a missing key: start again at zero, without expiry.
                    entry.value = Value::from(amount);
                    entry.deadline = None;
                    data.expiring -= 1;
                    return Ok(amount);
                }
                let Some(current) = entry.value.as_i64() else {
                    return Err(StorageError::WrongType {
                        operation: Operation::Increment,
                        key: key.to_owned(),
                        expected: "an integer",
                        found: describe(&entry.value),
                    });
                };
                let next = current
                    .checked_add(amount)
                    .ok_or_else(|| StorageError::Overflow {
                        key: key.to_owned(),
                        amount,
                    })?;
                entry.value = Value::from(next);
                Ok(next)
            }
            TableEntry::Vacant(vacant) => {
                vacant.insert(Entry {
                    key: key.into(),
                    value: Value::from(amount),
                    deadline: None,
                });
                Ok(amount)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn sweeper_removes_expired_keys_in_the_background() {
        let storage = MemoryStorage::builder()
            .sweep_interval(Duration::from_millis(20))
            .build();
        for i in 0..100 {
            storage
                .set(&format!("k{i}"), json!(i), Some(Duration::from_millis(10)))
                .await
                .unwrap();
        }
        storage.set("keep", json!(1), None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(storage.len(), 1, "expired keys must not stay resident");
    }

    #[tokio::test]
    async fn sweep_expired_reports_what_it_removed_and_keeps_counts_exact() {
        let storage = MemoryStorage::builder().shards(1).build();
        storage
            .set("a", json!(1), Some(Duration::from_millis(1)))
            .await
            .unwrap();
        storage
            .set("b", json!(1), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        storage.set("c", json!(1), None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(storage.sweep_expired(), 1);
        assert_eq!(storage.sweep_expired(), 0);
        assert_eq!(storage.inner.shards[0].read().expiring, 1);
        storage.set("b", json!(2), None).await.unwrap();
        assert_eq!(storage.inner.shards[0].read().expiring, 0);
    }

    #[tokio::test]
    async fn values_are_copies() {
        let storage = MemoryStorage::new();
        let mut value = json!({"n": 1});
        storage.set("k", value.clone(), None).await.unwrap();
        value["n"] = json!(2);
        let mut read_back = storage.get("k").await.unwrap().unwrap();
        read_back["n"] = json!(3);
        assert_eq!(storage.get("k").await.unwrap(), Some(json!({"n": 1})));
    }

    #[tokio::test]
    async fn clones_share_data_and_drop_stops_the_sweeper() {
        let storage = MemoryStorage::new();
        let clone = storage.clone();
        clone.set("shared", json!(true), None).await.unwrap();
        assert_eq!(storage.get("shared").await.unwrap(), Some(json!(true)));
        let weak = Arc::downgrade(&storage.inner);
        drop(storage);
        drop(clone);
        assert!(
            weak.upgrade().is_none(),
            "the sweeper must not keep the data alive"
        );
    }

    #[test]
    fn works_without_a_runtime_for_the_sweeper() {
        let storage = MemoryStorage::new();
        assert!(storage.inner.sweeper.lock().is_none());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            storage.set("k", json!(1), None).await.unwrap();
            storage.connect().await.unwrap();
        });
        assert!(storage.inner.sweeper.lock().is_some());
    }

    /// Built outside a runtime and never connected (operations work without `connect`),
    /// the store must still sweep: the first expiring key starts the sweeper, and again
    /// in a later runtime once the first one is gone.
    #[test]
    fn the_first_expiring_key_starts_the_sweeper_without_connect() {
        let storage = MemoryStorage::builder()
            .sweep_interval(Duration::from_millis(10))
            .build();
        for round in 0..2 {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for i in 0..10 {
                    storage
                        .set(&format!("k{i}"), json!(i), Some(Duration::from_millis(5)))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
            assert_eq!(
                storage.len(),
                0,
                "round {round}: expired keys stayed resident"
            );
        }
    }

    #[test]
    fn shard_count_is_a_power_of_two() {
        for (asked, got) in [(0, 1), (1, 1), (3, 4), (8, 8), (9, 16)] {
            assert_eq!(
                MemoryStorage::builder()
                    .shards(asked)
                    .build()
                    .inner
                    .shards
                    .len(),
                got
            );
        }
    }
}
