//! Errors of the data engine.

use std::path::{Path, PathBuf};

/// Errors raised while ingesting, identifying, deduplicating or proving data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{path}: {err}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        err: std::io::Error,
    },
    /// A record of an input file is malformed (bad UTF-8 or JSON, missing field, empty, too large, ...).
    #[error("{path}:{line}: {kind}")]
    BadRecord {
        /// The input file.
        path: PathBuf,
        /// 1-based line (JSONL) or row (Parquet) number.
        line: u64,
        /// What is wrong.
        kind: RecordError,
    },
    /// An input file as a whole could not be read in the expected format.
    #[error("{path}: {why}")]
    BadInput {
        /// The input file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A content ID string could not be parsed.
    #[error("invalid content id {0:?}: {1}")]
    InvalidCid(String, &'static str),
    /// A blob read from the store does not hash to its address.
    #[error("blob {0} is corrupt: its content hashes to {1}")]
    CorruptBlob(String, String),
    /// A blob is missing from the store.
    #[error("blob {0} is not in the store")]
    MissingBlob(String),
    /// The blob store failed.
    #[error("blob store: {0}")]
    Store(String),
    /// A proof or a manifest does not verify.
    #[error("verification failed: {0}")]
    Verify(String),
    /// A Merkle proof does not verify.
    #[error(transparent)]
    Proof(#[from] mycel_primitives::Error),
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// Building an exact-dup filter failed.
    #[error("filter construction failed: {0}")]
    Filter(&'static str),
    /// A stored file (manifest, index) could not be decoded.
    #[error("{path}: cannot decode: {why}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The requested feature is not implemented yet.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
}

/// What is wrong with one input record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is not valid UTF-8.
    #[error("invalid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    /// The line is not a JSON object.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A required field is absent or has the wrong type.
    #[error("missing or non-string field {0:?}")]
    MissingField(String),
    /// The record ID was already used on an earlier line.
    #[error("duplicate id {id:?} (first on line {first_line})")]
    DuplicateId {
        /// The repeated ID.
        id: String,
        /// The line where it first appeared.
        first_line: u64,
    },
    /// The record text is empty.
    #[error("empty record")]
    Empty,
    /// The record exceeds the size limit.
    #[error("record larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Result with the data engine's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Maps an I/O error to [`Error::Io`] naming `path`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |err| Error::Io {
        path: path.to_path_buf(),
        err,
    }
}

impl From<mycel_store::Error> for Error {
    fn from(e: mycel_store::Error) -> Self {
        match e {
            mycel_store::Error::MissingBlob(h) => Error::MissingBlob(h.to_hex()),
            mycel_store::Error::CorruptBlob { expected, actual } => {
                Error::CorruptBlob(expected.to_hex(), actual.to_hex())
            }
            other => Error::Store(other.to_string()),
        }
    }
}
