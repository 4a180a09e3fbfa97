//! [`LoggingMetricsSink`]: one `tracing` event per metric, and the target it logs to.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::Level;

use crate::tags::SortedTags;
use crate::{MetricsSink, Tag};

/// The `tracing` target of every event [`LoggingMetricsSink`] emits, for filtering
/// (`RUST_LOG=health_sinks::metrics=debug`).
pub const LOG_TARGET: &str = "health_sinks::metrics";

/// A sink that writes one `tracing` event per metric, for development and debugging.
///
/// The message has the original's shape, with tags sorted by key:
///
/// ```text
/// METRIC gauge health_check_status=1.0 check=redis ts=2026-01-01T12:00:00.000Z
/// METRIC counter requests_total+=1 route=/health
/// METRIC histogram health_check_latency_seconds=0.012 check=redis
/// ```
///
/// The event also carries the structured fields `metric_kind`, `metric_name` and
/// `metric_value`. Nothing is validated or dropped: a log line can hold any name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggingMetricsSink {
    level: Level,
}

impl LoggingMetricsSink {
    /// Creates a sink logging at `level`.
    #[must_use]
    pub const fn new(level: Level) -> Self {
        Self { level }
    }

    /// The level events are logged at.
    #[must_use]
    pub const fn level(&self) -> Level {
        self.level
    }
}

impl Default for LoggingMetricsSink {
    /// Logs at `DEBUG`, like the original.
    fn default() -> Self {
        Self::new(Level::DEBUG)
    }
}

/// `tracing::event!` needs its level as a constant, so dispatch on the runtime level.
macro_rules! event_at {
    ($level:expr, $($rest:tt)+) => {
        match $level {
            Level::ERROR => tracing::event!(target: LOG_TARGET, Level::ERROR, $($rest)+),
            Level::WARN => tracing::event!(target: LOG_TARGET, Level::WARN, $($rest)+),
            Level::INFO => tracing::event!(target: LOG_TARGET, Level::INFO, $($rest)+),
            Level::DEBUG => tracing::event!(target: LOG_TARGET, Level::DEBUG, $($rest)+),
            _ => tracing::event!(target: LOG_TARGET, Level::TRACE, $($rest)+),
        }
    };
}

impl MetricsSink for LoggingMetricsSink {
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
        event_at!(
            self.level,
            metric_kind = "gauge",
            metric_name = name,
            metric_value = value,
            "METRIC gauge {name}={value:?}{}{}",
            TagList(tags),
            Timestamp(timestamp),
        );
    }

    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
        event_at!(
            self.level,
            metric_kind = "counter",
            metric_name = name,
            metric_value = value,
            "METRIC counter {name}+={value}{}",
            TagList(tags),
        );
    }

    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
        event_at!(
            self.level,
            metric_kind = "histogram",
            metric_name = name,
            metric_value = value,
            "METRIC histogram {name}={value:?}{}",
            TagList(tags),
        );
    }
}

/// ` k=v k=v`, sorted, so one series always logs the same way.
struct TagList<'t, 'a>(&'t [Tag<'a>]);

impl fmt::Display for TagList<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in SortedTags::new(self.0).iter() {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// ` ts=<RFC 3339 UTC, milliseconds>`, or nothing.
struct Timestamp(Option<SystemTime>);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(time) => write!(f, " ts={}", Rfc3339(time)),
            None => Ok(()),
        }
    }
}

/// A `SystemTime` as `YYYY-MM-DDThh:mm:ss.sssZ` (UTC).
pub(crate) struct Rfc3339(pub(crate) SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis: i128 = match self.0.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_millis()).unwrap_or(i128::MAX),
            Err(before) => -i128::try_from(before.duration().as_millis()).unwrap_or(i128::MAX),
        };
        let days = millis.div_euclid(86_400_000);
        let in_day = millis.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000,
        )
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, which works in 400-year eras so leap years need no table).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_timestamps_as_rfc3339_utc() {
        fn check(seconds_since_epoch: i64, millis: u64, expected: &str) {
            let offset = Duration::from_secs(seconds_since_epoch.unsigned_abs());
            let time = if seconds_since_epoch >= 0 {
                UNIX_EPOCH + offset
            } else {
                UNIX_EPOCH - offset
            } + Duration::from_millis(millis);
            assert_eq!(Rfc3339(time).to_string(), expected, "{seconds_since_epoch}");
        }
        check(0, 0, "1970-01-01T00:00:00.000Z");
        check(1_767_268_800, 0, "2026-01-01T12:00:00.000Z");
        check(1_767_225_599, 999, "2025-12-31T23:59:59.999Z");
        check(951_782_400, 5, "2000-02-29T00:00:00.005Z"); // leap day of a century leap year
        check(4_107_542_400, 0, "2100-03-01T00:00:00.000Z"); // 2100 is not a leap year
        check(-1, 0, "1969-12-31T23:59:59.000Z");
        check(-86_400 * 365, 250, "1969-01-01T00:00:00.250Z");
    }
}
