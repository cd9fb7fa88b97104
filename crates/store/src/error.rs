//! Store errors.

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded database failed (I/O, corruption, transaction).
    #[error("database: {0}")]
    Db(String),
    /// The Merkle tree failed (a missing node means the database is inconsistent).
    #[error("state tree: {0}")]
    Tree(String),
    /// Stored bytes could not be decoded.
    #[error("corrupt record in {table}: {why}")]
    Corrupt {
        /// The table holding the bad record.
        table: &'static str,
        /// What was wrong.
        why: String,
    },
    /// A blob is not in the store.
    #[error("blob {0} is not in the store")]
    MissingBlob(mycel_primitives::Hash),
    /// A blob's bytes no longer hash to its address.
    #[error("blob {expected} is corrupt: its content hashes to {actual}")]
    CorruptBlob {
        /// The address.
        expected: mycel_primitives::Hash,
        /// What the bytes hash to.
        actual: mycel_primitives::Hash,
    },
    /// A block was committed out of order.
    #[error("cannot commit height {got}: next height is {expected}")]
    OutOfOrder {
        /// The height the store expects next.
        expected: u64,
        /// The height that was offered.
        got: u64,
    },
    /// A different block was already committed at this height.
    #[error("conflicting block at height {0}: a different block is already finalized there")]
    Conflict(u64),
}

/// Result with the store [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn db<E: std::fmt::Display>(e: E) -> Error {
    Error::Db(e.to_string())
}
