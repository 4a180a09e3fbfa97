//! The metrics health reports through a [`MetricsSink`]: their names, their help texts
//! ([`METRIC_DESCRIPTIONS`]) and [`MetricsSinkExt::emit_health_check`], which reports one
//! check result on any sink.
//!
//! | Metric | Kind | Tags | Emitted by |
//! |--------|------|------|------------|
//! | [`HEALTH_CHECK_STATUS_METRIC`] | gauge ([`health_status_value`]) | [`HEALTH_CHECK_TAG`] | every check run |
//! | [`HEALTH_CHECK_LATENCY_METRIC`] | histogram, seconds | [`HEALTH_CHECK_TAG`] | every check run |
//! | [`STATE_DURATION_METRIC`] | gauge, seconds | none | [`HealthMonitor::get_comprehensive_state`](crate::HealthMonitor::get_comprehensive_state) |
//! | [`RETRY_FAILURES_METRIC`] | counter | none | [`HealthMonitor::record_retry_failure`](crate::HealthMonitor::record_retry_failure) |
//! | [`SYSTEM_STATUS_METRIC`] | gauge ([`system_status_value`]) | none | every refresher round |
//! | [`COMPONENT_STATUS_METRIC`] | gauge ([`health_status_value`]) | [`COMPONENT_TAG`] | every refresher round |
//! | [`BREAKER_STATE_METRIC`] | gauge, 1 or 0 (a state set) | [`STATE_TAG`] | every refresher round, with a breaker |
//! | [`ALERTS_DROPPED_METRIC`] | counter | `reason` | an alert book's ingest (feature `alerts`) |
//! | [`ALERTS_DEDUPLICATED_METRIC`] | counter | none | an alert book's ingest |
//! | [`ALERTS_EXPIRED_METRIC`] | counter | none | an alert book's expiry |
//! | [`ALERT_COMPONENTS_METRIC`] | gauge | none | an alert book's ingest and expiry |
//!
//! ```
//! use std::time::Duration;
//! use health::metrics::{HEALTH_CHECK_STATUS_METRIC, MetricsSinkExt};
//! use health_sinks::testing::{Emitted, RecordingSink};
//!
//! let sink = RecordingSink::default();
//! sink.emit_health_check("redis", "degraded", Duration::from_millis(12));
//! assert_eq!(
//!     sink.all()[0],
//!     Emitted::Gauge(HEALTH_CHECK_STATUS_METRIC.into(), 0.5, vec![("check".into(), "redis".into())]),
//! );
//! ```

use std::time::Duration;

use health_sinks::MetricsSink;

/// The gauge [`MetricsSinkExt::emit_health_check`] sets, labelled `check="<check name>"`.
pub const HEALTH_CHECK_STATUS_METRIC: &str = "health_check_status";

/// The histogram [`MetricsSinkExt::emit_health_check`] records, in seconds, labelled
/// `check="<check name>"`.
pub const HEALTH_CHECK_LATENCY_METRIC: &str = "health_check_latency_seconds";

/// The gauge set to how long
/// [`HealthMonitor::get_comprehensive_state`](crate::HealthMonitor::get_comprehensive_state)
/// took, in seconds (the original's name).
pub const STATE_DURATION_METRIC: &str = "health_check_duration_seconds";

/// The counter
/// [`HealthMonitor::record_retry_failure`](crate::HealthMonitor::record_retry_failure)
/// increments (the original's name).
pub const RETRY_FAILURES_METRIC: &str = "retry_failures_total";

/// The gauge of the overall status ([`system_status_value`]), set after every
/// refresher round.
pub const SYSTEM_STATUS_METRIC: &str = "health_status";

/// The gauge of each component's status ([`health_status_value`] of its status, `failed`
/// as `unhealthy`), labelled `component="<name>"`, set after every refresher round.
pub const COMPONENT_STATUS_METRIC: &str = "health_component_status";

/// The circuit breaker's state as one series per state, labelled `state` (`CLOSED`,
/// `OPEN`, `HALF_OPEN`), 1 for the current state and 0 for the others (a Prometheus
/// state set), set after every refresher round when a breaker is reported.
pub const BREAKER_STATE_METRIC: &str = "health_circuit_breaker_state";

/// The tag key naming the component in [`COMPONENT_STATUS_METRIC`].
pub const COMPONENT_TAG: &str = "component";

/// The tag key naming the state in [`BREAKER_STATE_METRIC`].
pub const STATE_TAG: &str = "state";

/// The counter of alerts an `AlertBook` dropped, tagged `reason` (`component_cap`).
pub const ALERTS_DROPPED_METRIC: &str = "health_alerts_dropped_total";

/// The counter of repeated alerts an `AlertBook` recognized and did not apply again.
pub const ALERTS_DEDUPLICATED_METRIC: &str = "health_alerts_deduplicated_total";

/// The counter of components an `AlertBook` expired after its quiet time.
pub const ALERTS_EXPIRED_METRIC: &str = "health_alerts_expired_total";

/// The gauge of components created by alerts that still exist.
pub const ALERT_COMPONENTS_METRIC: &str = "health_alert_components";

/// The tag key naming the check in both health-check metrics.
pub const HEALTH_CHECK_TAG: &str = "check";

/// The `# HELP` text of each metric above, by name: what a Prometheus sink describes
/// them with (`PrometheusSinkBuilder::describe`).
pub const METRIC_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        HEALTH_CHECK_STATUS_METRIC,
        "Health check status by check: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown",
    ),
    (
        HEALTH_CHECK_LATENCY_METRIC,
        "Health check latency by check, in seconds",
    ),
    (
        STATE_DURATION_METRIC,
        "Seconds the last full health state took to assemble",
    ),
    (
        RETRY_FAILURES_METRIC,
        "Retry failures recorded by the health monitor",
    ),
    (
        SYSTEM_STATUS_METRIC,
        "Overall health status: 1 healthy, 0.5 degraded, 0 failed, -1 unknown",
    ),
    (
        COMPONENT_STATUS_METRIC,
        "Component health status by component: 1 healthy, 0.5 degraded, 0 failed, -1 unknown",
    ),
    (
        BREAKER_STATE_METRIC,
        "Circuit breaker state: 1 for the current state, 0 for the others",
    ),
    (
        ALERTS_DROPPED_METRIC,
        "Alerts dropped unapplied, by reason (component_cap: they would create a component beyond the cap)",
    ),
    (
        ALERTS_DEDUPLICATED_METRIC,
        "Repeated alerts (same provider, alert id and state) not applied again",
    ),
    (
        ALERTS_EXPIRED_METRIC,
        "Components touched by alerts that expired after the quiet time",
    ),
    (
        ALERT_COMPONENTS_METRIC,
        "Components created by alerts that still exist",
    ),
];

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

/// The gauge value of an overall status: `healthy` 1, `degraded` 0.5, `failed` 0,
/// `unknown` -1 (as [`health_status_value`] of the matching check status).
#[must_use]
pub const fn system_status_value(status: health_model::SystemStatus) -> f64 {
    match status {
        health_model::SystemStatus::Healthy => 1.0,
        health_model::SystemStatus::Degraded => 0.5,
        health_model::SystemStatus::Failed => 0.0,
        health_model::SystemStatus::Unknown => -1.0,
    }
}

/// Health's metrics on any [`MetricsSink`]: implemented for every sink (`dyn MetricsSink`
/// and pointers to one included), so importing the trait is all it takes.
pub trait MetricsSinkExt: MetricsSink {
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

impl<S: MetricsSink + ?Sized> MetricsSinkExt for S {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use health_sinks::testing::{Emitted, RecordingSink};

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

    #[test]
    fn a_check_result_is_a_tagged_gauge_and_a_latency_histogram_on_any_sink() {
        let recording = Arc::new(RecordingSink::default());
        let check = |name: &str| vec![(HEALTH_CHECK_TAG.to_owned(), name.to_owned())];
        let expected = |name: &str, value: f64, latency: f64| {
            vec![
                Emitted::Gauge(HEALTH_CHECK_STATUS_METRIC.to_owned(), value, check(name)),
                Emitted::Histogram(HEALTH_CHECK_LATENCY_METRIC.to_owned(), latency, check(name)),
            ]
        };
        recording.emit_health_check("db primary", "unhealthy", Duration::from_micros(1500));
        assert_eq!(recording.take(), expected("db primary", 0.0, 0.0015));
        // Behind `dyn`, `Arc` and `&`, as the monitor and callers hold sinks.
        let shared: Arc<dyn MetricsSink> = recording.clone();
        shared.emit_health_check("redis", "healthy", Duration::from_millis(12));
        let borrowed: &dyn MetricsSink = &*shared;
        borrowed.emit_health_check("disk", "unknown", Duration::from_secs(2));
        let mut all = expected("redis", 1.0, 0.012);
        all.extend(expected("disk", -1.0, 2.0));
        assert_eq!(recording.take(), all);
    }
}
