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
pub(crate) async fn list_datasets(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<mycel_ledger::modules::data::Dataset>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        mycel_ledger::modules::data::recent_datasets(&state, q.limit() as usize)
            .map_err(ApiError::internal)?,
    ))
}
