//! Alert webhooks (the original's `test_integrations.py` and webhook tests,
//! re-expressed), plus the real payloads of the research fixtures.

use health::alerts::{
    AdapterParseError, Alert, AlertImpact, DatadogAdapter, MAX_ALERT_COMPONENT_CHARS,
    MAX_ALERT_METADATA_ENTRIES, MAX_ALERT_TEXT_CHARS, MAX_ALERTS_PER_PAYLOAD, MonitoringAdapter,
    NewRelicAdapter, adapter_for,
};
use health::{ComponentRegistry, ComponentStatus};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let text = match name {
        "datadog_triggered_metric" => include_str!("fixtures/datadog_triggered_metric.json"),
        "datadog_recovered_host" => include_str!("fixtures/datadog_recovered_host.json"),
        "datadog_default_template_nodata" => {
            include_str!("fixtures/datadog_default_template_nodata.json")
        }
        "newrelic_channel_open_critical" => {
            include_str!("fixtures/newrelic_channel_open_critical.json")
        }
        "newrelic_channel_closed_warning_flat" => {
            include_str!("fixtures/newrelic_channel_closed_warning_flat.json")
        }
        "newrelic_workflow_activated" => include_str!("fixtures/newrelic_workflow_activated.json"),
        "newrelic_workflow_closed" => include_str!("fixtures/newrelic_workflow_closed.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// The one alert `payload` holds.
#[track_caller]
fn single(adapter: &dyn MonitoringAdapter, payload: &Value) -> Alert {
    let mut alerts = adapter.parse_payload(payload).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    alerts.remove(0)
}

/// What one payload must parse to: (component, severity, message).
#[track_caller]
fn check(adapter: &dyn MonitoringAdapter, payload: &Value, expected: (&str, &str, &str)) -> Alert {
    let alert = single(adapter, payload);
    assert_eq!(alert.provider, adapter.provider());
    assert_eq!(
        (
            alert.component.as_str(),
            alert.severity.as_str(),
            alert.message.as_str()
        ),
        expected
    );
    alert
}

#[test]
fn datadog_alert_type_payload() {
    check(
        &DatadogAdapter,
        &json!({"alert_type": "warning", "check": "db-connection", "text": "Connection pool exhausted"}),
        ("db-connection", "warning", "Connection pool exhausted"),
    );
}

#[test]
fn datadog_events_list() {
    let alerts = DatadogAdapter
        .parse_payload(&json!({"events": [
            {"title": "Service A", "alert_type": "error", "text": "A is down"},
            {"title": "Service B", "alert_type": "warning", "body": "B is slow"},
        ]}))
        .unwrap();
    let got: Vec<_> = alerts
        .iter()
        .map(|alert| {
            (
                alert.component.as_str(),
                alert.severity.as_str(),
                alert.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Service A", "error", "A is down"),
            ("Service B", "warning", "B is slow")
        ]
    );
    assert!(
        DatadogAdapter
            .parse_payload(&json!({"events": []}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn datadog_title_fallback() {
    check(
        &DatadogAdapter,
        &json!({"title": "Service Down", "alert_type": "error", "text": "HTTP check failing"}),
        ("Service Down", "error", "HTTP check failing"),
    );
}

#[test]
fn unrecognized_payloads_are_errors_naming_the_provider() {
    fn refused(adapter: &dyn MonitoringAdapter, payload: &Value) -> AdapterParseError {
        let error = adapter.parse_payload(payload).unwrap_err();
        assert_eq!(error.provider, adapter.provider());
        assert!(
            error
                .to_string()
                .starts_with(&format!("{} parse error: ", adapter.provider())),
            "{error}"
        );
        error
    }
    for adapter in [&DatadogAdapter as &dyn MonitoringAdapter, &NewRelicAdapter] {
        refused(adapter, &json!({"unknown": "format"}));
        refused(adapter, &json!({}));
        refused(adapter, &json!([1, 2]));
        refused(adapter, &json!("text"));
        refused(adapter, &Value::Null);
    }
    let error = refused(&DatadogAdapter, &json!({"events": [{"title": "ok"}, 7]}));
    assert!(error.reason.contains("events[1] is a number"), "{error}");
    refused(&DatadogAdapter, &json!({"events": "not a list"}));
    refused(
        &NewRelicAdapter,
        &json!({"violations": {"condition_name": "x"}}),
    );
    let flood = json!({"events": vec![json!({"title": "x"}); MAX_ALERTS_PER_PAYLOAD + 1]});
    refused(&DatadogAdapter, &flood);
    let secret = refused(&DatadogAdapter, &json!({"events": "token=hunter2"}));
    assert!(
        !secret.to_string().contains("hunter2"),
        "errors must not echo input"
    );
}

#[test]
fn newrelic_condition_payload() {
    check(
        &NewRelicAdapter,
        &json!({"condition_name": "High CPU", "severity": "critical", "details": "CPU above 90%"}),
        ("High CPU", "critical", "CPU above 90%"),
    );
}

#[test]
fn newrelic_violations_list() {
    let alerts = NewRelicAdapter
        .parse_payload(&json!({"violations": [
            {"condition_name": "CPU Spike", "severity": "critical", "description": "cpu"},
            {"condition_name": "Memory Leak", "description": "memory"},
        ]}))
        .unwrap();
    let got: Vec<_> = alerts
        .iter()
        .map(|alert| (alert.component.as_str(), alert.severity.as_str()))
        .collect();
    assert_eq!(got, [("CPU Spike", "critical"), ("Memory Leak", "warning")]);
}

#[test]
fn newrelic_policy_name_and_level() {
    check(
        &NewRelicAdapter,
        &json!({"policy_name": "Database Policy", "level": "warning", "description": "slow queries"}),
        ("Database Policy", "warning", "slow queries"),
    );
}

#[test]
fn real_datadog_payloads() {
    let triggered = check(
        &DatadogAdapter,
        &fixture("datadog_triggered_metric"),
        (
            "checkout",
            "critical",
            "Checkout p95 latency is 1.24s (threshold 0.8s) over the last 5m. @webhook-health-ingest",
        ),
    );
    assert_eq!(triggered.impact(), AlertImpact::Failed);
    assert_eq!(triggered.metadata["alert_id"], "90817263");
    assert_eq!(
        triggered.metadata["dedup_key"],
        "c1a7f3e2b9d04e6f8a5b7c9d0e1f2a3b:failed"
    );
    assert_eq!(triggered.metadata["alert_priority"], "P2");
    assert_eq!(triggered.metadata["org"], "Acme Shop");
    assert_eq!(triggered.metadata["event_id"], "7452019833640218765");

    let recovered = check(
        &DatadogAdapter,
        &fixture("datadog_recovered_host"),
        ("web-03", "recovered", "Disk usage on / is back to 71%."),
    );
    assert_eq!(recovered.impact(), AlertImpact::Healthy);
    // Unquoted ids above 2^53 survive exactly (never through a float).
    assert_eq!(recovered.metadata["event_id"], "7452019899011122233");
    assert_eq!(recovered.metadata["alert_id"], "55120498");

    let no_data = check(
        &DatadogAdapter,
        &fixture("datadog_default_template_nodata"),
        (
            "queue-consumer cannot connect to broker",
            "warning",
            "No data received for service check queue-consumer.can_connect in the last 10m.",
        ),
    );
    assert_eq!(no_data.metadata["dedup_key"], "7452020011223344556");
}

#[test]
fn real_newrelic_payloads() {
    let open = check(
        &NewRelicAdapter,
        &fixture("newrelic_channel_open_critical"),
        (
            "checkout-db",
            "critical",
            "Connection errors > 5.0 for at least 3 minutes on 'checkout-db'",
        ),
    );
    assert_eq!(open.metadata["incident_id"], "161803");
    assert_eq!(open.metadata["dedup_key"], "161803:open");
    assert_eq!(open.metadata["policy_name"], "Checkout service");

    let closed = check(
        &NewRelicAdapter,
        &fixture("newrelic_channel_closed_warning_flat"),
        (
            "orders-consumer",
            "closed",
            "Consumer lag returned below 1000 messages on 'orders-consumer'",
        ),
    );
    assert_eq!(closed.impact(), AlertImpact::Healthy);
    assert_eq!(closed.metadata["dedup_key"], "161899:closed");

    let activated = check(
        &NewRelicAdapter,
        &fixture("newrelic_workflow_activated"),
        (
            "api-gateway",
            "critical",
            "api-gateway query result is > 0.05 for 5 minutes on 'Error rate above 5%'",
        ),
    );
    assert_eq!(activated.metadata["priority"], "HIGH");
    assert_eq!(activated.metadata["is_correlated"], false);
    assert_eq!(activated.metadata["policy_names"], "Edge services");
    assert_eq!(
        activated.metadata["dedup_key"],
        "b7e3c2a1-5d4f-4e6a-9c8b-0f1e2d3c4b5a:activated"
    );

    let closed = single(&NewRelicAdapter, &fixture("newrelic_workflow_closed"));
    assert_eq!(
        (closed.component.as_str(), closed.severity.as_str()),
        ("api-gateway", "closed")
    );
    assert_eq!(
        closed.metadata["is_correlated"], false,
        "the string \"false\" too"
    );
}

#[test]
fn workflow_priorities_map_to_severities() {
    for (priority, severity) in [
        ("CRITICAL", "critical"),
        ("HIGH", "critical"),
        ("MEDIUM", "warning"),
        ("LOW", "info"),
    ] {
        let alert = single(
            &NewRelicAdapter,
            &json!({"id": "i", "state": "ACTIVATED", "priority": priority, "title": "t"}),
        );
        assert_eq!(alert.severity, severity, "{priority}");
    }
}

#[test]
fn datadog_dedup_keys_tell_the_states_of_one_alert_cycle_apart() {
    // `$ALERT_CYCLE_KEY` is the same from trigger to recovery: a receiver deduplicating
    // on `dedup_key` must still see the recovery (and a warning escalating to an alert),
    // while a redelivery or a renotification of the same state stays a duplicate.
    let key = |transition: &str, alert_type: &str| {
        let alert = single(
            &DatadogAdapter,
            &json!({
                "alert_cycle_key": "c1a7f3e2",
                "alert_transition": transition,
                "alert_type": alert_type,
                "title": "Checkout p95 latency above 800ms",
            }),
        );
        alert.metadata["dedup_key"].as_str().unwrap().to_owned()
    };
    let warned = key("Warn", "warning");
    let triggered = key("Triggered", "error");
    let recovered = key("Recovered", "success");
    assert_eq!(triggered, "c1a7f3e2:failed");
    assert_ne!(warned, triggered);
    assert_ne!(triggered, recovered);
    assert_eq!(key("Re-Triggered", "error"), triggered);
    assert_eq!(key("Renotify", "error"), triggered);
}

#[test]
fn channel_shaped_workflow_templates_map_priority_and_state() {
    // After the move to workflows many teams paste a template re-creating the channel
    // keys, filling `severity` from `{{priority}}` and sending the workflow `state`.
    fn check(payload: &Value, severity: &str, impact: AlertImpact) {
        let alert = single(&NewRelicAdapter, payload);
        assert_eq!(
            (alert.severity.as_str(), alert.impact()),
            (severity, impact),
            "{payload}"
        );
    }
    let open = |fields: Value| {
        let mut payload = json!({
            "incident_id": "b7e3c2a1",
            "condition_name": "Error rate above 5%",
            "targets": [{"name": "api-gateway"}],
        });
        payload
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        payload
    };
    check(
        &open(json!({"severity": "HIGH"})),
        "critical",
        AlertImpact::Failed,
    );
    check(
        &open(json!({"severity": "MEDIUM"})),
        "warning",
        AlertImpact::Degraded,
    );
    check(
        &open(json!({"severity": "LOW"})),
        "info",
        AlertImpact::Healthy,
    );
    check(
        &open(json!({"priority": "CRITICAL"})),
        "critical",
        AlertImpact::Failed,
    );
    check(
        &open(json!({"current_state": "ACTIVATED", "severity": "HIGH"})),
        "critical",
        AlertImpact::Failed,
    );
    check(
        &open(json!({"state": "CLOSED", "severity": "HIGH"})),
        "closed",
        AlertImpact::Healthy,
    );
    // A receiver deduplicating on `dedup_key` must not take the close for the open.
    let dedup_key = |state: &str| {
        single(&NewRelicAdapter, &open(json!({"state": state}))).metadata["dedup_key"].clone()
    };
    assert_eq!(dedup_key("ACTIVATED"), "b7e3c2a1:activated");
    assert_eq!(dedup_key("CLOSED"), "b7e3c2a1:closed");
    // The channel vocabulary is unchanged.
    check(
        &open(json!({"severity": "CRITICAL"})),
        "critical",
        AlertImpact::Failed,
    );
    check(
        &open(json!({"severity": "WARNING"})),
        "warning",
        AlertImpact::Degraded,
    );
    check(
        &open(json!({"severity": "INFO"})),
        "info",
        AlertImpact::Healthy,
    );
    check(&open(json!({})), "info", AlertImpact::Healthy);
    // And the other way round: a workflow issue whose template sends `severity`.
    check(
        &json!({"issueUrl": "https://x", "state": "ACTIVATED", "severity": "CRITICAL",
                "impactedEntities": ["api-gateway"]}),
        "critical",
        AlertImpact::Failed,
    );
}

#[test]
fn ingest_marks_components_by_severity() {
    fn ingested(severity: &str) -> (ComponentStatus, u64, u64) {
        let registry = ComponentRegistry::new();
        let alert = Alert {
            provider: "datadog".into(),
            component: "database".into(),
            severity: severity.into(),
            message: "something happened".into(),
            metadata: serde_json::Map::new(),
        };
        assert_eq!(DatadogAdapter.ingest(&[alert], &registry), 1);
        let component = registry.get_component_health("database");
        (
            component.status,
            component.error_count,
            component.warning_count,
        )
    }
    assert_eq!(ingested("critical"), (ComponentStatus::Failed, 1, 0));
    assert_eq!(ingested("ERROR"), (ComponentStatus::Failed, 1, 0));
    assert_eq!(ingested("failure"), (ComponentStatus::Failed, 1, 0));
    assert_eq!(ingested("warning"), (ComponentStatus::Degraded, 0, 1));
    assert_eq!(ingested("warn"), (ComponentStatus::Degraded, 0, 1));
    assert_eq!(ingested("degraded"), (ComponentStatus::Degraded, 0, 1));
    assert_eq!(ingested("info"), (ComponentStatus::Healthy, 0, 0));
    assert_eq!(ingested("recovered"), (ComponentStatus::Healthy, 0, 0));
}

#[test]
fn repeated_alerts_accumulate_and_a_recovery_clears() {
    let registry = ComponentRegistry::new();
    registry.mark_degraded("checkout", Some("own fallback"), true, None);
    let adapter = adapter_for("datadog").unwrap();
    for _ in 0..3 {
        let alerts = adapter
            .parse_payload(&fixture("datadog_triggered_metric"))
            .unwrap();
        adapter.ingest(&alerts, &registry);
    }
    let checkout = registry.get_component_health("checkout");
    assert_eq!(checkout.status, ComponentStatus::Failed);
    assert_eq!(checkout.error_count, 3, "ingest must not reset counters");
    assert_eq!(checkout.warning_count, 1);
    assert!(
        checkout.fallback_active,
        "an alert says nothing about our fallbacks"
    );
    assert!(
        checkout
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("Checkout p95 latency")
    );
    let last_alert = &checkout.metadata["last_alert"];
    assert_eq!(last_alert["provider"], "datadog");
    assert_eq!(last_alert["severity"], "critical");
    assert_eq!(last_alert["alert_id"], "90817263");

    let recovered = json!({
        "alert_transition": "Recovered",
        "alert_type": "success",
        "title": "[Recovered] Checkout p95 latency above 800ms",
        "tags": "env:prod,service:checkout",
    });
    adapter.ingest(&adapter.parse_payload(&recovered).unwrap(), &registry);
    let checkout = registry.get_component_health("checkout");
    assert_eq!(checkout.status, ComponentStatus::Healthy);
    assert_eq!(checkout.error_count, 3);
    assert_eq!(checkout.metadata["last_alert"]["severity"], "recovered");
}

#[test]
fn newrelic_closed_clears_what_open_failed() {
    let registry = ComponentRegistry::new();
    let adapter = adapter_for("NewRelic").unwrap();
    let open = fixture("newrelic_workflow_activated");
    adapter.ingest(&adapter.parse_payload(&open).unwrap(), &registry);
    assert_eq!(
        registry.get_component_health("api-gateway").status,
        ComponentStatus::Failed
    );
    let closed = fixture("newrelic_workflow_closed");
    adapter.ingest(&adapter.parse_payload(&closed).unwrap(), &registry);
    assert_eq!(
        registry.get_component_health("api-gateway").status,
        ComponentStatus::Healthy
    );
}

#[test]
fn webhook_flow_marks_the_named_component() {
    let registry = ComponentRegistry::new();
    let datadog = adapter_for("datadog").unwrap();
    let payload = json!({"alert_type": "warning", "check": "db-connection", "text": "pool at 90%"});
    assert_eq!(
        datadog.ingest(&datadog.parse_payload(&payload).unwrap(), &registry),
        1
    );
    assert_eq!(
        registry.get_component_health("db-connection").status,
        ComponentStatus::Degraded
    );
    let newrelic = adapter_for("newrelic").unwrap();
    let payload =
        json!({"condition_name": "CPU spike", "severity": "critical", "details": "cpu 99%"});
    assert_eq!(
        newrelic.ingest(&newrelic.parse_payload(&payload).unwrap(), &registry),
        1
    );
    assert_eq!(
        registry.get_component_health("CPU spike").status,
        ComponentStatus::Failed
    );
    assert!(adapter_for("pagerduty").is_none());
}

#[test]
fn ingest_bounds_what_a_payload_can_store() {
    let registry = ComponentRegistry::new();
    let mut payload = serde_json::Map::new();
    payload.insert("alert_type".into(), json!("error"));
    payload.insert("check".into(), json!("c".repeat(10_000)));
    payload.insert("text".into(), json!("m".repeat(10_000)));
    payload.insert("tags".into(), json!("t".repeat(10_000)));
    let alerts = DatadogAdapter
        .parse_payload(&Value::Object(payload))
        .unwrap();
    let mut alert = alerts[0].clone();
    for index in 0..1000 {
        alert
            .metadata
            .insert(format!("extra-{index}"), json!({"nested": [index]}));
    }
    DatadogAdapter.ingest(&[alert], &registry);
    let (name, component) = registry.get_all_health().into_iter().next().unwrap();
    assert_eq!(name.chars().count(), MAX_ALERT_COMPONENT_CHARS);
    assert_eq!(
        component.last_error.as_ref().unwrap().chars().count(),
        MAX_ALERT_TEXT_CHARS
    );
    assert_eq!(component.metadata.len(), 1, "only last_alert");
    let last_alert = component.metadata["last_alert"].as_object().unwrap();
    assert!(
        last_alert.len() <= MAX_ALERT_METADATA_ENTRIES + 4,
        "{}",
        last_alert.len()
    );
    for value in last_alert.values() {
        assert!(!value.is_object() && !value.is_array(), "{value}");
        if let Some(text) = value.as_str() {
            assert!(text.chars().count() <= MAX_ALERT_TEXT_CHARS);
        }
    }

    let blank = Alert {
        provider: "newrelic".into(),
        component: "  ".into(),
        severity: "critical".into(),
        message: String::new(),
        metadata: serde_json::Map::new(),
    };
    NewRelicAdapter.ingest(&[blank], &registry);
    let external = registry.get_component_health("external_monitor");
    assert_eq!(external.status, ComponentStatus::Failed);
    assert_eq!(external.last_error, None);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("alert_type"),
            Just("title"),
            Just("check"),
            Just("events"),
            Just("violations"),
            Just("condition_name"),
            Just("state"),
            Just("priority"),
            Just("targets"),
            Just("[Triggered] x"),
            Just("CLOSED"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            Just("alert_type".to_owned()),
            Just("alert_transition".to_owned()),
            Just("title".to_owned()),
            Just("check".to_owned()),
            Just("tags".to_owned()),
            Just("events".to_owned()),
            Just("violations".to_owned()),
            Just("condition_name".to_owned()),
            Just("current_state".to_owned()),
            Just("state".to_owned()),
            Just("priority".to_owned()),
            Just("issueUrl".to_owned()),
            Just("impactedEntities".to_owned()),
            Just("targets".to_owned()),
            Just("org".to_owned()),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn adapters_never_panic_and_alerts_ingest(payload in any_json()) {
        let registry = ComponentRegistry::new();
        for adapter in [&DatadogAdapter as &dyn MonitoringAdapter, &NewRelicAdapter] {
            match adapter.parse_payload(&payload) {
                Ok(alerts) => {
                    prop_assert!(alerts.len() <= MAX_ALERTS_PER_PAYLOAD);
                    for alert in &alerts {
                        prop_assert_eq!(alert.provider.as_str(), adapter.provider());
                        prop_assert_eq!(alert.severity.clone(), alert.severity.to_ascii_lowercase());
                    }
                    prop_assert_eq!(adapter.ingest(&alerts, &registry), alerts.len());
                }
                Err(error) => prop_assert_eq!(error.provider, adapter.provider()),
            }
        }
    }
}
