//! The engines a worker runs jobs and sessions on: the ML engine (generation, embeddings, LoRA
//! fine-tuning) behind the market's [`JobRunner`] and the sessions' [`ChatEngine`] seams.
//!
//! Job inputs and outputs are JSONL blobs:
//! - `embed`: one text per line (`{"text": …}` or a plain line) → `{"embedding": [...]}` per
//!   line; one work unit per text.
//! - `generate`: one prompt per line (`{"prompt": …}`, `{"text": …}` or a plain line) → `{"prompt", "completion",
//!   "tokens", "logits_hash", "fingerprints"}` per line (activation-fingerprint hashes every 32
//!   tokens, what a re-executing auditor compares chunk by chunk); one unit per token (prompt + completion). Params: `max_tokens`,
//!   `temperature`; the sampling seed is the ledger's (`Job::seed`), never the worker's.
//! - `finetune`: a JSONL training set (`{"text"}` or `{"prompt","completion"}`) → the LoRA adapter
//!   (safetensors); one unit per optimizer step; the trace has a leaf per step (its loss) then the
//!   adapter and the training record without its wall time. Params: `rank`, `steps`, `lr`; the
//!   seed is the ledger's.
//! - `dedup` (data engine; the job's model is the dedup profile's ID): JSONL records → one
//!   `{"id", "cluster"}` line per record, as `mycel data dedup` writes; one unit per record.
//!   Params: `threshold`, `tier` (`d` or `l`), `text_field`, `id_field`.
//!
//! Every item's hash goes into the committed result root, so an auditor can re-execute and check
//! any single item.

use super::{
    JobOutput, JobRunner,
    sessions::{ChatEngine, Finish, Generated},
};
use crate::http::openai::{ChatRequest, Prompt as SessionPrompt, Usage};
use crate::{Error, Result};
use mycel_ledger::modules::market::{Job, JobKind};
use mycel_ml::{
    engine::{Engine, EngineConfig, LocalEngine},
    generate::{GenerateRequest, Prompt},
    lora::{Dataset, TrainConfig},
    registry::ModelStore,
    sampling::SamplingParams,
};
use mycel_primitives::Hash;
use mycel_store::blob_hash;
use parking_lot::Mutex;

fn ml(e: mycel_ml::Error) -> Error {
    Error::Invalid {
        what: "ML job".into(),
        why: e.to_string(),
    }
}

fn bad_input(why: impl Into<String>) -> Error {
    Error::Invalid {
        what: "job input".into(),
        why: why.into(),
    }
}

/// Most adapters one worker serves on its base at once (each is a copy of the base's layer
/// structs sharing its weights, plus the LoRA tensors).
pub const MAX_ADAPTERS: usize = 8;

/// Runs generation, embedding and fine-tuning jobs, and chat sessions, on local models.
pub struct MlRunner {
    engine: Mutex<LocalEngine>,
    generator: (String, Hash),
    embedder: (String, Hash),
    /// Adapters served on the generator: engine name and model ID.
    adapters: parking_lot::RwLock<Vec<(String, Hash)>>,
}

impl MlRunner {
    /// Loads the generation model `generation` and the embedding model `emb` (short names, e.g.
    /// `smollm2` and `minilm`, or `tiny-llama` / `tiny-bert` for download-free smoke runs).
    pub fn load(
        store: ModelStore,
        threads: usize,
        generation: &str,
        emb: &str,
    ) -> Result<MlRunner> {
        // Loaded in the mode posters resolve IDs for, so the offered IDs are theirs.
        let mode = crate::models::SERVED_MODE;
        let mut engine = LocalEngine::new(store, EngineConfig { threads, mode });
        let gen_id = Hash(engine.generator(generation, mode).map_err(ml)?.model_id().0);
        let emb_id = Hash(engine.embedder(emb).map_err(ml)?.model_id().0);
        Ok(MlRunner {
            engine: Mutex::new(engine),
            generator: (generation.to_string(), gen_id),
            embedder: (emb.to_string(), emb_id),
            adapters: parking_lot::RwLock::new(Vec::new()),
        })
    }

    /// The engine's name of generation model `id` (the base or a served adapter).
    fn generator_name(&self, id: &Hash) -> Option<String> {
        if *id == self.generator.1 {
            return Some(self.generator.0.clone());
        }
        self.adapters
            .read()
            .iter()
            .find(|(_, a)| a == id)
            .map(|(n, _)| n.clone())
    }

    /// The generation model's ID.
    pub fn generator_id(&self) -> Hash {
        self.generator.1
    }

    /// The embedding model's ID.
    pub fn embedder_id(&self) -> Hash {
        self.embedder.1
    }
}

/// Lines of a JSONL or text blob, taking the first of `fields` present in JSON objects.
fn lines(input: &[u8], fields: &[&str]) -> Result<Vec<String>> {
    let text = std::str::from_utf8(input).map_err(|e| bad_input(format!("not UTF-8: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| bad_input(format!("line {}: {e}", i + 1)))?;
            let s = fields
                .iter()
                .find_map(|f| v[*f].as_str())
                .ok_or_else(|| bad_input(format!("line {}: no string field {fields:?}", i + 1)))?;
            out.push(s.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    if out.is_empty() {
        return Err(bad_input("no items"));
    }
    Ok(out)
}

fn params(job: &Job) -> Result<serde_json::Value> {
    if job.params.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(&job.params).map_err(|e| bad_input(format!("params: {e}")))
}

/// Runs a `dedup` job with the data engine through a private temporary folder.
fn dedup(job: &Job, input: &[u8], p: &serde_json::Value) -> Result<JobOutput> {
    use mycel_data::{dedup::Tier, jsonl::JsonlOptions, profile::Profile};
    let profile = Profile::text_v1();
    if job.model != profile.id() {
        return Err(bad_input(format!(
            "model {} is not a dedup profile served here (mycel-text/v1 is {})",
            job.model,
            profile.id()
        )));
    }
    let tier: Tier = p["tier"]
        .as_str()
        .unwrap_or("d")
        .parse()
        .map_err(|e: mycel_data::Error| bad_input(e.to_string()))?;
    let threshold = p["threshold"].as_f64().unwrap_or(match tier {
        Tier::D => f64::from(profile.tier_d_threshold_milli) / 1000.0,
        Tier::L => f64::from(profile.tier_l_threshold_milli) / 1000.0,
    });
    let field = |k: &str, default: &str| p[k].as_str().unwrap_or(default).to_string();
    let opts = JsonlOptions {
        text_field: field("text_field", "text"),
        id_field: field("id_field", "id"),
        ..Default::default()
    };
    let dir = tempfile::tempdir().map_err(crate::error::io(&std::env::temp_dir()))?;
    let (src, dst) = (
        dir.path().join("input.jsonl"),
        dir.path().join("clusters.jsonl"),
    );
    std::fs::write(&src, input).map_err(crate::error::io(&src))?;
    let summary =
        mycel_data::jsonl::dedup_jsonl(&src, &dst, &opts, &profile, tier, threshold, &mut |_| {})
            .map_err(|e| bad_input(e.to_string()))?;
    let bytes = std::fs::read(&dst).map_err(crate::error::io(&dst))?;
    let items = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(blob_hash)
        .collect();
    Ok(JobOutput {
        bytes,
        units: summary.records,
        items,
        trace: Vec::new(),
    })
}

impl JobRunner for MlRunner {
    fn kinds(&self) -> Vec<JobKind> {
        vec![
            JobKind::Generate,
            JobKind::Embed,
            JobKind::Finetune,
            JobKind::Dedup,
        ]
    }

    fn models(&self) -> Vec<Hash> {
        let mut m = ChatEngine::models(self);
        m.extend([
            self.embedder.1,
            mycel_data::profile::Profile::text_v1().id(),
        ]);
        m
    }

    fn adopt(&self, id: &Hash, base: &Hash, file: &[u8]) -> Result<bool> {
        if *base != self.generator.1 || self.generator_name(id).is_some() {
            return Ok(false);
        }
        if self.adapters.read().len() >= MAX_ADAPTERS {
            return Ok(false);
        }
        let adapter = mycel_ml::lora::Adapter::from_bytes(file).map_err(ml)?;
        let name = format!("{}+{}", self.generator.0, id.to_hex());
        let got = self
            .engine
            .lock()
            .add_adapter(&self.generator.0, &name, &adapter)
            .map_err(ml)?;
        if got.0 != id.0 {
            return Err(bad_input(format!(
                "adapter file gives model {}, not the registered {id}",
                Hash(got.0)
            )));
        }
        self.adapters.write().push((name, *id));
        Ok(true)
    }

    fn run(&self, job: &Job, input: &[u8]) -> Result<JobOutput> {
        let p = params(job)?;
        if job.kind == JobKind::Dedup {
            return dedup(job, input, &p);
        }
        let mut engine = self.engine.lock();
        match job.kind {
            JobKind::Embed => {
                if job.model != self.embedder.1 {
                    return Err(bad_input(format!(
                        "model {} is not served for embeddings",
                        job.model
                    )));
                }
                let texts = lines(input, &["text"])?;
                let mut bytes = Vec::new();
                let mut items = Vec::new();
                for batch in texts.chunks(32) {
                    for v in engine.embed(&self.embedder.0, batch).map_err(ml)? {
                        let mut line = serde_json::to_vec(&serde_json::json!({ "embedding": v }))
                            .expect("serializes");
                        items.push(blob_hash(&line));
                        line.push(b'\n');
                        bytes.extend(line);
                    }
                }
                Ok(JobOutput {
                    bytes,
                    units: texts.len() as u64,
                    items,
                    trace: Vec::new(),
                })
            }
            JobKind::Generate => {
                let Some(name) = self.generator_name(&job.model) else {
                    return Err(bad_input(format!(
                        "model {} is not served for generation",
                        job.model
                    )));
                };
                let prompts = lines(input, &["prompt", "text"])?;
                let sampling = SamplingParams {
                    max_tokens: p["max_tokens"].as_u64().unwrap_or(64) as usize,
                    // The ledger's seed, drawn when the job was posted: the worker cannot
                    // choose the sampling, so an auditor's replay must match.
                    seed: job.seed_u64(),
                    temperature: p["temperature"].as_f64().unwrap_or(0.0),
                    ..Default::default()
                };
                let (mut bytes, mut items, mut units) = (Vec::new(), Vec::new(), 0u64);
                let mut trace = Vec::new();
                for prompt in prompts {
                    let req = GenerateRequest {
                        prompt: Prompt::user(prompt.clone()),
                        params: sampling.clone(),
                    };
                    let g = engine.generate(&name, &req, &mut |_| {}).map_err(ml)?;
                    let tokens = (g.usage.prompt_tokens + g.usage.completion_tokens) as u64;
                    units += tokens;
                    let fingerprints: Vec<String> = g
                        .fingerprints
                        .iter()
                        .map(|f| hex::encode(f.hash()))
                        .collect();
                    let mut line = serde_json::to_vec(&serde_json::json!({"prompt": prompt, "completion": g.text, "tokens": tokens, "logits_hash": g.logits_hash, "fingerprints": fingerprints})).expect("serializes");
                    items.push(blob_hash(&line));
                    trace.extend(g.trace.iter().copied());
                    trace.push(mycel_primitives::merkle::leaf_hash(&blob_hash(&line).0));
                    line.push(b'\n');
                    bytes.extend(line);
                }
                Ok(JobOutput {
                    bytes,
                    units,
                    items,
                    trace,
                })
            }
            JobKind::Finetune => {
                if job.model != self.generator.1 {
                    return Err(bad_input(format!(
                        "model {} cannot be fine-tuned here",
                        job.model
                    )));
                }
                let data = Dataset::from_jsonl(input).map_err(ml)?;
                let mut cfg = TrainConfig::default();
                if let Some(v) = p["rank"].as_u64() {
                    cfg.rank = v as usize;
                }
                if let Some(v) = p["steps"].as_u64() {
                    cfg.steps = v as usize;
                }
                cfg.seed = job.seed_u64();
                if let Some(v) = p["lr"].as_f64() {
                    cfg.lr = v;
                }
                let (adapter, mut record) = engine
                    .train_adapter(&self.generator.0, &data, &cfg)
                    .map_err(ml)?;
                let bytes = adapter.to_bytes().map_err(ml)?;
                // Wall time is not reproducible: what a replay must match leaves it out.
                record.ms_per_step = 0.0;
                let record_bytes = serde_json::to_vec(&record).expect("serializes");
                let items = vec![blob_hash(&bytes), blob_hash(&record_bytes)];
                // The trace: one leaf per optimizer step (its loss, bit for bit), then the items.
                let mut trace: Vec<Hash> = record
                    .losses
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut leaf = (i as u64).to_be_bytes().to_vec();
                        leaf.extend_from_slice(&l.to_bits().to_be_bytes());
                        mycel_primitives::merkle::leaf_hash(&leaf)
                    })
                    .collect();
                trace.extend(
                    items
                        .iter()
                        .map(|h| mycel_primitives::merkle::leaf_hash(&h.0)),
                );
                Ok(JobOutput {
                    items,
                    units: cfg.steps as u64,
                    bytes,
                    trace,
                })
            }
            JobKind::Dedup => dedup(job, input, &p),
        }
    }
}

impl MlRunner {
    fn served(&self, model: &Hash) -> Result<String> {
        self.generator_name(model)
            .ok_or_else(|| bad_input(format!("model {model} is not served here")))
    }
}

impl ChatEngine for MlRunner {
    /// The generation models: the base, then the adapters served on it.
    fn models(&self) -> Vec<Hash> {
        let mut m = vec![self.generator.1];
        m.extend(self.adapters.read().iter().map(|(_, id)| *id));
        m
    }

    fn embed_model(&self) -> Option<Hash> {
        Some(self.embedder.1)
    }

    fn prompt_tokens(&self, model: &Hash, prompt: &SessionPrompt) -> Result<(u64, u64)> {
        let name = self.served(model)?;
        let (n, context) = self
            .engine
            .lock()
            .prompt_tokens(&name, &ml_prompt(prompt))
            .map_err(ml)?;
        Ok((n as u64, context as u64))
    }

    fn generate(
        &self,
        model: &Hash,
        req: &ChatRequest,
        max_tokens: u64,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Generated> {
        let name = self.served(model)?;
        let greq = GenerateRequest {
            prompt: ml_prompt(&req.prompt),
            params: SamplingParams {
                max_tokens: max_tokens as usize,
                seed: req.seed,
                temperature: req.temperature.unwrap_or(0.0),
                top_p: req.top_p.unwrap_or(1.0),
                stop: req.stop.clone(),
                ..Default::default()
            },
        };
        let (usage, finish) = self
            .engine
            .lock()
            .generate_while(&name, &greq, on_text)
            .map_err(ml)?;
        Ok(Generated {
            usage: Usage {
                prompt_tokens: usage.prompt_tokens as u64,
                completion_tokens: usage.completion_tokens as u64,
            },
            finish: finish.map(|f| match f {
                mycel_ml::generate::FinishReason::Stop => Finish::Stop,
                mycel_ml::generate::FinishReason::Length => Finish::Length,
            }),
        })
    }

    fn embed_tokens(&self, input: &[String]) -> Result<u64> {
        let mut engine = self.engine.lock();
        let e = engine.embedder(&self.embedder.0).map_err(ml)?;
        e.count_tokens(input).map_err(ml)
    }

    fn embed(&self, input: &[String]) -> Result<(Vec<Vec<f32>>, u64)> {
        self.engine
            .lock()
            .embed_counted(&self.embedder.0, input)
            .map_err(ml)
    }
}

/// A session prompt as the ML engine takes it.
fn ml_prompt(p: &SessionPrompt) -> Prompt {
    match p {
        SessionPrompt::Chat(m) => Prompt::Chat(
            m.iter()
                .map(|m| mycel_ml::text::ChatMessage {
                    role: m.role.clone(),
                    content: m.content.clone(),
                })
                .collect(),
        ),
        SessionPrompt::Text(t) => Prompt::Raw(t.clone()),
    }
}
