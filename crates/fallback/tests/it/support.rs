//! Shared helpers: health states, a storage that fails or hangs on demand, a recording
//! metrics sink and scripted detectors.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use fallback::detection::{AnomalyDetector, Detection};
use fallback::{BoxError, FallbackManager, Hysteresis, Transition};
use health_model::HealthState;
use serde_json::{Value, json};
use storage::{MemoryStorage, Operation, Storage, StorageError};

pub(crate) fn state(value: Value) -> HealthState {
    serde_json::from_value(value).unwrap()
}

/// CLOSED breaker, no retry failures, no failed component.
pub(crate) fn healthy() -> HealthState {
    state(
        json!({"circuit_breaker": {"state": "CLOSED"}, "retry": {"failures_1h": 0}, "system": {"failed_components": 0}}),
    )
}

/// An OPEN breaker that has been open `seconds`.
pub(crate) fn open(seconds: f64) -> HealthState {
    state(json!({"circuit_breaker": {"state": "OPEN", "open_duration_seconds": seconds}}))
}

/// `count` retry failures in the window.
pub(crate) fn retries(count: u64) -> HealthState {
    state(json!({"retry": {"failures_1h": count}}))
}

/// `count` failed components.
pub(crate) fn failed(count: u64) -> HealthState {
    state(json!({"system": {"failed_components": count}}))
}

/// A manager on a fresh `MemoryStorage`, and that storage.
pub(crate) fn manager() -> (FallbackManager, Arc<dyn Storage>) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    (FallbackManager::new(storage.clone()), storage)
}

/// A manager on a fresh `MemoryStorage` that damps recoveries with `hysteresis`.
pub(crate) fn damped(hysteresis: Hysteresis) -> FallbackManager {
    FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .hysteresis(hysteresis)
        .build()
}

/// The transition records stored under the default namespace, oldest first (ids sort by
/// time).
pub(crate) async fn stored_records(storage: &dyn Storage) -> Vec<Transition> {
    let mut records = Vec::new();
    for key in storage.keys("fallback:transition:*").await.unwrap() {
        let value = storage.get(&key).await.unwrap().unwrap();
        records.push(serde_json::from_value(value).unwrap());
    }
    records
}

/// The reasons of the logged transitions, oldest first.
pub(crate) fn reasons(manager: &FallbackManager) -> Vec<String> {
    manager
        .get_transitions_log(usize::MAX)
        .into_iter()
        .map(|record| record.reason)
        .collect()
}

/// A `MemoryStorage` whose operations fail (transiently or for good) or hang while told
/// to.
#[derive(Debug, Default)]
pub(crate) struct FlakyStorage {
    pub(crate) inner: MemoryStorage,
    pub(crate) failing: AtomicBool,
    pub(crate) refusing: AtomicBool,
    pub(crate) hanging: AtomicBool,
    pub(crate) set_calls: AtomicUsize,
}

impl FlakyStorage {
    pub(crate) fn failing() -> Arc<Self> {
        let storage = Self::default();
        storage.failing.store(true, Ordering::SeqCst);
        Arc::new(storage)
    }

    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Refuses every operation as an invalid argument, which no retry can get past.
    pub(crate) fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    pub(crate) fn set_hanging(&self, hanging: bool) {
        self.hanging.store(hanging, Ordering::SeqCst);
    }

    async fn gate(&self, operation: Operation) -> storage::Result<()> {
        if self.hanging.load(Ordering::SeqCst) {
            pending::<()>().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StorageError::Connection {
                operation,
                target: "flaky".to_owned(),
                message: "connection refused (on purpose)".to_owned(),
                source: None,
            });
        }
        if self.refusing.load(Ordering::SeqCst) {
            return Err(StorageError::invalid_argument(
                operation,
                "refused for good (on purpose)",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for FlakyStorage {
    fn backend(&self) -> &'static str {
        "flaky"
    }

    async fn connect(&self) -> storage::Result<()> {
        self.inner.connect().await
    }

    async fn close(&self) -> storage::Result<()> {
        self.inner.close().await
    }

    async fn health_check(&self) -> bool {
        !self.failing.load(Ordering::SeqCst) && self.inner.health_check().await
    }

    async fn get(&self, key: &str) -> storage::Result<Option<Value>> {
        self.gate(Operation::Get).await?;
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: Value, expire: Option<Duration>) -> storage::Result<()> {
        self.set_calls.fetch_add(1, Ordering::SeqCst);
        self.gate(Operation::Set).await?;
        self.inner.set(key, value, expire).await
    }

    async fn delete(&self, key: &str) -> storage::Result<bool> {
        self.gate(Operation::Delete).await?;
        self.inner.delete(key).await
    }

    async fn exists(&self, key: &str) -> storage::Result<bool> {
        self.gate(Operation::Exists).await?;
        self.inner.exists(key).await
    }

    async fn keys(&self, pattern: &str) -> storage::Result<Vec<String>> {
        self.gate(Operation::Keys).await?;
        self.inner.keys(pattern).await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> storage::Result<bool> {
        self.gate(Operation::Expire).await?;
        self.inner.expire(key, ttl).await
    }

    async fn ttl(&self, key: &str) -> storage::Result<Option<Duration>> {
        self.gate(Operation::Ttl).await?;
        self.inner.ttl(key).await
    }

    async fn increment(&self, key: &str, amount: i64) -> storage::Result<i64> {
        self.gate(Operation::Increment).await?;
        self.inner.increment(key, amount).await
    }
}

pub(crate) use health_sinks::testing::{Emitted, RecordingSink};

/// What a [`ScriptedDetector`] does when asked.
#[derive(Debug, Clone)]
pub(crate) enum Script {
    Answer(Detection),
    Fail(&'static str),
    Panic,
    Hang,
}

/// A detector that follows its script and remembers what it was given.
#[derive(Debug)]
pub(crate) struct ScriptedDetector {
    pub(crate) script: Script,
    pub(crate) seen: Mutex<Vec<Value>>,
}

impl ScriptedDetector {
    pub(crate) fn new(script: Script) -> Arc<Self> {
        Arc::new(Self {
            script,
            seen: Mutex::new(Vec::new()),
        })
    }

    /// Answers `{anomaly: true, confidence, mode}`, as the original's test fixtures do.
    pub(crate) fn answering(confidence: f64, mode: &str) -> Arc<Self> {
        Self::new(Script::Answer(Detection::new(true, confidence, mode)))
    }

    pub(crate) fn calls(&self) -> usize {
        self.seen.lock().len()
    }
}

#[async_trait]
impl AnomalyDetector for ScriptedDetector {
    async fn detect_anomaly(&self, data: &Value) -> Result<Detection, BoxError> {
        self.seen.lock().push(data.clone());
        match &self.script {
            Script::Answer(detection) => Ok(detection.clone()),
            Script::Fail(message) => Err((*message).into()),
            Script::Panic => panic!("detector exploded"),
            Script::Hang => pending().await,
        }
    }
}
