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

mod error;
pub use error::WebError;

mod http;

mod routes;

mod state;
pub use state::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_WEBHOOK_HEADER, ResilienceState, ResilienceStateBuilder,
};

pub mod telemetry;

/// The routes on `state`: see the crate documentation.
pub fn router(state: &ResilienceState) -> axum::Router {
    routes::router(state)
}
