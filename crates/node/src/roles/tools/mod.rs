//! Tool providers: real tools behind the network, each call checked, run, receipted and settled.
//!
//! A [`ToolServer`] serves one or more tools for one account (the tools' registered owner):
//! - `GET /tools` and `GET /tools/{id}/advert`: the signed [`Advert`] of the manifest each tool
//!   runs *now*. A served manifest file that changes is registered as a new version before it
//!   is served ([`OnChange`]), so an honest provider never advertises an unregistered
//!   definition; one that does is refused by the first caller, who can prove it on chain with
//!   this signature;
//! - `POST /tools/{id}/call`: a call paid from a market session on the tool's manifest. The
//!   [`Till`] checks the session and the client's signature of the body; the arguments must pass
//!   the input schema, the deposit must cover the price, the tool must finish in time and its
//!   output must pass the output schema — otherwise the caller gets an error and no receipt (is
//!   not charged). A completed call is billed one call at the session's price and answered with
//!   the result, the signed receipt (manifest hash, input and output hashes, price) and the
//!   advert.
//! - `GET /v1/sessions/{id}/receipts/{seq}`: a receipt again, for a caller that lost it.
//!
//! The body a caller signs is the canonical JSON `{"arguments": …, "tool": "<entry id hex>"}`;
//! the receipt's output hash is BLAKE3 of the canonical JSON of the result
//! (`{"content", "isError", "structuredContent"}`), what the gateway recomputes.

pub mod builtin;
mod runner;
pub mod schema;
mod upstream;

pub use runner::{CommandRunner, HttpRunner, MAX_OUTPUT_BYTES, RunFuture, ToolOutput, ToolRunner};
pub use upstream::{McpRunner, McpUpstream};

use crate::{
    Error, Result,
    client::{Client, SendOptions},
    http::{ApiError, with_error_shape},
    roles::till::{Till, receipt_route},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message,
    modules::agent::{self, Kind},
};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey, Signature,
    codec::{Encode, decode},
    keys,
};
use mycel_store::blob_hash;
use mycel_verify::SignedReceipt;
use parking_lot::RwLock;
use schema::Schemas;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

/// A provider's signed statement of the manifest it serves for entry `id` now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advert {
    /// The entry.
    pub id: Hash,
    /// The tool's name.
    pub name: String,
    /// Hash of the manifest served now.
    pub manifest_hash: Hash,
    /// The provider's public key, hex.
    pub provider_key: String,
    /// Its signature over [`agent::advert_bytes`], hex.
    pub signature: String,
}

impl Advert {
    /// Signs an advert of `manifest` for `id`.
    pub fn sign(id: Hash, name: &str, manifest: Hash, key: &PrivateKey) -> Advert {
        let sig = keys::sign(
            key,
            agent::ADVERT_NAMESPACE,
            &agent::advert_bytes(&id, &manifest),
        );
        Advert {
            id,
            name: name.to_string(),
            manifest_hash: manifest,
            provider_key: hex::encode(key.public_key().as_ref()),
            signature: hex::encode(sig.encode()),
        }
    }

    /// True when `owner` signed it.
    pub fn signed_by(&self, owner: &Address) -> bool {
        let Some(pk) = hex::decode(&self.provider_key)
            .ok()
            .and_then(|b| keys::public_key_from_bytes(&b).ok())
        else {
            return false;
        };
        let Some(sig) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| decode::<Signature>(&b).ok())
        else {
            return false;
        };
        Address::from_public_key(&pk) == *owner
            && keys::verify(
                &pk,
                agent::ADVERT_NAMESPACE,
                &agent::advert_bytes(&self.id, &self.manifest_hash),
                &sig,
            )
    }

    /// The on-chain challenge this advert proves, for an advert of an unregistered manifest.
    pub fn challenge(&self) -> Option<Message> {
        Some(Message::Agent(agent::Msg::Challenge {
            id: self.id,
            advertised: self.manifest_hash,
            provider_key: hex::decode(&self.provider_key).ok()?,
            signature: hex::decode(&self.signature).ok()?,
        }))
    }
}

/// The canonical body of a call: what the caller signs and the receipt's input hash covers.
pub fn call_body(id: &Hash, arguments: &Value) -> Vec<u8> {
    agent::manifest::canonical(&serde_json::json!({"arguments": arguments, "tool": id.to_hex()}))
}

/// The result of a call as MCP's `CallToolResult` has it (without `_meta`).
pub fn call_result(out: &ToolOutput) -> Value {
    let mut r = serde_json::json!({
        "content": [{"type": "text", "text": out.text}],
        "isError": false,
    });
    if let Some(s) = &out.structured {
        r["structuredContent"] = s.clone();
    }
    r
}

/// What a call answers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CallAnswer {
    /// The `CallToolResult` (the receipt's output hash is over its canonical JSON).
    pub result: Value,
    /// The signed receipt.
    pub receipt: SignedReceipt,
    /// The advert of the manifest that ran.
    pub advert: Advert,
}

/// The manifest one tool runs now.
struct Current {
    manifest: Value,
    hash: Hash,
    schemas: Arc<Schemas>,
    advert: Advert,
}

/// One tool served.
struct Served {
    id: Hash,
    name: String,
    runner: Arc<dyn ToolRunner>,
    /// Where the definition comes from, watched for changes.
    source: Option<Source>,
    current: RwLock<Arc<Current>>,
}

/// Parses and canonicalises a tool manifest, checking it as the chain will.
pub fn load_manifest(bytes: &[u8]) -> Result<(Value, Vec<u8>)> {
    let bad = |why: String| Error::Invalid {
        what: "tool manifest".into(),
        why,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let canonical = agent::manifest::canonical(&v);
    agent::manifest::check(Kind::Tool, &canonical).map_err(|e| bad(e.to_string()))?;
    Schemas::compile(&v).map_err(bad)?;
    Ok((v, canonical))
}

/// Where a served tool's definition comes from.
enum Source {
    /// A manifest file, looked at when its modification time changes.
    File {
        path: PathBuf,
        seen: RwLock<Option<SystemTime>>,
    },
    /// An upstream MCP server's `tools/list`, looked at every [`UPSTREAM_POLL`].
    Upstream {
        client: Arc<McpUpstream>,
        last: parking_lot::Mutex<std::time::Instant>,
    },
}

/// How often an upstream MCP server's definition of a served tool is compared with the one
/// served.
pub const UPSTREAM_POLL: Duration = Duration::from_secs(3);

/// What a tool server does when a served manifest file changes.
#[derive(Clone, Debug)]
pub enum OnChange {
    /// Registers the new definition as a new version with these terms, then serves it.
    Register {
        /// Endpoint.
        endpoint: String,
        /// Price of one call.
        price: Amount,
        /// Bond.
        bond: Amount,
    },
    /// Serves the new definition at once, registered or not: what a rug-pulling provider does
    /// (`mycel tool serve --serve-unregistered`, to see callers refuse it and slash the bond).
    ServeUnregistered,
}

/// The tool server of one provider account.
pub struct ToolServer {
    till: Till,
    tools: RwLock<BTreeMap<Hash, Arc<Served>>>,
    on_change: RwLock<Option<OnChange>>,
}

impl AsRef<Till> for ToolServer {
    fn as_ref(&self) -> &Till {
        &self.till
    }
}

impl ToolServer {
    /// A server signing with `key`, checking sessions through `chain`, keeping receipts in
    /// `dir`.
    pub fn open(key: PrivateKey, chain: Client, dir: PathBuf) -> Result<Arc<ToolServer>> {
        Ok(Arc::new(ToolServer {
            till: Till::open(key, chain, dir)?,
            tools: RwLock::new(BTreeMap::new()),
            on_change: RwLock::new(None),
        }))
    }

    /// The till (settlement and disputes).
    pub fn till(&self) -> &Till {
        &self.till
    }

    /// The provider's address.
    pub fn address(&self) -> Address {
        self.till.address()
    }

    fn current_of(&self, manifest: Value, id: Hash, name: &str) -> Result<Current> {
        let schemas = Schemas::compile(&manifest).map_err(|why| Error::Invalid {
            what: format!("tool {name}"),
            why,
        })?;
        let hash = agent::manifest_hash(&agent::manifest::canonical(&manifest));
        Ok(Current {
            advert: Advert::sign(id, name, hash, self.till.key()),
            manifest,
            hash,
            schemas: Arc::new(schemas),
        })
    }

    /// Serves the tool of `manifest` (a tool definition) with `runner`; with `file`, the file is
    /// watched ([`ToolServer::watch_definitions`]). Returns the entry ID.
    pub fn add(
        &self,
        manifest: Value,
        runner: Arc<dyn ToolRunner>,
        file: Option<PathBuf>,
    ) -> Result<Hash> {
        let name = manifest
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Invalid {
                what: "tool manifest".into(),
                why: "no `name`".into(),
            })?
            .to_string();
        let id = agent::entry_id(Kind::Tool, &name);
        let current = self.current_of(manifest, id, &name)?;
        let source = file.map(|path| Source::File {
            seen: RwLock::new(std::fs::metadata(&path).and_then(|m| m.modified()).ok()),
            path,
        });
        self.insert(id, name, runner, source, current);
        Ok(id)
    }

    fn insert(
        &self,
        id: Hash,
        name: String,
        runner: Arc<dyn ToolRunner>,
        source: Option<Source>,
        current: Current,
    ) {
        self.tools.write().insert(
            id,
            Arc::new(Served {
                id,
                name,
                runner,
                source,
                current: RwLock::new(Arc::new(current)),
            }),
        );
    }

    /// Serves tool `name` of the MCP server at `upstream`: its definition is the server's
    /// (watched: [`ToolServer::watch_definitions`]), its calls go there. Returns the entry ID.
    pub async fn add_upstream(&self, upstream: Arc<McpUpstream>, name: &str) -> Result<Hash> {
        let manifest = upstream
            .definition(name)
            .await
            .map_err(|why| Error::Invalid {
                what: format!("upstream tool {name}"),
                why,
            })?;
        let (manifest, _) = load_manifest(&agent::manifest::canonical(&manifest))?;
        let id = agent::entry_id(Kind::Tool, name);
        let current = self.current_of(manifest, id, name)?;
        let runner = Arc::new(McpRunner {
            upstream: upstream.clone(),
            name: name.to_string(),
        });
        let source = Source::Upstream {
            client: upstream,
            last: parking_lot::Mutex::new(std::time::Instant::now()),
        };
        self.insert(id, name.to_string(), runner, Some(source), current);
        Ok(id)
    }

    /// The tool `id` and the manifest it serves now.
    fn tool(&self, id: &Hash) -> Option<(Arc<Served>, Arc<Current>)> {
        let t = self.tools.read().get(id).cloned()?;
        let c = t.current.read().clone();
        Some((t, c))
    }

    /// What to do when a served manifest file changes (nothing is served from it until this is
    /// set: the last manifest loaded stays).
    pub fn on_change(&self, policy: OnChange) {
        *self.on_change.write() = Some(policy);
    }

    /// Looks at every served tool's source once (a manifest file when it changed, an upstream
    /// MCP server's `tools/list` every [`UPSTREAM_POLL`]); a changed definition is registered as
    /// a new version and then served, or served at once with [`OnChange::ServeUnregistered`].
    /// Until then the tool keeps serving — and advertising — the definition it had: a changed
    /// upstream never reaches a caller silently.
    pub async fn watch_definitions(&self) {
        let tools: Vec<Arc<Served>> = self.tools.read().values().cloned().collect();
        for t in tools {
            let loaded = match &t.source {
                None => continue,
                Some(Source::File { path, seen }) => {
                    let now = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                    if now == *seen.read() {
                        continue;
                    }
                    *seen.write() = now;
                    std::fs::read(path)
                        .map_err(|e| e.to_string())
                        .and_then(|b| load_manifest(&b).map_err(|e| e.to_string()))
                }
                Some(Source::Upstream { client, last }) => {
                    if last.lock().elapsed() < UPSTREAM_POLL {
                        continue;
                    }
                    *last.lock() = std::time::Instant::now();
                    client.definition(&t.name).await.and_then(|v| {
                        load_manifest(&agent::manifest::canonical(&v)).map_err(|e| e.to_string())
                    })
                }
            };
            let c = match loaded
                .and_then(|(v, _)| self.current_of(v, t.id, &t.name).map_err(|e| e.to_string()))
            {
                Ok(c) if c.hash == t.current.read().hash => continue,
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(target: "mycel::tools", tool = %t.name, error = %e, "the definition changed but does not load; serving the last one");
                    continue;
                }
            };
            // A file whose change is not served yet is looked at again next time.
            let retry = || {
                if let Some(Source::File { seen, .. }) = &t.source {
                    *seen.write() = None;
                }
            };
            let policy = self.on_change.read().clone();
            match policy {
                Some(OnChange::Register {
                    endpoint,
                    price,
                    bond,
                }) => {
                    let key = self.till.key().clone();
                    let msg = registration(
                        &key,
                        Kind::Tool,
                        agent::manifest::canonical(&c.manifest),
                        &endpoint,
                        price,
                        bond,
                    );
                    match self
                        .till
                        .chain()
                        .send(&key, msg, &SendOptions::default())
                        .await
                    {
                        Ok(_) => {
                            tracing::info!(target: "mycel::tools", tool = %t.name, manifest = %c.hash, "definition changed: registered as a new version; serving it");
                            *t.current.write() = Arc::new(c);
                        }
                        // Tried again at the next look.
                        Err(e) => {
                            retry();
                            tracing::warn!(target: "mycel::tools", tool = %t.name, error = %e, "new version not registered yet; still serving the registered one")
                        }
                    }
                }
                Some(OnChange::ServeUnregistered) => {
                    tracing::warn!(target: "mycel::tools", tool = %t.name, manifest = %c.hash, "serving an UNREGISTERED manifest: callers will refuse it and can slash the bond");
                    *t.current.write() = Arc::new(c);
                }
                None => {
                    tracing::warn!(target: "mycel::tools", tool = %t.name, "the definition changed; register it as a new version (`mycel tool register`) and restart to serve it");
                }
            }
        }
    }

    /// The adverts of every tool served.
    pub fn adverts(&self) -> Vec<Advert> {
        let ids: Vec<Hash> = self.tools.read().keys().copied().collect();
        ids.iter()
            .filter_map(|id| self.tool(id).map(|(_, c)| c.advert.clone()))
            .collect()
    }

    /// The canonical manifests served now, by entry ID.
    pub fn manifests(&self) -> Vec<(Hash, Vec<u8>)> {
        let ids: Vec<Hash> = self.tools.read().keys().copied().collect();
        ids.iter()
            .filter_map(|id| {
                self.tool(id)
                    .map(|(_, c)| (*id, agent::manifest::canonical(&c.manifest)))
            })
            .collect()
    }

    /// Registers (or updates to a new version) every tool served whose manifest, endpoint or
    /// price differs from its entry on chain, with `bond` (or the bond already held, if more).
    /// Returns how many registrations were sent.
    pub async fn register_all(&self, endpoint: &str, price: Amount, bond: Amount) -> Result<usize> {
        let key = self.till.key().clone();
        let mut msgs = Vec::new();
        for (id, canonical) in self.manifests() {
            let hash = agent::manifest_hash(&canonical);
            let on_chain = match self
                .till
                .chain()
                .get::<crate::http::agent::ToolView>(&format!("/api/v1/tools/{id}"))
                .await
            {
                Ok(v) => Some(v.entry),
                Err(Error::Api { code, .. }) if code == "not_found" => None,
                Err(e) => return Err(e),
            };
            let bond = on_chain.as_ref().map_or(bond, |e| e.bond.max(bond));
            if on_chain.as_ref().is_some_and(|e| {
                e.manifest == hash && e.endpoint == endpoint && e.price == price && e.bond == bond
            }) {
                continue;
            }
            msgs.push(registration(
                &key,
                Kind::Tool,
                canonical,
                endpoint,
                price,
                bond,
            ));
        }
        let n = msgs.len();
        if n > 0 {
            self.till
                .chain()
                .send_all(&key, msgs, &SendOptions::default())
                .await?;
        }
        Ok(n)
    }

    /// The HTTP routes of a standalone tool server.
    pub fn router(self: &Arc<Self>) -> Router {
        with_error_shape(
            self.tool_routes().merge(
                Router::new()
                    .route(
                        "/v1/sessions/{id}/receipts/{seq}",
                        get(receipt_route::<Self>),
                    )
                    .with_state(self.clone()),
            ),
        )
    }

    /// The tool routes alone, without the error layer and the receipts route (to merge into a
    /// worker's session server, which serves both tills' receipts).
    pub fn tool_routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/tools", get(list))
            .route("/tools/{id}/advert", get(advert))
            .route("/tools/{id}/call", post(call))
            .with_state(self.clone())
    }

    /// Settles every session with receipts ahead of the chain, and answers open disputes.
    pub async fn settle(&self) -> Result<usize> {
        let n = self.till.settle_all().await?;
        self.till.answer_disputes().await?;
        Ok(n)
    }

    /// Watches the manifest files every second, and settles and answers disputes every
    /// `every`, until the process stops.
    pub async fn run_settlement(self: Arc<Self>, every: Duration) {
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.watch_definitions().await;
            if last.elapsed() >= every {
                last = tokio::time::Instant::now();
                if let Err(e) = self.settle().await {
                    tracing::warn!(target: "mycel::tools", error = %e, "tool settlement failed; retrying");
                }
            }
        }
    }
}

/// A signed registration of `manifest` (canonical) by `key`.
pub fn registration(
    key: &PrivateKey,
    kind: Kind,
    manifest: Vec<u8>,
    endpoint: &str,
    price: Amount,
    bond: Amount,
) -> Message {
    let sig = keys::sign(
        key,
        agent::MANIFEST_NAMESPACE,
        &agent::manifest_signing_bytes(kind, &agent::manifest_hash(&manifest)),
    );
    Message::Agent(agent::Msg::Register(Box::new(agent::Registration {
        kind,
        manifest,
        endpoint: endpoint.to_string(),
        price,
        bond,
        owner_key: key.public_key().as_ref().to_vec(),
        signature: sig.encode().to_vec(),
    })))
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> Response {
    ApiError::new(status, code, message).into_response()
}

async fn list(State(s): State<Arc<ToolServer>>) -> Json<Vec<Advert>> {
    Json(s.adverts())
}

fn parse_id(id: &str) -> Option<Hash> {
    Hash::from_hex(id).ok()
}

fn bad_id(id: &str) -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("{id:?} is not an entry ID"),
    )
}

async fn advert(State(s): State<Arc<ToolServer>>, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id) else {
        return bad_id(&id);
    };
    match s.tool(&id) {
        Some((_, c)) => Json(c.advert.clone()).into_response(),
        None => ApiError::not_found(format!("no tool {id} here")).into_response(),
    }
}

async fn call(
    State(s): State<Arc<ToolServer>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bad_id(&id);
    };
    let Some((tool, current)) = s.tool(&id) else {
        return ApiError::not_found(format!("no tool {id} here")).into_response();
    };
    // One call at a time per session: its sequence and deposit checks hold until it is billed.
    let _turn = s.till.turn(&headers).await;
    let a = match s.till.authorise(&headers, &body).await {
        Ok(a) => a,
        Err((status, m)) => return ApiError::from_status(status, m).into_response(),
    };
    if a.session.model != current.hash {
        return refuse(
            StatusCode::CONFLICT,
            "manifest_mismatch",
            format!(
                "session {} pays for manifest {}; {} serves {} now",
                a.session.id, a.session.model, tool.name, current.hash
            ),
        );
    }
    let parsed: Option<Value> = serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(|v| call_body(&id, &v["arguments"]) == body[..]);
    let Some(v) = parsed else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be the canonical JSON {\"arguments\": …, \"tool\": \"<id>\"}".into(),
        );
    };
    let arguments = v["arguments"].clone();
    if let Err(why) = current.schemas.check_input(&arguments) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            format!("the arguments fail {}'s input schema: {why}", tool.name),
        );
    }
    if s.till.remaining(&a.session) < a.session.price_per_token {
        return refuse(
            StatusCode::PAYMENT_REQUIRED,
            "deposit_exhausted",
            format!(
                "session {} has {} left; a call costs {}",
                a.session.id,
                s.till.remaining(&a.session),
                a.session.price_per_token
            ),
        );
    }
    let out = match tool.runner.run(arguments).await {
        Ok(out) => out,
        Err(why) => return refuse(StatusCode::BAD_GATEWAY, "tool_failed", why),
    };
    if let Err(why) = current.schemas.check_output(out.structured.as_ref()) {
        return refuse(
            StatusCode::BAD_GATEWAY,
            "output_invalid",
            format!("{}'s output fails its output schema: {why}", tool.name),
        );
    }
    let result = call_result(&out);
    let bytes = agent::manifest::canonical(&result);
    match s.till.bill(&a, &bytes, 1) {
        Ok(receipt) => {
            debug_assert_eq!(receipt.receipt.output_hash, blob_hash(&bytes));
            Json(CallAnswer {
                result,
                receipt,
                advert: current.advert.clone(),
            })
            .into_response()
        }
        Err((status, m)) => ApiError::from_status(status, m).into_response(),
    }
}
