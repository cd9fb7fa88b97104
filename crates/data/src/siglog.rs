//! The near-dup memory of a node: the normalised ID and MinHash signature of every text record
//! it has registered, so a new dataset is near-deduplicated against all earlier ones, not only
//! within itself.
//!
//! One append-only file, `signatures.bin`: a header (magic, then the profile ID, because a
//! signature means nothing under another profile), then fixed-size records of the normalised ID
//! (32 bytes) and the signature (`K` little-endian `u32`s). Appends are fsynced; a torn record at
//! the tail (a crash mid-append) is cut off on open, so the log always holds whole records.

use crate::{Error, Result, error::io, id::RecordId, minhash::K};
use mycel_primitives::Hash;
use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

const MAGIC: &[u8; 8] = b"MYCSIG1\0";
const HEADER: usize = 8 + 32;
const RECORD: usize = 32 + 4 * K;

/// A normalised record ID with its MinHash signature.
pub type Signed = (RecordId, [u32; K]);

/// The signature log of one profile in one folder.
pub struct SignatureLog {
    path: PathBuf,
    profile_id: Hash,
}

impl SignatureLog {
    /// The log at `dir/signatures.bin` for `profile_id`; the file is created by the first append.
    pub fn open(dir: &Path, profile_id: Hash) -> Self {
        SignatureLog {
            path: dir.join("signatures.bin"),
            profile_id,
        }
    }

    /// Every logged record, oldest first.
    pub fn load(&self) -> Result<Vec<Signed>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.path)(e)),
        };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(self.corrupt("bad header"));
        }
        if bytes[8..HEADER] != self.profile_id.0 {
            return Err(Error::InvalidParam(format!(
                "{} holds signatures of another dedup profile",
                self.path.display()
            )));
        }
        let body = &bytes[HEADER..];
        let whole = body.len() / RECORD * RECORD;
        if whole != body.len() {
            // A crash tore the last append: drop it, it was never acknowledged.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(io(&self.path))?;
            f.set_len((HEADER + whole) as u64).map_err(io(&self.path))?;
            f.sync_all().map_err(io(&self.path))?;
        }
        Ok(body[..whole]
            .chunks_exact(RECORD)
            .map(|r| {
                let id = RecordId(Hash(r[..32].try_into().expect("32 bytes")));
                let mut sig = [0u32; K];
                for (v, b) in sig.iter_mut().zip(r[32..].chunks_exact(4)) {
                    *v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                }
                (id, sig)
            })
            .collect())
    }

    /// Appends records and syncs them to disk.
    pub fn append(&self, records: &[Signed]) -> Result<()> {
        if !self.path.exists() {
            let dir = self.path.parent().expect("a file in a folder");
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let mut head = MAGIC.to_vec();
            head.extend_from_slice(self.profile_id.as_bytes());
            let tmp = crate::jsonl::temp_path(&self.path);
            std::fs::write(&tmp, head).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        }
        let mut buf = Vec::with_capacity(records.len() * RECORD);
        for (id, sig) in records {
            buf.extend_from_slice(id.0.as_bytes());
            for v in sig {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        f.write_all(&buf).map_err(io(&self.path))?;
        f.sync_all().map_err(io(&self.path))
    }

    fn corrupt(&self, why: &str) -> Error {
        Error::Decode {
            path: self.path.clone(),
            why: why.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u8) -> Signed {
        let mut sig = [0u32; K];
        for (j, v) in sig.iter_mut().enumerate() {
            *v = u32::from(i) * 1000 + j as u32;
        }
        (RecordId(Hash([i; 32])), sig)
    }

    #[test]
    fn appends_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = Hash([9; 32]);
        let log = SignatureLog::open(dir.path(), p);
        assert!(log.load().unwrap().is_empty());
        log.append(&[rec(1), rec(2)]).unwrap();
        log.append(&[rec(3)]).unwrap();
        // A torn append: half a record.
        let path = dir.path().join("signatures.bin");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[7; RECORD / 2]).unwrap();
        drop(f);
        let log = SignatureLog::open(dir.path(), p);
        assert_eq!(log.load().unwrap(), vec![rec(1), rec(2), rec(3)]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            HEADER + 3 * RECORD
        );
    }

    #[test]
    fn another_profile_or_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        SignatureLog::open(dir.path(), Hash([1; 32]))
            .append(&[rec(1)])
            .unwrap();
        let other = SignatureLog::open(dir.path(), Hash([2; 32]));
        assert!(matches!(other.load(), Err(Error::InvalidParam(_))));
        std::fs::write(dir.path().join("signatures.bin"), b"junk").unwrap();
        assert!(matches!(
            SignatureLog::open(dir.path(), Hash([1; 32])).load(),
            Err(Error::Decode { .. })
        ));
    }
}
