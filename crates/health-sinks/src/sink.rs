use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One tag: a `(key, value)` pair. Prometheus exports it as a label, DogStatsD as `key:value`.
///
/// The order of tags in a slice never matters: every sink treats `[("a", "1"), ("b", "2")]`
/// and `[("b", "2"), ("a", "1")]` as the same series.
pub type Tag<'a> = (&'a str, &'a str);

/// The gauge [`MetricsSink::emit_health_check`] sets, labelled `check="<check name>"`.
pub const HEALTH_CHECK_STATUS_METRIC: &str = "health_check_status";

/// The histogram [`MetricsSink::emit_health_check`] records, in seconds, labelled
/// `check="<check name>"`.
pub const HEALTH_CHECK_LATENCY_METRIC: &str = "health_check_latency_seconds";

/// The tag key naming the check in both health-check metrics.
pub const HEALTH_CHECK_TAG: &str = "check";

/// Where metrics go: the one interface the health monitor and the fallback cascade emit
/// through.
///
/// Every method is synchronous and cheap, and never blocks on I/O, so it can be called
/// from async code, from hot paths and while holding locks. No method returns an error or
/// panics on input: a sink that cannot export a metric (an empty name, a non-finite value,
/// a name already used by a metric of another kind) drops it, logs a warning once and
/// counts it. Sinks that have to rewrite a name or tag key into their wire format's
/// character set do so consistently and say so the same way.
///
/// Implement the three `emit*` methods; [`emit_health_check`](Self::emit_health_check) is
/// provided. `Arc<S>`, `Box<S>` and `&S` are sinks whenever `S` is, so
/// `Arc<dyn MetricsSink>` can be passed wherever a sink is expected.
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Sets the gauge `name` with `tags` to `value`.
    ///
    /// `timestamp` is when the value was observed, if the caller knows. Sinks whose format
    /// can carry it (DogStatsD, logs) do; Prometheus scrapes are timestamped by the server
    /// and ignore it.
    fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>);

    /// Adds `value` to the counter `name` with `tags`.
    ///
    /// Counters only go up, so the increment is unsigned. Prometheus exports the counter
    /// with a `_total` suffix (added unless the name already ends with it).
    fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]);

    /// Records `value` into the histogram `name` with `tags`.
    ///
    /// Use base units, seconds for durations, as the default Prometheus buckets do.
    fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]);

    /// Reports one health-check result: the gauge [`HEALTH_CHECK_STATUS_METRIC`] set to
    /// [`health_status_value`]`(status)` and `latency` recorded in seconds into the
    /// histogram [`HEALTH_CHECK_LATENCY_METRIC`], both tagged `check=<check_name>`.
    ///
    /// The check name is a tag value, never part of the metric name, so any name (with
    /// dashes, spaces or dots) is exported intact and every check shares two metrics.
    fn emit_health_check(&self, check_name: &str, status: &str, latency: Duration) {
        let tags = [(HEALTH_CHECK_TAG, check_name)];
        self.emit(
            HEALTH_CHECK_STATUS_METRIC,
            health_status_value(status),
            &tags,
            None,
        );
        self.emit_histogram(HEALTH_CHECK_LATENCY_METRIC, latency.as_secs_f64(), &tags);
    }
}

/// The gauge value of a health status: `healthy` 1, `degraded` 0.5, `unhealthy` 0, and -1
/// for anything else (`unknown` included). Matching ignores ASCII case.
#[must_use]
pub fn health_status_value(status: &str) -> f64 {
    if status.eq_ignore_ascii_case("healthy") {
        1.0
    } else if status.eq_ignore_ascii_case("degraded") {
        0.5
    } else if status.eq_ignore_ascii_case("unhealthy") {
        0.0
    } else {
        -1.0
    }
}

macro_rules! forward_sink {
    ($($pointer:ty),* $(,)?) => {$(
        impl<S: MetricsSink + ?Sized> MetricsSink for $pointer {
            fn emit(&self, name: &str, value: f64, tags: &[Tag<'_>], timestamp: Option<SystemTime>) {
                (**self).emit(name, value, tags, timestamp);
            }

            fn emit_counter(&self, name: &str, value: u64, tags: &[Tag<'_>]) {
                (**self).emit_counter(name, value, tags);
            }

            fn emit_histogram(&self, name: &str, value: f64, tags: &[Tag<'_>]) {
                (**self).emit_histogram(name, value, tags);
            }

            // Forwarded too, so a sink that overrides it keeps its override behind a pointer.
            fn emit_health_check(&self, check_name: &str, status: &str, latency: Duration) {
                (**self).emit_health_check(check_name, status, latency);
            }
        }
    )*};
}

forward_sink!(Arc<S>, Box<S>, &S);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_status_values_follow_the_original_mapping() {
        fn check(status: &str, expected: f64) {
            assert_eq!(
                health_status_value(status).to_bits(),
                expected.to_bits(),
                "{status:?}"
            );
        }
        check("healthy", 1.0);
        check("HEALTHY", 1.0);
        check("degraded", 0.5);
        check("Degraded", 0.5);
        check("unhealthy", 0.0);
        check("unknown", -1.0);
        check("", -1.0);
        check("healthy ", -1.0);
        check("ok", -1.0);
    }
}
