//! Errors of the primitives crate.

/// Errors raised while parsing or verifying primitive values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An amount string could not be parsed.
    #[error("invalid amount {0:?}: {1}")]
    InvalidAmount(String, &'static str),
    /// Arithmetic on amounts overflowed or went below zero.
    #[error("amount arithmetic overflow")]
    AmountOverflow,
    /// An address string is not a valid `myc1…` bech32m address.
    #[error("invalid address {0:?}: {1}")]
    InvalidAddress(String, String),
    /// A hex string could not be decoded or has the wrong length.
    #[error("invalid hex: {0}")]
    InvalidHex(String),
    /// A key could not be decoded.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Canonical decoding failed.
    #[error("decode: {0}")]
    Codec(#[from] commonware_codec::Error),
    /// A Merkle proof does not match the root it was checked against.
    #[error("merkle proof does not verify: {0}")]
    InvalidProof(&'static str),
}

/// Result with the primitives [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
