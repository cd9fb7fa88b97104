//! Sentence embeddings with a BERT encoder (all-MiniLM-L6-v2): mean pooling over each text's tokens and
//! L2 normalisation, in one of two execution modes (part of the model ID):
//! - [`ExecMode::Quantized`], the default and what nodes serve: int8 linear layers on exact integer
//!   kernels ([`crate::bert`]); each text runs at its own length, so its bits depend on nothing but the
//!   text — not the batch, the thread count or the SIMD width.
//! - [`ExecMode::F32`]: candle's f32 `BertModel` over batches padded to their longest text (the bits
//!   depend on the batch: a replay must batch as the worker did).

use crate::bert::Int8Bert;
use crate::{
    Error, Result,
    registry::{ExecMode, FileRole, ModelId, ModelKind, ModelSpec, ModelStore, runtime_descriptor},
    sampling::Rng,
};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::{Init, VarBuilder, var_builder::SimpleBackend};
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

/// Texts per forward pass: bounds memory and keeps padding per chunk.
pub const MAX_BATCH: usize = 64;

/// The mode nodes serve embeddings in, and [`Embedder::load`]'s.
pub const DEFAULT_MODE: ExecMode = ExecMode::Quantized;

/// The encoder behind an [`Embedder`], by execution mode.
enum Encoder {
    F32(BertModel),
    Int8(Int8Bert),
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    encoder: Encoder,
    tokenizer: Tokenizer,
    model_id: ModelId,
    dim: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model_id", &self.model_id)
            .field("mode", &self.mode())
            .field("dim", &self.dim)
            .finish()
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidModel {
        what: what.into(),
        reason: e.to_string(),
    }
}

impl Embedder {
    /// The model ID of a BERT model's files under this runtime, in [`DEFAULT_MODE`].
    pub fn model_id_of(weights: &[u8], config: &[u8], tokenizer: &[u8]) -> ModelId {
        Self::model_id_of_mode(weights, config, tokenizer, DEFAULT_MODE)
    }

    /// The model ID of a BERT model's files under this runtime, in `mode`.
    pub fn model_id_of_mode(
        weights: &[u8],
        config: &[u8],
        tokenizer: &[u8],
        mode: ExecMode,
    ) -> ModelId {
        let desc = runtime_descriptor("bert", mode);
        ModelId::compute(&[
            ("weights", weights),
            ("config", config),
            ("tokenizer", tokenizer),
            ("runtime", desc.as_bytes()),
        ])
    }

    /// Loads a pinned BERT model (weights, config and tokenizer, all hash-checked) in [`DEFAULT_MODE`].
    pub fn load(store: &ModelStore, spec: &ModelSpec) -> Result<Self> {
        Self::load_mode(store, spec, DEFAULT_MODE)
    }

    /// Loads a pinned BERT model in `mode`.
    pub fn load_mode(store: &ModelStore, spec: &ModelSpec, mode: ExecMode) -> Result<Self> {
        if spec.kind != ModelKind::Embedding {
            return Err(Error::InvalidInput(format!(
                "{} is not an embedding model",
                spec.name
            )));
        }
        let weights = store.read_verified(spec, FileRole::Weights)?;
        let config = store.read_verified(spec, FileRole::Config)?;
        let tokenizer = store.read_verified(spec, FileRole::Tokenizer)?;
        let model_id = Self::model_id_of_mode(&weights, &config, &tokenizer, mode);
        let cfg: Config = serde_json::from_slice(&config).map_err(|e| invalid("config.json", e))?;
        let tokenizer =
            Tokenizer::from_bytes(&tokenizer).map_err(|e| invalid("tokenizer.json", e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| invalid("model.safetensors", e))?;
        Self::from_parts(vb, &cfg, tokenizer, model_id, mode)
    }

    /// Builds an embedder from a variable source, a config and a tokenizer. The tokenizer's padding is
    /// replaced by batch-longest padding (MiniLM's file pads to a fixed 128, which with mean pooling would
    /// need the mask anyway and wastes compute).
    pub fn from_parts(
        vb: VarBuilder,
        cfg: &Config,
        mut tokenizer: Tokenizer,
        model_id: ModelId,
        mode: ExecMode,
    ) -> Result<Self> {
        let encoder = match mode {
            ExecMode::F32 => {
                Encoder::F32(BertModel::load(vb, cfg).map_err(|e| invalid("bert weights", e))?)
            }
            ExecMode::Quantized => Encoder::Int8(Int8Bert::load(vb, cfg)?),
        };
        let mut pad = tokenizer.get_padding().cloned().unwrap_or_default();
        pad.strategy = PaddingStrategy::BatchLongest;
        tokenizer.with_padding(Some(pad));
        Ok(Self {
            encoder,
            tokenizer,
            model_id,
            dim: cfg.hidden_size,
        })
    }

    /// A tiny BERT with seeded random weights and a WordPiece vocabulary of letters, for tests, in
    /// [`DEFAULT_MODE`].
    pub fn tiny_random(seed: u64) -> Result<Self> {
        Self::tiny_random_mode(seed, DEFAULT_MODE)
    }

    /// [`Embedder::tiny_random`] in `mode`.
    pub fn tiny_random_mode(seed: u64, mode: ExecMode) -> Result<Self> {
        let cfg: Config = serde_json::from_value(serde_json::json!({
            "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
            "max_position_embeddings": 64, "type_vocab_size": 2, "initializer_range": 0.02,
            "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
            "use_cache": false, "classifier_dropout": null, "model_type": "bert"
        }))
        .map_err(|e| invalid("tiny config", e))?;
        let vb = VarBuilder::from_backend(Box::new(SeededInit(seed)), DType::F32, Device::Cpu);
        let model_id = ModelId::compute(&[
            ("weights", format!("tiny-bert seed={seed}").as_bytes()),
            ("runtime", runtime_descriptor("bert", mode).as_bytes()),
        ]);
        Self::from_parts(vb, &cfg, tiny_wordpiece()?, model_id, mode)
    }

    /// The model ID.
    pub fn model_id(&self) -> ModelId {
        self.model_id
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The execution mode.
    pub fn mode(&self) -> ExecMode {
        match self.encoder {
            Encoder::F32(_) => ExecMode::F32,
            Encoder::Int8(_) => ExecMode::Quantized,
        }
    }

    /// Embeds texts: one L2-normalised vector per text, in order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Err(Error::InvalidInput("nothing to embed".into()));
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_BATCH) {
            out.extend(self.embed_batch(chunk)?);
        }
        Ok(out)
    }

    /// The tokens the model reads for `texts` (padding excluded): what an embedding is billed.
    pub fn count_tokens<S: AsRef<str>>(&self, texts: &[S]) -> Result<u64> {
        let mut n = 0u64;
        for chunk in texts.chunks(MAX_BATCH) {
            n += self
                .encode(chunk)?
                .iter()
                .map(|(_, mask)| mask.iter().filter(|m| **m == 1).count() as u64)
                .sum::<u64>();
        }
        Ok(n)
    }

    /// The padded token ids and attention masks this embedder feeds the model for `texts` (one
    /// batch), for peers that run the same model in another runtime.
    pub fn encode<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<(Vec<u32>, Vec<u32>)>> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let enc = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(Error::tokenizer)?;
        Ok(enc
            .iter()
            .map(|e| (e.get_ids().to_vec(), e.get_attention_mask().to_vec()))
            .collect())
    }

    fn embed_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let enc = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(Error::tokenizer)?;
        let model = match &self.encoder {
            Encoder::F32(m) => m,
            Encoder::Int8(m) => {
                // Each text at its own length: the padding (at the end) is dropped.
                let real = |e: &tokenizers::Encoding, v: &[u32]| -> Vec<u32> {
                    let n = e.get_attention_mask().iter().filter(|&&m| m == 1).count();
                    v[..n].to_vec()
                };
                let ids: Vec<Vec<u32>> = enc.iter().map(|e| real(e, e.get_ids())).collect();
                let types: Vec<Vec<u32>> = enc.iter().map(|e| real(e, e.get_type_ids())).collect();
                return m.embed(&ids, &types);
            }
        };
        let dev = &model.device;
        let (b, t) = (enc.len(), enc[0].len());
        let flat = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let v: Vec<u32> = enc.iter().flat_map(|e| f(e).to_vec()).collect();
            Ok(Tensor::from_vec(v, (b, t), dev)?)
        };
        let ids = flat(&|e| e.get_ids())?;
        let types = flat(&|e| e.get_type_ids())?;
        let mask = flat(&|e| e.get_attention_mask())?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// The execution trace of an embedding job: leaf `i` is
/// `hash_parts(Domain::TraceLeaf, [i as u64 big-endian, BLAKE3(f32 little-endian bytes of vector i)])`,
/// so a verifier that re-embeds the items names the first one that differs. In [`ExecMode::F32`]
/// replays must batch as the worker did ([`Embedder::embed`] does, in chunks of [`MAX_BATCH`]):
/// padding changes the bits; in [`ExecMode::Quantized`] an item's bits depend on its text alone.
pub fn trace_leaves(vectors: &[Vec<f32>]) -> Vec<mycel_primitives::Hash> {
    vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            crate::generate::trace_leaf(i, blake3::hash(&bytes).as_bytes())
        })
        .collect()
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(f32::MIN_POSITIVE)
}

/// Variable source that fills every tensor from a seeded RNG keyed by the tensor's name.
pub(crate) struct SeededInit(pub(crate) u64);

impl SimpleBackend for SeededInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let n = s.elem_count();
        let v: Vec<f32> = match h {
            Init::Const(c) => vec![c as f32; n],
            _ => {
                let key = blake3::hash(format!("{}/{name}", self.0).as_bytes());
                let mut seed = [0u8; 8];
                seed.copy_from_slice(&key.as_bytes()[..8]);
                let mut rng = Rng::new(u64::from_le_bytes(seed));
                (0..n).map(|_| rng.uniform(0.1)).collect()
            }
        };
        Tensor::from_vec(v, s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("tiny model: no tensor {name} without a shape")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        false
    }
}

fn tiny_wordpiece() -> Result<Tokenizer> {
    use tokenizers::{
        models::wordpiece::WordPiece, normalizers::BertNormalizer,
        pre_tokenizers::bert::BertPreTokenizer, processors::bert::BertProcessing,
    };
    let mut words: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    words.extend(('a'..='z').map(|c| c.to_string()));
    words.extend(('a'..='z').map(|c| format!("##{c}")));
    words.extend([".", ",", "?", "!"].iter().map(|s| s.to_string()));
    let vocab: std::collections::HashMap<String, u32> = words
        .into_iter()
        .enumerate()
        .map(|(i, w)| (w, i as u32))
        .collect();
    let wp = WordPiece::builder()
        .vocab(
            vocab
                .into_iter()
                .collect::<tokenizers::models::bpe::Vocab>(),
        )
        .unk_token("[UNK]".into())
        .build()
        .map_err(Error::tokenizer)?;
    let mut tk = Tokenizer::new(wp);
    tk.with_normalizer(Some(BertNormalizer::new(true, true, Some(true), true)));
    tk.with_pre_tokenizer(Some(BertPreTokenizer));
    tk.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), 3),
        ("[CLS]".into(), 2),
    )));
    tk.with_padding(Some(PaddingParams::default()));
    Ok(tk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_normalised_and_independent_of_batch_padding() {
        let e = Embedder::tiny_random(5).unwrap();
        let alone = e.embed(&["hi"]).unwrap();
        let batch = e.embed(&["hi", "a much longer sentence, padded"]).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].len(), 32);
        for v in &batch {
            let n: f32 = v.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        // The mask keeps padding out of the short sentence's embedding.
        assert!(cosine(&alone[0], &batch[0]) > 0.99999);
        assert!(cosine(&batch[0], &batch[1]) < 0.9999);
        assert_eq!(e.embed(&["hi"]).unwrap(), alone);
    }

    #[test]
    fn ten_thousand_texts_in_bounded_batches_and_each_bit_identical_to_alone() {
        let e = Embedder::tiny_random(5).unwrap();
        assert_eq!(e.mode(), ExecMode::Quantized);
        let texts: Vec<String> = (0..10_000)
            .map(|i| format!("text number {i} of many"))
            .collect();
        let all = crate::runtime::with_threads(2, || e.embed(&texts))
            .unwrap()
            .unwrap();
        assert_eq!(all.len(), 10_000);
        for i in [0, 63, 64, 4_999, 9_999] {
            assert_eq!(all[i], e.embed(&texts[i..=i]).unwrap()[0], "text {i}");
        }
        // The f32 mode pads each batch: close, but its own model ID.
        let f = Embedder::tiny_random_mode(5, ExecMode::F32).unwrap();
        assert_ne!(f.model_id(), e.model_id());
        assert!(cosine(&f.embed(&texts[..1]).unwrap()[0], &all[0]) > 0.99);
    }

    #[test]
    fn empty_input_is_typed() {
        let e = Embedder::tiny_random(5).unwrap();
        let none: [&str; 0] = [];
        assert!(matches!(e.embed(&none), Err(Error::InvalidInput(_))));
        // A generation model is refused before any file is read.
        let store = ModelStore::new("/nonexistent");
        assert!(matches!(
            Embedder::load(&store, &crate::registry::SMOLLM2),
            Err(Error::InvalidInput(_))
        ));
    }
}
