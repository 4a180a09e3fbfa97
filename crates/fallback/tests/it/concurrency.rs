//! Many tasks cascading and overriding at once: exactly one record per real change, none
//! lost or duplicated, in the log and in storage alike, and callbacks that see the mode
//! they were called for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use fallback::{FallbackManager, FallbackMode, Transition};
use health_model::HealthState;
use storage::{MemoryStorage, Storage};
use tokio::sync::Barrier;

use crate::support::{FlakyStorage, failed, healthy, open, retries, stored_records};

fn shared_manager() -> (Arc<FallbackManager>, Arc<dyn Storage>) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let manager = FallbackManager::builder(storage.clone())
        .max_log_entries(100_000)
        .build();
    (Arc::new(manager), storage)
}

/// Checks that the log is one unbroken chain of real changes ending in the current mode,
/// and that storage holds exactly the same records in the same order.
async fn check_consistent(manager: &FallbackManager, storage: &dyn Storage) -> Vec<Transition> {
    assert_eq!(
        manager.flush_pending().await.unwrap(),
        0,
        "nothing left unpersisted"
    );
    let log = manager.get_transitions_log(usize::MAX);
    assert_eq!(log.len() as u64, manager.total_transitions());
    let mut mode = FallbackMode::Primary;
    for record in &log {
        assert_eq!(record.from, mode, "the chain is unbroken: {log:#?}");
        assert_ne!(record.from, record.to, "only real changes are recorded");
        mode = record.to;
    }
    assert_eq!(manager.get_current_mode(), mode);
    assert_eq!(
        stored_records(storage).await,
        log,
        "storage holds each record once, in order"
    );
    log
}

async fn stampede(
    manager: &Arc<FallbackManager>,
    tasks: usize,
    state: HealthState,
) -> Vec<FallbackMode> {
    let barrier = Arc::new(Barrier::new(tasks));
    let state = Arc::new(state);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (manager, barrier, state) = (manager.clone(), barrier.clone(), state.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                manager.cascade(&state).await
            })
        })
        .collect();
    let mut modes = Vec::new();
    for handle in handles {
        modes.push(handle.await.unwrap());
    }
    modes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stampede_of_identical_cascades_makes_one_transition() {
    let (manager, storage) = shared_manager();
    assert_eq!(
        stampede(&manager, 32, open(5.0)).await,
        vec![FallbackMode::Heuristic; 32]
    );
    assert_eq!(manager.total_transitions(), 1);
    assert_eq!(
        stampede(&manager, 32, failed(2)).await,
        vec![FallbackMode::Safe; 32]
    );
    assert_eq!(
        stampede(&manager, 32, healthy()).await,
        vec![FallbackMode::Primary; 32]
    );
    assert_eq!(manager.total_transitions(), 3);

    let barrier = Arc::new(Barrier::new(32));
    let overrides: Vec<_> = (0..32)
        .map(|_| {
            let (manager, barrier) = (manager.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                manager.set_mode("SAFE").await.unwrap()
            })
        })
        .collect();
    let mut changed = 0;
    for handle in overrides {
        changed += usize::from(handle.await.unwrap());
    }
    assert_eq!(changed, 1, "exactly one override reports the change");
    assert_eq!(manager.total_transitions(), 4);
    check_consistent(&manager, &*storage).await;
}

/// One entry per callback run: the mode it was registered for, the transition's target
/// and the manager's mode while it ran.
type Observations = Arc<Mutex<Vec<(FallbackMode, FallbackMode, FallbackMode)>>>;

fn observe_every_mode(manager: &Arc<FallbackManager>) -> Observations {
    let observations: Observations = Arc::default();
    for mode in FallbackMode::ALL {
        let weak: Weak<FallbackManager> = Arc::downgrade(manager);
        let observations = observations.clone();
        manager.register_mode_callback(mode, move |transition| {
            let (weak, observations) = (weak.clone(), observations.clone());
            async move {
                // Give other tasks every chance to change the mode meanwhile.
                tokio::task::yield_now().await;
                let current = weak.upgrade().ok_or("manager gone")?.get_current_mode();
                observations.lock().push((mode, transition.to, current));
                Ok(())
            }
        });
    }
    observations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_churn_keeps_log_storage_and_callbacks_consistent() {
    let (manager, storage) = shared_manager();
    let observations = observe_every_mode(&manager);
    let states = Arc::new([healthy(), open(3.0), failed(2), retries(80), failed(1)]);
    let tasks: Vec<_> = (0..8_u64)
        .map(|task| {
            let (manager, states) = (manager.clone(), states.clone());
            tokio::spawn(async move {
                let mut seed = task.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..300 {
                    // xorshift: a deterministic mix per task, no dependency needed.
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let pick = usize::try_from(seed % 16).unwrap();
                    if pick < states.len() * 3 {
                        manager.cascade(&states[pick % states.len()]).await;
                    } else {
                        let mode = FallbackMode::ALL[pick % 3];
                        manager.set_mode(mode.as_str()).await.unwrap();
                    }
                    if seed % 5 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let log = check_consistent(&manager, &*storage).await;
    assert!(
        log.len() > 20,
        "the churn changed the mode often: {}",
        log.len()
    );

    let observations = observations.lock().clone();
    assert_eq!(
        observations.len(),
        log.len(),
        "one callback run per transition"
    );
    for (registered_for, entered, current) in &observations {
        assert_eq!(registered_for, entered);
        assert_eq!(
            current, entered,
            "a callback sees the mode it was called for"
        );
    }
    let entered: Vec<FallbackMode> = observations.iter().map(|(_, to, _)| *to).collect();
    let logged: Vec<FallbackMode> = log.iter().map(|record| record.to).collect();
    assert_eq!(entered, logged, "callbacks ran in transition order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flushes_racing_transitions_through_a_flapping_storage_lose_and_repeat_nothing() {
    let storage = Arc::new(FlakyStorage::default());
    let manager = Arc::new(
        FallbackManager::builder(storage.clone())
            .max_log_entries(100_000)
            .max_pending_records(100_000)
            .build(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (storage, done) = (storage.clone(), done.clone());
        tokio::spawn(async move {
            let mut failing = false;
            while !done.load(Ordering::SeqCst) {
                failing = !failing;
                storage.set_failing(failing);
                tokio::task::yield_now().await;
            }
        })
    };
    let flusher = {
        let (manager, done) = (manager.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                // Failures are expected while the storage flaps; records stay queued.
                let _ = manager.flush_pending().await;
                tokio::task::yield_now().await;
            }
        })
    };
    let churners: Vec<_> = (0..4_usize)
        .map(|task| {
            let manager = manager.clone();
            tokio::spawn(async move {
                for round in 0..200 {
                    let mode = FallbackMode::ALL[(task + round) % 3];
                    manager.set_mode_to(mode).await.unwrap();
                    if round % 7 == 0 {
                        manager.cascade(&failed(2)).await;
                    }
                }
            })
        })
        .collect();
    for churner in churners {
        churner.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    flapper.await.unwrap();
    flusher.await.unwrap();
    storage.set_failing(false);
    manager.flush_pending().await.unwrap();
    assert_eq!(manager.get_metrics().dropped_records, 0);
    let log = check_consistent(&manager, &*storage).await;
    assert!(
        log.len() > 100,
        "the churn changed the mode often: {}",
        log.len()
    );
}
