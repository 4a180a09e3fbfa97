//! How one failed attempt is classified: whether the command may have run, whether a retry
//! can help, whether the connection must be replaced, and the [`StorageError`] it becomes.

use std::fmt;
use std::time::Duration;

use redis::{ErrorKind, RedisError, RetryMethod, ServerErrorKind};
use storage::{Operation, StorageError};

/// Why one attempt failed, before it becomes a [`StorageError`].
pub(crate) enum Failure {
    /// The command never left: no connection could be had (refused, or connecting timed
    /// out), or the server refused to run it for now (`LOADING`, `MASTERDOWN`,
    /// `TRYAGAIN`). Safe to retry anything.
    NotSent { timed_out: bool, message: String },
    /// The server is (now) a replica and refused the write with `READONLY`: the command
    /// did not run, and the connection must be replaced to reach the new master.
    ReadOnly(RedisError),
    /// The server refused to set a connection up (wrong password or database): a
    /// configuration error that no retry fixes.
    Refused(RedisError),
    /// The connection broke while the command was in flight: it may have run.
    Broken(RedisError),
    /// The attempt ran out of time: the command may have run.
    TimedOut,
    /// A certificate or TLS handshake problem: no retry fixes it.
    Tls {
        problem: &'static str,
        error: RedisError,
    },
    /// The adapter was closed, or never connected.
    Closed,
    /// A final answer that a retry would not change.
    Final(StorageError),
}

impl Failure {
    /// Whether another attempt may succeed, given whether running the command twice is
    /// harmless.
    pub(crate) fn retryable(&self, idempotent: bool) -> bool {
        match self {
            Self::NotSent { .. } | Self::ReadOnly(_) => true,
            Self::Broken(_) | Self::TimedOut => idempotent,
            Self::Refused(_) | Self::Tls { .. } | Self::Closed | Self::Final(_) => false,
        }
    }

    /// The error the caller sees.
    pub(crate) fn into_error(
        self,
        operation: Operation,
        target: &str,
        timeout: Duration,
    ) -> StorageError {
        let connection = |message: String, source: Option<RedisError>| StorageError::Connection {
            operation,
            target: target.to_owned(),
            message,
            source: source.map(boxed),
        };
        match self {
            Self::NotSent {
                timed_out: true, ..
            }
            | Self::TimedOut => StorageError::Timeout {
                operation,
                after: timeout,
            },
            Self::NotSent { message, .. } => connection(message, None),
            Self::ReadOnly(error) => connection(
                "the server is a read-only replica (a failover moved the master)".to_owned(),
                Some(error),
            ),
            // With a source, the message summarises and the source tells the details.
            Self::Refused(error) => StorageError::Backend {
                operation,
                message: format!("{target} refused the connection"),
                source: Some(boxed(error)),
            },
            Self::Broken(error) => connection("the connection broke".to_owned(), Some(error)),
            Self::Tls { problem, error } => StorageError::Tls {
                operation,
                target: target.to_owned(),
                message: problem.to_owned(),
                source: Some(boxed(error)),
            },
            Self::Closed => StorageError::NotConnected { backend: "redis" },
            Self::Final(error) => error,
        }
    }
}

/// Classifies a failure to set a connection up: one that may go away by itself (the server
/// is down, unreachable or still loading) is [`Failure::NotSent`]; a configuration error
/// such as a wrong password or database, which no retry fixes, is [`Failure::Refused`].
pub(crate) fn setup_failure(error: RedisError) -> Failure {
    if let Some(problem) = tls_problem(&error) {
        return Failure::Tls { problem, error };
    }
    let recovers = match error.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::RESP3NotSupported
        | ErrorKind::EmptySentinelList => false,
        // A reply of the server's (to `SELECT`, say): final unless it says "later".
        ErrorKind::Server(_) | ErrorKind::Extension => {
            !matches!(error.retry_method(), RetryMethod::NoRetry)
        }
        _ => true,
    };
    if recovers {
        Failure::NotSent {
            timed_out: error.is_timeout(),
            message: error.to_string(),
        }
    } else {
        Failure::Refused(error)
    }
}

/// Maps a client error to a [`Failure`]. For the trait's operations (`key` is the key),
/// Redis' own error replies become the matching [`StorageError`]; for raw commands and
/// scripts (`key` is `None`) any other reply is a [`StorageError::Backend`].
pub(crate) fn classify(error: RedisError, operation: Operation, key: Option<&str>) -> Failure {
    if let Some(problem) = tls_problem(&error) {
        return Failure::Tls { problem, error };
    }
    // Refused, or (on a cluster) no connection to the node owning the slot yet: the
    // command never left.
    if error.is_connection_refusal() || error.kind() == ErrorKind::ClusterConnectionNotFound {
        return Failure::NotSent {
            timed_out: false,
            message: error.to_string(),
        };
    }
    // A reply that does not decode as the caller asked arrived whole: the command ran,
    // and the connection is fine (a corrupt stream shows as I/O errors on the next use).
    let decoding = error.kind() == ErrorKind::Parse;
    if !decoding
        && (error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error())
    {
        return Failure::Broken(error);
    }
    if error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) {
        return Failure::ReadOnly(error);
    }
    if matches!(error.retry_method(), RetryMethod::WaitAndRetry) {
        // `LOADING`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN`: the server refused to run the
        // command for now, so a retry is safe even for `increment`.
        return Failure::NotSent {
            timed_out: false,
            message: error.to_string(),
        };
    }
    let detail = error.detail().unwrap_or_default();
    let final_error = match key {
        Some(key) if error.code() == Some("WRONGTYPE") => StorageError::WrongType {
            operation,
            key: key.to_owned(),
            expected: "a string value",
            found: "another Redis type".to_owned(),
        },
        Some(key) if detail.contains("not an integer") => StorageError::WrongType {
            operation,
            key: key.to_owned(),
            expected: "an integer",
            found: "a value that is not a 64-bit integer".to_owned(),
        },
        Some(key) if detail.contains("would overflow") => StorageError::Overflow {
            key: key.to_owned(),
            amount: 0,
        },
        Some(_) if detail.contains("invalid expire time") => {
            StorageError::invalid_argument(operation, error.to_string())
        }
        _ => StorageError::Backend {
            operation,
            message: error.code().map_or_else(
                || "the client could not use the reply".to_owned(),
                |code| format!("the server replied with a {code} error"),
            ),
            source: Some(boxed(error)),
        },
    };
    Failure::Final(final_error)
}

/// What is wrong when `error` is a certificate or handshake problem.
#[cfg(feature = "tls")]
fn tls_problem(error: &RedisError) -> Option<&'static str> {
    crate::tls::problem(error)
}

/// Without TLS support there are no TLS failures.
#[cfg(not(feature = "tls"))]
fn tls_problem(_error: &RedisError) -> Option<&'static str> {
    None
}

/// The client's error as the source of a [`StorageError`].
pub(crate) fn boxed(error: RedisError) -> storage::BoxError {
    Box::new(ClientError(error))
}

/// A Redis client error whose level that only repeats its cause is flattened away: the
/// client prints a server reply or a decoding error and also returns it as its source,
/// which a chain printer would show twice.
struct ClientError(RedisError);

impl fmt::Debug for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let cause = std::error::Error::source(&self.0)?;
        if cause.to_string() == self.0.to_string() {
            cause.source()
        } else {
            Some(cause)
        }
    }
}
