//! Storage outages never block or undo a transition; queued records reach storage once it
//! answers again; record keys never collide. A fallback registered during an outage waits,
//! inactive, until its definition is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use condition::Context;
use fallback::metrics::DROPPED_RECORDS_METRIC;
use fallback::rules::Registration;
use fallback::{Error, FallbackManager, FallbackMode};
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

/// Registers `name` with [`FallbackManager::register_fallback_or_queue`]; its action
/// counts its runs in `runs`.
async fn register_or_queue(
    manager: &FallbackManager,
    name: &str,
    condition: &str,
    runs: &Arc<AtomicUsize>,
) -> Result<Registration, Error> {
    let runs = runs.clone();
    manager
        .register_fallback_or_queue(
            name,
            condition,
            move |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            },
            json!({"owner": "sre"}),
        )
        .await
}

/// The names of the active fallbacks and the stored definitions' conditions by name.
async fn active_and_stored(
    manager: &FallbackManager,
    storage: &dyn Storage,
) -> (Vec<String>, Vec<(String, String)>) {
    let active = manager
        .fallback_definitions()
        .into_iter()
        .map(|definition| definition.name)
        .collect();
    let mut stored = Vec::new();
    for key in storage.keys("fallback:definition:*").await.unwrap() {
        let value = storage.get(&key).await.unwrap().unwrap();
        stored.push((
            value["name"].as_str().unwrap().to_owned(),
            value["condition"].as_str().unwrap().to_owned(),
        ));
    }
    stored.sort();
    (active, stored)
}

#[tokio::test]
async fn a_fallback_queued_during_an_outage_is_inactive_until_flush_pending_stores_it() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    let hot = Context::new().with("severity", 0.9);

    assert_eq!(
        register_or_queue(&manager, "hot", "severity >= 0.8", &runs)
            .await
            .unwrap(),
        Registration::Pending
    );
    assert_eq!(manager.pending_fallbacks(), ["hot"]);
    assert!(manager.fallback_definitions().is_empty());
    assert!(manager.evaluate_fallbacks(&hot).await.fired.is_empty());
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a pending fallback never runs"
    );

    // Still down: the flush says why, and the fallback keeps waiting.
    let error = manager.flush_pending().await.unwrap_err();
    assert!(
        matches!(&error, Error::Storage { source, .. } if source.is_transient()),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "storage failed while storing fallback definition \"hot\""
    );
    assert_eq!(manager.pending_fallbacks(), ["hot"]);

    storage.set_failing(false);
    assert_eq!(
        manager.flush_pending().await.unwrap(),
        0,
        "no transition record was written"
    );
    assert!(manager.pending_fallbacks().is_empty());
    assert_eq!(
        active_and_stored(&manager, &*storage).await,
        (
            vec!["hot".to_owned()],
            vec![("hot".to_owned(), "severity >= 0.8".to_owned())]
        )
    );
    let stored = storage
        .inner
        .get("fallback:definition:hot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["metadata"], json!({"owner": "sre"}));
    assert_eq!(
        manager
            .evaluate_fallbacks(&hot)
            .await
            .fired_names()
            .collect::<Vec<_>>(),
        ["hot"]
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_transition_stores_pending_definitions_in_registration_order() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    for name in ["first", "second"] {
        register_or_queue(&manager, name, "severity > 0.5", &runs)
            .await
            .unwrap();
    }
    assert_eq!(manager.pending_fallbacks(), ["first", "second"]);

    storage.set_failing(false);
    // The transition's own write finds storage back and takes the definitions along.
    manager.set_mode("safe").await.unwrap();
    assert!(manager.pending_fallbacks().is_empty());
    assert_eq!(manager.pending_records(), 0);
    let (active, stored) = active_and_stored(&manager, &*storage).await;
    assert_eq!(active, ["first", "second"]);
    assert_eq!(stored.len(), 2);
}

#[tokio::test]
async fn a_stored_registration_is_active_at_once_and_the_plain_call_still_refuses_whole() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    // `register_fallback` keeps its contract: the error, nothing queued.
    assert!(matches!(
        manager
            .register_fallback("plain", "severity > 0.5", |_| async { Ok(()) }, json!(null))
            .await,
        Err(Error::Storage { .. })
    ));
    assert!(manager.pending_fallbacks().is_empty());

    storage.set_failing(false);
    assert_eq!(
        register_or_queue(&manager, "cache", "severity > 0.5", &runs)
            .await
            .unwrap(),
        Registration::Active
    );
    assert!(manager.pending_fallbacks().is_empty());
    assert_eq!(manager.flush_pending().await.unwrap(), 0);
    assert_eq!(
        active_and_stored(&manager, &*storage).await,
        (
            vec!["cache".to_owned()],
            vec![("cache".to_owned(), "severity > 0.5".to_owned())]
        )
    );
}

#[tokio::test]
async fn a_queued_redefinition_replaces_in_place_and_the_active_one_serves_meanwhile() {
    let storage = Arc::new(FlakyStorage::default());
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    register_or_queue(&manager, "cache", "severity > 0.9", &runs)
        .await
        .unwrap();

    storage.set_failing(true);
    for condition in ["severity > 0.5", "severity > 0.1"] {
        assert_eq!(
            register_or_queue(&manager, "cache", condition, &runs)
                .await
                .unwrap(),
            Registration::Pending
        );
    }
    assert_eq!(manager.pending_fallbacks(), ["cache"], "never duplicated");
    let mild = Context::new().with("severity", 0.3);
    assert!(
        manager.evaluate_fallbacks(&mild).await.fired.is_empty(),
        "the stored definition still decides"
    );

    storage.set_failing(false);
    manager.flush_pending().await.unwrap();
    assert_eq!(
        active_and_stored(&manager, &*storage).await,
        (
            vec!["cache".to_owned()],
            vec![("cache".to_owned(), "severity > 0.1".to_owned())]
        )
    );
    assert_eq!(manager.evaluate_fallbacks(&mild).await.fired.len(), 1);
}

#[tokio::test]
async fn a_later_stored_registration_or_an_unregistration_ends_the_wait() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    for name in ["replaced", "removed"] {
        register_or_queue(&manager, name, "severity > 0.9", &runs)
            .await
            .unwrap();
    }
    // Down: unregistering cannot delete, so the fallback stays pending.
    assert!(manager.unregister_fallback("removed").await.is_err());
    assert_eq!(manager.pending_fallbacks(), ["replaced", "removed"]);

    storage.set_failing(false);
    manager
        .register_fallback(
            "replaced",
            "severity > 0.2",
            |_| async { Ok(()) },
            json!(null),
        )
        .await
        .unwrap();
    assert!(manager.unregister_fallback("removed").await.unwrap());
    assert!(manager.pending_fallbacks().is_empty());
    manager.flush_pending().await.unwrap();
    // The queued definitions were dropped, never written over the newer state.
    assert_eq!(
        active_and_stored(&manager, &*storage).await,
        (
            vec!["replaced".to_owned()],
            vec![("replaced".to_owned(), "severity > 0.2".to_owned())]
        )
    );
}

#[tokio::test]
async fn a_definition_storage_refuses_for_good_is_an_error_or_dropped_never_retried_forever() {
    let storage = Arc::new(FlakyStorage::default());
    let manager = FallbackManager::new(storage.clone());
    let runs = Arc::new(AtomicUsize::new(0));

    storage.set_refusing(true);
    let error = register_or_queue(&manager, "refused", "severity > 0.5", &runs)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Storage { source, .. } if !source.is_transient()),
        "{error}"
    );
    assert!(manager.pending_fallbacks().is_empty());

    // Queued during an outage, then refused for good once storage answers: dropped.
    storage.set_refusing(false);
    storage.set_failing(true);
    register_or_queue(&manager, "doomed", "severity > 0.5", &runs)
        .await
        .unwrap();
    register_or_queue(&manager, "fine", "severity > 0.5", &runs)
        .await
        .unwrap();
    storage.set_failing(false);
    storage.set_refusing(true);
    manager.flush_pending().await.unwrap();
    assert!(manager.pending_fallbacks().is_empty());
    assert!(manager.fallback_definitions().is_empty());
    // An invalid condition is refused before storage is asked.
    assert!(matches!(
        register_or_queue(&manager, "bad", "severity >", &runs).await,
        Err(Error::InvalidCondition { .. })
    ));
    assert!(manager.pending_fallbacks().is_empty());
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
