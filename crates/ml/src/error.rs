//! The crate's error type.

use std::path::PathBuf;

/// Errors of the ML engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fetching the pinned models failed.
    #[error("fetching the pinned models: {0}")]
    Fetch(String),
    /// The name is not one of the pinned models.
    #[error("unknown model {0:?} (known: smollm2, minilm)")]
    UnknownModel(String),
    /// A pinned model file is not on disk.
    #[error("model file missing: {path} (run scripts/fetch-models.sh or `mycel models fetch`)")]
    MissingFile {
        /// The expected location.
        path: PathBuf,
    },
    /// A model file does not have its pinned sha256.
    #[error("model file {path} has sha256 {actual}, expected {expected}")]
    HashMismatch {
        /// The file checked.
        path: PathBuf,
        /// The pinned digest (hex).
        expected: String,
        /// The digest found (hex).
        actual: String,
    },
    /// A model file parsed badly or lacks a required field.
    #[error("invalid model file {what}: {reason}")]
    InvalidModel {
        /// Which file or component.
        what: String,
        /// Why.
        reason: String,
    },
    /// The prompt does not fit in the context window.
    #[error(
        "prompt of {prompt_tokens} tokens plus {max_tokens} new tokens exceeds the context of {context} tokens"
    )]
    ContextOverflow {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Tokens requested.
        max_tokens: usize,
        /// Context length of the model.
        context: usize,
    },
    /// A sampling or training parameter is out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// The parameter.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The input to embed or generate from is empty or unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A training data set is empty or malformed.
    #[error("invalid training data at line {line}: {reason}")]
    InvalidDataset {
        /// 1-based line number (0 when the whole file is at fault).
        line: usize,
        /// Why.
        reason: String,
    },
    /// An adapter was trained for a different base model.
    #[error("adapter was trained on base model {adapter_base}, not {base}")]
    AdapterBaseMismatch {
        /// The adapter's base model ID (hex).
        adapter_base: String,
        /// The loaded base model ID (hex).
        base: String,
    },
    /// An adapter file is malformed.
    #[error("invalid adapter: {0}")]
    InvalidAdapter(String),
    /// The operation is not available for this model or build.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// Tokenizer failure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Tensor runtime failure.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Thread pool creation failed.
    #[error("thread pool: {0}")]
    ThreadPool(String),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn tokenizer(e: impl std::fmt::Display) -> Self {
        Self::Tokenizer(e.to_string())
    }

    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParam {
            name,
            reason: reason.into(),
        }
    }
}
