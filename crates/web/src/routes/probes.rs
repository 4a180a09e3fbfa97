//! The probes: `/health/live` (`/livez`), `/health/ready` (`/readyz`),
//! `/health/startup` (`/startupz`) and the named groups, `/health/group/{name}`.
//!
//! Each reads a group of checks chosen by tag (`health::groups`): liveness, readiness,
//! start-up. Probes come often and from many places: liveness and readiness read their
//! group's health as kept for at most the cache max age (a change made through the
//! routes shows at once); the mode and shutdown are read every time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fallback::FallbackMode;
use health::HealthCheckResult;
use health::groups::HealthGroup;
use health::model::{HealthCheckStatus, SystemStatus, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Routes, shows_details, storage_json};
use crate::http::{ApiError, ok, with_status};
use crate::state::Shared;

/// The readiness probe's success body, its most frequent answer: a constant, built once.
const READY_BODY: &str = r#"{"status":"ready"}"#;

/// How many names a probe's body lists at most (with their count): bodies stay small
/// however many checks or components fail.
const MAX_NAMES: usize = 20;

/// The probes, under their `/health/*` paths and Kubernetes' `*z` names.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/health/live", get(live))
        .route("/livez", get(live))
        .route("/health/ready", get(ready))
        .route("/readyz", get(ready))
        .route("/health/startup", get(startup))
        .route("/startupz", get(startup))
        .route("/health/group/{name}", get(group))
}

#[derive(Serialize)]
struct LiveBody {
    status: &'static str,
    timestamp: Timestamp,
}

/// `GET /health/live`, `/livez`: 200 while no critical check of the liveness group
/// (tagged `live`; none by default) is unhealthy. Serialized straight from a struct: the
/// probe most often called builds no JSON tree.
async fn live(State(app): State<Arc<Shared>>) -> Response {
    let liveness = app.liveness();
    if liveness.status == SystemStatus::Failed {
        return with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not_alive",
                "failed": first_names(&liveness.failed),
                "failed_count": liveness.failed.len(),
            }),
        );
    }
    axum::Json(LiveBody {
        status: "alive",
        timestamp: Timestamp::now(),
    })
    .into_response()
}

/// `GET /health/ready`, `/readyz`: whether this instance can serve, in whatever mode.
///
/// 503 only while start-up has not completed, while shutting down, or when a critical
/// check of the readiness group is unhealthy (after its failure threshold). 200 in
/// PRIMARY, HEURISTIC and SAFE alike, and with non-critical checks failing: a degraded
/// mode still serves (Kubernetes: readiness says whether to send traffic here; ASP.NET
/// answers `Degraded` with 200), and when every replica goes SAFE at once, failing
/// readiness would take the whole service out of the load balancer, the outage SAFE
/// exists to avoid. Failed components (alerts, the code's own marks) drive the mode,
/// not readiness. The body is bounded: counts plus the first 20 names.
async fn ready(State(app): State<Arc<Shared>>) -> Response {
    let mode = app.fallback.get_current_mode();
    if app.shutting_down.load(Ordering::Relaxed) {
        return with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not_ready",
                "mode": mode,
                "failed_checks": [],
                "detail": "Service not ready: shutting down",
            }),
        );
    }
    if !app.startup_complete() {
        let startup = app.monitor.group_health(&app.probes.startup);
        let readiness = app.monitor.group_health(&app.probes.readiness);
        let waiting: Vec<String> = startup
            .checks
            .iter()
            .filter(|(_, member)| member.status != HealthCheckStatus::Healthy)
            .map(|(name, _)| name.clone())
            .chain(readiness.pending.iter().cloned())
            .collect();
        return with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "starting",
                "mode": mode,
                "waiting_for": first_names(&waiting),
                "waiting_count": waiting.len(),
                "detail": "Service not ready: start-up has not completed",
            }),
        );
    }
    let readiness = app.readiness();
    if readiness.status == SystemStatus::Failed {
        return with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not_ready",
                "mode": mode,
                "failed_checks": first_names(&readiness.failed),
                "failed_count": readiness.failed.len(),
                "detail": format!(
                    "Service not ready: critical checks failing: {}",
                    first_names(&readiness.failed).join(", ")
                ),
                "storage": storage_json(&app, None),
            }),
        );
    }
    if mode == FallbackMode::Primary && readiness.status == SystemStatus::Healthy {
        return ([(header::CONTENT_TYPE, "application/json")], READY_BODY).into_response();
    }
    let degraded: Vec<String> = readiness
        .checks
        .iter()
        .filter(|(_, member)| member.status != HealthCheckStatus::Healthy)
        .map(|(name, _)| name.clone())
        .collect();
    ok(json!({
        "status": "ready",
        "mode": mode,
        "health": readiness.status,
        "degraded_checks": first_names(&degraded),
        "degraded_count": degraded.len(),
    }))
}

/// `GET /health/startup`, `/startupz`: 200 once start-up has completed (every check
/// tagged `startup` passed once, every critical readiness check ran), for good; 503
/// before.
async fn startup(State(app): State<Arc<Shared>>) -> Response {
    if app.startup_complete() {
        return ok(json!({"status": "started"}));
    }
    let startup = app.monitor.group_health(&app.probes.startup);
    with_status(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "status": "starting",
            "pending": first_names(&startup.pending),
            "failed": first_names(&startup.failed),
        }),
    )
}

/// `GET /health/group/{name}`: a named group: 200 unless a critical member is unhealthy
/// or has not run yet (503); the members' statuses, and with details shown, their
/// results.
async fn group(
    State(app): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let group = name
        .ok()
        .and_then(|Path(name)| app.groups.iter().find(|group| group.name() == name))
        .ok_or_else(|| {
            let names: Vec<&str> = app.groups.iter().map(HealthGroup::name).collect();
            ApiError::not_found("no such health group").with("groups", names)
        })?;
    let health = app.monitor.group_health(group);
    let status = if health.is_up() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::to_value(&health).unwrap_or(Value::Null);
    if shows_details(&app, &headers) {
        let state = app.monitor.cached_state();
        let results: BTreeMap<&String, &HealthCheckResult> = state
            .health_checks
            .iter()
            .filter(|(name, _)| health.checks.contains_key(*name))
            .collect();
        body["results"] = serde_json::to_value(results).unwrap_or(Value::Null);
    }
    Ok(with_status(status, body))
}

/// At most [`MAX_NAMES`] of `names`.
fn first_names(names: &[String]) -> Vec<&str> {
    names.iter().take(MAX_NAMES).map(String::as_str).collect()
}
