use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{HealthCheckStatus, Timestamp};

/// What one health check found.
///
/// Serializes to the original's `to_dict()` shape: `{"name", "status", "message",
/// "latency_ms", "timestamp", "metadata"}`, with `timestamp` in RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheckResult {
    /// The check's name.
    pub name: String,
    /// The verdict.
    pub status: HealthCheckStatus,
    /// A human-readable explanation (empty when there is nothing to add).
    pub message: String,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// When the check finished.
    pub timestamp: Timestamp,
    /// Check-specific details (a URL and status code, disk sizes, ...).
    pub metadata: Map<String, Value>,
}

impl HealthCheckResult {
    /// A result named `name` with `status`, no message, zero latency, now, no metadata.
    #[must_use]
    pub fn new(name: impl Into<String>, status: HealthCheckStatus) -> Self {
        Self {
            name: name.into(),
            status,
            ..Self::default()
        }
    }

    /// Sets the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

impl Default for HealthCheckResult {
    fn default() -> Self {
        Self {
            name: String::new(),
            status: HealthCheckStatus::Unknown,
            message: String::new(),
            latency_ms: 0.0,
            timestamp: Timestamp::now(),
            metadata: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_the_original_to_dict_shape() {
        let result = HealthCheckResult {
            latency_ms: 150.5,
            ..HealthCheckResult::new("db", HealthCheckStatus::Degraded)
                .with_message("slow")
                .with_metadata("host", "db-1")
        };
        let json = serde_json::to_value(&result).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 6);
        for key in [
            "name",
            "status",
            "message",
            "latency_ms",
            "timestamp",
            "metadata",
        ] {
            assert!(keys.contains(&key.to_owned()), "{key} missing from {json}");
        }
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["latency_ms"], 150.5);
        assert_eq!(json["metadata"]["host"], "db-1");
        assert_eq!(
            serde_json::from_value::<HealthCheckResult>(json).unwrap(),
            result
        );
    }

    #[test]
    fn defaults_match_the_original() {
        let result = HealthCheckResult::new("x", HealthCheckStatus::Healthy);
        assert_eq!(result.message, "");
        assert_eq!(result.latency_ms.to_bits(), 0f64.to_bits());
        assert!(result.metadata.is_empty());
    }
}
