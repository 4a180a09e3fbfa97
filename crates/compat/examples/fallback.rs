//! The original's fallback usage through `backend::fallback`: the manager on a storage,
//! the cascade on the seed's health document, mode callbacks, detectors, the operator's
//! override, registered fallbacks, and the condition parser.
//!
//! ```sh
//! cargo run -p compat --example fallback
//! ```
#![deny(deprecated)] // the new paths are not deprecated
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend::fallback::{
    AnomalyDetector, BoxError, ConditionParser, Context, Detection, FallbackManager, FallbackMode,
    RuleBasedDetector, evaluate, parse_condition,
};
use backend::health::HealthState;
use backend::storage::{MemoryStorage, Storage};
use serde_json::{Value, json};

/// Stands in for the original's ML anomaly detector.
#[derive(Debug)]
struct ModelDetector;

#[async_trait]
impl AnomalyDetector for ModelDetector {
    async fn detect_anomaly(&self, data: &Value) -> Result<Detection, BoxError> {
        let score = data["score"].as_f64().ok_or("score missing")?;
        Ok(Detection::new(score > 0.8, score, "primary"))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // manager = FallbackManager(storage, config, anomaly_detector=..., heuristic_detector=...)
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let heuristic = RuleBasedDetector::new().rule("severe", "severity >= 0.8", 0.7)?;
    let manager = FallbackManager::builder(storage.clone())
        .callback_timeout(Duration::from_secs(2))
        .anomaly_detector(Arc::new(ModelDetector))
        .heuristic_detector(Arc::new(heuristic))
        .build();
    assert_eq!(manager.get_current_mode(), FallbackMode::Primary);

    // manager.register_mode_callback(FallbackMode.SAFE, on_safe)
    manager.register_mode_callback(FallbackMode::Safe, |transition| async move {
        println!(
            "entering safe mode: {} ({})",
            transition.reason, transition.timestamp
        );
        Ok(())
    });

    // mode = await manager.cascade(health_state), with the seed's document
    let health_state: HealthState = serde_json::from_value(json!({
        "circuit_breaker": {"state": "CLOSED"},
        "retry": {"failures_1h": 0},
        "system": {"failed_components": 2}
    }))?;
    assert_eq!(manager.cascade(&health_state).await, FallbackMode::Safe);
    assert!(manager.is_degraded() && manager.is_safe_mode());

    // result = await manager.detect_anomaly(data): SAFE asks no detector
    let data = json!({"score": 0.93, "severity": 0.9});
    assert_eq!(manager.detect_anomaly(&data).await, Detection::none("safe"));

    // manager.set_mode("heuristic"): the operator's override
    assert!(manager.set_mode("heuristic").await?);
    assert_eq!(manager.get_mode_string(), "heuristic");
    let verdict = manager.detect_anomaly(&data).await;
    assert!(verdict.anomaly && verdict.mode == "heuristic");
    manager.set_mode("primary").await?;
    assert_eq!(manager.detect_anomaly(&data).await.mode, "primary");

    // manager.get_transitions_log(limit=10), await manager.get_metrics()
    let log = manager.get_transitions_log(10);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].reason, "multiple_failures(2)");
    let metrics = manager.get_metrics();
    assert_eq!(metrics.total_transitions, 3);
    println!("metrics: {}", serde_json::to_string(&metrics)?);
    assert_eq!(storage.keys("fallback:transition:*").await?.len(), 3);

    // await manager.register_fallback(name, condition, action, metadata={...})
    manager
        .register_fallback(
            "cache_fallback",
            "severity >= 0.8 and recurrence_count >= 2",
            |context: Context| async move {
                println!(
                    "serving from cache for severity {:?}",
                    context.get("severity")
                );
                Ok(())
            },
            json!({"description": "serve cached results"}),
        )
        .await?;
    let stored = storage.get("fallback:definition:cache_fallback").await?;
    assert_eq!(
        stored.and_then(|definition| definition.get("metadata").cloned()),
        Some(json!({"description": "serve cached results"}))
    );
    let report = manager
        .evaluate_fallbacks(
            &Context::new()
                .with("severity", 0.9)
                .with("recurrence_count", 3),
        )
        .await;
    assert_eq!(report.fired_names().collect::<Vec<_>>(), ["cache_fallback"]);

    // condition = parse_condition("..."); evaluate(condition, {"severity": 0.9, ...})
    let condition = parse_condition("severity >= 0.8 and recurrence_count >= 2")?;
    let context = Context::from_json(&json!({"severity": 0.9, "recurrence_count": 3}))?;
    assert!(evaluate(&condition, &context)?);
    assert!(
        parse_condition("severity >=").is_err(),
        "syntax errors surface when parsing"
    );
    // ConditionParser(): a parser with its own whitelist of variables
    let parser = ConditionParser::new().variables(["latency_ms", "status"])?;
    let slow = parser.parse("latency_ms > 250 or status == 'degraded'")?;
    assert!(
        slow.evaluate(
            &parser
                .context()
                .with("latency_ms", 300)
                .with("status", "ok")
        )?
    );
    println!("fallback: cascade, callbacks, detectors, override, fallbacks and conditions behave");
    Ok(())
}
