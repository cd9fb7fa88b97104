//! Errors of the referee: every way a witness or a model can be rejected.

use mycel_primitives::codec::CodecError;

/// Why a model, a run or a dispute witness was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RefereeError {
    /// The architecture is out of the bounds Tier D supports.
    #[error("invalid arch: {0}")]
    InvalidArch(&'static str),
    /// Weights do not have the shapes the architecture implies.
    #[error("weights do not match the arch: {0}")]
    WeightShape(&'static str),
    /// A prompt or generated token is not below the vocabulary size.
    #[error("token {0} is outside the vocabulary")]
    TokenOutOfRange(u32),
    /// The prompt is empty, longer than [`crate::MAX_PROMPT_TOKENS`] or not a whole number of u32s.
    #[error("invalid prompt: {0}")]
    InvalidPrompt(&'static str),
    /// The witness is larger than [`crate::MAX_WITNESS_BYTES`].
    #[error("witness of {0} bytes exceeds the limit")]
    Oversized(usize),
    /// The witness does not decode.
    #[error("witness does not decode: {0}")]
    Codec(#[from] CodecError),
    /// The witness's arch and weight root do not hash to the disputed model.
    #[error("arch and weight root are not the disputed model")]
    WrongModel,
    /// The leaf index is beyond the committed trace, or the trace length does not fit the arch.
    #[error("leaf {index} is outside a trace of {len} leaves")]
    IndexOutOfRange {
        /// The disputed leaf.
        index: u64,
        /// The committed trace length.
        len: u64,
    },
    /// The committed trace length is not a whole number of positions of the arch.
    #[error("trace length {0} is not a whole number of positions")]
    TraceLength(u64),
    /// The step would run past the job's `max_tokens`.
    #[error("position {0} is past the job's max_tokens")]
    PastMaxTokens(u64),
    /// A proof the step needs is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A proof is for another position or tree size than the one the step reads.
    #[error("{0} proof is for the wrong leaf or tree size")]
    WrongPosition(&'static str),
    /// A Merkle proof does not verify against its root.
    #[error("{what} is not proven: {source}")]
    Unproven {
        /// Which proof.
        what: &'static str,
        /// Why it failed.
        source: mycel_primitives::Error,
    },
    /// The prompt bytes do not hash to the job's input.
    #[error("prompt does not hash to the job input")]
    WrongInput,
    /// A state's bytes do not decode, or its position is not the one its leaf index implies.
    #[error("malformed state: {0}")]
    BadState(&'static str),
    /// A weight slice has the wrong header or length for the step.
    #[error("malformed weight slice: {0}")]
    BadSlice(&'static str),
}

/// Result with the [`RefereeError`].
pub type Result<T> = std::result::Result<T, RefereeError>;
