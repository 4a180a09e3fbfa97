use storage::StorageError;

/// A boxed error, as mode callbacks, fallback actions and detectors return it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation of the fallback manager failed.
///
/// Outcomes that are not failures are values: a cascade that changes nothing returns the
/// current mode, a detector that fails inside [`FallbackManager::detect_anomaly`] yields a
/// [`Detection`] with mode `"error"`, and a fallback action that fails is reported in its
/// [`FallbackRun`].
///
/// [`FallbackManager::detect_anomaly`]: crate::FallbackManager::detect_anomaly
/// [`Detection`]: crate::detection::Detection
/// [`FallbackRun`]: crate::rules::FallbackRun
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A mode name other than `primary`, `heuristic` or `safe` (in any case).
    #[error("{name:?} is not a fallback mode: expected primary, heuristic or safe")]
    InvalidMode {
        /// The name as given.
        name: String,
    },

    /// A fallback's condition does not parse; nothing was registered.
    #[error("fallback {name:?} has an invalid condition")]
    InvalidCondition {
        /// The fallback's name.
        name: String,
        /// What the parser reported, with the byte offset.
        #[source]
        source: condition::Error,
    },

    /// A fallback's metadata is not a JSON object (or null); nothing was registered.
    #[error("fallback {name:?} has metadata that is {found}, not a JSON object")]
    InvalidMetadata {
        /// The fallback's name.
        name: String,
        /// What the metadata is, e.g. `"an array"`.
        found: &'static str,
    },

    /// A detection rule's condition does not parse.
    #[error("detection rule {name:?} has an invalid condition")]
    InvalidRule {
        /// The rule's name.
        name: String,
        /// What the parser reported, with the byte offset.
        #[source]
        source: condition::Error,
    },

    /// A detection rule's confidence is not a number between 0 and 1.
    #[error("detection rule {name:?} has confidence {confidence}, outside 0.0..=1.0")]
    InvalidConfidence {
        /// The rule's name.
        name: String,
        /// The confidence given.
        confidence: f64,
    },

    /// The storage failed; what the manager was doing is named.
    #[error("storage failed while {action}")]
    Storage {
        /// What the manager was doing, e.g. `"storing fallback definition \"x\""`.
        action: String,
        /// The storage's error.
        #[source]
        source: StorageError,
    },

    /// A mode callback of this manager tried to change the mode. Callbacks run while the
    /// mode change that triggered them is still in progress, so the call would wait for
    /// itself; it is refused instead.
    #[error(
        "{operation} called from a mode callback of the same manager: refused, it would wait for itself"
    )]
    Reentrant {
        /// The refused operation, e.g. `"set_mode"`.
        operation: &'static str,
    },
}

impl Error {
    pub(crate) fn storage(action: impl Into<String>, source: StorageError) -> Self {
        Self::Storage {
            action: action.into(),
            source,
        }
    }
}

/// What a JSON value is, for messages.
pub(crate) const fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::time::Duration;

    use storage::Operation;

    use super::*;

    /// The error's chain as a reporter prints it: each message once.
    fn chain(error: &Error) -> Vec<String> {
        let mut messages = vec![error.to_string()];
        let mut cause = error.source();
        while let Some(error) = cause {
            messages.push(error.to_string());
            cause = error.source();
        }
        messages
    }

    #[test]
    fn a_variant_with_a_cause_returns_it_and_does_not_print_it() {
        let Err(parse) = condition::parse_condition("severity >=") else {
            panic!("an incomplete condition parsed");
        };
        let timeout = StorageError::Timeout {
            operation: Operation::Set,
            after: Duration::from_secs(2),
        };
        let errors = [
            Error::InvalidCondition {
                name: "x".to_owned(),
                source: parse.clone(),
            },
            Error::InvalidRule {
                name: "r".to_owned(),
                source: parse,
            },
            Error::storage("storing fallback definition \"x\"", timeout),
        ];
        for error in &errors {
            let chain = chain(error);
            assert_eq!(chain.len(), 2, "{chain:?}");
            assert!(!chain[0].contains(&chain[1]), "{chain:?}");
        }
        assert_eq!(
            chain(&errors[2]),
            [
                "storage failed while storing fallback definition \"x\"",
                "set timed out after 2s"
            ]
        );
    }
}
