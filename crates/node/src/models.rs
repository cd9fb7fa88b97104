//! The one mapping from a model name to its on-chain ID. A job poster resolves a name with
//! [`resolve`]; the worker offers the IDs of the models it loaded in [`SERVED_MODE`]. Both go
//! through the engine's own `model_id_of` over the same hash-checked files, and the mode is this
//! one constant, so the two cannot disagree (if they did, jobs would silently become
//! unassignable: no offer would match the posted ID).

use crate::{Error, Result};
use mycel_ml::{
    embed::Embedder,
    generate::TextGenerator,
    registry::{ExecMode, FileRole, ModelKind, ModelStore, spec},
};
use mycel_primitives::Hash;

/// The execution mode workers serve generation models in, and so the mode a generation model's
/// ID is resolved for.
pub const SERVED_MODE: ExecMode = ExecMode::Quantized;

fn invalid(name: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: format!("model {name:?}"),
        why: why.to_string(),
    }
}

/// The on-chain ID named by `name`: 64 hex digits as given; a dedup profile (`mycel-text/v1`,
/// for `dedup` jobs); or a pinned model's short name (`smollm2`: its quantized-mode ID, the mode
/// workers serve; `minilm`), computed from the hash-checked files in `store` without loading
/// the model.
pub fn resolve(store: &ModelStore, name: &str) -> Result<Hash> {
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Hash::from_hex(name).map_err(|e| invalid(name, e));
    }
    if let Ok(profile) = mycel_data::profile::Profile::by_name(name) {
        return Ok(profile.id());
    }
    let m = spec(name).map_err(|_| {
        invalid(
            name,
            "neither a model ID (64 hex digits), a dedup profile nor a pinned model name",
        )
    })?;
    let file = |role| store.read_verified(m, role).map_err(|e| invalid(name, e));
    let id = match m.kind {
        ModelKind::Generation => TextGenerator::model_id_of(&file(FileRole::Weights)?, SERVED_MODE),
        ModelKind::Embedding => Embedder::model_id_of(
            &file(FileRole::Weights)?,
            &file(FileRole::Config)?,
            &file(FileRole::Tokenizer)?,
        ),
    };
    Ok(Hash(id.0))
}

/// What a set of model files is, and its on-chain ID, by the same functions the worker loads
/// them with.
#[derive(Debug, Clone)]
pub enum Identified {
    /// A GGUF decoder: its ID in [`SERVED_MODE`].
    Generator {
        /// Model ID.
        id: Hash,
        /// BLAKE3 of the file (its blob address).
        file: Hash,
    },
    /// A BERT encoder (weights, config, tokenizer).
    Embedder {
        /// Model ID.
        id: Hash,
        /// BLAKE3 of the weights file.
        file: Hash,
    },
    /// A mycel LoRA adapter file: its ID on its base.
    Adapter {
        /// Model ID ([`mycel_primitives::hash::adapter_model_id`]).
        id: Hash,
        /// The base model it was trained on.
        base: Hash,
        /// The adapter file's blob address.
        file: Hash,
        /// The file (small: uploaded so workers can fetch it).
        bytes: Vec<u8>,
    },
}

impl Identified {
    /// A mycel adapter file: its ID on the base it names.
    pub fn adapter(bytes: Vec<u8>) -> std::result::Result<Identified, mycel_ml::Error> {
        let adapter = mycel_ml::lora::Adapter::from_bytes(&bytes)?;
        let base = Hash(adapter.base_model_id.0);
        let file = mycel_store::blob_hash(&bytes);
        Ok(Identified::Adapter {
            id: mycel_primitives::hash::adapter_model_id(&base, &file),
            base,
            file,
            bytes,
        })
    }

    /// The model ID.
    pub fn id(&self) -> Hash {
        match self {
            Identified::Generator { id, .. }
            | Identified::Embedder { id, .. }
            | Identified::Adapter { id, .. } => *id,
        }
    }

    /// The blob address of the main file.
    pub fn file(&self) -> Hash {
        match self {
            Identified::Generator { file, .. }
            | Identified::Embedder { file, .. }
            | Identified::Adapter { file, .. } => *file,
        }
    }
}

/// The files of the pinned model `name` (`smollm2`, `minilm`) in `store`, hash-checked, for
/// [`identify`]; `None` when `name` is not a pinned model.
pub fn pinned_files(store: &ModelStore, name: &str) -> Result<Option<Vec<std::path::PathBuf>>> {
    let Ok(m) = spec(name) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for f in m.files {
        store
            .read_verified(m, f.role)
            .map_err(|e| invalid(name, e))?;
        out.push(store.path_of(m, f));
    }
    Ok(Some(out))
}

/// Identifies model files: one `.gguf`; one adapter `.safetensors` (with mycel's LoRA metadata);
/// or a BERT model's `model.safetensors`, `config.json` and `tokenizer.json` (in any order).
pub fn identify(paths: &[std::path::PathBuf]) -> Result<Identified> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(crate::error::io(p));
    let name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    let bad = |why: &str| invalid(&format!("{paths:?}"), why);
    match paths {
        [p] if name(p).ends_with(".gguf") => {
            let bytes = read(p)?;
            Ok(Identified::Generator {
                id: Hash(TextGenerator::model_id_of(&bytes, SERVED_MODE).0),
                file: mycel_store::blob_hash(&bytes),
            })
        }
        [p] if name(p).ends_with(".safetensors") => Identified::adapter(read(p)?).map_err(|e| {
            invalid(
                &p.display().to_string(),
                format!("{e} (a BERT model also needs its config.json and tokenizer.json)"),
            )
        }),
        [_, _, _] => {
            let find = |want: &str| {
                paths
                    .iter()
                    .find(|p| name(p).ends_with(want))
                    .ok_or_else(|| bad(&format!("no *{want} among the three files")))
            };
            let (w, c, t) = (
                read(find(".safetensors")?)?,
                read(find("config.json")?)?,
                read(find("tokenizer.json")?)?,
            );
            Ok(Identified::Embedder {
                id: Hash(Embedder::model_id_of(&w, &c, &t).0),
                file: mycel_store::blob_hash(&w),
            })
        }
        _ => Err(bad(
            "expected one .gguf, one adapter .safetensors, or a BERT model's .safetensors, config.json and tokenizer.json",
        )),
    }
}

/// The decoder configuration of the pinned generation model whose ID (in [`SERVED_MODE`]) is
/// `id`, read from the hash-checked files in `store`; what exporting an adapter on it needs.
pub fn pinned_decoder_config(
    store: &ModelStore,
    id: &Hash,
) -> Result<
    Option<(
        &'static mycel_ml::registry::ModelSpec,
        mycel_ml::llama::LlamaConfig,
    )>,
> {
    for m in mycel_ml::registry::MODELS
        .iter()
        .filter(|m| m.kind == ModelKind::Generation)
    {
        if !store.is_present(m) || resolve(store, m.name)? != *id {
            continue;
        }
        let g = TextGenerator::load(store, m, SERVED_MODE).map_err(|e| invalid(m.name, e))?;
        return Ok(Some((m, g.model().config().clone())));
    }
    Ok(None)
}
