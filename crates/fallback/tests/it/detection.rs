//! `detect_anomaly` beyond the original's tests: panics and hangs of a detector, and the
//! rule-based heuristic detector plugged into the manager.

use std::sync::Arc;
use std::time::Duration;

use fallback::FallbackManager;
use fallback::detection::{Detection, RuleBasedDetector};
use serde_json::json;
use storage::MemoryStorage;

use crate::support::{Script, ScriptedDetector};

#[tokio::test(start_paused = true)]
async fn a_detector_that_panics_or_hangs_answers_error() {
    fn check(script: Script, expected_error: &str) -> impl Future<Output = ()> {
        let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
            .anomaly_detector(ScriptedDetector::new(script))
            .callback_timeout(Duration::from_secs(3))
            .build();
        let expected = Detection::error(expected_error);
        async move {
            assert_eq!(manager.detect_anomaly(&json!({})).await, expected);
        }
    }
    check(Script::Panic, "detector panicked: detector exploded").await;
    check(Script::Hang, "detector timed out").await;
}

#[tokio::test]
async fn the_rule_based_detector_judges_in_heuristic_mode() {
    let rules = RuleBasedDetector::new()
        .rule("severe", "severity >= 0.8", 0.85)
        .unwrap()
        .rule("flapping", "recurrence_count >= 5", 0.6)
        .unwrap();
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .heuristic_detector(Arc::new(rules))
        .build();
    manager.set_mode("heuristic").await.unwrap();

    let verdict = manager
        .detect_anomaly(&json!({"severity": 0.9, "recurrence_count": 7, "host": "db-1"}))
        .await;
    assert_eq!(
        serde_json::to_value(&verdict).unwrap(),
        json!({"anomaly": true, "confidence": 0.85, "mode": "heuristic", "rules": ["severe", "flapping"]})
    );
    let calm = manager.detect_anomaly(&json!({"severity": 0.2})).await;
    assert!(!calm.anomaly);
    // Data the rules cannot read is an error answer, not a panic and not a silent "no".
    let bad = manager.detect_anomaly(&json!("not an object")).await;
    assert_eq!(bad.mode, "error");
    assert_eq!(
        bad.error.as_deref(),
        Some("a context is built from a JSON object, found a string")
    );
}

/// A detector written without `#[async_trait]` that panics while building its future.
#[derive(Debug)]
struct EagerPanic;

impl fallback::detection::AnomalyDetector for EagerPanic {
    fn detect_anomaly<'detector, 'data, 'future>(
        &'detector self,
        _data: &'data serde_json::Value,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Detection, fallback::BoxError>> + Send + 'future>,
    >
    where
        'detector: 'future,
        'data: 'future,
        Self: 'future,
    {
        panic!("eager detector bug")
    }
}

#[tokio::test]
async fn a_detector_that_panics_before_returning_its_future_answers_error() {
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .anomaly_detector(Arc::new(EagerPanic))
        .build();
    assert_eq!(
        manager.detect_anomaly(&json!({})).await,
        Detection::error("detector panicked: eager detector bug")
    );
}
