use std::time::Duration;

/// What can go wrong in this crate.
///
/// Building things (a monitor, a breaker, a check) with bad settings returns an error;
/// running checks never does: a check that fails, times out or panics is an `unhealthy`
/// [`HealthCheckResult`](crate::HealthCheckResult), not an `Err`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// A setting is out of range (a zero threshold, warning above critical, ...).
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting, as its builder method is named.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL a check should probe does not parse or lacks a host.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL uses a scheme the HTTP check does not speak (only `http` and `https`).
    #[error("unsupported url scheme {scheme:?} in {url:?}: only http and https are supported")]
    UnsupportedScheme {
        /// The URL as given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// An operation needs a Tokio runtime and was called outside one.
    #[error("no tokio runtime: {operation} must be called from within a tokio runtime")]
    NoRuntime {
        /// What was attempted.
        operation: &'static str,
    },
    /// A webhook payload was not understood.
    #[cfg(feature = "alerts")]
    #[error(transparent)]
    AdapterParse(#[from] crate::alerts::AdapterParseError),
}

impl HealthError {
    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting,
            reason: reason.into(),
        }
    }
}

/// Checks that `value` is a positive duration, for builder methods.
pub(crate) fn positive(setting: &'static str, value: Duration) -> Result<Duration, HealthError> {
    if value.is_zero() {
        Err(HealthError::config(setting, "must be greater than zero"))
    } else {
        Ok(value)
    }
}

/// `Result` with [`HealthError`].
pub type Result<T, E = HealthError> = std::result::Result<T, E>;
