//! A dataset's published signature table: the MinHash signature of every text record, sorted by
//! raw ID, whose Merkle root is the registration's signature root.
//!
//! A contributor publishes it as a blob when registering, and the registration records its
//! address; any node fetches the tables of everything registered, checks each against its
//! on-chain root, and rebuilds the near-dup index of the whole network. A fresh home that never
//! ingested the earlier data is then checked against it before it claims novelty.
//!
//! File form: magic `MYCSIGT1`, the profile ID (32 bytes), the row count (u64 BE), then rows of
//! the raw ID (32 bytes) and the signature (`K` little-endian `u32`s), IDs strictly increasing.

use crate::{Error, Result, error::io, id::RecordId, manifest::signature_root, minhash::K};
use mycel_primitives::Hash;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"MYCSIGT1";
const HEADER: usize = 8 + 32 + 8;
const ROW: usize = 32 + 4 * K;

/// A dataset's signatures under one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureTable {
    /// The dedup profile the signatures were computed under.
    pub profile_id: Hash,
    /// `(raw ID, signature)`, sorted by ID, distinct.
    pub rows: Vec<(RecordId, [u32; K])>,
}

impl SignatureTable {
    /// A table over `rows` (sorted and deduplicated here).
    pub fn new(profile_id: Hash, mut rows: Vec<(RecordId, [u32; K])>) -> Self {
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        SignatureTable { profile_id, rows }
    }

    /// The Merkle root the registration records (`Registration::signature_root`).
    pub fn root(&self) -> Hash {
        signature_root(
            self.rows
                .iter()
                .map(|(id, s)| (*id, s.iter().flat_map(|v| v.to_le_bytes()).collect()))
                .collect(),
        )
    }

    /// The file (and blob) form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + ROW * self.rows.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.profile_id.0);
        out.extend_from_slice(&(self.rows.len() as u64).to_be_bytes());
        for (id, sig) in &self.rows {
            out.extend_from_slice(&id.0.0);
            for v in sig {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Parses a table published for a registration with `root` under `profile_id`; a table
    /// that is malformed, of another profile, unsorted or with another root is refused.
    pub fn from_bytes(bytes: &[u8], profile_id: &Hash, root: &Hash) -> Result<Self> {
        let bad = |why: String| Error::InvalidParam(format!("signature table: {why}"));
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(bad("not a signature table".into()));
        }
        if bytes[8..40] != profile_id.0 {
            return Err(bad("computed under another dedup profile".into()));
        }
        let n = u64::from_be_bytes(bytes[40..48].try_into().expect("8 bytes"));
        let body = &bytes[HEADER..];
        if u64::try_from(body.len() / ROW).ok() != Some(n) || !body.len().is_multiple_of(ROW) {
            return Err(bad(format!("{} bytes of rows for {n} rows", body.len())));
        }
        let mut rows: Vec<(RecordId, [u32; K])> = Vec::with_capacity(n as usize);
        for row in body.chunks_exact(ROW) {
            let id = RecordId(Hash(row[..32].try_into().expect("32 bytes")));
            if rows.last().is_some_and(|(prev, _)| *prev >= id) {
                return Err(bad("rows are not in strictly increasing ID order".into()));
            }
            let mut sig = [0u32; K];
            for (v, b) in sig.iter_mut().zip(row[32..].chunks_exact(4)) {
                *v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
            rows.push((id, sig));
        }
        let t = SignatureTable {
            profile_id: *profile_id,
            rows,
        };
        if t.root() != *root {
            return Err(bad(format!("its root is not the registered {root}")));
        }
        Ok(t)
    }

    /// Writes the table atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = crate::jsonl::temp_path(path);
        std::fs::write(&tmp, self.to_bytes()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// Reads the table at `path` and checks it against `root`.
    pub fn load(path: &Path, profile_id: &Hash, root: &Hash) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        Self::from_bytes(&bytes, profile_id, root)
    }

    /// The signature of record `id`, if the table has it.
    pub fn get(&self, id: &RecordId) -> Option<&[u32; K]> {
        self.rows
            .binary_search_by_key(id, |r| r.0)
            .ok()
            .map(|i| &self.rows[i].1)
    }
}

/// Where a home keeps the signature table of dataset `root`, beside its manifest.
pub fn table_path(home: &Path, root: &Hash) -> PathBuf {
    crate::ingest::datasets_dir(home).join(format!("{}.sigs", root.to_hex()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::raw_id;

    fn table() -> SignatureTable {
        let rows = (0..5u32)
            .map(|i| (raw_id(&i.to_le_bytes()), [i; K]))
            .rev()
            .collect();
        SignatureTable::new(Hash([7; 32]), rows)
    }

    #[test]
    fn round_trips_and_checks_its_root() {
        let t = table();
        let root = t.root();
        let back = SignatureTable::from_bytes(&t.to_bytes(), &t.profile_id, &root).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.get(&t.rows[2].0), Some(&t.rows[2].1));
    }

    #[test]
    fn forged_or_foreign_tables_are_refused() {
        let t = table();
        let root = t.root();
        let mut bytes = t.to_bytes();
        // A lying signature changes the root.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(SignatureTable::from_bytes(&bytes, &t.profile_id, &root).is_err());
        // Another profile, a truncated table, garbage.
        assert!(SignatureTable::from_bytes(&t.to_bytes(), &Hash([8; 32]), &root).is_err());
        let b = t.to_bytes();
        assert!(SignatureTable::from_bytes(&b[..b.len() - 3], &t.profile_id, &root).is_err());
        assert!(SignatureTable::from_bytes(b"nonsense", &t.profile_id, &root).is_err());
        // Rows out of order (same root would need the same order, but check the order anyway).
        let mut swapped = t.clone();
        swapped.rows.swap(0, 1);
        let b = swapped.to_bytes();
        assert!(SignatureTable::from_bytes(&b, &t.profile_id, &swapped.root()).is_err());
    }
}
