//! Ledger errors. [`TxError`] codes are stable strings that the API and CLI expose.

use crate::modules::{
    agent::AgentError, data::DataError, device::DeviceError, market::MarketError,
    model::ModelError, verify::VerifyError,
};
use mycel_primitives::{Amount, Hash};

/// Why a transaction was rejected or failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The transaction bytes could not be decoded.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The encoded transaction exceeds the size limit.
    #[error("transaction is {size} bytes, above the limit of {max}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// A message names a module or message kind this ledger does not know.
    #[error("unknown message type: module {module}, kind {kind}")]
    UnknownMessage {
        /// Module tag.
        module: u8,
        /// Message tag within the module.
        kind: u8,
    },
    /// The signature does not verify against the sender key.
    #[error("bad signature")]
    BadSignature,
    /// The transaction is for another chain.
    #[error("wrong chain id: expected {expected:?}, got {got:?}")]
    WrongChainId {
        /// This chain.
        expected: String,
        /// The tx's chain.
        got: String,
    },
    /// The nonce was already used.
    #[error("nonce {got} already used: next nonce is {expected}")]
    NonceTooLow {
        /// Next nonce of the account.
        expected: u64,
        /// The tx's nonce.
        got: u64,
    },
    /// The nonce skips ahead of the account's next nonce.
    #[error("nonce gap: expected {expected}, got {got}")]
    NonceGap {
        /// Next nonce (including pending transactions).
        expected: u64,
        /// The tx's nonce.
        got: u64,
    },
    /// The fee is below the chain minimum for this size.
    #[error("fee {got} below the minimum {min}")]
    FeeTooLow {
        /// Minimum.
        min: Amount,
        /// Offered.
        got: Amount,
    },
    /// The account cannot pay.
    #[error("insufficient balance: need {need}, have {have}")]
    InsufficientBalance {
        /// Needed.
        need: Amount,
        /// Available.
        have: Amount,
    },
    /// The transaction carries no messages.
    #[error("transaction has no messages")]
    Empty,
    /// An amount of zero where a positive amount is required.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A bond below the role's minimum stake.
    #[error("stake {got} below the minimum {min} for role {role}")]
    BelowMinStake {
        /// Role name.
        role: String,
        /// Minimum.
        min: Amount,
        /// Resulting stake.
        got: Amount,
    },
    /// Unbonding more than is bonded.
    #[error("insufficient stake: bonded {bonded}, requested {requested}")]
    InsufficientStake {
        /// Bonded.
        bonded: Amount,
        /// Requested.
        requested: Amount,
    },
    /// The account is jailed.
    #[error("account is jailed until height {0}")]
    Jailed(u64),
    /// The account is not jailed (unjail without a reason).
    #[error("account is not jailed")]
    NotJailed,
    /// Arithmetic overflow on amounts.
    #[error("amount overflow")]
    Overflow,
    /// Unbonding stake that backs open results, audits or disputes.
    #[error("stake is locked by {open} open results, audits or disputes")]
    StakeLocked {
        /// Open obligations.
        open: u64,
    },
    /// A transaction with this hash is already known.
    #[error("duplicate transaction {0}")]
    Duplicate(Hash),
    /// The mempool is full of transactions paying at least this one's fee rate.
    #[error("mempool full")]
    MempoolFull,
    /// The sender already has the most pending transactions one account may have.
    #[error("sender has {max} pending transactions, the most one account may have")]
    SenderLimit {
        /// The per-sender limit.
        max: usize,
    },
    /// A `data` message fails (unknown dataset, bad proof, bad claim, not the contributor…).
    /// The text reads `invalid data message: …` or `unauthorized: …`, as the code says.
    #[error("{}: {}", .0.category(), .0)]
    Data(#[from] DataError),
    /// A `market` message fails (unknown job, no eligible worker, bad offer, not the worker…).
    /// The text reads `invalid market message: …` or `unauthorized: …`, as the code says.
    #[error("{}: {}", .0.category(), .0)]
    Market(#[from] MarketError),
    /// A `verify` message fails (unknown audit, seal mismatch, out-of-turn move, bad witness…).
    #[error("{}: {}", .0.category(), .0)]
    Verify(#[from] VerifyError),
    /// A `model` message fails, or a job or session on a model breaks its policy (not granted,
    /// licence not accepted, no training consent…).
    #[error("{}: {}", .0.category(), .0)]
    Model(#[from] ModelError),
    /// An `agent` message fails, or a session on a tool breaks its rules (bad manifest, name
    /// taken, not the provider, not the current version…).
    #[error("{}: {}", .0.category(), .0)]
    Agent(#[from] AgentError),
    /// A `device` message fails (forged device signature, key taken, outside its window, seal
    /// mismatch, not the drawn checker…).
    #[error("{}: {}", .0.category(), .0)]
    Device(#[from] DeviceError),
    /// The node could not record the transaction durably; nothing was admitted.
    #[error("node unavailable: {0}")]
    Unavailable(String),
}

impl TxError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Malformed(_) => "malformed_tx",
            TxError::TooLarge { .. } => "tx_too_large",
            TxError::UnknownMessage { .. } => "unknown_message",
            TxError::BadSignature => "bad_signature",
            TxError::WrongChainId { .. } => "wrong_chain_id",
            TxError::NonceTooLow { .. } => "nonce_too_low",
            TxError::NonceGap { .. } => "nonce_gap",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::InsufficientBalance { .. } => "insufficient_balance",
            TxError::Empty => "empty_tx",
            TxError::ZeroAmount => "zero_amount",
            TxError::BelowMinStake { .. } => "below_min_stake",
            TxError::InsufficientStake { .. } => "insufficient_stake",
            TxError::Jailed(_) => "jailed",
            TxError::NotJailed => "not_jailed",
            TxError::Overflow => "overflow",
            TxError::StakeLocked { .. } => "stake_locked",
            TxError::Duplicate(_) => "duplicate_tx",
            TxError::MempoolFull => "mempool_full",
            TxError::SenderLimit { .. } => "sender_limit",
            TxError::Unavailable(_) => "unavailable",
            TxError::Data(e) => e.code(),
            TxError::Market(e) => e.code(),
            TxError::Verify(e) => e.code(),
            TxError::Model(e) => e.code(),
            TxError::Agent(e) => e.code(),
            TxError::Device(e) => e.code(),
        }
    }

    /// A finer stable code: the module error's own reason where there is one (e.g.
    /// `unknown_job`), otherwise the same as [`TxError::code`].
    pub fn reason(&self) -> &'static str {
        match self {
            TxError::Data(e) => e.reason(),
            TxError::Market(e) => e.reason(),
            TxError::Verify(e) => e.reason(),
            TxError::Model(e) => e.reason(),
            TxError::Agent(e) => e.reason(),
            TxError::Device(e) => e.reason(),
            other => other.code(),
        }
    }
}

impl From<DataError> for ExecError {
    fn from(e: DataError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<VerifyError> for ExecError {
    fn from(e: VerifyError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<ModelError> for ExecError {
    fn from(e: ModelError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<AgentError> for ExecError {
    fn from(e: AgentError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<DeviceError> for ExecError {
    fn from(e: DeviceError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<MarketError> for ExecError {
    fn from(e: MarketError) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<mycel_primitives::Error> for TxError {
    fn from(_: mycel_primitives::Error) -> Self {
        TxError::Overflow
    }
}

/// Errors that abort block execution (the block is invalid or the store failed).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A transaction in the block fails its admission checks: the block is invalid.
    #[error("invalid transaction at index {index}: {error}")]
    InvalidTx {
        /// Position in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// The block does not follow its parent state.
    #[error("block height {got} does not follow the parent state (expected {expected})")]
    WrongHeight {
        /// Parent height + 1.
        expected: u64,
        /// The block's height.
        got: u64,
    },
    /// The block's liveness evidence ([`crate::execute::Certified`]) is inconsistent with its
    /// chain: the block is invalid.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// The block names equivocation evidence the ledger refuses (a validator already
    /// tombstoned): the block is invalid.
    #[error("invalid evidence: {0}")]
    InvalidEvidence(String),
    /// Reading state failed.
    #[error(transparent)]
    Store(#[from] mycel_store::Error),
    /// State bytes could not be decoded (the state is corrupt).
    #[error("corrupt state under {key}: {why}")]
    Corrupt {
        /// The key, printed lossily.
        key: String,
        /// Decoding error.
        why: String,
    },
    /// The genesis file is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// Arithmetic overflow in a block hook (supply bound exceeded).
    #[error("amount overflow in {0}")]
    Overflow(&'static str),
}

/// Result with the ledger [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// How executing a message (or any step of a transaction) can fail.
///
/// The two cases must never be confused: a [`TxError`] is a property of the transaction and the
/// state, identical on every validator, so it becomes a failed receipt; a fatal [`Error`] (a store
/// read that failed, state that does not decode) is a property of this node, so it aborts the
/// whole block instead of producing a receipt that other validators would not produce.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The transaction fails: its message effects are rolled back into a failed receipt.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// This node cannot execute the block.
    #[error(transparent)]
    Fatal(#[from] Error),
}

impl ExecError {
    /// The fatal error for a step that cannot fail for transaction reasons (block hooks): a
    /// transaction-level failure there means the ledger's own bookkeeping broke, reported as an
    /// overflow in `what`.
    pub fn into_fatal(self, what: &'static str) -> Error {
        match self {
            ExecError::Fatal(e) => e,
            ExecError::Tx(_) => Error::Overflow(what),
        }
    }
}

impl From<mycel_primitives::Error> for ExecError {
    fn from(e: mycel_primitives::Error) -> Self {
        ExecError::Tx(e.into())
    }
}

impl From<mycel_store::Error> for ExecError {
    fn from(e: mycel_store::Error) -> Self {
        ExecError::Fatal(e.into())
    }
}

/// Result of executing a message: see [`ExecError`].
pub type ExecResult<T = ()> = std::result::Result<T, ExecError>;
