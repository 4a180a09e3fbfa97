use std::time::Duration;

/// What can go wrong in this crate.
///
/// Outcomes of the protocol are not errors: a lease held by another instance or a
/// decision refused by the fence are values ([`Acquire`](crate::store::Acquire),
/// [`Publish`](crate::store::Publish)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of [`ClusterConfig`](crate::ClusterConfig) cannot be used.
    #[error("invalid cluster configuration: `{key}` {message}")]
    Config {
        /// The offending setting.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// The Redis configuration cannot be used.
    #[error("invalid redis configuration for the cluster store")]
    RedisConfig(#[source] storage_redis::ConfigError),

    /// A Redis command (or script) failed.
    #[error("redis {operation} failed")]
    Redis {
        /// What the store was doing.
        operation: &'static str,
        /// What the client reported.
        #[source]
        source: redis::RedisError,
    },

    /// A store operation ran out of time.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// What the store was doing.
        operation: &'static str,
        /// The time it was given.
        timeout: Duration,
    },

    /// The store cannot be reached (not connected, or cut off).
    #[error("the cluster store is unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },

    /// The store answered something the protocol cannot read.
    #[error("unreadable {what} from the cluster store: {message}")]
    Protocol {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// The fallback manager refused to apply a mode.
    #[error("the fallback manager refused the mode change")]
    Fallback(#[source] fallback::Error),

    /// The coordinator has been stopped.
    #[error("the cluster coordinator is stopped")]
    Stopped,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(key: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            key,
            message: message.into(),
        }
    }

    pub(crate) fn protocol(what: &'static str, message: impl Into<String>) -> Self {
        Self::Protocol {
            what,
            message: message.into(),
        }
    }
}
