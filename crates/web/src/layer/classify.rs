//! Deciding whether a call failed: the [`Classify`] trait, its default
//! [`ServerErrors`], and [`classify_fn`] for a rule of your own.
//!
//! Modelled on tower-http's `classify`, reduced to what the breaker needs: a verdict per
//! response, per error and per timeout.

use std::fmt;

use axum::http::StatusCode;
use axum::response::Response;

/// What a call tells the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallOutcome {
    /// The service did its job (whatever the client asked for, a 404 included).
    Success,
    /// The service failed the call: counted against the breaker, and as an attempt the
    /// client has to retry.
    Failure,
    /// Says nothing about the service's health (a client that hung up, a status you
    /// want left out): counted nowhere.
    Ignored,
}

/// Decides the [`CallOutcome`] of each call through a
/// [`ResilienceLayer`](super::ResilienceLayer).
///
/// ```
/// use axum::http::StatusCode;
/// use axum::response::{IntoResponse, Response};
/// use web::layer::{CallOutcome, Classify};
///
/// /// Failures are 5xx, except 501 (a route not built yet is not an outage), and 429.
/// #[derive(Clone)]
/// struct Strict;
///
/// impl Classify for Strict {
///     fn classify_response(&self, response: &Response) -> CallOutcome {
///         match response.status() {
///             StatusCode::NOT_IMPLEMENTED => CallOutcome::Success,
///             StatusCode::TOO_MANY_REQUESTS => CallOutcome::Failure,
///             status if status.is_server_error() => CallOutcome::Failure,
///             _ => CallOutcome::Success,
///         }
///     }
/// }
///
/// let response = StatusCode::TOO_MANY_REQUESTS.into_response();
/// assert_eq!(Strict.classify_response(&response), CallOutcome::Failure);
/// ```
pub trait Classify: Clone + Send + Sync + 'static {
    /// The outcome of a call that answered `response`.
    fn classify_response(&self, response: &Response) -> CallOutcome;

    /// The outcome of a call whose service returned an error instead of a response
    /// (never, for an axum router); default [`CallOutcome::Failure`].
    fn classify_error(&self, error: &dyn fmt::Display) -> CallOutcome {
        let _ = error;
        CallOutcome::Failure
    }

    /// The outcome of a call that ran out of the layer's
    /// [timeout](super::ResilienceLayer::timeout); default [`CallOutcome::Failure`].
    fn classify_timeout(&self) -> CallOutcome {
        CallOutcome::Failure
    }
}

/// The default classifier: a 5xx answer, an error or a timeout is a failure, anything
/// else a success (as tower-http's `ServerErrorsAsFailures`). A 4xx is the client's
/// mistake, not the service's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerErrors;

impl Classify for ServerErrors {
    fn classify_response(&self, response: &Response) -> CallOutcome {
        if response.status().is_server_error() {
            CallOutcome::Failure
        } else {
            CallOutcome::Success
        }
    }
}

/// A classifier from a function of the status: errors and timeouts are failures.
///
/// ```
/// use axum::http::StatusCode;
/// use axum::response::IntoResponse;
/// use web::layer::{CallOutcome, Classify, classify_fn};
///
/// // Only 502, 503 and 504 say a dependency is failing.
/// let classifier = classify_fn(|status: StatusCode| match status.as_u16() {
///     502..=504 => CallOutcome::Failure,
///     _ => CallOutcome::Success,
/// });
/// let response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
/// assert_eq!(classifier.classify_response(&response), CallOutcome::Success);
/// ```
pub fn classify_fn<F>(classify: F) -> ClassifyFn<F>
where
    F: Fn(StatusCode) -> CallOutcome + Clone + Send + Sync + 'static,
{
    ClassifyFn(classify)
}

/// The classifier of [`classify_fn`].
#[derive(Clone)]
pub struct ClassifyFn<F>(F);

impl<F> Classify for ClassifyFn<F>
where
    F: Fn(StatusCode) -> CallOutcome + Clone + Send + Sync + 'static,
{
    fn classify_response(&self, response: &Response) -> CallOutcome {
        (self.0)(response.status())
    }
}

impl<F> fmt::Debug for ClassifyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClassifyFn")
    }
}
