//! The original's 32 manager tests (`tests/backend/fallback/test_manager.py`) and its 7
//! fallback-manager integration tests (`tests/test_health_monitor_integration.py`),
//! re-expressed with assertions on the behaviour, not just on the presence of keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fallback::detection::Detection;
use fallback::{
    Error, FallbackConfig, FallbackManager, FallbackMode, MANUAL_REASON, ThresholdPolicy,
};
use health_model::Timestamp;
use serde_json::json;
use storage::MemoryStorage;

use crate::support::{
    FlakyStorage, ScriptedDetector, failed, healthy, manager, open, reasons, retries, state,
    stored_records,
};

fn with_detectors() -> (
    FallbackManager,
    Arc<ScriptedDetector>,
    Arc<ScriptedDetector>,
) {
    let primary = ScriptedDetector::answering(0.9, "primary");
    let heuristic = ScriptedDetector::answering(0.7, "heuristic");
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .anomaly_detector(primary.clone())
        .heuristic_detector(heuristic.clone())
        .build();
    (manager, primary, heuristic)
}

#[tokio::test]
async fn init_default_mode() {
    let (manager, _) = manager();
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
    assert_eq!(manager.get_mode_string(), "primary");
    assert_eq!(manager.total_transitions(), 0);
}

#[tokio::test]
async fn init_with_custom_config() {
    let mut config = FallbackConfig::default();
    config.max_log_entries = 7;
    config.callback_timeout = Duration::from_millis(250);
    config.namespace = "payments".to_owned();
    let mut policy = ThresholdPolicy::default();
    policy.safe_failed_components = 4;
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .config(config.clone())
        .policy(policy)
        .build();
    assert_eq!(manager.config(), &config);
    // The custom threshold is the one applied.
    assert_eq!(manager.cascade(&failed(3)).await, FallbackMode::Primary);
    assert_eq!(manager.cascade(&failed(4)).await, FallbackMode::Safe);
    // And the custom namespace names the stored record.
    let keys = manager
        .storage()
        .keys("payments:transition:*")
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
}

#[tokio::test]
async fn init_without_detectors() {
    let (manager, _) = manager();
    assert!(manager.anomaly_detector().is_none());
    assert!(manager.heuristic_detector().is_none());
    let (with, _, _) = with_detectors();
    assert!(with.anomaly_detector().is_some() && with.heuristic_detector().is_some());
}

#[tokio::test]
async fn cascade_stays_primary_when_healthy() {
    let (manager, _) = manager();
    assert_eq!(manager.cascade(&healthy()).await, FallbackMode::Primary);
    assert_eq!(manager.total_transitions(), 0);
}

#[tokio::test]
async fn cascade_to_heuristic_on_circuit_open() {
    let (manager, _) = manager();
    assert_eq!(manager.cascade(&open(10.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.get_current_mode(), FallbackMode::Heuristic);
}

#[tokio::test]
async fn cascade_to_heuristic_on_high_retries() {
    let (manager, _) = manager();
    assert_eq!(manager.cascade(&retries(50)).await, FallbackMode::Primary);
    assert_eq!(manager.cascade(&retries(60)).await, FallbackMode::Heuristic);
}

#[tokio::test]
async fn cascade_to_safe_on_multiple_failures() {
    let (manager, _) = manager();
    assert_eq!(manager.cascade(&failed(1)).await, FallbackMode::Primary);
    assert_eq!(manager.cascade(&failed(2)).await, FallbackMode::Safe);
    assert!(manager.is_safe_mode());
}

#[tokio::test]
async fn cascade_with_the_seed_json_goes_safe() {
    let (manager, _) = manager();
    let seed = state(json!({
        "circuit_breaker": {"state": "CLOSED"},
        "retry": {"failures_1h": 0},
        "system": {"failed_components": 2}
    }));
    assert_eq!(manager.cascade(&seed).await, FallbackMode::Safe);
    assert_eq!(
        manager.get_transitions_log(1)[0].reason,
        "multiple_failures(2)"
    );
    // The original's `{}` is a healthy state.
    assert_eq!(
        manager.cascade(&state(json!({}))).await,
        FallbackMode::Primary
    );
}

#[tokio::test]
async fn cascade_no_transition_if_already_in_mode() {
    let (manager, storage) = manager();
    manager.cascade(&open(1.0)).await;
    for seconds in [2.0, 3.0, 4.0] {
        assert_eq!(
            manager.cascade(&open(seconds)).await,
            FallbackMode::Heuristic
        );
    }
    assert_eq!(manager.get_transitions_log(50).len(), 1);
    assert_eq!(manager.total_transitions(), 1);
    assert_eq!(stored_records(&*storage).await.len(), 1);
}

#[tokio::test]
async fn transition_recorded_in_log() {
    let (manager, _) = manager();
    let before = Timestamp::now();
    manager.cascade(&open(10.0)).await;
    let log = manager.get_transitions_log(50);
    assert_eq!(log.len(), 1);
    let record = &log[0];
    assert_eq!(record.from, FallbackMode::Primary);
    assert_eq!(record.to, FallbackMode::Heuristic);
    assert_eq!(record.reason, "circuit_open(10s)");
    assert!(record.timestamp >= before && record.timestamp <= Timestamp::now());
    assert!(record.timestamp.to_string().ends_with('Z'));
}

#[tokio::test]
async fn transition_reason_contains_context() {
    let (manager, _) = manager();
    let both = state(json!({
        "circuit_breaker": {"state": "OPEN", "open_duration_seconds": 15.0},
        "retry": {"failures_1h": 60}
    }));
    manager.cascade(&both).await;
    assert_eq!(
        manager.get_transitions_log(1)[0].reason,
        "circuit_open(15s); high_retry_failures(60)"
    );
}

#[tokio::test]
async fn mode_callback_triggered() {
    let (manager, _) = manager();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    manager.register_mode_callback(FallbackMode::Heuristic, move |transition| {
        let seen = seen.clone();
        async move {
            assert_eq!(transition.to, FallbackMode::Heuristic);
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    manager.cascade(&failed(2)).await; // SAFE: not the callback's mode
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    manager.cascade(&open(1.0)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    manager.cascade(&open(2.0)).await; // no change, no call
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn callback_error_does_not_prevent_transition() {
    let (manager, _) = manager();
    manager.register_mode_callback(FallbackMode::Heuristic, |_| async {
        Err("callback failed".into())
    });
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.total_transitions(), 1);
}

#[tokio::test]
async fn detect_uses_primary_detector_in_primary_mode() {
    let (manager, primary, heuristic) = with_detectors();
    let data = json!({"value": 42});
    let verdict = manager.detect_anomaly(&data).await;
    assert_eq!(primary.seen.lock().as_slice(), [data]);
    assert_eq!(heuristic.calls(), 0);
    assert_eq!(verdict, Detection::new(true, 0.9, "primary"));
}

#[tokio::test]
async fn detect_uses_heuristic_detector_in_heuristic_mode() {
    let (manager, primary, heuristic) = with_detectors();
    manager.set_mode("heuristic").await.unwrap();
    let verdict = manager.detect_anomaly(&json!({"value": 1})).await;
    assert_eq!((primary.calls(), heuristic.calls()), (0, 1));
    assert_eq!(verdict, Detection::new(true, 0.7, "heuristic"));
}

#[tokio::test]
async fn detect_returns_safe_in_safe_mode() {
    let (manager, primary, heuristic) = with_detectors();
    manager.set_mode("safe").await.unwrap();
    let verdict = manager.detect_anomaly(&json!({"value": 1})).await;
    assert_eq!(verdict, Detection::none("safe"));
    assert_eq!(
        serde_json::to_value(&verdict).unwrap(),
        json!({"anomaly": false, "confidence": 0.0, "mode": "safe"})
    );
    assert_eq!((primary.calls(), heuristic.calls()), (0, 0));
}

#[tokio::test]
async fn detect_handles_missing_detector() {
    let (manager, _) = manager();
    assert_eq!(
        manager.detect_anomaly(&json!({})).await,
        Detection::none("primary_unavailable")
    );
    manager.set_mode("heuristic").await.unwrap();
    assert_eq!(
        manager.detect_anomaly(&json!({})).await,
        Detection::none("heuristic_unavailable")
    );
}

#[tokio::test]
async fn detect_handles_detector_error() {
    let failing = ScriptedDetector::new(crate::support::Script::Fail("model offline"));
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .anomaly_detector(failing)
        .build();
    let verdict = manager.detect_anomaly(&json!({"value": 1})).await;
    assert!(!verdict.anomaly);
    assert_eq!(verdict.confidence.to_bits(), 0.0_f64.to_bits());
    assert_eq!(verdict.mode, "error");
    assert_eq!(verdict.error.as_deref(), Some("model offline"));
}

#[tokio::test]
async fn set_mode_string() {
    let (manager, _) = manager();
    assert!(manager.set_mode("heuristic").await.unwrap());
    assert_eq!(manager.get_current_mode(), FallbackMode::Heuristic);
    let record = &manager.get_transitions_log(1)[0];
    assert_eq!(record.reason, MANUAL_REASON);
    // Already there: accepted, nothing recorded.
    assert!(!manager.set_mode("heuristic").await.unwrap());
    assert_eq!(manager.total_transitions(), 1);
}

#[tokio::test]
async fn set_mode_case_insensitive() {
    let (manager, _) = manager();
    manager.set_mode("SAFE").await.unwrap();
    assert_eq!(manager.get_current_mode(), FallbackMode::Safe);
    manager.set_mode("Primary").await.unwrap();
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
}

#[tokio::test]
async fn set_mode_invalid_string() {
    let (manager, storage) = manager();
    for bad in ["invalid_mode", "", "FallbackMode.SAFE"] {
        let error = manager.set_mode(bad).await.unwrap_err();
        assert!(
            matches!(error, Error::InvalidMode { ref name } if name == bad),
            "{error}"
        );
    }
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
    assert_eq!(manager.total_transitions(), 0);
    assert!(stored_records(&*storage).await.is_empty());
}

#[tokio::test]
async fn is_degraded() {
    let (manager, _) = manager();
    assert!(!manager.is_degraded());
    manager.set_mode("heuristic").await.unwrap();
    assert!(manager.is_degraded());
    manager.set_mode("safe").await.unwrap();
    assert!(manager.is_degraded());
}

#[tokio::test]
async fn is_safe_mode() {
    let (manager, _) = manager();
    assert!(!manager.is_safe_mode());
    manager.set_mode("heuristic").await.unwrap();
    assert!(!manager.is_safe_mode());
    manager.set_mode("safe").await.unwrap();
    assert!(manager.is_safe_mode());
}

#[tokio::test]
async fn transitions_persisted_to_storage() {
    let (manager, storage) = manager();
    manager.cascade(&open(3.0)).await;
    let keys = storage.keys("fallback:transition:*").await.unwrap();
    assert_eq!(keys.len(), 1);
    // A JSON object equal to the log's record, not a string holding JSON.
    let stored = storage.get(&keys[0]).await.unwrap().unwrap();
    assert!(stored.is_object(), "{stored}");
    assert_eq!(
        stored,
        serde_json::to_value(&manager.get_transitions_log(1)[0]).unwrap()
    );
    let ttl = storage.ttl(&keys[0]).await.unwrap().unwrap();
    assert!(ttl > Duration::from_secs(23 * 3600) && ttl <= Duration::from_secs(24 * 3600));
}

#[tokio::test]
async fn register_fallback_stores_definition() {
    let (manager, storage) = manager();
    let definition = manager
        .register_fallback(
            "test_fallback",
            "severity >= 0.8",
            |_| async { Ok(()) },
            json!(null),
        )
        .await
        .unwrap();
    let stored = storage
        .get("fallback:definition:test_fallback")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, serde_json::to_value(&definition).unwrap());
    assert_eq!(stored["name"], "test_fallback");
    assert_eq!(stored["condition"], "severity >= 0.8");
    assert_eq!(stored["metadata"], json!({}));
    assert!(
        stored["registered_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .is_ok()
    );
    assert!(
        storage
            .ttl("fallback:definition:test_fallback")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn storage_errors_handled_gracefully() {
    let storage = FlakyStorage::failing();
    let manager = FallbackManager::new(storage.clone());
    assert_eq!(manager.cascade(&open(1.0)).await, FallbackMode::Heuristic);
    assert_eq!(manager.total_transitions(), 1);
    assert!(
        storage.set_calls.load(Ordering::SeqCst) >= 1,
        "a write was attempted"
    );
    assert_eq!(manager.pending_records(), 1);
}

#[tokio::test]
async fn get_metrics() {
    let (manager, _) = manager();
    let metrics = serde_json::to_value(manager.get_metrics()).unwrap();
    for key in [
        "current_mode",
        "is_degraded",
        "is_safe_mode",
        "total_transitions",
        "recent_transitions",
    ] {
        assert!(metrics.get(key).is_some(), "{key} missing from {metrics}");
    }
    assert_eq!(metrics["current_mode"], "primary");
    assert_eq!(metrics["total_transitions"], 0);
    assert_eq!(metrics["recent_transitions"], json!([]));
}

#[tokio::test]
async fn metrics_reflect_current_state() {
    let (manager, _) = manager();
    manager.set_mode("safe").await.unwrap();
    let metrics = manager.get_metrics();
    assert_eq!(metrics.current_mode, FallbackMode::Safe);
    assert!(metrics.is_degraded);
    assert!(metrics.is_safe_mode);
    assert_eq!(metrics.total_transitions, 1);
}

#[tokio::test]
async fn metrics_include_recent_transitions() {
    let (manager, _) = manager();
    manager.set_mode("heuristic").await.unwrap();
    manager.set_mode("safe").await.unwrap();
    let metrics = manager.get_metrics();
    assert_eq!(metrics.total_transitions, 2);
    let steps: Vec<_> = metrics
        .recent_transitions
        .iter()
        .map(|record| (record.from, record.to))
        .collect();
    assert_eq!(
        steps,
        [
            (FallbackMode::Primary, FallbackMode::Heuristic),
            (FallbackMode::Heuristic, FallbackMode::Safe)
        ]
    );
}

#[tokio::test]
async fn register_fallback_success() {
    let (manager, _) = manager();
    let definition = manager
        .register_fallback("cache", "confidence < 0.5", |_| async { Ok(()) }, json!({}))
        .await
        .unwrap();
    assert_eq!(definition.name, "cache");
    assert_eq!(manager.fallback_definitions(), [definition]);
}

#[tokio::test]
async fn register_fallback_with_metadata() {
    let (manager, storage) = manager();
    manager
        .register_fallback(
            "test",
            "severity > 0.5",
            |_| async { Ok(()) },
            json!({"description": "Test fallback", "priority": 2}),
        )
        .await
        .unwrap();
    let stored = storage
        .get("fallback:definition:test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["metadata"]["description"], "Test fallback");
    assert_eq!(stored["metadata"]["priority"], 2);
}

#[tokio::test]
async fn concurrent_cascades() {
    let (manager, _) = manager();
    let state = healthy();
    let (a, b, c) = tokio::join!(
        manager.cascade(&state),
        manager.cascade(&state),
        manager.cascade(&state)
    );
    assert_eq!([a, b, c], [FallbackMode::Primary; 3]);
    assert_eq!(manager.total_transitions(), 0);
}

#[tokio::test]
async fn concurrent_mode_changes() {
    let (manager, _) = manager();
    let (a, b, c) = tokio::join!(
        manager.set_mode("heuristic"),
        manager.set_mode("safe"),
        manager.set_mode("primary")
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    let log = manager.get_transitions_log(10);
    // Each real change is one record, chained; the final mode is the last record's.
    assert_eq!(log.len() as u64, manager.total_transitions());
    assert!(log.windows(2).all(|pair| pair[0].to == pair[1].from));
    let last = log.last().map_or(FallbackMode::Primary, |record| record.to);
    assert_eq!(manager.get_current_mode(), last);
}

// ----- the 7 integration tests of `tests/test_health_monitor_integration.py`, through the
// ----- storage-less constructor the original's shim offered

#[tokio::test]
async fn fallback_manager_initialization() {
    let manager = FallbackManager::in_memory();
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);
    assert_eq!(manager.get_mode_string(), "primary");
    assert!(!manager.is_degraded());
    assert!(!manager.is_safe_mode());
    assert_eq!(manager.storage().backend(), "memory");
}

#[tokio::test]
async fn fallback_manager_cascade() {
    let manager = FallbackManager::in_memory();
    assert_eq!(
        manager
            .cascade(&state(json!({"circuit_breaker": {"state": "OPEN"}})))
            .await,
        FallbackMode::Heuristic
    );
    assert_eq!(manager.get_mode_string(), "heuristic");
}

#[tokio::test]
async fn fallback_manager_detect_anomaly_primary() {
    let manager = FallbackManager::in_memory();
    let verdict = manager.detect_anomaly(&json!({"cpu": 50})).await;
    assert!(!verdict.anomaly);
    assert_eq!(verdict.confidence.to_bits(), 0.0_f64.to_bits());
    assert_eq!(verdict.mode, "primary_unavailable");
}

#[tokio::test]
async fn fallback_manager_detect_anomaly_safe_mode() {
    let manager = FallbackManager::in_memory();
    manager.set_mode_to(FallbackMode::Safe).await.unwrap();
    assert_eq!(manager.detect_anomaly(&json!({})).await.mode, "safe");
}

#[tokio::test]
async fn fallback_manager_transitions_log() {
    let manager = FallbackManager::in_memory();
    assert!(manager.get_transitions_log(50).is_empty());
    manager.cascade(&open(1.0)).await;
    let log = manager.get_transitions_log(50);
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].from, log[0].to),
        (FallbackMode::Primary, FallbackMode::Heuristic)
    );
}

#[tokio::test]
async fn fallback_manager_mode_callback() {
    let manager = FallbackManager::in_memory();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    manager.register_mode_callback(FallbackMode::Safe, move |transition| {
        let sender = sender.clone();
        async move {
            sender.send(transition)?;
            Ok(())
        }
    });
    manager.cascade(&failed(2)).await;
    let transition = receiver
        .try_recv()
        .expect("the SAFE callback ran before cascade returned");
    assert_eq!(transition.to, FallbackMode::Safe);
    assert_eq!(transition.reason, "multiple_failures(2)");
}

#[tokio::test]
async fn fallback_manager_detect_anomaly_error_handling() {
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .heuristic_detector(ScriptedDetector::new(crate::support::Script::Fail(
            "Detector error",
        )))
        .build();
    manager.set_mode("heuristic").await.unwrap();
    let verdict = serde_json::to_value(manager.detect_anomaly(&json!({})).await).unwrap();
    assert_eq!(
        verdict,
        json!({"anomaly": false, "confidence": 0.0, "mode": "error", "error": "Detector error"})
    );
}

// ----- the original's quirks, fixed (defects 13, 14, 15, 19 of the study)

#[tokio::test]
async fn the_log_is_bounded_and_limits_are_honest() {
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .max_log_entries(5)
        .build();
    for round in 0..12 {
        let mode = if round % 2 == 0 { "safe" } else { "primary" };
        manager.set_mode(mode).await.unwrap();
    }
    assert_eq!(manager.total_transitions(), 12);
    let log = manager.get_transitions_log(100);
    assert_eq!(log.len(), 5);
    // The newest five, oldest first: rounds 7..=11 end in primary.
    assert_eq!(log.last().unwrap().to, FallbackMode::Primary);
    assert_eq!(log.first().unwrap().to, FallbackMode::Primary);
    assert!(manager.get_transitions_log(0).is_empty());
    assert_eq!(manager.get_transitions_log(2), log[3..].to_vec());
}

#[tokio::test]
async fn recoveries_say_why() {
    let (manager, _) = manager();
    manager.cascade(&failed(3)).await;
    manager.cascade(&open(4.0)).await;
    manager.cascade(&healthy()).await;
    assert_eq!(
        reasons(&manager),
        [
            "multiple_failures(3)",
            "circuit_open(4s)",
            "recovered(failed_components=0, circuit=CLOSED, failures_1h=0, resources=unknown)",
        ]
    );
}

#[tokio::test]
async fn a_fallback_named_like_a_mode_is_not_a_mode_callback() {
    let (manager, _) = manager();
    let action_runs = Arc::new(AtomicUsize::new(0));
    let runs = action_runs.clone();
    manager
        .register_fallback(
            "safe",
            "severity > 0.5",
            move |_| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
            json!(null),
        )
        .await
        .unwrap();
    manager.register_mode_callback(FallbackMode::Safe, |_| async { Ok(()) });
    manager.set_mode("safe").await.unwrap();
    assert_eq!(
        action_runs.load(Ordering::SeqCst),
        0,
        "entering SAFE ran no fallback action"
    );
    assert_eq!(manager.mode_callback_count(FallbackMode::Safe), 1);
    assert_eq!(manager.fallback_definitions().len(), 1);
}

#[tokio::test]
async fn an_invalid_fallback_condition_is_refused_and_nothing_is_stored() {
    let (manager, storage) = manager();
    for bad in ["this is not valid @@", "severity >=", "", "cpu > 1"] {
        let error = manager
            .register_fallback("bad", bad, |_| async { Ok(()) }, json!(null))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::InvalidCondition { .. }),
            "{bad:?}: {error}"
        );
    }
    let error = manager
        .register_fallback("bad", "severity > 1", |_| async { Ok(()) }, json!([1]))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "fallback \"bad\" has metadata that is an array, not a JSON object"
    );
    assert!(
        storage
            .keys("fallback:definition:*")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(manager.fallback_definitions().is_empty());
}
