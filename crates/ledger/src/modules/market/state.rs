//! Stored types and state keys of the `market` module.

use super::msg::*;
use crate::state::key;
use mycel_primitives::{Address, Amount, Hash};

pub(super) const OFFER: &[u8] = b"market/offer/";

pub(super) const JOB: &[u8] = b"market/job/";

pub(super) const NEXT: &[u8] = b"market/next";

pub(super) const DUE: &[u8] = b"market/due/";

pub(super) const REP: &[u8] = b"market/rep/";

pub(super) const UNITS: &[u8] = b"market/units/";

pub(super) const USED: &[u8] = b"market/used/";

pub(super) const BY_WORKER: &[u8] = b"market/worker/";

/// Reputation of a new worker; missed deadlines lower it, settled jobs raise it (capped).
pub const START_REPUTATION: u64 = 100;

pub(super) const MAX_REPUTATION: u64 = 200;

/// The account that holds job escrow.
pub fn escrow() -> Address {
    Address::module("market")
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for the assigned worker's result.
    Assigned = 0,
    /// Result committed; settles when the challenge window ends.
    Committed = 1,
    /// Paid out.
    Settled = 2,
    /// No worker delivered; the poster was refunded.
    Failed = 3,
}

impl JobStatus {
    fn from_u8(v: u8) -> Option<JobStatus> {
        [
            JobStatus::Assigned,
            JobStatus::Committed,
            JobStatus::Settled,
            JobStatus::Failed,
        ]
        .get(v as usize)
        .copied()
    }
}

/// A batch job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// Job ID.
    pub id: u64,
    /// Who pays.
    pub poster: Address,
    /// Kind.
    pub kind: JobKind,
    /// Model ID.
    pub model: Hash,
    /// Input blob hash or dataset root.
    pub input: Hash,
    /// Kind-specific parameters (canonical JSON).
    pub params: Vec<u8>,
    /// Escrowed ceiling of the fee.
    pub max_fee: Amount,
    /// Blocks a worker has to deliver.
    pub deadline_blocks: u64,
    /// State.
    pub status: JobStatus,
    /// Assigned worker.
    pub worker: Address,
    /// The worker's price per unit when assigned.
    pub price_per_unit: Amount,
    /// Height by which the result is due (while assigned) or at which the job settles.
    pub due: u64,
    /// Assignments so far.
    pub attempts: u32,
    /// Committed output hash.
    pub output: Hash,
    /// Committed work units.
    pub units: u64,
    /// Committed result-commitment root.
    pub commitment: Hash,
    /// Fee paid to the worker (after settlement).
    pub fee: Amount,
}

mycel_primitives::impl_codec!(JobStatus as u8, from = JobStatus::from_u8);

mycel_primitives::impl_codec!(Job {
    id,
    poster,
    kind,
    model,
    input,
    params: vec(0..=MAX_PARAMS),
    max_fee,
    deadline_blocks,
    status,
    worker,
    price_per_unit,
    due,
    attempts,
    output,
    units,
    commitment,
    fee,
});

pub(super) fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &[&id.to_be_bytes()])
}

pub(super) fn due_key(height: u64, id: u64) -> Vec<u8> {
    key(DUE, &[&height.to_be_bytes(), &id.to_be_bytes()])
}
