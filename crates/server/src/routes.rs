//! The routes: each reads the one monitor and the one fallback manager, runs no health
//! check itself (except `POST /health/cascade`, which asks for a fresh evaluation).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use condition::Context;
use fallback::metrics::RECENT_TRANSITIONS;
use fallback::{FallbackMode, ManagerMetrics, ModeHold};
use health::groups::HealthGroup;
use health::model::{GroupHealth, SystemStatus, Timestamp};
use health::{HealthCheckResult, HealthCheckStatus, HealthState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::bearer;
use crate::config::plan::ShowDetails;
use crate::error::Chain;
use crate::http::{ApiError, ok, read_json, read_json_value, with_status};

/// The key prefix of integrations registered through `/monitoring/register`.
pub(crate) const INTEGRATION_KEY_PREFIX: &str = "monitoring:integration:";

/// The default and the largest `limit` of `/fallback/transitions`.
const DEFAULT_TRANSITIONS_LIMIT: usize = 50;
const MAX_TRANSITIONS_LIMIT: usize = 10_000;

/// The longest hold `POST /fallback/mode` accepts: 30 days. Longer is a mistake (a
/// hold that forgets its operator); hold until released instead.
const MAX_HOLD_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// The longest integration name `/monitoring/register` accepts.
const MAX_INTEGRATION_NAME: usize = 128;

const ADMIN_CHALLENGE: &str = "Bearer realm=\"resilience\"";
const WEBHOOK_CHALLENGE: &str = "Bearer realm=\"webhooks\"";

/// The readiness probe's success body, its most frequent answer: a constant, built once.
const READY_BODY: &str = r#"{"status":"ready"}"#;

/// How many names a probe's body lists at most (with their count): bodies stay small
/// however many checks or components fail.
const MAX_NAMES: usize = 20;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/livez", get(live))
        .route("/health/ready", get(ready))
        .route("/readyz", get(ready))
        .route("/health/startup", get(startup))
        .route("/startupz", get(startup))
        .route("/health/group/{name}", get(group))
        .route("/health/state", get(state))
        .route("/health/checks", get(checks))
        .route("/health/cascade", get(cascade_cached).post(cascade_now))
        .route("/health/metrics", get(metrics))
        .route("/metrics", get(metrics))
        .route("/fallback/transitions", get(transitions))
        .route("/fallback/metrics", get(fallback_metrics))
        .route(
            "/fallback/mode",
            get(current_mode).post(set_mode).delete(release_mode),
        )
        .route("/fallback/evaluate", post(evaluate))
        .route("/monitoring/register", post(register_integration))
        .route("/monitoring/{provider}/webhook", post(webhook))
        .fallback(crate::http::not_found)
        .method_not_allowed_fallback(crate::http::method_not_allowed)
        .with_state(app)
}

// ----- authentication --------------------------------------------------------------------

/// The admin bearer token, checked before the body is read.
pub(crate) struct Admin;

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer);
        match token {
            Some(token) if app.auth.admin.matches(token) => Ok(Self),
            _ => Err(ApiError::unauthorized(ADMIN_CHALLENGE)),
        }
    }
}

// ----- health ----------------------------------------------------------------------------

#[derive(Serialize)]
struct LiveBody {
    status: &'static str,
    timestamp: Timestamp,
}

/// `GET /health/live`, `/livez`: 200 while no critical check of the liveness group
/// (tagged `live`; none by default) is unhealthy. Serialized straight from a struct: the
/// probe most often called builds no JSON tree.
async fn live(State(app): State<Arc<App>>) -> Response {
    let liveness = app.monitor.group_health(&HealthGroup::liveness());
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
async fn ready(State(app): State<Arc<App>>) -> Response {
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
        let startup = app.monitor.group_health(&HealthGroup::startup());
        let readiness = app.monitor.group_health(&HealthGroup::readiness());
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
    let readiness = app.monitor.group_health(&HealthGroup::readiness());
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
async fn startup(State(app): State<Arc<App>>) -> Response {
    if app.startup_complete() {
        return ok(json!({"status": "started"}));
    }
    let startup = app.monitor.group_health(&HealthGroup::startup());
    with_status(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "status": "starting",
            "pending": first_names(&startup.pending),
            "failed": first_names(&startup.failed),
        }),
    )
}

/// `GET /health/group/{name}`: a named group of `[health.groups]`: 200 unless a critical
/// member is unhealthy or has not run yet (503); the members' statuses, and with
/// details shown, their results.
async fn group(
    State(app): State<Arc<App>>,
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
    let health: GroupHealth = app.monitor.group_health(group);
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

/// Whether this request may see check messages and metadata (URLs, paths) and alert
/// texts: `[health] show_details`, `when_authorized` asking for the admin token.
fn shows_details(app: &App, headers: &HeaderMap) -> bool {
    match app.show_details {
        ShowDetails::Never => false,
        ShowDetails::Always => true,
        ShowDetails::WhenAuthorized => headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer)
            .is_some_and(|token| app.auth.admin.matches(token)),
    }
}

/// `state` without what may tell an outsider too much: each check's message and
/// metadata (URLs, paths, status codes) and each component's last error and metadata
/// (alert texts, links).
fn hide_details(state: &mut HealthState) {
    for result in state.health_checks.values_mut() {
        result.message.clear();
        result.metadata.clear();
    }
    for component in state.components.values_mut() {
        component.last_error = None;
        component.metadata.clear();
    }
}

/// The `storage` section: which backend, and whether it answers (degraded when its
/// check is not healthy or transition records wait for it). Routes that hold the check
/// results pass them, so the section agrees with the results they show.
fn storage_json(app: &App, snapshot: Option<&BTreeMap<String, HealthCheckResult>>) -> Value {
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

#[derive(Serialize)]
struct StateBody<'a> {
    #[serde(flatten)]
    state: &'a HealthState,
    fallback: Value,
    storage: Value,
    details: &'static str,
}

async fn state(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut state = app.monitor.cached_state();
    let shown = shows_details(&app, &headers);
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
        storage: storage_json(&app, Some(&state.health_checks)),
        details: if shown { "shown" } else { "hidden" },
    };
    axum::Json(body).into_response()
}

async fn checks(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
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
async fn cascade_cached(State(app): State<Arc<App>>) -> Response {
    let previous = app.fallback.get_current_mode();
    let mode = app.fallback.cascade(&app.monitor.cached_state()).await;
    cascade_answer(&app, previous, mode)
}

/// `POST /health/cascade`: re-runs expired checks, then cascades.
async fn cascade_now(_admin: Admin, State(app): State<Arc<App>>) -> Response {
    let previous = app.fallback.get_current_mode();
    let state = app.monitor.get_comprehensive_state().await;
    let mode = app.fallback.cascade(&state).await;
    cascade_answer(&app, previous, mode)
}

fn cascade_answer(app: &App, previous: FallbackMode, mode: FallbackMode) -> Response {
    ok(json!({
        "fallback_mode": mode,
        "previous_mode": previous,
        "changed": mode != previous,
        "held": app.fallback.current_hold().is_some(),
        "timestamp": Timestamp::now(),
    }))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, app.prometheus.content_type())],
        app.prometheus.render(),
    )
        .into_response()
}

// ----- fallback --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionsQuery {
    limit: Option<usize>,
}

async fn transitions(
    State(app): State<Arc<App>>,
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

async fn fallback_metrics(State(app): State<Arc<App>>) -> axum::Json<FallbackMetricsBody> {
    axum::Json(FallbackMetricsBody {
        metrics: app.fallback.get_metrics(),
        storage: storage_json(&app, None),
    })
}

async fn current_mode(State(app): State<Arc<App>>) -> Response {
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
    State(app): State<Arc<App>>,
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
async fn release_mode(_admin: Admin, State(app): State<Arc<App>>) -> Response {
    let released: Option<ModeHold> = app.fallback.release_hold();
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
    State(app): State<Arc<App>>,
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

// ----- monitoring --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    provider: String,
    name: String,
    #[serde(default)]
    config: Option<Map<String, Value>>,
}

async fn register_integration(
    _admin: Admin,
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let RegisterBody {
        provider,
        name,
        config,
    } = read_json(&headers, body, app.max_body_bytes).await?;
    let Some(adapter) = health::alerts::adapter_for(provider.trim()) else {
        return Err(ApiError::bad_request(
            "unknown_provider",
            format!(
                "not a supported provider: expected {}, got {provider:?}",
                health::alerts::PROVIDERS.join(" or ")
            ),
        )
        .with("valid_providers", health::alerts::PROVIDERS));
    };
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_INTEGRATION_NAME
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!(
                "name must be 1 to {MAX_INTEGRATION_NAME} characters without control characters"
            ),
        ));
    }
    let provider = adapter.provider();
    let record = json!({
        "provider": provider,
        "name": name,
        "config": config.unwrap_or_default(),
        "registered_at": Timestamp::now(),
    });
    let key = format!("{INTEGRATION_KEY_PREFIX}{name}");
    app.storage.set(&key, record, None).await.map_err(|error| {
        tracing::warn!(integration = %name, error = %Chain(&error), "integration not registered: storage failed");
        ApiError::storage_unavailable("storage did not accept the registration; retry later")
    })?;
    tracing::info!(integration = %name, provider, "integration registered");
    Ok(ok(
        json!({"status": "registered", "name": name, "provider": provider}),
    ))
}

/// `POST /monitoring/{provider}/webhook`, refusing in this order: an unknown provider
/// 404, a missing or wrong secret 401, then the body checks of [`read_json_value`], then
/// a payload the provider never sends 422.
async fn webhook(
    State(app): State<Arc<App>>,
    provider: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let adapter = provider
        .ok()
        .and_then(|Path(provider)| health::alerts::adapter_for(&provider))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "provider not supported: expected {}",
                health::alerts::PROVIDERS.join(" or ")
            ))
            .with("valid_providers", health::alerts::PROVIDERS)
        })?;
    let provider = adapter.provider();
    let secret = app
        .auth
        .webhook_secret(provider)
        .ok_or_else(|| ApiError::unauthorized(WEBHOOK_CHALLENGE))?;
    let presented = headers
        .get(&app.auth.webhook_header)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(bearer)
        });
    if !presented.is_some_and(|candidate| secret.matches(candidate)) {
        tracing::info!(provider, "webhook refused: missing or wrong secret");
        return Err(ApiError::unauthorized(WEBHOOK_CHALLENGE));
    }
    let payload = read_json_value(&headers, body, app.max_body_bytes).await?;
    let alerts = adapter
        .parse_payload(&payload)
        .map_err(|error| ApiError::unprocessable(error.to_string()).with("provider", provider))?;
    let report = app.alerts.ingest(&alerts);
    let ingested = report.applied;
    tracing::info!(
        provider,
        ingested,
        deduplicated = report.deduplicated,
        dropped = report.dropped,
        "webhook alerts ingested"
    );
    if ingested > 0 {
        // The components just changed: cascade now rather than at the next tick, off the
        // request so the provider gets its answer at once.
        let app = app.clone();
        tokio::spawn(async move {
            let state = app.monitor.cached_state();
            app.fallback.cascade(&state).await;
        });
    }
    Ok(ok(json!({
        "ingested": ingested,
        "deduplicated": report.deduplicated,
        "dropped": report.dropped,
        "ignored": report.ignored,
    })))
}
