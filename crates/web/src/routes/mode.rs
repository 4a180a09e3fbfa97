//! `/fallback/*`: the mode and the operator's hold, the transitions, the manager's
//! metrics, the configured rules.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use condition::Context;
use fallback::{FallbackMode, ManagerMetrics, ModeHold};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Admin, Routes, storage_json};
use crate::error::Chain;
use crate::http::{ApiError, ok, read_json, read_json_value};
use crate::state::Shared;

/// The default and the largest `limit` of `/fallback/transitions`.
const DEFAULT_TRANSITIONS_LIMIT: usize = 50;
const MAX_TRANSITIONS_LIMIT: usize = 10_000;

/// The longest hold `POST /fallback/mode` accepts: 30 days. Longer is a mistake (a
/// hold that forgets its operator); hold until released instead.
const MAX_HOLD_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// `/fallback/transitions`, `/fallback/metrics`, `/fallback/mode`, `/fallback/evaluate`.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/fallback/transitions", get(transitions))
        .route("/fallback/metrics", get(fallback_metrics))
        .route(
            "/fallback/mode",
            get(current_mode).post(set_mode).delete(release_mode),
        )
        .route("/fallback/evaluate", post(evaluate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionsQuery {
    limit: Option<usize>,
}

async fn transitions(
    State(app): State<Arc<Shared>>,
    query: Result<Query<TransitionsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request(
            "invalid_query",
            format!("invalid query: {}", rejection.body_text()),
        )
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_TRANSITIONS_LIMIT);
    if !(1..=MAX_TRANSITIONS_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_TRANSITIONS_LIMIT}, got {limit}"),
        ));
    }
    Ok(ok(json!({
        "transitions": app.fallback.get_transitions_log(limit),
        "total_transitions": app.fallback.total_transitions(),
        "storage": storage_json(&app, None),
    })))
}

#[derive(Serialize)]
struct FallbackMetricsBody {
    #[serde(flatten)]
    metrics: ManagerMetrics,
    storage: Value,
}

async fn fallback_metrics(State(app): State<Arc<Shared>>) -> axum::Json<FallbackMetricsBody> {
    axum::Json(FallbackMetricsBody {
        metrics: app.fallback.get_metrics(),
        storage: storage_json(&app, None),
    })
}

async fn current_mode(State(app): State<Arc<Shared>>) -> Response {
    let mode = app.fallback.get_current_mode();
    ok(json!({
        "mode": mode,
        "is_degraded": mode.is_degraded(),
        "hold": app.fallback.current_hold(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: String,
    /// Absent (or null): hold until released; 0: no hold; else hold this long.
    #[serde(default)]
    hold_seconds: Option<f64>,
}

/// The hold `hold_seconds` asks for: `None` for none (0), `Some(None)` until released.
fn hold_duration(hold_seconds: Option<f64>) -> Result<Option<Option<Duration>>, ApiError> {
    let Some(seconds) = hold_seconds else {
        return Ok(Some(None));
    };
    if !seconds.is_finite() || !(0.0..=MAX_HOLD_SECONDS).contains(&seconds) {
        return Err(ApiError::bad_request(
            "invalid_hold",
            format!(
                "`hold_seconds` must be a number of seconds from 0 (no hold) to {MAX_HOLD_SECONDS} (30 days), or absent to hold until released; got {seconds}"
            ),
        )
        .with("field", "hold_seconds"));
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    // In range, so the conversion cannot fail; a sub-nanosecond hold rounds up.
    let duration = Duration::try_from_secs_f64(seconds)
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_nanos(1));
    Ok(Some(Some(duration)))
}

async fn set_mode(
    _admin: Admin,
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ModeBody { mode, hold_seconds } = read_json(&headers, body, app.max_body_bytes).await?;
    let Ok(target) = mode.parse::<FallbackMode>() else {
        let valid: Vec<&str> = FallbackMode::ALL.iter().map(|mode| mode.as_str()).collect();
        return Err(ApiError::bad_request(
            "invalid_mode",
            // The valid names first: a long input is cut from the detail.
            format!(
                "not a fallback mode: expected one of {}, got {mode:?}",
                valid.join(", ")
            ),
        )
        .with("valid_modes", valid));
    };
    let hold = hold_duration(hold_seconds)?;
    let previous = app.fallback.get_current_mode();
    let changed = match hold {
        None => app.fallback.set_mode_to(target).await,
        Some(duration) => app.fallback.hold_mode(target, duration).await,
    }
    .map_err(|error| {
        ApiError::new(
            StatusCode::CONFLICT,
            "mode_change_refused",
            Chain(&error).to_string(),
        )
    })?;
    // The hold may have changed without a transition: the kept answers show it now.
    app.invalidate();
    let hold = app.fallback.current_hold();
    tracing::info!(
        from = %previous,
        to = %target,
        changed,
        held = hold.is_some(),
        hold_seconds = hold.and_then(|hold| hold.remaining).map(|left| left.as_secs_f64()),
        "fallback mode set by an operator"
    );
    Ok(ok(json!({
        "mode": app.fallback.get_current_mode(),
        "previous_mode": previous,
        "changed": changed,
        "hold": hold,
    })))
}

/// `DELETE /fallback/mode`: ends the operator's hold and hands the mode back to the
/// cascade at once, on the monitor's cached state (as one tick of the loop would).
async fn release_mode(_admin: Admin, State(app): State<Arc<Shared>>) -> Response {
    let released: Option<ModeHold> = app.fallback.release_hold();
    app.invalidate();
    let previous = app.fallback.get_current_mode();
    let mode = app.fallback.cascade(&app.monitor.cached_state()).await;
    tracing::info!(
        released = released.is_some(),
        from = %previous,
        to = %mode,
        "fallback mode hold released by an operator"
    );
    ok(json!({
        "mode": mode,
        "previous_mode": previous,
        "changed": mode != previous,
        "released": released,
    }))
}

/// `POST /fallback/evaluate`: runs the configured fallback rules whose condition holds
/// for the posted variables (`{"severity": 0.9, "recurrence_count": 3}`).
async fn evaluate(
    _admin: Admin,
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let variables = read_json_value(&headers, body, app.max_body_bytes).await?;
    if !variables.is_object() {
        return Err(ApiError::unprocessable(
            "the body must be a JSON object of variables, e.g. {\"severity\": 0.9}",
        ));
    }
    let context = Context::from_json(&variables)
        .map_err(|error| ApiError::unprocessable(format!("invalid variables: {error}")))?;
    let report = app.fallback.evaluate_fallbacks(&context).await;
    let report = serde_json::to_value(&report).unwrap_or(Value::Null);
    Ok(ok(json!({
        "report": report,
        "mode": app.fallback.get_current_mode(),
        // Rules storage has not taken yet (down since start-up) cannot fire: say so.
        "unregistered_rules": app.fallback.pending_fallbacks(),
    })))
}
