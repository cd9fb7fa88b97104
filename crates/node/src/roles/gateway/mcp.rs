//! MCP on the node: `/mcp`, the Streamable HTTP transport, stateless (no `Mcp-Session-Id`).
//!
//! Speaks protocol `2026-07-28` (`server/discover`, per-request metadata) and the handshake
//! versions `2025-11-25`, `2025-06-18` and `2025-03-26` (`initialize`). Every answer is one JSON
//! body (`application/json`); `GET` and `DELETE` answer 405 (no server-initiated stream, no
//! session to end).
//!
//! - `tools/list`: every active registered tool, as registered on chain (name, description,
//!   schemas, annotations — the provider cannot change what a caller's model reads), with its
//!   entry ID, manifest hash, version, price, provider, calls and reputation in `_meta`.
//! - `tools/call` (API key as for the OpenAI routes): arguments checked against the registered
//!   input schema *before* anything is paid; the provider's signed advert must name the
//!   registered manifest hash — otherwise the call is refused (`-32010`), the advert kept as
//!   evidence and, when the manifest is no registered version at all, the provider's bond
//!   challenged from the caller's account; then the call goes through a session with the
//!   provider (opened, reused and topped up as for models) and the provider-signed receipt is
//!   checked (session, sequence, manifest, price, one call, running total, output hash) before
//!   the result is passed on with the receipt in `_meta["mycel/receipt"]`. A caller may pin the
//!   version it approved (`_meta["mycel/manifest_hash"]`); a tool that moved on is refused.
//! - A tool that fails, times out or returns output its schema refuses is answered with
//!   `isError: true` and no receipt: the caller is not charged.

use super::{ApiKey, Gateway, Pooled};
use crate::{
    http::agent::ToolView,
    roles::tools::{Advert, CallAnswer, call_body, schema::Schemas},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use commonware_cryptography::Signer as _;
use mycel_ledger::modules::agent::{self, Status};
use mycel_primitives::{Hash, PrivateKey};
use mycel_store::blob_hash;
use mycel_verify::SignedReceipt;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// What `/mcp` caches: the registered tools, compiled schemas, providers' adverts, and the
/// adverts already challenged.
#[derive(Default)]
pub(super) struct McpState {
    tools: Mutex<Option<(Instant, Arc<Vec<ToolView>>)>>,
    schemas: Mutex<BTreeMap<Hash, Arc<Schemas>>>,
    adverts: Mutex<BTreeMap<Hash, (Instant, Advert)>>,
    challenged: Mutex<BTreeSet<(Hash, Hash)>>,
    refreshing: std::sync::atomic::AtomicBool,
}

/// The protocol versions served, newest first.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

/// Tools per `tools/list` page.
const PAGE: usize = 100;

/// How long the registered tools and a provider's advert are reused.
const TOOLS_TTL: Duration = Duration::from_secs(2);
const ADVERT_TTL: Duration = Duration::from_secs(1);

/// JSON-RPC and MCP error codes.
mod code {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    /// The provider serves a manifest other than the registered one.
    pub const MANIFEST_DRIFT: i64 = -32010;
    /// The tool's registered version is not the one the caller pinned.
    pub const VERSION_CHANGED: i64 = -32011;
    /// No API key, or one refused.
    pub const UNAUTHORIZED: i64 = -32012;
    /// Paying for the call failed (balance, session).
    pub const PAYMENT: i64 = -32013;
    /// The provider could not be reached or answered wrongly.
    pub const PROVIDER: i64 = -32014;
}

/// A JSON-RPC error, with its HTTP status.
struct RpcError {
    status: StatusCode,
    code: i64,
    message: String,
    data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            status: StatusCode::OK,
            code,
            message: message.into(),
            data: None,
        }
    }
    fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn rpc_result(id: &Value, mut result: Value) -> Response {
    // Required on the 2026-07-28 wire, ignored by older clients.
    result["resultType"] = "complete".into();
    reply(
        StatusCode::OK,
        json!({"jsonrpc": "2.0", "id": id, "result": result}),
    )
}

fn rpc_error(id: &Value, e: RpcError) -> Response {
    let mut err = json!({"code": e.code, "message": e.message});
    if let Some(d) = e.data {
        err["data"] = d;
    }
    reply(e.status, json!({"jsonrpc": "2.0", "id": id, "error": err}))
}

/// A tool result with `isError` (not charged).
fn tool_error(message: String) -> Value {
    json!({
        "content": [{"type": "text", "text": message}],
        "isError": true,
        "_meta": {"mycel/charged": false},
    })
}

impl Gateway {
    /// The `/mcp` route.
    pub(super) fn mcp_routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/mcp", post(mcp_post).get(not_allowed).delete(not_allowed))
            .route(
                "/.well-known/agent-card.json",
                axum::routing::get(agent_card),
            )
            .with_state(self.clone())
    }

    /// The registered tools, active ones only. A list older than [`TOOLS_TTL`] is still
    /// answered while a fresh one is fetched in the background (no call waits on it); `fresh`
    /// (a name not found) fetches at once.
    async fn tools(self: &Arc<Self>, fresh: bool) -> crate::Result<Arc<Vec<ToolView>>> {
        if !fresh && let Some((at, t)) = self.mcp.tools.lock().clone() {
            if at.elapsed() >= TOOLS_TTL
                && !self
                    .mcp
                    .refreshing
                    .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                let g = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = g.fetch_tools().await {
                        tracing::debug!(target: "mycel::gateway", error = %e, "tool list not refreshed");
                    }
                    g.mcp
                        .refreshing
                        .store(false, std::sync::atomic::Ordering::Release);
                });
            }
            return Ok(t);
        }
        self.fetch_tools().await
    }

    /// Fetches the active tools from the chain and caches them.
    async fn fetch_tools(&self) -> crate::Result<Arc<Vec<ToolView>>> {
        // A page of definitions at a time (every status, so a short page is the last); the
        // active ones are kept.
        let mut all: Vec<ToolView> = Vec::new();
        let mut after = String::new();
        loop {
            let page: Vec<ToolView> = self
                .chain
                .get(&format!("/api/v1/tool-definitions?limit=500{after}"))
                .await?;
            let n = page.len();
            if let Some(last) = page.last() {
                after = format!("&after={}", last.entry.id);
            }
            all.extend(
                page.into_iter()
                    .filter(|t| t.entry.status == Status::Active),
            );
            if n < 500 {
                break;
            }
        }
        let t = Arc::new(all);
        *self.mcp.tools.lock() = Some((Instant::now(), t.clone()));
        Ok(t)
    }

    fn schemas(&self, t: &ToolView) -> std::result::Result<Arc<Schemas>, String> {
        if let Some(s) = self.mcp.schemas.lock().get(&t.entry.manifest) {
            return Ok(s.clone());
        }
        let s = Arc::new(Schemas::compile(&t.manifest)?);
        self.mcp.schemas.lock().insert(t.entry.manifest, s.clone());
        Ok(s)
    }

    /// The provider's advert of what it serves for `t` now (cached for [`ADVERT_TTL`]).
    async fn advert(&self, t: &ToolView) -> std::result::Result<Advert, RpcError> {
        if let Some((at, a)) = self.mcp.adverts.lock().get(&t.entry.id)
            && at.elapsed() < ADVERT_TTL
        {
            return Ok(a.clone());
        }
        let url = format!("{}/tools/{}/advert", t.entry.endpoint, t.entry.id);
        let provider = |why: String| {
            RpcError::new(
                code::PROVIDER,
                format!("the provider of {} cannot be reached: {why}", t.entry.name),
            )
        };
        let r = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| provider(e.to_string()))?;
        if !r.status().is_success() {
            return Err(provider(format!("{url} answered {}", r.status())));
        }
        let a: Advert = r.json().await.map_err(|e| provider(e.to_string()))?;
        if a.id != t.entry.id || !a.signed_by(&t.entry.owner) {
            return Err(provider(
                "its advert is not signed by the registered owner".into(),
            ));
        }
        self.mcp
            .adverts
            .lock()
            .insert(t.entry.id, (Instant::now(), a.clone()));
        Ok(a)
    }

    /// Refuses a provider whose signed advert names another manifest than the registered one;
    /// keeps the advert as evidence and, for a manifest that is none of the tool's registered
    /// versions, challenges the provider's bond from `account` (once per advert).
    async fn check_advert(
        self: &Arc<Self>,
        t: &ToolView,
        a: &Advert,
        account: &PrivateKey,
    ) -> std::result::Result<(), RpcError> {
        if a.manifest_hash == t.entry.manifest {
            return Ok(());
        }
        let evidence = serde_json::to_value(a).unwrap_or_default();
        let dir = self.evidence_dir.clone();
        let file = dir.join(format!("{}-{}.json", t.entry.id, a.manifest_hash));
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(
                &file,
                serde_json::to_vec_pretty(&evidence).unwrap_or_default(),
            );
        }
        tracing::warn!(target: "mycel::gateway", tool = %t.entry.name, registered = %t.entry.manifest, served = %a.manifest_hash, "provider serves an unregistered manifest; call refused");
        if self
            .mcp
            .challenged
            .lock()
            .insert((t.entry.id, a.manifest_hash))
            && let Some(msg) = a.challenge()
        {
            // The ledger decides whether it is a rug pull (no registered version has it) or a
            // stale version (refused, no penalty).
            let g = self.clone();
            let account = account.clone();
            let name = t.entry.name.clone();
            tokio::spawn(async move {
                match g.send_tx(&account, msg).await {
                    Ok(_) => {
                        // Unlisted now: not offered again from the cache.
                        g.mcp.tools.lock().take();
                        tracing::warn!(target: "mycel::gateway", tool = %name, "rug pull proven on chain; provider slashed")
                    }
                    Err(e) => {
                        tracing::info!(target: "mycel::gateway", tool = %name, error = %e, "no challenge")
                    }
                }
            });
        }
        Err(RpcError::new(
            code::MANIFEST_DRIFT,
            format!(
                "refused: the provider of `{}` now serves manifest {}, not the registered version {} ({}); nothing was paid",
                t.entry.name, a.manifest_hash, t.entry.version, t.entry.manifest
            ),
        )
        .with_data(json!({
            "registered": t.entry.manifest.to_hex(),
            "advertised": a.manifest_hash.to_hex(),
            "evidence": evidence,
        })))
    }

    /// `tools/list`.
    async fn list_tools(self: &Arc<Self>, params: &Value) -> std::result::Result<Value, RpcError> {
        let tools = self
            .tools(false)
            .await
            .map_err(|e| RpcError::new(code::INTERNAL, e.to_string()))?;
        let start = match params.get("cursor").and_then(Value::as_str) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .map_err(|_| RpcError::new(code::INVALID_PARAMS, "bad cursor"))?,
        };
        let page: Vec<Value> = tools
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|t| {
                let mut m = t.manifest.clone();
                m["_meta"] = json!({
                    "mycel/id": t.entry.id.to_hex(),
                    "mycel/manifest_hash": t.entry.manifest.to_hex(),
                    "mycel/version": t.entry.version,
                    "mycel/price": t.entry.price.0.to_string(),
                    "mycel/provider": t.entry.owner.to_string(),
                    "mycel/calls": t.entry.calls,
                    "mycel/reputation": t.entry.reputation,
                    "mycel/signature": t.signature,
                });
                m
            })
            .collect();
        let mut r = json!({"tools": page, "ttlMs": 0, "cacheScope": "private"});
        if start + PAGE < tools.len() {
            r["nextCursor"] = (start + PAGE).to_string().into();
        }
        Ok(r)
    }

    /// The checks of a call before anything is paid: the caller's pinned version, if any, is
    /// the registered one, and the arguments pass the input schema. Returns the schemas.
    fn check_call(
        &self,
        t: &ToolView,
        pin: Option<&str>,
        arguments: &Value,
    ) -> std::result::Result<Arc<Schemas>, RpcError> {
        let name = &t.entry.name;
        if let Some(pin) = pin
            && pin != t.entry.manifest.to_hex()
        {
            return Err(RpcError::new(
                code::VERSION_CHANGED,
                format!(
                    "`{name}` is now version {} (manifest {}), not the pinned {pin}: list the tools again and review the change",
                    t.entry.version, t.entry.manifest
                ),
            ));
        }
        let schemas = self
            .schemas(t)
            .map_err(|e| RpcError::new(code::INTERNAL, format!("`{name}`: {e}")))?;
        schemas.check_input(arguments).map_err(|why| {
            RpcError::new(
                code::INVALID_PARAMS,
                format!("the arguments fail `{name}`'s input schema: {why}"),
            )
        })?;
        Ok(schemas)
    }

    /// `tools/call`.
    async fn call_tool(
        self: &Arc<Self>,
        headers: &HeaderMap,
        params: &Value,
    ) -> std::result::Result<Value, RpcError> {
        let key = self.authenticate(headers).map_err(|e| RpcError {
            status: StatusCode::UNAUTHORIZED,
            code: code::UNAUTHORIZED,
            message: e.message().to_string(),
            data: None,
        })?;
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::new(code::INVALID_PARAMS, "`name` is required"))?;
        let arguments = params
            .get("arguments")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let find = |tools: &[ToolView]| tools.iter().find(|t| t.entry.name == name).cloned();
        let t = match find(&self.tools(false).await.map_err(internal)?) {
            Some(t) => t,
            None => find(&self.tools(true).await.map_err(internal)?).ok_or_else(|| {
                RpcError::new(code::INVALID_PARAMS, format!("unknown tool: {name}"))
            })?,
        };
        let pin = params
            .pointer("/_meta/mycel~1manifest_hash")
            .and_then(Value::as_str);
        let mut schemas = self.check_call(&t, pin, &arguments)?;
        let account = self.account_key(&key).map_err(|e| RpcError {
            status: StatusCode::OK,
            code: code::PAYMENT,
            message: e.message().to_string(),
            data: None,
        })?;
        let advert = self.advert(&t).await?;
        // The cached list may not have caught up with a new version yet: when the provider's
        // advert names another manifest, look at the chain again before judging.
        let t = if advert.manifest_hash == t.entry.manifest {
            t
        } else {
            let t = find(&self.tools(true).await.map_err(internal)?).ok_or_else(|| {
                RpcError::new(code::INVALID_PARAMS, format!("unknown tool: {name}"))
            })?;
            schemas = self.check_call(&t, pin, &arguments)?;
            t
        };
        self.check_advert(&t, &advert, &account).await?;
        let payment = |e: String| RpcError::new(code::PAYMENT, e);
        let mut p = self
            .session(
                &account,
                (t.entry.owner, &t.entry.endpoint),
                t.entry.manifest,
            )
            .await
            .map_err(|e| payment(format!("no session with the provider of `{name}`: {e}")))?;
        self.top_up(&account, &mut p, t.entry.price)
            .await
            .map_err(|e| payment(format!("session {} not topped up: {e}", p.id)))?;
        let body = call_body(&t.entry.id, &arguments);
        let url = format!("{}/tools/{}/call", t.entry.endpoint, t.entry.id);
        for retry in 0..2 {
            let sent = self.signed_post(&account, &p, &url, &body).await;
            let r = match sent {
                Ok(r) => r,
                Err(e) => {
                    // It may have billed before failing: its receipt is picked up later.
                    let _ = self.sync(&key, &mut p).await;
                    return Ok(tool_error(format!(
                        "the provider of `{name}` did not answer: {e}"
                    )));
                }
            };
            let status = r.status();
            let bytes = r.bytes().await.unwrap_or_default();
            if status == StatusCode::CONFLICT && retry == 0 {
                let err: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                if err["error"]["code"] == "manifest_mismatch" {
                    self.mcp.adverts.lock().remove(&t.entry.id);
                    return Err(RpcError::new(
                        code::MANIFEST_DRIFT,
                        err["error"]["message"]
                            .as_str()
                            .unwrap_or("manifest mismatch")
                            .to_string(),
                    ));
                }
                // Out of step (a receipt we did not see): catch up and try once more.
                if self.sync(&key, &mut p).await.is_err() {
                    return Err(RpcError::new(
                        code::PROVIDER,
                        format!("session {} out of step", p.id),
                    ));
                }
                continue;
            }
            if !status.is_success() {
                let err: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                let message = err["error"]["message"]
                    .as_str()
                    .map_or_else(|| format!("{status}"), str::to_string);
                return match err["error"]["code"].as_str() {
                    Some("invalid_arguments") => Err(RpcError::new(code::INVALID_PARAMS, message)),
                    Some("tool_failed" | "output_invalid") => Ok(tool_error(message)),
                    _ => Err(RpcError::new(
                        code::PROVIDER,
                        format!("the provider of `{name}` refused the call: {message}"),
                    )),
                };
            }
            let answer: CallAnswer = serde_json::from_slice(&bytes).map_err(|e| {
                p.broken = true;
                RpcError::new(
                    code::PROVIDER,
                    format!("the provider's answer is malformed: {e}"),
                )
            })?;
            return self
                .accept_call(&key, &account, &mut p, &t, &schemas, answer)
                .await;
        }
        Err(RpcError::new(code::PROVIDER, "no answer"))
    }

    /// Checks a provider's answer and its receipt; passes the result on with the receipt.
    async fn accept_call(
        self: &Arc<Self>,
        key: &ApiKey,
        account: &PrivateKey,
        p: &mut Pooled,
        t: &ToolView,
        schemas: &Schemas,
        answer: CallAnswer,
    ) -> std::result::Result<Value, RpcError> {
        let r: SignedReceipt = answer.receipt;
        let output = agent::manifest::canonical(&answer.result);
        if let Err(why) = p.check(&r, Some(&output), Some(1)) {
            self.reject_receipt(account, p, &r).await;
            return Err(RpcError::new(
                code::PROVIDER,
                format!("the provider's receipt is refused: {why}"),
            ));
        }
        // Billed by the provider's signature: counted whatever follows.
        self.accept(key, p, &r).map_err(internal)?;
        debug_assert_eq!(r.receipt.output_hash, blob_hash(&output));
        let mut result = answer.result;
        // The advert of what actually ran: a result from another definition is not passed on
        // (it was billed by the provider's signature; the advert is the evidence against it).
        if !answer.advert.signed_by(&t.entry.owner) || answer.advert.id != t.entry.id {
            p.broken = true;
            return Err(RpcError::new(
                code::PROVIDER,
                "the provider's answer carries no advert signed by the registered owner",
            ));
        }
        self.check_advert(t, &answer.advert, account).await?;
        if let Err(why) = schemas.check_output(result.get("structuredContent")) {
            // A provider that bills output its own schema refuses loses the caller.
            p.broken = true;
            result = tool_error(format!(
                "the provider's output fails the output schema: {why}"
            ));
            result["_meta"]["mycel/charged"] = true.into();
        }
        let mut meta = result.get("_meta").cloned().unwrap_or_else(|| json!({}));
        meta["mycel/receipt"] = self.receipt_json(&r);
        meta["mycel/manifest_hash"] = t.entry.manifest.to_hex().into();
        meta["mycel/session"] = p.id.into();
        result["_meta"] = meta;
        self.count(&format!("tool:{}", t.entry.name), |s| s.requests += 1);
        Ok(result)
    }
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(code::INTERNAL, e.to_string())
}

async fn not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [("allow", "POST")],
        Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": code::INVALID_REQUEST, "message": "this server answers POST only (no server-initiated stream, no session)"}})),
    )
        .into_response()
}

/// Most skills the node's own card lists (the chain's limit for a registered card).
const CARD_SKILLS: usize = agent::manifest::MAX_SKILLS;

/// `GET /.well-known/agent-card.json`: the node as an A2A agent whose skills are the network's
/// active tools (callable over MCP at the card's `url`), signed by the node's validator key —
/// the key is in the signature's unprotected header as an Ed25519 JWK, so
/// `services::agents::verify_card` checks it offline.
async fn agent_card(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let tools = match g.tools(false).await {
        Ok(t) => t,
        Err(e) => return crate::http::ApiError::unavailable(e).into_response(),
    };
    let key = match g.keystore.load("validator").and_then(|k| k.private_key()) {
        Ok(k) => k,
        Err(e) => {
            return crate::http::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("this node has no validator key to sign its card: {e}"),
            )
            .into_response();
        }
    };
    let skills: Vec<Value> = tools
        .iter()
        .take(CARD_SKILLS)
        .map(|t| {
            let m = &t.manifest;
            json!({
                "id": t.entry.name,
                "name": m["title"].as_str().unwrap_or(&t.entry.name),
                "description": m["description"],
                "tags": ["mcp-tool", format!("price:{}", t.entry.price.0)],
            })
        })
        .collect();
    let address = mycel_primitives::Address::from_public_key(&key.public_key());
    let card = json!({
        "name": format!("mycel node {}", &address.to_string()[..16]),
        "description": "A node of the mycel network. Its skills are the network's registered MCP \
    tools, each pinned by the hash of its definition and paid per call with a provider-signed \
    receipt: call them over MCP (Streamable HTTP) at `url`, with an API key.",
        "version": env!("CARGO_PKG_VERSION"),
        "url": format!("http://{host}/mcp"),
        "capabilities": {"streaming": false},
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["application/json"],
        "skills": skills,
    });
    let mut signed = crate::services::agents::sign_card(&card, &key);
    signed["signatures"][0]["header"] = json!({"jwk": {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": crate::services::agents::base64url(key.public_key().as_ref()),
    }});
    Json(signed).into_response()
}

fn server_info() -> Value {
    json!({"name": "mycel", "title": "mycel network", "version": env!("CARGO_PKG_VERSION")})
}

const INSTRUCTIONS: &str = "Tools of the mycel network. Each tool is registered on chain with the \
hash of its definition, a price per call and a bond; every call is paid from the caller's API-key \
account and answered with a receipt signed by the provider (in _meta[\"mycel/receipt\"]) that \
`mycel receipt verify` checks offline.";

async fn mcp_post(State(g): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let null = Value::Null;
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                &null,
                RpcError {
                    status: StatusCode::BAD_REQUEST,
                    ..RpcError::new(code::PARSE, format!("not JSON: {e}"))
                },
            );
        }
    };
    if !msg.is_object() || msg["jsonrpc"] != "2.0" {
        return rpc_error(
            &null,
            RpcError {
                status: StatusCode::BAD_REQUEST,
                ..RpcError::new(
                    code::INVALID_REQUEST,
                    "expected one JSON-RPC 2.0 message (batches are not supported)",
                )
            },
        );
    }
    // Notifications and responses are acknowledged without a body.
    let (Some(id), Some(method)) = (msg.get("id"), msg.get("method").and_then(Value::as_str))
    else {
        return StatusCode::ACCEPTED.into_response();
    };
    let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
    let r = match method {
        "initialize" => {
            let asked = params["protocolVersion"].as_str().unwrap_or_default();
            // The handshake versions (2026-07-28 has no `initialize`).
            let version = PROTOCOL_VERSIONS[1..]
                .iter()
                .find(|v| **v == asked)
                .copied()
                .unwrap_or(PROTOCOL_VERSIONS[1]);
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": server_info(),
                "instructions": INSTRUCTIONS,
            }))
        }
        "server/discover" => Ok(json!({
            "supportedVersions": PROTOCOL_VERSIONS,
            "capabilities": {"tools": {"listChanged": false}},
            "instructions": INSTRUCTIONS,
            "ttlMs": 0,
            "cacheScope": "public",
            "_meta": {"io.modelcontextprotocol/serverInfo": server_info()},
        })),
        "ping" => Ok(json!({})),
        "tools/list" => g.list_tools(&params).await,
        "tools/call" => g.call_tool(&headers, &params).await,
        other => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        )),
    };
    match r {
        Ok(v) => rpc_result(id, v),
        Err(e) => rpc_error(id, e),
    }
}
