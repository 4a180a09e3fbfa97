//! [`ResilienceLayer`]: the tower layer for a service's own routes. Its traffic drives
//! the mode, and the mode drives its traffic.
//!
//! - **Records each call** into the state's circuit breaker (through a permit, so a
//!   call admitted before the breaker changed cannot sway it) as the [`Classify`]
//!   decides: by default a 5xx, an error or a timeout is a failure. The monitor reports
//!   the breaker, so enough failures in a row open it and the cascade goes to
//!   HEURISTIC; the call that opens it starts a cascade at once rather than at the next
//!   tick. Each failure also counts as an attempt in the state's retry tracker (and, if
//!   asked, as a retry failure in the monitor's window).
//! - **Tells the handler the mode**: the current [`FallbackMode`] is in the request's
//!   extensions (`Extension<FallbackMode>`), so a handler can serve a cheaper answer.
//! - **Sheds load by mode**: a route marked [optional](ResilienceLayer::optional)
//!   answers 503 with `Retry-After` in SAFE (and in HEURISTIC if
//!   [asked](ResilienceLayer::shed_in_heuristic)), or goes to a
//!   [fallback service](ResilienceLayer::fallback_service). Every other route is
//!   essential and always passes.
//!
//! The breaker records but never refuses a call: what a degraded mode turns away is the
//! service's decision, made by marking routes optional. tower and resilience4j decorate
//! one call; this sheds across a whole service by its mode.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fallback::FallbackMode;
use health::breaker::BreakerPermit;
use health::model::CircuitState;
use serde_json::json;
use tokio::time::Sleep;
use tower::util::{BoxCloneSyncService, Oneshot};
use tower::{Layer, Service, ServiceExt as _};

use crate::state::ResilienceState;

mod classify;
pub use classify::{CallOutcome, Classify, ClassifyFn, ServerErrors, classify_fn};

/// The default [`ResilienceLayer::retry_after`]: 30 s. Long enough that shed clients do
/// not come back in a storm, short against the minutes a mode usually lasts; an
/// operator's timed hold is used instead when there is one.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

type FallbackService = BoxCloneSyncService<Request, Response, Infallible>;

/// The tower layer for a service's own routes: records each call into the circuit
/// breaker, puts the mode in the request's extensions, and sheds optional routes in
/// degraded modes. See the [module](self) documentation.
///
/// Put it on the application's router with [`axum::Router::layer`], which wraps each
/// route: optional routes are then recognized by their pattern (axum's
/// [`MatchedPath`]). Around a whole service instead, patterns are compared with the
/// request path. Add it before merging or nesting [`router`](crate::router): layered
/// after, the resilience routes would be recorded too (a readiness 503 while starting
/// would count against the breaker).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use axum::extract::Extension;
/// use axum::routing::get;
/// use axum::Router;
/// use fallback::FallbackMode;
/// use storage::MemoryStorage;
/// use web::ResilienceState;
/// use web::layer::ResilienceLayer;
///
/// # fn main() -> Result<(), web::WebError> {
/// let state = ResilienceState::builder(Arc::new(MemoryStorage::new())).build()?;
/// let app: Router = Router::new()
///     .route("/checkout", get(|| async { "paid" }))
///     .route(
///         "/recommendations",
///         get(|Extension(mode): Extension<FallbackMode>| async move {
///             if mode == FallbackMode::Primary { "personalized" } else { "popular" }
///         }),
///     )
///     .layer(
///         ResilienceLayer::new(&state)
///             .optional(["/recommendations"])
///             .retry_after(Duration::from_secs(60)),
///     );
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ResilienceLayer<C = ServerErrors> {
    policy: Arc<Policy>,
    classifier: C,
}

/// What every call of a layer shares.
#[derive(Clone)]
struct Policy {
    state: ResilienceState,
    /// Route patterns that are shed in degraded modes.
    optional: Vec<Box<str>>,
    shed_in_heuristic: bool,
    retry_after: Duration,
    fallback: Option<FallbackService>,
    timeout: Option<Duration>,
    count_retry_failures: bool,
}

impl ResilienceLayer {
    /// A layer on `state`'s breaker, retry tracker and mode: every route essential, 5xx,
    /// errors and timeouts failures ([`ServerErrors`]), no timeout.
    #[must_use]
    pub fn new(state: &ResilienceState) -> Self {
        Self {
            policy: Arc::new(Policy {
                state: state.clone(),
                optional: Vec::new(),
                shed_in_heuristic: false,
                retry_after: DEFAULT_RETRY_AFTER,
                fallback: None,
                timeout: None,
                count_retry_failures: false,
            }),
            classifier: ServerErrors,
        }
    }
}

impl<C: Classify> ResilienceLayer<C> {
    /// Decides each call's outcome with `classifier` instead.
    #[must_use]
    pub fn classifier<D: Classify>(self, classifier: D) -> ResilienceLayer<D> {
        ResilienceLayer {
            policy: self.policy,
            classifier,
        }
    }

    /// Marks the routes with these patterns optional (as written in the router,
    /// `/items/{id}`; under a nested prefix, with it): shed in degraded modes. Adds to
    /// those marked before.
    #[must_use]
    pub fn optional<I, S>(mut self, routes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Arc::make_mut(&mut self.policy)
            .optional
            .extend(routes.into_iter().map(|route| route.as_ref().into()));
        self
    }

    /// Whether optional routes are shed in HEURISTIC as well as in SAFE (default: SAFE
    /// only).
    #[must_use]
    pub fn shed_in_heuristic(mut self, shed: bool) -> Self {
        Arc::make_mut(&mut self.policy).shed_in_heuristic = shed;
        self
    }

    /// The `Retry-After` of a shed call when no operator holds the mode for a set time
    /// (default [`DEFAULT_RETRY_AFTER`]; whole seconds, at least 1).
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        Arc::make_mut(&mut self.policy).retry_after = after;
        self
    }

    /// Sends a shed call to `service` instead of answering 503: a cached page, a static
    /// answer, a cheaper implementation. Its answers are not recorded in the breaker.
    #[must_use]
    pub fn fallback_service<T>(mut self, service: T) -> Self
    where
        T: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        T::Response: IntoResponse,
        T::Future: Send + 'static,
    {
        let boxed = BoxCloneSyncService::new(service.map_response(IntoResponse::into_response));
        Arc::make_mut(&mut self.policy).fallback = Some(boxed);
        self
    }

    /// Answers 503 to a call that has not finished within `timeout` (dropping it), and
    /// records it as [`Classify::classify_timeout`] says (default: a failure). Off by
    /// default.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.policy).timeout = Some(timeout);
        self
    }

    /// Whether each failed call also counts as a retry failure in the monitor's window
    /// (`HealthMonitor::record_retry_failure`), which the cascade reads (default off:
    /// the default policy goes to HEURISTIC after 50 in an hour, which any busy service
    /// would reach with a tiny error rate; the breaker's failures-in-a-row are the
    /// better signal for request traffic).
    #[must_use]
    pub fn count_failures_as_retry_failures(mut self, count: bool) -> Self {
        Arc::make_mut(&mut self.policy).count_retry_failures = count;
        self
    }
}

impl<C> fmt::Debug for ResilienceLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = &*self.policy;
        f.debug_struct("ResilienceLayer")
            .field("optional", &policy.optional)
            .field("shed_in_heuristic", &policy.shed_in_heuristic)
            .field("retry_after", &policy.retry_after)
            .field("fallback_service", &policy.fallback.is_some())
            .field("timeout", &policy.timeout)
            .field("count_retry_failures", &policy.count_retry_failures)
            .finish_non_exhaustive()
    }
}

impl<S, C: Classify> Layer<S> for ResilienceLayer<C> {
    type Service = ResilienceService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ResilienceService {
            inner,
            policy: Arc::clone(&self.policy),
            classifier: self.classifier.clone(),
        }
    }
}

/// The service of a [`ResilienceLayer`].
#[derive(Clone)]
pub struct ResilienceService<S, C = ServerErrors> {
    inner: S,
    policy: Arc<Policy>,
    classifier: C,
}

impl<S, C> fmt::Debug for ResilienceService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceService").finish_non_exhaustive()
    }
}

impl Policy {
    fn sheds(&self, mode: FallbackMode) -> bool {
        match mode {
            FallbackMode::Safe => true,
            FallbackMode::Heuristic => self.shed_in_heuristic,
            _ => false,
        }
    }

    fn is_optional(&self, request: &Request) -> bool {
        if self.optional.is_empty() {
            return false;
        }
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| request.uri().path(), MatchedPath::as_str);
        self.optional.iter().any(|optional| **optional == *route)
    }

    /// 503 with `Retry-After`: the operator's hold's time left, else the setting.
    fn shed(&self, mode: FallbackMode) -> Response {
        let left = self
            .state
            .shared
            .fallback
            .current_hold()
            .filter(|hold| hold.mode == mode)
            .and_then(|hold| hold.remaining);
        let after = left.unwrap_or(self.retry_after);
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({
                "error": "shed",
                "detail": format!("this route is turned away in {mode} mode; retry later"),
                "mode": mode,
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        response
    }

    /// Counts a finished call.
    fn record(&self, permit: Option<BreakerPermit>, outcome: CallOutcome) {
        let shared = &self.state.shared;
        match outcome {
            CallOutcome::Success => {
                if let Some(permit) = permit {
                    permit.record_success();
                }
            }
            CallOutcome::Failure => {
                shared.retries.record_attempt();
                if self.count_retry_failures {
                    shared.monitor.record_retry_failure();
                }
                if let Some(permit) = permit {
                    permit.record_failure();
                    // Permits are not handed out while the breaker is open: seeing it open
                    // now, this call (or one at the same moment) opened it.
                    if shared.breaker.state() == CircuitState::Open {
                        shared.cascade_soon();
                    }
                }
            }
            // The permit, dropped, frees its half-open slot and counts nothing.
            _ => drop(permit),
        }
    }
}

impl<S, C> Service<Request> for ResilienceService<S, C>
where
    S: Service<Request, Response = Response>,
    S::Error: fmt::Display,
    C: Classify,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResilienceFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let policy = &*self.policy;
        let mode = policy.state.shared.fallback.get_current_mode();
        request.extensions_mut().insert(mode);
        if policy.sheds(mode) && policy.is_optional(&request) {
            let kind = match &policy.fallback {
                Some(fallback) => Kind::Fallback {
                    future: fallback.clone().oneshot(request),
                },
                None => Kind::Shed {
                    response: Some(policy.shed(mode)),
                },
            };
            return ResilienceFuture { kind };
        }
        let permit = policy.state.shared.breaker.try_acquire();
        let timeout = policy
            .timeout
            .map(|timeout| Box::pin(tokio::time::sleep(timeout)));
        ResilienceFuture {
            kind: Kind::Call {
                inner: self.inner.call(request),
                timeout,
                permit,
                policy: Arc::clone(&self.policy),
                classifier: self.classifier.clone(),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`ResilienceService`].
    pub struct ResilienceFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProjection]
    enum Kind<F, C> {
        Call {
            #[pin]
            inner: F,
            timeout: Option<Pin<Box<Sleep>>>,
            permit: Option<BreakerPermit>,
            policy: Arc<Policy>,
            classifier: C,
        },
        Shed {
            response: Option<Response>,
        },
        Fallback {
            #[pin]
            future: Oneshot<FallbackService, Request>,
        },
    }
}

impl<F, C> fmt::Debug for ResilienceFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceFuture").finish_non_exhaustive()
    }
}

impl<F, E, C> Future for ResilienceFuture<F, C>
where
    F: Future<Output = Result<Response, E>>,
    E: fmt::Display,
    C: Classify,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Call {
                inner,
                timeout,
                permit,
                policy,
                classifier,
            } => {
                if let Poll::Ready(result) = inner.poll(cx) {
                    let outcome = match &result {
                        Ok(response) => classifier.classify_response(response),
                        Err(error) => classifier.classify_error(error),
                    };
                    policy.record(permit.take(), outcome);
                    return Poll::Ready(result);
                }
                if let Some(timeout) = timeout {
                    ready!(timeout.as_mut().poll(cx));
                    policy.record(permit.take(), classifier.classify_timeout());
                    return Poll::Ready(Ok(timed_out()));
                }
                Poll::Pending
            }
            // Polled again after it answered: the response is gone, answer it again.
            KindProjection::Shed { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| StatusCode::SERVICE_UNAVAILABLE.into_response()))),
            KindProjection::Fallback { future } => {
                let Ok(response) = ready!(future.poll(cx));
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The answer to a call that ran out of the layer's timeout.
fn timed_out() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({
            "error": "timeout",
            "detail": "the request did not complete in time",
        })),
    )
        .into_response()
}
