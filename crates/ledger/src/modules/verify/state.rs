//! Stored types and state keys of the `verify` module.

use crate::state::key;
use mycel_primitives::{Address, Amount, Hash};

pub(super) const AUDIT: &[u8] = b"verify/audit/";
pub(super) const DISPUTE: &[u8] = b"verify/dispute/";
pub(super) const NEXT_AUDIT: &[u8] = b"verify/next_audit";
pub(super) const NEXT_DISPUTE: &[u8] = b"verify/next_dispute";
pub(super) const DUE: &[u8] = b"verify/due/";
pub(super) const HISTORY: &[u8] = b"verify/history/";
pub(super) const DONE: &[u8] = b"verify/done/";
pub(super) const OPEN: &[u8] = b"verify/open/";
pub(super) const VOTED: &[u8] = b"verify/voted/";
/// `verify/approved/<job BE>` → the auditor whose verdict verified the job.
pub(super) const APPROVED: &[u8] = b"verify/approved/";

/// The account that holds challenge bonds.
pub fn bonds() -> Address {
    Address::module("verify")
}

/// Where an audit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStage {
    /// Waiting for the auditor's seal.
    Sealing = 0,
    /// Waiting for the reveal.
    Revealing = 1,
    /// The verdict matched the claim.
    Matched = 2,
    /// The verdict differed: a dispute was opened.
    Mismatched = 3,
    /// The auditor missed a deadline (slashed; another auditor may be drawn).
    Silent = 4,
    /// A canary the auditor caught.
    CanaryCaught = 5,
    /// A canary the auditor approved without replaying (slashed).
    CanaryPassed = 6,
}

impl AuditStage {
    fn from_u8(v: u8) -> Option<Self> {
        use AuditStage::*;
        [
            Sealing,
            Revealing,
            Matched,
            Mismatched,
            Silent,
            CanaryCaught,
            CanaryPassed,
        ]
        .get(v as usize)
        .copied()
    }
}

/// An audit of one job's result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Audit {
    /// Audit ID.
    pub id: u64,
    /// The audited job.
    pub job: u64,
    /// Who replays it.
    pub auditor: Address,
    /// The claim digest the auditor is asked to confirm: the job's, or an altered one for a
    /// canary. Auditors replay the job and compare their own digest with this.
    pub claim: Hash,
    /// Stage.
    pub stage: AuditStage,
    /// Deadline of the current stage.
    pub due: u64,
    /// The seal.
    pub sealed: Hash,
    /// Revealed digest.
    pub digest: Hash,
    /// Revealed trace root.
    pub trace_root: Hash,
    /// Auditors drawn for this job so far (this one included).
    pub attempt: u32,
    /// Height the audit was assigned.
    pub assigned: u64,
}

mycel_primitives::impl_codec!(AuditStage as u8, from = AuditStage::from_u8);
mycel_primitives::impl_codec!(Audit {
    id,
    job,
    auditor,
    claim,
    stage,
    due,
    sealed,
    digest,
    trace_root,
    attempt,
    assigned,
});

/// Whose move a dispute waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    /// The worker reveals the children of `node`.
    Split = 0,
    /// The challenger picks a child.
    Pick = 1,
    /// The worker posts the witness of leaf `offset`.
    Resolve = 2,
    /// The validator set votes on leaf `offset`.
    Vote = 3,
    /// Over.
    Done = 4,
}

impl Turn {
    fn from_u8(v: u8) -> Option<Self> {
        use Turn::*;
        [Split, Pick, Resolve, Vote, Done].get(v as usize).copied()
    }
}

/// How a dispute ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not yet.
    Open = 0,
    /// The worker's result stands.
    WorkerWon = 1,
    /// The result was wrong.
    ChallengerWon = 2,
    /// The validator set did not reach two thirds: bonds returned, the job refunded, nobody
    /// slashed.
    Undecided = 3,
}

impl Outcome {
    fn from_u8(v: u8) -> Option<Self> {
        use Outcome::*;
        [Open, WorkerWon, ChallengerWon, Undecided]
            .get(v as usize)
            .copied()
    }
}

/// A bisection dispute over one job's trace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dispute {
    /// Dispute ID.
    pub id: u64,
    /// The disputed job.
    pub job: u64,
    /// Who challenges.
    pub challenger: Address,
    /// `true` when the challenger is the job's auditor (its stake backs the challenge instead
    /// of a bond).
    pub by_auditor: bool,
    /// Escrowed bond (zero for the auditor).
    pub bond: Amount,
    /// The challenger's trace root.
    pub challenger_root: Hash,
    /// First leaf of the disputed subtree.
    pub offset: u64,
    /// Leaves in the disputed subtree.
    pub size: u64,
    /// The worker's hash of the disputed subtree.
    pub node: Hash,
    /// Children revealed in the current round.
    pub left: Hash,
    /// Right child.
    pub right: Hash,
    /// Whose move.
    pub turn: Turn,
    /// Deadline of the move.
    pub due: u64,
    /// Bisection rounds played.
    pub rounds: u32,
    /// Outcome.
    pub outcome: Outcome,
    /// Validator stake voting for the worker.
    pub votes_for: u128,
    /// Validator stake voting against.
    pub votes_against: u128,
    /// Why it ended (a stable code).
    pub reason: String,
}

mycel_primitives::impl_codec!(Turn as u8, from = Turn::from_u8);
mycel_primitives::impl_codec!(Outcome as u8, from = Outcome::from_u8);
mycel_primitives::impl_codec!(Dispute {
    id,
    job,
    challenger,
    by_auditor,
    bond,
    challenger_root,
    offset,
    size,
    node,
    left,
    right,
    turn,
    due,
    rounds,
    outcome,
    votes_for,
    votes_against,
    reason: string(64),
});

/// A worker's verification record.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// Results verified since the last strike.
    pub verified: u64,
    /// Results proven wrong, ever.
    pub strikes: u64,
}

mycel_primitives::impl_codec!(History { verified, strikes });

pub(super) fn audit_key(id: u64) -> Vec<u8> {
    key(AUDIT, &[&id.to_be_bytes()])
}

pub(super) fn dispute_key(id: u64) -> Vec<u8> {
    key(DISPUTE, &[&id.to_be_bytes()])
}

/// What a deadline entry refers to.
pub(super) const DUE_AUDIT: u8 = 0;
pub(super) const DUE_DISPUTE: u8 = 1;

pub(super) fn due_key(height: u64, what: u8, id: u64) -> Vec<u8> {
    key(DUE, &[&height.to_be_bytes(), &[what], &id.to_be_bytes()])
}
