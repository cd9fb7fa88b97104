//! The earnings debugger: what a node earned per epoch, and why.

use super::{
    ApiState,
    error::{ApiError, ApiResult},
    verify::verification_of,
};
use axum::{
    Json,
    extract::{Path, Query, State},
};
use mycel_ledger::{
    execute::account,
    modules::{market, rewards},
};
use mycel_primitives::{Address, Amount};
use serde::{Deserialize, Serialize};

/// Query of `GET /api/v1/earnings/{address}`.
#[derive(Deserialize, Debug)]
pub struct EarningsQuery {
    /// The epoch (default: the current one and the one before).
    pub epoch: Option<u64>,
}

/// One epoch of a node's earnings, with a reason for every figure.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EpochEarnings {
    /// Epoch.
    pub epoch: u64,
    /// Heights it covers.
    pub heights: (u64, u64),
    /// `true` once it has ended and its emissions are paid.
    pub ended: bool,
    /// Work units settled.
    pub work_units: u64,
    /// Every credit and debit, each with its reason code.
    pub records: Vec<serde_json::Value>,
    /// Sum of credits.
    pub credits: Amount,
    /// Sum of debits.
    pub debits: Amount,
}

/// Answer of `GET /api/v1/earnings/{address}`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Earnings {
    /// The node's account.
    pub address: Address,
    /// Current height.
    pub height: u64,
    /// Stake per role.
    pub stakes: Vec<(String, Amount)>,
    /// Reputation as a worker.
    pub reputation: u64,
    /// Why the node cannot get work right now (empty when nothing blocks it).
    pub blockers: Vec<String>,
    /// Jobs assigned to it: id, status, units, fee.
    pub jobs: Vec<serde_json::Value>,
    /// Epoch figures.
    pub epochs: Vec<EpochEarnings>,
}

pub(crate) async fn earnings(
    State(s): State<ApiState>,
    Path(address): Path<String>,
    Query(q): Query<EarningsQuery>,
) -> ApiResult<Earnings> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let height = state.version().unwrap_or(0);
    let p = s.chain.params();
    let current = rewards::epoch_of(p, height);
    let epochs: Vec<u64> = match q.epoch {
        Some(e) => vec![e],
        None => (current.saturating_sub(1)..=current).collect(),
    };
    let internal = ApiError::internal;
    let view = account(&state, &addr).map_err(internal)?;
    let mut out = Earnings {
        address: addr,
        height,
        stakes: view
            .stakes
            .iter()
            .map(|(r, a)| (r.name().to_string(), *a))
            .collect(),
        reputation: market::reputation(&state, &addr).map_err(internal)?,
        blockers: market::blockers(&state, p, height, &addr).map_err(internal)?,
        jobs: Vec::new(),
        epochs: Vec::new(),
    };
    for id in market::jobs_of(&state, &addr).map_err(internal)? {
        if let Some(j) = market::job(&state, id).map_err(internal)? {
            let why = match j.status {
                market::JobStatus::Assigned if j.worker == addr => {
                    format!("assigned, result due at height {}", j.due)
                }
                market::JobStatus::Committed if j.worker == addr => {
                    let state_of = verification_of(&state, &j).map_err(internal)?;
                    format!(
                        "result committed ({state_of}), settles at height {} at the earliest",
                        j.due
                    )
                }
                market::JobStatus::Rejected if j.worker == addr => {
                    let state_of = verification_of(&state, &j).map_err(internal)?;
                    format!("rejected: {state_of}; not paid, stake slashed")
                }
                market::JobStatus::Settled if j.worker == addr => {
                    format!("settled: paid {} for {} units", j.fee, j.units)
                }
                market::JobStatus::Failed => {
                    "failed: no worker delivered, poster refunded".to_string()
                }
                _ => format!("missed its deadline here; reassigned to {}", j.worker),
            };
            out.jobs.push(serde_json::json!({"id": id, "status": j.status, "units": j.units, "fee": j.fee, "reason": why}));
        }
    }
    let len = p.rewards.epoch_length.max(1);
    for e in epochs {
        let records = rewards::records(&state, e, Some(&addr)).map_err(internal)?;
        let (mut credits, mut debits) = (Amount::ZERO, Amount::ZERO);
        for r in &records {
            if r.debit {
                debits = debits.checked_add(r.amount).map_err(ApiError::internal)?;
            } else {
                credits = credits.checked_add(r.amount).map_err(ApiError::internal)?;
            }
        }
        let work_units = market::units(&state, e)
            .map_err(internal)?
            .into_iter()
            .find(|(a, _)| *a == addr)
            .map_or(0, |(_, u)| u);
        out.epochs.push(EpochEarnings {
            epoch: e,
            heights: (e * len, e * len + len - 1),
            ended: rewards::summary(&state, e).map_err(internal)?.is_some(),
            work_units,
            records: records
                .iter()
                .map(|r| serde_json::json!({"reason": r.reason, "debit": r.debit, "amount": r.amount, "explanation": explain(r.reason)}))
                .collect(),
            credits,
            debits,
        });
    }
    Ok(Json(out))
}

/// A sentence per reason code.
fn explain(r: rewards::Reason) -> &'static str {
    use rewards::Reason::*;
    match r {
        ValidatorEmission => {
            "validator share of the epoch emission, pro rata to certified blocks signed times stake"
        }
        FeeShare => {
            "validator share of the epoch's transaction fees, pro rata to certified blocks signed times stake"
        }
        FeePaid => "transaction fees this account paid",
        Slashed => "stake slashed (e.g. a missed job deadline)",
        SlashedFraud => "stake slashed: a dispute proved this account's result or challenge wrong",
        SlashedLazy => {
            "auditor stake slashed: a missed audit deadline, an approved canary or an approved result later proven wrong"
        }
        DisputeWon => "the winner's share of what the loser of a dispute forfeited",
        BondForfeited => "challenge bond lost: the disputed result was right",
        AuditorEmission => "auditor share of the epoch emission, pro rata to audits completed",
        AuditFee => "audit fee for a replay that confirmed a result, paid by the job's poster",
        AuditPaid => "audit fee this account's job paid its auditor",
        UnbondReleased => "unbonded stake returned after the unbonding delay",
        EdgeUptime => {
            "edge share of the epoch emission, pro rata to records the owner's devices embedded in answered probes (none from an epoch in which a check caught the device)"
        }
        DeviceSlashed => {
            "device bond burned: a drawn checker's reference did not match the device's answer"
        }
        EdgeUnitFee => {
            "fee for an edge job unit one of this owner's devices embedded, paid once when accepted"
        }
        EdgeUnitPaid => "cost of an edge job unit this account posted",
        ReservedWorkers | ReservedData | ReservedAuditors | ReservedValidators | ReservedEdge => {
            "emission share held in the reserve: no eligible earners this epoch"
        }
        Dust => "rounding remainder kept in the reserve",
        NoveltyForfeited => "novelty bond lost: a challenger proved a record was not new",
        ChallengeReward => "share of a forfeited novelty bond for a successful challenge",
        JobFee => "fee for a settled job, after the protocol fee",
        JobPaid => "cost of a settled job this account posted",
        WorkerEmission => {
            "worker share of the epoch emission, pro rata to fees other accounts paid, capped per fee by worker_emission_per_fee_bps"
        }
        DataEmission => {
            "data share of the epoch emission, pro rata to novel bytes used by settled jobs: jobs on the dataset, and jobs and sessions on models trained on it (its lineage)"
        }
    }
}
