//! Content-addressed blob store under `$MYCEL_HOME/blobs`: files named by the plain BLAKE3 hash
//! of their bytes, written atomically (temp + rename) and verified on every read.

use crate::{Error, Result, error::io, id::blob_hash};
use mycel_primitives::Hash;
use std::path::{Path, PathBuf};

/// A blob store rooted at a folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(BlobStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of blob `h`.
    pub fn path(&self, h: &Hash) -> PathBuf {
        let hex = h.to_hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Whether blob `h` is present (not verified).
    pub fn has(&self, h: &Hash) -> bool {
        self.path(h).is_file()
    }

    /// Stores `bytes`; returns their hash. Idempotent.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash> {
        let h = blob_hash(bytes);
        self.put_hashed(&h, bytes)?;
        Ok(h)
    }

    /// Stores `bytes` already known to hash to `h`.
    pub fn put_hashed(&self, h: &Hash, bytes: &[u8]) -> Result<()> {
        let path = self.path(h);
        if path.is_file() {
            return Ok(());
        }
        let parent = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let tmp = crate::jsonl::temp_path(&path);
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(&path)(e)
        })
    }

    /// Reads blob `h` and checks its hash.
    pub fn get(&self, h: &Hash) -> Result<Vec<u8>> {
        let path = self.path(h);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingBlob(h.to_hex()));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let got = blob_hash(&bytes);
        if &got != h {
            return Err(Error::CorruptBlob(h.to_hex(), got.to_hex()));
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
        let h = s.put(b"hello").unwrap();
        assert_eq!(s.put(b"hello").unwrap(), h);
        assert_eq!(s.get(&h).unwrap(), b"hello");
        std::fs::write(s.path(&h), b"evil").unwrap();
        assert!(matches!(s.get(&h), Err(Error::CorruptBlob(..))));
        assert!(matches!(
            s.get(&blob_hash(b"nope")),
            Err(Error::MissingBlob(_))
        ));
    }
}
