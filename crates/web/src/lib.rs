//! `web` serves the workspace's resilience layer over HTTP from inside any axum (or
//! tower) service:
//!
//! - [`router`]: the health, readiness, state, metrics, fallback-mode and alert-webhook
//!   routes as an [`axum::Router`], to merge into an application or nest under a prefix
//!   of its choice;
//! - [`ResilienceState`]: what they read, built once and shared with the rest of the
//!   program: one storage, one `HealthMonitor`, one `FallbackManager`, the circuit
//!   breaker and retry tracker the monitor reports, the sinks and secrets;
//! - [`ResilienceLayer`](layer::ResilienceLayer): the tower layer for the application's
//!   own routes, whose outcomes feed the breaker (and so the mode), which puts the mode
//!   in each request's extensions, and which sheds routes marked optional in degraded
//!   modes;
//! - [`serve()`]: a hardened HTTP/1.1 loop: header-read, idle and body-read timeouts, a
//!   connection cap, a shutdown that ends within its grace.
//!
//! It is a narrowly scoped library rather than the `server` crate's: an embedder gets the
//! routes without the server's configuration file, command line, TOML parser and log
//! subscriber. The `server` binary is one user of it.
//!
//! What it deliberately does not do: decide health or the mode (the `health` and
//! `fallback` crates do; the routes and the layer only read and report them), install a
//! log subscriber or a metrics recorder, speak TLS or HTTP/2 (put it behind a proxy or a
//! mesh; `serve` speaks HTTP/1.1, and any other server can serve the router), or
//! coordinate the mode across replicas.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use axum::Router;
//! use axum::routing::get;
//! use storage::MemoryStorage;
//! use tower::ServiceExt as _;
//! use web::layer::ResilienceLayer;
//! use web::{ResilienceState, Secret};
//!
//! let state = ResilienceState::builder(Arc::new(MemoryStorage::new()))
//!     .monitor(health::HealthMonitor::builder().without_resources())
//!     .admin_token(Secret::new("an-admin-token-for-the-docs"))
//!     .build()?;
//! let app = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     .route("/suggestions", get(|| async { "suggestions" }))
//!     .layer(ResilienceLayer::new(&state).optional(["/suggestions"]))
//!     .nest("/ops", web::router(&state));
//! // Serve it with `web::serve`, `axum::serve` or any other server; here, one request.
//! let ready = app
//!     .oneshot(axum::http::Request::get("/ops/health/ready").body(axum::body::Body::empty())?)
//!     .await?;
//! assert_eq!(ready.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embedded.rs` is a whole application (`cargo run --example embedded -p web`).
//!
//! # Routes
//!
//! Paths as the original served them, under whatever prefix the router is nested under:
//!
//! | Route | Answer |
//! |-------|--------|
//! | `GET /health/live`, `/livez` | 200 `{status: "alive", timestamp}` unless a critical check tagged `live` fails (none by default) |
//! | `GET /health/ready`, `/readyz` | 200 in every mode (`{status: "ready"}` when all is well, else with the mode and the degraded checks); 503 only while starting, once shutdown began, or when a critical readiness check fails past its threshold |
//! | `GET /health/startup`, `/startupz` | 200 once every `startup` check passed and every critical readiness check ran, for good; 503 before |
//! | `GET /health/group/{name}` | a named group ([`ResilienceStateBuilder::group`]): its members' statuses, 503 when a critical member fails |
//! | `GET /health/state` | the monitor's cached state, `fallback: {mode, hold, cascade_log}`, `storage` (check messages, metadata and alert texts only where [details are shown](state::ShowDetails)) |
//! | `GET /health/checks` | the latest check results (details as for the state) |
//! | `GET /health/cascade` | cascade now on the cached state: `{fallback_mode, previous_mode, changed, held, timestamp}` |
//! | `POST /health/cascade` | admin: re-run expired checks, cascade; the same answer |
//! | `GET /metrics`, `GET /health/metrics` | Prometheus text: the sink's exposition, then the request counters (feature `prometheus`) |
//! | `GET /fallback/transitions?limit=N` | the newest transitions |
//! | `GET /fallback/metrics` | the manager's metrics |
//! | `GET /fallback/mode` | the current mode and the operator's hold |
//! | `POST /fallback/mode` | admin: `{mode, hold_seconds?}`, the operator's override |
//! | `DELETE /fallback/mode` | admin: release the hold, cascade now |
//! | `POST /fallback/evaluate` | admin: run the fallback rules on posted variables |
//! | `POST /monitoring/{provider}/webhook` | webhook secret: Datadog or New Relic alerts (feature `alerts`) |
//! | `POST /monitoring/register` | admin: `{provider, name, config}`, kept in storage (feature `alerts`) |
//!
//! Errors are JSON `{"error": code, "detail": message}`, never a 500 for bad input. The
//! router has no fallback of its own (merging it never conflicts with the
//! application's); [`not_found`] is the JSON 404 where it is served alone. Requests are
//! counted and timed per route pattern (`http_requests_total{route,method,status}`,
//! `http_request_duration_seconds{route}`, see [`telemetry`]), labelled by the pattern as
//! written here whatever the prefix.
//!
//! Answers are cheap to ask for often: the probes read the mode and the shutdown flag
//! per request and their group's health as kept until a check's status changes, a
//! route changes something, or the [cache max age](ResilienceStateBuilder::cache_max_age)
//! (1 s) passes; `/health/state` is rendered at most that often; `/metrics` renders the
//! sink again only after something was emitted into it.
//!
//! # The root
//!
//! | Name | What |
//! |------|------|
//! | [`ResilienceState`], [`ResilienceStateBuilder`] | the shared libraries, secrets and options (module [`state`]: defaults) |
//! | [`router`], [`not_found`] | the routes; the JSON 404 |
//! | [`serve()`], [`ServeOptions`] | the hardened serve loop (module [`serve`](mod@serve): defaults and their reasons) |
//! | [`CascadeTask`] | the cascade loop of [`ResilienceState::spawn_cascade`] |
//! | [`Secret`] | tokens and webhook secrets, compared in constant time, never printed |
//! | [`WebError`] | why a state or a background task could not be built |
//! | [`layer`] | [`ResilienceLayer`](layer::ResilienceLayer), its service, future and [classifiers](layer::Classify) |
//! | [`telemetry`] | the request metrics' names and help texts |
//!
//! # Feature flags
//!
//! The default adds no package to what the routes need (axum, hyper, tower, the
//! workspace's libraries).
//!
//! | Name | Default | Enables | Adds |
//! |------|---------|---------|------|
//! | `alerts` | yes | the `/monitoring/*` routes, `ResilienceStateBuilder::webhook_secret` and its header | nothing (health's `alerts`) |
//! | `prometheus` | no | the `/metrics` routes and `ResilienceStateBuilder::prometheus` | health-sinks' `prometheus`: the `metrics` facade and its Prometheus exporter |
//!
//! Without `prometheus`, export through the recorder the program installed: give the
//! monitor and the manager health-sinks' `FacadeMetricsSink` (its feature `facade`).

mod auth;
pub use auth::Secret;

mod background;
pub use background::CascadeTask;

mod cache;

mod error;
pub use error::WebError;

mod http;

pub mod layer;

mod routes;

pub mod serve;
pub use serve::{ServeOptions, serve};

pub mod state;
pub use state::{ResilienceState, ResilienceStateBuilder};

pub mod telemetry;

/// The routes on `state`, to merge into an application or nest under a prefix: see the
/// crate documentation. It has no fallback of its own, so merging it never conflicts
/// with the application's; add [`not_found`] where these routes are served alone.
pub fn router(state: &ResilienceState) -> axum::Router {
    routes::router(state)
}

/// The JSON 404 (`{"error": "not_found", ...}`) for a path no route matches, counted
/// under the route label `unmatched`: `router(&state).fallback_service(not_found(&state))`
/// where these routes are served alone.
pub fn not_found(state: &ResilienceState) -> axum::routing::MethodRouter {
    routes::not_found(state)
}
