//! Collecting uploads nothing references.
//!
//! Every upload is recorded against its uploader's quota ([`mycel_store::Upload`]). Once it is
//! older than the grace period, the collector decides its fate:
//! - the chain references it (a dataset's manifest or signature table, a chunk that a registered
//!   manifest lists, a model's files, a job's input or output, an edge unit's answer; see
//!   [`mycel_ledger::blobs`]) or one of this home's own datasets lists it: the network keeps it,
//!   and its bytes go back to the uploader's quota (the quota bounds only what nothing
//!   references yet);
//! - nothing does: the blob is deleted and its bytes go back to the quota.
//!
//! A registered manifest that neither this node nor its blob peers hold cannot be expanded: the
//! uploads of its contributor are then kept for another sweep rather than risk deleting one of
//! its chunks (a contributor can stall only the collection of its own uploads this way).
//!
//! Deletion and upload exclude each other ([`UploadLock`]): an upload acknowledged while a
//! sweep runs is never deleted under it, because an upload restarts its record's clock and the
//! collector deletes only a record it finds unchanged, holding the lock.

use super::{BlobSource as _, Peers};
use crate::Result;
use mycel_consensus::Chain;
use mycel_data::manifest::Manifest;
use mycel_primitives::{Address, Hash};
use mycel_store::{BlobStore, Upload};
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tracing::{debug, info, warn};

/// Held shared by an upload (charge and write), exclusively by the collector deleting one blob.
pub type UploadLock = Arc<tokio::sync::RwLock<()>>;

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Uploads past the grace period that the sweep looked at.
    pub expired: usize,
    /// Deleted: nothing references them.
    pub collected: usize,
    /// Bytes deleted.
    pub collected_bytes: u64,
    /// Referenced: kept for good, and released from their uploaders' quotas.
    pub released: usize,
    /// Kept for another sweep (a manifest that could list them is out of reach).
    pub deferred: usize,
}

/// The node's upload collector.
#[derive(Clone)]
pub struct Collector {
    chain: Arc<Chain>,
    blobs: BlobStore,
    peers: Peers,
    lock: UploadLock,
    datasets_dir: PathBuf,
    grace: Duration,
}

impl Collector {
    /// A collector of the uploads in `blobs` older than `grace`; `datasets_dir` holds this
    /// home's own manifests (their chunks are kept too).
    pub fn new(
        chain: Arc<Chain>,
        blobs: BlobStore,
        peers: Peers,
        lock: UploadLock,
        datasets_dir: PathBuf,
        grace: Duration,
    ) -> Collector {
        Collector {
            chain,
            blobs,
            peers,
            lock,
            datasets_dir,
            grace,
        }
    }

    /// How often [`Collector::run`] sweeps: a quarter of the grace period, between 1 s and 60 s.
    pub fn interval(&self) -> Duration {
        (self.grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Sweeps every [`Collector::interval`] until the process stops.
    pub async fn run(self) {
        loop {
            tokio::time::sleep(self.interval()).await;
            match self.sweep(now_ms()).await {
                Ok(s) if s.collected + s.released + s.deferred > 0 => {
                    info!(target: "mycel::net", collected = s.collected, bytes = s.collected_bytes, released = s.released, deferred = s.deferred, "uploads swept")
                }
                Ok(_) => {}
                Err(e) => warn!(target: "mycel::net", error = %e, "upload sweep failed"),
            }
        }
    }

    /// One sweep at `now_ms` (this node's clock: collection is local, not consensus).
    pub async fn sweep(&self, now_ms: u64) -> Result<Swept> {
        let grace = self.grace.as_millis() as u64;
        let store = self.chain.store();
        let expired: Vec<Upload> = store
            .uploads()?
            .into_iter()
            .filter(|u| u.at_ms.saturating_add(grace) <= now_ms)
            .collect();
        let mut out = Swept {
            expired: expired.len(),
            ..Swept::default()
        };
        if expired.is_empty() {
            return Ok(out);
        }
        let state = self.chain.finalized_state()?;
        let refs = mycel_ledger::blobs::referenced(&state)?;
        let mut keep = refs.blobs;
        let mut unresolved: BTreeSet<Address> = BTreeSet::new();
        for (h, contributor) in &refs.manifests {
            match self.manifest(h).await {
                Some(m) => keep.extend(chunks(&m)),
                None => {
                    unresolved.insert(*contributor);
                }
            }
        }
        keep.extend(self.own_chunks());
        for u in expired {
            let _held = self.lock.write().await;
            // Uploaded again since the list was read: its clock restarted.
            if store.upload(&u.hash)? != Some(u) {
                continue;
            }
            if keep.contains(&u.hash) {
                store.refund_upload(&u.hash)?;
                out.released += 1;
            } else if unresolved.contains(&u.uploader) {
                out.deferred += 1;
            } else {
                self.blobs.remove(&u.hash)?;
                store.refund_upload(&u.hash)?;
                out.collected += 1;
                out.collected_bytes += u.size;
                debug!(target: "mycel::net", hash = %u.hash, uploader = %u.uploader, "unreferenced upload collected");
            }
        }
        Ok(out)
    }

    /// A registered manifest, from this node or its blob peers (`None`: out of reach, or not a
    /// manifest).
    async fn manifest(&self, h: &Hash) -> Option<Manifest> {
        let bytes = match self.blobs.get(h) {
            Ok(b) => b,
            Err(_) => self.peers.fetch(h).await.ok()?,
        };
        Manifest::from_bytes(&bytes, Path::new(&h.to_hex())).ok()
    }

    /// The chunks of this home's own datasets (ingested here, registered or not).
    fn own_chunks(&self) -> Vec<Hash> {
        let Ok(dir) = std::fs::read_dir(&self.datasets_dir) else {
            return Vec::new();
        };
        dir.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| Manifest::load(&e.path()).ok())
            .flat_map(|m| chunks(&m))
            .collect()
    }
}

/// Every chunk a manifest lists.
fn chunks(m: &Manifest) -> Vec<Hash> {
    m.entries
        .iter()
        .flat_map(|e| e.chunks.iter().map(|c| c.hash))
        .collect()
}

/// This node's clock, ms since the Unix epoch: upload ages are local bookkeeping, never
/// consensus state.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
