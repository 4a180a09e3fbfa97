//! Running user code (callbacks, actions, detectors) so that its errors, panics and hangs
//! stay its own.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxError;

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a mode callback or a fallback action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "message", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It returned `Ok`.
    Completed,
    /// It returned an error, whose message is kept.
    Failed(String),
    /// It panicked; the panic message is kept when it was a string.
    Panicked(String),
    /// It ran longer than the configured timeout and was dropped.
    TimedOut,
}

impl Outcome {
    /// Whether it completed.
    #[must_use]
    pub const fn is_completed(&self) -> bool {
        matches!(self, Self::Completed)
    }

    /// `"completed"`, `"failed"`, `"panicked"` or `"timed_out"`, as metric tags say it.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed(_) => "failed",
            Self::Panicked(_) => "panicked",
            Self::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed => f.write_str("completed"),
            Self::Failed(message) => write!(f, "failed: {message}"),
            Self::Panicked(message) => write!(f, "panicked: {message}"),
            Self::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Polls the inner future, turning a panic in any poll into `Err(payload)`.
struct CatchUnwind<F: ?Sized>(Pin<Box<F>>);

impl<F: Future + ?Sized> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Calls `start` and awaits the future it returns for at most `timeout`, catching the
/// panics of both: user code may panic while building its future, not only in it.
pub(crate) async fn catch<'a, T>(
    start: impl FnOnce() -> Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    timeout: Duration,
) -> Result<T, Outcome> {
    let future = match catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => return Err(Outcome::Panicked(panic_message(payload.as_ref()))),
    };
    match tokio::time::timeout(timeout, CatchUnwind(future)).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(payload)) => Err(Outcome::Panicked(panic_message(payload.as_ref()))),
        Err(_) => Err(Outcome::TimedOut),
    }
}

/// Runs a callback or action to its [`Outcome`].
pub(crate) async fn run(
    start: impl FnOnce() -> BoxFuture<Result<(), BoxError>>,
    timeout: Duration,
) -> Outcome {
    match catch(start, timeout).await {
        Ok(Ok(())) => Outcome::Completed,
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(outcome) => outcome,
    }
}

/// Awaits every future at once, in the calling task, and returns their outputs in order.
pub(crate) async fn join_all<T>(mut futures: Vec<BoxFuture<T>>) -> Vec<T> {
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn completion_errors_panics_and_hangs_each_have_an_outcome() {
        let timeout = Duration::from_secs(1);
        assert_eq!(
            run(|| Box::pin(async { Ok(()) }), timeout).await,
            Outcome::Completed
        );
        assert_eq!(
            run(|| Box::pin(async { Err("boom".into()) }), timeout).await,
            Outcome::Failed("boom".to_owned())
        );
        assert_eq!(
            run(
                || Box::pin(async {
                    tokio::task::yield_now().await;
                    panic!("late panic {}", 7)
                }),
                timeout
            )
            .await,
            Outcome::Panicked("late panic 7".to_owned())
        );
        assert_eq!(
            run(|| Box::pin(std::future::pending()), timeout).await,
            Outcome::TimedOut
        );
        assert_eq!(
            run(|| panic!("eager panic"), timeout).await,
            Outcome::Panicked("eager panic".to_owned())
        );
        assert_eq!(Outcome::TimedOut.kind(), "timed_out");
        assert_eq!(
            serde_json::to_value(Outcome::Failed("x".into())).unwrap(),
            serde_json::json!({"outcome": "failed", "message": "x"})
        );
    }
}
