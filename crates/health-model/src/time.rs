use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 9999-12-31T23:59:59.999999Z, the last instant humantime formats (it panics before 1970
/// and fails after 9999).
const LATEST_SINCE_EPOCH: Duration = Duration::new(253_402_300_799, 999_999_000);

/// A point in time shown to people: serialized as RFC 3339 in UTC with microseconds
/// (`2026-11-27T13:35:07.123456Z`). Kept at microsecond precision, so a timestamp equals
/// itself after a round trip through JSON.
///
/// Measuring durations uses monotonic clocks ([`std::time::Instant`]); this type is only
/// for timestamps in reports, logs and stored records.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// The current time.
    #[must_use]
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The timestamp of a [`SystemTime`], truncated to whole microseconds and clamped to
    /// the years RFC 3339 can show (1970-01-01 to 9999-12-31), so every timestamp prints.
    #[must_use]
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .min(LATEST_SINCE_EPOCH);
        Self(SystemTime::UNIX_EPOCH + Duration::new(since.as_secs(), since.subsec_micros() * 1000))
    }

    /// As a [`SystemTime`].
    #[must_use]
    pub const fn as_system_time(self) -> SystemTime {
        self.0
    }

    /// Microseconds since the Unix epoch (0 for earlier times), handy as a sortable key.
    #[must_use]
    pub fn unix_micros(self) -> u64 {
        self.0
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
            })
    }

    /// How long ago this was, zero if it lies in the future.
    #[must_use]
    pub fn elapsed(self) -> Duration {
        SystemTime::now().duration_since(self.0).unwrap_or_default()
    }
}

impl Default for Timestamp {
    /// The current time: a state or record built without a timestamp is "now".
    fn default() -> Self {
        Self::now()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self::from_system_time(time)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_micros(self.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 UTC timestamp: {0}")]
pub struct TimestampParseError(String);

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    /// Parses RFC 3339 in UTC (`Z`), with or without fractional seconds.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339(text)
            .map(Self::from_system_time)
            .map_err(|error| TimestampParseError(format!("{text:?} ({error})")))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_micros_and_parses_back() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_795_786_507_123_456_789);
        let stamp = Timestamp::from(time);
        assert_eq!(stamp.to_string(), "2026-11-27T13:35:07.123456Z");
        assert_eq!(stamp.to_string().parse::<Timestamp>().unwrap(), stamp);
        assert_eq!(
            serde_json::to_value(stamp).unwrap(),
            serde_json::json!("2026-11-27T13:35:07.123456Z")
        );
        assert_eq!(stamp.unix_micros(), 1_795_786_507_123_456);
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-27 07:41:47",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_value::<Timestamp>(serde_json::json!(12)).is_err());
    }

    #[test]
    fn every_timestamp_displays_and_serializes_without_panicking() {
        // humantime panics on times before 1970 and fails on times after 9999; a timestamp
        // built from any `SystemTime`, or parsed from any accepted text, must still print.
        fn check(stamp: Timestamp, expected: &str) {
            assert_eq!(stamp.to_string(), expected);
            assert_eq!(
                serde_json::to_value(stamp).unwrap(),
                serde_json::json!(expected)
            );
        }
        let epoch = SystemTime::UNIX_EPOCH;
        check(
            Timestamp::from(epoch - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000000Z",
        );
        check(
            Timestamp::from(epoch + Duration::from_secs(400_000_000_000)),
            "9999-12-31T23:59:59.999999Z",
        );
        let leap: Timestamp = serde_json::from_value(serde_json::json!("9999-12-31T23:59:60Z"))
            .expect("humantime accepts a leap second, as :59");
        check(leap, "9999-12-31T23:59:59.000000Z");
        let nanos: Timestamp = "2026-01-01T00:00:00.123456789Z".parse().unwrap();
        check(nanos, "2026-01-01T00:00:00.123456Z");
        assert_eq!(nanos.to_string().parse::<Timestamp>().unwrap(), nanos);
    }
}
