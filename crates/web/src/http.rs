//! JSON error bodies and request-body reading with the server's limits.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::serve::BodyReadTimeout;

/// An answer that is not a success: a status and the JSON body every error shares,
/// `{"error": "<code>", "detail": "<message>"}`, plus route-specific fields.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    extra: Map<String, Value>,
    challenge: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: bounded(detail.into()),
            extra: Map::new(),
            challenge: None,
        }
    }

    /// Adds a field to the body.
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 400 with `code`.
    pub(crate) fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with a `WWW-Authenticate` challenge (RFC 9110 requires one). The detail never
    /// says which part of the credentials was wrong.
    pub(crate) fn unauthorized(challenge: &'static str) -> Self {
        Self {
            challenge: Some(challenge),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid credentials",
            )
        }
    }

    /// 404.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 422: valid JSON of the wrong shape.
    pub(crate) fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail)
    }

    /// 503: storage did not answer.
    #[cfg_attr(
        not(feature = "alerts"),
        allow(
            dead_code,
            reason = "the route that writes storage itself is an `alerts` route"
        )
    )]
    pub(crate) fn storage_unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            detail,
        )
    }
}

/// The longest `detail`, in characters. Details quote what was wrong (an unknown mode,
/// serde's `invalid type: string "..."`): a megabyte of input must not come back.
const MAX_DETAIL_CHARS: usize = 256;

fn bounded(mut detail: String) -> String {
    if let Some((end, _)) = detail.char_indices().nth(MAX_DETAIL_CHARS) {
        detail.truncate(end);
        detail.push_str("...");
    }
    detail
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::from(self.code));
        body.insert("detail".to_owned(), Value::from(self.detail));
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// The JSON answer for any route that does not exist.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// The JSON answer for a route that exists with other methods.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Reads a JSON request body, in this order of refusals: a content type other than JSON
/// 415, a body over `limit` bytes 413, a body not read within the serve loop's body-read
/// timeout 408, text that is not JSON 400, JSON of the wrong shape 422 naming the field.
pub(crate) async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let value = read_json_value(headers, body, limit).await?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            ApiError::unprocessable(format!("invalid request body: {inner}"))
        } else {
            ApiError::unprocessable(format!("invalid request body at `{path}`: {inner}"))
                .with("field", path)
        }
    })
}

/// [`read_json`] up to the syntax check, for bodies of any shape.
pub(crate) async fn read_json_value(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Value, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| {
        if caused_by::<BodyReadTimeout>(&error) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            )
        } else if caused_by::<http_body_util::LengthLimitError>(&error) {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {limit} bytes"),
            )
            .with("limit_bytes", limit)
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        }
    })?;
    // The message says where (line, column) and what, never echoes the input.
    serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request("malformed_json", format!("malformed JSON: {error}"))
    })
}

/// Whether `error` or one of its sources is an `E`.
fn caused_by<E: std::error::Error + 'static>(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<E>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Whether the content type is JSON: `application/json` or `application/<x>+json`, with
/// any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON `200 OK`.
pub(crate) fn ok(body: Value) -> Response {
    Json(body).into_response()
}

/// A JSON answer with `status`.
pub(crate) fn with_status(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_cut_on_a_character_boundary() {
        fn check(detail: &str, expected: &str) {
            assert_eq!(bounded(detail.to_owned()), expected);
        }
        check("short", "short");
        let exact = "é".repeat(MAX_DETAIL_CHARS);
        check(&exact, &exact);
        check(&"é".repeat(MAX_DETAIL_CHARS + 1), &format!("{exact}..."));
    }

    #[test]
    fn json_content_types_are_recognized() {
        fn check(content_type: Option<&str>, expected: bool) {
            let mut headers = HeaderMap::new();
            if let Some(value) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            }
            assert_eq!(is_json(&headers), expected, "{content_type:?}");
        }
        check(Some("application/json"), true);
        check(Some("Application/JSON; charset=utf-8"), true);
        check(Some("application/vnd.api+json"), true);
        check(Some("text/plain"), false);
        check(Some("application/x-www-form-urlencoded"), false);
        check(Some("application/jsonx"), false);
        check(None, false);
    }
}
