use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use health_model::{HealthCheckResult, HealthCheckStatus, Timestamp};
use serde_json::{Map, Value};
use tokio::time::Instant;

/// How long a check may run unless it says otherwise ([`HealthCheck::timeout`]).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Any error a check body can return with `?`; it becomes an `unhealthy` result whose
/// message is the error and its sources.
pub type CheckError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a check's body found: a status, a message and details. The runner adds the
/// name, the latency and the timestamp to make a [`HealthCheckResult`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// The verdict.
    pub status: HealthCheckStatus,
    /// A human-readable explanation.
    pub message: String,
    /// Check-specific details.
    pub metadata: Map<String, Value>,
}

impl CheckOutcome {
    /// An outcome with `status` and `message`, without metadata.
    #[must_use]
    pub fn new(status: HealthCheckStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            metadata: Map::new(),
        }
    }

    /// A `healthy` outcome.
    #[must_use]
    pub fn healthy(message: impl Into<String>) -> Self {
        Self::new(HealthCheckStatus::Healthy, message)
    }

    /// A `degraded` outcome.
    #[must_use]
    pub fn degraded(message: impl Into<String>) -> Self {
        Self::new(HealthCheckStatus::Degraded, message)
    }

    /// An `unhealthy` outcome.
    #[must_use]
    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self::new(HealthCheckStatus::Unhealthy, message)
    }

    /// An `unknown` outcome: the check could not tell.
    #[must_use]
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(HealthCheckStatus::Unknown, message)
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// One health check: a name, a time budget and the logic that probes something.
///
/// Implement [`check`](Self::check) with only the probing logic. Running it through
/// [`run_check`] (which [`HealthMonitor`](crate::HealthMonitor) does) adds what every
/// check needs, once: the [`timeout`](Self::timeout) (the check's future is dropped when
/// it expires, so nothing keeps running), latency on a monotonic clock, the timestamp,
/// and turning an `Err` or a panic into an `unhealthy` result.
///
/// A check must not block its thread: wrap blocking calls in
/// [`tokio::task::spawn_blocking`], as the disk check does,
/// or the timeout cannot fire until the call returns.
///
/// ```
/// use async_trait::async_trait;
/// use health::{CheckError, CheckOutcome, HealthCheck};
///
/// #[derive(Debug)]
/// struct QueueDepth;
///
/// #[async_trait]
/// impl HealthCheck for QueueDepth {
///     fn name(&self) -> &str {
///         "queue"
///     }
///
///     async fn check(&self) -> Result<CheckOutcome, CheckError> {
///         let depth: u64 = "42".parse()?; // an error here becomes `unhealthy`
///         Ok(if depth > 1000 {
///             CheckOutcome::degraded("queue backing up")
///         } else {
///             CheckOutcome::healthy("queue draining")
///         }
///         .with_metadata("depth", depth))
///     }
/// }
/// ```
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The check's name: the key of its result and the `check` label of its metrics.
    fn name(&self) -> &str;

    /// How long the check may run before it counts as `unhealthy` (default 5 s).
    fn timeout(&self) -> Duration {
        DEFAULT_CHECK_TIMEOUT
    }

    /// Probes whatever the check watches. Errors (`?`) become `unhealthy` results; return
    /// an `Ok` outcome to choose the status, message and metadata yourself.
    async fn check(&self) -> Result<CheckOutcome, CheckError>;
}

/// Runs `check` under its timeout and turns whatever happens into a result: its outcome,
/// or `unhealthy` when it returns an error, panics or runs out of time. Never fails and
/// never panics, whatever the check does.
///
/// Latency is measured on Tokio's monotonic clock. A check that times out is cancelled:
/// its future is dropped before this function returns.
///
/// Needs a Tokio runtime with the time driver enabled.
pub async fn run_check(check: &dyn HealthCheck) -> HealthCheckResult {
    run_check_timed(check, None).await.0
}

/// [`run_check`] under `timeout` (the check's own when `None`), also returning the
/// latency as a `Duration`.
pub(crate) async fn run_check_timed(
    check: &dyn HealthCheck,
    timeout: Option<Duration>,
) -> (HealthCheckResult, Duration) {
    let started = Instant::now();
    // `timeout()` and creating the future are user code too (a timeout computed from a bad
    // setting panics in `Duration::from_secs_f64`), so they run inside the isolated future.
    let run = AssertUnwindSafe(async {
        let timeout = timeout.unwrap_or_else(|| check.timeout());
        tokio::time::timeout(timeout, check.check())
            .await
            .map_err(|_elapsed| timeout)
    })
    .catch_unwind()
    .await;
    let latency = started.elapsed();
    let outcome = match run {
        Ok(Ok(Ok(outcome))) => outcome,
        Ok(Ok(Err(error))) => CheckOutcome::unhealthy(error_chain(error.as_ref())),
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(check = check.name(), %message, "health check panicked");
            CheckOutcome::unhealthy(format!("health check panicked: {message}"))
        }
        Ok(Err(timeout)) => CheckOutcome::unhealthy(format!(
            "health check timed out after {}",
            humantime::format_duration(timeout)
        )),
    };
    let result = HealthCheckResult {
        name: check.name().to_owned(),
        status: outcome.status,
        message: outcome.message,
        latency_ms: latency.as_secs_f64() * 1000.0,
        timestamp: Timestamp::now(),
        metadata: outcome.metadata,
    };
    (result, latency)
}

/// A check made of a name and an async closure; see [`check_fn`].
pub struct FnHealthCheck<F> {
    name: String,
    timeout: Duration,
    body: F,
}

impl<F> fmt::Debug for FnHealthCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnHealthCheck")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<F> FnHealthCheck<F> {
    /// Sets the timeout (default [`DEFAULT_CHECK_TIMEOUT`]).
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A check named `name` whose body is the async closure `body`.
///
/// ```
/// use health::CheckOutcome;
/// use health::checks::check_fn;
///
/// let check = check_fn("always-fine", || async { Ok(CheckOutcome::healthy("fine")) });
/// # let _ = check;
/// ```
pub fn check_fn<F, Fut>(name: impl Into<String>, body: F) -> FnHealthCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<CheckOutcome, CheckError>> + Send,
{
    FnHealthCheck {
        name: name.into(),
        timeout: DEFAULT_CHECK_TIMEOUT,
        body,
    }
}

#[async_trait]
impl<F, Fut> HealthCheck for FnHealthCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<CheckOutcome, CheckError>> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        (self.body)().await
    }
}

/// What [`panic_message`] says of a panic that carries no text (`std::panic::panic_any`
/// with another type): the crate's one wording for it.
pub(crate) const NON_STRING_PANIC: &str = "a panic without a message";

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Cow<'_, str> {
    if let Some(text) = payload.downcast_ref::<&str>() {
        Cow::Borrowed(text)
    } else if let Some(text) = payload.downcast_ref::<String>() {
        Cow::Borrowed(text)
    } else {
        Cow::Borrowed(NON_STRING_PANIC)
    }
}

/// An error and its sources, `outer: inner: innermost`, skipping a source whose text the
/// previous message already contains.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_chain_shows_sources_once() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(error_chain(&error), "outer: connection refused");
        let plain = std::io::Error::other("x");
        assert_eq!(error_chain(&plain), "x");
    }

    #[test]
    fn panic_messages_are_extracted_from_both_payload_kinds() {
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        let borrowed: Box<dyn Any + Send> = Box::new("borrowed");
        let other: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(owned.as_ref()), "owned");
        assert_eq!(panic_message(borrowed.as_ref()), "borrowed");
        assert_eq!(panic_message(other.as_ref()), "a panic without a message");
    }

    #[tokio::test(start_paused = true)]
    async fn the_runner_turns_errors_panics_and_timeouts_into_unhealthy() {
        let fine = check_fn("fine", || async {
            Ok(CheckOutcome::degraded("slow").with_metadata("k", 1))
        });
        let result = run_check(&fine).await;
        assert_eq!(result.name, "fine");
        assert_eq!(result.status, HealthCheckStatus::Degraded);
        assert_eq!(result.message, "slow");
        assert_eq!(result.metadata["k"], 1);

        let failing = check_fn("failing", || async { Err("boom".into()) });
        let result = run_check(&failing).await;
        assert_eq!(
            (result.status, result.message.as_str()),
            (HealthCheckStatus::Unhealthy, "boom")
        );

        let panicking = check_fn("panicking", || async { panic!("kaboom") });
        let result = run_check(&panicking).await;
        assert_eq!(result.status, HealthCheckStatus::Unhealthy);
        assert_eq!(result.message, "health check panicked: kaboom");

        let hanging = check_fn("hanging", || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(CheckOutcome::healthy("never"))
        })
        .with_timeout(Duration::from_millis(100));
        let result = run_check(&hanging).await;
        assert_eq!(result.status, HealthCheckStatus::Unhealthy);
        assert_eq!(result.message, "health check timed out after 100ms");
        assert!(result.latency_ms >= 100.0, "{}", result.latency_ms);
    }
}
