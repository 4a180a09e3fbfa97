//! The one syntax of every duration key: a number of seconds (`5`, `0.25`) or text
//! (`"5s"`, `"250ms"`, `"1m 30s"`, as `humantime` reads it).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// A duration key (`#[serde(deserialize_with = "duration::required")]`).
pub(super) fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// A duration key without a default of its own
/// (`#[serde(default, deserialize_with = "duration::optional")]`).
pub(super) fn optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    required(deserializer).map(Some)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a duration: seconds as a number (5, 0.25) or text (\"5s\", \"250ms\")")
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(seconds))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("a duration cannot be negative, got {seconds}")))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| E::custom(format!("{seconds} is not a duration in seconds")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        humantime::parse_duration(text)
            .map_err(|error| E::custom(format!("{text:?} is not a duration: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Key {
        #[serde(deserialize_with = "required")]
        value: Duration,
    }

    fn parse(value: &str) -> Result<Duration, String> {
        toml::from_str::<Key>(&format!("value = {value}"))
            .map(|key| key.value)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn numbers_are_seconds_and_text_is_humantime() {
        fn check(value: &str, expected: Duration) {
            assert_eq!(parse(value), Ok(expected), "{value}");
        }
        check("5", Duration::from_secs(5));
        check("0", Duration::ZERO);
        check("0.25", Duration::from_millis(250));
        check("2.5", Duration::from_millis(2500));
        check("\"2s\"", Duration::from_secs(2));
        check("\"250ms\"", Duration::from_millis(250));
        check("\"1m 30s\"", Duration::from_secs(90));
        check("\"24h\"", Duration::from_secs(24 * 3600));
    }

    #[test]
    fn anything_else_says_what_a_duration_is() {
        fn check(value: &str, message: &str) {
            let error = parse(value).unwrap_err();
            assert!(
                error.contains(message),
                "{value}: {error:?} lacks {message:?}"
            );
        }
        check("-1", "cannot be negative, got -1");
        check("-0.5", "-0.5 is not a duration in seconds");
        check("\"soon\"", "\"soon\" is not a duration");
        check("\"5\"", "\"5\" is not a duration");
        check("true", "a duration: seconds as a number (5, 0.25) or text");
        check("[1]", "a duration: seconds as a number");
    }
}
