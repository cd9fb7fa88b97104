//! One error shape for every HTTP surface (chain REST, the worker's session server, the
//! OpenAI-compatible gateway): OpenAI's `{"error": {"message", "type", "param", "code"}}`, so
//! the official SDKs raise the right error class and every other client parses one shape.
//!
//! Handlers return [`ApiError`]. Responses produced outside the handlers (axum's path, query and
//! JSON rejections, 404 and 405 from the router, 413 from the body limit) pass through
//! [`json_errors`], which rewrites any error response that is not JSON into the same shape, so a
//! client parses every failure one way. Requests whose line or headers are too long are refused
//! by [`limits`] with 414/431 in the same shape before a handler runs.

use axum::{
    Json,
    body::Body,
    extract::{Request, rejection::BytesRejection},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use mycel_ledger::TxError;
use serde::{Deserialize, Serialize};

/// Longest request target (path and query) accepted, bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest total size of the request headers accepted, bytes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most request headers accepted.
pub const MAX_HEADERS: usize = 100;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    param: Option<String>,
}

impl ApiError {
    /// An error with its status, stable code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            param: None,
        }
    }
    /// Names the request parameter at fault.
    pub fn with_param(mut self, param: &str) -> ApiError {
        self.param = (!param.is_empty()).then(|| param.to_string());
        self
    }
    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }
    /// The parameter at fault.
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// An error whose code is named after `status` ([`status_code_name`]).
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status, status_code_name(status), message)
    }
    pub(crate) fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 503: something this answer depends on (the node, a worker) is not reachable now.
    pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    }
    /// The error body, for a place that cannot send a status (an event of a stream).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.body()).expect("an error body serializes")
    }
    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
                kind: error_type(self.status).into(),
                param: self.param.clone(),
            },
        }
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> ApiError {
        let status = match e {
            TxError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TxError::MempoolFull => StatusCode::SERVICE_UNAVAILABLE,
            TxError::SenderLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            TxError::Duplicate(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The error body.
#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message, in OpenAI's shape.
#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: String,
    /// Human message.
    pub message: String,
    /// OpenAI's error type, from the status ([`error_type`]).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The request parameter at fault, if one is.
    #[serde(default)]
    pub param: Option<String>,
}

/// OpenAI's error `type` for a status: what its SDKs and users key on.
pub fn error_type(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::CONFLICT => "conflict_error",
        StatusCode::PAYMENT_REQUIRED => "insufficient_quota",
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        s if s.is_client_error() => "invalid_request_error",
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
            "service_unavailable_error"
        }
        _ => "api_error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<Json<T>, ApiError>;

/// A request body that could not be read: too large, or otherwise unreadable.
pub(crate) fn body_error(e: BytesRejection) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.body_text(),
        ),
        _ => ApiError::bad_request(e.body_text()),
    }
}

/// The stable code of an HTTP status, for errors raised outside the handlers.
pub fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYMENT_REQUIRED => "deposit_exhausted",
        StatusCode::GONE => "session_closed",
        StatusCode::MISDIRECTED_REQUEST => "wrong_worker",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "malformed_json",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// Middleware: rewrites every error response that is not already JSON (extractor rejections,
/// 404/405 from the router, 413 from the body limit) into the one error shape.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Rejection texts are short; anything longer is cut rather than buffered.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&text).trim().to_string();
    if message.is_empty() {
        message = status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase();
    }
    let mut out = ApiError::new(status, status_code_name(status), message).into_response();
    for (k, v) in parts.headers.iter() {
        // Keep `allow` (405) and the like; the body headers are the new ones.
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Middleware: refuses a request whose target or headers are too long (414, 431), in the one
/// error shape, before any handler runs. The server's own parser limits sit above these, so
/// these are the limits a client meets.
pub async fn limits(req: Request<Body>, next: Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("request target is {uri} bytes, above the limit of {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let count = req.headers().len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if count > MAX_HEADERS {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("{count} request headers, above the limit of {MAX_HEADERS}"),
        )
        .into_response();
    }
    if headers > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("request headers are {headers} bytes, above the limit of {MAX_HEADER_BYTES}"),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{
        Router,
        extract::{DefaultBodyLimit, Path, Query},
        routing::{get, post},
    };
    use tower::ServiceExt as _;

    #[derive(serde::Deserialize)]
    struct Q {
        #[allow(dead_code)]
        limit: u64,
    }

    fn app() -> Router {
        let r = Router::new()
            .route(
                "/n/{id}",
                get(|Path(id): Path<u64>| async move { id.to_string() }),
            )
            .route("/q", get(|Query(_): Query<Q>| async { "ok" }))
            .route(
                "/body",
                post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            )
            .route(
                "/json",
                post(|axum::Json(v): axum::Json<serde_json::Value>| async move { v.to_string() }),
            )
            .layer(DefaultBodyLimit::max(16));
        crate::http::with_error_shape(r)
    }

    /// Sends a request and returns (status, error code); panics unless the body is the shape.
    async fn call(req: Request<Body>) -> (StatusCode, String) {
        let resp = app().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        if status.is_success() {
            return (status, String::new());
        }
        let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: not the error shape ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(!body.error.message.is_empty(), "{status} without a message");
        (status, body.error.code)
    }

    fn get_req(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn every_refusal_outside_the_handlers_has_the_one_shape() {
        let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
            (get_req("/n/7"), StatusCode::OK, ""),
            (get_req("/nowhere"), StatusCode::NOT_FOUND, "not_found"),
            (get_req("/n/seven"), StatusCode::BAD_REQUEST, "bad_request"),
            (
                get_req("/n/99999999999999999999999"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                get_req("/q?limit=x"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (get_req("/q"), StatusCode::BAD_REQUEST, "bad_request"),
            (
                Request::delete("/n/7").body(Body::empty()).unwrap(),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
            (
                Request::post("/body")
                    .body(Body::from(vec![0u8; 64]))
                    .unwrap(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                Request::post("/json")
                    .header("content-type", "application/json")
                    .body(Body::from("{nope"))
                    .unwrap(),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Request::post("/json").body(Body::from("{}")).unwrap(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                get_req(&format!("/n/{}", "9".repeat(MAX_URI_BYTES))),
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
            ),
            (
                Request::get("/n/7")
                    .header("x-big", "a".repeat(MAX_HEADER_BYTES))
                    .body(Body::empty())
                    .unwrap(),
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            (
                {
                    let mut r = get_req("/n/7");
                    for i in 0..=MAX_HEADERS {
                        r.headers_mut().insert(
                            header::HeaderName::try_from(format!("x-h{i}")).unwrap(),
                            header::HeaderValue::from_static("1"),
                        );
                    }
                    r
                },
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
        ];
        for (req, status, code) in cases {
            let what = format!("{} {}", req.method(), req.uri().path());
            let (got, got_code) = call(req).await;
            assert_eq!((got, got_code.as_str()), (status, code), "{what}");
        }
    }

    #[tokio::test]
    async fn a_405_keeps_its_allow_header() {
        let resp = app()
            .oneshot(Request::delete("/n/7").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(resp.headers().contains_key(header::ALLOW));
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json",
            "the body is the error shape"
        );
    }
}
