use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server did not start, or stopped with a failure.
///
/// Configuration errors name the offending key (`storage.timeout`, `fallbacks[1].condition`)
/// so a bad setting stops start-up with a message that says where to look. No message
/// shows a token, a webhook secret or a Redis password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {}", path.display())]
    ConfigFile {
        /// The file named by `--config`.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },

    /// The configuration file is not valid TOML.
    #[error("configuration is not valid TOML: {message}")]
    ConfigSyntax {
        /// The parser's message, with line and column.
        message: String,
    },

    /// A configuration key is unknown, has the wrong type, or a value that cannot be used.
    #[error("invalid configuration at `{key}`: {message}")]
    Config {
        /// The path of the offending key, e.g. `cascade.interval` or `fallbacks[0].condition`.
        key: String,
        /// What is wrong with it.
        message: String,
    },

    /// The listening address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address from `server.listen` or `--listen`.
        address: SocketAddr,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },

    /// A part of the service could not be built from a valid configuration (a metrics sink
    /// whose address does not resolve, a check that cannot be created).
    #[error("cannot start {component}: {message}")]
    Startup {
        /// What was being built, e.g. `the dogstatsd sink`.
        component: String,
        /// What went wrong.
        message: String,
    },

    /// Serving failed after start-up (the listener broke).
    #[error("the HTTP server failed")]
    Serve {
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },
}

impl ServerError {
    /// A [`ServerError::Config`] for `key`.
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A [`ServerError::Startup`] for `component`.
    pub(crate) fn startup(component: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::Startup {
            component: component.into(),
            message: message.to_string(),
        }
    }

    /// The error and its causes, `outer: inner: innermost`, each shown once: what a
    /// program prints as its last line.
    ///
    /// ```
    /// let error = server::Config::from_file("/nonexistent/server.toml".as_ref()).unwrap_err();
    /// assert!(error.report().to_string().starts_with(
    ///     "cannot read configuration file /nonexistent/server.toml: No such file"
    /// ));
    /// ```
    #[must_use]
    pub fn report(&self) -> impl fmt::Display + '_ {
        Chain(self)
    }

    /// The key a configuration error is about, if it is one.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Config { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// An error and its sources, `outer: inner: innermost`: the one way this crate prints
/// an error chain (log fields, start-up messages, the binary's last line). A source
/// whose text the message so far already contains is skipped, so an error of another
/// crate that prints its source and also returns it does not show it twice.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source and also returns it, as some do.
    #[derive(Debug, thiserror::Error)]
    #[error("outer: {source}")]
    struct Both {
        #[source]
        source: io::Error,
    }

    #[test]
    fn a_chain_shows_every_source_once() {
        let bind = ServerError::Bind {
            address: SocketAddr::from(([127, 0, 0, 1], 8000)),
            source: io::Error::new(io::ErrorKind::AddrInUse, "address in use"),
        };
        assert_eq!(
            Chain(&bind).to_string(),
            "cannot listen on 127.0.0.1:8000: address in use"
        );
        let both = Both {
            source: io::Error::other("inner"),
        };
        assert_eq!(Chain(&both).to_string(), "outer: inner");
    }

    #[test]
    fn no_variant_prints_its_source_and_returns_it() {
        let cause = || io::Error::other("the cause");
        let errors = [
            ServerError::ConfigFile {
                path: PathBuf::from("server.toml"),
                source: cause(),
            },
            ServerError::Bind {
                address: SocketAddr::from(([127, 0, 0, 1], 8000)),
                source: cause(),
            },
            ServerError::Serve { source: cause() },
        ];
        for error in errors {
            assert!(std::error::Error::source(&error).is_some(), "{error:?}");
            assert!(!error.to_string().contains("the cause"), "{error}");
        }
    }
}
