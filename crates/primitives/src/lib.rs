//! Hashes, typed IDs, amounts, addresses, keys and the canonical codec shared by every mycel crate.
//!
//! Everything that two nodes must agree on bit for bit starts here:
//! - [`hash`]: BLAKE3 with a distinct *domain* per hashed type, so a transaction hash can never be
//!   confused with a block hash or a Merkle node.
//! - [`Amount`]: token amounts in base units (`u128`, checked arithmetic; 1 MYC = 10^9 base units).
//! - [`Address`]: 20-byte account addresses printed as bech32m `myc1…`.
//! - [`keys`]: ed25519 signing keys, signatures and batch verification.
//! - [`codec`]: the canonical binary codec (commonware-codec) with explicit size limits.
//! - [`merkle`]: RFC 6962 Merkle trees with inclusion proofs, shared by the ledger and the data engine.
//!
//! ```
//! use mycel_primitives::{hash::{Domain, hash}, Amount};
//! let a = hash(Domain::Tx, b"payload");
//! let b = hash(Domain::Block, b"payload");
//! assert_ne!(a, b);
//! assert_eq!(Amount::from_myc(2).to_string(), "2 MYC");
//! ```

pub mod address;
pub mod amount;
pub mod codec;
pub mod error;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod record;

pub use address::Address;
pub use amount::Amount;
pub use error::{Error, Result};
pub use hash::{Domain, Hash};
pub use keys::{PrivateKey, PublicKey, Signature};
