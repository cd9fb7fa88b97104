//! Crash-safe authenticated state store (redb + Jellyfish Merkle Tree) and block store for mycel.
//!
//! One redb file holds everything a node must not lose:
//! - the latest finalized state (key → value), for fast reads;
//! - the Jellyfish Merkle Tree over that state (its nodes; a leaf commits to its value's hash and
//!   the value is read from the state), whose root is the block's *state root*; versions are
//!   block heights;
//! - finalized blocks, the transaction index and each block's events, as opaque bytes (the ledger
//!   owns their encoding).
//!
//! Beside it, an append-only log (`pending.rs`, the file `<store>.mempool`) holds the transactions the node acknowledged and
//! has not yet seen finalized.
//!
//! A finalized block is written in **one** redb transaction: state writes, tree nodes, the block,
//! its index entries and the new height. redb commits are atomic and durable, so a crash at any
//! point restarts into the last committed block, never a half-applied one.
//!
//! Blocks that are proposed but not yet finalized are executed speculatively as [`Layer`]s over
//! the committed state: a layer holds one block's write set and the tree nodes it created, and a
//! [`Snapshot`] reads through a chain of layers down to the database.

pub mod blobs;
mod error;
mod layer;
mod pending;
mod state;
mod tables;

pub use blobs::{BlobStore, Upload, blob_hash};
pub use error::{Error, Result};
pub use layer::{Layer, WriteSet};
pub use state::{
    BlockRecord, CommitInfo, DEFAULT_CACHE_BYTES, MemState, Snapshot, StateRead, Store, TxLocation,
    verify_state_proof,
};
