//! Logs: the subscriber the binary installs.

use serde::Deserialize;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::ServerError;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses a log filter: comma-separated directives, each a level (`info`) or
/// `target=level` (`storage_redis=warn`).
pub(crate) fn parse_filter(filter: &str) -> Result<Targets, String> {
    let valid_level = |level: &str| LEVELS.contains(&level.trim().to_ascii_lowercase().as_str());
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.split_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level,
            Some(_) => return Err(format!("{directive:?} has no target before '='")),
            None => directive,
        };
        if !valid_level(level) {
            return Err(format!(
                "{level:?} in {filter:?} is not a level: expected trace, debug, info, warn, error or off"
            ));
        }
    }
    filter
        .to_ascii_lowercase()
        .parse::<Targets>()
        .map_err(|error| format!("{filter:?} is not a log filter: {error}"))
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected human or json"
            )),
        }
    }
}

/// The process's logging, validated: the format and the parsed filter.
#[derive(Debug, Clone)]
pub(crate) struct Logging {
    pub(crate) format: LogFormat,
    pub(crate) filter: Targets,
}

impl Logging {
    /// Installs the process-wide log subscriber: human or JSON lines on standard error,
    /// filtered. Called once, by a binary (libraries never install one).
    pub(crate) fn install(&self) -> Result<(), ServerError> {
        let human = (self.format == LogFormat::Human).then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(true)
        });
        let json = (self.format == LogFormat::Json).then(|| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr)
        });
        tracing_subscriber::registry()
            .with(human)
            .with(json)
            .with(self.filter.clone())
            .try_init()
            .map_err(|error| ServerError::startup("logging", error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_accept_levels_and_targets_only() {
        fn check(filter: &str, valid: bool) {
            assert_eq!(parse_filter(filter).is_ok(), valid, "{filter:?}");
        }
        check("info", true);
        check("INFO", true);
        check("warn,server=debug,storage_redis=off", true);
        check("loud", false);
        check("server=loud", false);
        check("=info", false);
        check("", false);
    }
}
