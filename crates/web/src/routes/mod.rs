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
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::routing::{MethodRouter, any};
use health::{HealthCheckResult, HealthCheckStatus, HealthState};
use serde_json::{Value, json};

use crate::auth::bearer;
use crate::http::ApiError;
use crate::state::{ResilienceState, Shared, ShowDetails};
use crate::telemetry::UNMATCHED_ROUTE;

#[cfg(feature = "prometheus")]
mod metrics;
mod mode;
#[cfg(feature = "alerts")]
mod monitoring;
mod probes;
mod status;

const ADMIN_CHALLENGE: &str = "Bearer realm=\"resilience\"";

/// The routes on `state`: each group's routes, each counted and timed under its
/// pattern, answering a method it does not take with the JSON 405.
pub(crate) fn router(resilience: &ResilienceState) -> Router {
    let app = resilience.shared.clone();
    let routes = Routes {
        router: Router::new(),
        shared: &app,
    };
    let routes = probes::routes(routes);
    let routes = status::routes(routes);
    #[cfg(feature = "prometheus")]
    let routes = metrics::routes(routes);
    let routes = mode::routes(routes);
    #[cfg(feature = "alerts")]
    let routes = monitoring::routes(routes);
    let router = routes.router;
    router.with_state(app)
}

/// The JSON 404 for a path no route matches, counted under the route `unmatched`.
pub(crate) fn not_found(resilience: &ResilienceState) -> MethodRouter {
    any(crate::http::not_found).layer(resilience.shared.telemetry(UNMATCHED_ROUTE))
}

/// A group's routes being built: [`route`](Self::route) adds one, counted and timed
/// under its pattern (the same whatever prefix the router is nested under).
pub(super) struct Routes<'a> {
    router: Router<Arc<Shared>>,
    shared: &'a Shared,
}

impl Routes<'_> {
    /// Adds `method_router` at `path`, with the JSON 405 for other methods.
    pub(super) fn route(mut self, path: &str, method_router: MethodRouter<Arc<Shared>>) -> Self {
        let method_router = method_router
            .fallback(crate::http::method_not_allowed)
            .layer(self.shared.telemetry(path));
        self.router = self.router.route(path, method_router);
        self
    }
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

/// Whether this request may see check messages and metadata (URLs, paths) and alert
/// texts: the state's `show_details`, `WhenAuthorized` asking for the admin token.
pub(super) fn shows_details(app: &Shared, headers: &HeaderMap) -> bool {
    match app.show_details {
        ShowDetails::Never => false,
        ShowDetails::Always => true,
        ShowDetails::WhenAuthorized => headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer)
            .is_some_and(|token| {
                app.auth
                    .admin
                    .as_ref()
                    .is_some_and(|admin| admin.matches(token))
            }),
    }
}

/// `state` without what may tell an outsider too much: each check's message and
/// metadata (URLs, paths, status codes) and each component's last error and metadata
/// (alert texts, links).
pub(super) fn hide_details(state: &mut HealthState) {
    for result in state.health_checks.values_mut() {
        result.message.clear();
        result.metadata.clear();
    }
    for component in state.components.values_mut() {
        component.last_error = None;
        component.metadata.clear();
    }
}
