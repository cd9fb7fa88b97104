//! The durable mempool: an append-only log of the transactions a node acknowledged.
//!
//! A node acknowledges a submitted transaction only once it is on disk, so a crash cannot lose
//! it. These writes once went into a redb table: a commit per group of submissions rewrote the
//! table's pages and the database header and synced them, and at 1,000 tx/s on four validators
//! those commits were the largest share of the latency left (see BENCHMARKS.md, issue 15).
//! Here a group is one `write` of its records at the end of a file and one `fdatasync`.
//!
//! A record is `len: u32 LE` ‖ `check: [u8; 8]` (the first bytes of the BLAKE3 hash of the
//! body) ‖ body, where the body is `1` ‖ tx hash (32) ‖ encoded tx for an admission and `0` ‖
//! tx hash for a removal. A crash in the middle of an append leaves a torn record at the end:
//! opening the log keeps every whole record before it and cuts the file there. (Records that
//! were acknowledged were synced before the acknowledgement, so they lie before any tear.)
//!
//! Removals (evictions, transactions found invalid) are appended with the next group and never
//! waited for: one lost in a crash only brings back a transaction the node checks again when
//! it restores its mempool. Finalized transactions are not logged as removed at all; the block
//! commit forgets them in memory, and a restore skips those already in a block.
//!
//! The log is rewritten with only the live transactions (to a temporary file, synced, then
//! renamed over the log) once it holds more than [`COMPACT_MIN_BYTES`] and four times the live
//! bytes.

use crate::error::{Error, Result};
use mycel_primitives::Hash;
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, VecDeque},
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

/// The log is compacted only once it is at least this long.
pub const COMPACT_MIN_BYTES: u64 = 16 << 20;

/// Failed groups remembered for their waiting submitters.
const FAILED_GROUPS: usize = 1_024;

/// Length prefix and checksum.
const RECORD_HEAD: usize = 4 + 8;

/// Largest body a record may have (an encoded transaction is far smaller); a longer length
/// prefix is a torn or corrupt record.
const MAX_BODY: usize = 1 << 24;

/// The admitted transactions a node has acknowledged, on disk and in memory.
pub(crate) struct PendingLog {
    path: PathBuf,
    queue: Mutex<Queue>,
    /// Held while a group is written.
    written: Mutex<Written>,
}

#[derive(Default)]
struct Queue {
    /// Sequence number of the last queued admission.
    last: u64,
    /// Admissions (`Some`) and removals (`None`), in the order they were queued.
    ops: Vec<(Hash, Option<Vec<u8>>)>,
}

struct Written {
    file: File,
    /// Bytes in the log.
    len: u64,
    /// Every admission up to this sequence number has been written, or has failed.
    upto: u64,
    /// Recent groups whose write failed: (first, last) sequence numbers and the error.
    failed: VecDeque<(u64, u64, String)>,
    /// The transactions the log holds, by hash.
    live: BTreeMap<Hash, Vec<u8>>,
    /// Their encoded size.
    live_bytes: u64,
}

fn io(e: std::io::Error) -> Error {
    Error::Db(format!("mempool log: {e}"))
}

fn check(body: &[u8]) -> [u8; 8] {
    blake3::hash(body).as_bytes()[..8]
        .try_into()
        .expect("8 bytes")
}

fn encode(out: &mut Vec<u8>, hash: &Hash, tx: Option<&[u8]>) {
    let mut body = Vec::with_capacity(33 + tx.map_or(0, <[u8]>::len));
    body.push(u8::from(tx.is_some()));
    body.extend_from_slice(&hash.0);
    if let Some(tx) = tx {
        body.extend_from_slice(tx);
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&check(&body));
    out.extend_from_slice(&body);
}

/// The whole records of `bytes` applied to `live`; returns where the last whole record ends.
fn replay(bytes: &[u8], live: &mut BTreeMap<Hash, Vec<u8>>) -> usize {
    let mut at = 0;
    while bytes.len() - at >= RECORD_HEAD {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let end = at + RECORD_HEAD + len;
        if !(33..=MAX_BODY).contains(&len) || end > bytes.len() {
            break;
        }
        let body = &bytes[at + RECORD_HEAD..end];
        if check(body) != bytes[at + 4..at + RECORD_HEAD] {
            break;
        }
        let hash = Hash(body[1..33].try_into().expect("32 bytes"));
        match body[0] {
            1 => {
                live.insert(hash, body[33..].to_vec());
            }
            0 if len == 33 => {
                live.remove(&hash);
            }
            _ => break,
        }
        at = end;
    }
    at
}

/// Makes a rename or creation in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

impl PendingLog {
    /// Opens the log at `path` (creating it), replaying its whole records and cutting off a
    /// torn one at its end.
    pub(crate) fn open(path: &Path) -> Result<PendingLog> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut live = BTreeMap::new();
        let good = replay(&bytes, &mut live);
        if good < bytes.len() {
            file.set_len(good as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        sync_dir(path)?;
        let live_bytes = live.values().map(|v| v.len() as u64 + 33).sum();
        Ok(PendingLog {
            path: path.to_path_buf(),
            queue: Mutex::new(Queue::default()),
            written: Mutex::new(Written {
                file,
                len: good as u64,
                upto: 0,
                failed: VecDeque::new(),
                live,
                live_bytes,
            }),
        })
    }

    /// Records `tx` (encoded, with its hash) and forgets `evicted`; returns once the record is
    /// on disk. Concurrent callers share one write and one sync: whoever takes the writer's
    /// lock writes everything queued so far, and the others find their record written.
    pub(crate) fn admit(&self, hash: &Hash, tx: &[u8], evicted: &[Hash]) -> Result<()> {
        let me = {
            let mut q = self.queue.lock();
            q.last += 1;
            q.ops.extend(evicted.iter().map(|h| (*h, None)));
            q.ops.push((*hash, Some(tx.to_vec())));
            q.last
        };
        let mut w = self.written.lock();
        if w.upto < me {
            let first = w.upto + 1;
            let (last, ops) = {
                let mut q = self.queue.lock();
                (q.last, std::mem::take(&mut q.ops))
            };
            let r = self.write(&mut w, ops);
            w.upto = last;
            if let Err(e) = r {
                if w.failed.len() == FAILED_GROUPS {
                    w.failed.pop_front();
                }
                w.failed.push_back((first, last, e.to_string()));
            }
        }
        match w.failed.iter().find(|(a, b, _)| (*a..=*b).contains(&me)) {
            Some((_, _, e)) => Err(Error::Db(e.clone())),
            None => Ok(()),
        }
    }

    /// Forgets `hashes` (evicted or found invalid); written with the next group, not waited for.
    pub(crate) fn remove(&self, hashes: &[Hash]) {
        if !hashes.is_empty() {
            self.queue
                .lock()
                .ops
                .extend(hashes.iter().map(|h| (*h, None)));
        }
    }

    /// Forgets transactions a committed block finalized (in memory only: a restore skips
    /// transactions already in a block).
    pub(crate) fn finalized(&self, hashes: impl Iterator<Item = Hash>) {
        let mut w = self.written.lock();
        for h in hashes {
            if let Some(v) = w.live.remove(&h) {
                w.live_bytes -= v.len() as u64 + 33;
            }
        }
    }

    /// Every transaction the log holds (encoded).
    pub(crate) fn live(&self) -> Vec<(Hash, Vec<u8>)> {
        let w = self.written.lock();
        w.live.iter().map(|(h, tx)| (*h, tx.clone())).collect()
    }

    fn write(&self, w: &mut Written, ops: Vec<(Hash, Option<Vec<u8>>)>) -> Result<()> {
        let mut out = Vec::new();
        for (h, tx) in &ops {
            encode(&mut out, h, tx.as_deref());
        }
        if let Err(e) = w.file.write_all(&out).and_then(|()| w.file.sync_data()) {
            // Nothing of the group is known durable: cut the file back to where it was, so a
            // partial write is not followed by later records.
            let _ = w.file.set_len(w.len);
            return Err(io(e));
        }
        w.len += out.len() as u64;
        for (h, tx) in ops {
            match tx {
                Some(tx) => {
                    w.live_bytes += tx.len() as u64 + 33;
                    if let Some(old) = w.live.insert(h, tx) {
                        w.live_bytes -= old.len() as u64 + 33;
                    }
                }
                None => {
                    if let Some(old) = w.live.remove(&h) {
                        w.live_bytes -= old.len() as u64 + 33;
                    }
                }
            }
        }
        if w.len > COMPACT_MIN_BYTES && w.len > 4 * w.live_bytes {
            self.compact(w)?;
        }
        Ok(())
    }

    /// Rewrites the log with only the live transactions.
    fn compact(&self, w: &mut Written) -> Result<()> {
        let mut out = Vec::new();
        for (h, tx) in &w.live {
            encode(&mut out, h, Some(tx));
        }
        let tmp = self.path.with_extension("compacting");
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&out).and_then(|()| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        sync_dir(&self.path)?;
        w.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        w.len = out.len() as u64;
        Ok(())
    }

    /// Compacts the log now (for tests).
    #[cfg(test)]
    pub(crate) fn compact_now(&self) -> Result<()> {
        let mut w = self.written.lock();
        self.compact(&mut w)
    }

    /// Bytes in the log.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.written.lock().len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.mempool");
        let log = PendingLog::open(&path).unwrap();
        log.admit(&h(1), b"one", &[]).unwrap();
        log.admit(&h(2), b"two", &[]).unwrap();
        log.admit(&h(3), b"three", &[h(1)]).unwrap();
        log.remove(&[h(2)]);
        log.finalized([h(3)].into_iter());
        // The removal of 2 is only queued: the next admission writes it.
        assert_eq!(log.live(), vec![(h(2), b"two".to_vec())]);
        log.admit(&h(4), b"four", &[]).unwrap();
        assert_eq!(log.live(), vec![(h(4), b"four".to_vec())]);
        let len = log.len();
        drop(log);

        // A crash mid-append: half a record at the end.
        let mut torn = Vec::new();
        encode(&mut torn, &h(5), Some(b"five"));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(f);

        let log = PendingLog::open(&path).unwrap();
        assert_eq!(log.len(), len, "the torn record is cut off");
        // 3 was finalized in memory only: the log still holds it (a restore skips it).
        assert_eq!(
            log.live(),
            vec![(h(3), b"three".to_vec()), (h(4), b"four".to_vec())]
        );
        log.admit(&h(6), b"six", &[]).unwrap();
        drop(log);
        assert_eq!(PendingLog::open(&path).unwrap().live().len(), 3);
    }

    #[test]
    fn a_corrupt_record_ends_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.mempool");
        let log = PendingLog::open(&path).unwrap();
        log.admit(&h(1), b"one", &[]).unwrap();
        log.admit(&h(2), b"two", &[]).unwrap();
        drop(log);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            PendingLog::open(&path).unwrap().live(),
            vec![(h(1), b"one".to_vec())]
        );
    }

    #[test]
    fn compaction_keeps_only_live_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.mempool");
        let log = PendingLog::open(&path).unwrap();
        for i in 0..100 {
            log.admit(&h(i), &[i; 100], &[]).unwrap();
        }
        log.finalized((0..99).map(h));
        let before = log.len();
        log.compact_now().unwrap();
        assert!(
            log.len() < before / 50,
            "{} of {before} bytes left",
            log.len()
        );
        log.admit(&h(200), b"after", &[]).unwrap();
        drop(log);
        let live = PendingLog::open(&path).unwrap().live();
        assert_eq!(
            live,
            vec![(h(99), vec![99; 100]), (h(200), b"after".to_vec())]
        );
        assert!(!path.with_extension("compacting").exists());
    }
}
