//! What a verifier checks: receipts, request signatures and result commitments.
//!
//! - [`request`]: what a session client signs for each request (session, sequence number, body
//!   hash), so a worker bills only requests the client made, once each.
//! - [`receipt`]: the worker-signed receipt a client gets for every response, checkable offline;
//!   [`log`]: the durable, append-only receipt logs kept by workers and clients.
//! - [`commitment`]: the result commitment a worker puts on chain for a batch job (a Merkle root
//!   over per-item result hashes), and the proof that one item is under it.
//!
//! Audits, replay and bisection disputes land here next.
//!
//! Bodies are named by their blob address (`mycel_store::blob_hash`), so a request or reply
//! stored as a blob has the address its receipt names.
//!
//! Dependencies, and why: `mycel-primitives` (hashes, keys, Merkle trees), `mycel-store` (the
//! blob address, nothing else; the ledger depends on it already) and `mycel-ledger`
//! for the *types* the chain checks (the session [`Receipt`](mycel_ledger::modules::market::Receipt)
//! and its signing namespace), so a receipt verified here is byte-for-byte the one a dispute
//! proves on chain. Nothing here executes blocks. `mycel-ml` joins when replay does: an auditor
//! re-executes a job on the engine, and only then is the ML runtime worth its build time here.

pub mod commitment;
pub mod game;
pub mod log;
pub mod receipt;
pub mod request;
pub mod trace;

pub use commitment::{item_proof, result_commitment, verify_item};
pub use log::ReceiptLog;
pub use receipt::SignedReceipt;
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
}

/// Result with the verification [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
