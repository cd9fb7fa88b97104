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
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use mycel_primitives::{Address, Hash, PrivateKey, keys};
use mycel_store::blobs::blob_hash;

/// Largest blob accepted over HTTP.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;
/// Header naming the uploading account's public key (hex).
pub const UPLOADER_HEADER: &str = "x-mycel-uploader";
/// Header carrying the uploader's signature (hex) of the blob's BLAKE3 hash.
pub const SIGNATURE_HEADER: &str = "x-mycel-signature";
/// Signature namespace of uploads.
pub const UPLOAD_NAMESPACE: &[u8] = b"_MYCEL_BLOB_UPLOAD";

/// The headers that sign an upload of `bytes` by `key`.
pub fn upload_headers(key: &PrivateKey, bytes: &[u8]) -> [(&'static str, String); 2] {
    let sig = keys::sign(key, UPLOAD_NAMESPACE, &blob_hash(bytes).0);
    [
        (UPLOADER_HEADER, hex::encode(keys::public_key(key).as_ref())),
        (SIGNATURE_HEADER, hex::encode(sig.as_ref())),
    ]
}

/// The account that signed an upload of a blob hashing to `hash`.
fn uploader(headers: &HeaderMap, hash: &Hash) -> Result<Address, ApiError> {
    let unauthorized = |code: &str, why: String| ApiError::new(StatusCode::UNAUTHORIZED, code, why);
    let header = |name: &str| -> Result<Vec<u8>, ApiError> {
        let v = headers.get(name).ok_or_else(|| {
            unauthorized(
                "unsigned_upload",
                format!("uploads are signed: send {UPLOADER_HEADER} and {SIGNATURE_HEADER}"),
            )
        })?;
        hex::decode(v.as_bytes())
            .map_err(|e| unauthorized("bad_signature", format!("{name} is not hex: {e}")))
    };
    let key = keys::public_key_from_bytes(&header(UPLOADER_HEADER)?)
        .map_err(|e| unauthorized("bad_signature", format!("uploader key: {e}")))?;
    let sig = keys::signature_from_bytes(&header(SIGNATURE_HEADER)?)
        .map_err(|e| unauthorized("bad_signature", format!("signature: {e}")))?;
    if !keys::verify(&key, UPLOAD_NAMESPACE, &hash.0, &sig) {
        return Err(unauthorized(
            "bad_signature",
            format!("the signature is not the uploader's over blob {hash}"),
        ));
    }
    Ok(Address::from_public_key(&key))
}

/// `POST /api/v1/blobs`: stores a blob uploaded by a funded account within its quota.
pub(crate) async fn put_blob(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Submitted> {
    let body = body.map_err(body_error)?;
    let hash = blob_hash(&body);
    let who = uploader(&headers, &hash)?;
    // A key made for the occasion holds nothing: uploads need an account with a balance.
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let balance = mycel_ledger::modules::bank::balance(&state, &who).map_err(ApiError::internal)?;
    if balance.0 == 0 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "unfunded_uploader",
            format!("{who} holds no balance; uploads need a funded account"),
        ));
    }
    let size = body.len() as u64;
    // The collector does not delete while an upload is charged and written.
    let held = s.upload_lock.clone().read_owned().await;
    let charged = s
        .chain
        .store()
        .charge_upload(&who, &hash, size, s.blob_quota, crate::net::gc::now_ms())
        .map_err(ApiError::internal)?;
    let charged = match charged {
        Ok(c) => c,
        Err(used) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "upload_quota_exceeded",
                format!(
                    "{who} has uploaded {used} bytes; {size} more exceed the quota of {}",
                    s.blob_quota
                ),
            ));
        }
    };
    let blobs = s.blobs.clone();
    let stored = body.clone();
    let written = tokio::task::spawn_blocking(move || blobs.put_hashed(&hash, &stored))
        .await
        .map_err(ApiError::internal)?;
    if let Err(e) = written {
        if charged {
            let _ = s.chain.store().refund_upload(&hash);
        }
        return Err(ApiError::internal(e));
    }
    drop(held);
    // A new upload from a user (not a peer's push) goes to a few peers, signed by the same
    // uploader: each checks and charges it like its own upload.
    if charged && headers.get(crate::net::REPLICA_HEADER).is_none() && s.blob_replicas > 0 {
        let signed: Vec<(String, String)> = [UPLOADER_HEADER, SIGNATURE_HEADER]
            .iter()
            .filter_map(|h| Some((h.to_string(), headers.get(*h)?.to_str().ok()?.to_string())))
            .collect();
        let peers = s.blob_peers.clone();
        let copies = s.blob_replicas;
        tokio::spawn(async move {
            let took = peers.replicate(&body, &signed, copies).await;
            tracing::debug!(target: "mycel::net", %hash, took, "upload replicated");
        });
    }
    Ok(Json(Submitted { hash }))
}

/// Query of `GET /api/v1/blobs/{hash}`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct BlobQuery {
    /// `1`: this node's copy only (what a peer fetching asks, so fetches never chain).
    local: Option<u8>,
}

/// `GET /api/v1/blobs/{hash}`: the blob, from this node or (if it lacks it) from its blob peers
/// and then the holders the chain names ([`crate::net::holders`]), checked against the hash and
/// kept. `Range: bytes=N-` answers the rest from byte `N` (206),
/// so a peer resumes a cut transfer.
pub(crate) async fn get_blob(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
    axum::extract::Query(q): axum::extract::Query<BlobQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    use crate::net::BlobSource as _;
    let hash = Hash::from_hex(&hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let blobs = s.blobs.clone();
    let local = tokio::task::spawn_blocking(move || blobs.get(&hash))
        .await
        .map_err(ApiError::internal)?;
    let bytes = match local {
        Ok(b) => b,
        Err(mycel_store::Error::MissingBlob(h)) if q.local != Some(1) => {
            // The configured peers first; the chain is searched for holders only if none of
            // them has it.
            let fetched = match s.blob_peers.fetch(&h).await {
                Ok(b) => b,
                Err(at_peers) => {
                    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
                    let holders = crate::net::holders(&state, &h).map_err(ApiError::internal)?;
                    s.blob_peers.others(holders).fetch(&h).await.map_err(|e| {
                        ApiError::not_found(format!(
                            "no blob {h} here, at the blob peers ({at_peers}) or at the holders \
                             the chain names ({e})"
                        ))
                    })?
                }
            };
            let blobs = s.blobs.clone();
            let keep = fetched.clone();
            tokio::task::spawn_blocking(move || blobs.put_hashed(&h, &keep))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            fetched
        }
        Err(mycel_store::Error::MissingBlob(h)) => {
            return Err(ApiError::not_found(format!("no blob {h}")));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    match from {
        Some(n) if n < bytes.len() => Ok((
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_RANGE,
                    format!("bytes {n}-{}/{}", bytes.len() - 1, bytes.len()),
                ),
            ],
            bytes[n..].to_vec(),
        )
            .into_response()),
        Some(_) => Err(ApiError::from_status(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the blob has {} bytes", bytes.len()),
        )),
        None => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()),
    }
}
