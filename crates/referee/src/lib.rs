//! Tier D: a deterministic integer language model and the one-step recomputation the chain referees disputes with.
//!
//! An [`IntLm`] is int8 weights, i32 accumulation, a shift-and-clamp requantization and a
//! 256-entry lookup-table nonlinearity; sampling is an argmax over logits plus noise drawn from
//! the job seed. Nothing here uses floats, hash-map order, threads or unseeded randomness, so
//! every machine computes the same bytes: a validator can run one step as part of block validity.
//!
//! Terms:
//! - **weight tree**: one leaf per embedding row, per layer row block and per head row block
//!   (each at most [`arch::BLOCK_BYTES`]); `model_id = H(arch, weight_root)`.
//! - **trace**: per position (prompt tokens, then generated ones but the last), an embed step,
//!   every layer block and every head block; leaf `i` = `H_TraceLeaf(i, state_i)`, and the
//!   trace root is the RFC 6962 root over those leaves.
//! - **referee**: [`recompute_leaf`] recomputes one leaf from the agreed predecessor state and
//!   the Merkle-proven weight slice; [`output_token`] opens a committed generated token.
//!
//! ```
//! use mycel_referee::{Arch, DisputeContext, IntLm, input_hash, prompt_bytes, recompute_leaf};
//! use mycel_primitives::Hash;
//!
//! let arch = Arch { vocab: 64, dim: 16, layers: 2, shift: 7 };
//! let m = IntLm::random(arch, 1).unwrap();
//! let prompt = [3, 5, 7];
//! let seed = Hash([9; 32]);
//! let run = m.run(&prompt, 4, 1000, &seed).unwrap();
//! let ctx = DisputeContext {
//!     model: m.model_id(),
//!     input: input_hash(&prompt),
//!     seed,
//!     trace_root: run.trace_root(),
//!     trace_len: run.leaves.len() as u64,
//!     temperature: 1000,
//!     max_tokens: 4,
//! };
//! let w = m.witness(&run, &prompt_bytes(&prompt), 5).unwrap();
//! assert_eq!(recompute_leaf(&ctx, 5, &w).unwrap(), run.leaves[5]);
//! ```

pub mod arch;
pub mod error;
pub mod model;
pub mod referee;
pub mod state;

pub use arch::{Arch, Op};
pub use error::{RefereeError, Result};
pub use model::{
    Faults, IntLm, Layer, Run, Weights, input_hash, model_id, parse_prompt, prompt_bytes,
};
pub use referee::{
    DisputeContext, MAX_WITNESS_BYTES, OutputOpening, Witness, output_token, recompute_leaf,
};
pub use state::{State, trace_leaf};

/// Longest prompt a Tier D job may have.
pub const MAX_PROMPT_TOKENS: usize = 4096;

#[cfg(test)]
mod tests;
