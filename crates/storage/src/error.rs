use std::fmt;
use std::time::Duration;

/// A boxed error from a backend's own client library, kept as the source of a [`StorageError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every [`Storage`](crate::Storage) operation.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A storage operation, named in errors and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`Storage::connect`](crate::Storage::connect).
    Connect,
    /// [`Storage::close`](crate::Storage::close).
    Close,
    /// [`Storage::health_check`](crate::Storage::health_check).
    HealthCheck,
    /// [`Storage::get`](crate::Storage::get).
    Get,
    /// [`Storage::set`](crate::Storage::set).
    Set,
    /// [`Storage::delete`](crate::Storage::delete).
    Delete,
    /// [`Storage::exists`](crate::Storage::exists).
    Exists,
    /// [`Storage::keys`](crate::Storage::keys).
    Keys,
    /// [`Storage::expire`](crate::Storage::expire).
    Expire,
    /// [`Storage::ttl`](crate::Storage::ttl).
    Ttl,
    /// [`Storage::increment`](crate::Storage::increment).
    Increment,
    /// A backend-specific command outside the trait (e.g. a raw Redis command).
    Command,
    /// A backend-specific server-side script (e.g. a Redis Lua script).
    Script,
    /// Publishing a message to subscribers.
    Publish,
    /// Subscribing to published messages, or keeping that subscription alive.
    Subscribe,
}

impl Operation {
    /// The operation's name as it appears in messages, e.g. `"get"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Close => "close",
            Self::HealthCheck => "health_check",
            Self::Get => "get",
            Self::Set => "set",
            Self::Delete => "delete",
            Self::Exists => "exists",
            Self::Keys => "keys",
            Self::Expire => "expire",
            Self::Ttl => "ttl",
            Self::Increment => "increment",
            Self::Command => "command",
            Self::Script => "script",
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a storage operation failed.
///
/// A key that does not exist is not an error: reads return `Ok(None)` or `Ok(false)`.
/// Every variant here is a failure, and [`StorageError::is_transient`] tells whether
/// trying again later may succeed.
///
/// A cause (the client library's or serde's error) is returned by
/// [`source`](std::error::Error::source) and never repeated in the message, so a printer
/// that walks the chain shows each part once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend needs [`Storage::connect`](crate::Storage::connect) first, or was closed.
    #[error("{backend} storage is not connected: call connect() first")]
    NotConnected {
        /// The backend's name, e.g. `"redis"`.
        backend: &'static str,
    },

    /// The operation did not finish within its time budget. For a write the outcome is
    /// unknown: the backend may or may not have applied it.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out.
        operation: Operation,
        /// How long the caller waited.
        after: Duration,
    },

    /// The backend could not be reached or the connection broke (refused, reset, closed).
    #[error("connection to {target} failed during {operation}: {message}")]
    Connection {
        /// The operation that was running.
        operation: Operation,
        /// Where the backend lives, with any password redacted.
        target: String,
        /// What happened; with a `source`, a summary that does not repeat it.
        message: String,
        /// The client library's error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// A secure connection could not be set up: the server's certificate is not trusted,
    /// has expired or names another host, the server refused the client's certificate, or
    /// the configured certificates cannot be used. Not transient: trying again meets the
    /// same certificates.
    #[error("TLS with {target} failed during {operation}: {message}")]
    Tls {
        /// The operation that was running.
        operation: Operation,
        /// Where the backend lives, with any password redacted.
        target: String,
        /// What failed, e.g. "the server's certificate has expired".
        message: String,
        /// The TLS library's error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// A value could not be encoded to JSON, or a stored value could not be decoded.
    #[error("value at key {key:?} could not be (de)serialized")]
    Serialization {
        /// The key whose value failed.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The key holds a value of the wrong kind for the operation, e.g. `increment` on a
    /// string, or a Redis list read with `get`.
    #[error("key {key:?} holds {found}, but {operation} needs {expected}")]
    WrongType {
        /// The operation that was refused.
        operation: Operation,
        /// The key.
        key: String,
        /// What the operation needs, e.g. `"an integer"`.
        expected: &'static str,
        /// What the key holds, e.g. `"a string"`.
        found: String,
    },

    /// An increment would leave the range of `i64`. The stored value is unchanged.
    #[error("incrementing key {key:?} by {amount} would overflow a 64-bit integer")]
    Overflow {
        /// The key.
        key: String,
        /// The requested increment.
        amount: i64,
    },

    /// An argument is out of range, e.g. a zero expiry for `set`.
    #[error("invalid argument to {operation}: {message}")]
    InvalidArgument {
        /// The operation that was refused.
        operation: Operation,
        /// What is wrong.
        message: String,
    },

    /// Any other failure reported by the backend.
    #[error("{operation} failed in the backend: {message}")]
    Backend {
        /// The operation that was running.
        operation: Operation,
        /// What happened; with a `source`, a summary that does not repeat it.
        message: String,
        /// The client library's error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl StorageError {
    /// Whether trying the same operation again later may succeed: timeouts and broken
    /// connections are transient; certificate problems, bad values, wrong types and
    /// invalid arguments are not.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Connection { .. })
    }

    /// Builds a [`StorageError::Serialization`] for `key`.
    #[must_use]
    pub fn serialization(key: &str, source: serde_json::Error) -> Self {
        Self::Serialization {
            key: key.to_owned(),
            source,
        }
    }

    /// Builds a [`StorageError::InvalidArgument`].
    #[must_use]
    pub fn invalid_argument(operation: Operation, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            operation,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_cause_is_returned_not_repeated() {
        let cause = serde_json::from_str::<u8>("[").unwrap_err();
        let error = StorageError::serialization("k", cause);
        assert_eq!(
            error.to_string(),
            "value at key \"k\" could not be (de)serialized"
        );
        let source = error.source().map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("invalid type: sequence, expected u8 at line 1 column 0")
        );
    }
}
