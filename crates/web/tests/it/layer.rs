//! The layer on an application's own routes: failures open the breaker and the mode goes
//! HEURISTIC, the mode reaches handlers, optional routes are shed in SAFE while
//! essential ones answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Extension;
use axum::http::StatusCode;
use axum::routing::get;
use fallback::{FallbackManager, FallbackMode};
use health::CircuitBreaker;
use health::breaker::CircuitBreakerConfig;
use health::model::CircuitState;
use health::retry::RetryStatus as _;
use storage::{MemoryStorage, Storage};
use tokio::net::TcpStream;
use web::layer::{CallOutcome, ResilienceLayer, classify_fn};
use web::{ResilienceState, ServeOptions};

use crate::support::{Served, eventually, exchange_full, get as get_request};

/// A state whose breaker opens after 3 failures in a row and tries again after 300 ms.
fn state() -> ResilienceState {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 3,
        success_threshold: 1,
        recovery_timeout: Duration::from_millis(300),
        half_open_max_calls: 1,
    })
    .unwrap();
    ResilienceState::builder(storage.clone())
        .monitor(health::HealthMonitor::builder().without_resources())
        .manager(Arc::new(FallbackManager::new(storage)))
        .circuit_breaker(breaker)
        .build()
        .unwrap()
}

/// `/pay` fails while `failing` is set; `/recommendations` (optional) answers by mode;
/// `/mode` shows the mode the handler was given.
fn app(state: &ResilienceState, layer: ResilienceLayer, failing: Arc<AtomicBool>) -> Router {
    Router::new()
        .route(
            "/pay",
            get(move || {
                let failing = failing.load(Ordering::SeqCst);
                async move {
                    if failing {
                        (StatusCode::BAD_GATEWAY, "bank down")
                    } else {
                        (StatusCode::OK, "paid")
                    }
                }
            }),
        )
        .route(
            "/recommendations/{user}",
            get(|Extension(mode): Extension<FallbackMode>| async move {
                if mode == FallbackMode::Primary {
                    "personalized"
                } else {
                    "popular"
                }
            }),
        )
        .route(
            "/mode",
            get(|Extension(mode): Extension<FallbackMode>| async move { mode.to_string() }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .layer(layer.optional(["/recommendations/{user}"]))
        .merge(web::router(state))
}

async fn serve(router: Router) -> (Served, TcpStream) {
    let served = Served::start(router, ServeOptions::default()).await;
    let client = TcpStream::connect(served.addr).await.unwrap();
    (served, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_open_the_breaker_the_mode_goes_heuristic_and_recovers() {
    let state = state();
    let failing = Arc::new(AtomicBool::new(false));
    let (served, mut client) =
        serve(app(&state, ResilienceLayer::new(&state), failing.clone())).await;
    assert_eq!(
        exchange_full(&mut client, &get_request("/mode")).await.1,
        "primary"
    );
    assert_eq!(
        exchange_full(&mut client, &get_request("/pay")).await.0,
        200
    );
    // Client errors are not the service failing.
    for _ in 0..5 {
        assert_eq!(
            exchange_full(&mut client, &get_request("/missing")).await.0,
            404
        );
    }
    assert_eq!(state.circuit_breaker().state(), CircuitState::Closed);

    failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        assert_eq!(
            exchange_full(&mut client, &get_request("/pay")).await.0,
            502
        );
    }
    assert_eq!(state.circuit_breaker().state(), CircuitState::Open);
    assert_eq!(state.retry_tracker().total_attempts(), 3);
    // The monitor reports the breaker, and the call that opened it cascaded at once.
    assert_eq!(
        state.monitor().cached_state().circuit_breaker.state,
        CircuitState::Open
    );
    eventually(
        "the mode to go heuristic",
        Duration::from_secs(5),
        || async { state.manager().get_current_mode() == FallbackMode::Heuristic },
    )
    .await;
    let log = state.manager().get_transitions_log(1);
    assert!(log[0].reason.starts_with("circuit_open"), "{log:?}");
    assert_eq!(
        exchange_full(&mut client, &get_request("/mode")).await.1,
        "heuristic"
    );
    // HEURISTIC serves optional routes (unless asked otherwise), the cheaper way here.
    let (status, body) = exchange_full(&mut client, &get_request("/recommendations/ann")).await;
    assert_eq!((status, body.as_str()), (200, "popular"));

    // The dependency is back: after the recovery timeout a trial call succeeds and
    // closes the breaker; the next cascade goes back to PRIMARY.
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        exchange_full(&mut client, &get_request("/pay")).await.0,
        200
    );
    assert_eq!(state.circuit_breaker().state(), CircuitState::Closed);
    let mode = state
        .manager()
        .cascade(&state.monitor().cached_state())
        .await;
    assert_eq!(mode, FallbackMode::Primary);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_safe_optional_routes_get_503_with_retry_after_and_essential_ones_answer() {
    let state = state();
    let layer = ResilienceLayer::new(&state).retry_after(Duration::from_secs(45));
    let (served, mut client) = serve(app(&state, layer, Arc::default())).await;
    state
        .manager()
        .set_mode_to(FallbackMode::Safe)
        .await
        .unwrap();
    let (status, body, headers) =
        crate::support::exchange_with_headers(&mut client, &get_request("/recommendations/ann"))
            .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("45"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "shed");
    assert_eq!(body["mode"], "safe");
    // Essential routes, the application's and the crate's, still answer.
    assert_eq!(
        exchange_full(&mut client, &get_request("/pay")).await.0,
        200
    );
    assert_eq!(
        exchange_full(&mut client, &get_request("/health/live"))
            .await
            .0,
        200
    );
    // Shedding is no failure of the service.
    assert_eq!(state.circuit_breaker().state(), CircuitState::Closed);
    assert_eq!(state.retry_tracker().total_attempts(), 0);

    // An operator's timed hold tells clients when to come back.
    state
        .manager()
        .hold_mode(FallbackMode::Safe, Some(Duration::from_secs(120)))
        .await
        .unwrap();
    let (_, _, headers) =
        crate::support::exchange_with_headers(&mut client, &get_request("/recommendations/ann"))
            .await;
    let after: u64 = headers["retry-after"].parse().unwrap();
    assert!((119..=120).contains(&after), "{after}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heuristic_sheds_when_asked_and_a_fallback_service_can_answer_instead() {
    let state = state();
    let fallback = get(|| async { "cached recommendations" });
    let layer = ResilienceLayer::new(&state)
        .shed_in_heuristic(true)
        .fallback_service(fallback);
    let (served, mut client) = serve(app(&state, layer, Arc::default())).await;
    assert_eq!(
        exchange_full(&mut client, &get_request("/recommendations/ann"))
            .await
            .1,
        "personalized"
    );
    state
        .manager()
        .set_mode_to(FallbackMode::Heuristic)
        .await
        .unwrap();
    let (status, body) = exchange_full(&mut client, &get_request("/recommendations/ann")).await;
    assert_eq!((status, body.as_str()), (200, "cached recommendations"));
    assert_eq!(
        exchange_full(&mut client, &get_request("/pay")).await.0,
        200
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_answers_503_and_counts_as_a_failure_a_classifier_decides_the_rest() {
    let state = state();
    // 404 counts as a failure here (say, a lookup that should always find).
    let layer = ResilienceLayer::new(&state)
        .timeout(Duration::from_millis(200))
        .classifier(classify_fn(|status| {
            if status == StatusCode::NOT_FOUND || status.is_server_error() {
                CallOutcome::Failure
            } else {
                CallOutcome::Success
            }
        }));
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .layer(layer);
    let (served, mut client) = serve(router).await;
    let (status, body) = exchange_full(&mut client, &get_request("/slow")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("timeout"), "{body}");
    assert_eq!(
        exchange_full(&mut client, &get_request("/missing")).await.0,
        404
    );
    assert_eq!(
        exchange_full(&mut client, &get_request("/missing")).await.0,
        404
    );
    assert_eq!(state.circuit_breaker().state(), CircuitState::Open);
    served.stop().await;
}
