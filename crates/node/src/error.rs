//! Node errors.

/// Errors of the node crate.
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
    /// A configuration or key file is invalid.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// What was being read.
        what: String,
        /// Why it is invalid.
        why: String,
    },
    /// A named key does not exist.
    #[error("no key named {0:?} (see `mycel keys list`)")]
    UnknownKey(String),
    /// The home is not initialised.
    #[error("{0} is not initialised: run `mycel init --home {0}` first")]
    NotInitialised(String),
    /// Ledger error.
    #[error(transparent)]
    Ledger(#[from] mycel_ledger::Error),
    /// Store error.
    #[error(transparent)]
    Store(#[from] mycel_store::Error),
    /// Consensus adapter error.
    #[error(transparent)]
    Consensus(#[from] mycel_consensus::Error),
    /// The API answered with an error.
    #[error("{code}: {message}")]
    Api {
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
    },
    /// The transaction finalized but its messages failed (it paid its fee).
    #[error("transaction {hash} failed at height {height}: {message} ({code})")]
    TxFailed {
        /// The transaction.
        hash: mycel_primitives::Hash,
        /// Where it finalized.
        height: u64,
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
    },
    /// The transaction was not finalized in time.
    #[error("transaction {hash} not finalized within {secs} s")]
    NotFinalized {
        /// The transaction.
        hash: mycel_primitives::Hash,
        /// How long we waited.
        secs: u64,
    },
    /// Receipt log.
    #[error(transparent)]
    Verify(#[from] mycel_verify::Error),
    /// The API could not be reached.
    #[error("cannot reach the node at {url}: {why}")]
    Unreachable {
        /// URL.
        url: String,
        /// Cause.
        why: String,
    },
}

/// Result with the node [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an I/O error with its path.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}
