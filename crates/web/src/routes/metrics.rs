//! `/metrics` and `/health/metrics`: the Prometheus text exposition.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Routes;
use crate::state::{SameText, Shared};

/// `/metrics`, and `/health/metrics` as the original served it.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/metrics", get(metrics))
        .route("/health/metrics", get(metrics))
}

/// The sink's exposition, then the request counters: kept while the sink hands out the
/// same rendering (nothing was emitted) and for at most the cache max age (the request
/// counters change with every request, this one included).
async fn metrics(State(app): State<Arc<Shared>>) -> Response {
    let exposition = app.prometheus.render_shared();
    let body = app
        .views
        .metrics
        .get(SameText(Arc::clone(&exposition)), app.cache_max_age, || {
            let mut text = String::with_capacity(exposition.len() + 8 * 1024);
            text.push_str(&exposition);
            app.requests.render(&mut text);
            Bytes::from(text)
        });
    (
        [(header::CONTENT_TYPE, app.prometheus.content_type())],
        body,
    )
        .into_response()
}
