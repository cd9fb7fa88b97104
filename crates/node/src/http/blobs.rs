//! Content-addressed blobs (job inputs and outputs, dataset chunks and manifests).

use super::{
    ApiState,
    chain::Submitted,
    error::{ApiError, ApiResult, body_error},
};
use axum::extract::rejection::BytesRejection;
use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use mycel_primitives::Hash;

/// Largest blob accepted over HTTP.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;

pub(crate) async fn put_blob(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Submitted> {
    let body = body.map_err(body_error)?;
    let blobs = s.blobs.clone();
    let hash = tokio::task::spawn_blocking(move || blobs.put(&body))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(Submitted { hash }))
}

pub(crate) async fn get_blob(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = Hash::from_hex(&hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let blobs = s.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&hash))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            mycel_store::Error::MissingBlob(h) => ApiError::not_found(format!("no blob {h}")),
            e => ApiError::internal(e),
        })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
