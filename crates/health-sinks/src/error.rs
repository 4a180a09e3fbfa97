use std::io;

/// The result type of building a sink.
pub type Result<T, E = SinkError> = std::result::Result<T, E>;

/// Why a sink could not be built.
///
/// Only construction fails. Emitting never returns an error: a metric that cannot be
/// exported is dropped, logged once and counted (see [`SinkStats`](crate::SinkStats)),
/// because a metrics problem must never change the control flow of the code it observes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Histogram bucket bounds are empty, not finite, or not strictly increasing.
    #[error("invalid histogram buckets {buckets:?}: {reason}")]
    InvalidBuckets {
        /// The bounds as given.
        buckets: Vec<f64>,
        /// What is wrong with them.
        reason: &'static str,
    },

    /// A metric name given to a builder cannot name any metric (it is empty).
    #[error("invalid metric name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A DogStatsD metric prefix contains characters Datadog does not allow in names.
    #[error("invalid metric prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A constant tag given to a builder cannot be sent.
    #[error("invalid tag {key:?}: {reason}")]
    InvalidTag {
        /// The tag key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A numeric or duration setting is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method, e.g. `"max_datagram_size"`.
        setting: &'static str,
        /// The accepted range or rule.
        reason: String,
    },

    /// The DogStatsD address did not resolve to any socket address.
    #[error("cannot resolve DogStatsD address {address:?}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// The resolver's error, if it reported one.
        #[source]
        source: Option<io::Error>,
    },

    /// The operating system refused a socket or thread the sink needs.
    #[error("could not {operation}")]
    Io {
        /// What was being set up, e.g. `"bind a UDP socket"`.
        operation: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl SinkError {
    #[cfg(feature = "dogstatsd")]
    pub(crate) fn io(operation: &'static str, source: io::Error) -> Self {
        Self::Io { operation, source }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_cause_is_returned_by_source_never_repeated_in_the_message() {
        let error = SinkError::Io {
            operation: "bind a UDP socket",
            source: io::Error::other("permission denied"),
        };
        assert_eq!(error.to_string(), "could not bind a UDP socket");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("permission denied")
        );
        let unresolved = SinkError::InvalidAddress {
            address: "nowhere:8125".to_owned(),
            source: Some(io::Error::other("no such host")),
        };
        assert_eq!(
            unresolved.to_string(),
            "cannot resolve DogStatsD address \"nowhere:8125\""
        );
        assert!(unresolved.source().is_some());
    }
}
