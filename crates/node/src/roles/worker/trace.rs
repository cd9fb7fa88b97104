//! A job's trace as the chain sees it: the worker commits the RFC 6962 root over the leaf hashes
//! of its per-item results (one per embedded line, generated prompt, dedup record, adapter file);
//! an auditor replays the job through the same runner and compares; in a dispute both sides walk
//! the same tree ([`children`] for the worker, [`pick`] for the challenger).

use super::{JobOutput, JobRunner};
use crate::Result;
use mycel_ledger::modules::{
    market::Job,
    verify::{self, Dispute},
};
use mycel_primitives::{Hash, merkle};
use mycel_store::blob_hash;

/// What replaying a job produced, as the chain compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// `verify::claim_digest` of the replay.
    pub digest: Hash,
    /// Trace leaves (the RFC 6962 leaf hashes of the per-item results).
    pub leaves: Vec<Hash>,
}

impl Replay {
    /// The replay's trace root.
    pub fn root(&self) -> Hash {
        merkle::root(&self.leaves)
    }
}

/// Runs `job` on `input` and returns what the chain compares. Workers commit the same thing, so
/// this is also how a worker rebuilds its trace to answer a dispute after a restart.
pub fn replay<R: JobRunner + ?Sized>(runner: &R, job: &Job, input: &[u8]) -> Result<Replay> {
    let out = runner.run(job, input)?;
    let leaves = leaves(&out);
    Ok(Replay {
        digest: verify::claim_digest(
            &blob_hash(&out.bytes),
            out.units.max(1),
            &merkle::root(&leaves),
            leaves.len() as u64,
        ),
        leaves,
    })
}

/// The trace leaves of a job's output: the engine's own trace when it records one (generation),
/// else the leaf hashes of its per-item results (of the whole output when it has no items).
pub fn leaves(out: &JobOutput) -> Vec<Hash> {
    if !out.trace.is_empty() {
        return out.trace.clone();
    }
    if out.items.is_empty() {
        return vec![merkle::leaf_hash(&blob_hash(&out.bytes).0)];
    }
    out.items.iter().map(|h| merkle::leaf_hash(&h.0)).collect()
}

/// The child a challenger disputes: the leftmost whose subtree differs from its own leaves.
pub fn pick(d: &Dispute, mine: &[Hash]) -> bool {
    let (o, n) = (d.offset as usize, d.size as usize);
    let k = merkle::split(n as u64) as usize;
    match mine.get(o..o + k) {
        Some(left) => merkle::root(left) == d.left,
        None => false,
    }
}

/// The two children of the disputed node in `leaves`, if the trace is long enough.
pub fn children(d: &Dispute, leaves: &[Hash]) -> Option<(Hash, Hash)> {
    let (o, n) = (d.offset as usize, d.size as usize);
    let k = merkle::split(n as u64) as usize;
    Some((
        merkle::root(leaves.get(o..o + k)?),
        merkle::root(leaves.get(o + k..o + n)?),
    ))
}
