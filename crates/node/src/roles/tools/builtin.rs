//! mycel's own capabilities as tools, registered on the devnet out of the box, so an agent can
//! use the network through MCP alone: embed text and generate text (on the worker's engines),
//! deduplicate records (the data engine's near-duplicate kernel), look up a dataset and a
//! model's lineage (the chain).

use super::{RunFuture, ToolOutput, ToolRunner};
use crate::{
    client::Client,
    http::openai::{ChatMessage, ChatRequest, Prompt},
    roles::worker::sessions::ChatEngine,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// Most texts one embed call takes.
pub const MAX_EMBED_TEXTS: usize = 64;
/// Most records one dedup call takes.
pub const MAX_DEDUP_RECORDS: usize = 10_000;
/// Most tokens one generate call produces.
pub const MAX_GENERATE_TOKENS: u64 = 256;

fn tool(name: &str, title: &str, description: &str, input: Value, output: Value) -> Value {
    json!({
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": input,
        "outputSchema": output,
        "annotations": {"readOnlyHint": true, "openWorldHint": false},
    })
}

/// The manifest of `mycel_embed`.
pub fn embed_manifest() -> Value {
    tool(
        "mycel_embed",
        "Embed text",
        "Embeds each text with the network's sentence-embedding model (all-MiniLM-L6-v2, 384 \
         dimensions, L2-normalised). Returns one vector per text, in order.",
        json!({
            "type": "object",
            "properties": {
                "texts": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 8192},
                    "minItems": 1,
                    "maxItems": MAX_EMBED_TEXTS,
                },
            },
            "required": ["texts"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "model": {"type": "string"},
                "dimensions": {"type": "integer"},
                "embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            },
            "required": ["model", "dimensions", "embeddings"],
        }),
    )
}

/// The manifest of `mycel_generate`.
pub fn generate_manifest() -> Value {
    tool(
        "mycel_generate",
        "Generate text",
        "Answers a prompt with the network's small instruction-tuned language model \
         (SmolLM2-135M-Instruct), greedy decoding.",
        json!({
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "minLength": 1, "maxLength": 4096},
                "max_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_GENERATE_TOKENS},
            },
            "required": ["prompt"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "model": {"type": "string"},
                "text": {"type": "string"},
                "completion_tokens": {"type": "integer"},
            },
            "required": ["model", "text", "completion_tokens"],
        }),
    )
}

/// The manifest of `mycel_dedup`.
pub fn dedup_manifest() -> Value {
    tool(
        "mycel_dedup",
        "Deduplicate records",
        "Finds exact and near-duplicate texts among the records (normalised word 5-gram \
         MinHash-LSH, each candidate verified against the threshold). Returns the indexes kept \
         and, for each record, its cluster (the index of the first record of the cluster).",
        json!({
            "type": "object",
            "properties": {
                "records": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": MAX_DEDUP_RECORDS,
                },
                "threshold": {"type": "number", "minimum": 0.5, "maximum": 1},
            },
            "required": ["records"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {
                "kept": {"type": "array", "items": {"type": "integer"}},
                "clusters": {"type": "array", "items": {"type": "integer"}},
                "exact": {"type": "integer"},
                "near": {"type": "integer"},
            },
            "required": ["kept", "clusters", "exact", "near"],
        }),
    )
}

/// The manifest of `mycel_dataset`.
pub fn dataset_manifest() -> Value {
    tool(
        "mycel_dataset",
        "Look up a dataset",
        "Returns a registered dataset's on-chain record: contributor, record and byte counts, \
         novel bytes credited, licence, consent and dedup profile.",
        json!({
            "type": "object",
            "properties": {"root": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "required": ["root"],
            "additionalProperties": false,
        }),
        json!({"type": "object"}),
    )
}

/// The manifest of `mycel_lineage`.
pub fn lineage_manifest() -> Value {
    tool(
        "mycel_lineage",
        "Model lineage",
        "Returns a registered model's lineage as the network recorded it: its ancestors and \
         descendants with their kind, licence, datasets and training jobs, as a text tree.",
        json!({
            "type": "object",
            "properties": {"model": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "required": ["model"],
            "additionalProperties": false,
        }),
        json!({
            "type": "object",
            "properties": {"model": {"type": "string"}, "tree": {"type": "string"}},
            "required": ["model", "tree"],
        }),
    )
}

fn structured(v: Value) -> ToolOutput {
    ToolOutput {
        text: serde_json::to_string(&v).expect("a JSON value serializes"),
        structured: Some(v),
    }
}

/// Runs `f` on the blocking pool (engines and kernels are CPU work).
fn blocking(f: impl FnOnce() -> Result<ToolOutput, String> + Send + 'static) -> RunFuture {
    Box::pin(async move {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| format!("the tool panicked: {e}"))?
    })
}

struct Embed<E>(Arc<E>);

impl<E: ChatEngine> ToolRunner for Embed<E> {
    fn run(&self, arguments: Value) -> RunFuture {
        let engine = self.0.clone();
        blocking(move || {
            let texts: Vec<String> = serde_json::from_value(arguments["texts"].clone())
                .map_err(|e| format!("texts: {e}"))?;
            let model = engine.embed_model().ok_or("this worker does not embed")?;
            let (vectors, _) = engine.embed(&texts).map_err(|e| e.to_string())?;
            Ok(structured(json!({
                "model": model.to_hex(),
                "dimensions": vectors.first().map_or(0, Vec::len),
                "embeddings": vectors,
            })))
        })
    }
}

struct Generate<E>(Arc<E>);

impl<E: ChatEngine> ToolRunner for Generate<E> {
    fn run(&self, arguments: Value) -> RunFuture {
        let engine = self.0.clone();
        blocking(move || {
            let prompt = arguments["prompt"].as_str().unwrap_or_default().to_string();
            let max = arguments["max_tokens"].as_u64().unwrap_or(64);
            let model = *engine
                .models()
                .first()
                .ok_or("this worker does not generate")?;
            let req = ChatRequest {
                model: model.to_hex(),
                prompt: Prompt::Chat(vec![ChatMessage {
                    role: "user".into(),
                    content: prompt,
                }]),
                max_tokens: Some(max),
                temperature: None,
                top_p: None,
                seed: 0,
                stop: Vec::new(),
                stream: false,
                include_usage: false,
            };
            let mut text = String::new();
            let g = engine
                .generate(&model, &req, max, &mut |t| {
                    text.push_str(t);
                    true
                })
                .map_err(|e| e.to_string())?;
            Ok(structured(json!({
                "model": model.to_hex(),
                "text": text,
                "completion_tokens": g.usage.completion_tokens,
            })))
        })
    }
}

struct Dedup;

impl ToolRunner for Dedup {
    fn run(&self, arguments: Value) -> RunFuture {
        blocking(move || {
            let records: Vec<String> = serde_json::from_value(arguments["records"].clone())
                .map_err(|e| format!("records: {e}"))?;
            let threshold = arguments["threshold"].as_f64().unwrap_or(0.8);
            let mut d = mycel_data::dedup::Deduper::new(
                &mycel_data::profile::Profile::text_v1(),
                mycel_data::dedup::Tier::D,
                threshold,
            )
            .map_err(|e| e.to_string())?;
            let (mut kept, mut exact, mut near) = (Vec::new(), 0, 0);
            for (i, r) in records.iter().enumerate() {
                match d.push(r) {
                    mycel_data::dedup::Outcome::Unique => kept.push(i),
                    mycel_data::dedup::Outcome::Exact(_) => exact += 1,
                    mycel_data::dedup::Outcome::Near(_) => near += 1,
                }
            }
            Ok(structured(json!({
                "kept": kept,
                "clusters": d.clusters(),
                "exact": exact,
                "near": near,
            })))
        })
    }
}

struct Lookup {
    chain: Client,
    lineage: bool,
}

impl ToolRunner for Lookup {
    fn run(&self, arguments: Value) -> RunFuture {
        let chain = self.chain.clone();
        let lineage = self.lineage;
        Box::pin(async move {
            if lineage {
                let id = arguments["model"].as_str().unwrap_or_default().to_string();
                let tree: String = chain
                    .get_text(&format!("/api/v1/models/{id}/lineage?format=text"))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(structured(json!({"model": id, "tree": tree})))
            } else {
                let root = arguments["root"].as_str().unwrap_or_default();
                let v: Value = chain
                    .get(&format!("/api/v1/datasets/{root}"))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(structured(v))
            }
        })
    }
}

/// The built-in tools with their runners: embed and generate on `engine`, dedup in process,
/// dataset and lineage lookups through `chain`.
pub fn tools<E: ChatEngine>(engine: Arc<E>, chain: Client) -> Vec<(Value, Arc<dyn ToolRunner>)> {
    vec![
        (
            embed_manifest(),
            Arc::new(Embed(engine.clone())) as Arc<dyn ToolRunner>,
        ),
        (generate_manifest(), Arc::new(Generate(engine))),
        (dedup_manifest(), Arc::new(Dedup)),
        (
            dataset_manifest(),
            Arc::new(Lookup {
                chain: chain.clone(),
                lineage: false,
            }),
        ),
        (
            lineage_manifest(),
            Arc::new(Lookup {
                chain,
                lineage: true,
            }),
        ),
    ]
}
