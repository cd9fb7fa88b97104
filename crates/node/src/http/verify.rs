//! Verification REST: the audits and disputes of a job, an auditor's open audits, open disputes.

use super::{
    ApiState,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
};
use mycel_ledger::modules::{market, verify};
use mycel_primitives::Address;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/jobs/{id}/verification`: where a job's result stands.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct JobVerification {
    /// The job.
    pub job: u64,
    /// The job's market status.
    pub status: market::JobStatus,
    /// The verification state in words.
    pub state: String,
    /// Every audit of the job, canaries included, oldest first.
    pub audits: Vec<verify::Audit>,
    /// Every dispute of the job, oldest first.
    pub disputes: Vec<verify::Dispute>,
}

/// Where a job stands in verification, in words (the dashboard, the CLI and the earnings
/// debugger show it).
pub(crate) fn verification_of(
    state: &impl mycel_store::StateRead,
    j: &market::Job,
) -> mycel_ledger::Result<String> {
    let disputes = verify::disputes_of(state, j.id)?;
    if let Some(d) = disputes.iter().find(|d| d.outcome == verify::Outcome::Open) {
        return Ok(format!(
            "disputed by {} (round {}, {:?} due at height {})",
            d.challenger, d.rounds, d.turn, d.due
        ));
    }
    if j.status == market::JobStatus::Rejected {
        let why = disputes.last().map_or("", |d| d.reason.as_str());
        return Ok(format!("proven wrong ({why})"));
    }
    let claim = verify::claim_digest(&j.output, j.units, &j.trace_root, j.trace_len);
    let audits = verify::audits_of(state, j.id)?;
    let state = match audits.iter().rev().find(|a| a.claim == claim) {
        Some(a) => match a.stage {
            verify::AuditStage::Sealing | verify::AuditStage::Revealing => {
                format!("under audit by {}, due at height {}", a.auditor, a.due)
            }
            verify::AuditStage::Matched => "verified by audit".into(),
            verify::AuditStage::Mismatched => "audit found a mismatch".into(),
            _ => "auditors silent".into(),
        },
        None if j.status == market::JobStatus::Assigned => "waiting for the result".into(),
        None if j.status == market::JobStatus::Failed => "no result".into(),
        None => "not drawn for audit".into(),
    };
    Ok(match disputes.last() {
        Some(d) if d.outcome == verify::Outcome::WorkerWon => {
            format!("{state}; upheld in dispute {} ({})", d.id, d.reason)
        }
        _ => state,
    })
}

pub(crate) async fn job_verification(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<JobVerification> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let job = market::job(&state, id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(JobVerification {
        job: id,
        status: job.status,
        state: verification_of(&state, &job).map_err(ApiError::internal)?,
        audits: verify::audits_of(&state, id).map_err(ApiError::internal)?,
        disputes: verify::disputes_of(&state, id).map_err(ApiError::internal)?,
    }))
}

pub(crate) async fn auditor_audits(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<verify::Audit>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        verify::open_audits(&state, &addr).map_err(ApiError::internal)?,
    ))
}

pub(crate) async fn open_disputes(State(s): State<ApiState>) -> ApiResult<Vec<verify::Dispute>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        verify::open_disputes(&state).map_err(ApiError::internal)?,
    ))
}

pub(crate) async fn get_dispute(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<verify::Dispute> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    verify::dispute(&state, id)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no dispute {id}")))
}
