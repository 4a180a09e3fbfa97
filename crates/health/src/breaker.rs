//! The circuit breaker: [`CircuitBreaker`] with bounded half-open admission,
//! [`BreakerStatus`], through which the monitor reads any breaker (yours included), and
//! [`BreakerFeed`], which feeds a breaker and a retry tracker from check results.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use health_model::{BreakerSnapshot, CircuitState};
use parking_lot::{Mutex, MutexGuard};
use tokio::time::Instant;

use crate::error::{HealthError, positive};
use crate::groups::HealthGroup;
use crate::monitor::CheckObserver;
use crate::probe::CheckOptions;
use crate::retry::RetryTracker;
use health_model::{HealthCheckResult, HealthCheckStatus};

/// Anything the monitor can read a circuit breaker's state from.
///
/// [`CircuitBreaker`] implements it; implement it for your own breaker (or an adapter
/// around a third-party one) to have it reported in the
/// [`HealthState`](crate::HealthState) and seen by the fallback cascade. The snapshot
/// must be cheap: it is taken on every state read.
pub trait BreakerStatus: Send + Sync {
    /// The breaker's state and counters right now, with `available: true`.
    fn snapshot(&self) -> BreakerSnapshot;
}

impl<T: BreakerStatus + ?Sized> BreakerStatus for Arc<T> {
    fn snapshot(&self) -> BreakerSnapshot {
        (**self).snapshot()
    }
}

/// [`CircuitBreaker`] settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Failures in a row that open a closed breaker (default 5).
    pub failure_threshold: u32,
    /// Successful trial calls in a row that close a half-open breaker (default 2).
    pub success_threshold: u32,
    /// How long an open breaker refuses calls before it lets trial calls through
    /// (default 30 s).
    pub recovery_timeout: Duration,
    /// How many trial calls may be in flight at once while half-open (default 1).
    pub half_open_max_calls: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            recovery_timeout: Duration::from_secs(30),
            half_open_max_calls: 1,
        }
    }
}

/// A circuit breaker: closed (calls flow), open (calls are refused) and half-open (a
/// bounded number of trial calls decide).
///
/// - **Closed → open** after `failure_threshold` failures in a row.
/// - **Open → half-open** once `recovery_timeout` has passed since it opened. This is
///   decided whenever the breaker is read ([`state`](Self::state),
///   [`snapshot`](BreakerStatus::snapshot), [`try_acquire`](Self::try_acquire)), so an
///   idle breaker does not report `OPEN` forever.
/// - **Half-open**: at most `half_open_max_calls` trial calls are admitted at a time,
///   decided atomically however many tasks ask at once. `success_threshold` successes
///   in a row close it; any failure opens it again.
///
/// Outcomes are reported through the [`BreakerPermit`] a call was admitted with, so a
/// call admitted before a state change cannot sway the new state, and a permit dropped
/// without an outcome (a cancelled call) frees its half-open slot.
///
/// Clones share one breaker. Time is Tokio's monotonic clock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use health::CircuitBreaker;
/// use health::model::CircuitState;
///
/// let breaker = CircuitBreaker::default();
/// for _ in 0..5 {
///     let result: Result<(), _> = breaker.call(|| async { Err("refused") }).await;
///     assert!(result.is_err());
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(breaker.try_acquire().is_none()); // refused without calling
/// # }
/// ```
#[derive(Clone, Default)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    config: CircuitBreakerConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    phase: Phase,
    /// Bumped on every state change; permits from an older generation only count
    /// toward the totals.
    generation: u64,
    consecutive_failures: u64,
    consecutive_successes: u64,
    half_open_in_flight: u32,
    failures_total: u64,
    successes_total: u64,
    trips_total: u64,
}

#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    #[default]
    Closed,
    Open {
        since: Instant,
    },
    HalfOpen,
}

/// Why [`CircuitBreaker::call`] did not return the call's value.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker refused the call without running it.
    #[error("circuit breaker is open")]
    Open,
    /// The call ran and failed (counted as a failure).
    #[error(transparent)]
    Failed(E),
}

/// Admission to make one call through a [`CircuitBreaker`]; report the outcome with
/// [`record_success`](Self::record_success) or [`record_failure`](Self::record_failure).
/// Dropping it without an outcome counts nothing and frees its half-open slot.
#[must_use = "report the call's outcome through the permit"]
pub struct BreakerPermit {
    inner: Arc<Inner>,
    generation: u64,
    half_open: bool,
    settled: bool,
}

impl CircuitBreaker {
    /// A breaker with `config`.
    ///
    /// # Errors
    ///
    /// [`HealthError::InvalidConfig`] when a threshold, the timeout or the half-open
    /// limit is zero.
    pub fn new(config: CircuitBreakerConfig) -> Result<Self, HealthError> {
        for (setting, value) in [
            ("failure_threshold", config.failure_threshold),
            ("success_threshold", config.success_threshold),
            ("half_open_max_calls", config.half_open_max_calls),
        ] {
            if value == 0 {
                return Err(HealthError::config(setting, "must be at least 1"));
            }
        }
        positive("recovery_timeout", config.recovery_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::default(),
            }),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.inner.config
    }

    /// The state now (an open breaker past its recovery timeout reads half-open).
    #[must_use]
    pub fn state(&self) -> CircuitState {
        match self.inner.lock().phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen => CircuitState::HalfOpen,
        }
    }

    /// Admits one call, or returns `None` when the breaker is open or its half-open
    /// trial slots are taken.
    pub fn try_acquire(&self) -> Option<BreakerPermit> {
        let mut state = self.inner.lock();
        let half_open = match state.phase {
            Phase::Closed => false,
            Phase::Open { .. } => return None,
            Phase::HalfOpen => {
                if state.half_open_in_flight >= self.inner.config.half_open_max_calls {
                    return None;
                }
                state.half_open_in_flight += 1;
                true
            }
        };
        Some(BreakerPermit {
            inner: Arc::clone(&self.inner),
            generation: state.generation,
            half_open,
            settled: false,
        })
    }

    /// Runs `call` if the breaker admits it, recording its outcome: `Ok` is a success,
    /// `Err` a failure. If the returned future is dropped before `call` finishes,
    /// nothing is recorded.
    ///
    /// # Errors
    ///
    /// [`CallError::Open`] when refused, [`CallError::Failed`] with the call's error.
    pub async fn call<T, E, Fut>(&self, call: impl FnOnce() -> Fut) -> Result<T, CallError<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().ok_or(CallError::Open)?;
        match call().await {
            Ok(value) => {
                permit.record_success();
                Ok(value)
            }
            Err(error) => {
                permit.record_failure();
                Err(CallError::Failed(error))
            }
        }
    }

    /// Forces the breaker closed, clearing the in-a-row counters (totals are kept).
    pub fn reset(&self) {
        let mut state = self.inner.lock();
        state.enter(Phase::Closed);
    }
}

impl Inner {
    /// The state, after applying the time-based open → half-open transition.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock();
        if let Phase::Open { since } = state.phase
            && since.elapsed() >= self.config.recovery_timeout
        {
            state.enter(Phase::HalfOpen);
        }
        state
    }

    fn settle(&self, generation: u64, half_open: bool, success: Option<bool>) {
        let mut state = self.lock();
        match success {
            Some(true) => state.successes_total += 1,
            Some(false) => state.failures_total += 1,
            None => {}
        }
        if generation != state.generation {
            return; // admitted under an earlier state: only the totals count
        }
        if half_open {
            state.half_open_in_flight = state.half_open_in_flight.saturating_sub(1);
        }
        match (state.phase, success) {
            (_, None) | (Phase::Open { .. }, _) => {}
            (Phase::Closed, Some(true)) => state.consecutive_failures = 0,
            (Phase::Closed, Some(false)) => {
                state.consecutive_failures += 1;
                if state.consecutive_failures >= u64::from(self.config.failure_threshold) {
                    state.trip();
                }
            }
            (Phase::HalfOpen, Some(true)) => {
                state.consecutive_successes += 1;
                if state.consecutive_successes >= u64::from(self.config.success_threshold) {
                    state.enter(Phase::Closed);
                }
            }
            (Phase::HalfOpen, Some(false)) => {
                state.consecutive_failures += 1;
                state.trip();
            }
        }
    }
}

impl State {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
        self.consecutive_successes = 0;
        self.half_open_in_flight = 0;
        if matches!(phase, Phase::Closed) {
            self.consecutive_failures = 0;
        }
    }

    fn trip(&mut self) {
        self.trips_total += 1;
        self.enter(Phase::Open {
            since: Instant::now(),
        });
    }
}

impl BreakerStatus for CircuitBreaker {
    fn snapshot(&self) -> BreakerSnapshot {
        let state = self.inner.lock();
        let (circuit, open_for) = match state.phase {
            Phase::Closed => (CircuitState::Closed, Duration::ZERO),
            Phase::Open { since } => (CircuitState::Open, since.elapsed()),
            Phase::HalfOpen => (CircuitState::HalfOpen, Duration::ZERO),
        };
        BreakerSnapshot {
            available: true,
            state: circuit,
            open_duration_seconds: open_for.as_secs_f64(),
            failures_total: state.failures_total,
            successes_total: state.successes_total,
            trips_total: state.trips_total,
            consecutive_failures: state.consecutive_failures,
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.inner.config)
            .field("state", &self.state())
            .finish()
    }
}

impl BreakerPermit {
    /// The call succeeded.
    pub fn record_success(mut self) {
        self.settled = true;
        self.inner
            .settle(self.generation, self.half_open, Some(true));
    }

    /// The call failed.
    pub fn record_failure(mut self) {
        self.settled = true;
        self.inner
            .settle(self.generation, self.half_open, Some(false));
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if !self.settled {
            self.inner.settle(self.generation, self.half_open, None);
        }
    }
}

impl fmt::Debug for BreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("half_open", &self.half_open)
            .finish_non_exhaustive()
    }
}

/// Feeds a [`CircuitBreaker`] (and optionally a [`RetryTracker`]) from the results of
/// the checks a [`HealthGroup`] selects, so a failing dependency opens the breaker and
/// the cascade goes HEURISTIC, and its recovery closes it again: a
/// [`CheckObserver`] to hand to
/// [`HealthMonitorBuilder::observer`](crate::monitor::HealthMonitorBuilder::observer).
///
/// Each run of a selected check is one call through the breaker: `healthy` and
/// `degraded` results are successes, `unhealthy` ones failures, `unknown` ones nothing.
/// While the breaker is open the checks still run (they are how recovery is seen), but
/// their results are not recorded until it lets trial calls through. Each run of a
/// check that failed its previous run too counts one retry attempt: probing a failing
/// dependency again is retrying it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), health::HealthError> {
/// use std::sync::Arc;
/// use health::breaker::{BreakerFeed, CircuitBreaker, CircuitBreakerConfig};
/// use health::checks::check_fn;
/// use health::groups::{HealthGroup, Member};
/// use health::model::CircuitState;
/// use health::probe::CheckOptions;
/// use health::retry::RetryTracker;
/// use health::HealthMonitor;
///
/// let breaker = CircuitBreaker::new(CircuitBreakerConfig {
///     failure_threshold: 2,
///     ..CircuitBreakerConfig::default()
/// })?;
/// let retries = RetryTracker::new();
/// let downstream = HealthGroup::new("breaker").include(Member::Tag("downstream".into()));
/// let monitor = HealthMonitor::builder()
///     .circuit_breaker(Arc::new(breaker.clone()))
///     .retry_tracker(Arc::new(retries.clone()))
///     .observer(Arc::new(BreakerFeed::new(breaker.clone(), downstream).with_retry_tracker(retries)))
///     .without_resources()
///     .build()?;
/// monitor.register_check_with(
///     Arc::new(check_fn("billing", || async { Err("connection refused".into()) })),
///     CheckOptions::new().with_tag("downstream"),
/// )?;
/// monitor.run_checks().await;
/// monitor.run_checks().await;
/// let state = monitor.cached_state();
/// assert_eq!(state.circuit_breaker.state, CircuitState::Open);
/// assert_eq!(state.retry.total_attempts, 1);
/// # Ok(())
/// # }
/// ```
pub struct BreakerFeed {
    breaker: CircuitBreaker,
    retry: Option<RetryTracker>,
    group: HealthGroup,
    /// The selected checks whose last run failed.
    failing: Mutex<std::collections::BTreeSet<String>>,
}

impl BreakerFeed {
    /// Feeds `breaker` from the checks `group` selects.
    #[must_use]
    pub fn new(breaker: CircuitBreaker, group: HealthGroup) -> Self {
        Self {
            breaker,
            retry: None,
            group,
            failing: Mutex::default(),
        }
    }

    /// Also counts retry attempts into `retry`.
    #[must_use]
    pub fn with_retry_tracker(mut self, retry: RetryTracker) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The breaker fed.
    #[must_use]
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl CheckObserver for BreakerFeed {
    fn observe(&self, check: &str, options: &CheckOptions, result: &HealthCheckResult) {
        if !self.group.includes(check, &options.tags) {
            return;
        }
        let failed = match result.status {
            HealthCheckStatus::Healthy | HealthCheckStatus::Degraded => false,
            HealthCheckStatus::Unhealthy => true,
            HealthCheckStatus::Unknown => return,
        };
        let failed_before = {
            let mut failing = self.failing.lock();
            if failed {
                !failing.insert(check.to_owned())
            } else {
                failing.remove(check);
                false
            }
        };
        if failed
            && failed_before
            && let Some(retry) = &self.retry
        {
            retry.record_attempt();
        }
        if let Some(permit) = self.breaker.try_acquire() {
            if failed {
                permit.record_failure();
            } else {
                permit.record_success();
            }
        }
    }
}

impl fmt::Debug for BreakerFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerFeed")
            .field("breaker", &self.breaker)
            .field("group", &self.group)
            .field("retry_tracker", &self.retry.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, successes: u32, recovery_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(CircuitBreakerConfig {
            failure_threshold: failures,
            success_threshold: successes,
            recovery_timeout: Duration::from_millis(recovery_ms),
            half_open_max_calls: 1,
        })
        .unwrap()
    }

    fn fail(breaker: &CircuitBreaker) {
        breaker.try_acquire().unwrap().record_failure();
    }

    fn succeed(breaker: &CircuitBreaker) {
        breaker.try_acquire().unwrap().record_success();
    }

    #[tokio::test(start_paused = true)]
    async fn goes_round_closed_open_half_open_closed() {
        let breaker = breaker(3, 2, 1000);
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker); // a success resets the run of failures
        fail(&breaker);
        fail(&breaker);
        assert_eq!(breaker.state(), CircuitState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(breaker.try_acquire().is_none());

        tokio::time::advance(Duration::from_millis(400)).await;
        let snapshot = breaker.snapshot();
        assert_eq!(snapshot.state, CircuitState::Open);
        assert!((snapshot.open_duration_seconds - 0.4).abs() < 1e-3);
        assert_eq!(
            (
                snapshot.failures_total,
                snapshot.successes_total,
                snapshot.trips_total,
                snapshot.consecutive_failures
            ),
            (5, 1, 1, 3)
        );

        tokio::time::advance(Duration::from_millis(600)).await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen); // idle, by time alone
        assert!(breaker.snapshot().open_duration_seconds.abs() < f64::EPSILON);
        succeed(&breaker);
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        succeed(&breaker);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_open_failure_reopens_and_restarts_the_clock() {
        let breaker = breaker(1, 1, 100);
        fail(&breaker);
        tokio::time::advance(Duration::from_millis(100)).await;
        fail(&breaker);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.snapshot().trips_total, 2);
        tokio::time::advance(Duration::from_millis(99)).await;
        assert_eq!(breaker.state(), CircuitState::Open);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_permits_and_dropped_permits_do_not_sway_the_state() {
        let breaker = breaker(1, 1, 100);
        let early = breaker.try_acquire().unwrap();
        fail(&breaker); // opens
        early.record_success(); // admitted while closed: counted, but cannot close
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.snapshot().successes_total, 1);

        tokio::time::advance(Duration::from_millis(100)).await;
        let trial = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_none(), "one trial at a time");
        drop(trial); // cancelled: frees the slot, counts nothing
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        succeed(&breaker);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn zero_settings_are_refused() {
        for config in [
            CircuitBreakerConfig {
                failure_threshold: 0,
                ..CircuitBreakerConfig::default()
            },
            CircuitBreakerConfig {
                half_open_max_calls: 0,
                ..CircuitBreakerConfig::default()
            },
            CircuitBreakerConfig {
                recovery_timeout: Duration::ZERO,
                ..CircuitBreakerConfig::default()
            },
        ] {
            assert!(matches!(
                CircuitBreaker::new(config),
                Err(HealthError::InvalidConfig { .. })
            ));
        }
    }
}
