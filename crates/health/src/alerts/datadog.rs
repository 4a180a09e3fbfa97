use serde_json::{Map, Value};

use super::{
    AdapterParseError, Alert, AlertImpact, MonitoringAdapter, copy_fields, expect_object,
    first_nonblank, first_text, has_key, has_value, list_of_objects, text_of,
};

pub(super) const PROVIDER: &str = "datadog";

/// Keys that make a payload a single Datadog alert: the original's (`alert_type`,
/// `event_type`, `title`) plus the alert variables of a webhook template.
const ALERT_KEYS: [&str; 7] = [
    "alert_type",
    "event_type",
    "title",
    "alert_transition",
    "alert_id",
    "alert_title",
    "check",
];

/// Keys of an element of an `events` list, one of which must have a value.
const EVENT_KEYS: [&str; 5] = ["title", "alert_type", "event_type", "text", "body"];

/// Payload fields kept as alert metadata: (payload key, metadata key).
const METADATA_FIELDS: [(&str, &str); 15] = [
    ("id", "event_id"),
    ("alert_id", "alert_id"),
    ("alert_cycle_key", "alert_cycle_key"),
    ("aggreg_key", "aggreg_key"),
    ("alert_transition", "alert_transition"),
    ("alert_type", "alert_type"),
    ("alert_priority", "alert_priority"),
    ("event_type", "event_type"),
    ("alert_metric", "alert_metric"),
    ("alert_query", "alert_query"),
    ("alert_scope", "alert_scope"),
    ("hostname", "hostname"),
    ("tags", "tags"),
    ("link", "link"),
    ("date", "date"),
];

/// Datadog webhooks.
///
/// Accepts the payloads the original accepted (`{"alert_type", "check", "text"}`, or
/// `{"events": [...]}`) and what a Datadog webhook template sends: the default template
/// (`title`, `body`, `event_type`, `date`, `org`, `id`) and templates with the alert
/// variables (`$ALERT_TRANSITION`, `$ALERT_TYPE`, `$ALERT_SCOPE`, `$TAGS`,
/// `$ALERT_CYCLE_KEY`, ...), quoted or not.
///
/// - **Severity**: from `alert_transition` (`Triggered` → `critical`, `Warn` →
///   `warning`, `Recovered` → `recovered`, which clears the component, `No Data` →
///   `warning`: a monitor that stopped receiving data is treated as degraded), else
///   `alert_type` (`error`, `warning`, `success`, `info`), else the `[Triggered]` /
///   `[Recovered]` / `[Warn]` / `[No Data]` prefix of the title, else `event_type`,
///   else `info`. `Re-` transitions count as the plain ones.
/// - **Component**: `check`, else a `component:` or `service:` tag in `tags` or
///   `alert_scope`, else `hostname`, else `alert_title`, else the title without its
///   bracketed prefixes, else `datadog_event`.
/// - **Message**: `text`, `text_only_msg`, `message` or `body` (without the `%%%`
///   markdown fences).
/// - **Metadata**: event and alert ids, cycle and aggregation keys, transition, type,
///   priority, query, scope, host, tags, link, date, org name, and `dedup_key` (the
///   cycle key with the alert's impact, `failed`, `degraded` or `healthy`, as a cycle key
///   spans trigger to recovery; else alert id and date; else the event id). Ids are kept
///   as text, never through a float.
///
/// ```
/// use health::alerts::{AlertImpact, DatadogAdapter, MonitoringAdapter};
/// use serde_json::json;
///
/// let alerts = DatadogAdapter.parse_payload(&json!({
///     "alert_transition": "Recovered",
///     "alert_id": 55120498,
///     "title": "[Recovered] Disk usage above 90% on web-03",
///     "hostname": "web-03",
/// }))?;
/// assert_eq!(alerts[0].component, "web-03");
/// assert_eq!(alerts[0].impact(), AlertImpact::Healthy);
/// assert!(DatadogAdapter.parse_payload(&json!({"unknown": "format"})).is_err());
/// # Ok::<(), health::alerts::AdapterParseError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DatadogAdapter;

impl MonitoringAdapter for DatadogAdapter {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn parse_payload(&self, payload: &Value) -> Result<Vec<Alert>, AdapterParseError> {
        let object = expect_object(PROVIDER, payload)?;
        if has_key(object, &ALERT_KEYS) {
            if !has_value(object, &ALERT_KEYS) {
                return Err(AdapterParseError::no_alert_fields(PROVIDER, &ALERT_KEYS));
            }
            return Ok(vec![alert(object)]);
        }
        match list_of_objects(PROVIDER, object, "events")? {
            Some(events) => events
                .into_iter()
                .map(|event| {
                    if has_value(event, &EVENT_KEYS) {
                        Ok(alert(event))
                    } else {
                        Err(AdapterParseError::no_alert_fields(PROVIDER, &EVENT_KEYS))
                    }
                })
                .collect(),
            None => Err(AdapterParseError::new(
                PROVIDER,
                "unrecognized Datadog payload: expected alert fields (alert_type, event_type, \
                 title, alert_transition, ...) or an events list",
            )),
        }
    }
}

fn alert(object: &Map<String, Value>) -> Alert {
    let title = first_text(object, &["title"]);
    let (title_severity, bare_title) = match &title {
        Some(title) => split_title(title),
        None => (None, ""),
    };
    let severity = first_text(object, &["alert_transition"])
        .and_then(|transition| transition_severity(&transition))
        .or_else(|| first_nonblank(object, &["alert_type"]))
        .or(title_severity)
        .or_else(|| first_nonblank(object, &["event_type"]))
        .unwrap_or_else(|| "info".to_owned())
        .trim()
        .to_ascii_lowercase();

    let component = first_nonblank(object, &["check"])
        .or_else(|| tagged_component(object))
        .or_else(|| first_nonblank(object, &["hostname", "alert_title"]))
        .or_else(|| (!bare_title.is_empty()).then(|| bare_title.to_owned()))
        .unwrap_or_else(|| "datadog_event".to_owned());

    let message = first_text(object, &["text", "text_only_msg", "message", "body"])
        .map(|text| strip_fences(&text).to_owned())
        .unwrap_or_default();

    let mut metadata = Map::new();
    copy_fields(object, &METADATA_FIELDS, &mut metadata);
    if let Some(org) = object.get("org").and_then(Value::as_object) {
        copy_fields(org, &[("name", "org")], &mut metadata);
    }
    // The cycle key is the same from trigger to recovery, so what the alert does to its
    // component is part of the key (a renotification does the same, a recovery does not).
    let dedup_key = first_nonblank(object, &["alert_cycle_key"])
        .map(|cycle| format!("{cycle}:{}", AlertImpact::from_severity(&severity).status()))
        .or_else(|| {
            let alert_id = text_of(object.get("alert_id"))?;
            let date = text_of(object.get("date"))?;
            Some(format!("{alert_id}:{date}"))
        })
        .or_else(|| text_of(object.get("id")));
    if let Some(key) = dedup_key {
        metadata.insert("dedup_key".into(), Value::String(key));
    }

    Alert {
        provider: PROVIDER.to_owned(),
        component,
        severity,
        message,
        metadata,
    }
}

/// The severity a transition (or title prefix) means; `None` when it means none
/// (`Renotify`, anything unknown).
fn transition_severity(transition: &str) -> Option<String> {
    let transition = transition.trim().to_ascii_lowercase();
    let transition = transition.strip_prefix("re-").unwrap_or(&transition);
    let severity = if transition.starts_with("triggered") {
        "critical"
    } else if transition.starts_with("warn") {
        "warning"
    } else if transition.starts_with("recovered") {
        "recovered"
    } else if transition.starts_with("no data") {
        "warning"
    } else {
        return None;
    };
    Some(severity.to_owned())
}

/// A Datadog title's severity prefix (`[Triggered on {host:a}]`, after any other bracketed
/// prefix such as `[P2]`) and the title without its bracketed prefixes.
fn split_title(title: &str) -> (Option<String>, &str) {
    let mut rest = title.trim_start();
    let mut severity = None;
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        if severity.is_none() {
            severity = transition_severity(&inner[..end]);
        }
        rest = inner[end + 1..].trim_start();
    }
    (severity, rest.trim_end())
}

/// The value of a `component:` tag, else a `service:` tag, in `tags` then `alert_scope`.
fn tagged_component(object: &Map<String, Value>) -> Option<String> {
    let lists: Vec<String> = ["tags", "alert_scope"]
        .iter()
        .filter_map(|key| text_of(object.get(*key)))
        .collect();
    ["component:", "service:"].iter().find_map(|prefix| {
        lists.iter().find_map(|list| {
            list.split(',')
                .filter_map(|tag| tag.trim().strip_prefix(prefix))
                .map(str::trim)
                .find(|value| !value.is_empty())
                .map(str::to_owned)
        })
    })
}

/// The text inside Datadog's optional `%%%` markdown fences.
fn strip_fences(text: &str) -> &str {
    let text = text.trim();
    let text = text.strip_prefix("%%%").unwrap_or(text);
    let text = text.strip_suffix("%%%").unwrap_or(text);
    text.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_split_into_severity_and_text() {
        fn check(title: &str, severity: Option<&str>, rest: &str) {
            let (got_severity, got_rest) = split_title(title);
            assert_eq!(
                (got_severity.as_deref(), got_rest),
                (severity, rest),
                "{title}"
            );
        }
        check("Service Down", None, "Service Down");
        check("[Triggered] CPU", Some("critical"), "CPU");
        check(
            "[P2] [Triggered on {env:prod,service:checkout}] Checkout p95 latency above 800ms",
            Some("critical"),
            "Checkout p95 latency above 800ms",
        );
        check("[Recovered] Disk usage", Some("recovered"), "Disk usage");
        check("[Re-Warn] Queue", Some("warning"), "Queue");
        check("[No Data] consumer", Some("warning"), "consumer");
        check("[Renotify] x", None, "x");
        check("[unclosed", None, "[unclosed");
        check("[P1]", None, "");
    }

    #[test]
    fn fences_are_optional() {
        assert_eq!(strip_fences("%%%\nhello\n%%%"), "hello");
        assert_eq!(strip_fences("plain"), "plain");
        assert_eq!(strip_fences("%%%"), "");
    }
}
