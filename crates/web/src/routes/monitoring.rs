//! `/monitoring/*`: alert webhooks and registered integrations.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use health::model::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Admin, Routes};
use crate::auth::bearer;
use crate::error::Chain;
use crate::http::{ApiError, ok, read_json, read_json_value};
use crate::state::Shared;

/// The key prefix of integrations registered through `/monitoring/register`.
pub(crate) const INTEGRATION_KEY_PREFIX: &str = "monitoring:integration:";

/// The longest integration name `/monitoring/register` accepts.
const MAX_INTEGRATION_NAME: usize = 128;

const WEBHOOK_CHALLENGE: &str = "Bearer realm=\"webhooks\"";

/// `/monitoring/register`, `/monitoring/{provider}/webhook`.
pub(super) fn routes(routes: Routes<'_>) -> Routes<'_> {
    routes
        .route("/monitoring/register", post(register_integration))
        .route("/monitoring/{provider}/webhook", post(webhook))
}

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
    State(app): State<Arc<Shared>>,
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
    // Bounded: a frozen storage must not hold the caller for the adapter's whole retry
    // budget. The write is idempotent (one key per name), so a retry after a 503 is safe
    // even if the abandoned write lands later.
    let bound = app.storage_write_timeout;
    match tokio::time::timeout(bound, app.storage.set(&key, record, None)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(integration = %name, error = %Chain(&error), "integration not registered: storage failed");
            return Err(ApiError::storage_unavailable(
                "storage did not accept the registration; retry later",
            ));
        }
        Err(_elapsed) => {
            tracing::warn!(integration = %name, bound = ?bound, "integration not registered: storage did not answer in time");
            return Err(ApiError::storage_unavailable(format!(
                "storage did not answer within {bound:?}; retry later"
            )));
        }
    }
    tracing::info!(integration = %name, provider, "integration registered");
    Ok(ok(
        json!({"status": "registered", "name": name, "provider": provider}),
    ))
}

/// `POST /monitoring/{provider}/webhook`, refusing in this order: an unknown provider
/// 404, a missing or wrong secret 401, then the body checks of [`read_json_value`], then
/// a payload the provider never sends 422.
async fn webhook(
    State(app): State<Arc<Shared>>,
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
        // Components changed: readiness and the state show it from the next request.
        app.invalidate();
        // The components just changed: cascade now rather than at the next tick, off the
        // request so the provider gets its answer at once.
        app.cascade_soon();
    }
    Ok(ok(json!({
        "ingested": ingested,
        "deduplicated": report.deduplicated,
        "dropped": report.dropped,
        "ignored": report.ignored,
    })))
}
