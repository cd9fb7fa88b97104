//! The narrow interface the worker calls, and its local implementation over the model store.

use crate::{
    Error, Result,
    embed::Embedder,
    generate::{FinishReason, GenerateRequest, Generation, Prompt, TextGenerator, Usage},
    lora::{Adapter, Dataset, TrainConfig, TrainingRecord, apply_adapter, train},
    registry::{ExecMode, MINILM, ModelId, ModelKind, ModelStore, SMOLLM2, spec},
    runtime::with_threads,
};
use std::collections::HashMap;

/// Name of the tiny random-weight generation model (no download; for tests and smoke runs).
pub const TINY_LLAMA: &str = "tiny-llama";
/// Name of the tiny random-weight embedding model.
pub const TINY_BERT: &str = "tiny-bert";

/// An ML engine: generation, embeddings and adapter training by model name.
///
/// Contract: results depend only on the model, its execution mode and the request (seed included), never on
/// the thread count or on what ran before; bad input returns a typed [`Error`] and never panics.
pub trait Engine {
    /// Generates text, passing each final piece of text to `on_text` as it is produced.
    fn generate(
        &mut self,
        model: &str,
        req: &GenerateRequest,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Generation>;

    /// Embeds texts into L2-normalised vectors.
    fn embed(&mut self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>>;

    /// Trains a LoRA adapter on a generation model.
    fn train_adapter(
        &mut self,
        base: &str,
        data: &Dataset,
        cfg: &TrainConfig,
    ) -> Result<(Adapter, TrainingRecord)>;
}

/// Settings of a [`LocalEngine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Threads per job.
    pub threads: usize,
    /// Execution mode of generation models.
    pub mode: ExecMode,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            mode: ExecMode::Quantized,
        }
    }
}

/// Runs the pinned models from a local [`ModelStore`], loading each on first use.
#[derive(Debug)]
pub struct LocalEngine {
    store: ModelStore,
    cfg: EngineConfig,
    generators: HashMap<(String, ExecMode), TextGenerator>,
    embedders: HashMap<String, Embedder>,
}

impl LocalEngine {
    /// An engine over a store.
    pub fn new(store: ModelStore, cfg: EngineConfig) -> Self {
        Self {
            store,
            cfg,
            generators: HashMap::new(),
            embedders: HashMap::new(),
        }
    }

    /// The loaded (or newly loaded) generation model.
    pub fn generator(&mut self, model: &str, mode: ExecMode) -> Result<&mut TextGenerator> {
        let key = (model.to_string(), mode);
        if !self.generators.contains_key(&key) {
            let g = if model == TINY_LLAMA {
                TextGenerator::tiny_random(0, mode)?
            } else {
                let s = spec(model)?;
                if s.kind != ModelKind::Generation {
                    return Err(Error::InvalidInput(format!(
                        "{model} is not a generation model (try {})",
                        SMOLLM2.name
                    )));
                }
                TextGenerator::load(&self.store, s, mode)?
            };
            self.generators.insert(key.clone(), g);
        }
        Ok(self.generators.get_mut(&key).expect("inserted above"))
    }

    /// Serves `adapter` on the generation model `base` (in the serving mode) under the name
    /// `name`: a copy of the base (its weight tensors shared, not duplicated) with the LoRA
    /// attached. Returns the adapter model's ID, which names it on chain. Fails if the adapter
    /// was trained on another base.
    pub fn add_adapter(&mut self, base: &str, name: &str, adapter: &Adapter) -> Result<ModelId> {
        let mode = self.cfg.mode;
        let mut g = self.generator(base, mode)?.clone();
        apply_adapter(&mut g, adapter)?;
        let id = g.model_id();
        self.generators.insert((name.to_string(), mode), g);
        Ok(id)
    }

    /// The loaded (or newly loaded) embedding model.
    pub fn embedder(&mut self, model: &str) -> Result<&Embedder> {
        if !self.embedders.contains_key(model) {
            let e = if model == TINY_BERT {
                Embedder::tiny_random(0)?
            } else {
                let s = spec(model)?;
                if s.kind != ModelKind::Embedding {
                    return Err(Error::InvalidInput(format!(
                        "{model} is not an embedding model (try {})",
                        MINILM.name
                    )));
                }
                Embedder::load(&self.store, s)?
            };
            self.embedders.insert(model.to_string(), e);
        }
        Ok(&self.embedders[model])
    }
}

impl LocalEngine {
    /// The prompt's length in tokens and the model's context window.
    pub fn prompt_tokens(&mut self, model: &str, prompt: &Prompt) -> Result<(usize, usize)> {
        let g = &*self.generator(model, self.cfg.mode)?;
        Ok((g.encode_prompt(prompt)?.len(), g.context()))
    }

    /// Generates while `on_text` returns `true` (a served session stops when its client goes
    /// away or its time is up); returns the tokens used and why it ended (`None`: stopped).
    pub fn generate_while(
        &mut self,
        model: &str,
        req: &GenerateRequest,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<(Usage, Option<FinishReason>)> {
        let (threads, mode) = (self.cfg.threads, self.cfg.mode);
        let g = &*self.generator(model, mode)?;
        with_threads(threads, || {
            let mut stream = g.stream(req)?;
            while let Some(delta) = stream.next() {
                let delta = delta?;
                if !delta.text.is_empty() && !on_text(&delta.text) {
                    return Ok((stream.usage(), None));
                }
            }
            Ok((stream.usage(), stream.finish_reason()))
        })?
    }

    /// The embeddings of `texts` and their total token count.
    pub fn embed_counted(&mut self, model: &str, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64)> {
        let threads = self.cfg.threads;
        let e = self.embedder(model)?;
        let tokens = e.count_tokens(texts)?;
        let vectors = with_threads(threads, || e.embed(texts))??;
        Ok((vectors, tokens))
    }
}

impl Engine for LocalEngine {
    fn generate(
        &mut self,
        model: &str,
        req: &GenerateRequest,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Generation> {
        let (threads, mode) = (self.cfg.threads, self.cfg.mode);
        let g = &*self.generator(model, mode)?;
        with_threads(threads, || g.generate(req, on_text))?
    }

    fn embed(&mut self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let threads = self.cfg.threads;
        let e = self.embedder(model)?;
        with_threads(threads, || e.embed(texts))?
    }

    fn train_adapter(
        &mut self,
        base: &str,
        data: &Dataset,
        cfg: &TrainConfig,
    ) -> Result<(Adapter, TrainingRecord)> {
        let threads = self.cfg.threads;
        // The adapter belongs to the model as this engine serves it (its ID in the serving mode),
        // though training runs in f32 (quantized matmuls have no backward pass): the chain
        // registers it as a child of that ID, and serving applies it there.
        let serving = self.generator(base, self.cfg.mode)?.model_id();
        let g = self.generator(base, ExecMode::F32)?;
        let (mut adapter, mut record) = with_threads(threads, || train(g, data, cfg))??;
        adapter.base_model_id = serving;
        record.base_model_id = serving.to_hex();
        record.adapter_hash = adapter.hash()?;
        Ok((adapter, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate::Prompt, sampling::SamplingParams};

    #[test]
    fn a_trained_adapter_is_served_under_the_id_the_chain_gives_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = LocalEngine::new(ModelStore::new(dir.path()), EngineConfig::default());
        let data = Dataset::from_jsonl(b"{\"text\": \"zq zq zq zq zq zq zq zq\"}").unwrap();
        let cfg = TrainConfig {
            steps: 6,
            lr: 5e-2,
            ..Default::default()
        };
        let (adapter, _) = e.train_adapter(TINY_LLAMA, &data, &cfg).unwrap();
        let base = e
            .generator(TINY_LLAMA, ExecMode::Quantized)
            .unwrap()
            .model_id();
        assert_eq!(
            adapter.base_model_id, base,
            "the served mode's ID is the base"
        );
        let id = e.add_adapter(TINY_LLAMA, "tiny+ft", &adapter).unwrap();
        let file = mycel_primitives::Hash(*blake3::hash(&adapter.to_bytes().unwrap()).as_bytes());
        let expected =
            mycel_primitives::hash::adapter_model_id(&mycel_primitives::Hash(base.0), &file);
        assert_eq!(id.0, expected.0);
        // The base is unchanged; the adapter generates from its own weights.
        let req = GenerateRequest {
            prompt: Prompt::user("zq"),
            params: SamplingParams::greedy(12),
        };
        let a = e.generate(TINY_LLAMA, &req, &mut |_| {}).unwrap();
        let b = e.generate("tiny+ft", &req, &mut |_| {}).unwrap();
        assert_eq!(
            e.generator(TINY_LLAMA, ExecMode::Quantized)
                .unwrap()
                .model_id(),
            base
        );
        assert_ne!(a.logits_hash, b.logits_hash);
        // An adapter of another base is refused.
        let mut other = adapter.clone();
        other.base_model_id = ModelId([9; 32]);
        assert!(e.add_adapter(TINY_LLAMA, "x", &other).is_err());
    }

    #[test]
    fn local_engine_serves_the_tiny_models() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = LocalEngine::new(ModelStore::new(dir.path()), EngineConfig::default());
        let req = GenerateRequest {
            prompt: Prompt::user("hi"),
            params: SamplingParams::greedy(5),
        };
        let mut text = String::new();
        let out = e
            .generate(TINY_LLAMA, &req, &mut |t| text.push_str(t))
            .unwrap();
        assert_eq!(out.text, text);
        assert_eq!(e.embed(TINY_BERT, &["a b".into()]).unwrap()[0].len(), 32);
        let data = Dataset::from_jsonl(b"{\"text\": \"abc abc abc\"}").unwrap();
        let cfg = TrainConfig {
            steps: 2,
            ..Default::default()
        };
        let (_, rec) = e.train_adapter(TINY_LLAMA, &data, &cfg).unwrap();
        assert_eq!(rec.losses.len(), 2);
        // Pinned models that are not on disk, and the wrong kind of model, give typed errors.
        assert!(matches!(
            e.embed("minilm", &["x".into()]),
            Err(Error::MissingFile { .. })
        ));
        assert!(matches!(
            e.generate("minilm", &req, &mut |_| {}),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            e.embed("nope", &["x".into()]),
            Err(Error::UnknownModel(_))
        ));
    }
}
