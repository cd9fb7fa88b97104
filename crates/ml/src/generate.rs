//! Text generation: prompt encoding, prefill, KV-cached decoding, sampling, stop sequences and streaming.

use crate::{
    Error, Result,
    llama::{KvCache, Llama, LlamaConfig},
    registry::{ExecMode, FileRole, ModelId, ModelKind, ModelSpec, ModelStore, runtime_descriptor},
    sampling::{Sampler, SamplingParams},
    text::{ChatMessage, TextTokenizer, chat_template},
};
use candle_core::quantized::gguf_file;
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
    /// Time spent on the prompt.
    #[serde(skip)]
    pub prefill_time: Duration,
    /// Time spent decoding after the prompt.
    #[serde(skip)]
    pub decode_time: Duration,
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
        let sampler = Sampler::new(&req.params)?;
        let prompt_ids = self.encode_prompt(&req.prompt)?;
        let context = self.model.config().context;
        if prompt_ids.len() + req.params.max_tokens > context {
            return Err(Error::ContextOverflow {
                prompt_tokens: prompt_ids.len(),
                max_tokens: req.params.max_tokens,
                context,
            });
        }
        let mut cache = KvCache::default();
        let start = Instant::now();
        let (logits, hidden) = self
            .model
            .forward_last_hidden(&prompt_ids, &mut cache, true)?;
        let prefill_time = start.elapsed();
        let fingerprints = vec![ActivationFingerprint::of(
            prompt_ids.len(),
            &hidden.unwrap_or_default(),
        )];
        tracing::debug!(target: "mycel::ml.generate.prefill", tokens = prompt_ids.len(), ?prefill_time, "prompt done");
        Ok(TokenStream {
            generator: self,
            cache,
            sampler,
            params: req.params.clone(),
            prompt_ids,
            out_ids: Vec::new(),
            logits: Some(logits),
            emitted: 0,
            text: String::new(),
            finish: None,
            hasher: blake3::Hasher::new(),
            fingerprints,
            prefill_time,
            decode_time: Duration::ZERO,
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
        let tk = &self.generator.tokenizer;
        if tk.eos.contains(&tok) {
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
        let (logits, hidden) =
            self.generator
                .model
                .forward_last_hidden(&[tok], &mut self.cache, chunk_end)?;
        self.logits = Some(logits);
        if let Some(h) = hidden {
            self.fingerprints.push(ActivationFingerprint::of(
                self.prompt_ids.len() + self.out_ids.len(),
                &h,
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
