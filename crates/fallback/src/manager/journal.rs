//! [`Journal`]: the transitions the manager made, in a bounded log, counted, and
//! persisted through a bounded queue that rides out storage outages.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

use super::FallbackManager;
use super::metrics::Emitter;
use super::store::{Store, refused_for_good};
use crate::transition::next_record_id;
use crate::{Error, FallbackConfig, Result, Transition};

/// Every transition, three ways: counted, kept in a log of the newest
/// [`FallbackConfig::max_log_entries`], and queued for storage as a JSON object under
/// `<namespace>:transition:<id>`.
///
/// [`record`](Self::record) never waits and never fails: a storage outage only grows the
/// queue, whose oldest records are dropped (and counted) beyond
/// [`FallbackConfig::max_pending_records`]. [`flush`](Self::flush) writes the queue in
/// order under its own async lock, so each record is written once.
#[derive(Debug)]
pub(super) struct Journal {
    namespace: String,
    max_log_entries: usize,
    max_pending: usize,
    record_ttl: Duration,
    store: Store,
    metrics: Emitter,
    log: Mutex<VecDeque<Transition>>,
    total: AtomicU64,
    pending: Mutex<Pending>,
    /// Held by whoever is writing pending records, so they are written once, in order.
    flush_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Pending {
    records: VecDeque<PendingRecord>,
    dropped: u64,
}

#[derive(Debug, Clone)]
struct PendingRecord {
    key: String,
    value: Value,
}

impl Journal {
    /// An empty journal with `config`'s namespace, bounds and record lifetime.
    pub(super) fn new(config: &FallbackConfig, store: Store, metrics: Emitter) -> Self {
        Self {
            namespace: config.namespace.clone(),
            max_log_entries: config.max_log_entries,
            max_pending: config.max_pending_records.max(1),
            record_ttl: config.record_ttl,
            store,
            metrics,
            log: Mutex::new(VecDeque::new()),
            total: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            flush_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts, logs and queues `transition` for storage; drops the oldest queued records
    /// beyond the bound.
    pub(super) fn record(&self, transition: &Transition) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.append_to_log(transition);
        self.enqueue(transition);
    }

    /// The most recent `limit` transitions, oldest first.
    pub(super) fn recent(&self, limit: usize) -> Vec<Transition> {
        let log = self.log.lock();
        let skip = log.len().saturating_sub(limit);
        log.iter().skip(skip).cloned().collect()
    }

    /// Every transition recorded.
    pub(super) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// How many records wait for storage.
    pub(super) fn pending(&self) -> usize {
        self.pending.lock().records.len()
    }

    /// How many records wait for storage and how many were dropped unpersisted, read
    /// together.
    pub(super) fn backlog(&self) -> (usize, u64) {
        let pending = self.pending.lock();
        (pending.records.len(), pending.dropped)
    }

    /// Writes the pending records, oldest first, under the flush lock: waiting for it if
    /// `wait`, else leaving them to whoever holds it. Returns how many were written.
    ///
    /// A record storage refuses for good is dropped and counted; any other failure stops
    /// the flush, the record staying at the front of the queue.
    pub(super) async fn flush(&self, wait: bool) -> Result<usize> {
        let mut written = 0;
        loop {
            let guard = if wait {
                self.flush_lock.lock().await
            } else {
                match self.flush_lock.try_lock() {
                    Ok(guard) => guard,
                    Err(_) => return Ok(written),
                }
            };
            written += self.drain().await?;
            drop(guard);
            // A transition that queued its record while we held the lock found it taken
            // and left the record to us: look again once the lock is free.
            if self.pending() == 0 {
                return Ok(written);
            }
        }
    }

    fn append_to_log(&self, transition: &Transition) {
        if self.max_log_entries == 0 {
            return;
        }
        let mut log = self.log.lock();
        while log.len() >= self.max_log_entries {
            log.pop_front();
        }
        log.push_back(transition.clone());
    }

    fn enqueue(&self, transition: &Transition) {
        let key = format!(
            "{}:transition:{}",
            self.namespace,
            next_record_id(transition.timestamp)
        );
        let value = match serde_json::to_value(transition) {
            Ok(value) => value,
            Err(error) => {
                // Unreachable for this plain record; never worth a panic.
                tracing::error!(%error, "fallback transition record could not be encoded");
                return;
            }
        };
        let dropped = {
            let mut pending = self.pending.lock();
            pending.records.push_back(PendingRecord { key, value });
            let mut dropped = 0;
            while pending.records.len() > self.max_pending {
                pending.records.pop_front();
                dropped += 1;
            }
            pending.dropped += dropped;
            dropped
        };
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "fallback transition records dropped unpersisted: the queue is full"
            );
            self.metrics.dropped(dropped);
        }
    }

    /// Writes records until the queue is empty or a write fails; the caller holds the
    /// flush lock.
    async fn drain(&self) -> Result<usize> {
        let mut written = 0;
        loop {
            let front = self.pending.lock().records.front().cloned();
            let Some(PendingRecord { key, value }) = front else {
                return Ok(written);
            };
            match self.store.set(&key, value, Some(self.record_ttl)).await {
                Ok(()) => {
                    written += 1;
                    self.remove_front(&key, false);
                }
                Err(source) => {
                    self.metrics.persist_failure();
                    if !refused_for_good(&source) {
                        return Err(Error::storage(
                            format!("persisting transition record {key}"),
                            source,
                        ));
                    }
                    // No retry can write this record: kept at the front, it would keep
                    // every later one out of storage.
                    tracing::error!(
                        key = %key,
                        error = %source,
                        "fallback transition record refused by storage for good; dropped"
                    );
                    if self.remove_front(&key, true) {
                        self.metrics.dropped(1);
                    }
                }
            }
        }
    }

    /// Removes the front record if it is still `key` (a full queue may have dropped it
    /// meanwhile), counting it as dropped if told; whether it did.
    fn remove_front(&self, key: &str, dropped: bool) -> bool {
        let mut pending = self.pending.lock();
        let is_front = pending
            .records
            .front()
            .is_some_and(|front| front.key == key);
        if is_front {
            pending.records.pop_front();
            pending.dropped += u64::from(dropped);
        }
        is_front
    }
}

impl FallbackManager {
    /// How many transition records wait for storage.
    #[must_use]
    pub fn pending_records(&self) -> usize {
        self.journal.pending()
    }

    /// The most recent `limit` transitions, oldest first (all kept ones if fewer; none
    /// for 0). The log keeps at most [`FallbackConfig::max_log_entries`].
    #[must_use]
    pub fn get_transitions_log(&self, limit: usize) -> Vec<Transition> {
        self.journal.recent(limit)
    }

    /// Every transition since the manager was built, including those the bounded log no
    /// longer holds.
    #[must_use]
    pub fn total_transitions(&self) -> u64 {
        self.journal.total()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use health_model::Timestamp;
    use health_sinks::testing::{Emitted, RecordingSink};
    use storage::Storage;

    use super::*;
    use crate::FallbackMode;
    use crate::manager::DROPPED_RECORDS_METRIC;
    use crate::manager::PERSIST_FAILURES_METRIC;
    use crate::manager::store::testing::{Scripted, Writes};

    fn transition(reason: &str) -> Transition {
        Transition::new(
            Timestamp::now(),
            FallbackMode::Primary,
            FallbackMode::Safe,
            reason.to_owned(),
        )
    }

    struct Fixture {
        journal: Journal,
        storage: Arc<Scripted>,
        sink: Arc<RecordingSink>,
    }

    fn fixture(writes: Writes, change: impl FnOnce(&mut FallbackConfig)) -> Fixture {
        let mut config = FallbackConfig::default();
        change(&mut config);
        let storage = Arc::new(Scripted::new(writes));
        let sink = Arc::new(RecordingSink::new());
        let journal = Journal::new(
            &config,
            Store::new(storage.clone(), config.persist_timeout),
            Emitter::new(Some(sink.clone())),
        );
        Fixture {
            journal,
            storage,
            sink,
        }
    }

    fn reasons(transitions: &[Transition]) -> Vec<&str> {
        transitions.iter().map(|t| t.reason.as_str()).collect()
    }

    async fn stored(storage: &Scripted) -> Vec<String> {
        let mut reasons = Vec::new();
        for key in storage.inner.keys("fallback:transition:*").await.unwrap() {
            let value = storage.inner.get(&key).await.unwrap().unwrap();
            reasons.push(value["reason"].as_str().unwrap().to_owned());
        }
        reasons
    }

    #[test]
    fn the_log_keeps_the_newest_and_the_count_keeps_them_all() {
        let Fixture { journal, .. } = fixture(Writes::Work, |config| config.max_log_entries = 2);
        for reason in ["a", "b", "c"] {
            journal.record(&transition(reason));
        }
        assert_eq!(journal.total(), 3);
        assert_eq!(reasons(&journal.recent(10)), ["b", "c"]);
        assert_eq!(reasons(&journal.recent(1)), ["c"]);
        assert!(journal.recent(0).is_empty());

        let Fixture { journal, .. } = fixture(Writes::Work, |config| config.max_log_entries = 0);
        journal.record(&transition("a"));
        assert_eq!((journal.total(), journal.recent(10).len()), (1, 0));
    }

    #[tokio::test]
    async fn a_flush_writes_the_queue_in_order_with_the_records_lifetime() {
        let Fixture {
            journal, storage, ..
        } = fixture(Writes::Work, |config| {
            config.record_ttl = Duration::from_secs(60);
        });
        for reason in ["a", "b"] {
            journal.record(&transition(reason));
        }
        assert_eq!(journal.pending(), 2);
        assert_eq!(journal.flush(true).await.unwrap(), 2);
        assert_eq!(journal.pending(), 0);
        assert_eq!(stored(&storage).await, ["a", "b"]);
        let key = &storage.inner.keys("fallback:transition:*").await.unwrap()[0];
        let ttl = storage.inner.ttl(key).await.unwrap().unwrap();
        assert!(
            ttl > Duration::from_secs(55) && ttl <= Duration::from_secs(60),
            "{ttl:?}"
        );
        assert_eq!(
            journal.flush(true).await.unwrap(),
            0,
            "nothing left to write"
        );
    }

    #[tokio::test]
    async fn a_failing_store_keeps_records_queued_up_to_the_bound() {
        let Fixture {
            journal,
            storage,
            sink,
        } = fixture(Writes::Fail, |config| config.max_pending_records = 2);
        for reason in ["a", "b", "c"] {
            journal.record(&transition(reason));
        }
        assert_eq!(journal.backlog(), (2, 1), "the oldest was dropped");
        let error = journal.flush(true).await.unwrap_err();
        assert!(matches!(error, Error::Storage { .. }), "{error:?}");
        assert_eq!(journal.backlog(), (2, 1), "a failed write keeps its record");

        storage.set_writes(Writes::Work);
        assert_eq!(journal.flush(false).await.unwrap(), 2);
        assert_eq!(stored(&storage).await, ["b", "c"]);
        assert_eq!(
            sink.take(),
            [
                Emitted::Counter(DROPPED_RECORDS_METRIC.to_owned(), 1, vec![]),
                Emitted::Counter(PERSIST_FAILURES_METRIC.to_owned(), 1, vec![]),
            ]
        );
    }

    #[tokio::test]
    async fn a_record_refused_for_good_is_dropped_and_counted() {
        let Fixture {
            journal,
            storage,
            sink,
        } = fixture(Writes::Refuse, |_| {});
        journal.record(&transition("a"));
        journal.record(&transition("b"));
        assert_eq!(journal.flush(true).await.unwrap(), 0);
        assert_eq!(journal.backlog(), (0, 2));
        assert!(stored(&storage).await.is_empty());
        assert_eq!(
            sink.take()
                .iter()
                .filter(|emitted| matches!(emitted, Emitted::Counter(name, 1, _) if name == DROPPED_RECORDS_METRIC))
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn a_record_queued_during_a_flush_is_left_to_that_flush() {
        let Fixture {
            journal, storage, ..
        } = fixture(Writes::Work, |_| {});
        let flushing = journal.flush_lock.lock().await;
        journal.record(&transition("a"));
        // Someone else holds the lock: a quiet flush leaves the record to them.
        assert_eq!(journal.flush(false).await.unwrap(), 0);
        assert_eq!(journal.pending(), 1);
        drop(flushing);
        assert_eq!(journal.flush(true).await.unwrap(), 1);
        assert_eq!(stored(&storage).await, ["a"]);
    }
}
