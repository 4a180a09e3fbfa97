use serde_json::{Map, Value};

use super::{
    AdapterParseError, Alert, MonitoringAdapter, copy_fields, expect_object, first_nonblank,
    first_text, has_key, has_value, list_of_objects, text_of,
};

pub(super) const PROVIDER: &str = "newrelic";

/// Keys of a notification-channel incident (and of the original's accepted shape).
const CHANNEL_KEYS: [&str; 4] = [
    "condition_name",
    "policy_name",
    "current_state",
    "incident_id",
];

/// The fields a channel alert is made of, one of which must have a value.
const CHANNEL_FIELDS: [&str; 9] = [
    "condition_name",
    "policy_name",
    "current_state",
    "incident_id",
    "severity",
    "level",
    "details",
    "description",
    "targets",
];

/// The fields a workflow alert is made of, one of which must have a value.
const WORKFLOW_FIELDS: [&str; 7] = [
    "id",
    "issueUrl",
    "impactedEntities",
    "state",
    "priority",
    "title",
    "alertConditionNames",
];

/// The fields a violation is made of, one of which must have a value.
const VIOLATION_FIELDS: [&str; 5] = [
    "condition_name",
    "severity",
    "description",
    "id",
    "policy_name",
];

const CHANNEL_METADATA: [(&str, &str); 14] = [
    ("incident_id", "incident_id"),
    ("account_id", "account_id"),
    ("account_name", "account_name"),
    ("condition_id", "condition_id"),
    ("condition_name", "condition_name"),
    ("policy_name", "policy_name"),
    ("current_state", "current_state"),
    ("severity", "severity"),
    ("event_type", "event_type"),
    ("incident_url", "incident_url"),
    ("runbook_url", "runbook_url"),
    ("violation_chart_url", "violation_chart_url"),
    ("timestamp", "timestamp"),
    ("duration", "duration"),
];

const WORKFLOW_METADATA: [(&str, &str); 9] = [
    ("id", "issue_id"),
    ("issueUrl", "issue_url"),
    ("priority", "priority"),
    ("state", "state"),
    ("trigger", "trigger"),
    ("workflowName", "workflow_name"),
    ("totalIncidents", "total_incidents"),
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
];

/// New Relic webhooks.
///
/// Accepts the payloads the original accepted (`{"condition_name" | "policy_name",
/// "severity" | "level", "details" | "description"}`, or `{"violations": [...]}`), the
/// notification-channel incident payload (`current_state`, `incident_id`, `targets`,
/// ...), and the workflow payload (`id`, `issueUrl`, `state`, `priority`,
/// `impactedEntities`, ...).
///
/// - **Severity**: a closed incident (`current_state` or `state` `closed`, any case) is
///   `closed`, which clears the component. Otherwise channel payloads use `severity`
///   (else `level`, else `priority`, else `info`) and workflow payloads `priority` (else
///   `severity`, else `info`), with workflow priorities mapped wherever they appear
///   (channel-shaped templates often fill `severity` from `{{priority}}`): `CRITICAL` and
///   `HIGH` → `critical`, `MEDIUM` → `warning`, `LOW` → `info`.
/// - **Component**: the first target's name, else `condition_name`, else `policy_name`
///   (channel); the first impacted entity, else the first condition name, else the title
///   (workflow).
/// - **Message**: `details` or `description` (channel), `title` (workflow).
/// - **Metadata**: incident or issue id, account, policy, condition, state, URLs, and
///   `dedup_key` (id and state).
///
/// ```
/// use health::alerts::{AlertImpact, MonitoringAdapter, NewRelicAdapter};
/// use serde_json::json;
///
/// let alerts = NewRelicAdapter.parse_payload(&json!({
///     "id": "b7e3c2a1",
///     "state": "CLOSED",
///     "priority": "CRITICAL",
///     "impactedEntities": ["api-gateway"],
///     "title": "Error rate above 5%",
/// }))?;
/// assert_eq!(alerts[0].component, "api-gateway");
/// assert_eq!(alerts[0].impact(), AlertImpact::Healthy);
/// # Ok::<(), health::alerts::AdapterParseError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRelicAdapter;

impl MonitoringAdapter for NewRelicAdapter {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn parse_payload(&self, payload: &Value) -> Result<Vec<Alert>, AdapterParseError> {
        let object = expect_object(PROVIDER, payload)?;
        if has_key(object, &CHANNEL_KEYS) {
            if !has_value(object, &CHANNEL_FIELDS) {
                return Err(AdapterParseError::no_alert_fields(
                    PROVIDER,
                    &CHANNEL_FIELDS,
                ));
            }
            return Ok(vec![channel_alert(object)]);
        }
        if object.contains_key("issueUrl")
            || object.contains_key("impactedEntities")
            || (object.contains_key("state") && object.contains_key("priority"))
        {
            if !has_value(object, &WORKFLOW_FIELDS) {
                return Err(AdapterParseError::no_alert_fields(
                    PROVIDER,
                    &WORKFLOW_FIELDS,
                ));
            }
            return Ok(vec![workflow_alert(object)]);
        }
        match list_of_objects(PROVIDER, object, "violations")? {
            Some(violations) => violations
                .into_iter()
                .map(|violation| {
                    if has_value(violation, &VIOLATION_FIELDS) {
                        Ok(violation_alert(violation))
                    } else {
                        Err(AdapterParseError::no_alert_fields(
                            PROVIDER,
                            &VIOLATION_FIELDS,
                        ))
                    }
                })
                .collect(),
            None => Err(AdapterParseError::new(
                PROVIDER,
                "unrecognized New Relic payload: expected an incident (condition_name, \
                 policy_name, current_state, ...), a workflow issue (issueUrl, state, \
                 priority, ...) or a violations list",
            )),
        }
    }
}

fn channel_alert(object: &Map<String, Value>) -> Alert {
    // Templates written for workflows often re-create these keys from workflow fields
    // (`"severity": "{{priority}}"`, `"state": "{{state}}"`), so both vocabularies count.
    let closed = ["current_state", "state"].iter().any(|key| {
        first_text(object, &[key]).is_some_and(|state| state.trim().eq_ignore_ascii_case("closed"))
    });
    let severity = if closed {
        "closed".to_owned()
    } else {
        first_nonblank(object, &["severity", "level", "priority"])
            .map_or_else(|| "info".to_owned(), priority_severity)
    };
    let component = first_target_name(object)
        .or_else(|| first_nonblank(object, &["condition_name", "policy_name"]))
        .unwrap_or_else(|| "newrelic_alert".to_owned());
    let message = first_text(object, &["details", "description"]).unwrap_or_default();

    let mut metadata = Map::new();
    copy_fields(object, &CHANNEL_METADATA, &mut metadata);
    if let Some(id) = text_of(object.get("incident_id")) {
        let state = first_nonblank(object, &["current_state", "state"]).unwrap_or_default();
        metadata.insert(
            "dedup_key".into(),
            Value::String(format!("{id}:{}", state.trim().to_ascii_lowercase())),
        );
    }
    alert(component, &severity, message, metadata)
}

fn workflow_alert(object: &Map<String, Value>) -> Alert {
    let state = first_text(object, &["state"]).unwrap_or_default();
    let severity = if state.trim().eq_ignore_ascii_case("closed") {
        "closed".to_owned()
    } else {
        first_nonblank(object, &["priority", "severity"])
            .map_or_else(|| "info".to_owned(), priority_severity)
    };
    let component = first_name(object.get("impactedEntities"))
        .or_else(|| first_name(object.get("alertConditionNames")))
        .or_else(|| first_nonblank(object, &["title"]))
        .unwrap_or_else(|| "newrelic_issue".to_owned());
    let message = first_text(object, &["title"]).unwrap_or_default();

    let mut metadata = Map::new();
    copy_fields(object, &WORKFLOW_METADATA, &mut metadata);
    for (source, target) in [
        ("alertPolicyNames", "policy_names"),
        ("alertConditionNames", "condition_names"),
    ] {
        if let Some(Value::Array(names)) = object.get(source) {
            let joined: Vec<String> = names
                .iter()
                .filter_map(|name| text_of(Some(name)))
                .collect();
            metadata.insert(target.into(), Value::String(joined.join(", ")));
        }
    }
    // Public fixtures show both `false` and `"false"`.
    let correlated = match object.get("isCorrelated") {
        Some(Value::Bool(flag)) => Some(*flag),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    if let Some(flag) = correlated {
        metadata.insert("is_correlated".into(), Value::Bool(flag));
    }
    if let Some(id) = text_of(object.get("id")) {
        metadata.insert(
            "dedup_key".into(),
            Value::String(format!("{id}:{}", state.trim().to_ascii_lowercase())),
        );
    }
    alert(component, &severity, message, metadata)
}

/// A workflow priority as a severity (`CRITICAL` and `HIGH` → `critical`, `MEDIUM` →
/// `warning`, `LOW` → `info`); anything else (a channel severity) is kept.
fn priority_severity(priority: String) -> String {
    match priority.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" | "HIGH" => "critical".to_owned(),
        "MEDIUM" => "warning".to_owned(),
        "LOW" => "info".to_owned(),
        _ => priority,
    }
}

fn violation_alert(object: &Map<String, Value>) -> Alert {
    let severity = first_nonblank(object, &["severity"]).unwrap_or_else(|| "warning".to_owned());
    let component = first_nonblank(object, &["condition_name"])
        .unwrap_or_else(|| "newrelic_violation".to_owned());
    let message = first_text(object, &["description"]).unwrap_or_default();
    let mut metadata = Map::new();
    copy_fields(
        object,
        &[("id", "violation_id"), ("policy_name", "policy_name")],
        &mut metadata,
    );
    alert(component, &severity, message, metadata)
}

fn alert(
    component: String,
    severity: &str,
    message: String,
    metadata: Map<String, Value>,
) -> Alert {
    Alert {
        provider: PROVIDER.to_owned(),
        component,
        severity: severity.trim().to_ascii_lowercase(),
        message,
        metadata,
    }
}

/// The name of the first target of a channel incident, if not blank.
fn first_target_name(object: &Map<String, Value>) -> Option<String> {
    let target = object.get("targets")?.as_array()?.first()?.as_object()?;
    first_nonblank(target, &["name"])
}

/// The first element of a list of names (strings, or objects with a `name`), if not blank.
fn first_name(list: Option<&Value>) -> Option<String> {
    let first = list?.as_array()?.first()?;
    match first {
        Value::Object(entity) => first_nonblank(entity, &["name", "entityName"]),
        other => text_of(Some(other)).filter(|name| !name.trim().is_empty()),
    }
}
