//! Model registry REST: versions, their lineage (as a graph or an ASCII tree) and lineage proofs.

use super::{
    ApiState,
    chain::prove_states,
    error::{ApiError, ApiResult},
};
use crate::services::models::{self, Lineage, LineageProof, ProvenEntry};
use axum::{
    Json,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use mycel_ledger::modules::model;
use mycel_primitives::{Address, Hash};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/models/{id}`: a version with its children and grantees.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ModelView {
    /// The version.
    pub version: model::Version,
    /// Versions derived from it, in ID order.
    pub children: Vec<Hash>,
    /// Accounts granted use of it (gated models), in address order.
    pub grantees: Vec<Address>,
}

/// `GET /api/v1/models/{id}/access/{address}`: whether an account may use a model now (every
/// gated version in its lineage grants it), as the ledger decides when a job or session opens.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AccessView {
    /// The model.
    pub model: Hash,
    /// The account.
    pub account: Address,
    /// True when allowed.
    pub allowed: bool,
    /// Why not: the ledger's error text (names the gated version).
    pub reason: Option<String>,
}

/// Filters of `GET /api/v1/models`.
#[derive(Deserialize, Debug, Default)]
pub struct ModelsQuery {
    /// Only this owner's versions.
    pub owner: Option<String>,
    /// Only versions with this display name (an index lookup).
    pub name: Option<String>,
    /// Most versions (default 20, at most 200).
    pub limit: Option<u64>,
}

/// `?format=text` asks for the ASCII tree.
#[derive(Deserialize, Debug, Default)]
pub struct LineageQuery {
    /// `graph` (JSON nodes and edges, the default) or `text`.
    pub format: Option<String>,
}

fn model_id(s: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(s).map_err(|e| ApiError::bad_request(format!("model id {s:?}: {e}")))
}

fn unknown(id: &Hash) -> ApiError {
    ApiError::not_found(format!("no model version {id}"))
}

pub(crate) async fn list_models(
    State(s): State<ApiState>,
    Query(q): Query<ModelsQuery>,
) -> ApiResult<Vec<model::Version>> {
    let limit = q.limit.unwrap_or(20).min(200) as usize;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let list = match &q.owner {
        Some(o) => {
            let owner: Address = o
                .parse()
                .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
            let mut out = Vec::new();
            for id in model::models_of(&state, &owner).map_err(ApiError::internal)? {
                if out.len() == limit {
                    break;
                }
                if let Some(v) = model::version(&state, &id).map_err(ApiError::internal)? {
                    out.push(v);
                }
            }
            out
        }
        None => match &q.name {
            Some(name) => {
                let mut out = Vec::new();
                for id in model::named(&state, name)
                    .map_err(ApiError::internal)?
                    .into_iter()
                    .take(limit)
                {
                    if let Some(v) = model::version(&state, &id).map_err(ApiError::internal)? {
                        out.push(v);
                    }
                }
                out
            }
            None => model::recent_models(&state, limit).map_err(ApiError::internal)?,
        },
    };
    Ok(Json(list))
}

pub(crate) async fn get_model(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<ModelView> {
    let id = model_id(&id)?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let version = model::version(&state, &id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(ModelView {
        version,
        children: model::children(&state, &id).map_err(ApiError::internal)?,
        grantees: model::grantees(&state, &id).map_err(ApiError::internal)?,
    }))
}

pub(crate) async fn get_access(
    State(s): State<ApiState>,
    Path((id, account)): Path<(String, String)>,
) -> ApiResult<AccessView> {
    let id = model_id(&id)?;
    let account: Address = account
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let verdict = model::may_use(&state, &id, &account).map_err(ApiError::internal)?;
    Ok(Json(AccessView {
        model: id,
        account,
        allowed: verdict.is_ok(),
        reason: verdict.err().map(|e| e.to_string()),
    }))
}

/// The lineage graph of a version, with each producing job's verification state.
pub(crate) fn lineage_of(s: &ApiState, id: &Hash) -> Result<Lineage, ApiError> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let describe = |j: &mycel_ledger::modules::market::Job| {
        let v = super::verify::verification_of(&state, j).unwrap_or_else(|e| e.to_string());
        format!("{:?}, {v}", j.status).to_lowercase()
    };
    models::lineage(&state, id, &describe)
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(id))
}

pub(crate) async fn get_lineage(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<LineageQuery>,
) -> Result<Response, ApiError> {
    let id = model_id(&id)?;
    let lineage = lineage_of(&s, &id)?;
    match q.format.as_deref() {
        None | Some("graph") | Some("json") => Ok(Json(lineage).into_response()),
        Some("text") => Ok(models::render_tree(&lineage).into_response()),
        Some(other) => Err(ApiError::bad_request(format!(
            "format {other:?}: expected graph or text"
        ))
        .with_param("format")),
    }
}

pub(crate) async fn get_proof(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<LineageProof> {
    let id = model_id(&id)?;
    let keys = {
        let state = s.chain.finalized_state().map_err(ApiError::internal)?;
        models::proof_keys(&state, &id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| unknown(&id))?
    };
    let p = prove_states(&s, &keys).await?;
    let mut entries = Vec::with_capacity(p.entries.len());
    for (key, value, proof) in p.entries {
        // The entries were read from one snapshot in which they all exist; one missing now means
        // the snapshot moved between the two reads (it cannot: they are the same snapshot).
        let value = value.ok_or_else(|| ApiError::internal(format!("state key {key} vanished")))?;
        entries.push(ProvenEntry { key, value, proof });
    }
    Ok(Json(LineageProof {
        model: id,
        height: p.height,
        state_root: p.state_root,
        entries,
        finality: p.finality,
    }))
}
