//! Registered fallbacks are really used: their conditions decide, their actions run
//! isolated, and what fired is reported.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use condition::{ConditionParser, Context};
use fallback::FallbackManager;
use fallback::rules::{FallbackReport, Outcome};
use serde_json::json;
use storage::{MemoryStorage, Storage};

type Calls = Arc<Mutex<Vec<String>>>;

async fn register(
    manager: &FallbackManager,
    calls: &Calls,
    name: &'static str,
    condition: &str,
    result: Result<(), &'static str>,
) {
    let calls = calls.clone();
    manager
        .register_fallback(
            name,
            condition,
            move |context: Context| {
                let calls = calls.clone();
                async move {
                    let severity = context.get("severity");
                    calls.lock().push(format!("{name} {severity:?}"));
                    result.map_err(Into::into)
                }
            },
            json!({"owner": "sre"}),
        )
        .await
        .unwrap();
}

/// What fired and how it ended, in order.
fn outcomes(report: &FallbackReport) -> Vec<(&str, &Outcome)> {
    report
        .fired
        .iter()
        .map(|run| (run.name.as_str(), &run.outcome))
        .collect()
}

#[tokio::test]
async fn every_action_whose_condition_holds_runs_in_registration_order() {
    let manager = FallbackManager::in_memory();
    let calls: Calls = Arc::default();
    register(&manager, &calls, "cache", "severity >= 0.5", Ok(())).await;
    register(&manager, &calls, "static_page", "severity >= 0.9", Ok(())).await;
    register(
        &manager,
        &calls,
        "recurring",
        "recurrence_count > 3",
        Ok(()),
    )
    .await;

    let context = Context::new()
        .with("severity", 0.95)
        .with("recurrence_count", 1);
    let report = manager.evaluate_fallbacks(&context).await;
    assert_eq!(
        report.fired_names().collect::<Vec<_>>(),
        ["cache", "static_page"]
    );
    assert!(
        report
            .fired
            .iter()
            .all(|run| run.outcome == Outcome::Completed)
    );
    assert!(report.skipped.is_empty());
    assert_eq!(
        *calls.lock(),
        ["cache Some(Float(0.95))", "static_page Some(Float(0.95))"]
    );

    let calm = Context::new()
        .with("severity", 0.1)
        .with("recurrence_count", 0);
    assert_eq!(manager.evaluate_fallbacks(&calm).await.fired.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn actions_are_isolated_from_each_other() {
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .callback_timeout(Duration::from_secs(1))
        .build();
    let calls: Calls = Arc::default();
    register(
        &manager,
        &calls,
        "failing",
        "severity > 0",
        Err("upstream 503"),
    )
    .await;
    manager
        .register_fallback(
            "panicking",
            "severity > 0",
            |_| async { panic!("action bug") },
            json!(null),
        )
        .await
        .unwrap();
    manager
        .register_fallback(
            "hanging",
            "severity > 0",
            |_| std::future::pending(),
            json!(null),
        )
        .await
        .unwrap();
    register(&manager, &calls, "last", "severity > 0", Ok(())).await;

    let report = manager
        .evaluate_fallbacks(&Context::new().with("severity", 1))
        .await;
    let outcomes = outcomes(&report);
    assert_eq!(
        outcomes,
        [
            ("failing", &Outcome::Failed("upstream 503".to_owned())),
            ("panicking", &Outcome::Panicked("action bug".to_owned())),
            ("hanging", &Outcome::TimedOut),
            ("last", &Outcome::Completed),
        ]
    );
    assert_eq!(
        serde_json::to_value(&report.fired[0]).unwrap(),
        json!({"name": "failing", "outcome": "failed", "message": "upstream 503"})
    );
}

#[tokio::test]
async fn a_condition_that_cannot_be_evaluated_is_skipped_and_reported() {
    let manager = FallbackManager::in_memory();
    let calls: Calls = Arc::default();
    register(&manager, &calls, "needs_step", "step == 'analyze'", Ok(())).await;
    register(&manager, &calls, "severe", "severity > 0.5", Ok(())).await;
    let report = manager
        .evaluate_fallbacks(&Context::new().with("severity", 0.9))
        .await;
    assert_eq!(report.fired_names().collect::<Vec<_>>(), ["severe"]);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].name, "needs_step");
    assert_eq!(
        report.skipped[0].error.to_string(),
        "variable 'step' not provided in context"
    );
}

#[tokio::test]
async fn registering_a_name_again_replaces_it_and_unregistering_removes_it_everywhere() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let manager = FallbackManager::new(storage.clone());
    let calls: Calls = Arc::default();
    register(&manager, &calls, "cache", "severity > 0.9", Ok(())).await;
    register(&manager, &calls, "other", "severity > 0.9", Ok(())).await;
    register(&manager, &calls, "cache", "severity > 0.1", Ok(())).await;
    let definitions = manager.fallback_definitions();
    assert_eq!(definitions.len(), 2);
    assert_eq!(
        (
            definitions[0].name.as_str(),
            definitions[0].condition.as_str()
        ),
        ("cache", "severity > 0.1")
    );
    assert_eq!(
        storage
            .get("fallback:definition:cache")
            .await
            .unwrap()
            .unwrap()["condition"],
        "severity > 0.1"
    );
    let report = manager
        .evaluate_fallbacks(&Context::new().with("severity", 0.5))
        .await;
    assert_eq!(report.fired_names().collect::<Vec<_>>(), ["cache"]);

    assert!(manager.unregister_fallback("cache").await.unwrap());
    assert!(!manager.unregister_fallback("cache").await.unwrap());
    assert!(
        storage
            .get("fallback:definition:cache")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(manager.fallback_definitions().len(), 1);
}

#[tokio::test]
async fn conditions_use_the_managers_parser() {
    let parser = ConditionParser::new()
        .variables(["error_rate", "region"])
        .unwrap();
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .condition_parser(parser.clone())
        .build();
    manager
        .register_fallback(
            "eu_errors",
            "error_rate > 0.05 and region == 'eu'",
            |_| async { Ok(()) },
            json!(null),
        )
        .await
        .unwrap();
    assert!(
        manager
            .register_fallback(
                "default_vars",
                "severity > 1",
                |_| async { Ok(()) },
                json!(null)
            )
            .await
            .is_err(),
        "the default whitelist no longer applies"
    );
    let context = parser
        .context()
        .with("error_rate", 0.2)
        .with("region", "eu");
    let report = manager.evaluate_fallbacks(&context).await;
    assert_eq!(report.fired_names().collect::<Vec<_>>(), ["eu_errors"]);
}

#[tokio::test]
async fn an_action_that_panics_before_returning_its_future_is_contained() {
    let manager = FallbackManager::in_memory();
    manager
        .register_fallback(
            "eager",
            "severity > 0",
            |context: Context| {
                // The panic happens while the action is called, not while its future runs.
                assert!(context.get("severity").is_none(), "eager action bug");
                async { Ok(()) }
            },
            json!(null),
        )
        .await
        .unwrap();
    let calls: Calls = Arc::default();
    register(&manager, &calls, "last", "severity > 0", Ok(())).await;
    let report = manager
        .evaluate_fallbacks(&Context::new().with("severity", 1))
        .await;
    let outcomes = outcomes(&report);
    assert_eq!(outcomes[1], ("last", &Outcome::Completed));
    assert!(
        matches!(outcomes[0], ("eager", Outcome::Panicked(message)) if message.contains("eager action bug")),
        "{outcomes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_action_does_not_hold_back_the_others() {
    let manager = FallbackManager::builder(Arc::new(MemoryStorage::new()))
        .callback_timeout(Duration::from_secs(10))
        .build();
    let started = tokio::time::Instant::now();
    let finished: Arc<Mutex<Vec<(&'static str, Duration)>>> = Arc::default();
    for (name, seconds) in [("slow", 3), ("hung", 3600), ("quick", 0)] {
        let finished = finished.clone();
        manager
            .register_fallback(
                name,
                "severity > 0",
                move |_| {
                    let finished = finished.clone();
                    async move {
                        tokio::time::sleep(Duration::from_secs(seconds)).await;
                        finished.lock().push((name, started.elapsed()));
                        Ok(())
                    }
                },
                json!(null),
            )
            .await
            .unwrap();
    }
    let report = manager
        .evaluate_fallbacks(&Context::new().with("severity", 1))
        .await;
    assert_eq!(
        *finished.lock(),
        [("quick", Duration::ZERO), ("slow", Duration::from_secs(3))]
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(10),
        "only the hang cost its timeout"
    );
    let outcomes = outcomes(&report);
    assert_eq!(
        outcomes,
        [
            ("slow", &Outcome::Completed),
            ("hung", &Outcome::TimedOut),
            ("quick", &Outcome::Completed)
        ],
        "reported in registration order"
    );
}
