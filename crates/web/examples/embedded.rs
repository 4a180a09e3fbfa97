//! An existing axum application that takes on the resilience layer.
//!
//! Its own routes keep their paths; the resilience routes are nested under `/ops`; the
//! layer watches the application's routes: failures of `/checkout` open the circuit
//! breaker and the mode goes HEURISTIC, in which `/recommendations`, marked optional,
//! is turned away with 503 and `Retry-After` while `/checkout` keeps being served.
//!
//! ```sh
//! cargo run --example embedded -p web            # listens on 127.0.0.1:3000 (PORT to change)
//! curl localhost:3000/recommendations            # personalized
//! for i in 1 2 3 4 5; do curl -X POST 'localhost:3000/checkout?fail=true'; done
//! curl localhost:3000/ops/fallback/mode          # heuristic
//! curl -i localhost:3000/recommendations         # 503, Retry-After: 30
//! curl localhost:3000/ops/health/state
//! ```
//!
//! `tests/it/example.rs` runs [`build`]'s application the same way.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example prints where it listens"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use fallback::{FallbackManager, FallbackMode};
use health::HealthMonitor;
use serde::Deserialize;
use storage::{MemoryStorage, Storage};
use web::layer::ResilienceLayer;
use web::{ResilienceState, Secret, ServeOptions, WebError};

#[derive(Deserialize)]
struct Payment {
    /// Pretend the payment provider is down.
    #[serde(default)]
    fail: bool,
}

/// Essential: always served, and its failures are what the breaker counts.
async fn checkout(Query(payment): Query<Payment>) -> (StatusCode, &'static str) {
    if payment.fail {
        (StatusCode::BAD_GATEWAY, "payment provider unavailable\n")
    } else {
        (StatusCode::OK, "paid\n")
    }
}

/// Optional: a cheaper answer in a degraded mode, turned away when the layer sheds.
async fn recommendations(Extension(mode): Extension<FallbackMode>) -> &'static str {
    match mode {
        FallbackMode::Primary => "personalized\n",
        _ => "most popular\n",
    }
}

/// The application: its routes under the layer, the resilience routes under `/ops`, on
/// a state whose admin token is `admin_token`.
///
/// # Errors
///
/// If the state cannot be built.
pub(crate) fn build(admin_token: Secret) -> Result<(ResilienceState, Router), WebError> {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let state = ResilienceState::builder(storage.clone())
        .monitor(HealthMonitor::builder().without_resources())
        .manager(Arc::new(FallbackManager::new(storage)))
        .admin_token(admin_token)
        .build()?;
    let layer = ResilienceLayer::new(&state)
        .optional(["/recommendations"])
        .shed_in_heuristic(true);
    let app = Router::new()
        .route("/checkout", post(checkout))
        .route("/recommendations", get(recommendations))
        .layer(layer)
        .nest("/ops", web::router(&state));
    Ok((state, app))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admin = Secret::generate()?;
    let (state, app) = build(admin.clone())?;
    // Checks refreshed and the mode re-decided in the background, as the server does.
    let _refresher = state.monitor().spawn_refresher(Duration::from_secs(5))?;
    let _cascade = state.spawn_cascade(Duration::from_secs(5))?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("admin token for /ops (shown once): {}", admin.expose());
    let stopping = state.clone();
    web::serve(listener, app, ServeOptions::default(), async move {
        let _ = tokio::signal::ctrl_c().await;
        stopping.begin_shutdown();
    })
    .await;
    Ok(())
}
