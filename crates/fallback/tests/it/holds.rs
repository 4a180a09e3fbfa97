//! Operator holds: a held mode survives every cascade until released or expired (tokio's
//! paused clock), counts no hysteresis evaluation, wins every race with cascades, shows in
//! the metrics, and `set_mode` ends it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fallback::{
    Error, FallbackManager, FallbackMode, Hysteresis, MANUAL_REASON, ModeHold, Transition,
};
use health_model::HealthState;
use serde_json::json;
use storage::{MemoryStorage, Storage};
use tokio::sync::Barrier;
use tokio::time::advance;

use crate::support::{damped, failed, healthy, manager, open, retries, stored_records};

type Held = Option<(FallbackMode, Option<Duration>)>;

/// A hold as a comparable pair.
fn held(mode: FallbackMode, remaining: Option<Duration>) -> Held {
    Some((mode, remaining))
}

fn parts(hold: Option<ModeHold>) -> Held {
    hold.map(|hold| (hold.mode, hold.remaining))
}

fn last_transition(manager: &FallbackManager) -> Transition {
    manager.get_transitions_log(1).pop().unwrap()
}

#[tokio::test]
async fn an_indefinite_hold_survives_cascades_on_worse_and_better_health() {
    let (manager, _) = manager();
    assert!(
        manager
            .hold_mode(FallbackMode::Heuristic, None)
            .await
            .unwrap()
    );
    assert_eq!(last_transition(&manager).reason, MANUAL_REASON);
    let states: [HealthState; 5] = [failed(2), healthy(), failed(5), retries(80), open(9.0)];
    for round in 0..100 {
        assert_eq!(
            manager.cascade(&states[round % states.len()]).await,
            FallbackMode::Heuristic,
            "round {round}"
        );
    }
    assert_eq!(manager.total_transitions(), 1);
    assert_eq!(
        parts(manager.current_hold()),
        held(FallbackMode::Heuristic, None)
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_hold_expires_and_the_next_cascade_decides() {
    let (manager, _) = manager();
    assert!(
        manager
            .hold_mode(FallbackMode::Safe, Some(Duration::from_secs(30)))
            .await
            .unwrap()
    );
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    advance(Duration::from_secs(29)).await;
    assert_eq!(
        parts(manager.current_hold()),
        held(FallbackMode::Safe, Some(Duration::from_secs(1)))
    );
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Safe);

    advance(Duration::from_secs(1)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(parts(manager.current_hold()), None);
    assert_eq!(
        parts(manager.release_hold()),
        None,
        "nothing left to release"
    );
    let recovery = last_transition(&manager);
    assert_eq!(
        (recovery.from, recovery.to),
        (FallbackMode::Safe, FallbackMode::Primary)
    );
    assert_ne!(recovery.reason, MANUAL_REASON);
    assert_eq!(manager.total_transitions(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_expired_hold_reads_as_none_even_before_a_cascade_notices() {
    let (manager, _) = manager();
    manager
        .hold_mode(FallbackMode::Heuristic, Some(Duration::from_millis(1500)))
        .await
        .unwrap();
    advance(Duration::from_secs(2)).await;
    assert_eq!(parts(manager.get_metrics().hold), None);
    assert_eq!(manager.get_current_mode(), FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
}

#[tokio::test]
async fn releasing_returns_control_to_the_cascade() {
    let (manager, _) = manager();
    manager.hold_mode(FallbackMode::Safe, None).await.unwrap();
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(
        parts(manager.release_hold()),
        held(FallbackMode::Safe, None)
    );
    assert_eq!(parts(manager.release_hold()), None, "released once");
    assert_eq!(
        manager.get_current_mode(),
        FallbackMode::Safe,
        "a release alone changes no mode"
    );
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(manager.cascade(&open(2.0)).await, FallbackMode::Heuristic);
}

#[tokio::test(start_paused = true)]
async fn a_hold_counts_no_hysteresis_evaluation_and_clears_the_streak() {
    let manager = damped(Hysteresis::new().recovery_evaluations(3));
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    // Two healthier evaluations before the hold: evidence the hold discards.
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert!(
        !manager.hold_mode(FallbackMode::Safe, None).await.unwrap(),
        "already safe: held without a transition"
    );
    for _ in 0..10 {
        assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    }
    manager.release_hold().unwrap();
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(manager.total_transitions(), 2);
}

#[tokio::test]
async fn the_metrics_report_the_hold() {
    let (manager, _) = manager();
    let metrics = serde_json::to_value(manager.get_metrics()).unwrap();
    assert_eq!(metrics["hold"], json!(null));

    manager.hold_mode(FallbackMode::Safe, None).await.unwrap();
    let metrics = manager.get_metrics();
    assert_eq!(parts(metrics.hold), held(FallbackMode::Safe, None));
    assert_eq!(metrics.current_mode, FallbackMode::Safe);
    assert_eq!(
        serde_json::to_value(&metrics).unwrap()["hold"],
        json!({"mode": "safe", "expires_in_seconds": null})
    );

    manager.release_hold();
    assert_eq!(parts(manager.get_metrics().hold), None);
}

#[tokio::test(start_paused = true)]
async fn the_metrics_count_a_timed_hold_down() {
    let (manager, _) = manager();
    manager
        .hold_mode(FallbackMode::Heuristic, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    advance(Duration::from_secs(15)).await;
    assert_eq!(
        serde_json::to_value(manager.get_metrics()).unwrap()["hold"],
        json!({"mode": "heuristic", "expires_in_seconds": 45.0})
    );
}

/// What a call does to a SAFE hold.
#[derive(Debug, Clone, Copy)]
enum Call {
    SetMode(&'static str),
    SetModeUnlessHeld(FallbackMode),
    Hold(FallbackMode, Option<Duration>),
}

/// Holds SAFE until released, makes `call`, and checks whether the mode changed, the
/// mode and hold after it, and what the next cascade on a healthy state returns.
async fn check(
    call: Call,
    changed: bool,
    mode: FallbackMode,
    hold: Held,
    next_cascade: FallbackMode,
) {
    let (manager, _) = manager();
    manager.hold_mode(FallbackMode::Safe, None).await.unwrap();
    let result = match call {
        Call::SetMode(name) => manager.set_mode(name).await,
        Call::SetModeUnlessHeld(mode) => manager.set_mode_unless_held(mode).await,
        Call::Hold(mode, duration) => manager.hold_mode(mode, duration).await,
    };
    assert_eq!(result.unwrap(), changed, "{call:?}");
    assert_eq!(manager.get_current_mode(), mode, "{call:?}");
    assert_eq!(parts(manager.current_hold()), hold, "{call:?}");
    assert_eq!(manager.cascade(&healthy()).await, next_cascade, "{call:?}");
}

#[tokio::test(start_paused = true)]
async fn set_mode_ends_a_hold_and_other_calls_replace_or_yield_to_it() {
    use FallbackMode::{Heuristic, Primary, Safe};
    let minute = Some(Duration::from_secs(60));
    // A one-shot change, to another mode or to the one held, ends the hold.
    check(Call::SetMode("heuristic"), true, Heuristic, None, Primary).await;
    check(Call::SetMode("SAFE"), false, Safe, None, Primary).await;
    // A zero-length hold is a one-shot change.
    check(
        Call::Hold(Heuristic, Some(Duration::ZERO)),
        true,
        Heuristic,
        None,
        Primary,
    )
    .await;
    // Another hold replaces it.
    check(
        Call::Hold(Heuristic, minute),
        true,
        Heuristic,
        held(Heuristic, minute),
        Heuristic,
    )
    .await;
    check(
        Call::Hold(Safe, minute),
        false,
        Safe,
        held(Safe, minute),
        Safe,
    )
    .await;
    // An automated change yields to it.
    check(
        Call::SetModeUnlessHeld(Primary),
        false,
        Safe,
        held(Safe, None),
        Safe,
    )
    .await;
}

#[tokio::test]
async fn set_mode_unless_held_changes_the_mode_when_nothing_is_held() {
    let (manager, _) = manager();
    assert!(
        manager
            .set_mode_unless_held(FallbackMode::Heuristic)
            .await
            .unwrap()
    );
    assert_eq!(last_transition(&manager).reason, MANUAL_REASON);
    assert_eq!(parts(manager.current_hold()), None);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert!(manager.set_mode("nonsense").await.is_err());
}

#[tokio::test]
async fn a_mode_callback_cannot_take_a_hold_on_its_own_manager() {
    let manager = Arc::new(FallbackManager::in_memory());
    let outcome = Arc::new(parking_lot::Mutex::new(None));
    let (weak, seen) = (Arc::downgrade(&manager), outcome.clone());
    manager.register_mode_callback(FallbackMode::Safe, move |_| {
        let (weak, seen) = (weak.clone(), seen.clone());
        async move {
            let manager = weak.upgrade().ok_or("manager gone")?;
            let result = manager.hold_mode(FallbackMode::Primary, None).await;
            *seen.lock() = Some(result);
            Ok(())
        }
    });
    manager.cascade(&failed(2)).await;
    let result = outcome.lock().take().unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Reentrant {
                operation: "hold_mode"
            })
        ),
        "{result:?}"
    );
    assert_eq!(parts(manager.current_hold()), None);
    assert_eq!(manager.get_current_mode(), FallbackMode::Safe);
}

/// 32 tasks cascade between SAFE and PRIMARY as fast as they can while the mode is held
/// in HEURISTIC: once `hold_mode` has returned, no cascade transitions, and the hold's is
/// the last record in the log and in storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_racing_32_cascading_tasks_is_never_undone() {
    const TASKS: usize = 32;
    const CASCADES_AFTER_HOLD: usize = 200;
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let manager = Arc::new(
        FallbackManager::builder(storage.clone())
            .max_log_entries(1_000_000)
            .max_pending_records(1_000_000)
            .build(),
    );
    // Transitions that keep the lock a while: cascades queue behind the hold's.
    for mode in [FallbackMode::Safe, FallbackMode::Primary] {
        manager.register_mode_callback(mode, |_| async {
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            Ok(())
        });
    }
    let holding = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(TASKS + 1));
    let states = Arc::new([failed(2), healthy()]);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (manager, holding, barrier, states) = (
                manager.clone(),
                holding.clone(),
                barrier.clone(),
                states.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let mut after_hold = 0;
                let mut round = task;
                while after_hold < CASCADES_AFTER_HOLD {
                    // Read first: a cascade begun before the hold took effect may
                    // still return the mode it found.
                    let began_after_hold = holding.load(Ordering::SeqCst);
                    let mode = manager.cascade(&states[round % 2]).await;
                    if began_after_hold {
                        assert_eq!(mode, FallbackMode::Heuristic, "a cascade undid the hold");
                        after_hold += 1;
                    }
                    round += 1;
                    if round % 4 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    barrier.wait().await;
    while manager.total_transitions() < 50 {
        tokio::task::yield_now().await;
    }
    assert!(
        manager
            .hold_mode(FallbackMode::Heuristic, None)
            .await
            .unwrap(),
        "the cascades only reach SAFE and PRIMARY"
    );
    let transitions_at_hold = manager.total_transitions();
    holding.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(manager.total_transitions(), transitions_at_hold);
    assert_eq!(manager.get_current_mode(), FallbackMode::Heuristic);
    let log = manager.get_transitions_log(usize::MAX);
    assert_eq!(log.len() as u64, transitions_at_hold);
    let mut mode = FallbackMode::Primary;
    for record in &log {
        assert_eq!(record.from, mode, "the chain is unbroken");
        mode = record.to;
    }
    let last = log.last().unwrap();
    assert_eq!(
        (last.to, last.reason.as_str()),
        (FallbackMode::Heuristic, MANUAL_REASON)
    );
    manager.flush_pending().await.unwrap();
    let stored = stored_records(&*storage).await;
    assert_eq!(stored.len(), log.len());
    assert_eq!(stored.last().unwrap().reason, MANUAL_REASON);
}
