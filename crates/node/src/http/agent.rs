//! Tool and agent registry REST: MCP tools and A2A agents with their manifests, every version
//! of them, and an agent's Agent Card with its owner's signature attached.
//!
//! Lists answer entries ([`agent::Entry`]) in ID order, paged with `after` (the last ID seen);
//! a single entry is named by its 64-hex ID or by its name, and answers a [`ToolView`] (the
//! entry with its current manifest and the owner's signature over it).

use super::{
    ApiState,
    error::{ApiError, ApiResult},
};
use crate::services::agents::signed_card;
use axum::{
    Json,
    extract::{Path, Query, State},
};
use mycel_ledger::modules::agent::{self, Entry, Kind};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Entries a list answers unless asked otherwise.
pub const DEFAULT_LIMIT: u64 = 50;
/// Most entries a list answers.
pub const MAX_LIMIT: u64 = 500;

/// `GET /api/v1/tools/{id_or_name}` and `GET /api/v1/agents/{id_or_name}`: an entry with its
/// current manifest.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ToolView {
    /// The entry (`entry.manifest` is the current manifest's hash, `entry.version` its version).
    pub entry: Entry,
    /// The current manifest, parsed (the MCP tool definition or the Agent Card as registered).
    pub manifest: Value,
    /// Hex of the owner's signature over the manifest hash ([`agent::manifest_signing_bytes`]
    /// under [`agent::MANIFEST_NAMESPACE`]), checked by the chain at registration.
    pub signature: String,
}

/// One registered version of a manifest (`GET /api/v1/{tools,agents}/{id_or_name}/versions`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct VersionView {
    /// Its version number, from 1.
    pub version: u32,
    /// Hash of its canonical JSON.
    pub manifest_hash: Hash,
    /// Height it was registered at.
    pub height: u64,
    /// The manifest, parsed.
    pub manifest: Value,
    /// Hex of the owner's signature over it.
    pub signature: String,
}

/// Filters of `GET /api/v1/tools` and `GET /api/v1/agents`.
#[derive(Deserialize, Debug, Default)]
pub struct EntriesQuery {
    /// Only this owner's entries (a `myc1…` address).
    pub owner: Option<String>,
    /// Agents only: only those with a skill whose ID or tag is this (case-insensitive).
    pub skill: Option<String>,
    /// Most entries (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<u64>,
    /// Only entries whose ID sorts after this one (hex): the last ID of the previous page.
    pub after: Option<String>,
}

fn unknown(kind: Kind, what: &str) -> ApiError {
    ApiError::not_found(format!("no {} {what:?}", kind.as_str()))
}

/// The entry of `kind` named by `s`: its 64-hex ID, else its name.
fn lookup(state: &(impl StateRead + ?Sized), kind: Kind, s: &str) -> Result<Entry, ApiError> {
    if s.len() == 64
        && let Ok(id) = Hash::from_hex(s)
        && let Some(e) = agent::entry(state, &id).map_err(ApiError::internal)?
        && e.kind == kind
    {
        return Ok(e);
    }
    // A tool name may itself be 64 hex digits: an ID that names nothing falls through to it.
    agent::named(state, kind, s)
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(kind, s))
}

/// The registered document of manifest `h` (every entry's versions have one).
fn doc(state: &(impl StateRead + ?Sized), h: &Hash) -> Result<agent::Doc, ApiError> {
    agent::doc(state, h)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("manifest {h} of a registered entry is missing")))
}

fn parse(d: &agent::Doc) -> Result<Value, ApiError> {
    serde_json::from_slice(&d.manifest)
        .map_err(|e| ApiError::internal(format!("a registered manifest is not JSON: {e}")))
}

fn list(s: &ApiState, kind: Kind, q: &EntriesQuery) -> Result<Vec<Entry>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
    let after = q
        .after
        .as_deref()
        .map(|a| {
            Hash::from_hex(a)
                .map_err(|e| ApiError::bad_request(format!("after {a:?}: {e}")).with_param("after"))
        })
        .transpose()?;
    let owner = q
        .owner
        .as_deref()
        .map(|o| {
            o.parse::<Address>().map_err(|e: mycel_primitives::Error| {
                ApiError::bad_request(e.to_string()).with_param("owner")
            })
        })
        .transpose()?;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    // Without a filter the ledger pages through entries itself; a filter names IDs (in ID order).
    let ids = match (&owner, q.skill.as_deref()) {
        (None, None) => {
            return agent::list(&state, Some(kind), after.as_ref(), limit)
                .map_err(ApiError::internal);
        }
        (Some(o), None) => agent::owned_by(&state, o).map_err(ApiError::internal)?,
        (_, Some(skill)) => agent::with_skill(&state, skill).map_err(ApiError::internal)?,
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() == limit {
            break;
        }
        if after.is_some_and(|a| id.0 <= a.0) {
            continue;
        }
        let Some(e) = agent::entry(&state, &id).map_err(ApiError::internal)? else {
            continue;
        };
        if e.kind == kind && owner.is_none_or(|o| e.owner == o) {
            out.push(e);
        }
    }
    Ok(out)
}

fn view(s: &ApiState, kind: Kind, id_or_name: &str) -> Result<ToolView, ApiError> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let entry = lookup(&state, kind, id_or_name)?;
    let d = doc(&state, &entry.manifest)?;
    Ok(ToolView {
        manifest: parse(&d)?,
        signature: hex::encode(&d.signature),
        entry,
    })
}

fn versions(s: &ApiState, kind: Kind, id_or_name: &str) -> Result<Vec<VersionView>, ApiError> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let entry = lookup(&state, kind, id_or_name)?;
    let mut out = Vec::new();
    for h in agent::versions(&state, &entry.id).map_err(ApiError::internal)? {
        let d = doc(&state, &h)?;
        out.push(VersionView {
            version: d.version,
            manifest_hash: h,
            height: d.height,
            manifest: parse(&d)?,
            signature: hex::encode(&d.signature),
        });
    }
    Ok(out)
}

/// `GET /api/v1/tool-definitions?limit=&after=`: MCP tools (every status, as `/api/v1/tools`
/// pages them) with their current definitions and signatures, in ID order: what `/mcp`'s
/// `tools/list` serves, once the inactive ones are left out.
pub(crate) async fn list_definitions(
    State(s): State<ApiState>,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Vec<ToolView>> {
    let entries = list(&s, Kind::Tool, &q)?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let d = doc(&state, &entry.manifest)?;
        out.push(ToolView {
            manifest: parse(&d)?,
            signature: hex::encode(&d.signature),
            entry,
        });
    }
    Ok(Json(out))
}

/// `GET /api/v1/tools?owner=&limit=&after=`: MCP tools (every status), in ID order.
pub(crate) async fn list_tools(
    State(s): State<ApiState>,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Vec<Entry>> {
    if q.skill.is_some() {
        return Err(
            ApiError::bad_request("tools have no skills; skill filters agents").with_param("skill"),
        );
    }
    Ok(Json(list(&s, Kind::Tool, &q)?))
}

/// `GET /api/v1/agents?skill=&owner=&limit=&after=`: A2A agents (every status), in ID order.
pub(crate) async fn list_agents(
    State(s): State<ApiState>,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Vec<Entry>> {
    Ok(Json(list(&s, Kind::Agent, &q)?))
}

/// `GET /api/v1/tools/{id_or_name}`.
pub(crate) async fn get_tool(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<ToolView> {
    Ok(Json(view(&s, Kind::Tool, &id)?))
}

/// `GET /api/v1/agents/{id_or_name}`.
pub(crate) async fn get_agent(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<ToolView> {
    Ok(Json(view(&s, Kind::Agent, &id)?))
}

/// `GET /api/v1/tools/{id_or_name}/versions`: every version, oldest first.
pub(crate) async fn tool_versions(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Vec<VersionView>> {
    Ok(Json(versions(&s, Kind::Tool, &id)?))
}

/// `GET /api/v1/agents/{id_or_name}/versions`: every version, oldest first.
pub(crate) async fn agent_versions(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Vec<VersionView>> {
    Ok(Json(versions(&s, Kind::Agent, &id)?))
}

/// `GET /api/v1/agents/{id_or_name}/card`: the current Agent Card as registered, with a
/// `signatures` array holding the owner's signature in JWS shape (`protected`, `signature`,
/// base64url without padding).
///
/// The signature is the owner's mycel-namespaced ed25519 signature over
/// [`agent::manifest_signing_bytes`]`(Kind::Agent, manifest_hash)`, the one the chain verified at
/// registration, NOT a signature over a standard JWS signing input; the protected header
/// (`alg`, `kid` = the owner's address, `typ`, `mycel_ns`, `manifest_hash`) says what was
/// signed. Check it with [`crate::services::agents::verify_card`].
pub(crate) async fn agent_card(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let entry = lookup(&state, Kind::Agent, &id)?;
    let d = doc(&state, &entry.manifest)?;
    Ok(Json(signed_card(
        &parse(&d)?,
        entry.owner,
        &d.signature,
        &entry.manifest,
    )))
}
