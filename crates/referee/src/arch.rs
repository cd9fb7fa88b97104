//! The shape of an IntLm and the layout of its trace and weight tree, all from integers.

use crate::{RefereeError, Result};

/// Largest vocabulary.
pub const MAX_VOCAB: u16 = 4096;
/// Largest hidden width.
pub const MAX_DIM: u16 = 256;
/// Largest layer count.
pub const MAX_LAYERS: u8 = 16;
/// Largest requantization shift.
pub const MAX_SHIFT: u8 = 30;
/// Most weight bytes one step reads. Layers and the head are cut into row blocks of at most this
/// many bytes so one step, its weight slice and its proofs fit in a witness.
pub const BLOCK_BYTES: usize = 16 * 1024;

/// The architecture of an IntLm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Arch {
    /// Vocabulary size (1..=4096).
    pub vocab: u16,
    /// Hidden width (8..=256, a multiple of 8).
    pub dim: u16,
    /// Layer count (1..=16).
    pub layers: u8,
    /// Arithmetic right shift that requantizes an i32 accumulator to i8 (≤ 30).
    pub shift: u8,
}

mycel_primitives::impl_codec!(Arch {
    vocab,
    dim,
    layers,
    shift,
});

/// One step of a position: what it reads and computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Embedding of the position's token plus half the previous position's final state.
    Embed,
    /// Rows of one layer.
    Layer {
        /// Layer index, from 0.
        layer: u8,
        /// Row block within the layer.
        block: u32,
    },
    /// Rows of the output head; the last block yields the next token.
    Head {
        /// Row block within the head.
        block: u32,
    },
}

impl Arch {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 || self.vocab > MAX_VOCAB {
            return Err(RefereeError::InvalidArch("vocab must be 1..=4096"));
        }
        if self.dim < 8 || self.dim > MAX_DIM || !self.dim.is_multiple_of(8) {
            return Err(RefereeError::InvalidArch(
                "dim must be 8..=256 and a multiple of 8",
            ));
        }
        if self.layers == 0 || self.layers > MAX_LAYERS {
            return Err(RefereeError::InvalidArch("layers must be 1..=16"));
        }
        if self.shift > MAX_SHIFT {
            return Err(RefereeError::InvalidArch("shift must be at most 30"));
        }
        Ok(())
    }

    /// The canonical bytes hashed into the model ID.
    pub fn to_bytes(&self) -> [u8; 6] {
        let [v0, v1] = self.vocab.to_be_bytes();
        let [d0, d1] = self.dim.to_be_bytes();
        [v0, v1, d0, d1, self.layers, self.shift]
    }

    /// Rows per block of the head (and of a layer, capped at `dim`).
    pub fn block_rows(&self) -> u32 {
        (BLOCK_BYTES / self.dim as usize) as u32
    }

    /// Row blocks per layer: 1 up to dim 128, 4 at dim 256.
    pub fn layer_blocks(&self) -> u32 {
        (self.dim as u32).div_ceil(self.block_rows())
    }

    /// Row blocks of the output head.
    pub fn head_blocks(&self) -> u32 {
        (self.vocab as u32).div_ceil(self.block_rows())
    }

    /// Trace leaves per position: embed, every layer block, every head block.
    pub fn ops_per_position(&self) -> u32 {
        1 + self.layers as u32 * self.layer_blocks() + self.head_blocks()
    }

    /// The step at `op` within a position.
    pub fn op(&self, op: u32) -> Op {
        let lb = self.layer_blocks();
        let layer_ops = self.layers as u32 * lb;
        match op {
            0 => Op::Embed,
            o if o <= layer_ops => Op::Layer {
                layer: ((o - 1) / lb) as u8,
                block: (o - 1) % lb,
            },
            o => Op::Head {
                block: o - 1 - layer_ops,
            },
        }
    }

    /// Position and op of trace leaf `index`.
    pub fn coords(&self, index: u64) -> (u64, u32) {
        let ops = self.ops_per_position() as u64;
        (index / ops, (index % ops) as u32)
    }

    /// Leaves of the trace of a job: one position per prompt token and per generated token but
    /// the last (whose successor is never computed).
    pub fn trace_len(&self, prompt_tokens: u64, generated: u64) -> u64 {
        (prompt_tokens + generated)
            .saturating_sub(1)
            .saturating_mul(self.ops_per_position() as u64)
    }

    /// Leaves of the weight tree: embedding rows, layer blocks, head blocks.
    pub fn weight_leaves(&self) -> u64 {
        self.vocab as u64
            + self.layers as u64 * self.layer_blocks() as u64
            + self.head_blocks() as u64
    }

    /// The weight leaf a step reads (`token` selects the embedding row).
    pub fn weight_leaf(&self, op: Op, token: u32) -> u64 {
        let lb = self.layer_blocks() as u64;
        match op {
            Op::Embed => token as u64,
            Op::Layer { layer, block } => self.vocab as u64 + layer as u64 * lb + block as u64,
            Op::Head { block } => self.vocab as u64 + self.layers as u64 * lb + block as u64,
        }
    }

    /// Rows a layer or head block covers.
    pub fn rows(&self, op: Op) -> std::ops::Range<usize> {
        let r = self.block_rows() as usize;
        let (block, total) = match op {
            Op::Embed => return 0..1,
            Op::Layer { block, .. } => (block as usize, self.dim as usize),
            Op::Head { block } => (block as usize, self.vocab as usize),
        };
        (block * r).min(total)..((block + 1) * r).min(total)
    }

    /// Multiply-accumulates a step performs (the referee's work unit).
    pub fn step_macs(&self, op: Op, sampling: bool) -> u64 {
        match op {
            Op::Embed => 0,
            Op::Layer { .. } => self.rows(op).len() as u64 * self.dim as u64,
            Op::Head { .. } if sampling => self.rows(op).len() as u64 * self.dim as u64,
            Op::Head { .. } => 0,
        }
    }
}
