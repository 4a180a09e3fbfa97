//! `/health/state`, `/health/checks` and `/health/cascade`: the whole state, the check
//! results, the cascade on demand.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fallback::FallbackMode;
use fallback::metrics::RECENT_TRANSITIONS;
use health::HealthState;
use health::model::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Admin, Routes, hide_details, shows_details, storage_json};
use crate::http::ok;
use crate::state::Shared;

const JSON: &str = "application/json";

/// `/health/state`, `/health/checks`, `/health/cascade`.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/health/state", get(state))
        .route("/health/checks", get(checks))
        .route("/health/cascade", get(cascade_cached).post(cascade_now))
}

#[derive(Serialize)]
struct StateBody<'a> {
    #[serde(flatten)]
    state: &'a HealthState,
    fallback: Value,
    storage: Value,
    details: &'static str,
}

/// `GET /health/state`, rendered at most once per cache max age unless a route changed
/// something or the mode changed meanwhile: a large registry renders in milliseconds,
/// and dashboards poll it. Check messages and metadata and alert texts only where
/// details are shown (two kept bodies: with and without).
async fn state(State(app): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let key = (app.generation(), app.fallback.total_transitions());
    let shown = shows_details(&app, &headers);
    let kept = if shown {
        &app.views.state_shown
    } else {
        &app.views.state_hidden
    };
    let body = kept.get(key, app.cache_max_age, || render_state(&app, shown));
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}

fn render_state(app: &Shared, shown: bool) -> Bytes {
    let mut state = app.monitor.cached_state();
    if !shown {
        hide_details(&mut state);
    }
    let fallback = json!({
        "mode": app.fallback.get_current_mode(),
        "hold": app.fallback.current_hold(),
        "cascade_log": app.fallback.get_transitions_log(RECENT_TRANSITIONS),
    });
    let body = StateBody {
        state: &state,
        fallback,
        storage: storage_json(app, Some(&state.health_checks)),
        details: if shown { "shown" } else { "hidden" },
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

async fn checks(State(app): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let mut state = app.monitor.cached_state();
    let shown = shows_details(&app, &headers);
    if !shown {
        hide_details(&mut state);
    }
    let storage = storage_json(&app, Some(&state.health_checks));
    ok(json!({
        "checks": state.health_checks,
        "timestamp": Timestamp::now(),
        "storage": storage,
        "details": if shown { "shown" } else { "hidden" },
    }))
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
