//! The routes: each reads the one monitor and the one fallback manager, runs no health
//! check itself (except `POST /health/cascade`, which asks for a fresh evaluation).
//!
//! One file per group of routes: `status` (`/health/*`: probes, state, checks, cascade),
//! `metrics` (the Prometheus exposition), `mode` (`/fallback/*`: the mode, transitions,
//! rules) and `monitoring` (`/monitoring/*`: alert webhooks, integrations).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use health::{HealthCheckResult, HealthCheckStatus};
use serde_json::{Value, json};

use crate::auth::bearer;
use crate::http::ApiError;
use crate::state::{ResilienceState, Shared};
use crate::telemetry::{RequestTelemetry, request_span};

mod metrics;
mod mode;
mod monitoring;
mod status;

const ADMIN_CHALLENGE: &str = "Bearer realm=\"resilience\"";

/// The routes on `state`, each counted and timed by route pattern: each group's
/// `routes()` (paths as the original served them), merged.
pub(crate) fn router(resilience: &ResilienceState) -> Router {
    let app = resilience.shared.clone();
    // Request metrics go to Prometheus only: per-request datagrams or log lines in the
    // other sinks would cost more than the request.
    let telemetry = Arc::new(RequestTelemetry {
        sink: Arc::new(app.prometheus.clone()),
        access_log: app.access_log,
    });
    Router::new()
        .merge(status::routes())
        .merge(metrics::routes())
        .merge(mode::routes())
        .merge(monitoring::routes())
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(
            telemetry,
            request_span,
        ))
}

/// The admin bearer token, checked before the body is read.
pub(super) struct Admin;

impl FromRequestParts<Arc<Shared>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Shared>) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer);
        match token {
            Some(token)
                if app
                    .auth
                    .admin
                    .as_ref()
                    .is_some_and(|admin| admin.matches(token)) =>
            {
                Ok(Self)
            }
            _ => Err(ApiError::unauthorized(ADMIN_CHALLENGE)),
        }
    }
}

/// The `storage` section: which backend, and whether it answers (degraded when its
/// check is not healthy or transition records wait for it). Routes that hold the check
/// results pass them, so the section agrees with the results they show.
pub(super) fn storage_json(
    app: &Shared,
    snapshot: Option<&BTreeMap<String, HealthCheckResult>>,
) -> Value {
    let pending_records = app.fallback.pending_records();
    let degraded = pending_records > 0
        || app
            .storage_check_status(snapshot)
            .is_some_and(|status| status != HealthCheckStatus::Healthy);
    json!({
        "backend": app.storage.backend(),
        "status": if degraded { "degraded" } else { "ok" },
        "pending_records": pending_records,
    })
}
