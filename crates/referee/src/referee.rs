//! The chain's referee: recompute one disputed trace leaf from a Merkle-proven witness.

use crate::{
    MAX_PROMPT_TOKENS, RefereeError, Result,
    arch::{Arch, MAX_DIM, Op},
    model::{
        SLICE_HEADER, Sampling, Slice, expected_header, model_id, parse_prompt, reads_prompt,
        reads_weights, step,
    },
    state::{STATE_HEADER, State, trace_leaf},
};
use mycel_primitives::{
    Hash,
    codec::decode,
    merkle::{self, InclusionProof},
};

/// Largest witness the referee reads.
pub const MAX_WITNESS_BYTES: usize = 64 * 1024;
/// Largest state.
pub const MAX_STATE_BYTES: usize = STATE_HEADER + 2 * MAX_DIM as usize;
/// Largest weight slice: a header, a block of rows, their biases and the table.
pub const MAX_SLICE_BYTES: usize = SLICE_HEADER + crate::arch::BLOCK_BYTES + 4 * 256 + 256;
/// Largest prompt, in bytes.
pub const MAX_PROMPT_BYTES: usize = 4 * MAX_PROMPT_TOKENS;

/// What the ledger knows about a disputed job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeContext {
    /// The job's model ID ([`crate::model_id`]).
    pub model: Hash,
    /// The job's input hash (BLAKE3 of the prompt bytes).
    pub input: Hash,
    /// The job's sampling seed.
    pub seed: Hash,
    /// The worker's committed trace root.
    pub trace_root: Hash,
    /// The worker's committed trace length.
    pub trace_len: u64,
    /// Sampling temperature (0: argmax).
    pub temperature: u32,
    /// The job's token limit.
    pub max_tokens: u32,
}

/// The defender's evidence for one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The model's arch, hashed with `weight_root` into the model ID.
    pub arch: Arch,
    /// Root of the model's weight tree.
    pub weight_root: Hash,
    /// The predecessor state (empty for leaf 0).
    pub prev: Vec<u8>,
    /// Its inclusion proof under the trace root (absent for leaf 0).
    pub prev_proof: Option<InclusionProof>,
    /// The weight slice the step reads (empty when it reads none).
    pub slice: Vec<u8>,
    /// Its inclusion proof under `weight_root`.
    pub slice_proof: Option<InclusionProof>,
    /// The prompt bytes, when the step reads a prompt token (empty otherwise).
    pub prompt: Vec<u8>,
}

mycel_primitives::impl_codec!(Witness {
    arch,
    weight_root,
    prev: vec(0..=MAX_STATE_BYTES),
    prev_proof,
    slice: vec(0..=MAX_SLICE_BYTES),
    slice_proof,
    prompt: vec(0..=MAX_PROMPT_BYTES),
});

/// A committed state that carries a generated token, opened against the trace root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputOpening {
    /// The model's arch.
    pub arch: Arch,
    /// Root of the model's weight tree.
    pub weight_root: Hash,
    /// The state of the last head step of the token's position.
    pub state: Vec<u8>,
    /// Its inclusion proof under the trace root.
    pub proof: InclusionProof,
}

mycel_primitives::impl_codec!(OutputOpening {
    arch,
    weight_root,
    state: vec(0..=MAX_STATE_BYTES),
    proof,
});

fn check_model(ctx: &DisputeContext, arch: &Arch, weight_root: &Hash) -> Result<()> {
    arch.validate()?;
    if model_id(arch, weight_root) != ctx.model {
        return Err(RefereeError::WrongModel);
    }
    if !ctx.trace_len.is_multiple_of(arch.ops_per_position() as u64) {
        return Err(RefereeError::TraceLength(ctx.trace_len));
    }
    Ok(())
}

fn check_prompt(ctx: &DisputeContext, bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.is_empty() {
        return Err(RefereeError::Missing("prompt"));
    }
    if Hash(*blake3::hash(bytes).as_bytes()) != ctx.input {
        return Err(RefereeError::WrongInput);
    }
    parse_prompt(bytes)
}

fn verify(
    what: &'static str,
    proof: &Option<InclusionProof>,
    index: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
) -> Result<()> {
    let proof = proof.as_ref().ok_or(RefereeError::Missing(what))?;
    if proof.index != index || proof.size != size {
        return Err(RefereeError::WrongPosition(what));
    }
    proof
        .verify(leaf, root)
        .map_err(|source| RefereeError::Unproven { what, source })
}

/// Recomputes leaf `index` of the trace committed under `ctx.trace_root` from the defender's witness:
/// the predecessor state (index-1) with its inclusion proof against ctx.trace_root (none for index 0,
/// whose predecessor is derived from the input), the weight slice the op reads with its inclusion proof
/// against the weight root, the arch, and (when the op reads a prompt token) the prompt bytes checked
/// against ctx.input. Returns the recomputed leaf hash. Any malformed/oversized/unproven witness is a typed error.
///
/// Cost: one witness decode, two Merkle paths, at most [`crate::arch::BLOCK_BYTES`] multiply-adds
/// and, when sampling, one BLAKE3 per head row of the block.
pub fn recompute_leaf(ctx: &DisputeContext, index: u64, witness: &[u8]) -> Result<Hash> {
    if witness.len() > MAX_WITNESS_BYTES {
        return Err(RefereeError::Oversized(witness.len()));
    }
    let w: Witness = decode(witness)?;
    let arch = w.arch;
    check_model(ctx, &arch, &w.weight_root)?;
    if index >= ctx.trace_len {
        return Err(RefereeError::IndexOutOfRange {
            index,
            len: ctx.trace_len,
        });
    }
    let dim = arch.dim as usize;
    let mut prompt = None;
    let prev = if index == 0 {
        let p = check_prompt(ctx, &w.prompt)?;
        let s = State::origin(&p, dim);
        prompt = Some(p);
        s
    } else {
        let leaf = trace_leaf(index - 1, &w.prev);
        verify(
            "predecessor",
            &w.prev_proof,
            index - 1,
            ctx.trace_len,
            &leaf,
            &ctx.trace_root,
        )?;
        let s = State::from_bytes(&w.prev, dim)?;
        let (pos, op) = arch.coords(index - 1);
        if (s.pos as u64, s.op) != (pos, op) {
            return Err(RefereeError::BadState(
                "position differs from its leaf index",
            ));
        }
        s
    };
    let (pos, op_i) = arch.coords(index);
    let op = arch.op(op_i);
    let p = prev.prompt_len as u64;
    if pos + 1 >= p + ctx.max_tokens as u64 || pos >= u32::MAX as u64 {
        return Err(RefereeError::PastMaxTokens(pos));
    }
    let prompt_next = if reads_prompt(&arch, index, op, pos, p) {
        let pr = match prompt {
            Some(pr) => pr,
            None => check_prompt(ctx, &w.prompt)?,
        };
        if pr.len() as u64 != p {
            return Err(RefereeError::BadState(
                "prompt length differs from the state's",
            ));
        }
        pr.get(pos as usize + 1).copied()
    } else {
        None
    };
    let parsed;
    let slice = if reads_weights(op, pos, p) {
        if prev.next >= arch.vocab as u32 {
            return Err(RefereeError::TokenOutOfRange(prev.next));
        }
        let leaf = merkle::leaf_hash(&w.slice);
        verify(
            "weight slice",
            &w.slice_proof,
            arch.weight_leaf(op, prev.next),
            arch.weight_leaves(),
            &leaf,
            &w.weight_root,
        )?;
        parsed = parse_slice(&arch, op, prev.next, &w.slice)?;
        parsed.view(op)
    } else {
        Slice::None
    };
    let sampling = Sampling {
        seed: &ctx.seed,
        temperature: ctx.temperature,
    };
    let s = step(&arch, &prev, index, slice, &sampling, prompt_next)?;
    Ok(trace_leaf(index, &s.to_bytes()))
}

/// Returns generated token `generated` as committed under `ctx.trace_root`, from an
/// [`OutputOpening`]; an output dispute compares it with the posted output.
pub fn output_token(ctx: &DisputeContext, generated: u32, opening: &[u8]) -> Result<u32> {
    if opening.len() > MAX_WITNESS_BYTES {
        return Err(RefereeError::Oversized(opening.len()));
    }
    let o: OutputOpening = decode(opening)?;
    check_model(ctx, &o.arch, &o.weight_root)?;
    let s = State::from_bytes(&o.state, o.arch.dim as usize)?;
    let ops = o.arch.ops_per_position();
    let pos = (s.prompt_len as u64 + generated as u64)
        .checked_sub(1)
        .ok_or(RefereeError::BadState("empty prompt"))?;
    if generated >= ctx.max_tokens {
        return Err(RefereeError::PastMaxTokens(pos));
    }
    if (s.pos as u64, s.op) != (pos, ops - 1) {
        return Err(RefereeError::BadState("not the state of that token"));
    }
    let index = pos * ops as u64 + (ops - 1) as u64;
    let leaf = trace_leaf(index, &o.state);
    verify(
        "output state",
        &Some(o.proof),
        index,
        ctx.trace_len,
        &leaf,
        &ctx.trace_root,
    )?;
    Ok(s.next)
}

/// A weight slice parsed out of its bytes.
struct Parsed {
    w: Vec<i8>,
    b: Vec<i32>,
    lut: [i8; 256],
}

impl Parsed {
    fn view(&self, op: Op) -> Slice<'_> {
        match op {
            Op::Embed => Slice::Embed(&self.w),
            Op::Layer { .. } => Slice::Layer {
                w: &self.w,
                b: &self.b,
                lut: &self.lut,
            },
            Op::Head { .. } => Slice::Head(&self.w),
        }
    }
}

fn parse_slice(arch: &Arch, op: Op, tok: u32, bytes: &[u8]) -> Result<Parsed> {
    let d = arch.dim as usize;
    let rows = arch.rows(op).len();
    let (nw, nb, nl) = match op {
        Op::Embed => (d, 0, 0),
        Op::Layer { .. } => (rows * d, rows, 256),
        Op::Head { .. } => (rows * d, 0, 0),
    };
    if bytes.len() != SLICE_HEADER + nw + 4 * nb + nl {
        return Err(RefereeError::BadSlice("wrong length"));
    }
    if bytes[..SLICE_HEADER] != expected_header(op, tok) {
        return Err(RefereeError::BadSlice("header names another step"));
    }
    let body = &bytes[SLICE_HEADER..];
    let w = body[..nw].iter().map(|&v| v as i8).collect();
    let b = body[nw..nw + 4 * nb]
        .chunks_exact(4)
        .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut lut = [0i8; 256];
    if nl == 256 {
        for (l, &v) in lut.iter_mut().zip(&body[nw + 4 * nb..]) {
            *l = v as i8;
        }
    }
    Ok(Parsed { w, b, lut })
}
