//! What a verifier checks: receipts, request signatures and result commitments.
//!
//! - [`request`]: what a session client signs for each request (session, sequence number, body
//!   hash), so a worker bills only requests the client made, once each.
//! - [`receipt`]: the worker-signed receipt a client gets for every response, checkable offline;
//!   [`log`]: the durable, append-only receipt logs kept by workers and clients.
//! - [`commitment`]: the result commitment a worker puts on chain for a batch job (a Merkle root
//!   over per-item result hashes), and the proof that one item is under it.
//!
//! - [`replay`]: an auditor's re-execution of a generation or embedding job, compared bit for bit
//!   with the worker's claim (outputs and execution trace), naming the first unit that differs.
//!
//! Bodies are named by their blob address (`mycel_store::blob_hash`), so a request or reply
//! stored as a blob has the address its receipt names.
//!
//! Dependencies, and why: `mycel-primitives` (hashes, keys, Merkle trees), `mycel-store` (the
//! blob address, nothing else; the ledger depends on it already) and `mycel-ledger`
//! for the *types* the chain checks (the session [`Receipt`](mycel_ledger::modules::market::Receipt)
//! and its signing namespace), so a receipt verified here is byte-for-byte the one a dispute
//! proves on chain. Nothing here executes blocks. `mycel-ml` for replay: an auditor re-executes a
//! job on the same runtime the worker used.

pub mod commitment;
pub mod game;
pub mod log;
pub mod receipt;
pub mod replay;
pub mod request;
pub mod trace;

pub use commitment::{item_proof, result_commitment, verify_item};
pub use log::ReceiptLog;
pub use receipt::SignedReceipt;
pub use replay::{
    Finding, GenerationClaim, TraceClaim, Verdict, first_divergent_leaf, replay_embeddings,
    replay_generation,
};
pub use request::{REQUEST_NAMESPACE, request_bytes, sign_request, verify_request};
pub use trace::{Bisection, GameError};

/// Errors of the verification crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A log line before the last one does not parse: the log was damaged after it was written.
    #[error("{path}: line {line} is corrupt: {why}")]
    Corrupt {
        /// The log file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Parse error.
        why: String,
    },
    /// The model could not run a replay (a claim it cannot execute, or a broken model).
    #[error(transparent)]
    Ml(#[from] mycel_ml::Error),
}

/// Result with the verification [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
