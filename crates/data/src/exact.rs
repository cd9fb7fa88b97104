//! Exact-dup index: a persistent sorted set of record IDs with a BinaryFuse8 filter in front.
//!
//! The filter (≈9 bits per ID, ≈0.4% false positives, no false negatives) answers most "new?"
//! queries without touching the sorted IDs; a "maybe" is confirmed by binary search. The sorted
//! IDs live in one file (`ids.bin`, 32 bytes per ID) replaced atomically (temp + rename) on every
//! insert batch; the filter is rebuilt from it on open and after each batch.

use crate::{Error, Result, error::io, id::RecordId};
use mycel_primitives::Hash;
use std::path::{Path, PathBuf};
use xorf::{BinaryFuse8, Filter};

/// The exact-dup index.
pub struct ExactIndex {
    path: Option<PathBuf>,
    ids: Vec<RecordId>,
    filter: Option<BinaryFuse8>,
}

fn key(id: &RecordId) -> u64 {
    u64::from_le_bytes(id.0.0[..8].try_into().expect("8 bytes"))
}

impl ExactIndex {
    /// An in-memory index over `ids`.
    pub fn in_memory(ids: Vec<RecordId>) -> Result<Self> {
        let mut x = ExactIndex {
            path: None,
            ids,
            filter: None,
        };
        x.rebuild()?;
        Ok(x)
    }

    /// Opens (or creates empty) the index stored at `dir/ids.bin`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("ids.bin");
        let ids = match std::fs::read(&path) {
            Ok(bytes) => {
                if bytes.len() % 32 != 0 {
                    return Err(Error::Decode {
                        path,
                        why: "length is not a multiple of 32".into(),
                    });
                }
                let ids: Vec<RecordId> = bytes
                    .chunks_exact(32)
                    .map(|c| RecordId(Hash(c.try_into().expect("32 bytes"))))
                    .collect();
                if ids.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(Error::Decode {
                        path,
                        why: "ids are not strictly sorted".into(),
                    });
                }
                ids
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut x = ExactIndex {
            path: Some(path),
            ids,
            filter: None,
        };
        x.rebuild()?;
        Ok(x)
    }

    fn rebuild(&mut self) -> Result<()> {
        self.ids.sort_unstable();
        self.ids.dedup();
        if self.ids.is_empty() {
            self.filter = None;
            return Ok(());
        }
        let mut keys: Vec<u64> = self.ids.iter().map(key).collect();
        keys.sort_unstable();
        keys.dedup();
        self.filter = Some(BinaryFuse8::try_from(&keys).map_err(Error::Filter)?);
        Ok(())
    }

    /// Number of IDs.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether the filter lets `id` through (a "maybe"); `false` means certainly absent.
    pub fn maybe_contains(&self, id: &RecordId) -> bool {
        self.filter.as_ref().is_some_and(|f| f.contains(&key(id)))
    }

    /// Whether `id` is in the index.
    pub fn contains(&self, id: &RecordId) -> bool {
        self.maybe_contains(id) && self.ids.binary_search(id).is_ok()
    }

    /// Adds IDs and persists the set atomically; returns how many were new.
    pub fn insert(&mut self, new: &[RecordId]) -> Result<usize> {
        let before = self.ids.len();
        self.ids.extend_from_slice(new);
        self.rebuild()?;
        let added = self.ids.len() - before;
        if let Some(path) = &self.path {
            let tmp = crate::jsonl::temp_path(path);
            let mut bytes = Vec::with_capacity(self.ids.len() * 32);
            for id in &self.ids {
                bytes.extend_from_slice(id.0.as_bytes());
            }
            std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))?;
        }
        Ok(added)
    }

    /// Bits per ID of the filter.
    pub fn filter_bits_per_id(&self) -> f64 {
        match &self.filter {
            Some(f) => f.fingerprints.len() as f64 * 8.0 / self.ids.len() as f64,
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::raw_id;

    #[test]
    fn filter_has_no_false_negatives_and_few_false_positives() {
        let ids: Vec<RecordId> = (0..20_000).map(|i: u32| raw_id(&i.to_le_bytes())).collect();
        let x = ExactIndex::in_memory(ids.clone()).unwrap();
        assert!(ids.iter().all(|i| x.contains(i)));
        let fp = (20_000..40_000u32)
            .filter(|i| x.maybe_contains(&raw_id(&i.to_le_bytes())))
            .count();
        assert!(fp < 200, "{fp} false positives of 20000");
        assert!((20_000..20_100u32).all(|i| !x.contains(&raw_id(&i.to_le_bytes()))));
        assert!(x.filter_bits_per_id() <= 10.0, "{}", x.filter_bits_per_id());
    }

    #[test]
    fn persists_and_rejects_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut x = ExactIndex::open(dir.path()).unwrap();
        assert!(x.is_empty());
        let a = raw_id(b"a");
        assert_eq!(x.insert(&[a, a, raw_id(b"b")]).unwrap(), 2);
        assert_eq!(x.insert(&[a]).unwrap(), 0);
        let y = ExactIndex::open(dir.path()).unwrap();
        assert!(y.contains(&a) && !y.contains(&raw_id(b"c")));
        std::fs::write(dir.path().join("ids.bin"), [1u8; 33]).unwrap();
        assert!(matches!(
            ExactIndex::open(dir.path()),
            Err(Error::Decode { .. })
        ));
    }
}
