use health_model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rules::Outcome;

/// A registered fallback as stored under `<namespace>:definition:<name>`:
/// `{"name", "condition", "metadata", "registered_at"}`, a JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FallbackDefinition {
    /// The fallback's name, unique per manager.
    pub name: String,
    /// The condition's source text.
    pub condition: String,
    /// Free-form details given at registration (an empty object if none).
    pub metadata: Map<String, Value>,
    /// When it was registered.
    pub registered_at: Timestamp,
}

/// Where [`FallbackManager::register_fallback_or_queue`](crate::FallbackManager::register_fallback_or_queue)
/// left a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Its definition is stored and it is active:
    /// [`evaluate_fallbacks`](crate::FallbackManager::evaluate_fallbacks) runs it.
    Active,
    /// Storage failed transiently: it waits, inactive, until its definition is stored
    /// (see [`FallbackManager::pending_fallbacks`](crate::FallbackManager::pending_fallbacks)).
    Pending,
}

/// A fallback whose condition held, and how its action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FallbackRun {
    /// The fallback's name.
    pub name: String,
    /// How its action ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A fallback whose condition could not be evaluated against the context (usually a
/// variable the context lacks); its action did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SkippedFallback {
    /// The fallback's name.
    pub name: String,
    /// Why the condition could not be evaluated.
    #[serde(serialize_with = "serialize_display")]
    pub error: condition::Error,
}

/// What [`FallbackManager::evaluate_fallbacks`](crate::FallbackManager::evaluate_fallbacks)
/// did, in registration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FallbackReport {
    /// Every fallback whose condition held: its action ran.
    pub fired: Vec<FallbackRun>,
    /// Every fallback whose condition could not be evaluated.
    pub skipped: Vec<SkippedFallback>,
}

impl FallbackReport {
    /// The names of the fallbacks that fired, in order.
    pub fn fired_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.fired.iter().map(|run| run.name.as_str())
    }
}

fn serialize_display<S: serde::Serializer>(
    error: &condition::Error,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(error)
}
