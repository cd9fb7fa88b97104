//! Why a `market` message fails.

use super::JobKind;
use mycel_primitives::{Address, Amount, Hash};

/// Why a `market` message (jobs, offers, sessions) fails. [`MarketError::code`] is the stable
/// API code (`invalid_market` or `unauthorized`); [`MarketError::reason`] a finer stable code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MarketError {
    /// An offer with no or unknown job kinds, or no model.
    #[error("an offer needs known job kinds and at least one model")]
    BadOffer,
    /// Closing an offer that does not exist.
    #[error("no offer to close")]
    NoOfferToClose,
    /// A job deadline outside 1..=100000 blocks.
    #[error("deadline must be 1..=100000 blocks")]
    BadDeadline {
        /// The deadline given.
        blocks: u64,
    },
    /// Job parameters that are not JSON.
    #[error("params must be JSON")]
    ParamsNotJson,
    /// No eligible worker for the job.
    #[error("no worker serves {kind:?} jobs for model {model}")]
    NoWorker {
        /// Job kind.
        kind: JobKind,
        /// Model ID.
        model: Hash,
    },
    /// A job that does not exist.
    #[error("unknown job {job}")]
    UnknownJob {
        /// Job ID.
        job: u64,
    },
    /// A result for a job that is not waiting for one.
    #[error("job {job} is not waiting for a result")]
    NotWaitingForResult {
        /// Job ID.
        job: u64,
    },
    /// A result from someone other than the assigned worker.
    #[error("job {job} is assigned to {worker}")]
    NotAssignedWorker {
        /// Job ID.
        job: u64,
        /// The assigned worker.
        worker: Address,
    },
    /// A result with zero work units.
    #[error("a result must report work units")]
    NoUnits,
    /// More work units than the job can pay for or than its poster allowed.
    #[error("{units} work units claimed, at most {max} allowed by the job")]
    UnitsAboveBound {
        /// Claimed.
        units: u64,
        /// The job's bound.
        max: u64,
    },
    /// A trace with no leaves or too many.
    #[error("trace length {len} outside 1..=2^32")]
    BadTraceLength {
        /// The length given.
        len: u64,
    },
    /// A session duration outside 1..=1000000 blocks.
    #[error("duration must be 1..=1000000 blocks")]
    BadDuration {
        /// The duration given.
        blocks: u64,
    },
    /// Opening a session with a worker that has no offer.
    #[error("{worker} has no offer")]
    NoOffer {
        /// The worker.
        worker: Address,
    },
    /// Opening a session for a model the worker does not serve for generation.
    #[error("{worker} does not serve generation with model {model}")]
    NotServed {
        /// The worker.
        worker: Address,
        /// Model ID.
        model: Hash,
    },
    /// A session that does not exist.
    #[error("unknown session {session}")]
    UnknownSession {
        /// Session ID.
        session: u64,
    },
    /// Someone other than the session's worker settles it.
    #[error("only the session's worker settles it")]
    NotSessionWorkerSettle,
    /// A message for a closed session.
    #[error("session is closed")]
    SessionClosed,
    /// A settlement that does not extend the last one.
    #[error("settlement must extend the last one ({count} receipts, {total})")]
    SettlementMustExtend {
        /// Receipts of the last settlement.
        count: u64,
        /// Total of the last settlement.
        total: Amount,
    },
    /// A settlement above the deposit.
    #[error("total {total} exceeds the deposit {deposit}")]
    TotalExceedsDeposit {
        /// Settled total.
        total: Amount,
        /// Deposit.
        deposit: Amount,
    },
    /// Someone other than the session's client disputes it.
    #[error("only the session's client disputes it")]
    NotSessionClient,
    /// The worker key in a dispute does not parse.
    #[error("{why}")]
    BadWorkerKey {
        /// Why.
        why: String,
    },
    /// The worker key in a dispute is not the session's worker.
    #[error("the key is not the session's worker")]
    KeyNotSessionWorker,
    /// Disputing a receipt of a session closed longer than the dispute window.
    #[error("the session closed; its receipts could be disputed until height {last}")]
    DisputeWindowOver {
        /// The last height a dispute was accepted.
        last: u64,
    },
    /// Two receipts shown as consecutive that are not.
    #[error("the receipts are not consecutive receipts of one session")]
    NotConsecutive,
    /// Two consecutive receipts whose running totals add up.
    #[error("the running totals add up: nothing to dispute")]
    TotalsAddUp,
    /// The client key in a dispute answer is not the session's client.
    #[error("the key is not the session's client")]
    KeyNotSessionClient,
    /// A settlement whose last receipt is not at `count - 1` or does not carry the total.
    #[error("the last receipt must be number count - 1, of this session, with cumulative = total")]
    SettlementNotLastReceipt,
    /// The signature bytes in a dispute do not decode.
    #[error("{why}")]
    BadSignatureBytes {
        /// Why.
        why: String,
    },
    /// Disputing a receipt that is not settled yet.
    #[error("this receipt is not settled yet")]
    ReceiptNotSettled,
    /// Disputing a receipt twice.
    #[error("this receipt is already disputed")]
    AlreadyDisputed,
    /// Someone other than the session's worker answers a dispute.
    #[error("only the session's worker answers")]
    NotSessionWorkerAnswer,
    /// Answering a dispute that is not open.
    #[error("no open dispute for this receipt")]
    NoOpenDispute,
    /// Answering with another receipt than the disputed one.
    #[error("this is not the disputed receipt")]
    NotDisputedReceipt,
    /// A proof at another position or for another tree size.
    #[error("the proof is not at the receipt's position in the settled root")]
    ProofPosition,
    /// A proof that does not verify.
    #[error("proof: {why}")]
    BadProof {
        /// Why.
        why: String,
    },
    /// Closing a session twice.
    #[error("session is already closed")]
    SessionAlreadyClosed,
    /// Closing a session one may not close yet.
    #[error("the client closes after expiry; the worker at any time")]
    CloseNotAllowed,
}

impl MarketError {
    /// The stable API code: `unauthorized` for permission failures, otherwise `invalid_market`.
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::NotAssignedWorker { .. }
            | MarketError::NotSessionWorkerSettle
            | MarketError::NotSessionClient
            | MarketError::NotSessionWorkerAnswer
            | MarketError::CloseNotAllowed => "unauthorized",
            _ => "invalid_market",
        }
    }

    /// What the receipt text starts with (the code's wording).
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid market message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            MarketError::BadOffer => "bad_offer",
            MarketError::NoOfferToClose => "no_offer_to_close",
            MarketError::BadDeadline { .. } => "bad_deadline",
            MarketError::ParamsNotJson => "params_not_json",
            MarketError::NoWorker { .. } => "no_worker",
            MarketError::UnknownJob { .. } => "unknown_job",
            MarketError::NotWaitingForResult { .. } => "not_waiting_for_result",
            MarketError::NotAssignedWorker { .. } => "not_assigned_worker",
            MarketError::NoUnits => "no_units",
            MarketError::UnitsAboveBound { .. } => "units_above_bound",
            MarketError::BadTraceLength { .. } => "bad_trace_length",
            MarketError::BadDuration { .. } => "bad_duration",
            MarketError::NoOffer { .. } => "no_offer",
            MarketError::NotServed { .. } => "not_served",
            MarketError::UnknownSession { .. } => "unknown_session",
            MarketError::NotSessionWorkerSettle => "not_session_worker",
            MarketError::SessionClosed => "session_closed",
            MarketError::SettlementMustExtend { .. } => "settlement_must_extend",
            MarketError::TotalExceedsDeposit { .. } => "total_exceeds_deposit",
            MarketError::NotSessionClient => "not_session_client",
            MarketError::BadWorkerKey { .. } => "bad_worker_key",
            MarketError::KeyNotSessionWorker => "key_not_session_worker",
            MarketError::KeyNotSessionClient => "key_not_session_client",
            MarketError::DisputeWindowOver { .. } => "dispute_window_over",
            MarketError::NotConsecutive => "not_consecutive",
            MarketError::TotalsAddUp => "totals_add_up",
            MarketError::SettlementNotLastReceipt => "settlement_not_last_receipt",
            MarketError::BadSignatureBytes { .. } => "bad_signature_bytes",
            MarketError::ReceiptNotSettled => "receipt_not_settled",
            MarketError::AlreadyDisputed => "already_disputed",
            MarketError::NotSessionWorkerAnswer => "not_session_worker",
            MarketError::NoOpenDispute => "no_open_dispute",
            MarketError::NotDisputedReceipt => "not_disputed_receipt",
            MarketError::ProofPosition => "proof_position",
            MarketError::BadProof { .. } => "bad_proof",
            MarketError::SessionAlreadyClosed => "session_already_closed",
            MarketError::CloseNotAllowed => "close_not_allowed",
        }
    }
}
