//! Alerts from the outside, within bounds: payloads whose alert fields are all null are
//! refused, repeats are deduplicated, alert-made components expire and are capped.

use std::sync::Arc;
use std::time::Duration;

use health::alerts::{
    AlertBook, AlertLimits, DatadogAdapter, MonitoringAdapter, NewRelicAdapter, ParseErrorKind,
};
use health::metrics::{ALERT_COMPONENTS_METRIC, ALERTS_DROPPED_METRIC};
use health::{ComponentRegistry, ComponentStatus};
use serde_json::{Value, json};

use crate::support::{Emitted, RecordingSink};

fn triggered(title: &str) -> Value {
    json!({"alert_transition": "Triggered", "alert_id": 1, "title": title, "text": "down"})
}

#[test]
fn payloads_whose_alert_fields_are_all_null_are_refused() {
    fn check(adapter: &dyn MonitoringAdapter, payload: &Value) {
        let error = adapter.parse_payload(payload).unwrap_err();
        assert_eq!(
            error.kind,
            ParseErrorKind::NoAlertFields,
            "{payload}: {error}"
        );
        assert!(error.to_string().contains("null"), "{error}");
    }
    check(&DatadogAdapter, &json!({"title": null}));
    check(
        &DatadogAdapter,
        &json!({"alert_type": null, "event_type": null}),
    );
    check(
        &DatadogAdapter,
        &json!({"events": [{"title": "ok"}, {"title": null}]}),
    );
    check(&NewRelicAdapter, &json!({"condition_name": null}));
    check(
        &NewRelicAdapter,
        &json!({"violations": [{"condition_name": null}]}),
    );
    check(&NewRelicAdapter, &json!({"state": null, "priority": null}));
    // One real value is enough.
    assert_eq!(
        DatadogAdapter
            .parse_payload(&json!({"title": "db down", "check": null}))
            .unwrap()[0]
            .component,
        "db down"
    );
}

#[tokio::test(start_paused = true)]
async fn repeats_are_applied_once_and_a_new_state_is_not_a_repeat() {
    let registry = ComponentRegistry::new();
    let book = AlertBook::new(registry.clone(), AlertLimits::default()).unwrap();
    let alerts = DatadogAdapter.parse_payload(&triggered("db")).unwrap();
    assert_eq!(book.ingest(&alerts).applied, 1);
    for _ in 0..5 {
        assert_eq!(book.ingest(&alerts).deduplicated, 1);
    }
    assert_eq!(registry.get_component_health("db").error_count, 1);
    let recovered = DatadogAdapter
        .parse_payload(&json!({"alert_transition": "Recovered", "alert_id": 1, "title": "db"}))
        .unwrap();
    assert_eq!(book.ingest(&recovered).applied, 1);
    assert_eq!(
        registry.get_component_health("db").status,
        ComponentStatus::Healthy
    );
    // A recovery for a component nobody has creates nothing.
    let stray = DatadogAdapter
        .parse_payload(&json!({"alert_transition": "Recovered", "alert_id": 2, "title": "ghost"}))
        .unwrap();
    assert_eq!(book.ingest(&stray).ignored, 1);
    assert!(!registry.contains("ghost"));
}

#[tokio::test(start_paused = true)]
async fn quiet_components_expire_created_ones_go_and_known_ones_heal() {
    let registry = ComponentRegistry::new();
    registry.register("payments", None);
    let limits = AlertLimits {
        quiet_time: Duration::from_secs(600),
        ..AlertLimits::default()
    };
    let book = AlertBook::new(registry.clone(), limits).unwrap();
    book.ingest(&DatadogAdapter.parse_payload(&triggered("db")).unwrap());
    book.ingest(
        &DatadogAdapter
            .parse_payload(
                &json!({"alert_transition": "Triggered", "alert_id": 9, "check": "payments"}),
            )
            .unwrap(),
    );
    assert_eq!(book.alert_components(), 1);
    tokio::time::advance(Duration::from_secs(599)).await;
    assert_eq!(book.expire(), 0);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(book.expire(), 2);
    assert!(!registry.contains("db"), "created by an alert: removed");
    let payments = registry.get_component_health("payments");
    assert_eq!(payments.status, ComponentStatus::Healthy, "known: healed");
    assert_eq!(payments.error_count, 1, "its history stays");
    assert_eq!(book.alert_components(), 0);
}

#[tokio::test(start_paused = true)]
async fn distinct_titles_beyond_the_cap_are_dropped_counted_and_bounded() {
    let registry = ComponentRegistry::new();
    let sink = Arc::new(RecordingSink::default());
    let book = AlertBook::new(registry.clone(), AlertLimits::default())
        .unwrap()
        .with_metrics_sink(sink.clone());
    let mut dropped = 0;
    for index in 0..100_000 {
        let alerts = DatadogAdapter
            .parse_payload(&json!({"alert_transition": "Triggered", "alert_id": index, "title": format!("title {index}")}))
            .unwrap();
        dropped += book.ingest(&alerts).dropped;
    }
    assert_eq!(registry.len(), 100);
    assert_eq!(dropped, 99_900);
    let emitted = sink.take();
    let counted: u64 = emitted
        .iter()
        .filter_map(|metric| match metric {
            Emitted::Counter(name, value, tags)
                if name == ALERTS_DROPPED_METRIC
                    && tags == &[("reason".to_owned(), "component_cap".to_owned())] =>
            {
                Some(*value)
            }
            _ => None,
        })
        .sum();
    assert_eq!(counted, 99_900);
    assert!(emitted.contains(&Emitted::Gauge(
        ALERT_COMPONENTS_METRIC.to_owned(),
        100.0,
        vec![]
    )));
}
