//! Hysteresis on tokio's paused clock: dwell time, consecutive healthier evaluations,
//! stepwise recovery, and degradation that is never delayed.

use std::time::Duration;

use fallback::{FallbackManager, FallbackMode, Hysteresis};
use tokio::time::advance;

use crate::support::{damped, failed, healthy, open, reasons};

#[tokio::test(start_paused = true)]
async fn off_by_default_recovery_is_immediate() {
    let manager = FallbackManager::in_memory();
    assert_eq!(manager.config().hysteresis, None);
    manager.cascade(&failed(2)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
}

#[tokio::test(start_paused = true)]
async fn a_mode_is_kept_for_its_minimum_dwell_time_before_stepping_up() {
    let manager = damped(Hysteresis::new().min_dwell(Duration::from_secs(30)));
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    advance(Duration::from_secs(29)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    advance(Duration::from_secs(1)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(manager.total_transitions(), 2);
}

#[tokio::test(start_paused = true)]
async fn stepping_up_needs_consecutive_healthier_evaluations() {
    let manager = damped(Hysteresis::new().recovery_evaluations(3));
    manager.cascade(&failed(2)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    // An evaluation that keeps the mode restarts the count.
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Safe);
    // HEURISTIC is healthier than SAFE too: the streak goes on, but the step goes no
    // further than its least healthy evaluation allows.
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    assert_eq!(manager.total_transitions(), 2);
    assert_eq!(
        manager.get_transitions_log(1)[0].reason,
        "recovered(failed_components=0, circuit=CLOSED, failures_1h=0, resources=unknown); damped_recovery(target=primary)"
    );
}

#[tokio::test(start_paused = true)]
async fn stepwise_recovery_goes_one_mode_at_a_time_and_says_so() {
    let manager = damped(
        Hysteresis::new()
            .min_dwell(Duration::from_secs(10))
            .stepwise(true),
    );
    manager.cascade(&failed(3)).await;
    advance(Duration::from_secs(10)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    // The new mode has its own dwell time.
    advance(Duration::from_secs(9)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    advance(Duration::from_secs(1)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(
        reasons(&manager),
        [
            "multiple_failures(3)",
            "recovered(failed_components=0, circuit=CLOSED, failures_1h=0, resources=unknown); stepwise_recovery(target=primary)",
            "recovered(failed_components=0, circuit=CLOSED, failures_1h=0, resources=unknown)",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn degradation_is_never_delayed() {
    let manager = damped(
        Hysteresis::new()
            .min_dwell(Duration::from_secs(3600))
            .recovery_evaluations(10)
            .stepwise(true),
    );
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert_eq!(manager.total_transitions(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_manual_override_is_immediate_and_restarts_the_dwell_time() {
    let manager = damped(Hysteresis::new().min_dwell(Duration::from_secs(60)));
    manager.cascade(&failed(2)).await;
    advance(Duration::from_secs(50)).await;
    assert!(manager.set_mode("heuristic").await.unwrap());
    advance(Duration::from_secs(50)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    advance(Duration::from_secs(10)).await;
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
}

#[tokio::test(start_paused = true)]
async fn dwell_and_count_combine() {
    let manager = damped(
        Hysteresis::new()
            .min_dwell(Duration::from_secs(5))
            .recovery_evaluations(2),
    );
    manager.cascade(&open(1.0)).await;
    // Enough healthier evaluations in a row, but the dwell time is not over yet.
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    advance(Duration::from_secs(5)).await;
    // Once it is, the streak is still unbroken and the next one steps up.
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
}

#[tokio::test(start_paused = true)]
async fn a_step_up_goes_no_further_than_every_evaluation_of_the_streak_allows() {
    let manager = damped(Hysteresis::new().recovery_evaluations(3));
    manager.cascade(&failed(2)).await;
    // Three healthier evaluations in a row, but only the last one allows PRIMARY.
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&open(2.0)).await, FallbackMode::Safe);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    // PRIMARY takes three evaluations of its own.
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Heuristic);
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    let steps: Vec<(FallbackMode, FallbackMode)> = manager
        .get_transitions_log(10)
        .into_iter()
        .map(|record| (record.from, record.to))
        .collect();
    assert_eq!(
        steps,
        [
            (FallbackMode::Primary, FallbackMode::Safe),
            (FallbackMode::Safe, FallbackMode::Heuristic),
            (FallbackMode::Heuristic, FallbackMode::Primary),
        ]
    );
}
