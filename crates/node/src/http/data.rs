//! Data registry REST: datasets and contributors.

use super::{
    ApiState,
    error::{ApiError, ApiResult},
    market::ListQuery,
};
use axum::{
    Json,
    extract::{Path, Query, State},
};
use mycel_primitives::{Address, Hash};

pub(crate) async fn get_dataset(
    State(s): State<ApiState>,
    Path(root): Path<String>,
) -> ApiResult<mycel_ledger::modules::data::Dataset> {
    let root = Hash::from_hex(&root).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    mycel_ledger::modules::data::dataset(&state, &root)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no dataset with root {root}")))
}

pub(crate) async fn contributor_datasets(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<Hash>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        mycel_ledger::modules::data::datasets_of(&state, &addr).map_err(ApiError::internal)?,
    ))
}
/// `?limit=N` (newest first), or `?from=SEQ&limit=N` (registration order from `SEQ`, for
/// nodes that rebuild the near-dup index of everything registered).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DatasetQuery {
    limit: Option<u64>,
    from: Option<u64>,
}

pub(crate) async fn list_datasets(
    State(s): State<ApiState>,
    Query(q): Query<DatasetQuery>,
) -> ApiResult<Vec<mycel_ledger::modules::data::Dataset>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let limit = ListQuery { limit: q.limit }.limit() as usize;
    let found = match q.from {
        Some(from) => mycel_ledger::modules::data::datasets_from(&state, from, limit),
        None => mycel_ledger::modules::data::recent_datasets(&state, limit),
    };
    Ok(Json(found.map_err(ApiError::internal)?))
}
