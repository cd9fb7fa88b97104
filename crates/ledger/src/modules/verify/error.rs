//! Why a `verify` message fails.

use mycel_primitives::Amount;

/// Why a `verify` message fails. [`VerifyError::code`] is the stable API code
/// (`invalid_verify` or `unauthorized`); [`VerifyError::reason`] a finer code per variant.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No such audit.
    #[error("unknown audit {audit}")]
    UnknownAudit {
        /// Audit ID.
        audit: u64,
    },
    /// No such dispute.
    #[error("unknown dispute {dispute}")]
    UnknownDispute {
        /// Dispute ID.
        dispute: u64,
    },
    /// The sender is not the audit's auditor.
    #[error("audit {audit} is assigned to someone else")]
    NotAuditor {
        /// Audit ID.
        audit: u64,
    },
    /// A seal or reveal at the wrong stage (already sealed, not sealed yet, closed).
    #[error("audit {audit} does not accept this now")]
    WrongStage {
        /// Audit ID.
        audit: u64,
    },
    /// The reveal does not open the seal.
    #[error("the reveal does not match the seal")]
    SealMismatch,
    /// A move by the wrong party or out of turn, or on a closed dispute.
    #[error("not your move in dispute {dispute}")]
    NotYourMove {
        /// Dispute ID.
        dispute: u64,
    },
    /// Revealed children that do not hash to the disputed node.
    #[error("the children do not hash to the disputed node")]
    BadSplit,
    /// A witness the referee rejects (wrong root, wrong model, malformed, oversized).
    #[error("referee: {why}")]
    BadWitness {
        /// The referee's reason.
        why: String,
    },
    /// The job cannot be challenged (unknown, not committed, or already settled).
    #[error("job {job} has no open result to challenge")]
    NotChallengeable {
        /// Job ID.
        job: u64,
    },
    /// The job already has an open dispute.
    #[error("job {job} is already disputed")]
    AlreadyDisputed {
        /// Job ID.
        job: u64,
    },
    /// The worker cannot challenge its own result.
    #[error("a worker cannot challenge its own result")]
    OwnResult,
    /// A bond below the minimum.
    #[error("a challenge needs a bond of at least {min}")]
    BondTooSmall {
        /// Smallest bond.
        min: Amount,
    },
    /// A challenger root equal to the worker's: there is nothing to dispute.
    #[error("the challenger's trace root equals the worker's")]
    NothingToDispute,
    /// A vote from outside the validator set, or a second vote.
    #[error("only a validator of this epoch votes, once")]
    NotVoter,
}

impl VerifyError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::NotAuditor { .. }
            | VerifyError::NotYourMove { .. }
            | VerifyError::OwnResult
            | VerifyError::NotVoter => "unauthorized",
            _ => "invalid_verify",
        }
    }

    /// What the receipt text starts with.
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid verify message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::UnknownAudit { .. } => "unknown_audit",
            VerifyError::UnknownDispute { .. } => "unknown_dispute",
            VerifyError::NotAuditor { .. } => "not_auditor",
            VerifyError::WrongStage { .. } => "wrong_stage",
            VerifyError::SealMismatch => "seal_mismatch",
            VerifyError::NotYourMove { .. } => "not_your_move",
            VerifyError::BadSplit => "bad_split",
            VerifyError::BadWitness { .. } => "bad_witness",
            VerifyError::NotChallengeable { .. } => "not_challengeable",
            VerifyError::AlreadyDisputed { .. } => "already_disputed",
            VerifyError::OwnResult => "own_result",
            VerifyError::BondTooSmall { .. } => "bond_too_small",
            VerifyError::NothingToDispute => "nothing_to_dispute",
            VerifyError::NotVoter => "not_voter",
        }
    }
}
