//! IntLm: the Tier D integer language model, its weight tree and its traced execution.

use crate::{
    MAX_PROMPT_TOKENS, RefereeError, Result,
    arch::{Arch, Op},
    referee::{OutputOpening, Witness},
    state::{State, trace_leaf},
};
use mycel_primitives::{
    Domain, Hash,
    codec::Encode,
    hash::hash_parts,
    merkle::{self, InclusionProof},
};

/// Prefix part of a model ID, so it can never equal a trace leaf (which has two parts).
const MODEL_ID_TAG: &[u8] = b"mycel intlm model v1";

/// Slice header kinds, so a slice names the step it belongs to.
const KIND_EMBED: u8 = 0;
const KIND_LAYER: u8 = 1;
const KIND_HEAD: u8 = 2;
/// Bytes of a slice header: kind, then two big-endian u32 (row or layer, block).
pub(crate) const SLICE_HEADER: usize = 9;

/// One layer: `y = lut(clamp_i8((w·x + b) >> shift))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Row-major `dim × dim`.
    pub w: Vec<i8>,
    /// One bias per row, added to the i32 accumulator before the shift.
    pub b: Vec<i32>,
    /// The nonlinearity, indexed by the clamped value's two's-complement byte.
    pub lut: [i8; 256],
}

/// All weights of an IntLm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights {
    /// Row-major `vocab × dim` embedding.
    pub embed: Vec<i8>,
    /// The layers, in order.
    pub layers: Vec<Layer>,
    /// Row-major `vocab × dim` output head.
    pub out: Vec<i8>,
}

/// The weights one step reads, borrowed from a model or parsed from a witness.
pub(crate) enum Slice<'a> {
    None,
    Embed(&'a [i8]),
    Layer {
        w: &'a [i8],
        b: &'a [i32],
        lut: &'a [i8; 256],
    },
    Head(&'a [i8]),
}

/// Seed and temperature of a job's sampling.
pub(crate) struct Sampling<'a> {
    pub seed: &'a Hash,
    pub temperature: u32,
}

/// A traced execution: the generated tokens and one state (and leaf) per step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Generated tokens, in order.
    pub tokens: Vec<u32>,
    /// Trace leaves, `trace_leaf(i, states[i])`.
    pub leaves: Vec<Hash>,
    /// Canonical state bytes after each step.
    pub states: Vec<Vec<u8>>,
}

impl Run {
    /// The trace root a worker commits.
    pub fn trace_root(&self) -> Hash {
        merkle::root(&self.leaves)
    }
}

/// Deviations a dishonest worker may take; used by tests and benches to build cheating traces.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Copy the input of this layer to its output instead of computing it.
    pub skip_layer: Option<u8>,
    /// Emit these tokens instead of the sampled ones (a response prefilled from elsewhere).
    pub forced: Option<Vec<u32>>,
}

/// A deterministic integer language model (Tier D).
#[derive(Clone, Debug)]
pub struct IntLm {
    arch: Arch,
    weights: Weights,
    leaves: Vec<Hash>,
    root: Hash,
}

/// The model ID of an arch and weight root: what a job names and a witness must match.
pub fn model_id(arch: &Arch, weight_root: &Hash) -> Hash {
    hash_parts(
        Domain::TraceLeaf,
        &[MODEL_ID_TAG, &arch.to_bytes(), weight_root.as_bytes()],
    )
}

/// A prompt as job input bytes (little-endian u32 per token).
pub fn prompt_bytes(prompt: &[u32]) -> Vec<u8> {
    prompt.iter().flat_map(|t| t.to_le_bytes()).collect()
}

/// The on-chain input hash of a prompt (the store's blob address of [`prompt_bytes`]).
pub fn input_hash(prompt: &[u32]) -> Hash {
    Hash(*blake3::hash(&prompt_bytes(prompt)).as_bytes())
}

/// Parses job input bytes into prompt tokens.
pub fn parse_prompt(bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return Err(RefereeError::InvalidPrompt(
            "not a non-empty sequence of u32",
        ));
    }
    if bytes.len() / 4 > MAX_PROMPT_TOKENS {
        return Err(RefereeError::InvalidPrompt("too long"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// splitmix64: a tiny seeded generator, identical on every platform.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
}

impl IntLm {
    /// A model from explicit weights; shapes must match the arch.
    pub fn new(arch: Arch, weights: Weights) -> Result<Self> {
        arch.validate()?;
        let (v, d) = (arch.vocab as usize, arch.dim as usize);
        if weights.embed.len() != v * d {
            return Err(RefereeError::WeightShape("embed is not vocab × dim"));
        }
        if weights.out.len() != v * d {
            return Err(RefereeError::WeightShape("out is not vocab × dim"));
        }
        if weights.layers.len() != arch.layers as usize {
            return Err(RefereeError::WeightShape("layer count"));
        }
        if weights
            .layers
            .iter()
            .any(|l| l.w.len() != d * d || l.b.len() != d)
        {
            return Err(RefereeError::WeightShape("a layer is not dim × dim + dim"));
        }
        let mut m = IntLm {
            arch,
            weights,
            leaves: Vec::new(),
            root: Hash::ZERO,
        };
        m.leaves = (0..arch.vocab as u32)
            .map(|r| (Op::Embed, r))
            .chain((0..arch.layers).flat_map(|layer| {
                (0..arch.layer_blocks()).map(move |block| (Op::Layer { layer, block }, 0))
            }))
            .chain((0..arch.head_blocks()).map(|block| (Op::Head { block }, 0)))
            .map(|(op, tok)| merkle::leaf_hash(&m.slice_bytes(op, tok)))
            .collect();
        m.root = merkle::root(&m.leaves);
        Ok(m)
    }

    /// A model with weights drawn from a splitmix64 stream seeded by `seed`.
    pub fn random(arch: Arch, seed: u64) -> Result<Self> {
        arch.validate()?;
        let (v, d) = (arch.vocab as usize, arch.dim as usize);
        let mut rng = SplitMix(seed);
        let embed = rng.i8s(v * d);
        // Biases span about ±4·2^shift: a few output steps either way.
        let bias_shift = 31 - (arch.shift as u32 + 2).min(31);
        let layers = (0..arch.layers)
            .map(|_| {
                let w = rng.i8s(d * d);
                let b = (0..d).map(|_| (rng.next() as i32) >> bias_shift).collect();
                let mut lut = [0i8; 256];
                lut.iter_mut().for_each(|e| *e = rng.next() as i8);
                Layer { w, b, lut }
            })
            .collect();
        let out = rng.i8s(v * d);
        Self::new(arch, Weights { embed, layers, out })
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Root of the weight tree.
    pub fn weight_root(&self) -> Hash {
        self.root
    }

    /// The model ID a job names.
    pub fn model_id(&self) -> Hash {
        model_id(&self.arch, &self.root)
    }

    /// The weights a step reads, borrowed.
    fn view(&self, op: Op, tok: u32) -> Slice<'_> {
        let d = self.arch.dim as usize;
        let rows = self.arch.rows(op);
        match op {
            Op::Embed => {
                let r = tok as usize * d;
                Slice::Embed(&self.weights.embed[r..r + d])
            }
            Op::Layer { layer, .. } => {
                let l = &self.weights.layers[layer as usize];
                Slice::Layer {
                    w: &l.w[rows.start * d..rows.end * d],
                    b: &l.b[rows],
                    lut: &l.lut,
                }
            }
            Op::Head { .. } => Slice::Head(&self.weights.out[rows.start * d..rows.end * d]),
        }
    }

    /// The weight leaf's bytes: a header naming the step, then the weights it reads.
    pub fn slice_bytes(&self, op: Op, tok: u32) -> Vec<u8> {
        let (kind, a, block) = match op {
            Op::Embed => (KIND_EMBED, tok, 0),
            Op::Layer { layer, block } => (KIND_LAYER, layer as u32, block),
            Op::Head { block } => (KIND_HEAD, 0, block),
        };
        let mut b = slice_header(kind, a, block).to_vec();
        match self.view(op, tok) {
            Slice::Embed(r) | Slice::Head(r) => b.extend(r.iter().map(|&v| v as u8)),
            Slice::Layer { w, b: bias, lut } => {
                b.extend(w.iter().map(|&v| v as u8));
                bias.iter()
                    .for_each(|v| b.extend_from_slice(&v.to_be_bytes()));
                b.extend(lut.iter().map(|&v| v as u8));
            }
            Slice::None => {}
        }
        b
    }

    /// Runs a job: prefill the prompt, then sample exactly `max_tokens` tokens.
    pub fn run(
        &self,
        prompt: &[u32],
        max_tokens: u32,
        temperature: u32,
        seed: &Hash,
    ) -> Result<Run> {
        self.run_with(prompt, max_tokens, temperature, seed, &Faults::default())
    }

    /// [`IntLm::run`] with deviations, to build the traces a dishonest worker would commit.
    pub fn run_with(
        &self,
        prompt: &[u32],
        max_tokens: u32,
        temperature: u32,
        seed: &Hash,
        faults: &Faults,
    ) -> Result<Run> {
        if prompt.is_empty() || prompt.len() > MAX_PROMPT_TOKENS {
            return Err(RefereeError::InvalidPrompt("empty or too long"));
        }
        let vocab = self.arch.vocab as u32;
        let forced = faults.forced.as_deref().unwrap_or(&[]);
        if let Some(&t) = prompt.iter().chain(forced).find(|&&t| t >= vocab) {
            return Err(RefereeError::TokenOutOfRange(t));
        }
        let sampling = Sampling { seed, temperature };
        let p = prompt.len() as u64;
        let n = self.arch.trace_len(p, max_tokens as u64);
        let ops = self.arch.ops_per_position();
        let mut run = Run {
            tokens: Vec::with_capacity(max_tokens as usize),
            leaves: Vec::with_capacity(n as usize),
            states: Vec::with_capacity(n as usize),
        };
        let mut prev = State::origin(prompt, self.arch.dim as usize);
        for i in 0..n {
            let (pos, op_i) = self.arch.coords(i);
            let op = self.arch.op(op_i);
            let skipped = matches!(op, Op::Layer { layer, .. } if Some(layer) == faults.skip_layer);
            let mut s = if skipped {
                State {
                    pos: pos as u32,
                    op: op_i,
                    ..prev.clone()
                }
            } else {
                let prompt_next = prompt.get(pos as usize + 1).copied();
                step(
                    &self.arch,
                    &prev,
                    i,
                    self.view(op, prev.next),
                    &sampling,
                    prompt_next,
                )?
            };
            if op_i + 1 == ops && pos + 1 >= p {
                if let Some(&t) = faults
                    .forced
                    .as_ref()
                    .and_then(|f| f.get((pos + 1 - p) as usize))
                {
                    s.next = t;
                }
                run.tokens.push(s.next);
            }
            let bytes = s.to_bytes();
            run.leaves.push(trace_leaf(i, &bytes));
            run.states.push(bytes);
            prev = s;
        }
        Ok(run)
    }

    /// The witness a defender posts for leaf `index` of `run` (a run of this model's job, or a
    /// cheating run: the witness is then honest about the model but proves the run's states).
    pub fn witness(&self, run: &Run, prompt_bytes: &[u8], index: u64) -> Result<Vec<u8>> {
        let len = run.leaves.len() as u64;
        if index >= len {
            return Err(RefereeError::IndexOutOfRange { index, len });
        }
        let prompt = parse_prompt(prompt_bytes)?;
        let dim = self.arch.dim as usize;
        let (prev, prev_bytes, prev_proof) = if index == 0 {
            (State::origin(&prompt, dim), Vec::new(), None)
        } else {
            let b = run.states[index as usize - 1].clone();
            let proof = merkle::prove(&run.leaves, index as usize - 1);
            (State::from_bytes(&b, dim)?, b, proof)
        };
        let (pos, op_i) = self.arch.coords(index);
        let op = self.arch.op(op_i);
        let p = prev.prompt_len as u64;
        let (slice, slice_proof) = if reads_weights(op, pos, p) {
            if prev.next >= self.arch.vocab as u32 {
                return Err(RefereeError::TokenOutOfRange(prev.next));
            }
            let leaf = self.arch.weight_leaf(op, prev.next);
            (
                self.slice_bytes(op, prev.next),
                merkle::prove(&self.leaves, leaf as usize),
            )
        } else {
            (Vec::new(), None)
        };
        let prompt = if reads_prompt(&self.arch, index, op, pos, p) {
            prompt_bytes.to_vec()
        } else {
            Vec::new()
        };
        Ok(Witness {
            arch: self.arch,
            weight_root: self.root,
            prev: prev_bytes,
            prev_proof,
            slice,
            slice_proof,
            prompt,
        }
        .encode()
        .to_vec())
    }

    /// Opens the state holding generated token `generated` of `run`, for an output dispute.
    pub fn open_output(&self, run: &Run, prompt_len: u32, generated: u32) -> Result<Vec<u8>> {
        let ops = self.arch.ops_per_position() as u64;
        let index = (prompt_len as u64 + generated as u64) * ops - 1;
        let len = run.leaves.len() as u64;
        if prompt_len == 0 || index >= len {
            return Err(RefereeError::IndexOutOfRange { index, len });
        }
        let proof: InclusionProof = merkle::prove(&run.leaves, index as usize)
            .ok_or(RefereeError::IndexOutOfRange { index, len })?;
        Ok(OutputOpening {
            arch: self.arch,
            weight_root: self.root,
            state: run.states[index as usize].clone(),
            proof,
        }
        .encode()
        .to_vec())
    }
}

pub(crate) fn slice_header(kind: u8, a: u32, block: u32) -> [u8; SLICE_HEADER] {
    let mut h = [0u8; SLICE_HEADER];
    h[0] = kind;
    h[1..5].copy_from_slice(&a.to_be_bytes());
    h[5..9].copy_from_slice(&block.to_be_bytes());
    h
}

/// The expected slice header of a step.
pub(crate) fn expected_header(op: Op, tok: u32) -> [u8; SLICE_HEADER] {
    match op {
        Op::Embed => slice_header(KIND_EMBED, tok, 0),
        Op::Layer { layer, block } => slice_header(KIND_LAYER, layer as u32, block),
        Op::Head { block } => slice_header(KIND_HEAD, 0, block),
    }
}

/// Whether a step reads weights: all but the head of a prefill position, whose next token is
/// the prompt's.
pub(crate) fn reads_weights(op: Op, pos: u64, prompt_len: u64) -> bool {
    !matches!(op, Op::Head { .. }) || pos + 1 >= prompt_len
}

/// Whether a step reads the prompt: leaf 0, and the last head block of a prefill position.
pub(crate) fn reads_prompt(arch: &Arch, index: u64, op: Op, pos: u64, prompt_len: u64) -> bool {
    index == 0
        || matches!(op, Op::Head { block } if block + 1 == arch.head_blocks() && pos + 1 < prompt_len)
}

/// The sampling noise of vocabulary entry `id` at position `pos`: uniform in `[0, temperature)`.
fn noise(s: &Sampling<'_>, pos: u32, id: u32) -> i64 {
    if s.temperature == 0 {
        return 0;
    }
    let h = hash_parts(
        Domain::Randomness,
        &[
            s.seed.as_bytes(),
            &(pos as u64).to_be_bytes(),
            &id.to_be_bytes(),
        ],
    );
    let r = u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]]);
    ((r as u64 * s.temperature as u64) >> 32) as i64
}

/// Exact integer dot product; at dim ≤ 256 the i32 sum cannot overflow (256 · 128² < 2³¹).
fn dot(w: &[i8], x: &[i8]) -> i32 {
    w.iter().zip(x).map(|(&a, &b)| a as i32 * b as i32).sum()
}

/// One trace step: the state of leaf `index` from its predecessor and the weights it reads.
///
/// The worker's run and the chain's referee both call this, so they agree bit for bit.
pub(crate) fn step(
    arch: &Arch,
    prev: &State,
    index: u64,
    slice: Slice<'_>,
    sampling: &Sampling<'_>,
    prompt_next: Option<u32>,
) -> Result<State> {
    let d = arch.dim as usize;
    let (pos, op_i) = arch.coords(index);
    let op = arch.op(op_i);
    let mut s = State {
        pos: pos as u32,
        op: op_i,
        next: 0,
        ..prev.clone()
    };
    match (op, slice) {
        (Op::Embed, Slice::Embed(row)) => {
            s.tok = prev.next;
            s.best_id = 0;
            s.best_score = i64::MIN;
            s.y = vec![0; d];
            for ((x, &e), &c) in s.x.iter_mut().zip(row).zip(&prev.x) {
                *x = (e as i16 + (c >> 1) as i16).clamp(-128, 127) as i8;
            }
        }
        (Op::Layer { block, .. }, Slice::Layer { w, b, lut }) => {
            for ((r, wr), &br) in arch.rows(op).zip(w.chunks_exact(d)).zip(b) {
                let acc = dot(wr, &prev.x) as i64 + br as i64;
                let v = (acc >> arch.shift).clamp(-128, 127) as i8;
                s.y[r] = lut[v as u8 as usize];
            }
            if block + 1 == arch.layer_blocks() {
                s.x = std::mem::replace(&mut s.y, vec![0; d]);
            }
        }
        (Op::Head { block }, slice) => {
            let last = block + 1 == arch.head_blocks();
            if pos + 1 < prev.prompt_len as u64 {
                if last {
                    s.next = prompt_next.ok_or(RefereeError::Missing("prompt"))?;
                }
            } else {
                let Slice::Head(out) = slice else {
                    return Err(RefereeError::BadSlice("the head step reads head rows"));
                };
                for (i, row) in arch.rows(op).zip(out.chunks_exact(d)) {
                    let score = dot(row, &prev.x) as i64 + noise(sampling, s.pos, i as u32);
                    // Strictly greater: ties go to the lowest id.
                    if score > s.best_score {
                        s.best_score = score;
                        s.best_id = i as u32;
                    }
                }
                if last {
                    s.next = s.best_id;
                }
            }
        }
        _ => return Err(RefereeError::BadSlice("slice kind does not match the step")),
    }
    Ok(s)
}
