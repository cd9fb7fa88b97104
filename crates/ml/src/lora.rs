//! LoRA fine-tuning of the llama decoder: rank-r adapters on every linear layer, seeded initialisation,
//! AdamW, a JSONL data set, adapter files (safetensors) and a training record.
//!
//! Training runs on the f32 execution mode (quantized matmuls have no backward pass). On SmolLM2-135M this
//! is feasible on one CPU core for short sequences; tests use the tiny random model.

use crate::{
    Error, Result,
    generate::TextGenerator,
    registry::{ExecMode, ModelId},
    text::{ChatMessage, chat_template},
};
use candle_core::{DType, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::{collections::HashMap, path::Path, time::Instant};

/// Key of the adapter's metadata in the safetensors header.
const META_KEY: &str = "mycel.lora";

/// Hyper-parameters of a LoRA run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Adapter rank.
    pub rank: usize,
    /// LoRA alpha (the update is scaled by `alpha / rank`).
    pub alpha: f64,
    /// Optimizer steps (one example per step, in file order, cycling).
    pub steps: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Seed of the adapter initialisation.
    pub seed: u64,
    /// Examples are cut to this many tokens.
    pub max_seq: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            rank: 4,
            alpha: 8.0,
            steps: 20,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 0,
            max_seq: 64,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<()> {
        if self.rank == 0 || self.rank > 256 {
            return Err(Error::param(
                "rank",
                format!("{} is not in 1..=256", self.rank),
            ));
        }
        if self.steps == 0 {
            return Err(Error::param("steps", "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::param("lr", format!("{} is not > 0", self.lr)));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::param("alpha", format!("{} is not > 0", self.alpha)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::param("weight_decay", "must be >= 0"));
        }
        if self.max_seq < 2 {
            return Err(Error::param("max_seq", "must be at least 2"));
        }
        Ok(())
    }
}

/// A training data set: texts, one per JSONL line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// The examples as model input text.
    pub texts: Vec<String>,
    /// BLAKE3 of the file bytes (hex).
    pub hash: String,
}

impl Dataset {
    /// Parses JSONL: each non-blank line is `{"text": …}` or `{"prompt": …, "completion": …}` (rendered as a
    /// chat turn and its answer).
    pub fn from_jsonl(bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| Error::InvalidDataset {
            line: 0,
            reason: format!("not UTF-8: {e}"),
        })?;
        let mut texts = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| Error::InvalidDataset {
                line: i + 1,
                reason,
            };
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str());
            let t = match (field("text"), field("prompt"), field("completion")) {
                (Some(t), _, _) => t.to_string(),
                (None, Some(p), Some(c)) => {
                    format!("{}{c}<|im_end|>", chat_template(&[ChatMessage::user(p)]))
                }
                _ => {
                    return Err(bad(
                        "expected {\"text\": …} or {\"prompt\": …, \"completion\": …}".into(),
                    ));
                }
            };
            if t.trim().is_empty() {
                return Err(bad("empty text".into()));
            }
            texts.push(t);
        }
        if texts.is_empty() {
            return Err(Error::InvalidDataset {
                line: 0,
                reason: "no examples".into(),
            });
        }
        Ok(Self {
            texts,
            hash: blake3::hash(bytes).to_hex().to_string(),
        })
    }

    /// Reads and parses a JSONL file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_jsonl(&std::fs::read(path).map_err(|e| Error::io(path, e))?)
    }
}

/// Trained LoRA tensors and the base model they belong to.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// The base model's ID.
    pub base_model_id: ModelId,
    /// Rank.
    pub rank: usize,
    /// Alpha (scale = alpha / rank).
    pub alpha: f64,
    /// Tensors by name (`blk.{i}.{layer}.lora_{a,b}`).
    pub tensors: HashMap<String, Tensor>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AdapterMeta {
    base_model_id: String,
    rank: usize,
    alpha: f64,
}

impl Adapter {
    /// The adapter file: safetensors with the metadata under one header key, so its bytes are canonical.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let meta = serde_json::to_string(&AdapterMeta {
            base_model_id: self.base_model_id.to_hex(),
            rank: self.rank,
            alpha: self.alpha,
        })
        .map_err(|e| Error::InvalidAdapter(e.to_string()))?;
        let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.tensors {
            let v: Vec<f32> = t.flatten_all()?.to_vec1()?;
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            data.push((name.clone(), t.dims().to_vec(), bytes));
        }
        data.sort_by(|a, b| a.0.cmp(&b.0));
        let views = data
            .iter()
            .map(|(n, s, b)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidAdapter(e.to_string()))?;
        safetensors::serialize(views, Some(HashMap::from([(META_KEY.to_string(), meta)])))
            .map_err(|e| Error::InvalidAdapter(e.to_string()))
    }

    /// Parses an adapter file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| Error::InvalidAdapter(e.to_string());
        let (_, md) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(&e))?;
        let meta = md
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| bad(&"no mycel.lora metadata"))?;
        let meta: AdapterMeta = serde_json::from_str(meta).map_err(|e| bad(&e))?;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(&e))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(&format!(
                    "{name}: dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            let t = Tensor::from_raw_buffer(
                view.data(),
                DType::F32,
                view.shape(),
                &candle_core::Device::Cpu,
            )?;
            tensors.insert(name, t);
        }
        Ok(Self {
            base_model_id: ModelId::from_hex(&meta.base_model_id)?,
            rank: meta.rank,
            alpha: meta.alpha,
            tensors,
        })
    }

    /// BLAKE3 of the adapter file bytes (hex).
    pub fn hash(&self) -> Result<String> {
        Ok(blake3::hash(&self.to_bytes()?).to_hex().to_string())
    }

    /// Writes the adapter file.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()?).map_err(|e| Error::io(path, e))
    }

    /// Reads an adapter file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&std::fs::read(path).map_err(|e| Error::io(path, e))?)
    }
}

/// What a training run did: enough to re-run it and check the result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingRecord {
    /// Base model ID (hex).
    pub base_model_id: String,
    /// Hyper-parameters, seed included.
    pub config: TrainConfig,
    /// BLAKE3 of the data set file (hex).
    pub dataset_hash: String,
    /// Examples in the data set.
    pub examples: usize,
    /// Mean token cross-entropy of each step, before its update.
    pub losses: Vec<f32>,
    /// BLAKE3 of the adapter file (hex).
    pub adapter_hash: String,
    /// Wall time per step in milliseconds (informational; not reproducible).
    pub ms_per_step: f64,
}

/// Trains a LoRA adapter on the generator's model, which must be in f32 mode. The model is left without
/// adapters.
pub fn train(
    generator: &mut TextGenerator,
    data: &Dataset,
    cfg: &TrainConfig,
) -> Result<(Adapter, TrainingRecord)> {
    cfg.validate()?;
    if generator.model().mode() != ExecMode::F32 {
        return Err(Error::param(
            "mode",
            "LoRA training needs the f32 execution mode (quantized matmuls have no backward)",
        ));
    }
    let mut examples = Vec::with_capacity(data.texts.len());
    for (i, t) in data.texts.iter().enumerate() {
        let mut ids = generator.tokenizer().encode(t)?;
        ids.truncate(cfg.max_seq + 1);
        if ids.len() < 2 {
            return Err(Error::InvalidDataset {
                line: i + 1,
                reason: "example has fewer than 2 tokens".into(),
            });
        }
        examples.push(ids);
    }
    let base_model_id = generator.model_id();
    let vars = generator
        .model_mut()
        .attach_trainable_lora(cfg.rank, cfg.alpha, cfg.seed)?;
    let result = run_steps(generator, &examples, &vars, cfg);
    generator.model_mut().detach_lora();
    let (losses, ms_per_step) = result?;
    let tensors = vars
        .iter()
        .map(|(n, v)| Ok((n.clone(), v.as_tensor().detach().copy()?)))
        .collect::<Result<HashMap<_, _>>>()?;
    let adapter = Adapter {
        base_model_id,
        rank: cfg.rank,
        alpha: cfg.alpha,
        tensors,
    };
    let record = TrainingRecord {
        base_model_id: base_model_id.to_hex(),
        config: cfg.clone(),
        dataset_hash: data.hash.clone(),
        examples: examples.len(),
        losses,
        adapter_hash: adapter.hash()?,
        ms_per_step,
    };
    Ok((adapter, record))
}

fn run_steps(
    generator: &TextGenerator,
    examples: &[Vec<u32>],
    vars: &[(String, candle_core::Var)],
    cfg: &TrainConfig,
) -> Result<(Vec<f32>, f64)> {
    let params = ParamsAdamW {
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
        ..Default::default()
    };
    let mut opt = AdamW::new(vars.iter().map(|(_, v)| v.clone()).collect(), params)?;
    let dev = generator.model().device().clone();
    let mut losses = Vec::with_capacity(cfg.steps);
    let start = Instant::now();
    for step in 0..cfg.steps {
        let ids = &examples[step % examples.len()];
        let n = ids.len() - 1;
        let input = Tensor::new(&ids[..n], &dev)?.unsqueeze(0)?;
        let target = Tensor::new(&ids[1..], &dev)?;
        let logits = generator.model().forward_train(&input)?.squeeze(0)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &target)?;
        losses.push(loss.to_scalar::<f32>()?);
        opt.backward_step(&loss)?;
        tracing::debug!(target: "mycel::ml.lora.step", step, loss = losses[step], "step");
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / cfg.steps as f64;
    Ok((losses, ms))
}

/// Attaches an adapter to a generator for inference. Fails if it was trained on another base model. The
/// generator's model ID becomes [`mycel_primitives::hash::adapter_model_id`] of the base ID and the
/// adapter file's address: the ID the ledger gives the adapter when its fine-tune job settles.
pub fn apply_adapter(generator: &mut TextGenerator, adapter: &Adapter) -> Result<()> {
    let base = generator.model_id();
    if adapter.base_model_id != base {
        return Err(Error::AdapterBaseMismatch {
            adapter_base: adapter.base_model_id.to_hex(),
            base: base.to_hex(),
        });
    }
    let scale = adapter.alpha / adapter.rank as f64;
    generator.model_mut().attach_lora(&adapter.tensors, scale)?;
    let file = mycel_primitives::Hash(*blake3::hash(&adapter.to_bytes()?).as_bytes());
    let id = mycel_primitives::hash::adapter_model_id(&mycel_primitives::Hash(base.0), &file);
    generator.set_model_id(ModelId(id.0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        generate::{GenerateRequest, Prompt},
        sampling::SamplingParams,
    };

    const DATA: &str = "{\"text\": \"the cat sat on the mat. the cat sat on the mat.\"}\n\
        {\"prompt\": \"say hi\", \"completion\": \"hi hi hi\"}\n";

    fn cfg() -> TrainConfig {
        TrainConfig {
            rank: 4,
            alpha: 8.0,
            steps: 12,
            lr: 1e-2,
            weight_decay: 0.0,
            seed: 9,
            max_seq: 48,
        }
    }

    #[test]
    fn loss_decreases_and_adapter_hash_is_reproducible() {
        let data = Dataset::from_jsonl(DATA.as_bytes()).unwrap();
        let mut g = TextGenerator::tiny_random(1, ExecMode::F32).unwrap();
        let (adapter, rec) = train(&mut g, &data, &cfg()).unwrap();
        assert_eq!(rec.losses.len(), 12);
        let first = (rec.losses[0] + rec.losses[1]) / 2.0;
        let last = (rec.losses[10] + rec.losses[11]) / 2.0;
        assert!(last < first * 0.9, "{:?}", rec.losses);
        let mut g2 = TextGenerator::tiny_random(1, ExecMode::F32).unwrap();
        let (_, rec2) = train(&mut g2, &data, &cfg()).unwrap();
        assert_eq!(rec.adapter_hash, rec2.adapter_hash);
        assert_eq!(rec.losses, rec2.losses);
        // File round trip.
        let back = Adapter::from_bytes(&adapter.to_bytes().unwrap()).unwrap();
        assert_eq!(back.hash().unwrap(), rec.adapter_hash);
        // Inference with the adapter changes the model and its ID.
        let req = GenerateRequest {
            prompt: Prompt::Raw("the cat".into()),
            params: SamplingParams::greedy(8),
        };
        let before = g.generate(&req, |_| {}).unwrap();
        apply_adapter(&mut g, &back).unwrap();
        let after = g.generate(&req, |_| {}).unwrap();
        assert_ne!(before.logits_hash, after.logits_hash);
        assert_ne!(before.model_id, after.model_id);
    }

    #[test]
    fn bad_training_input_is_typed() {
        for bad in [
            "",
            "\n\n",
            "not json\n",
            "{\"foo\": 1}\n",
            "{\"text\": \"  \"}\n",
        ] {
            assert!(
                matches!(
                    Dataset::from_jsonl(bad.as_bytes()),
                    Err(Error::InvalidDataset { .. })
                ),
                "{bad:?}"
            );
        }
        let data = Dataset::from_jsonl(DATA.as_bytes()).unwrap();
        let mut q = TextGenerator::tiny_random(1, ExecMode::Quantized).unwrap();
        assert!(matches!(
            train(&mut q, &data, &cfg()),
            Err(Error::InvalidParam { name: "mode", .. })
        ));
        let mut g = TextGenerator::tiny_random(1, ExecMode::F32).unwrap();
        let zero = TrainConfig { rank: 0, ..cfg() };
        assert!(matches!(
            train(&mut g, &data, &zero),
            Err(Error::InvalidParam { name: "rank", .. })
        ));
        // An adapter for another base model is refused.
        let short = TrainConfig { steps: 1, ..cfg() };
        let (adapter, _) = train(&mut g, &data, &short).unwrap();
        let mut other = TextGenerator::tiny_random(2, ExecMode::F32).unwrap();
        assert!(matches!(
            apply_adapter(&mut other, &adapter),
            Err(Error::AdapterBaseMismatch { .. })
        ));
        assert!(matches!(
            Adapter::from_bytes(b"garbage"),
            Err(Error::InvalidAdapter(_))
        ));
    }
}
