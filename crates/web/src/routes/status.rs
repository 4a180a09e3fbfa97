//! `/health/*`: the probes, the state, the check results and the cascade.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fallback::{FallbackMode, RECENT_TRANSITIONS};
use health::HealthState;
use health::model::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Admin, Routes, storage_json};
use crate::http::{ok, with_status};
use crate::state::Shared;

/// The readiness probe's success body, its most frequent answer: a constant, built once.
const READY_BODY: &str = r#"{"status":"ready"}"#;

const JSON: &str = "application/json";

/// `/health/live`, `/health/ready`, `/health/state`, `/health/checks`, `/health/cascade`.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/state", get(state))
        .route("/health/checks", get(checks))
        .route("/health/cascade", get(cascade_cached).post(cascade_now))
}

#[derive(Serialize)]
struct LiveBody {
    status: &'static str,
    timestamp: Timestamp,
}

/// Serialized straight from a struct: the probe most often called builds no JSON tree.
async fn live() -> axum::Json<LiveBody> {
    axum::Json(LiveBody {
        status: "alive",
        timestamp: Timestamp::now(),
    })
}

async fn ready(State(app): State<Arc<Shared>>) -> Response {
    let mode = app.fallback.get_current_mode();
    if app.shutting_down.load(Ordering::Relaxed) {
        return with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not_ready",
                "mode": mode,
                "failed_components": [],
                "detail": "Service not ready: shutting down",
            }),
        );
    }
    // Probed often, and by many: the summary is made at most once per cache max age
    // (see `Shared::summary`); the mode and shutdown above are read every time.
    let summary = app.summary();
    let failed = summary.failed_names();
    if mode == FallbackMode::Primary && failed.is_empty() && summary.system.failed_components == 0 {
        return ([(header::CONTENT_TYPE, JSON)], READY_BODY).into_response();
    }
    let mut reasons = Vec::new();
    if mode != FallbackMode::Primary {
        reasons.push(format!("{mode} mode"));
    }
    if !failed.is_empty() {
        reasons.push(format!("failed components: {}", failed.join(", ")));
    }
    with_status(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "status": "not_ready",
            "mode": mode,
            "failed_components": failed,
            "detail": format!("Service not ready: {}", reasons.join("; ")),
            "storage": storage_json(&app, None),
        }),
    )
}

#[derive(Serialize)]
struct StateBody<'a> {
    #[serde(flatten)]
    state: &'a HealthState,
    fallback: Value,
    storage: Value,
}

/// `GET /health/state`, rendered at most once per cache max age unless a route changed
/// something or the mode changed meanwhile: a large registry renders in milliseconds,
/// and dashboards poll it.
async fn state(State(app): State<Arc<Shared>>) -> Response {
    let key = (app.generation(), app.fallback.total_transitions());
    let body = app
        .views
        .state
        .get(key, app.cache_max_age, || render_state(&app));
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}

fn render_state(app: &Shared) -> Bytes {
    let state = app.monitor.cached_state();
    let fallback = json!({
        "mode": app.fallback.get_current_mode(),
        "hold": app.fallback.current_hold(),
        "cascade_log": app.fallback.get_transitions_log(RECENT_TRANSITIONS),
    });
    let body = StateBody {
        state: &state,
        fallback,
        storage: storage_json(app, Some(&state.health_checks)),
    };
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_vec(&body).map_or_else(
        |error| {
            tracing::error!(%error, "the health state could not be serialized");
            Bytes::from_static(b"{}")
        },
        Bytes::from,
    )
}

async fn checks(State(app): State<Arc<Shared>>) -> Response {
    let checks = app.monitor.cached_state().health_checks;
    let storage = storage_json(&app, Some(&checks));
    ok(json!({"checks": checks, "timestamp": Timestamp::now(), "storage": storage}))
}

/// `GET /health/cascade`: cascades now on the monitor's cached state, exactly as one
/// tick of the cascade loop does (no check runs; an operator's hold stands).
async fn cascade_cached(State(app): State<Arc<Shared>>) -> Response {
    let previous = app.fallback.get_current_mode();
    let mode = app.fallback.cascade(&app.monitor.cached_state()).await;
    cascade_answer(&app, previous, mode)
}

/// `POST /health/cascade`: re-runs expired checks, then cascades.
async fn cascade_now(_admin: Admin, State(app): State<Arc<Shared>>) -> Response {
    let previous = app.fallback.get_current_mode();
    let state = app.monitor.get_comprehensive_state().await;
    // Fresh results: the kept answers show them from now on.
    app.invalidate();
    let mode = app.fallback.cascade(&state).await;
    cascade_answer(&app, previous, mode)
}

fn cascade_answer(app: &Shared, previous: FallbackMode, mode: FallbackMode) -> Response {
    ok(json!({
        "fallback_mode": mode,
        "previous_mode": previous,
        "changed": mode != previous,
        "held": app.fallback.current_hold().is_some(),
        "timestamp": Timestamp::now(),
    }))
}
