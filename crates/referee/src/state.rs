//! The state after one trace step: everything the next step reads, in fixed-width bytes.

use crate::{RefereeError, Result};
use mycel_primitives::{Domain, Hash, hash::hash_parts};

/// Bytes of a state before its two vectors.
pub const STATE_HEADER: usize = 6 * 4 + 8;

/// The state after one step.
///
/// `x` is the latest complete vector (the layer input while a layer is half done, the final
/// vector during the head, which the next position reads as its carry); `y` holds the rows of
/// the layer in progress. `best_*` is the running argmax of the head; `next` is the token of the
/// next position, set by the last head block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Position (prompt tokens first, then generated ones).
    pub pos: u32,
    /// Step within the position.
    pub op: u32,
    /// Prompt length, fixed at leaf 0 from the job input.
    pub prompt_len: u32,
    /// Token at this position.
    pub tok: u32,
    /// Token of the next position (last head block only; 0 before).
    pub next: u32,
    /// Running argmax id over the head rows seen so far.
    pub best_id: u32,
    /// Running max score (`i64::MIN` before the first head row).
    pub best_score: i64,
    /// Latest complete vector.
    pub x: Vec<i8>,
    /// Rows of the layer in progress (zero otherwise).
    pub y: Vec<i8>,
}

impl State {
    /// Canonical bytes: seven big-endian integers, then `x` and `y` as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(STATE_HEADER + self.x.len() + self.y.len());
        for v in [
            self.pos,
            self.op,
            self.prompt_len,
            self.tok,
            self.next,
            self.best_id,
        ] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&self.best_score.to_be_bytes());
        b.extend(self.x.iter().map(|&v| v as u8));
        b.extend(self.y.iter().map(|&v| v as u8));
        b
    }

    /// Parses a state of width `dim`; the length must be exact.
    pub fn from_bytes(b: &[u8], dim: usize) -> Result<Self> {
        if b.len() != STATE_HEADER + 2 * dim {
            return Err(RefereeError::BadState("wrong length"));
        }
        let u = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut s8 = [0u8; 8];
        s8.copy_from_slice(&b[24..32]);
        let vec = |r: std::ops::Range<usize>| b[r].iter().map(|&v| v as i8).collect();
        Ok(State {
            pos: u(0),
            op: u(4),
            prompt_len: u(8),
            tok: u(12),
            next: u(16),
            best_id: u(20),
            best_score: i64::from_be_bytes(s8),
            x: vec(STATE_HEADER..STATE_HEADER + dim),
            y: vec(STATE_HEADER + dim..STATE_HEADER + 2 * dim),
        })
    }

    /// The virtual state before leaf 0: no carry, the first prompt token up next.
    pub(crate) fn origin(prompt: &[u32], dim: usize) -> Self {
        State {
            pos: 0,
            op: 0,
            prompt_len: prompt.len() as u32,
            tok: 0,
            next: prompt.first().copied().unwrap_or(0),
            best_id: 0,
            best_score: i64::MIN,
            x: vec![0; dim],
            y: vec![0; dim],
        }
    }
}

/// Trace leaf `index` over a state's bytes.
pub fn trace_leaf(index: u64, state: &[u8]) -> Hash {
    hash_parts(Domain::TraceLeaf, &[&index.to_be_bytes(), state])
}
