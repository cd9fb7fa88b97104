//! The content ID of a data record, defined here so that the ledger can recompute it from a
//! record revealed in a challenge, and the data engine builds the same ID from its chunks.
//!
//! A record is cut into chunks (one chunk up to 64 KiB, content-defined chunks above); each chunk
//! is a leaf `leaf_hash(blake3(chunk) ‖ len_be64)` of an RFC 6962 tree, and the record's ID hashes
//! its length with that tree's root in [`Domain::DataRecord`].

use crate::{
    Hash,
    hash::{Domain, hash_parts},
    merkle,
};

/// Largest record that is a single chunk (larger ones are cut by content).
pub const SINGLE_CHUNK_MAX: usize = 64 * 1024;

/// The leaf of a chunk with BLAKE3 `hash` and `len` bytes in its record's chunk tree.
pub fn chunk_leaf(hash: &Hash, len: u64) -> Hash {
    let mut buf = [0u8; 40];
    buf[..32].copy_from_slice(&hash.0);
    buf[32..].copy_from_slice(&len.to_be_bytes());
    merkle::leaf_hash(&buf)
}

/// A record's ID from its length and the root of its chunk tree.
pub fn record_id(len: u64, chunk_root: &Hash) -> Hash {
    hash_parts(
        Domain::DataRecord,
        &[&len.to_be_bytes(), chunk_root.as_bytes()],
    )
}

/// The ID of a record of at most [`SINGLE_CHUNK_MAX`] bytes (one chunk); `None` above.
pub fn single_chunk_record_id(bytes: &[u8]) -> Option<Hash> {
    if bytes.len() > SINGLE_CHUNK_MAX {
        return None;
    }
    let leaf = chunk_leaf(&Hash(*blake3::hash(bytes).as_bytes()), bytes.len() as u64);
    Some(record_id(bytes.len() as u64, &merkle::root(&[leaf])))
}
