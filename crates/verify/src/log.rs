//! Durable receipt logs: one append-only JSON-lines file per session in a folder, each append
//! synced before it returns, so a receipt that was acknowledged is never lost. A crash in the
//! middle of an append leaves a torn last line, which was never acknowledged and is dropped on
//! read; damage anywhere else is an error, never silently skipped.
//!
//! The worker keeps the receipts it signed (`Receipt`), a client the signed receipts it was
//! given ([`SignedReceipt`](crate::SignedReceipt)): the same log, typed by what it holds.

use crate::{Error, Result};
use serde::{Serialize, de::DeserializeOwned};
use std::{
    io::Write as _,
    marker::PhantomData,
    path::{Path, PathBuf},
};

/// A folder of per-session logs of `T`.
#[derive(Clone, Debug)]
pub struct ReceiptLog<T> {
    dir: PathBuf,
    _of: PhantomData<fn() -> T>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl<T: Serialize + DeserializeOwned> ReceiptLog<T> {
    /// The logs in `dir` (created on the first append).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ReceiptLog {
            dir: dir.into(),
            _of: PhantomData,
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `session`.
    pub fn path(&self, session: u64) -> PathBuf {
        self.dir.join(format!("{session}.jsonl"))
    }

    /// Appends `item` to the log of `session` and syncs it.
    pub fn append(&self, session: u64, item: &T) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path(session);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut line = serde_json::to_vec(item).expect("a receipt serializes");
        line.push(b'\n');
        f.write_all(&line).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))
    }

    /// Everything logged for `session`, in order (empty if nothing was).
    pub fn load(&self, session: u64) -> Result<Vec<T>> {
        let path = self.path(session);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path)(e)),
        };
        // A line is complete only when its newline was written.
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            match serde_json::from_str(l) {
                Ok(v) => out.push(v),
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(e) => {
                    return Err(Error::Corrupt {
                        path: path.display().to_string(),
                        line: i + 1,
                        why: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The sessions that have a log, in ascending order.
    pub fn sessions(&self) -> Result<Vec<u64>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut ids: Vec<u64> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".jsonl")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let log = ReceiptLog::<u64>::new(dir.path().join("s"));
        assert!(log.load(1).unwrap().is_empty());
        assert!(log.sessions().unwrap().is_empty());
        for v in [10, 11, 12] {
            log.append(1, &v).unwrap();
        }
        log.append(3, &30).unwrap();
        let reopened = ReceiptLog::<u64>::new(dir.path().join("s"));
        assert_eq!(reopened.load(1).unwrap(), vec![10, 11, 12]);
        assert_eq!(reopened.sessions().unwrap(), vec![1, 3]);

        // A crash mid-append: the partial line was never acknowledged.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path(1))
            .unwrap();
        f.write_all(b"1").unwrap();
        assert_eq!(
            log.load(1).unwrap(),
            vec![10, 11, 12, 1],
            "a digit is a valid u64 line"
        );
        f.write_all(b"3x").unwrap();
        assert_eq!(log.load(1).unwrap(), vec![10, 11, 12]);
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = ReceiptLog::<u64>::new(dir.path());
        std::fs::write(log.path(5), "1\nnot json\n3\n").unwrap();
        assert!(matches!(log.load(5), Err(Error::Corrupt { line: 2, .. })));
    }
}
