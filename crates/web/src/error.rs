use std::fmt;

/// Why a [`ResilienceState`](crate::ResilienceState) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A webhook secret was given for a provider no alert adapter serves.
    #[cfg(feature = "alerts")]
    #[error("no webhook adapter for provider {provider:?}: expected one of {}", health::alerts::PROVIDERS.join(", "))]
    UnknownProvider {
        /// The provider as given.
        provider: String,
    },

    /// The monitor's settings are invalid.
    #[error("invalid health monitor settings")]
    Monitor {
        /// What the monitor refused.
        #[source]
        source: health::HealthError,
    },

    /// The alert limits are invalid.
    #[cfg(feature = "alerts")]
    #[error("invalid alert limits")]
    AlertLimits {
        /// What the alert book refused.
        #[source]
        source: health::HealthError,
    },

    /// A background task could not be started.
    #[error("cannot start a background task: {reason}")]
    Background {
        /// Why.
        reason: &'static str,
    },
}

/// An error and its sources, `outer: inner: innermost`: how this crate logs an error
/// chain. A source whose text the message so far already contains is skipped, so an
/// error of another crate that prints its source and also returns it does not show it
/// twice.
#[derive(Clone, Copy)]
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
