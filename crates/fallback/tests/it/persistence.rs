//! Storage outages never block or undo a transition; queued records reach storage once it
//! answers again; record keys never collide.

use std::sync::Arc;
use std::time::Duration;

use fallback::{DROPPED_RECORDS_METRIC, Error, FallbackManager, FallbackMode};
use serde_json::json;
use storage::{MemoryStorage, Storage};

use crate::support::{Emitted, FlakyStorage, RecordingSink, failed, healthy, open, stored_records};

#[tokio::test]
async fn records_wait_out_an_outage_and_are_written_in_order_afterwards() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());

    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(manager.total_transitions(), 3);
    assert_eq!(manager.pending_records(), 3);
    assert_eq!(manager.get_metrics().pending_records, 3);
    assert!(storage.inner.is_empty());

    let error = manager.flush_pending().await.unwrap_err();
    assert!(
        matches!(&error, Error::Storage { source, .. } if source.is_transient()),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("storage failed while persisting transition record fallback:transition:")
    );
    assert_eq!(
        manager.pending_records(),
        3,
        "a failed flush keeps every record"
    );

    storage.set_failing(false);
    // The next transition writes its own record and the queued ones, oldest first.
    assert_eq!(manager.cascade(&open(2.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.pending_records(), 0);
    let stored = stored_records(&*storage).await;
    assert_eq!(stored, manager.get_transitions_log(10));
    assert_eq!(stored.len(), 4);
}

#[tokio::test]
async fn flush_pending_writes_the_queue_without_a_transition() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    manager.set_mode("safe").await.unwrap();
    storage.set_failing(false);
    assert_eq!(manager.flush_pending().await.unwrap(), 1);
    assert_eq!(manager.flush_pending().await.unwrap(), 0);
    let stored = stored_records(&*storage).await;
    assert_eq!(stored, manager.get_transitions_log(1));
    assert_eq!(stored[0].reason, "manual");
}

#[tokio::test]
async fn the_queue_is_bounded_and_keeps_the_newest() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::builder(storage.clone())
        .max_pending_records(2)
        .build();
    for mode in ["heuristic", "safe", "primary", "safe", "heuristic"] {
        manager.set_mode(mode).await.unwrap();
    }
    let metrics = manager.get_metrics();
    assert_eq!((metrics.pending_records, metrics.dropped_records), (2, 3));
    storage.set_failing(false);
    assert_eq!(manager.flush_pending().await.unwrap(), 2);
    let stored = stored_records(&*storage).await;
    assert_eq!(
        stored,
        manager.get_transitions_log(2),
        "the two newest survive"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_storage_delays_nothing_beyond_the_persist_timeout() {
    let storage = Arc::new(FlakyStorage::default());
    storage.set_hanging(true);
    let manager = FallbackManager::builder(storage.clone())
        .persist_timeout(Duration::from_secs(1))
        .build();
    let started = tokio::time::Instant::now();
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Heuristic);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(manager.get_current_mode(), FallbackMode::Heuristic);
    assert_eq!(manager.pending_records(), 1);

    // While a write hangs, other transitions do not wait for it.
    let stuck = {
        let storage = storage.clone();
        let manager = FallbackManager::builder(storage)
            .persist_timeout(Duration::from_secs(3600))
            .build();
        Arc::new(manager)
    };
    let flusher = {
        let stuck = stuck.clone();
        tokio::spawn(async move {
            stuck.set_mode("safe").await.unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(stuck.get_current_mode(), FallbackMode::Safe);
    let before = tokio::time::Instant::now();
    assert!(stuck.set_mode("primary").await.unwrap());
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "the second change did not wait"
    );
    assert_eq!(stuck.pending_records(), 2);

    storage.set_hanging(false);
    assert_eq!(manager.flush_pending().await.unwrap(), 1);
    flusher.abort();
}

#[tokio::test]
async fn a_storage_failure_refuses_a_fallback_registration_whole() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    let error = manager
        .register_fallback("cache", "severity > 0.5", |_| async { Ok(()) }, json!(null))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Storage { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "storage failed while storing fallback definition \"cache\""
    );
    assert!(manager.fallback_definitions().is_empty());
    storage.set_failing(false);
    manager
        .register_fallback("cache", "severity > 0.5", |_| async { Ok(()) }, json!(null))
        .await
        .unwrap();
    assert_eq!(manager.fallback_definitions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_collide_in_a_burst_even_across_managers_on_one_store() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let managers: Vec<Arc<FallbackManager>> = (0..4)
        .map(|_| {
            Arc::new(
                FallbackManager::builder(storage.clone())
                    .max_pending_records(10_000)
                    .build(),
            )
        })
        .collect();
    let tasks: Vec<_> = managers
        .iter()
        .cloned()
        .map(|manager| {
            tokio::spawn(async move {
                for round in 0..250 {
                    let mode = if round % 2 == 0 { "safe" } else { "primary" };
                    manager.set_mode(mode).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let keys = storage.keys("fallback:transition:*").await.unwrap();
    assert_eq!(
        keys.len(),
        1000,
        "every one of 4 x 250 transitions has its own key"
    );
    for manager in &managers {
        assert_eq!(manager.total_transitions(), 250);
        assert_eq!(manager.pending_records(), 0);
    }
}

#[tokio::test]
async fn a_record_storage_refuses_for_good_is_dropped_and_counted_not_retried_forever() {
    let sink = Arc::new(RecordingSink::default());
    // MemoryStorage refuses a zero expiry as an invalid argument: no retry can succeed.
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .record_ttl(Duration::ZERO)
        .metrics_sink(sink.clone())
        .build();
    for mode in ["heuristic", "safe", "primary"] {
        assert!(manager.set_mode(mode).await.unwrap());
    }
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
    let metrics = manager.get_metrics();
    assert_eq!((metrics.pending_records, metrics.dropped_records), (0, 3));
    assert_eq!(manager.flush_pending().await.unwrap(), 0);
    let dropped: u64 = sink
        .take()
        .into_iter()
        .filter_map(|emitted| match emitted {
            Emitted::Counter(name, count, _) if name == DROPPED_RECORDS_METRIC => Some(count),
            _ => None,
        })
        .sum();
    assert_eq!(dropped, 3);
}
