//! [`Store`]: the manager's storage, each call cut off after the persist timeout, and
//! which of its failures no retry gets past.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use storage::{Operation, Storage, StorageError};

/// The storage transition records and fallback definitions are written to, through calls
/// that give up after a timeout ([`FallbackConfig::persist_timeout`]): a hung backend
/// costs a caller at most that long, never a hang. Cheap to clone (the journal and the
/// registry hold one each).
///
/// [`FallbackConfig::persist_timeout`]: crate::FallbackConfig::persist_timeout
#[derive(Clone)]
pub(super) struct Store {
    storage: Arc<dyn Storage>,
    timeout: Duration,
}

impl Store {
    pub(super) fn new(storage: Arc<dyn Storage>, timeout: Duration) -> Self {
        Self { storage, timeout }
    }

    pub(super) const fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// [`Storage::set`], cut off after the timeout.
    pub(super) async fn set(
        &self,
        key: &str,
        value: Value,
        expire: Option<Duration>,
    ) -> storage::Result<()> {
        self.timed(Operation::Set, self.storage.set(key, value, expire))
            .await
    }

    /// [`Storage::delete`], cut off after the timeout.
    pub(super) async fn delete(&self, key: &str) -> storage::Result<bool> {
        self.timed(Operation::Delete, self.storage.delete(key))
            .await
    }

    async fn timed<T>(
        &self,
        operation: Operation,
        call: impl Future<Output = storage::Result<T>>,
    ) -> storage::Result<T> {
        let after = self.timeout;
        tokio::time::timeout(after, call)
            .await
            .unwrap_or(Err(StorageError::Timeout { operation, after }))
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.storage.backend())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whether storage refused a write for good, so no retry can succeed: such a record or
/// definition is dropped rather than kept at the front of its queue forever.
pub(super) fn refused_for_good(error: &StorageError) -> bool {
    matches!(
        error,
        StorageError::InvalidArgument { .. } | StorageError::Serialization { .. }
    )
}

/// A storage for the units' tests that fails, refuses or hangs on demand.
#[cfg(test)]
pub(super) mod testing {
    use std::future::pending;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::Value;
    use storage::{MemoryStorage, Operation, Storage, StorageError};

    /// How a [`Scripted`] storage answers writes (reads always work).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    pub(in crate::manager) enum Writes {
        /// Like the `MemoryStorage` inside.
        Work,
        /// With a connection error, which a retry may get past.
        Fail,
        /// As an invalid argument, which no retry gets past.
        Refuse,
        /// Never.
        Hang,
    }

    /// A `MemoryStorage` whose writes ([`Storage::set`] and [`Storage::delete`]) follow
    /// [`Writes`].
    #[derive(Debug)]
    pub(in crate::manager) struct Scripted {
        pub(in crate::manager) inner: MemoryStorage,
        writes: AtomicU8,
    }

    impl Scripted {
        pub(in crate::manager) fn new(writes: Writes) -> Self {
            Self {
                inner: MemoryStorage::new(),
                writes: AtomicU8::new(writes as u8),
            }
        }

        pub(in crate::manager) fn set_writes(&self, writes: Writes) {
            self.writes.store(writes as u8, Ordering::SeqCst);
        }

        async fn gate(&self, operation: Operation) -> storage::Result<()> {
            match self.writes.load(Ordering::SeqCst) {
                value if value == Writes::Fail as u8 => Err(StorageError::Connection {
                    operation,
                    target: "scripted".to_owned(),
                    message: "connection refused (on purpose)".to_owned(),
                    source: None,
                }),
                value if value == Writes::Refuse as u8 => Err(StorageError::invalid_argument(
                    operation,
                    "refused for good (on purpose)",
                )),
                value if value == Writes::Hang as u8 => pending().await,
                _ => Ok(()),
            }
        }
    }

    #[async_trait]
    impl Storage for Scripted {
        fn backend(&self) -> &'static str {
            "scripted"
        }

        async fn connect(&self) -> storage::Result<()> {
            self.inner.connect().await
        }

        async fn close(&self) -> storage::Result<()> {
            self.inner.close().await
        }

        async fn health_check(&self) -> bool {
            self.inner.health_check().await
        }

        async fn get(&self, key: &str) -> storage::Result<Option<Value>> {
            self.inner.get(key).await
        }

        async fn set(
            &self,
            key: &str,
            value: Value,
            expire: Option<Duration>,
        ) -> storage::Result<()> {
            self.gate(Operation::Set).await?;
            self.inner.set(key, value, expire).await
        }

        async fn delete(&self, key: &str) -> storage::Result<bool> {
            self.gate(Operation::Delete).await?;
            self.inner.delete(key).await
        }

        async fn exists(&self, key: &str) -> storage::Result<bool> {
            self.inner.exists(key).await
        }

        async fn keys(&self, pattern: &str) -> storage::Result<Vec<String>> {
            self.inner.keys(pattern).await
        }

        async fn expire(&self, key: &str, ttl: Duration) -> storage::Result<bool> {
            self.inner.expire(key, ttl).await
        }

        async fn ttl(&self, key: &str) -> storage::Result<Option<Duration>> {
            self.inner.ttl(key).await
        }

        async fn increment(&self, key: &str, amount: i64) -> storage::Result<i64> {
            self.inner.increment(key, amount).await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{Scripted, Writes};
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_reach_storage_or_time_out_after_the_timeout() {
        let scripted = Arc::new(Scripted::new(Writes::Work));
        let store = Store::new(scripted.clone(), Duration::from_secs(2));
        store.set("k", json!(1), None).await.unwrap();
        assert_eq!(scripted.inner.get("k").await.unwrap(), Some(json!(1)));

        scripted.set_writes(Writes::Hang);
        let started = tokio::time::Instant::now();
        let error = store.set("k", json!(2), None).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert!(
            matches!(error, StorageError::Timeout { operation: Operation::Set, after } if after == Duration::from_secs(2)),
            "{error:?}"
        );
        assert!(matches!(
            store.delete("k").await,
            Err(StorageError::Timeout {
                operation: Operation::Delete,
                ..
            })
        ));

        scripted.set_writes(Writes::Work);
        assert!(store.delete("k").await.unwrap());
        assert!(!store.delete("k").await.unwrap());
    }

    #[tokio::test]
    async fn only_invalid_arguments_and_unencodable_values_are_refused_for_good() {
        let scripted = Arc::new(Scripted::new(Writes::Refuse));
        let store = Store::new(scripted.clone(), Duration::from_secs(1));
        assert!(refused_for_good(
            &store.set("k", json!(1), None).await.unwrap_err()
        ));
        scripted.set_writes(Writes::Fail);
        assert!(!refused_for_good(
            &store.set("k", json!(1), None).await.unwrap_err()
        ));
        let Err(encoding) = serde_json::from_str::<Value>("{") else {
            panic!("broken JSON parsed");
        };
        assert!(refused_for_good(&StorageError::serialization(
            "k", encoding
        )));
        assert!(!refused_for_good(&StorageError::Timeout {
            operation: Operation::Set,
            after: Duration::from_secs(1),
        }));
    }
}
