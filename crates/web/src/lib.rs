//! `web` serves the workspace's resilience libraries over HTTP from inside any axum
//! application: the health, fallback, metrics and alert-webhook routes as an
//! [`axum::Router`] built on a [`ResilienceState`] (one storage, one health monitor, one
//! fallback manager, shared with the rest of the program).
//!
//! A narrowly scoped library rather than the `server` crate's: an embedder gets the
//! routes without the server's configuration file, command line, TOML parser or log
//! subscriber. The `server` binary is one user of it.

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

mod serve;
pub use serve::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE, ServeOptions, serve,
};

mod state;
#[cfg(feature = "alerts")]
pub use state::DEFAULT_WEBHOOK_HEADER;
pub use state::{
    DEFAULT_CACHE_MAX_AGE, DEFAULT_MAX_BODY_BYTES, DEFAULT_STORAGE_WRITE_TIMEOUT, ResilienceState,
    ResilienceStateBuilder,
};

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
