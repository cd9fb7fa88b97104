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
