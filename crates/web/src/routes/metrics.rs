//! `/metrics` and `/health/metrics`: the Prometheus text exposition.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::Shared;

/// `/metrics`, and `/health/metrics` as the original served it.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/metrics", get(metrics))
}

async fn metrics(State(app): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, app.prometheus.content_type())],
        app.prometheus.render(),
    )
        .into_response()
}
