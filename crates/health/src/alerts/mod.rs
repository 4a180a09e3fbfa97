//! Alert webhooks: Datadog and New Relic notifications turned into [`Alert`]s
//! ([`MonitoringAdapter::parse_payload`]) and applied to a [`ComponentRegistry`]
//! ([`MonitoringAdapter::ingest`]), marking components failed, degraded or healthy.
//! [`adapter_for`] finds the adapter of a webhook route's `{provider}`. An [`AlertBook`]
//! is the bounded way to ingest what arrives from the outside: repeated alerts are
//! deduplicated, components alerts created expire after a quiet time, and their number
//! is capped (every drop counted and logged).
//!
//! Needs the `alerts` feature (on by default).

use std::fmt;

use health_model::{ComponentStatus, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ComponentRegistry;

mod datadog;
pub use datadog::DatadogAdapter;

mod newrelic;
pub use newrelic::NewRelicAdapter;

mod book;
pub use book::{
    AlertBook, AlertLimits, DEFAULT_ALERT_QUIET_TIME, DEFAULT_MAX_ALERT_COMPONENTS, IngestReport,
};

/// The component an alert names when it names none.
pub const DEFAULT_ALERT_COMPONENT: &str = "external_monitor";
/// Longest component name an alert may create, in characters; longer ones are cut.
pub const MAX_ALERT_COMPONENT_CHARS: usize = 128;
/// Longest text kept from an alert (message, each metadata value), in characters.
pub const MAX_ALERT_TEXT_CHARS: usize = 512;
/// Most metadata entries an alert leaves on its component.
pub const MAX_ALERT_METADATA_ENTRIES: usize = 24;
/// Most alerts one payload may carry; a bigger list is a parse error.
pub const MAX_ALERTS_PER_PAYLOAD: usize = 256;

/// One alert from a monitoring service, normalized: the original's `{"provider",
/// "component", "severity", "message", "metadata"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Who sent it: `"datadog"` or `"newrelic"`.
    pub provider: String,
    /// The component it is about.
    pub component: String,
    /// Its severity, lower case (`critical`, `warning`, `recovered`, `info`, ...); see
    /// [`AlertImpact::from_severity`].
    pub severity: String,
    /// What happened.
    pub message: String,
    /// Identifiers and links from the payload (`dedup_key` identifies the incident and
    /// its state, for receivers that deduplicate deliveries).
    pub metadata: Map<String, Value>,
}

impl Alert {
    /// What the alert does to its component.
    #[must_use]
    pub fn impact(&self) -> AlertImpact {
        AlertImpact::from_severity(&self.severity)
    }
}

/// What an alert does to its component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertImpact {
    /// The component is marked failed.
    Failed,
    /// The component is marked degraded.
    Degraded,
    /// The component is marked healthy (recoveries, closed incidents, info).
    Healthy,
}

impl AlertImpact {
    /// `critical`, `error` and `failure` fail a component; `warning`, `warn` and
    /// `degraded` degrade it; anything else (`recovered`, `closed`, `info`, `ok`, ...)
    /// marks it healthy. Case and surrounding space are ignored.
    #[must_use]
    pub fn from_severity(severity: &str) -> Self {
        let severity = severity.trim();
        let is = |names: &[&str]| names.iter().any(|name| severity.eq_ignore_ascii_case(name));
        if is(&["critical", "error", "failure"]) {
            Self::Failed
        } else if is(&["warning", "warn", "degraded"]) {
            Self::Degraded
        } else {
            Self::Healthy
        }
    }

    /// The status the component is marked with.
    #[must_use]
    pub const fn status(self) -> ComponentStatus {
        match self {
            Self::Failed => ComponentStatus::Failed,
            Self::Degraded => ComponentStatus::Degraded,
            Self::Healthy => ComponentStatus::Healthy,
        }
    }
}

/// A webhook payload an adapter did not understand (not the shape of any notification the
/// provider sends, or one whose alert fields are all `null`). Its message names the
/// provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider} parse error: {reason}")]
pub struct AdapterParseError {
    /// The adapter's provider (`"datadog"`, `"newrelic"`).
    pub provider: &'static str,
    /// What kind of refusal this is.
    pub kind: ParseErrorKind,
    /// What was wrong.
    pub reason: String,
}

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Not the shape of any notification the provider sends.
    Unrecognized,
    /// The shape of one, but every field an alert is made of is `null` (or the payload
    /// is no JSON object): ingesting it would invent a component (the original made a
    /// `datadog_event` of `{"title": null}`).
    NoAlertFields,
}

impl AdapterParseError {
    pub(crate) fn new(provider: &'static str, reason: impl Into<String>) -> Self {
        Self {
            provider,
            kind: ParseErrorKind::Unrecognized,
            reason: reason.into(),
        }
    }

    /// A payload whose alert fields (`fields`) are all `null`.
    pub(crate) fn no_alert_fields(provider: &'static str, fields: &[&str]) -> Self {
        Self {
            provider,
            kind: ParseErrorKind::NoAlertFields,
            reason: format!(
                "every alert field is null or missing ({}): nothing to ingest",
                fields.join(", ")
            ),
        }
    }
}

/// Whether `object` has one of `keys` with a value other than `null`.
pub(crate) fn has_value(object: &Map<String, Value>, keys: &[&str]) -> bool {
    keys.iter()
        .any(|key| object.get(*key).is_some_and(|value| !value.is_null()))
}

/// Whether `object` has one of `keys` at all (even as `null`).
pub(crate) fn has_key(object: &Map<String, Value>, keys: &[&str]) -> bool {
    keys.iter().any(|key| object.contains_key(*key))
}

/// Turns one monitoring service's webhook payloads into [`Alert`]s and applies them to a
/// [`ComponentRegistry`].
pub trait MonitoringAdapter: Send + Sync + fmt::Debug {
    /// The provider's name, as [`Alert::provider`] carries it.
    fn provider(&self) -> &'static str;

    /// The alerts in `payload` (possibly none).
    ///
    /// # Errors
    ///
    /// [`AdapterParseError`] when the payload is not one the provider sends. Never panics,
    /// whatever the JSON.
    fn parse_payload(&self, payload: &Value) -> Result<Vec<Alert>, AdapterParseError>;

    /// Applies `alerts` to `registry` in order and returns how many were applied.
    ///
    /// Each alert marks its component failed, degraded or healthy (see
    /// [`AlertImpact`]); counters keep growing across alerts (nothing is reset), the
    /// component's `fallback_active` is left alone, and the alert's details are stored,
    /// bounded, under the component's `last_alert` metadata entry (replacing the
    /// previous alert's).
    fn ingest(&self, alerts: &[Alert], registry: &ComponentRegistry) -> usize {
        ingest_alerts(alerts, registry)
    }
}

/// The providers [`adapter_for`] knows, as their adapters name them: the valid
/// `{provider}` of a webhook route, for listing in its errors.
pub const PROVIDERS: &[&str] = &[datadog::PROVIDER, newrelic::PROVIDER];

/// The adapter of each of [`PROVIDERS`], in that order.
const ADAPTERS: [&dyn MonitoringAdapter; 2] = [&DatadogAdapter, &NewRelicAdapter];

/// The adapter for `provider` (one of [`PROVIDERS`], any case), as a webhook route
/// `/monitoring/{provider}/webhook` needs.
#[must_use]
pub fn adapter_for(provider: &str) -> Option<&'static dyn MonitoringAdapter> {
    ADAPTERS
        .into_iter()
        .find(|adapter| provider.eq_ignore_ascii_case(adapter.provider()))
}

/// [`MonitoringAdapter::ingest`], for any alerts.
pub fn ingest_alerts(alerts: &[Alert], registry: &ComponentRegistry) -> usize {
    for alert in alerts {
        apply_alert(alert, &component_name(alert), registry);
    }
    alerts.len()
}

/// The component `alert` marks: its own, trimmed and cut, or [`DEFAULT_ALERT_COMPONENT`].
pub(crate) fn component_name(alert: &Alert) -> String {
    match truncate(alert.component.trim(), MAX_ALERT_COMPONENT_CHARS) {
        name if name.is_empty() => DEFAULT_ALERT_COMPONENT.to_owned(),
        name => name,
    }
}

/// Marks `component` as `alert` says, keeping the alert's details, bounded, under
/// `last_alert`.
pub(crate) fn apply_alert(alert: &Alert, component: &str, registry: &ComponentRegistry) {
    {
        let message = truncate(&alert.message, MAX_ALERT_TEXT_CHARS);
        let status = alert.impact().status();
        let mut last_alert = Map::new();
        last_alert.insert(
            "provider".into(),
            bounded(&Value::from(alert.provider.as_str())),
        );
        last_alert.insert(
            "severity".into(),
            bounded(&Value::from(alert.severity.as_str())),
        );
        last_alert.insert("message".into(), Value::from(message.as_str()));
        last_alert.insert(
            "received_at".into(),
            Value::from(Timestamp::now().to_string()),
        );
        for (key, value) in alert.metadata.iter().take(MAX_ALERT_METADATA_ENTRIES) {
            last_alert
                .entry(truncate(key, MAX_ALERT_COMPONENT_CHARS))
                .or_insert_with(|| bounded(value));
        }
        let mut metadata = Map::new();
        metadata.insert("last_alert".into(), Value::Object(last_alert));
        let error = (!message.is_empty()).then_some(message.as_str());
        registry.apply_alert(component, status, error, metadata);
    }
}

/// `value` with long text cut and nested structures flattened to (cut) JSON text.
fn bounded(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(truncate(text, MAX_ALERT_TEXT_CHARS)),
        Value::Array(_) | Value::Object(_) => {
            Value::String(truncate(&value.to_string(), MAX_ALERT_TEXT_CHARS))
        }
        scalar => scalar.clone(),
    }
}

/// `text` cut to at most `max` characters (on a character boundary).
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// A field as text: strings as they are, numbers and booleans printed, `null` and
/// missing as `None`, arrays and objects as JSON.
pub(crate) fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The first of `keys` present (and not `null`) in `object`, as text.
pub(crate) fn first_text(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text_of(object.get(*key)))
}

/// Like [`first_text`], skipping blank values.
pub(crate) fn first_nonblank(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|key| text_of(object.get(*key)))
        .find(|text| !text.trim().is_empty())
}

/// Copies the present `(source key, metadata key)` fields of `object` into `metadata`,
/// as text.
pub(crate) fn copy_fields(
    object: &Map<String, Value>,
    fields: &[(&str, &str)],
    metadata: &mut Map<String, Value>,
) {
    for (source, target) in fields {
        if let Some(text) = text_of(object.get(*source)) {
            metadata.insert((*target).to_owned(), Value::String(text));
        }
    }
}

/// The payload as an object, or the provider's parse error.
pub(crate) fn expect_object<'a>(
    provider: &'static str,
    payload: &'a Value,
) -> Result<&'a Map<String, Value>, AdapterParseError> {
    payload.as_object().ok_or_else(|| {
        AdapterParseError::new(
            provider,
            format!("expected a JSON object, got {}", kind_of(payload)),
        )
    })
}

/// The elements of the list payload `object[field]` (`events`, `violations`), each an
/// object; `None` when the payload has no such field.
pub(crate) fn list_of_objects<'a>(
    provider: &'static str,
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<&'a Map<String, Value>>>, AdapterParseError> {
    let items = match object.get(field) {
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(AdapterParseError::new(
                provider,
                format!("{field} must be a list, got {}", kind_of(other)),
            ));
        }
    };
    if items.len() > MAX_ALERTS_PER_PAYLOAD {
        return Err(AdapterParseError::new(
            provider,
            format!(
                "{field} holds {} alerts, more than the {MAX_ALERTS_PER_PAYLOAD} accepted",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_object().ok_or_else(|| {
                AdapterParseError::new(
                    provider,
                    format!("{field}[{index}] is {}, not an object", kind_of(item)),
                )
            })
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn severities_map_to_impacts() {
        fn check(severity: &str, expected: AlertImpact) {
            assert_eq!(
                AlertImpact::from_severity(severity),
                expected,
                "{severity:?}"
            );
        }
        for severity in ["critical", "CRITICAL", "error", "failure", " Error "] {
            check(severity, AlertImpact::Failed);
        }
        for severity in ["warning", "WARNING", "warn", "degraded"] {
            check(severity, AlertImpact::Degraded);
        }
        for severity in ["info", "success", "ok", "recovered", "closed", "", "fatal?"] {
            check(severity, AlertImpact::Healthy);
        }
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn bounded_values_stay_small() {
        let long = "x".repeat(MAX_ALERT_TEXT_CHARS * 3);
        assert_eq!(
            bounded(&json!(long)).as_str().unwrap().len(),
            MAX_ALERT_TEXT_CHARS
        );
        let nested = bounded(&json!({"a": [1, 2, {"b": long}]}));
        assert!(nested.is_string());
        assert_eq!(
            nested.as_str().unwrap().chars().count(),
            MAX_ALERT_TEXT_CHARS
        );
        assert_eq!(
            bounded(&json!(7_452_019_899_011_122_233_u64)),
            json!(7_452_019_899_011_122_233_u64)
        );
    }

    #[test]
    fn adapters_are_found_by_provider_name() {
        assert_eq!(adapter_for("Datadog").unwrap().provider(), "datadog");
        assert_eq!(adapter_for("NEWRELIC").unwrap().provider(), "newrelic");
        assert!(adapter_for("pagerduty").is_none());
        // Each listed provider has its adapter, under its own name, and no adapter is
        // left unlisted.
        assert_eq!(PROVIDERS, ["datadog", "newrelic"]);
        assert_eq!(ADAPTERS.map(|adapter| adapter.provider()), PROVIDERS);
        for provider in PROVIDERS {
            assert_eq!(adapter_for(provider).unwrap().provider(), *provider);
        }
    }
}
