//! The content-addressed blob store: dataset chunks, model weights, job inputs and outputs.
//!
//! A blob is addressed by the plain BLAKE3 hash of its bytes (the hash iroh-blobs and any BLAKE3
//! tool compute, so addresses do not depend on the transport). Blobs live in
//! `<dir>/<first two hex digits>/<hex>`, are written to a temporary file, synced and renamed into
//! place (a crash leaves either the whole blob or nothing), and are verified on every read.

use crate::{Error, Result};
use mycel_primitives::{Address, Hash};
use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// An upload recorded against its uploader's quota until the chain references the blob or the
/// collector deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The blob.
    pub hash: Hash,
    /// Who signed the upload.
    pub uploader: Address,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last uploaded (this node's clock, ms since the Unix epoch; 0 for records
    /// written before uploads were timed).
    pub at_ms: u64,
}

impl Upload {
    /// The record's bytes: uploader (20) ‖ size (u64 BE) ‖ at_ms (u64 BE).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(36);
        v.extend_from_slice(&self.uploader.0);
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.at_ms.to_be_bytes());
        v
    }

    /// Reads a record (28 bytes without the time, from older nodes; 36 with it).
    pub(crate) fn decode(hash: &Hash, v: &[u8]) -> Option<Upload> {
        if v.len() != 28 && v.len() != 36 {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(v[i..i + 8].try_into().expect("8 bytes"));
        Some(Upload {
            hash: *hash,
            uploader: Address(v[..20].try_into().expect("20 bytes")),
            size: u64_at(20),
            at_ms: if v.len() == 36 { u64_at(28) } else { 0 },
        })
    }
}

/// A directory of content-addressed blobs.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
}

/// The address of `bytes`.
pub fn blob_hash(bytes: &[u8]) -> Hash {
    Hash(*blake3::hash(bytes).as_bytes())
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Db(format!("{}: {e}", path.display()))
}

impl BlobStore {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<BlobStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Ok(BlobStore { dir })
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob `h` lives.
    pub fn path(&self, h: &Hash) -> PathBuf {
        let hex = h.to_hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// True when the blob is present.
    pub fn has(&self, h: &Hash) -> bool {
        self.path(h).exists()
    }

    /// Stores `bytes` and returns their address. Storing the same bytes again is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash> {
        let h = blob_hash(bytes);
        self.put_hashed(&h, bytes)?;
        Ok(h)
    }

    /// Stores `bytes` that the caller has just hashed to `h` (a chunker hashes every chunk as it
    /// cuts it; hashing again here would double the cost). [`BlobStore::get`] still verifies.
    pub fn put_hashed(&self, h: &Hash, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(blob_hash(bytes), *h);
        let path = self.path(h);
        if path.exists() {
            return Ok(());
        }
        let parent = path.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        // One temporary file per write: concurrent writers of the same blob (eight uploads of
        // one body at once) each write their own and the renames replace whole files.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!(".{}.{}.{n}.tmp", h.to_hex(), std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    /// Deletes the blob `h` (absent already: nothing to do). Only the upload collector calls
    /// this, holding the node's upload lock.
    pub fn remove(&self, h: &Hash) -> Result<()> {
        let path = self.path(h);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// Reads a blob and checks that it still hashes to its address.
    pub fn get(&self, h: &Hash) -> Result<Vec<u8>> {
        let path = self.path(h);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingBlob(*h));
            }
            Err(e) => return Err(io(&path, e)),
        };
        let actual = blob_hash(&bytes);
        if actual != *h {
            return Err(Error::CorruptBlob {
                expected: *h,
                actual,
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_verify() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path()).unwrap();
        let h = s.put(b"hello blobs").unwrap();
        assert_eq!(h, blob_hash(b"hello blobs"));
        assert_eq!(s.put(b"hello blobs").unwrap(), h);
        assert_eq!(s.get(&h).unwrap(), b"hello blobs");
        assert!(matches!(
            s.get(&blob_hash(b"absent")),
            Err(Error::MissingBlob(_))
        ));
        std::fs::write(s.path(&h), b"tampered").unwrap();
        assert!(matches!(s.get(&h), Err(Error::CorruptBlob { .. })));
    }

    #[test]
    fn concurrent_writes_of_one_blob_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path()).unwrap();
        let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let h = blob_hash(&body);
        std::thread::scope(|t| {
            let handles: Vec<_> = (0..8).map(|_| t.spawn(|| s.put(&body))).collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap().unwrap(), h);
            }
        });
        assert_eq!(s.get(&h).unwrap(), body);
        let leftovers = std::fs::read_dir(s.path(&h).parent().unwrap())
            .unwrap()
            .count();
        assert_eq!(leftovers, 1, "temporary files left behind");
    }

    #[test]
    fn address_is_plain_blake3() {
        // The empty input's BLAKE3 digest, from the BLAKE3 specification's test vectors.
        assert_eq!(
            blob_hash(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
