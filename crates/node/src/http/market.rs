//! Market REST: jobs, workers and their offers, sessions.

use super::{
    ApiState,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, Query, State},
};
use mycel_ledger::modules::market;
use mycel_primitives::Address;
use serde::{Deserialize, Serialize};

pub(crate) async fn get_job(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<market::Job> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::job(&state, id)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

pub(crate) async fn worker_offer(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<market::Offer> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::offer(&state, &addr)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("{addr} has no offer")))
}

/// Query of the list endpoints (`/api/v1/jobs`, `/sessions`, `/datasets`): newest first.
#[derive(Deserialize, Debug)]
pub struct ListQuery {
    /// Most items (default 20, at most 200).
    pub limit: Option<u64>,
}

impl ListQuery {
    pub(crate) fn limit(&self) -> u64 {
        self.limit.unwrap_or(20).min(200)
    }
}

pub(crate) async fn list_jobs(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<market::Job>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        market::recent_jobs(&state, q.limit()).map_err(ApiError::internal)?,
    ))
}

pub(crate) async fn list_sessions(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<market::Session>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        market::recent_sessions(&state, q.limit()).map_err(ApiError::internal)?,
    ))
}

/// One entry of `GET /api/v1/workers`.
#[derive(Serialize, Debug)]
pub struct WorkerEntry {
    /// The worker.
    pub address: Address,
    /// Its offer.
    pub offer: market::Offer,
    /// Its reputation.
    pub reputation: u64,
    /// Its bonded worker stake.
    pub stake: mycel_primitives::Amount,
}

pub(crate) async fn list_workers(State(s): State<ApiState>) -> ApiResult<Vec<WorkerEntry>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let offers = market::offers(&state).map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(offers.len());
    for (address, offer) in offers {
        out.push(WorkerEntry {
            reputation: market::reputation(&state, &address).map_err(ApiError::internal)?,
            stake: mycel_ledger::modules::staking::stake(
                &state,
                &address,
                mycel_ledger::modules::staking::Role::Worker,
            )
            .map_err(ApiError::internal)?,
            address,
            offer,
        });
    }
    Ok(Json(out))
}

pub(crate) async fn worker_session_disputes(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<market::SessionDispute>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        market::open_disputes_of(&state, &addr).map_err(ApiError::internal)?,
    ))
}

pub(crate) async fn get_session(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<market::Session> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::session(&state, id)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no session {id}")))
}

pub(crate) async fn worker_jobs(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<market::Job>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for id in market::jobs_of(&state, &addr).map_err(ApiError::internal)? {
        if let Some(j) = market::job(&state, id).map_err(ApiError::internal)?
            && j.worker == addr
        {
            out.push(j);
        }
    }
    Ok(Json(out))
}
