//! A llama-architecture decoder (SmolLM2) on candle, in two execution modes, with optional LoRA adapters.
//!
//! This follows `candle_transformers::models::quantized_llama` (same GGUF tensor names, interleaved RoPE,
//! causal mask, grouped-query attention) but keeps the KV cache outside the weights, picks the execution mode
//! explicitly instead of through `CANDLE_DEQUANTIZE_ALL`, and has a training path built only from ops with a
//! backward pass (`softmax`, `rms_norm_slow`, `rope_i_slow`), which the fused CPU kernels lack.

use crate::{
    Error, Result,
    q4::{Q41Matrix, f16_to_f32, raw_blocks},
    registry::ExecMode,
    sampling::Rng,
    vnni::VnniMatrix,
};
use candle_core::{
    D, DType, Device, IndexOp, Module, Tensor, Var,
    quantized::{GgmlDType, QMatMul, QTensor, gguf_file},
};
use std::{
    io::{Read, Seek},
    sync::Arc,
};

mod config;

pub use config::LlamaConfig;

/// A low-rank update `scale * B A` added to a linear layer.
#[derive(Debug, Clone)]
struct LoraPair {
    a: Tensor,
    b: Tensor,
    scale: f64,
}

/// The weights of a linear layer.
#[derive(Debug, Clone)]
enum Weights {
    /// candle's matmul (f32 tensors, or quantized types other than Q4_1).
    Candle(QMatMul),
    /// Q4_1 through this crate's portable kernel (same bits as candle's, several times faster).
    Q41(Q41Matrix),
    /// Q4_1 or Q8_0 through the AVX512-VNNI kernels (same bits again; prompt tokens tiled).
    Vnni(VnniMatrix),
}

#[derive(Debug, Clone)]
struct Linear {
    w: Weights,
    lora: Option<LoraPair>,
}

impl Linear {
    fn new(q: QTensor, mode: ExecMode) -> Result<Self> {
        let w = match (mode, q.dtype()) {
            (ExecMode::F32, _) | (_, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) => {
                QMatMul::Tensor(q.dequantize(&q.device())?)
            }
            (ExecMode::Quantized, _) => match crate::vnni::available()
                .then(|| VnniMatrix::from_qtensor(&q))
                .transpose()?
                .flatten()
            {
                Some(m) => {
                    return Ok(Self {
                        w: Weights::Vnni(m),
                        lora: None,
                    });
                }
                None => match Q41Matrix::from_qtensor(&q)? {
                    Some(m) => {
                        return Ok(Self {
                            w: Weights::Q41(m),
                            lora: None,
                        });
                    }
                    None => QMatMul::QTensor(Arc::new(q)),
                },
            },
        };
        Ok(Self {
            w: Weights::Candle(w),
            lora: None,
        })
    }

    fn dims(&self) -> (usize, usize) {
        let s = match &self.w {
            Weights::Q41(m) => return m.dims(),
            Weights::Vnni(m) => return m.dims(),
            Weights::Candle(QMatMul::QTensor(q)) => q.shape().dims().to_vec(),
            Weights::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) => t.dims().to_vec(),
        };
        (s[0], s[1])
    }

    /// [`Linear::forward`] of layers that read the same input: one quantization of it and one
    /// parallel dispatch when they all run on the VNNI kernels without adapters (the same bits).
    fn forward_shared<const N: usize>(lins: [&Self; N], x: &Tensor) -> Result<[Tensor; N]> {
        let vnni: Option<Vec<&VnniMatrix>> = lins
            .iter()
            .map(|l| match (&l.w, &l.lora) {
                (Weights::Vnni(m), None) => Some(m),
                _ => None,
            })
            .collect();
        let outs = match vnni {
            Some(ms) => VnniMatrix::forward_shared(&ms, x)?,
            None => lins.iter().map(|l| l.forward(x)).collect::<Result<_>>()?,
        };
        outs.try_into()
            .map_err(|_| Error::InvalidInput("shared matmul: output count".into()))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.w {
            Weights::Candle(w) => w.forward(x)?,
            Weights::Q41(m) => m.forward(x)?,
            Weights::Vnni(m) => m.forward(x)?,
        };
        match &self.lora {
            None => Ok(y),
            Some(l) => {
                let d = x.broadcast_matmul(&l.a.t()?)?.broadcast_matmul(&l.b.t()?)?;
                Ok((y + (d * l.scale)?)?)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Block {
    fn linears_mut(&mut self) -> [(&'static str, &mut Linear); 7] {
        [
            ("q", &mut self.q),
            ("k", &mut self.k),
            ("v", &mut self.v),
            ("o", &mut self.o),
            ("gate", &mut self.gate),
            ("up", &mut self.up),
            ("down", &mut self.down),
        ]
    }
}

/// Per-sequence key/value cache: per layer, the keys (after RoPE) and values of every position so far,
/// `[position][kv head][head dim]`, appended in place (a decode step copies one position, not the cache).
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
}

#[derive(Debug, Clone, Default)]
struct LayerKv {
    k: Vec<f32>,
    v: Vec<f32>,
}

impl KvCache {
    /// Positions already in the cache.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Attention of one query position against cached keys `0..n`, all heads: what a decode step (and a
/// per-position replay of it) computes, in a fixed operation order that no thread count or SIMD width
/// changes. `q` is `[head][head dim]`, `kv` the layer's cache, `out` `[head][head dim]`.
fn attend_cached(
    q: &[f32],
    kv: &LayerKv,
    n: usize,
    (nh, nkv, hd): (usize, usize, usize),
    out: &mut [f32],
) {
    use rayon::prelude::*;
    let rep = nh / nkv;
    // Heads are independent: split across the pool (the bits do not depend on how).
    out.par_chunks_mut(hd).enumerate().for_each(|(h, y)| {
        let mut scores = vec![0f32; n];
        attend_head(
            &q[h * hd..(h + 1) * hd],
            kv,
            h / rep,
            (nkv, hd),
            &mut scores,
            y,
        );
    });
}

/// One head of [`attend_cached`] against kv head `g`; `scores` holds one value per key.
fn attend_head(
    q: &[f32],
    kv: &LayerKv,
    g: usize,
    (nkv, hd): (usize, usize),
    scores: &mut [f32],
    out: &mut [f32],
) {
    const W: usize = 64;
    let scale = 1.0 / (hd as f32).sqrt();
    let stride = nkv * hd;
    let keys = kv.k[g * hd..].chunks(stride);
    let max = score_keys(q, keys, scale, scores);
    let sum = softmax_in_place(scores, max);
    for s in scores.iter_mut() {
        *s /= sum;
    }
    // y[d] = Σ_j p_j v_j[d], j in order; 64 dims at a time, so that the sums stay in registers
    // (a constant width unrolls into eight vector FMAs per key).
    for d0 in (0..hd).step_by(W) {
        let w = W.min(hd - d0);
        let mut y = [0f32; W];
        let values = kv.v[g * hd + d0..].chunks(stride);
        if w == W {
            for (p, v) in scores.iter().zip(values) {
                let v: &[f32; W] = v[..W].try_into().expect("64 values");
                for d in 0..W {
                    y[d] += p * v[d];
                }
            }
        } else {
            for (p, v) in scores.iter().zip(values) {
                for (y, v) in y[..w].iter_mut().zip(&v[..w]) {
                    *y += p * v;
                }
            }
        }
        out[d0..d0 + w].copy_from_slice(&y[..w]);
    }
}

/// `scores[j] = dot(q, key j) * scale`; returns the maximum.
fn score_keys<'a>(
    q: &[f32],
    keys: impl Iterator<Item = &'a [f32]>,
    scale: f32,
    scores: &mut [f32],
) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for (s, k) in scores.iter_mut().zip(keys) {
        *s = dot(q, &k[..q.len()]) * scale;
        max = max.max(*s);
    }
    max
}

/// `scores[j] = exp(scores[j] - max)` in place; returns their sum (in index order).
fn softmax_in_place(scores: &mut [f32], max: f32) -> f32 {
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    sum
}

/// A dot product in a fixed order: 32 interleaved partial sums (four independent vector chains of
/// eight), then a fixed tree. Vectorises, and gives the same bits on every machine with IEEE f32.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = crate::vnni::dot_lanes(ca, cb);
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[i / 8][i % 8] += x * y;
    }
    // (c0 + c2) + (c1 + c3) lane-wise, then the eight lanes pairwise.
    let mut v = [0f32; 8];
    for l in 0..8 {
        v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    }
    ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
}

/// The token embedding table. A Q8_0 table stays Q8_0 and its rows are dequantized on lookup: the
/// same values as dequantizing it whole (`q as f32 * d`), in a quarter of the memory (113 MB less for
/// SmolLM2).
#[derive(Debug, Clone)]
enum TokenEmbeddings {
    F32(Tensor),
    Q80 {
        raw: Vec<u8>,
        vocab: usize,
        hidden: usize,
    },
}

impl TokenEmbeddings {
    fn from_qtensor(q: &QTensor) -> Result<Self> {
        if let Some((vocab, hidden, raw)) = raw_blocks(q, GgmlDType::Q8_0, 34)? {
            return Ok(Self::Q80 {
                raw: raw.into_owned(),
                vocab,
                hidden,
            });
        }
        Ok(Self::F32(q.dequantize(&Device::Cpu)?))
    }

    /// Rows for `ids` (any shape), `(ids, hidden)`.
    fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let ids = ids.flatten_all()?;
        let (raw, vocab, hidden) = match self {
            Self::F32(t) => return Ok(t.index_select(&ids, 0)?),
            Self::Q80 { raw, vocab, hidden } => (raw, *vocab, *hidden),
        };
        let ids = ids.to_vec1::<u32>()?;
        let row_bytes = hidden / 32 * 34;
        let mut out = Vec::with_capacity(ids.len() * hidden);
        for &id in &ids {
            if id as usize >= vocab {
                return Err(Error::InvalidInput(format!(
                    "token id {id} is outside the vocabulary of {vocab}"
                )));
            }
            for blk in raw[id as usize * row_bytes..][..row_bytes].chunks_exact(34) {
                let d = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                out.extend(blk[2..].iter().map(|&q| q as i8 as f32 * d));
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), hidden), &Device::Cpu)?)
    }
}

/// A llama decoder.
#[derive(Debug, Clone)]
pub struct Llama {
    cfg: LlamaConfig,
    mode: ExecMode,
    embed: TokenEmbeddings,
    blocks: Vec<Block>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
    /// Fault injection only ([`Llama::inject_skip_layer`]): a block whose output is its input.
    skip_layer: Option<usize>,
}

/// How a pass over several positions computes attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// One matmul over all positions with a causal mask: the prompt pass of a generation, and training.
    Batched,
    /// Each position on its own against the keys up to it, with exactly the tensor shapes of a one-token
    /// decode step. candle's f32 matmul may round differently when the shapes differ, so this is what
    /// makes one pass over a generated sequence give the decode loop's bits (replay); the linear layers
    /// are row-independent in [`ExecMode::Quantized`] (not in [`ExecMode::F32`], where only the decode
    /// loop reproduces decode).
    PerPosition,
}

/// Which positions of a pass get logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsAt {
    /// The last one (generation).
    Last,
    /// Every one (replay checks each sampled token).
    All,
}

/// What a traced pass over `t` positions returns.
#[derive(Debug, Clone)]
pub struct Pass {
    /// Logits per position: one row for [`LogitsAt::Last`], `t` rows for [`LogitsAt::All`].
    pub logits: Vec<Vec<f32>>,
    /// The last position's final hidden state (after the final norm).
    pub last_hidden: Vec<f32>,
    /// Each block's output hidden states (before the final norm), `layers[l][p * hidden + i]` for
    /// position `p` of the pass: the activations an execution trace commits to.
    pub layers: Vec<Vec<f32>>,
}

fn rope_tables(cfg: &LlamaConfig, device: &Device) -> Result<(Tensor, Tensor)> {
    let hd = cfg.head_dim();
    let theta: Vec<f32> = (0..hd)
        .step_by(2)
        .map(|i| 1f32 / cfg.rope_base.powf(i as f32 / hd as f32))
        .collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let idx = Tensor::arange(0, cfg.context as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((cfg.context, 1))?
        .matmul(&theta.reshape((1, hd / 2))?)?;
    Ok((idx.cos()?, idx.sin()?))
}

/// Additive causal mask `(t, pos + t)`: 0 where visible, -inf above the diagonal.
fn causal_mask(t: usize, pos: usize, device: &Device) -> Result<Tensor> {
    let kv = pos + t;
    let m: Vec<f32> = (0..t)
        .flat_map(|i| (0..kv).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(m, (t, kv), device)?)
}

impl Llama {
    /// Loads a GGUF llama in the given execution mode.
    pub fn from_gguf<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        mode: ExecMode,
    ) -> Result<Self> {
        let device = Device::Cpu;
        let cfg = LlamaConfig::from_gguf(ct)?;
        let mut get = |name: &str| -> Result<QTensor> {
            ct.tensor(reader, name, &device)
                .map_err(|e| Error::InvalidModel {
                    what: format!("gguf tensor {name}"),
                    reason: e.to_string(),
                })
        };
        let embed_q = get("token_embd.weight")?;
        let embed = TokenEmbeddings::from_qtensor(&embed_q)?;
        let norm = get("output_norm.weight")?.dequantize(&device)?;
        // Tied embeddings (SmolLM2) have no output tensor. Looked up rather than tried: a failed
        // read builds an error whose backtrace, under RUST_BACKTRACE, costs ~120 MB to symbolize.
        let output = if ct.tensor_infos.contains_key("output.weight") {
            get("output.weight")?
        } else {
            embed_q
        };
        let output = Linear::new(output, mode)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let mut lin = |n: &str| Linear::new(get(&format!("blk.{i}.{n}.weight"))?, mode);
            let q = lin("attn_q")?;
            let k = lin("attn_k")?;
            let v = lin("attn_v")?;
            let o = lin("attn_output")?;
            let gate = lin("ffn_gate")?;
            let up = lin("ffn_up")?;
            let down = lin("ffn_down")?;
            blocks.push(Block {
                attn_norm: get(&format!("blk.{i}.attn_norm.weight"))?.dequantize(&device)?,
                ffn_norm: get(&format!("blk.{i}.ffn_norm.weight"))?.dequantize(&device)?,
                q,
                k,
                v,
                o,
                gate,
                up,
                down,
            });
        }
        let (cos, sin) = rope_tables(&cfg, &device)?;
        Ok(Self {
            cfg,
            mode,
            embed,
            blocks,
            norm,
            output,
            cos,
            sin,
            device,
            skip_layer: None,
        })
    }

    /// A model with seeded random weights (for tests). In quantized mode the weights are stored as Q8_0, so
    /// every width must be a multiple of 32.
    pub fn random(cfg: LlamaConfig, seed: u64, mode: ExecMode) -> Result<Self> {
        let device = Device::Cpu;
        let mut rng = Rng::new(seed);
        let mut mat = |rows: usize, cols: usize| -> Result<Tensor> {
            let bound = 1.0 / (cols as f32).sqrt();
            let v: Vec<f32> = (0..rows * cols).map(|_| rng.uniform(bound)).collect();
            Ok(Tensor::from_vec(v, (rows, cols), &device)?)
        };
        let mut lin = |rows: usize, cols: usize| -> Result<Linear> {
            let t = mat(rows, cols)?;
            let q = match mode {
                ExecMode::Quantized => QTensor::quantize(&t, GgmlDType::Q8_0)?,
                ExecMode::F32 => QTensor::quantize(&t, GgmlDType::F32)?,
            };
            Linear::new(q, mode)
        };
        let (h, kvh) = (cfg.hidden, cfg.kv_heads * cfg.head_dim());
        let ones = Tensor::ones(h, DType::F32, &device)?;
        let mut blocks = Vec::with_capacity(cfg.layers);
        for _ in 0..cfg.layers {
            blocks.push(Block {
                attn_norm: ones.clone(),
                q: lin(h, h)?,
                k: lin(kvh, h)?,
                v: lin(kvh, h)?,
                o: lin(h, h)?,
                ffn_norm: ones.clone(),
                gate: lin(cfg.intermediate, h)?,
                up: lin(cfg.intermediate, h)?,
                down: lin(h, cfg.intermediate)?,
            });
        }
        let output = lin(cfg.vocab_size, h)?;
        let embed = TokenEmbeddings::F32(mat(cfg.vocab_size, h)?);
        let (cos, sin) = rope_tables(&cfg, &device)?;
        Ok(Self {
            cfg,
            mode,
            embed,
            blocks,
            norm: ones,
            output,
            cos,
            sin,
            device,
            skip_layer: None,
        })
    }

    /// Fault injection for verification tests: block `layer` passes its input through unchanged (a
    /// worker that skips work). Never set on a serving path.
    #[doc(hidden)]
    pub fn inject_skip_layer(&mut self, layer: Option<usize>) {
        self.skip_layer = layer;
    }

    /// The configuration.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The execution mode.
    pub fn mode(&self) -> ExecMode {
        self.mode
    }

    /// The device tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs `ids` (one sequence) through the model at the cache's position and returns the logits of the last
    /// position. The cache grows by `ids.len()`.
    pub fn forward_last(&self, ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        Ok(self.forward_last_hidden(ids, cache, false)?.0)
    }

    /// [`Llama::forward_last`], also returning the last position's final hidden state (after
    /// the final norm, the input of the output layer) when `hidden` is set.
    pub fn forward_last_hidden(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        hidden: bool,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        self.check_len(ids, cache)?;
        let x = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let h = self.hidden_states(&x, Some(cache), false, Attention::Batched, None)?;
        let t = ids.len();
        let last = h.i((.., t - 1, ..))?;
        let logits = self.output.forward(&last)?.squeeze(0)?;
        let state = if hidden {
            Some(last.squeeze(0)?.to_vec1::<f32>()?)
        } else {
            None
        };
        Ok((logits.to_vec1::<f32>()?, state))
    }

    /// Runs `ids` at the cache's position like [`Llama::forward_last`], recording every block's output
    /// for the execution trace, with logits at the last or at every position.
    pub fn forward_traced(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        attention: Attention,
        at: LogitsAt,
    ) -> Result<Pass> {
        self.check_len(ids, cache)?;
        let x = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let mut layers = Vec::with_capacity(self.blocks.len());
        let h = self.hidden_states(&x, Some(cache), false, attention, Some(&mut layers))?;
        let t = ids.len();
        let last = h.i((.., t - 1, ..))?;
        let logits = match at {
            LogitsAt::Last => vec![self.output.forward(&last)?.squeeze(0)?.to_vec1::<f32>()?],
            LogitsAt::All => self.output.forward(&h)?.squeeze(0)?.to_vec2::<f32>()?,
        };
        Ok(Pass {
            logits,
            last_hidden: last.squeeze(0)?.to_vec1::<f32>()?,
            layers,
        })
    }

    fn check_len(&self, ids: &[u32], cache: &KvCache) -> Result<()> {
        if ids.is_empty() {
            return Err(Error::InvalidInput("no tokens to run".into()));
        }
        if cache.len + ids.len() > self.cfg.context {
            return Err(Error::ContextOverflow {
                prompt_tokens: cache.len + ids.len(),
                max_tokens: 0,
                context: self.cfg.context,
            });
        }
        Ok(())
    }

    /// Logits at every position of a batch `(b, t)` of token ids, built from differentiable ops only.
    pub fn forward_train(&self, ids: &Tensor) -> Result<Tensor> {
        let h = self.hidden_states(ids, None, true, Attention::Batched, None)?;
        self.output.forward(&h)
    }

    fn hidden_states(
        &self,
        ids: &Tensor,
        mut cache: Option<&mut KvCache>,
        train: bool,
        attention: Attention,
        mut trace: Option<&mut Vec<Vec<f32>>>,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let pos = cache.as_ref().map_or(0, |c| c.len);
        if pos + t > self.cfg.context {
            return Err(Error::ContextOverflow {
                prompt_tokens: pos + t,
                max_tokens: 0,
                context: self.cfg.context,
            });
        }
        if let Some(c) = cache.as_deref_mut() {
            c.layers.resize_with(self.blocks.len(), LayerKv::default);
        }
        let mut x = self.embed.lookup(ids)?.reshape((b, t, self.cfg.hidden))?;
        let per_position = attention == Attention::PerPosition && t > 1;
        let mask = if t > 1 && !per_position {
            Some(causal_mask(t, pos, &self.device)?)
        } else {
            None
        };
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let eps = self.cfg.rms_eps as f32;
        let norm = |x: &Tensor, w: &Tensor| -> Result<Tensor> {
            Ok(if train {
                candle_nn::ops::rms_norm_slow(x, w, eps)?
            } else {
                candle_nn::ops::rms_norm(x, w, eps)?
            })
        };
        let rope = |x: &Tensor| -> Result<Tensor> {
            Ok(if train {
                candle_nn::rotary_emb::rope_i_slow(x, &cos, &sin)?
            } else {
                candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin)?
            })
        };
        let (nh, nkv, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim());
        for (li, blk) in self.blocks.iter().enumerate() {
            let residual = &x;
            let hn = norm(&x, &blk.attn_norm)?;
            let [q, k, v] = Linear::forward_shared([&blk.q, &blk.k, &blk.v], &hn)?;
            let q = q.reshape((b, t, nh, hd))?.transpose(1, 2)?;
            let k = k.reshape((b, t, nkv, hd))?.transpose(1, 2)?;
            let v = v.reshape((b, t, nkv, hd))?.transpose(1, 2)?.contiguous()?;
            let q = rope(&q.contiguous()?)?;
            let k = rope(&k.contiguous()?)?;
            let attend =
                |q: &Tensor, k: Tensor, v: Tensor, mask: Option<&Tensor>| -> Result<Tensor> {
                    let k = candle_transformers::utils::repeat_kv(k, nh / nkv)?.contiguous()?;
                    let v = candle_transformers::utils::repeat_kv(v, nh / nkv)?.contiguous()?;
                    let mut att = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
                    if let Some(m) = mask {
                        att = att.broadcast_add(m)?;
                    }
                    let att = if train {
                        candle_nn::ops::softmax(&att, D::Minus1)?
                    } else {
                        candle_nn::ops::softmax_last_dim(&att)?
                    };
                    Ok(att.matmul(&v)?)
                };
            let y = match cache.as_deref_mut() {
                None => attend(&q, k, v, mask.as_ref())?.transpose(1, 2)?.reshape((
                    b,
                    t,
                    self.cfg.hidden,
                ))?,
                Some(c) => {
                    // Append this pass's keys and values, position-major.
                    let kv = &mut c.layers[li];
                    kv.k.extend(k.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>()?);
                    kv.v.extend(v.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>()?);
                    if t == 1 || per_position {
                        // Each position `pos + i` against keys `0..=pos + i`: a decode step's work.
                        let q = q.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>()?;
                        let mut y = vec![0f32; t * nh * hd];
                        for i in 0..t {
                            attend_cached(
                                &q[i * nh * hd..(i + 1) * nh * hd],
                                kv,
                                pos + i + 1,
                                (nh, nkv, hd),
                                &mut y[i * nh * hd..(i + 1) * nh * hd],
                            );
                        }
                        Tensor::from_vec(y, (b, t, self.cfg.hidden), &self.device)?
                    } else {
                        // A prompt pass: one masked matmul over the cache and the new positions.
                        let n = pos + t;
                        let all = |x: &[f32]| -> Result<Tensor> {
                            Ok(Tensor::from_slice(x, (b, n, nkv, hd), &self.device)?
                                .transpose(1, 2)?)
                        };
                        attend(&q, all(&kv.k)?, all(&kv.v)?, mask.as_ref())?
                            .transpose(1, 2)?
                            .reshape((b, t, self.cfg.hidden))?
                    }
                }
            };
            let x1 = (blk.o.forward(&y)? + residual)?;
            let hn = norm(&x1, &blk.ffn_norm)?;
            let [gate, up] = Linear::forward_shared([&blk.gate, &blk.up], &hn)?;
            let m = blk.down.forward(&(candle_nn::ops::silu(&gate)? * up)?)?;
            if self.skip_layer != Some(li) {
                x = (m + &x1)?;
            }
            if let Some(tr) = trace.as_deref_mut() {
                tr.push(x.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        if let Some(c) = cache {
            c.len += t;
        }
        norm(&x, &self.norm)
    }

    /// Attaches fresh trainable LoRA adapters of rank `rank` to every linear layer of every block: `A` is
    /// uniform in `±1/sqrt(in)` from the seeded RNG, `B` is zero, so training starts at the base model.
    /// Returns the variables by name (`blk.{i}.{q,k,v,o,gate,up,down}.lora_{a,b}`).
    pub fn attach_trainable_lora(
        &mut self,
        rank: usize,
        alpha: f64,
        seed: u64,
    ) -> Result<Vec<(String, Var)>> {
        if rank == 0 {
            return Err(Error::param("rank", "must be at least 1"));
        }
        let mut rng = Rng::new(seed);
        let mut vars = Vec::new();
        let scale = alpha / rank as f64;
        let device = self.device.clone();
        for (i, blk) in self.blocks.iter_mut().enumerate() {
            for (name, lin) in blk.linears_mut() {
                let (out, inp) = lin.dims();
                let bound = 1.0 / (inp as f32).sqrt();
                let a: Vec<f32> = (0..rank * inp).map(|_| rng.uniform(bound)).collect();
                let a = Var::from_tensor(&Tensor::from_vec(a, (rank, inp), &device)?)?;
                let b = Var::zeros((out, rank), DType::F32, &device)?;
                lin.lora = Some(LoraPair {
                    a: a.as_tensor().clone(),
                    b: b.as_tensor().clone(),
                    scale,
                });
                vars.push((format!("blk.{i}.{name}.lora_a"), a));
                vars.push((format!("blk.{i}.{name}.lora_b"), b));
            }
        }
        Ok(vars)
    }

    /// Attaches fixed LoRA tensors (named as by [`Llama::attach_trainable_lora`]) for inference.
    pub fn attach_lora(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        scale: f64,
    ) -> Result<()> {
        let bad = |r: String| Error::InvalidAdapter(r);
        let mut used = 0usize;
        for (i, blk) in self.blocks.iter_mut().enumerate() {
            for (name, lin) in blk.linears_mut() {
                let a = tensors.get(&format!("blk.{i}.{name}.lora_a"));
                let b = tensors.get(&format!("blk.{i}.{name}.lora_b"));
                let (a, b) = match (a, b) {
                    (Some(a), Some(b)) => (a, b),
                    (None, None) => continue,
                    _ => return Err(bad(format!("blk.{i}.{name}: only one of lora_a/lora_b"))),
                };
                let (out, inp) = lin.dims();
                let (ra, ia) = a.dims2()?;
                let (ob, rb) = b.dims2()?;
                if ia != inp || ob != out || ra != rb {
                    return Err(bad(format!(
                        "blk.{i}.{name}: shapes {:?} {:?} do not fit a {out}x{inp} layer",
                        a.dims(),
                        b.dims()
                    )));
                }
                lin.lora = Some(LoraPair {
                    a: a.to_dtype(DType::F32)?,
                    b: b.to_dtype(DType::F32)?,
                    scale,
                });
                used += 2;
            }
        }
        if used != tensors.len() {
            return Err(bad(format!(
                "{} of {} tensors match no layer",
                tensors.len() - used,
                tensors.len()
            )));
        }
        Ok(())
    }

    /// Removes every adapter.
    pub fn detach_lora(&mut self) {
        for blk in &mut self.blocks {
            for (_, lin) in blk.linears_mut() {
                lin.lora = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
