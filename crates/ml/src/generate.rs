//! Text generation: prompt encoding, prefill, KV-cached decoding, sampling, stop sequences and streaming.

use crate::{
    Error, Result,
    llama::{Attention, KvCache, Llama, LlamaConfig, LogitsAt},
    registry::{ExecMode, FileRole, ModelId, ModelKind, ModelSpec, ModelStore, runtime_descriptor},
    sampling::{Sampler, SamplingParams},
    text::{ChatMessage, TextTokenizer, chat_template},
};
use candle_core::quantized::gguf_file;
use mycel_primitives::{
    Hash,
    hash::{Domain, hash_parts},
};
use std::time::{Duration, Instant};

/// What to generate from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prompt {
    /// Chat messages, rendered with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Raw text, tokenized as is (special tokens recognised).
    Raw(String),
}

impl Prompt {
    /// A single user turn.
    pub fn user(text: impl Into<String>) -> Self {
        Self::Chat(vec![ChatMessage::user(text)])
    }
}

/// A generation request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerateRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Sampling parameters.
    pub params: SamplingParams,
}

/// The logits hash ([`Generation::logits_hash`]) the pinned quantized SmolLM2 gives for
/// [`golden_story_request`] under the current `registry::kernel_version("llama", …)`: the bits its model
/// ID promises. The tests check it in the debug build at 1 and 2 threads with both quantized kernels,
/// `mycel bench ml` in the release build; a kernel change that moves it bumps the kernel version.
pub const SMOLLM2_GOLDEN_STORY_LOGITS: &str =
    "f7d30bd644ca5118c24a9932e405ade1efb52fd1413ce63f4276c210a16ae11e";

/// A sampled 40-token story: the request behind [`SMOLLM2_GOLDEN_STORY_LOGITS`].
pub fn golden_story_request() -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::user("Write a short story about a lighthouse keeper."),
        params: SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 50,
            seed: 2026,
            max_tokens: 40,
            stop: vec![],
        },
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-sequence token or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// Token counts of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated (an end-of-sequence token is not counted).
    pub completion_tokens: usize,
}

/// Tokens per activation-fingerprint chunk.
pub const FINGERPRINT_EVERY: usize = 32;
/// Hidden-state components kept per fingerprint.
pub const FINGERPRINT_TOP_K: usize = 16;

/// What the model's last hidden state looked like at one position: the indices and values of its
/// `FINGERPRINT_TOP_K` largest-magnitude components. Taken after the prompt and after every
/// `FINGERPRINT_EVERY` generated tokens, it lets a verifier that re-executes a generation find the
/// first chunk where it diverges without comparing every logits vector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActivationFingerprint {
    /// Tokens (prompt + generated) the model had seen at this point.
    pub position: usize,
    /// `(component, value)` by decreasing magnitude; ties by component.
    pub top: Vec<(u32, f32)>,
}

impl ActivationFingerprint {
    /// The fingerprint of a hidden state at `position`.
    pub fn of(position: usize, hidden: &[f32]) -> Self {
        let mut idx: Vec<u32> = (0..hidden.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            hidden[b as usize]
                .abs()
                .total_cmp(&hidden[a as usize].abs())
                .then(a.cmp(&b))
        });
        ActivationFingerprint {
            position,
            top: idx
                .into_iter()
                .take(FINGERPRINT_TOP_K)
                .map(|i| (i, hidden[i as usize]))
                .collect(),
        }
    }

    /// BLAKE3 over the position and the `(component, value bits)` pairs, little-endian.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&(self.position as u64).to_le_bytes());
        for (i, v) in &self.top {
            h.update(&i.to_le_bytes());
            h.update(&v.to_bits().to_le_bytes());
        }
        *h.finalize().as_bytes()
    }
}

/// The result of a generation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generation {
    /// The model that produced it.
    pub model_id: ModelId,
    /// Generated text, cut before a stop sequence.
    pub text: String,
    /// Prompt token ids.
    pub prompt_ids: Vec<u32>,
    /// Generated token ids.
    pub token_ids: Vec<u32>,
    /// Token counts.
    pub usage: Usage,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// BLAKE3 over the little-endian bytes of every logits vector that was sampled from, in order.
    pub logits_hash: String,
    /// Activation fingerprints after the prompt and every [`FINGERPRINT_EVERY`] generated tokens.
    pub fingerprints: Vec<ActivationFingerprint>,
    /// The end-of-sequence token that stopped it, if one did (it is not in `token_ids`).
    #[serde(skip)]
    pub eos_token: Option<u32>,
    /// The execution trace: leaves as laid out by [`TraceRecorder`], root by [`trace_root`].
    #[serde(skip)]
    pub trace: Vec<Hash>,
    /// Time spent on the prompt.
    #[serde(skip)]
    pub prefill_time: Duration,
    /// Time spent decoding after the prompt.
    #[serde(skip)]
    pub decode_time: Duration,
}

impl Generation {
    /// Every token the sampler picked, in order: `token_ids`, then the end-of-sequence token if one
    /// stopped the generation. This, the prompt ids and the sampling parameters are what a replay needs.
    pub fn sampled_ids(&self) -> Vec<u32> {
        self.token_ids
            .iter()
            .copied()
            .chain(self.eos_token)
            .collect()
    }
}

/// Positions per execution-trace chunk.
pub const TRACE_CHUNK: usize = 32;

/// Builds the execution trace of a generation position by position.
///
/// The model runs on `prompt ++ sampled[..n - 1]` (a generation never feeds its last pick back), and
/// the logits at position `p` give the token sampled there. Positions are cut into chunks of
/// [`TRACE_CHUNK`] from position 0, prompt and output alike. Chunk `c` has `layers + 1` leaves, in
/// order: for each block `l`, BLAKE3 over the f32 little-endian bytes of that block's output at the
/// chunk's positions (position-major); then BLAKE3 over the u32 little-endian ids sampled at the
/// chunk's positions (empty for a chunk of prompt only). Leaf `i = c * (layers + 1) + j` is
/// `hash_parts(Domain::TraceLeaf, [i as u64 big-endian, payload])`, so the index is bound in and a
/// dispute can name the chunk, layer and position range of any leaf ([`trace_leaf_at`]).
#[derive(Debug, Clone)]
pub struct TraceRecorder {
    hidden: usize,
    positions: usize,
    open: Option<(Vec<blake3::Hasher>, blake3::Hasher)>,
    layers: usize,
    leaves: Vec<Hash>,
}

/// What leaf `i` of a generation trace covers, for a model with `layers` blocks: its chunk, and the
/// block (`None` for the sampled-token leaf).
pub fn trace_leaf_at(i: usize, layers: usize) -> (usize, Option<usize>) {
    let (c, j) = (i / (layers + 1), i % (layers + 1));
    (c, (j < layers).then_some(j))
}

/// One trace leaf from its index and payload hash (the convention shared by every job kind).
pub fn trace_leaf(index: usize, payload: &[u8; 32]) -> Hash {
    hash_parts(Domain::TraceLeaf, &[&(index as u64).to_be_bytes(), payload])
}

/// The Merkle root a worker commits to over trace leaves.
pub fn trace_root(leaves: &[Hash]) -> Hash {
    mycel_primitives::merkle::root(leaves)
}

impl TraceRecorder {
    /// An empty trace of a model with `layers` blocks of width `hidden`.
    pub fn new(layers: usize, hidden: usize) -> Self {
        Self {
            hidden,
            positions: 0,
            open: None,
            layers,
            leaves: Vec::new(),
        }
    }

    /// Adds the block outputs of the next positions (`layers[l]` is `t * hidden` values).
    pub fn push_positions(&mut self, layers: &[Vec<f32>]) {
        let t = layers.first().map_or(0, |r| r.len() / self.hidden.max(1));
        let mut bytes = Vec::with_capacity(self.hidden * 4);
        for p in 0..t {
            if self.positions.is_multiple_of(TRACE_CHUNK) {
                self.close();
                let hashers = vec![blake3::Hasher::new(); self.layers];
                self.open = Some((hashers, blake3::Hasher::new()));
            }
            let (hashers, _) = self.open.as_mut().expect("opened above");
            for (h, rows) in hashers.iter_mut().zip(layers) {
                bytes.clear();
                for v in &rows[p * self.hidden..(p + 1) * self.hidden] {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                h.update(&bytes);
            }
            self.positions += 1;
        }
    }

    /// Adds the token sampled at the last position pushed.
    pub fn push_token(&mut self, token: u32) {
        if let Some((_, tokens)) = self.open.as_mut() {
            tokens.update(&token.to_le_bytes());
        }
    }

    fn close(&mut self) {
        let Some((hashers, tokens)) = self.open.take() else {
            return;
        };
        for h in hashers.iter().chain([&tokens]) {
            let leaf = trace_leaf(self.leaves.len(), h.finalize().as_bytes());
            self.leaves.push(leaf);
        }
    }

    /// The leaves, closing the last chunk.
    pub fn finish(mut self) -> Vec<Hash> {
        self.close();
        self.leaves
    }
}

/// How a replay runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayMode {
    /// The worker's own code path: the prompt in one pass, then one decode step per token. Exact in
    /// every execution mode; as slow as generation.
    Decode,
    /// The prompt in one pass, then every generated position in a second pass with per-position
    /// attention ([`Attention::PerPosition`]). Bit-identical to [`ReplayMode::Decode`] in
    /// [`ExecMode::Quantized`] (measured and tested); in [`ExecMode::F32`] the batched linear
    /// layers round differently, so [`TextGenerator::replay`] falls back to decoding there.
    Prefill,
}

/// What re-executing a claimed generation gave.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The trace over the claimed tokens, laid out as [`Generation::trace`]; its token leaves hold
    /// what the seeded sampler picked here, so a forged pick shows as a divergent leaf.
    pub trace: Vec<Hash>,
    /// The token the seeded sampler picks at each generated position, given the claimed tokens
    /// before it.
    pub sampled: Vec<u32>,
    /// BLAKE3 over the logits vectors sampled from, as [`Generation::logits_hash`].
    pub logits_hash: String,
}

impl Replay {
    /// The first position where the claimed pick differs from the replayed one (a length
    /// difference counts at the shorter length).
    pub fn first_token_mismatch(&self, claimed: &[u32]) -> Option<usize> {
        let n = self.sampled.len().min(claimed.len());
        (0..n)
            .find(|&i| self.sampled[i] != claimed[i])
            .or((self.sampled.len() != claimed.len()).then_some(n))
    }
}

/// One step of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The sampled token (`None` for the final flush after an end-of-sequence token).
    pub token: Option<u32>,
    /// New text that is final (text that may still turn into a stop sequence is held back).
    pub text: String,
}

/// A loaded generation model with its tokenizer.
#[derive(Debug, Clone)]
pub struct TextGenerator {
    model: Llama,
    tokenizer: TextTokenizer,
    model_id: ModelId,
}

impl TextGenerator {
    /// The model ID of a GGUF file run in `mode`: the file (weights, config and tokenizer are all
    /// inside it) and the runtime descriptor.
    pub fn model_id_of(gguf: &[u8], mode: ExecMode) -> ModelId {
        let desc = runtime_descriptor("llama", mode);
        ModelId::compute(&[("weights", gguf), ("runtime", desc.as_bytes())])
    }

    /// Loads a pinned GGUF model from the store (hash checked) in the given execution mode.
    pub fn load(store: &ModelStore, spec: &ModelSpec, mode: ExecMode) -> Result<Self> {
        if spec.kind != ModelKind::Generation {
            return Err(Error::InvalidInput(format!(
                "{} is not a generation model",
                spec.name
            )));
        }
        let bytes = store.read_verified(spec, FileRole::Weights)?;
        Self::from_gguf_bytes(&bytes, mode)
    }

    /// Loads a GGUF model from memory. The model ID covers the file (weights, config and tokenizer are all
    /// inside it) and the runtime descriptor.
    pub fn from_gguf_bytes(bytes: &[u8], mode: ExecMode) -> Result<Self> {
        let model_id = Self::model_id_of(bytes, mode);
        let mut cur = std::io::Cursor::new(bytes);
        let ct = gguf_file::Content::read(&mut cur).map_err(|e| Error::InvalidModel {
            what: "gguf".into(),
            reason: e.to_string(),
        })?;
        let tokenizer = TextTokenizer::from_gguf(&ct)?;
        let model = Llama::from_gguf(&ct, &mut cur, mode)?;
        Ok(Self {
            model,
            tokenizer,
            model_id,
        })
    }

    /// Assembles a generator from parts.
    pub fn from_parts(model: Llama, tokenizer: TextTokenizer, model_id: ModelId) -> Self {
        Self {
            model,
            tokenizer,
            model_id,
        }
    }

    /// A tiny random-weight model with a byte-level tokenizer, for tests that need no downloads.
    pub fn tiny_random(seed: u64, mode: ExecMode) -> Result<Self> {
        let tokenizer = TextTokenizer::bytes_only()?;
        // Round the vocabulary up to a multiple of 32 so Q8_0 blocks fit.
        let vocab = tokenizer.vocab_size().div_ceil(32) * 32;
        let model = Llama::random(LlamaConfig::tiny(vocab), seed, mode)?;
        let desc = runtime_descriptor("llama", mode);
        let model_id = ModelId::compute(&[
            ("weights", format!("tiny-random seed={seed}").as_bytes()),
            ("runtime", desc.as_bytes()),
        ]);
        Ok(Self::from_parts(model, tokenizer, model_id))
    }

    /// The model ID (weights + runtime descriptor).
    pub fn model_id(&self) -> ModelId {
        self.model_id
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The network.
    pub fn model(&self) -> &Llama {
        &self.model
    }

    /// The network, mutably (to attach adapters).
    pub fn model_mut(&mut self) -> &mut Llama {
        &mut self.model
    }

    pub(crate) fn set_model_id(&mut self, id: ModelId) {
        self.model_id = id;
    }

    /// Token ids of a prompt.
    /// The context window, in tokens (prompt and completion together).
    pub fn context(&self) -> usize {
        self.model.config().context
    }

    /// Encodes a prompt as the model sees it (chat template applied).
    pub fn encode_prompt(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        let text = match prompt {
            Prompt::Chat(m) if m.is_empty() => {
                return Err(Error::InvalidInput("no chat messages".into()));
            }
            Prompt::Chat(m) => chat_template(m),
            Prompt::Raw(t) => t.clone(),
        };
        let ids = self.tokenizer.encode(&text)?;
        if ids.is_empty() {
            return Err(Error::InvalidInput("empty prompt".into()));
        }
        Ok(ids)
    }

    /// Starts a generation: checks the request, runs the prompt, and returns the token stream.
    pub fn stream(&self, req: &GenerateRequest) -> Result<TokenStream<'_>> {
        Sampler::new(&req.params)?;
        let prompt_ids = self.encode_prompt(&req.prompt)?;
        self.stream_ids(prompt_ids, &req.params)
    }

    /// [`TextGenerator::stream`] from prompt token ids (what a replay or a token-level client has).
    pub fn stream_ids(
        &self,
        prompt_ids: Vec<u32>,
        params: &SamplingParams,
    ) -> Result<TokenStream<'_>> {
        let sampler = Sampler::new(params)?;
        if prompt_ids.is_empty() {
            return Err(Error::InvalidInput("empty prompt".into()));
        }
        let context = self.model.config().context;
        if prompt_ids.len() + params.max_tokens > context {
            return Err(Error::ContextOverflow {
                prompt_tokens: prompt_ids.len(),
                max_tokens: params.max_tokens,
                context,
            });
        }
        let mut cache = KvCache::default();
        let start = Instant::now();
        let pass = self.model.forward_traced(
            &prompt_ids,
            &mut cache,
            Attention::Batched,
            LogitsAt::Last,
        )?;
        let prefill_time = start.elapsed();
        let fingerprints = vec![ActivationFingerprint::of(
            prompt_ids.len(),
            &pass.last_hidden,
        )];
        let mut trace = self.trace_recorder();
        trace.push_positions(&pass.layers);
        let logits = pass.logits.into_iter().next();
        tracing::debug!(target: "mycel::ml.generate.prefill", tokens = prompt_ids.len(), ?prefill_time, "prompt done");
        Ok(TokenStream {
            generator: self,
            cache,
            sampler,
            params: params.clone(),
            prompt_ids,
            out_ids: Vec::new(),
            logits,
            eos_token: None,
            trace,
            emitted: 0,
            text: String::new(),
            finish: None,
            hasher: blake3::Hasher::new(),
            fingerprints,
            prefill_time,
            decode_time: Duration::ZERO,
        })
    }

    fn trace_recorder(&self) -> TraceRecorder {
        let cfg = self.model.config();
        TraceRecorder::new(cfg.layers, cfg.hidden)
    }

    /// Re-executes a claimed generation: `prompt_ids`, every token the worker's sampler picked
    /// (`sampled_ids`: [`Generation::sampled_ids`]) and the request's sampling parameters. Returns the
    /// trace over the claimed tokens and what the seeded sampler picks at each position, so a caller
    /// can compare both bit for bit with the claim. `mode` is a request: [`ReplayMode::Prefill`] is
    /// only exact in [`ExecMode::Quantized`] and decodes otherwise.
    pub fn replay(
        &self,
        prompt_ids: &[u32],
        sampled_ids: &[u32],
        params: &SamplingParams,
        mode: ReplayMode,
    ) -> Result<Replay> {
        let mut sampler = Sampler::new(params)?;
        if prompt_ids.is_empty() || sampled_ids.is_empty() {
            return Err(Error::InvalidInput(
                "replay needs a prompt and tokens".into(),
            ));
        }
        let context = self.model.config().context;
        if prompt_ids.len() + sampled_ids.len() > context + 1 {
            return Err(Error::ContextOverflow {
                prompt_tokens: prompt_ids.len(),
                max_tokens: sampled_ids.len(),
                context,
            });
        }
        let mut cache = KvCache::default();
        let mut trace = self.trace_recorder();
        let mut hasher = blake3::Hasher::new();
        let mut sampled = Vec::with_capacity(sampled_ids.len());
        let mut pick = |logits: &[f32], trace: &mut TraceRecorder| -> Result<()> {
            let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
            hasher.update(&bytes);
            let tok = sampler.sample(logits)?;
            trace.push_token(tok);
            sampled.push(tok);
            Ok(())
        };
        let prompt = self.model.forward_traced(
            prompt_ids,
            &mut cache,
            Attention::Batched,
            LogitsAt::Last,
        )?;
        trace.push_positions(&prompt.layers);
        pick(&prompt.logits[0], &mut trace)?;
        let fed = &sampled_ids[..sampled_ids.len() - 1];
        let prefill = mode == ReplayMode::Prefill && self.model.mode() == ExecMode::Quantized;
        if prefill && !fed.is_empty() {
            let pass = self.model.forward_traced(
                fed,
                &mut cache,
                Attention::PerPosition,
                LogitsAt::All,
            )?;
            // Interleave as the worker did: position, then the token sampled there.
            let hidden = self.model.config().hidden;
            for (p, logits) in pass.logits.iter().enumerate() {
                let rows: Vec<Vec<f32>> = pass
                    .layers
                    .iter()
                    .map(|l| l[p * hidden..(p + 1) * hidden].to_vec())
                    .collect();
                trace.push_positions(&rows);
                pick(logits, &mut trace)?;
            }
        } else {
            for &tok in fed {
                let pass = self.model.forward_traced(
                    &[tok],
                    &mut cache,
                    Attention::Batched,
                    LogitsAt::Last,
                )?;
                trace.push_positions(&pass.layers);
                pick(&pass.logits[0], &mut trace)?;
            }
        }
        Ok(Replay {
            trace: trace.finish(),
            sampled,
            logits_hash: hasher.finalize().to_hex().to_string(),
        })
    }

    /// Generates to completion, calling `on_text` with each piece of final text as it is produced.
    pub fn generate(
        &self,
        req: &GenerateRequest,
        mut on_text: impl FnMut(&str),
    ) -> Result<Generation> {
        let mut stream = self.stream(req)?;
        for delta in stream.by_ref() {
            let delta = delta?;
            if !delta.text.is_empty() {
                on_text(&delta.text);
            }
        }
        stream.finish()
    }
}

/// Token-by-token generation; an iterator of [`Delta`]s. Call [`TokenStream::finish`] at the end.
#[derive(Debug)]
pub struct TokenStream<'a> {
    generator: &'a TextGenerator,
    cache: KvCache,
    sampler: Sampler,
    params: SamplingParams,
    prompt_ids: Vec<u32>,
    out_ids: Vec<u32>,
    logits: Option<Vec<f32>>,
    eos_token: Option<u32>,
    trace: TraceRecorder,
    emitted: usize,
    text: String,
    finish: Option<FinishReason>,
    hasher: blake3::Hasher,
    fingerprints: Vec<ActivationFingerprint>,
    prefill_time: Duration,
    decode_time: Duration,
}

impl TokenStream<'_> {
    fn step(&mut self) -> Result<Option<Delta>> {
        if self.finish.is_some() {
            return Ok(None);
        }
        let Some(logits) = self.logits.take() else {
            return Ok(None);
        };
        let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.hasher.update(&bytes);
        let tok = self.sampler.sample(&logits)?;
        self.trace.push_token(tok);
        let tk = &self.generator.tokenizer;
        if tk.eos.contains(&tok) {
            self.eos_token = Some(tok);
            self.finish = Some(FinishReason::Stop);
            let full = tk.decode(&self.out_ids)?;
            self.text = full;
            return Ok(Some(self.flush(None)));
        }
        self.out_ids.push(tok);
        let full = tk.decode(&self.out_ids)?;
        let stop_at = self
            .params
            .stop
            .iter()
            .filter_map(|s| full.find(s.as_str()))
            .min();
        if let Some(at) = stop_at {
            self.finish = Some(FinishReason::Stop);
            self.text = full[..at].to_string();
            let emitted = self.emitted.min(at);
            self.emitted = emitted;
            return Ok(Some(self.flush(Some(tok))));
        }
        if self.out_ids.len() >= self.params.max_tokens {
            self.finish = Some(FinishReason::Length);
            self.text = full;
            return Ok(Some(self.flush(Some(tok))));
        }
        let safe = safe_prefix_len(&full, &self.params.stop).max(self.emitted);
        let text = full[self.emitted..safe].to_string();
        self.emitted = safe;
        self.text = full;
        let start = Instant::now();
        let chunk_end = self.out_ids.len().is_multiple_of(FINGERPRINT_EVERY);
        let pass = self.generator.model.forward_traced(
            &[tok],
            &mut self.cache,
            Attention::Batched,
            LogitsAt::Last,
        )?;
        self.trace.push_positions(&pass.layers);
        self.logits = pass.logits.into_iter().next();
        if chunk_end {
            self.fingerprints.push(ActivationFingerprint::of(
                self.prompt_ids.len() + self.out_ids.len(),
                &pass.last_hidden,
            ));
        }
        self.decode_time += start.elapsed();
        Ok(Some(Delta {
            token: Some(tok),
            text,
        }))
    }

    fn flush(&mut self, token: Option<u32>) -> Delta {
        let text = self.text.get(self.emitted..).unwrap_or("").to_string();
        self.emitted = self.text.len();
        Delta { token, text }
    }

    /// Tokens so far: what a caller that stops early (a client gone, a deadline) bills.
    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_ids.len(),
            completion_tokens: self.out_ids.len(),
        }
    }

    /// Why generation ended, once it has.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Consumes the rest of the stream and returns the result.
    pub fn finish(mut self) -> Result<Generation> {
        while self.step()?.is_some() {}
        Ok(Generation {
            model_id: self.generator.model_id,
            text: self.text,
            usage: Usage {
                prompt_tokens: self.prompt_ids.len(),
                completion_tokens: self.out_ids.len(),
            },
            prompt_ids: self.prompt_ids,
            token_ids: self.out_ids,
            finish_reason: self.finish.unwrap_or(FinishReason::Length),
            logits_hash: self.hasher.finalize().to_hex().to_string(),
            fingerprints: self.fingerprints,
            eos_token: self.eos_token,
            trace: self.trace.finish(),
            prefill_time: self.prefill_time,
            decode_time: self.decode_time,
        })
    }
}

impl Iterator for TokenStream<'_> {
    type Item = Result<Delta>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(d)) => Some(Ok(d)),
            Ok(None) => None,
            Err(e) => {
                self.finish = Some(FinishReason::Stop);
                Some(Err(e))
            }
        }
    }
}

/// Length of the prefix of `text` that can be shown: it excludes a trailing partial UTF-8 sequence (decoded
/// as U+FFFD) and any suffix that is the start of a stop sequence.
fn safe_prefix_len(text: &str, stops: &[String]) -> usize {
    let mut end = text.len();
    while text[..end].ends_with('\u{FFFD}') {
        end -= '\u{FFFD}'.len_utf8();
    }
    let head = &text[..end];
    let mut hold = 0;
    for s in stops {
        for (i, _) in s.char_indices().skip(1) {
            if head.ends_with(&s[..i]) {
                hold = hold.max(i);
            }
        }
    }
    end - hold
}

/// Fault injection for verification tests and benches: model files changed the way a broken or
/// dishonest worker would change them. Not for serving.
#[doc(hidden)]
pub mod faults {
    use crate::{Error, Result};
    pub use candle_core::quantized::GgmlDType;
    use candle_core::{
        Device,
        quantized::{QTensor, gguf_file},
    };

    fn read(gguf: &[u8]) -> Result<gguf_file::Content> {
        gguf_file::Content::read(&mut std::io::Cursor::new(gguf)).map_err(|e| Error::InvalidModel {
            what: "gguf".into(),
            reason: e.to_string(),
        })
    }

    fn missing(name: &str) -> Error {
        Error::InvalidInput(format!("no tensor {name} in the gguf file"))
    }

    /// `gguf` with bit `bit` (counted from the start of tensor `name`'s data, LSB first) flipped.
    pub fn flip_tensor_bit(gguf: &[u8], name: &str, bit: usize) -> Result<Vec<u8>> {
        let ct = read(gguf)?;
        let info = ct.tensor_infos.get(name).ok_or_else(|| missing(name))?;
        let at = (ct.tensor_data_offset + info.offset) as usize + bit / 8;
        let mut out = gguf.to_vec();
        let byte = out
            .get_mut(at)
            .ok_or_else(|| Error::InvalidInput(format!("bit {bit} is past the file")))?;
        *byte ^= 1 << (bit % 8);
        Ok(out)
    }

    /// `gguf` with tensor `name` dequantized and quantized again to `dtype` (e.g. a coarser type).
    pub fn requantize_tensor(gguf: &[u8], name: &str, dtype: GgmlDType) -> Result<Vec<u8>> {
        let ct = read(gguf)?;
        if !ct.tensor_infos.contains_key(name) {
            return Err(missing(name));
        }
        let mut cur = std::io::Cursor::new(gguf);
        let mut names: Vec<&String> = ct.tensor_infos.keys().collect();
        names.sort();
        let mut tensors = Vec::with_capacity(names.len());
        for n in &names {
            let t = ct.tensor(&mut cur, n, &Device::Cpu)?;
            let t = if n.as_str() == name {
                QTensor::quantize(&t.dequantize(&Device::Cpu)?, dtype)?
            } else {
                t
            };
            tensors.push(t);
        }
        let meta: Vec<(&str, &gguf_file::Value)> =
            ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let ts: Vec<(&str, &QTensor)> = names.iter().map(|n| n.as_str()).zip(&tensors).collect();
        let mut out = std::io::Cursor::new(Vec::new());
        gguf_file::write(&mut out, &meta, &ts)?;
        Ok(out.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(max_tokens: usize, stop: Vec<String>) -> GenerateRequest {
        GenerateRequest {
            prompt: Prompt::user("hello"),
            params: SamplingParams {
                temperature: 0.8,
                top_p: 0.95,
                top_k: 40,
                seed: 11,
                max_tokens,
                stop,
            },
        }
    }

    #[test]
    fn fingerprints_rank_components_by_magnitude_and_change_with_the_state() {
        let f = ActivationFingerprint::of(5, &[0.5, -3.0, 2.0, -2.0, 0.0]);
        let top: Vec<u32> = f.top.iter().map(|t| t.0).collect();
        // |-3| first; |2| = |-2| ties go to the lower component.
        assert_eq!(&top[..4], &[1, 2, 3, 0]);
        assert_eq!(f.top[0].1, -3.0);
        let g = ActivationFingerprint::of(5, &[0.5, -3.0, 2.0, -2.0, 0.1]);
        assert_ne!(f.hash(), g.hash());
        assert_ne!(
            f.hash(),
            ActivationFingerprint::of(6, &[0.5, -3.0, 2.0, -2.0, 0.0]).hash()
        );
        let model = TextGenerator::tiny_random(3, ExecMode::F32).unwrap();
        let out = model
            .generate(
                &GenerateRequest {
                    prompt: Prompt::Raw("hello".into()),
                    params: SamplingParams::greedy(70),
                },
                |_| {},
            )
            .unwrap();
        let first = &out.fingerprints[0];
        assert_eq!(first.position, out.usage.prompt_tokens);
        assert_eq!(first.top.len(), FINGERPRINT_TOP_K);
        for w in out.fingerprints.windows(2) {
            assert_eq!(w[1].position - w[0].position, FINGERPRINT_EVERY);
        }
    }

    #[test]
    fn seeded_generation_is_reproducible_and_streams_the_text() {
        let g = TextGenerator::tiny_random(3, ExecMode::Quantized).unwrap();
        let mut streamed = String::new();
        let a = g
            .generate(&req(24, vec![]), |t| streamed.push_str(t))
            .unwrap();
        let b = g.generate(&req(24, vec![]), |_| {}).unwrap();
        assert_eq!(a.token_ids, b.token_ids);
        assert_eq!(a.logits_hash, b.logits_hash);
        assert_eq!(a.fingerprints, b.fingerprints);
        assert_eq!(streamed, a.text);
        assert_eq!(a.usage.prompt_tokens, a.prompt_ids.len());
        assert_eq!(a.usage.completion_tokens, a.token_ids.len());
        let mut other = req(24, vec![]);
        other.params.seed = 12;
        assert_ne!(
            g.generate(&other, |_| {}).unwrap().logits_hash,
            a.logits_hash
        );
    }

    #[test]
    fn stop_sequences_cut_the_text() {
        let g = TextGenerator::tiny_random(3, ExecMode::F32).unwrap();
        let full = g.generate(&req(40, vec![]), |_| {}).unwrap();
        // Stop on a piece of the text that the unconstrained run produced.
        let chars: Vec<char> = full.text.chars().collect();
        assert!(chars.len() > 6, "{:?}", full.text);
        let stop: String = chars[3..5].iter().collect();
        let mut streamed = String::new();
        let cut = g
            .generate(&req(40, vec![stop.clone()]), |t| streamed.push_str(t))
            .unwrap();
        assert_eq!(cut.finish_reason, FinishReason::Stop);
        assert_eq!(cut.text, full.text[..full.text.find(&stop).unwrap()]);
        assert_eq!(streamed, cut.text);
    }

    #[test]
    fn bad_requests_are_typed() {
        let g = TextGenerator::tiny_random(3, ExecMode::F32).unwrap();
        let mut r = req(4, vec![]);
        r.params.top_p = 1.5;
        assert!(matches!(g.stream(&r), Err(Error::InvalidParam { .. })));
        let mut r = req(4, vec![]);
        r.params.temperature = -1.0;
        assert!(matches!(g.stream(&r), Err(Error::InvalidParam { .. })));
        let r = GenerateRequest {
            prompt: Prompt::Raw("x".repeat(300)),
            params: SamplingParams::greedy(4),
        };
        assert!(matches!(g.stream(&r), Err(Error::ContextOverflow { .. })));
        let r = GenerateRequest {
            prompt: Prompt::Raw(String::new()),
            params: SamplingParams::greedy(4),
        };
        assert!(matches!(g.stream(&r), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn holdback_of_stop_prefixes() {
        assert_eq!(safe_prefix_len("abc</", &["</s>".into()]), 3);
        assert_eq!(safe_prefix_len("abc", &["</s>".into()]), 3);
        assert_eq!(safe_prefix_len("ab\u{FFFD}", &[]), 2);
    }
}
