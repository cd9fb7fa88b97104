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

/// `market/committed/<height BE><id BE>`: results committed at a height, read by `verify` at the
/// next block, whose parent digest (unknown when the result was sent) draws the audits.
pub(crate) const COMMITTED: &[u8] = b"market/committed/";

/// `market/hold/<id BE>`: a result under audit or dispute; it does not settle while held.
pub(crate) const HOLD: &[u8] = b"market/hold/";

/// `market/fees/<epoch BE><worker>`: fees of settled jobs posted by someone else.
pub(super) const FEES: &[u8] = b"market/fees/";

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
    /// The result was proven wrong (audit and dispute, or a forfeited defence); the poster was
    /// refunded and the worker slashed.
    Rejected = 4,
}

impl JobStatus {
    fn from_u8(v: u8) -> Option<JobStatus> {
        [
            JobStatus::Assigned,
            JobStatus::Committed,
            JobStatus::Settled,
            JobStatus::Failed,
            JobStatus::Rejected,
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
    /// Committed trace root.
    pub trace_root: Hash,
    /// Committed number of trace leaves.
    pub trace_len: u64,
    /// Sampling seed, from ledger randomness at posting: the worker cannot choose it.
    pub seed: Hash,
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
    trace_root,
    trace_len,
    seed,
    fee,
});

impl Job {
    /// The most work units a result may claim: what the escrow can pay at the assigned price
    /// once the audit fee (`audit_fee_bps` of the fee, kept back for the auditor should the
    /// result be audited) is set aside, and the poster's own `max_units` parameter when it sets
    /// one.
    pub fn max_units(&self, audit_fee_bps: u16) -> u64 {
        let payable = self.max_fee.0.saturating_mul(10_000) / (10_000 + audit_fee_bps as u128);
        let budget = match self.price_per_unit.0 {
            0 => u64::MAX,
            p => u64::try_from(payable / p).unwrap_or(u64::MAX),
        };
        let declared = serde_json::from_slice::<serde_json::Value>(&self.params)
            .ok()
            .and_then(|v| v.get("max_units").and_then(|u| u.as_u64()))
            .unwrap_or(u64::MAX);
        budget.min(declared)
    }

    /// The sampling seed as the 64-bit integer samplers take (its first eight bytes, big-endian).
    pub fn seed_u64(&self) -> u64 {
        u64::from_be_bytes(self.seed.0[..8].try_into().expect("8 bytes"))
    }
}

pub(super) fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &[&id.to_be_bytes()])
}

pub(super) fn due_key(height: u64, id: u64) -> Vec<u8> {
    key(DUE, &[&height.to_be_bytes(), &id.to_be_bytes()])
}
