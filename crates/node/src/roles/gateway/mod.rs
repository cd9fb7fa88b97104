//! The OpenAI-compatible gateway on the node's own port: `/v1/chat/completions` (plain and
//! streamed), `/v1/completions`, `/v1/embeddings` and `/v1/models`, so the official SDKs work
//! unmodified against the network.
//!
//! A request authenticates with an API key ([`keys`]) bound to an account whose key this node
//! holds. The gateway picks a worker ([`route`]), opens (or reuses, tops up and extends) a session
//! with it from that account's balance, signs the request for the session's next sequence number,
//! and checks the worker-signed receipt before passing the response on: the session's worker
//! signed it, for this session, sequence, model and price, `amount = tokens × price`, the running
//! total extends the last one, and the output hash is that of the text (or vectors) delivered.
//! The receipt goes back in the body (`mycel_receipt`) and the `x-mycel-receipt` header, and
//! into a durable log ([`ReceiptLog`], `gateway/receipts/`). A worker that fails before answering
//! is replaced; nothing is billed without a receipt the gateway accepted. A background task
//! compares each settlement with the receipts held and disputes any difference, and closes
//! sessions after expiry to get the unspent deposit back.

pub mod keys;
mod mcp;
pub(crate) mod route;

pub use keys::{ApiKey, ApiKeys, KeyRefusal, KeyUsage};
pub use route::WorkerView;

use crate::{
    Error, Home, Result,
    client::{Client, SendOptions},
    http::{
        ApiError,
        openai::{base64_f32, parse_chat, parse_completion, parse_embed},
    },
    keystore::Keystore,
    roles::worker::sessions::embedding_bytes,
    services::sessions as client_sessions,
};
use axum::{
    Json, Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use commonware_cryptography::Signer as _;
use mycel_ledger::{
    Message,
    modules::market::{self, JobKind, Session, SessionMsg},
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, codec::Encode, merkle};
use mycel_store::blob_hash;
use mycel_verify::{ReceiptLog, SignedReceipt, sign_request};
use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

/// How the gateway funds and paces sessions.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Deposit of a new session, and of each top-up.
    pub deposit: Amount,
    /// Blocks a session runs; extended when fewer than a tenth remain.
    pub duration_blocks: u64,
    /// Workers tried per request.
    pub attempts: usize,
    /// Most sessions held at once with one worker for one account and model (requests on one
    /// session go one at a time).
    pub sessions_per_worker: usize,
    /// Longest wait for a worker's answer (a stream: for its first byte).
    pub worker_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            deposit: Amount(Amount::from_myc(1).0 / 10),
            duration_blocks: 3_600,
            attempts: 3,
            sessions_per_worker: 16,
            worker_timeout: Duration::from_secs(150),
        }
    }
}

/// A session the gateway holds with one worker for one account and model.
#[derive(Clone, Debug)]
struct Pooled {
    id: u64,
    worker: Address,
    endpoint: String,
    model: Hash,
    price: Amount,
    deposit: Amount,
    expires: u64,
    next_seq: u64,
    cumulative: Amount,
    broken: bool,
    /// The leaves of the receipts accepted, in order (what a settlement must match).
    leaves: Vec<Hash>,
    /// The settlement count last checked against them.
    checked: u64,
}

impl Pooled {
    fn remaining(&self) -> Amount {
        Amount(self.deposit.0.saturating_sub(self.cumulative.0))
    }

    /// Checks a worker-signed receipt for the next request of this session; `output` is what
    /// was delivered (`None` when the delivery was cut and only the accounting can be checked).
    fn check(
        &self,
        r: &SignedReceipt,
        output: Option<&[u8]>,
        tokens: Option<u64>,
    ) -> std::result::Result<(), String> {
        let x = &r.receipt;
        if !r.verify() {
            return Err("the receipt's signature does not verify".into());
        }
        if r.signer() != Some(self.worker) {
            return Err("the receipt is not signed by the session's worker".into());
        }
        if x.session != self.id || x.seq != self.next_seq {
            return Err(format!(
                "the receipt is for session {} request {}, not {} request {}",
                x.session, x.seq, self.id, self.next_seq
            ));
        }
        if x.model != self.model || x.price != self.price {
            return Err("the receipt's model or price is not the session's".into());
        }
        if x.amount.0 != self.price.0.saturating_mul(x.tokens as u128) {
            return Err("the receipt's amount is not tokens × price".into());
        }
        if x.cumulative.0 != self.cumulative.0.saturating_add(x.amount.0) {
            return Err("the receipt's running total does not extend the last one".into());
        }
        if let Some(t) = tokens
            && t != x.tokens
        {
            return Err(format!(
                "the receipt bills {} tokens; the response used {t}",
                x.tokens
            ));
        }
        if let Some(out) = output
            && x.output_hash != blob_hash(out)
        {
            return Err("the receipt's output hash is not that of the response".into());
        }
        Ok(())
    }
}

/// Per-model counters for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
struct ModelStats {
    requests: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Chat,
    Completion,
    Embed,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Chat => "/v1/chat/completions",
            Kind::Completion => "/v1/completions",
            Kind::Embed => "/v1/embeddings",
        }
    }
    fn job(self) -> JobKind {
        match self {
            Kind::Embed => JobKind::Embed,
            _ => JobKind::Generate,
        }
    }
}

/// A pinned model the gateway knows by name.
#[derive(Clone, Debug)]
struct Named {
    id: Hash,
    name: &'static str,
    short: &'static str,
    license: &'static str,
}

type PoolKey = (Address, Address, Hash);

/// The gateway.
pub struct Gateway {
    chain: Client,
    chain_id: String,
    keystore: Keystore,
    // Signing keys of the accounts API keys pay from, read once.
    accounts: Mutex<BTreeMap<String, PrivateKey>>,
    keys: ApiKeys,
    names: Vec<Named>,
    cfg: GatewayConfig,
    pool: Mutex<BTreeMap<PoolKey, Vec<Arc<tokio::sync::Mutex<Pooled>>>>>,
    permits: Mutex<BTreeMap<PoolKey, Arc<tokio::sync::Semaphore>>>,
    // (session, seq) already disputed: never twice.
    disputed: Mutex<std::collections::BTreeSet<(u64, u64)>>,
    // One transaction at a time per gateway: sessions of one account share its nonce.
    tx_lock: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    router: route::Router,
    receipts: ReceiptLog<SignedReceipt>,
    stats: Mutex<BTreeMap<String, ModelStats>>,
    height: Mutex<(Instant, u64)>,
    /// Registered versions looked up recently (absent when unregistered), for access checks.
    policies: Mutex<BTreeMap<Hash, (Instant, Option<crate::http::model::ModelView>)>>,
    /// Access verdicts looked up recently, per model and account.
    access: Mutex<BTreeMap<(Hash, Address), (Instant, crate::http::model::AccessView)>>,
    /// `/mcp`'s caches.
    mcp: mcp::McpState,
    /// Where adverts of unregistered manifests are kept (`gateway/evidence/`).
    evidence_dir: std::path::PathBuf,
}

impl Gateway {
    /// The gateway of `home`, calling the node at `api`.
    pub fn open(home: &Home, api: &str, cfg: GatewayConfig) -> Result<Arc<Gateway>> {
        let store = mycel_ml::registry::ModelStore::from_env();
        // Names for the pinned models this node has the files of (their IDs come from the
        // files, as the workers' do).
        let names = [mycel_ml::registry::SMOLLM2, mycel_ml::registry::MINILM]
            .iter()
            .filter_map(|m| {
                crate::models::resolve(&store, m.name).ok().map(|id| Named {
                    id,
                    name: m.display_name,
                    short: m.name,
                    license: m.license,
                })
            })
            .collect();
        Ok(Arc::new(Gateway {
            chain: Client::new(api),
            chain_id: home.genesis()?.chain_id,
            keystore: Keystore::new(home.keys_dir()),
            accounts: Mutex::new(BTreeMap::new()),
            keys: ApiKeys::open(home.gateway_dir())?,
            names,
            cfg,
            pool: Mutex::new(BTreeMap::new()),
            permits: Mutex::new(BTreeMap::new()),
            disputed: Mutex::new(std::collections::BTreeSet::new()),
            tx_lock: tokio::sync::Mutex::new(()),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .map_err(|e| Error::Invalid {
                    what: "gateway HTTP client".into(),
                    why: e.to_string(),
                })?,
            router: route::Router::default(),
            receipts: ReceiptLog::new(home.gateway_dir().join("receipts")),
            stats: Mutex::new(BTreeMap::new()),
            height: Mutex::new((Instant::now() - Duration::from_secs(60), 0)),
            policies: Mutex::new(BTreeMap::new()),
            access: Mutex::new(BTreeMap::new()),
            mcp: mcp::McpState::default(),
            evidence_dir: home.gateway_dir().join("evidence"),
        }))
    }

    /// The API keys.
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    /// The routes, to merge into the node's router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(endpoint(Kind::Chat)))
            .route("/v1/completions", post(endpoint(Kind::Completion)))
            .route("/v1/embeddings", post(endpoint(Kind::Embed)))
            .route("/v1/models", get(models))
            .route("/v1/models/{id}", get(model))
            .route("/v1/receipts/{session}/{seq}", get(receipt_bundle))
            .route("/api/v1/gateway/usage", get(usage))
            .with_state(self.clone())
            .merge(self.mcp_routes())
    }

    /// Runs the settlement watcher and the key-spend flusher until the process stops.
    pub async fn run_background(self: Arc<Self>) {
        // The sessions this gateway held before a restart are watched (and closed for the
        // refund) again; retried until the node answers.
        while let Err(e) = self.restore().await {
            tracing::warn!(target: "mycel::gateway", error = %e, "sessions not restored yet; retrying");
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        loop {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if let Err(e) = self.keys.flush() {
                tracing::warn!(target: "mycel::gateway", error = %e, "spend not saved");
            }
            if let Err(e) = self.watch_sessions().await {
                tracing::warn!(target: "mycel::gateway", error = %e, "session watch failed; retrying");
            }
        }
    }

    /// Rebuilds the pool from the receipt logs: every open session of an account of this home
    /// that the gateway holds receipts for, at the sequence and running total it had reached.
    /// Returns how many were restored.
    pub async fn restore(&self) -> Result<usize> {
        let accounts: Vec<Address> = self.keystore.list()?.iter().map(|k| k.address).collect();
        let mut restored = 0;
        for id in self.receipts.sessions()? {
            let s: Session = self.chain.get(&format!("/api/v1/sessions/{id}")).await?;
            if s.closed || !accounts.contains(&s.client) {
                continue;
            }
            let held = self.receipts.load(id)?;
            let endpoint = self
                .chain
                .get::<market::Offer>(&format!("/api/v1/workers/{}/offer", s.worker))
                .await
                .map(|o| route::url(&o.endpoint))
                .unwrap_or_default();
            let k = (s.client, s.worker, s.model);
            let p = Pooled {
                id,
                worker: s.worker,
                broken: endpoint.is_empty(),
                endpoint,
                model: s.model,
                price: s.price_per_token,
                deposit: s.deposit,
                expires: s.expires,
                next_seq: held.len() as u64,
                cumulative: held.last().map_or(Amount::ZERO, |r| r.receipt.cumulative),
                leaves: held.iter().map(|r| r.receipt.leaf()).collect(),
                checked: 0,
            };
            let mut pool = self.pool.lock();
            let list = pool.entry(k).or_default();
            if list.iter().any(|x| x.try_lock().is_ok_and(|g| g.id == id)) {
                continue;
            }
            list.push(Arc::new(tokio::sync::Mutex::new(p)));
            restored += 1;
        }
        Ok(restored)
    }

    /// The sessions in the pool, by ID.
    pub fn pooled_sessions(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .pool
            .lock()
            .values()
            .flatten()
            .filter_map(|p| p.try_lock().ok().map(|g| g.id))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Prometheus text of the per-model counters.
    pub fn metrics_text(&self) -> String {
        let stats = self.stats.lock();
        let mut out = String::new();
        for (name, help, f) in [
            (
                "mycel_gateway_requests_total",
                "requests answered",
                (|s: &ModelStats| s.requests) as fn(&ModelStats) -> u64,
            ),
            ("mycel_gateway_errors_total", "requests failed", |s| {
                s.errors
            }),
            (
                "mycel_gateway_prompt_tokens_total",
                "prompt tokens billed",
                |s| s.prompt_tokens,
            ),
            (
                "mycel_gateway_completion_tokens_total",
                "completion tokens billed",
                |s| s.completion_tokens,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (model, s) in stats.iter() {
                out.push_str(&format!("{name}{{model=\"{model}\"}} {}\n", f(s)));
            }
        }
        out
    }

    fn count(&self, model: &str, f: impl FnOnce(&mut ModelStats)) {
        f(self.stats.lock().entry(model.to_string()).or_default());
    }

    /// The display name of a model ID (its hex when it has none).
    fn display(&self, id: &Hash) -> String {
        self.names
            .iter()
            .find(|n| n.id == *id)
            .map_or_else(|| id.to_hex(), |n| n.name.to_string())
    }

    /// [`Self::resolve`], else a registered version's display name when exactly one version
    /// has it (a fine-tune's `SmolLM2-135M-Instruct-ft3`).
    async fn resolve_registered(&self, name: &str) -> Option<Hash> {
        if let Some(id) = self.resolve(name) {
            return Some(id);
        }
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !valid {
            return None;
        }
        let found: Vec<mycel_ledger::modules::model::Version> = self
            .chain
            .get(&format!("/api/v1/models?name={name}&limit=2"))
            .await
            .ok()?;
        match found.as_slice() {
            [v] => Some(v.registration.id),
            _ => None,
        }
    }

    /// The model a request names: a pinned name (either spelling) or a 64-hex ID.
    fn resolve(&self, name: &str) -> Option<Hash> {
        if let Some(n) = self
            .names
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name) || n.short == name)
        {
            return Some(n.id);
        }
        (name.len() == 64)
            .then(|| Hash::from_hex(name).ok())
            .flatten()
    }

    async fn height(&self) -> Result<u64> {
        {
            let h = self.height.lock();
            if h.0.elapsed() < Duration::from_millis(500) {
                return Ok(h.1);
            }
        }
        let height = self.chain.status().await?.height;
        *self.height.lock() = (Instant::now(), height);
        Ok(height)
    }

    /// The registered version of `model` (none when unregistered), cached for a second or two:
    /// the ledger enforces the policy again when a session opens.
    async fn registered(
        &self,
        model: &Hash,
    ) -> std::result::Result<Option<crate::http::model::ModelView>, ApiError> {
        if let Some((at, v)) = self.policies.lock().get(model)
            && at.elapsed() < Duration::from_secs(2)
        {
            return Ok(v.clone());
        }
        let v = match self
            .chain
            .get::<crate::http::model::ModelView>(&format!("/api/v1/models/{model}"))
            .await
        {
            Ok(v) => Some(v),
            Err(Error::Api { code, .. }) if code == "not_found" => None,
            Err(e) => return Err(ApiError::unavailable(e)),
        };
        self.policies
            .lock()
            .insert(*model, (Instant::now(), v.clone()));
        Ok(v)
    }

    /// Refuses a model whose lineage holds a gated version that neither belongs to `account`
    /// nor grants it use (also after a revocation, while pooled sessions are still open): the
    /// ledger's own rule, asked of the node and cached for a second or two per account.
    async fn check_access(
        &self,
        model: &Hash,
        account: &Address,
        model_name: &str,
    ) -> std::result::Result<(), ApiError> {
        let key = (*model, *account);
        let cached = self
            .access
            .lock()
            .get(&key)
            .filter(|(at, _)| at.elapsed() < Duration::from_secs(2))
            .map(|(_, v)| v.clone());
        let v = match cached {
            Some(v) => v,
            None => {
                let v: crate::http::model::AccessView = self
                    .chain
                    .get(&format!("/api/v1/models/{model}/access/{account}"))
                    .await
                    .map_err(ApiError::unavailable)?;
                self.access.lock().insert(key, (Instant::now(), v.clone()));
                v
            }
        };
        if v.allowed {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "model_access_denied",
            format!(
                "the model `{model_name}` may not be used by account {account}: {}",
                v.reason.unwrap_or_default()
            ),
        )
        .with_param("model"))
    }

    fn account_key(&self, key: &ApiKey) -> std::result::Result<PrivateKey, ApiError> {
        if let Some(k) = self.accounts.lock().get(&key.account) {
            return Ok(k.clone());
        }
        let k = self
            .keystore
            .load(&key.account)
            .and_then(|k| k.private_key())
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "account_unavailable",
                    format!("the key's account {} is not usable here: {e}", key.account),
                )
            })?;
        self.accounts.lock().insert(key.account.clone(), k.clone());
        Ok(k)
    }

    async fn send_tx(&self, key: &PrivateKey, msg: Message) -> Result<crate::client::Sent> {
        let _turn = self.tx_lock.lock().await;
        self.chain.send(key, msg, &SendOptions::default()).await
    }

    /// A session of `account` with `worker` for `model`, held for one request: an idle one of
    /// the pool, else a new one while the pool has fewer than
    /// [`GatewayConfig::sessions_per_worker`]. Requests beyond that wait in line (first come,
    /// first served) for a session to come free.
    async fn session(
        &self,
        account: &PrivateKey,
        (worker, endpoint): (Address, &str),
        model: Hash,
    ) -> Result<Held> {
        let addr = Address::from_public_key(&account.public_key());
        let k = (addr, worker, model);
        let permits = self
            .permits
            .lock()
            .entry(k)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.cfg.sessions_per_worker)))
            .clone();
        let permit = permits.acquire_owned().await.map_err(|e| Error::Invalid {
            what: "gateway session pool".into(),
            why: e.to_string(),
        })?;
        // Holding a permit, an idle session exists unless the pool is short of sessions.
        let idle = || {
            let list = self.pool.lock().get(&k).cloned().unwrap_or_default();
            list.iter()
                .filter_map(|p| p.clone().try_lock_owned().ok())
                .find(|g| !g.broken)
        };
        if let Some(guard) = idle() {
            return Ok(Held {
                guard,
                _permit: permit,
            });
        }
        // Opened under the transaction lock (the account's nonce).
        let _turn = self.tx_lock.lock().await;
        if let Some(guard) = idle() {
            return Ok(Held {
                guard,
                _permit: permit,
            });
        }
        let id = client_sessions::open(
            &self.chain,
            account,
            worker,
            model,
            self.cfg.deposit,
            self.cfg.duration_blocks,
        )
        .await?;
        let s: Session = self.chain.get(&format!("/api/v1/sessions/{id}")).await?;
        let p = Arc::new(tokio::sync::Mutex::new(Pooled {
            id,
            worker,
            endpoint: endpoint.to_string(),
            model,
            price: s.price_per_token,
            deposit: s.deposit,
            expires: s.expires,
            next_seq: 0,
            cumulative: Amount::ZERO,
            broken: false,
            leaves: Vec::new(),
            checked: 0,
        }));
        let guard = p.clone().try_lock_owned().expect("new and unshared");
        self.pool.lock().entry(k).or_default().push(p);
        Ok(Held {
            guard,
            _permit: permit,
        })
    }

    /// Tops the session up when its deposit runs low (below `need`, or a quarter of a
    /// deposit) or its end is near.
    async fn top_up(&self, account: &PrivateKey, p: &mut Pooled, need: Amount) -> Result<()> {
        let height = self.height().await?;
        let low = p.remaining() < need.max(Amount(self.cfg.deposit.0 / 4));
        let ending = p.expires.saturating_sub(height) < self.cfg.duration_blocks / 10;
        if !low && !ending {
            return Ok(());
        }
        let amount = if low {
            self.cfg.deposit.max(need)
        } else {
            Amount::ZERO
        };
        let msg = Message::Market(market::Msg::Session(SessionMsg::TopUp {
            session: p.id,
            amount,
            extend_blocks: self.cfg.duration_blocks,
        }));
        // Sent under the session's own lock: its next request waits for the new deposit.
        let _ = self.send_tx(account, msg).await?;
        let s: Session = self
            .chain
            .get(&format!("/api/v1/sessions/{}", p.id))
            .await?;
        p.deposit = s.deposit;
        p.expires = s.expires;
        Ok(())
    }

    /// Posts `body` for the next request of session `p`, signed by its client `account`.
    async fn signed_post(
        &self,
        account: &PrivateKey,
        p: &Pooled,
        url: &str,
        body: &[u8],
    ) -> reqwest::Result<reqwest::Response> {
        let sig = sign_request(account, p.id, p.next_seq, body);
        self.http
            .post(url)
            .timeout(self.cfg.worker_timeout)
            .header("content-type", "application/json")
            .header("x-mycel-session", p.id.to_string())
            .header("x-mycel-seq", p.next_seq.to_string())
            .header(
                "x-mycel-client-key",
                hex::encode(account.public_key().as_ref()),
            )
            .header("x-mycel-signature", hex::encode(sig.encode()))
            .body(body.to_vec())
            .send()
            .await
    }

    /// Accepts a checked receipt: logged durably, counted against the key.
    fn accept(&self, key: &ApiKey, p: &mut Pooled, r: &SignedReceipt) -> Result<()> {
        self.receipts.append(p.id, r)?;
        p.leaves.push(r.receipt.leaf());
        p.next_seq += 1;
        p.cumulative = r.receipt.cumulative;
        self.keys.record_spend(&key.id, r.receipt.amount);
        Ok(())
    }

    /// Catches up with receipts the worker signed that the gateway did not see (a stream the
    /// client cut, an answer lost on the way): fetched from the worker, checked for everything
    /// but the output the client never saw, logged and counted.
    async fn sync(&self, key: &ApiKey, p: &mut Pooled) -> Result<()> {
        loop {
            let url = format!(
                "{}/v1/sessions/{}/receipts/{}",
                p.endpoint, p.id, p.next_seq
            );
            let r = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| Error::Unreachable {
                    url: url.clone(),
                    why: e.to_string(),
                })?;
            if r.status() == StatusCode::NOT_FOUND {
                return Ok(());
            }
            let r: SignedReceipt = r.json().await.map_err(|e| Error::Unreachable {
                url: url.clone(),
                why: e.to_string(),
            })?;
            if let Err(why) = p.check(&r, None, None) {
                p.broken = true;
                return Err(Error::Invalid {
                    what: format!("receipt {} of session {}", p.next_seq, p.id),
                    why,
                });
            }
            self.accept(key, p, &r)?;
        }
    }

    /// Disputes a bad receipt when the ledger can see the fault (its price or amount, or a
    /// running total that jumps past the last receipt); either way the session is not used
    /// again.
    async fn reject_receipt(&self, account: &PrivateKey, p: &mut Pooled, r: &SignedReceipt) {
        p.broken = true;
        self.router.ban(&p.worker);
        let x = &r.receipt;
        if !(r.verify() && r.signer() == Some(p.worker) && x.session == p.id) {
            return;
        }
        let (Ok(worker_key), Ok(signature)) =
            (hex::decode(&r.worker_key), hex::decode(&r.signature))
        else {
            return;
        };
        let mispriced = x.model != p.model
            || x.price != p.price
            || x.amount.0 != p.price.0.saturating_mul(x.tokens as u128)
            || (x.seq == 0 && x.cumulative != x.amount);
        let jumped = x.seq == p.next_seq
            && x.seq > 0
            && x.cumulative.0 > p.cumulative.0.saturating_add(x.amount.0);
        let msg = if mispriced {
            SessionMsg::Dispute {
                receipt: x.clone(),
                worker_key,
                signature,
            }
        } else if jumped {
            // The running total jumped past the last receipt held: shown with both signatures.
            let Some(previous) = self
                .receipts
                .load(p.id)
                .ok()
                .and_then(|h| h.last().cloned())
            else {
                return;
            };
            let Ok(previous_signature) = hex::decode(&previous.signature) else {
                return;
            };
            SessionMsg::Jump {
                previous: Box::new(previous.receipt),
                previous_signature,
                receipt: Box::new(x.clone()),
                signature,
                worker_key,
            }
        } else {
            return;
        };
        if let Err(e) = self
            .send_tx(account, Message::Market(market::Msg::Session(msg)))
            .await
        {
            tracing::warn!(target: "mycel::gateway", error = %e, session = p.id, "dispute not sent");
        }
    }

    /// Compares each idle session's settlement with the receipts held (a session in use has a
    /// receipt on its way), disputes a difference once, and closes sessions whose time is up.
    async fn watch_sessions(&self) -> Result<()> {
        let pooled: Vec<(PoolKey, Arc<tokio::sync::Mutex<Pooled>>)> = self
            .pool
            .lock()
            .iter()
            .flat_map(|(k, v)| v.iter().map(|p| (*k, p.clone())))
            .collect();
        if pooled.is_empty() {
            return Ok(());
        }
        let height = self.height().await?;
        let accounts = self.keystore.list()?;
        for (k, p) in pooled {
            // A glance at the session without holding it across a call: a request in flight
            // keeps its turn.
            let Some((id, checked)) = p.try_lock().ok().map(|g| (g.id, g.checked)) else {
                continue;
            };
            let Some(account) = accounts
                .iter()
                .find(|f| f.address == k.0)
                .and_then(|f| f.private_key().ok())
            else {
                continue;
            };
            let s: Session = self.chain.get(&format!("/api/v1/sessions/{id}")).await?;
            if s.closed {
                self.pool
                    .lock()
                    .entry(k)
                    .or_default()
                    .retain(|x| !Arc::ptr_eq(x, &p));
                continue;
            }
            if s.count != checked {
                // A new settlement: held against the receipts accepted, with the session's
                // turn (so no receipt of it is on its way).
                let mut g = p.clone().lock_owned().await;
                if s.count as usize > g.leaves.len()
                    && let Some(key) = self.keys.list()?.into_iter().find(|u| u.key.address == k.0)
                {
                    // Receipts the worker settled that never reached us (a cut answer):
                    // fetched and checked; only if it cannot show them is one disputed.
                    let _ = self.sync(&key.key, &mut g).await;
                }
                let count = s.count as usize;
                let dispute = if count > g.leaves.len() {
                    Some((
                        g.leaves.len() as u64,
                        SessionMsg::Unrequested {
                            session: id,
                            seq: g.leaves.len() as u64,
                        },
                    ))
                } else if count > 0 && merkle::root(&g.leaves[..count]) != s.receipts_root {
                    let held = self.receipts.load(id)?;
                    held.get(count - 1).and_then(|r| {
                        let (Ok(worker_key), Ok(signature)) =
                            (hex::decode(&r.worker_key), hex::decode(&r.signature))
                        else {
                            return None;
                        };
                        Some((
                            r.receipt.seq,
                            SessionMsg::Dispute {
                                receipt: r.receipt.clone(),
                                worker_key,
                                signature,
                            },
                        ))
                    })
                } else {
                    None
                };
                g.checked = s.count;
                if let Some((seq, msg)) = dispute
                    && self.disputed.lock().insert((id, seq))
                {
                    g.broken = true;
                    tracing::warn!(target: "mycel::gateway", session = id, seq, "settlement differs from the receipts held; disputing");
                    if let Err(e) = self
                        .send_tx(&account, Message::Market(market::Msg::Session(msg)))
                        .await
                    {
                        tracing::warn!(target: "mycel::gateway", error = %e, "dispute not sent");
                    }
                }
            }
            if height >= s.expires + market::SETTLE_GRACE {
                let msg = Message::Market(market::Msg::Session(SessionMsg::Close { session: id }));
                if self.send_tx(&account, msg).await.is_ok() {
                    self.pool
                        .lock()
                        .entry(k)
                        .or_default()
                        .retain(|x| !Arc::ptr_eq(x, &p));
                }
            }
        }
        Ok(())
    }

    /// Serves one request: authenticated, parsed, routed, paid, checked.
    async fn serve(self: Arc<Self>, kind: Kind, headers: HeaderMap, body: Vec<u8>) -> Response {
        let key = match self.authenticate(&headers) {
            Ok(k) => k,
            Err(e) => return e.into_response(),
        };
        let (model_name, stream, base64, worker_body) = match kind {
            Kind::Embed => match parse_embed(&body) {
                // The worker answers in base64 (exact bytes, hashed by the receipt); the
                // client gets the encoding it asked for.
                Ok(r) => {
                    let mut v: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    v["encoding_format"] = "base64".into();
                    (r.model, false, r.base64, v)
                }
                Err(e) => return e.into_response(),
            },
            _ => {
                let parsed = if kind == Kind::Chat {
                    parse_chat(&body)
                } else {
                    parse_completion(&body)
                };
                match parsed {
                    Ok(r) => (r.model.clone(), r.stream, false, r.openai_body()),
                    Err(e) => return e.into_response(),
                }
            }
        };
        let Some(model) = self.resolve_registered(&model_name).await else {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!("the model `{model_name}` does not exist"),
            )
            .with_param("model")
            .into_response();
        };
        let account = match self.account_key(&key) {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
        let registered = match self.registered(&model).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        // A pinned model's display name, else its registered one, else its ID.
        let display = match (&registered, self.names.iter().any(|n| n.id == model)) {
            (Some(v), false) => v.version.registration.name.clone(),
            _ => self.display(&model),
        };
        if registered.is_some()
            && let Err(e) = self
                .check_access(
                    &model,
                    &Address::from_public_key(&account.public_key()),
                    &model_name,
                )
                .await
        {
            return e.into_response();
        }
        let candidates = match self.router.candidates(&self.chain, model, kind.job()).await {
            // A registered model goes only to workers that accept its licence.
            Ok(mut c) if registered.is_some() && !c.is_empty() => {
                let license = &registered
                    .as_ref()
                    .expect("checked")
                    .version
                    .registration
                    .license;
                c.retain(|w| mycel_ledger::modules::model::accepts(&w.offer.licenses, license));
                if c.is_empty() {
                    return ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "model_not_servable",
                        format!("no worker serving `{model_name}` accepts its licence {license}"),
                    )
                    .with_param("model")
                    .into_response();
                }
                c
            }
            Ok(c) if c.is_empty() => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "model_not_servable",
                    format!("no worker serves `{model_name}` for {} now", kind.path()),
                )
                .with_param("model")
                .into_response();
            }
            Ok(c) => c,
            Err(e) => {
                return ApiError::unavailable(e).into_response();
            }
        };
        let worker_body = serde_json::to_vec(&worker_body).expect("a JSON value serializes");
        let mut last_error = String::from("no worker answered");
        for worker in candidates.iter().take(self.cfg.attempts) {
            let _in_flight = self.router.begin(&worker.address);
            match self
                .clone()
                .attempt(
                    &key,
                    &account,
                    worker,
                    model,
                    kind,
                    (stream, base64),
                    &worker_body,
                    &display,
                )
                .await
            {
                Attempt::Done(r) => return r,
                Attempt::Next(why) => {
                    tracing::info!(target: "mycel::gateway", worker = %worker.address, why = %why, "trying the next worker");
                    last_error = why;
                }
            }
        }
        self.count(&display, |s| s.errors += 1);
        ApiError::new(StatusCode::BAD_GATEWAY, "upstream_failed", last_error).into_response()
    }

    fn authenticate(&self, headers: &HeaderMap) -> std::result::Result<ApiKey, ApiError> {
        let secret = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if secret.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "no API key: send `Authorization: Bearer myc-sk-…` (create one with `mycel keys api-key create`)",
            ));
        }
        self.keys.authenticate(secret).map_err(|r| match r {
            KeyRefusal::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "incorrect API key provided",
            ),
            KeyRefusal::Revoked => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "this API key was revoked",
            ),
            KeyRefusal::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "this API key is over its requests-per-minute limit",
            ),
            KeyRefusal::OverSpent => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                "this API key has spent its limit",
            ),
        })
    }

    /// One try with one worker.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        self: Arc<Self>,
        key: &ApiKey,
        account: &PrivateKey,
        worker: &WorkerView,
        model: Hash,
        kind: Kind,
        (stream, base64): (bool, bool),
        body: &[u8],
        display: &str,
    ) -> Attempt {
        let endpoint = route::url(&worker.offer.endpoint);
        let mut p = match self
            .session(account, (worker.address, &endpoint), model)
            .await
        {
            Ok(s) => s,
            Err(e) => return Attempt::Next(format!("no session with {}: {e}", worker.address)),
        };
        if let Err(e) = self.top_up(account, &mut p, Amount::ZERO).await {
            return Attempt::Next(format!("session {} not topped up: {e}", p.id));
        }
        for retry in 0..2 {
            let started = Instant::now();
            let sent = self
                .signed_post(account, &p, &format!("{}{}", p.endpoint, kind.path()), body)
                .await;
            let r = match sent {
                Ok(r) => r,
                Err(e) => {
                    self.router.failed(&worker.address);
                    // The worker may have billed before failing: pick its receipt up later.
                    let _ = self.sync(key, &mut p).await;
                    return Attempt::Next(format!("worker {} failed: {e}", worker.address));
                }
            };
            self.router.observe(&worker.address, started.elapsed());
            let status = r.status();
            if status.is_success() {
                return if stream {
                    Attempt::Done(self.relay(
                        key.clone(),
                        account.clone(),
                        p,
                        r,
                        display.to_string(),
                    ))
                } else {
                    self.finish(key, account, &mut p, kind, base64, r, display)
                        .await
                };
            }
            let text = r.text().await.unwrap_or_default();
            match status {
                StatusCode::CONFLICT if retry == 0 => {
                    if self.sync(key, &mut p).await.is_err() {
                        return Attempt::Next(format!("session {} out of step", p.id));
                    }
                }
                StatusCode::PAYMENT_REQUIRED if retry == 0 => {
                    let need = self.cfg.deposit;
                    if let Err(e) = self.top_up(account, &mut p, need).await {
                        return Attempt::Next(format!("session {} not topped up: {e}", p.id));
                    }
                }
                s if s.is_client_error()
                    && s != StatusCode::CONFLICT
                    && s != StatusCode::GONE
                    && s != StatusCode::MISDIRECTED_REQUEST
                    && s != StatusCode::PAYMENT_REQUIRED
                    && s != StatusCode::UNAUTHORIZED =>
                {
                    // The request's own fault (the worker checked it as the gateway would):
                    // passed on as is.
                    self.count(display, |s| s.errors += 1);
                    return Attempt::Done(passthrough(status, text));
                }
                _ => {
                    p.broken = true;
                    return Attempt::Next(format!(
                        "worker {} answered {status}: {text}",
                        worker.address
                    ));
                }
            }
        }
        Attempt::Next(format!("worker {} kept refusing", worker.address))
    }

    /// A whole (not streamed) answer: receipt checked, accepted, passed on.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        key: &ApiKey,
        account: &PrivateKey,
        p: &mut Pooled,
        kind: Kind,
        base64: bool,
        r: reqwest::Response,
        display: &str,
    ) -> Attempt {
        let bytes = match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let _ = self.sync(key, p).await;
                return Attempt::Next(format!("worker answer cut: {e}"));
            }
        };
        let mut v: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                p.broken = true;
                return Attempt::Next(format!("worker answer is not JSON: {e}"));
            }
        };
        let receipt: SignedReceipt = match serde_json::from_value(v["mycel_receipt"].clone()) {
            Ok(r) => r,
            Err(e) => {
                p.broken = true;
                return Attempt::Next(format!("worker answer has no receipt: {e}"));
            }
        };
        let (output, tokens, usage) = match kind {
            Kind::Embed => {
                let mut vectors = Vec::new();
                for d in v["data"].as_array().cloned().unwrap_or_default() {
                    match d["embedding"].as_str().and_then(decode_base64_f32) {
                        Some(x) => vectors.push(x),
                        None => {
                            p.broken = true;
                            return Attempt::Next("worker embedding is not base64 f32".into());
                        }
                    }
                }
                let tokens = v["usage"]["prompt_tokens"].as_u64().unwrap_or(u64::MAX);
                // Re-encoded as the client asked.
                if let Some(data) = v["data"].as_array_mut() {
                    for (d, x) in data.iter_mut().zip(&vectors) {
                        d["embedding"] = if base64 {
                            base64_f32(x).into()
                        } else {
                            serde_json::json!(x)
                        };
                    }
                }
                (embedding_bytes(&vectors), tokens, (tokens, 0))
            }
            _ => {
                let text = v["choices"][0]["message"]["content"]
                    .as_str()
                    .or(v["choices"][0]["text"].as_str())
                    .unwrap_or_default()
                    .to_string();
                let pt = v["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
                let ct = v["usage"]["completion_tokens"].as_u64().unwrap_or(0);
                (text.into_bytes(), pt + ct, (pt, ct))
            }
        };
        if let Err(why) = p.check(&receipt, Some(&output), Some(tokens)) {
            self.reject_receipt(account, p, &receipt).await;
            return Attempt::Next(format!("worker receipt refused: {why}"));
        }
        if let Err(e) = self.accept(key, p, &receipt) {
            return Attempt::Done(ApiError::internal(e).into_response());
        }
        self.count(display, |s| {
            s.requests += 1;
            s.prompt_tokens += usage.0;
            s.completion_tokens += usage.1;
        });
        v["model"] = display.into();
        v["mycel_receipt"] = self.receipt_json(&receipt);
        let mut resp = Json(v).into_response();
        if let Ok(h) = HeaderValue::from_str(&serde_json::to_string(&receipt).unwrap_or_default()) {
            resp.headers_mut().insert("x-mycel-receipt", h);
        }
        Attempt::Done(resp)
    }

    /// The receipt as the client gets it: self-contained, with the chain it is for.
    fn receipt_json(&self, r: &SignedReceipt) -> serde_json::Value {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["chain_id"] = self.chain_id.clone().into();
        v
    }

    /// Relays a streamed answer as it comes, checks the receipt in its last chunk, and stops
    /// the worker when the client goes away (billing then what the worker generated, picked up
    /// with [`Gateway::sync`]).
    fn relay(
        self: Arc<Self>,
        key: ApiKey,
        account: PrivateKey,
        mut p: Held,
        mut r: reqwest::Response,
        display: String,
    ) -> Response {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<std::result::Result<Vec<u8>, std::io::Error>>(64);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut text = String::new();
            let mut client_gone = false;
            let mut done = false;
            'read: while let Ok(Some(chunk)) = r.chunk().await {
                buf.extend_from_slice(&chunk);
                // Server-sent events end with a blank line.
                while let Some(end) = find(&buf, b"\n\n") {
                    let event: Vec<u8> = buf.drain(..end + 2).collect();
                    let line = String::from_utf8_lossy(&event);
                    let data = line
                        .trim()
                        .strip_prefix("data:")
                        .map(str::trim)
                        .unwrap_or("");
                    let out = if data == "[DONE]" {
                        done = true;
                        Some(event.clone())
                    } else {
                        match serde_json::from_str::<serde_json::Value>(data) {
                            Ok(mut v) if !v["mycel_receipt"].is_null() => {
                                let checked = serde_json::from_value::<SignedReceipt>(
                                    v["mycel_receipt"].clone(),
                                )
                                .map_err(|e| e.to_string())
                                .and_then(|rc| {
                                    p.check(&rc, Some(text.as_bytes()), None).map(|_| rc)
                                });
                                match checked {
                                    Ok(rc) => {
                                        if let Err(e) = self.accept(&key, &mut p, &rc) {
                                            tracing::error!(target: "mycel::gateway", error = %e, "receipt not logged");
                                        }
                                        let prompt = v["mycel_usage"]["prompt_tokens"]
                                            .as_u64()
                                            .unwrap_or(0)
                                            .min(rc.receipt.tokens);
                                        self.count(&display, |s| {
                                            s.requests += 1;
                                            s.prompt_tokens += prompt;
                                            s.completion_tokens += rc.receipt.tokens - prompt;
                                        });
                                        v["model"] = display.clone().into();
                                        v["mycel_receipt"] = self.receipt_json(&rc);
                                        Some(format!("data: {v}\n\n").into_bytes())
                                    }
                                    Err(why) => {
                                        if let Ok(rc) = serde_json::from_value::<SignedReceipt>(
                                            v["mycel_receipt"].clone(),
                                        ) {
                                            self.reject_receipt(&account, &mut p, &rc).await;
                                        }
                                        p.broken = true;
                                        self.count(&display, |s| s.errors += 1);
                                        let e = ApiError::new(
                                            StatusCode::BAD_GATEWAY,
                                            "bad_receipt",
                                            format!("the worker's receipt was refused: {why}"),
                                        )
                                        .to_json();
                                        Some(format!("data: {e}\n\n").into_bytes())
                                    }
                                }
                            }
                            Ok(v) => {
                                // Passed on as the worker sent it; the text is kept for the
                                // receipt's output hash.
                                if let Some(t) = v["choices"][0]["delta"]["content"]
                                    .as_str()
                                    .or(v["choices"][0]["text"].as_str())
                                {
                                    text.push_str(t);
                                }
                                Some(event.clone())
                            }
                            Err(_) => Some(event.clone()),
                        }
                    };
                    if let Some(out) = out
                        && tx.send(Ok(out)).await.is_err()
                    {
                        client_gone = true;
                        break 'read;
                    }
                }
            }
            drop(r);
            if client_gone || !done {
                // The worker stopped (or was stopped) before its receipt reached us: it bills
                // what it generated; pick that receipt up so the account and the key agree.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Err(e) = self.sync(&key, &mut p).await {
                    tracing::warn!(target: "mycel::gateway", error = %e, session = p.id, "receipts not caught up");
                }
                if !client_gone {
                    let e = ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_failed",
                        "the worker's stream ended early",
                    )
                    .to_json();
                    let _ = tx.send(Ok(format!("data: {e}\n\n").into_bytes())).await;
                }
            }
        });
        let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|v| (v, rx))
        }));
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(body)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

/// A session held for one request, and its place in the pool's line.
struct Held {
    guard: tokio::sync::OwnedMutexGuard<Pooled>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for Held {
    type Target = Pooled;
    fn deref(&self) -> &Pooled {
        &self.guard
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Pooled {
        &mut self.guard
    }
}

enum Attempt {
    Done(Response),
    Next(String),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn passthrough(status: StatusCode, text: String) -> Response {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Decodes the base64 of little-endian f32s.
pub fn decode_base64_f32(s: &str) -> Option<Vec<f32>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut bytes = Vec::with_capacity(s.len() / 4 * 3);
    for c in s.chunks(4) {
        let pad = c.iter().rev().take_while(|b| **b == b'=').count();
        let mut n = 0u32;
        for (i, b) in c.iter().enumerate() {
            n |= if i >= 4 - pad { 0 } else { val(*b)? } << (18 - 6 * i);
        }
        bytes.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// What an endpoint's handler returns.
type Answer = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The handler of one generation or embedding endpoint.
fn endpoint(
    kind: Kind,
) -> impl Fn(State<Arc<Gateway>>, HeaderMap, axum::body::Bytes) -> Answer + Clone + Send + Sync + 'static
{
    move |State(g): State<Arc<Gateway>>, headers: HeaderMap, body: axum::body::Bytes| {
        Box::pin(async move { g.serve(kind, headers, body.to_vec()).await })
    }
}

/// A receipt this gateway holds, with the evidence to check it offline: the session's state
/// and finality proofs and, once settled, its inclusion proof. Only for the key whose account
/// is the session's client.
async fn receipt_bundle(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((session, seq)): Path<(u64, u64)>,
) -> Response {
    let key = match g.authenticate(&headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let missing = || {
        ApiError::not_found(format!(
            "no receipt {seq} of session {session} for this key"
        ))
        .into_response()
    };
    let held = g.receipts.load(session).unwrap_or_default();
    let Some(receipt) = held.get(seq as usize).cloned() else {
        return missing();
    };
    let proof: crate::http::StateProof = match g
        .chain
        .get(&format!("/api/v1/sessions/{session}/proof"))
        .await
    {
        Ok(p) => p,
        Err(e) => {
            return ApiError::unavailable(e).into_response();
        }
    };
    let Some(s) = hex::decode(&proof.value)
        .ok()
        .and_then(|v| mycel_primitives::codec::decode::<Session>(&v).ok())
    else {
        return ApiError::internal("the session record does not decode").into_response();
    };
    if s.client != key.address {
        return missing();
    }
    let count = s.count as usize;
    let inclusion = (seq < s.count && held.len() >= count)
        .then(|| {
            let leaves: Vec<Hash> = held[..count].iter().map(|r| r.receipt.leaf()).collect();
            (merkle::root(&leaves) == s.receipts_root)
                .then(|| merkle::prove(&leaves, seq as usize))
                .flatten()
        })
        .flatten();
    Json(crate::services::receipts::ReceiptBundle {
        chain_id: g.chain_id.clone(),
        receipt,
        session: Some(proof),
        inclusion,
    })
    .into_response()
}

/// Per-model and per-key usage, for the dashboard (the node operator's view: key IDs and
/// labels, never secrets).
async fn usage(State(g): State<Arc<Gateway>>) -> Response {
    let models: Vec<serde_json::Value> = g
        .stats
        .lock()
        .iter()
        .map(|(m, s)| {
            serde_json::json!({"model": m, "requests": s.requests, "errors": s.errors,
                "prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens})
        })
        .collect();
    let keys: Vec<serde_json::Value> = g
        .keys
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            serde_json::json!({"id": u.key.id, "name": u.key.name, "account": u.key.address,
                "spent": u.spent, "requests": u.requests, "revoked": u.key.revoked,
                "spend_limit": u.key.spend_limit, "rpm": u.key.rpm})
        })
        .collect();
    Json(serde_json::json!({"models": models, "keys": keys})).into_response()
}

/// One entry of `/v1/models`.
fn model_entry(
    g: &Gateway,
    id: &Hash,
    workers: &[WorkerView],
    registered: Option<&crate::http::model::ModelView>,
) -> serde_json::Value {
    let named = g.names.iter().find(|n| n.id == *id);
    let reg = registered.map(|v| &v.version.registration);
    let serving: Vec<&WorkerView> = workers
        .iter()
        .filter(|w| w.offer.models.contains(id))
        .collect();
    let min_price = serving.iter().map(|w| w.offer.price_per_unit.0).min();
    serde_json::json!({
        "id": g.display(id),
        "object": "model",
        "created": 0,
        "owned_by": "mycel",
        "mycel_model_id": id.to_hex(),
        "license": reg.map(|r| r.license.as_str()).or(named.map(|n| n.license)),
        "name": reg.map(|r| r.name.as_str()).or(named.map(|n| n.name)),
        "mycel_kind": reg.map(|r| r.kind.as_str()),
        "mycel_parents": reg.map(|r| &r.parents),
        "workers": serving.len(),
        "min_price_per_token": min_price.map(|p| p.to_string()),
    })
}

async fn models(State(g): State<Arc<Gateway>>) -> Response {
    let workers = match g.router.workers(&g.chain).await {
        Ok(w) => w,
        Err(e) => {
            return ApiError::unavailable(e).into_response();
        }
    };
    // Offers also list dedup profiles (the models of `dedup` jobs): not models to call.
    let profile = mycel_data::profile::Profile::text_v1().id();
    let mut ids: Vec<Hash> = workers
        .iter()
        .flat_map(|w| w.offer.models.iter().copied())
        .filter(|id| *id != profile)
        .collect();
    ids.sort();
    ids.dedup();
    let mut data = Vec::with_capacity(ids.len());
    for id in &ids {
        let registered = g.registered(id).await.ok().flatten();
        data.push(model_entry(&g, id, &workers, registered.as_ref()));
    }
    Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

async fn model(State(g): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    let workers = g.router.workers(&g.chain).await.unwrap_or_default();
    match g.resolve_registered(&id).await {
        Some(h) if workers.iter().any(|w| w.offer.models.contains(&h)) => {
            let registered = g.registered(&h).await.ok().flatten();
            Json(model_entry(&g, &h, &workers, registered.as_ref())).into_response()
        }
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("the model `{id}` does not exist"),
        )
        .with_param("model")
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        let v = vec![1.0f32, -2.5, 0.1, f32::MIN_POSITIVE];
        assert_eq!(decode_base64_f32(&base64_f32(&v)).unwrap(), v);
        assert_eq!(decode_base64_f32(&base64_f32(&[3.0])).unwrap(), vec![3.0]);
        assert!(decode_base64_f32("not base64!").is_none());
    }
}
