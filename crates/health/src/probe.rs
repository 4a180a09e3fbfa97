//! What a check is for and how it is probed: its [`Criticality`], its tags (which
//! [groups](crate::groups) it belongs to) and its [`ProbeSchedule`] (interval, timeout,
//! initial delay, failure and success thresholds), all set when it is registered
//! ([`CheckOptions`], [`HealthMonitor::register_check_with`](crate::HealthMonitor::register_check_with)).
//!
//! # Defaults, and why
//!
//! - **Critical, tagged [`READY_TAG`].** A check registered without options is what the
//!   original made of every check: a dependency the service needs, whose failure counts
//!   as a failed component (two of those send the cascade to SAFE) and fails readiness.
//!   Mark optional dependencies [`Criticality::NonCritical`]: failing, they make the
//!   state `degraded`, never a failed component and never a 503.
//! - **Liveness has no check by default.** Liveness answers "should this process be
//!   restarted?"; a dependency being down is never a reason to restart the process that
//!   depends on it (Kubernetes: "liveness probes should not depend on external
//!   dependencies"; restart storms in Spring users who did, e.g. camunda#48718). Tag a
//!   check [`LIVE_TAG`] only if it probes the process itself (a deadlock detector).
//! - **Start-up has no check by default**: tag [`STARTUP_TAG`] what must pass once before
//!   the instance takes traffic (a cache warmed, migrations applied).
//! - **Thresholds.** [`ProbeSchedule::default`] keeps the original's behaviour, every
//!   result counting at once (failure and success thresholds of 1), so code written for
//!   the original sees what it expects. [`ProbeSchedule::damped`] is what a service
//!   should run with, and the server's default: 3 failures in a row before a check
//!   counts as unhealthy (Kubernetes' `failureThreshold`), 2 successes in a row before
//!   it counts as healthy again (Kubernetes uses 1, which lets one lucky probe of a
//!   flapping dependency flip readiness back). A dependency that fails every other probe
//!   then never changes the check's status.

use std::collections::BTreeSet;
use std::time::Duration;

use health_model::HealthCheckStatus;
use serde::{Deserialize, Serialize};

use crate::error::{HealthError, positive};

/// The tag of the checks in the readiness group ([`HealthGroup::readiness`](crate::groups::HealthGroup::readiness));
/// every check has it unless its tags are set.
pub const READY_TAG: &str = "ready";
/// The tag of the checks in the liveness group; no check has it by default.
pub const LIVE_TAG: &str = "live";
/// The tag of the checks in the start-up group; no check has it by default.
pub const STARTUP_TAG: &str = "startup";

/// Whether a failing check means the service cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// Failing, it is a failed component (it counts toward SAFE) and fails readiness.
    #[default]
    Critical,
    /// Failing, it degrades the service: the state reads `degraded`, the check counts as a
    /// degraded component, and readiness still answers 200.
    NonCritical,
}

/// How a check is probed: how often, how long each probe may take, when the first probe
/// runs, and how many results in a row change its status.
///
/// `interval` and `timeout` left unset take the monitor's
/// [refresher](crate::HealthMonitor::spawn_refresher) interval and the check's own
/// [`timeout`](crate::HealthCheck::timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeSchedule {
    /// Time between two probes' starts (default: the refresher's interval).
    pub interval: Option<Duration>,
    /// How long one probe may take (default: the check's own timeout).
    pub timeout: Option<Duration>,
    /// How long after registration the first probe runs (default 0). Until then the check
    /// reads `unknown`, "waiting for its initial delay".
    pub initial_delay: Duration,
    /// Unhealthy results in a row before the check counts as unhealthy (default 1).
    pub failure_threshold: u32,
    /// Healthy (or degraded) results in a row before an unhealthy check counts as healthy
    /// again (default 1).
    pub success_threshold: u32,
}

impl Default for ProbeSchedule {
    /// Every result counts at once, as in the original.
    fn default() -> Self {
        Self {
            interval: None,
            timeout: None,
            initial_delay: Duration::ZERO,
            failure_threshold: 1,
            success_threshold: 1,
        }
    }
}

impl ProbeSchedule {
    /// 3 failures in a row to become unhealthy, 2 successes in a row to recover; see
    /// the [module documentation](self) for why.
    #[must_use]
    pub fn damped() -> Self {
        Self {
            failure_threshold: 3,
            success_threshold: 2,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), HealthError> {
        if let Some(interval) = self.interval {
            positive("interval", interval)?;
        }
        if let Some(timeout) = self.timeout {
            positive("timeout", timeout)?;
        }
        if self.failure_threshold == 0 {
            return Err(HealthError::config(
                "failure_threshold",
                "must be at least 1",
            ));
        }
        if self.success_threshold == 0 {
            return Err(HealthError::config(
                "success_threshold",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// How a check is registered: its [`Criticality`], its tags and its [`ProbeSchedule`].
///
/// ```
/// use std::time::Duration;
/// use health::probe::{CheckOptions, Criticality, ProbeSchedule, READY_TAG};
///
/// let options = CheckOptions::new()
///     .with_criticality(Criticality::NonCritical)
///     .with_tag("downstream")
///     .with_schedule(ProbeSchedule::damped())
///     .with_interval(Duration::from_secs(10));
/// assert!(options.has_tag(READY_TAG) && options.has_tag("downstream"));
/// assert_eq!(options.schedule.failure_threshold, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Whether a failure means the service cannot serve (default critical).
    pub criticality: Criticality,
    /// The groups' selectors match these (default `{"ready"}`).
    pub tags: BTreeSet<String>,
    /// How it is probed (default [`ProbeSchedule::default`]).
    pub schedule: ProbeSchedule,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            criticality: Criticality::Critical,
            tags: BTreeSet::from([READY_TAG.to_owned()]),
            schedule: ProbeSchedule::default(),
        }
    }
}

impl CheckOptions {
    /// Critical, tagged [`READY_TAG`], [`ProbeSchedule::default`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the criticality.
    #[must_use]
    pub const fn with_criticality(mut self, criticality: Criticality) -> Self {
        self.criticality = criticality;
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.insert(tag.into());
        self
    }

    /// Replaces the tags (leave [`READY_TAG`] out to keep a check out of readiness).
    #[must_use]
    pub fn with_tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the schedule.
    #[must_use]
    pub const fn with_schedule(mut self, schedule: ProbeSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Sets the schedule's interval.
    #[must_use]
    pub const fn with_interval(mut self, interval: Duration) -> Self {
        self.schedule.interval = Some(interval);
        self
    }

    /// Sets the schedule's timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.schedule.timeout = Some(timeout);
        self
    }

    /// Sets the schedule's initial delay.
    #[must_use]
    pub const fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.schedule.initial_delay = delay;
        self
    }

    /// Sets the schedule's failure threshold.
    #[must_use]
    pub const fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.schedule.failure_threshold = failures;
        self
    }

    /// Sets the schedule's success threshold.
    #[must_use]
    pub const fn with_success_threshold(mut self, successes: u32) -> Self {
        self.schedule.success_threshold = successes;
        self
    }

    /// Whether the check is critical.
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.criticality == Criticality::Critical
    }

    /// Whether the check has `tag`.
    #[must_use]
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.contains(tag)
    }

    /// Checks the schedule (positive durations, thresholds of at least 1).
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<(), HealthError> {
        self.schedule.validate()
    }
}

/// The failure and success runs of one check, and the status they let it show.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProbeState {
    consecutive_failures: u32,
    consecutive_successes: u32,
    effective: Option<HealthCheckStatus>,
}

impl ProbeState {
    /// Takes one observed status and returns the status the check now shows:
    ///
    /// - `unhealthy` once `failure_threshold` unhealthy results came in a row; before
    ///   that the previous status stands (`unknown` for a check with no status yet);
    /// - after `unhealthy`, `healthy` or `degraded` only once `success_threshold` such
    ///   results came in a row; otherwise the observed status at once;
    /// - `unknown` (the check could not tell) at once, leaving the runs as they are.
    pub(crate) fn observe(
        &mut self,
        observed: HealthCheckStatus,
        schedule: &ProbeSchedule,
    ) -> HealthCheckStatus {
        match observed {
            HealthCheckStatus::Unhealthy => {
                self.consecutive_successes = 0;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= schedule.failure_threshold {
                    self.effective = Some(observed);
                }
            }
            HealthCheckStatus::Healthy | HealthCheckStatus::Degraded => {
                self.consecutive_failures = 0;
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                let recovering = self.effective == Some(HealthCheckStatus::Unhealthy);
                if !recovering || self.consecutive_successes >= schedule.success_threshold {
                    self.effective = Some(observed);
                }
            }
            HealthCheckStatus::Unknown => self.effective = Some(observed),
        }
        self.effective.unwrap_or(HealthCheckStatus::Unknown)
    }

    pub(crate) const fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    pub(crate) const fn consecutive_successes(&self) -> u32 {
        self.consecutive_successes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthCheckStatus::{Degraded, Healthy, Unhealthy, Unknown};

    /// Feeds `observed` in order and compares every shown status.
    fn check(schedule: ProbeSchedule, observed: &[HealthCheckStatus], shown: &[HealthCheckStatus]) {
        let mut state = ProbeState::default();
        let got: Vec<_> = observed
            .iter()
            .map(|status| state.observe(*status, &schedule))
            .collect();
        assert_eq!(got, shown, "{observed:?}");
    }

    #[test]
    fn the_default_schedule_shows_every_result_at_once() {
        let schedule = ProbeSchedule::default();
        check(
            schedule,
            &[Unhealthy, Healthy, Degraded, Unhealthy, Unknown],
            &[Unhealthy, Healthy, Degraded, Unhealthy, Unknown],
        );
    }

    #[test]
    fn thresholds_hold_a_flapping_check_steady() {
        let damped = ProbeSchedule::damped();
        check(
            damped,
            &[
                Healthy, Unhealthy, Healthy, Unhealthy, Unhealthy, Healthy, Unhealthy,
            ],
            &[Healthy; 7],
        );
        check(
            damped,
            &[
                Healthy, Unhealthy, Unhealthy, Unhealthy, Healthy, Unhealthy, Healthy, Healthy,
            ],
            &[
                Healthy, Healthy, Healthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Healthy,
            ],
        );
        // A check that starts out failing shows nothing until the threshold is met.
        check(
            damped,
            &[Unhealthy, Unhealthy, Unhealthy, Degraded],
            &[Unknown, Unknown, Unhealthy, Unhealthy],
        );
    }

    #[test]
    fn zero_thresholds_and_intervals_are_refused() {
        assert!(
            CheckOptions::new()
                .with_failure_threshold(0)
                .validate()
                .is_err()
        );
        assert!(
            CheckOptions::new()
                .with_success_threshold(0)
                .validate()
                .is_err()
        );
        assert!(
            CheckOptions::new()
                .with_interval(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            CheckOptions::new()
                .with_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            CheckOptions::new()
                .with_schedule(ProbeSchedule::damped())
                .validate()
                .is_ok()
        );
    }
}
