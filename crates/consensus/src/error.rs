//! Consensus-adapter errors.

use crate::block::Digest;

/// Errors of the consensus adapter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ledger rejected a block or failed.
    #[error(transparent)]
    Ledger(#[from] mycel_ledger::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] mycel_store::Error),
    /// The parent of a block has not been executed here.
    #[error("unknown parent {0}")]
    UnknownParent(Digest),
    /// A block's header disagrees with its content or its execution.
    #[error("invalid block: {0}")]
    InvalidBlock(String),
}

/// Result with the consensus [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
