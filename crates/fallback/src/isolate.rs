//! Running user code (callbacks, actions, detectors) so that its errors, panics and hangs
//! stay its own.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt as _;
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

/// Calls `start` and awaits the future it returns for at most `timeout`, catching a panic
/// while building that future as well as one while it runs: `start` is called inside the
/// guarded `async` block, on its first poll.
pub(crate) async fn catch<T, F>(start: impl FnOnce() -> F, timeout: Duration) -> Result<T, Outcome>
where
    F: Future<Output = T>,
{
    let guarded = AssertUnwindSafe(async move { start().await }).catch_unwind();
    match tokio::time::timeout(timeout, guarded).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(payload)) => Err(Outcome::Panicked(panic_message(payload.as_ref()))),
        Err(_) => Err(Outcome::TimedOut),
    }
}

/// Runs a callback or action to its [`Outcome`].
pub(crate) async fn run<F>(start: impl FnOnce() -> F, timeout: Duration) -> Outcome
where
    F: Future<Output = Result<(), BoxError>>,
{
    match catch(start, timeout).await {
        Ok(Ok(())) => Outcome::Completed,
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(outcome) => outcome,
    }
}

/// The text of a panic's payload: the message of `panic!("...")` (a `&str` or a
/// `String`), else a fixed text. The one place this crate turns a payload into words.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| NO_MESSAGE.to_owned())
}

/// What [`panic_message`] says for a payload that is not text (`std::panic::panic_any`).
const NO_MESSAGE: &str = "a panic without a message";

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::{Ready, pending, ready};

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn completion_errors_panics_and_hangs_each_have_an_outcome() {
        assert_eq!(run(|| ready(Ok(())), TIMEOUT).await, Outcome::Completed);
        assert_eq!(
            run(|| ready(Err("boom".into())), TIMEOUT).await,
            Outcome::Failed("boom".to_owned())
        );
        assert_eq!(
            run(
                || async {
                    tokio::task::yield_now().await;
                    panic!("late panic {}", 7)
                },
                TIMEOUT
            )
            .await,
            Outcome::Panicked("late panic 7".to_owned())
        );
        assert_eq!(run(pending, TIMEOUT).await, Outcome::TimedOut);
        assert_eq!(Outcome::TimedOut.kind(), "timed_out");
        assert_eq!(
            serde_json::to_value(Outcome::Failed("x".into())).unwrap(),
            serde_json::json!({"outcome": "failed", "message": "x"})
        );
    }

    #[tokio::test]
    async fn a_panic_while_building_the_future_is_caught_too() {
        let eager = || -> Ready<Result<(), BoxError>> { panic!("eager panic") };
        assert_eq!(
            run(eager, TIMEOUT).await,
            Outcome::Panicked("eager panic".to_owned())
        );
        let detector = || -> Ready<u32> { panic!("detector {} broke", "x") };
        assert_eq!(
            catch(detector, TIMEOUT).await,
            Err(Outcome::Panicked("detector x broke".to_owned()))
        );
        assert_eq!(catch(|| ready(3), TIMEOUT).await, Ok(3));
    }

    #[tokio::test]
    async fn a_payload_that_is_not_text_gets_the_fixed_message() {
        let outcome = run(|| async { std::panic::panic_any::<u32>(42) }, TIMEOUT).await;
        assert_eq!(outcome, Outcome::Panicked(NO_MESSAGE.to_owned()));
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(owned.as_ref()), "owned");
        let borrowed: Box<dyn Any + Send> = Box::new("borrowed");
        assert_eq!(panic_message(borrowed.as_ref()), "borrowed");
    }
}
