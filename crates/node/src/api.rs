//! The HTTP API: chain REST under `/api/v1`, Prometheus metrics at `/metrics`.
//!
//! Errors are JSON `{"error": {"code": "...", "message": "..."}}` with stable codes (the
//! ledger's transaction error codes, plus `not_found`, `bad_request`, `malformed_json`,
//! `payload_too_large` and `internal`).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use mycel_consensus::{Chain, block};
use mycel_ledger::{
    Event, Receipt, Tx, TxError,
    events::decode_events,
    execute::account,
    modules::{bank, market, rewards},
    tx::TxView,
};
use mycel_primitives::{Address, Amount, Hash, codec::decode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The chain.
    pub chain: Arc<Chain>,
    /// This node's validator address.
    pub validator: Address,
    /// Renders the Prometheus text exposition.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// The last finalized height, updated by the finalizer (long polls wait on it).
    pub finalized: tokio::sync::watch::Receiver<u64>,
    /// The node's blob store.
    pub blobs: mycel_store::BlobStore,
    /// Where admitted transactions go to be pushed to the other validators.
    pub gossip: Option<futures::channel::mpsc::UnboundedSender<Vec<u8>>>,
}

/// Largest blob accepted over HTTP.
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> ApiError {
        let status = match e {
            TxError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TxError::MempoolFull => StatusCode::SERVICE_UNAVAILABLE,
            TxError::Duplicate(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The error body.
#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: String,
    /// Human message.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code,
                    message: self.message,
                },
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A request body that could not be read: too large, or otherwise unreadable.
fn body_error(e: BytesRejection) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.body_text(),
        ),
        _ => ApiError::bad_request(e.body_text()),
    }
}

/// The router.
pub fn router(state: ApiState, max_body: usize) -> Router {
    let blobs = Router::new()
        .route("/api/v1/blobs", post(put_blob))
        .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES));
    Router::new()
        .merge(blobs)
        .route("/api/v1/blobs/{hash}", get(get_blob))
        .route("/api/v1/status", get(status))
        .route("/api/v1/txs", post(submit_tx))
        .route("/api/v1/txs/{hash}", get(tx_status))
        .route("/api/v1/accounts/{address}", get(get_account))
        .route("/api/v1/blocks/{height}", get(get_block))
        .route("/api/v1/blocks/{height}/events", get(block_events))
        .route("/api/v1/events", get(events))
        .route("/api/v1/rewards/{epoch}", get(get_rewards))
        .route("/api/v1/supply", get(supply))
        .route("/api/v1/datasets", get(list_datasets))
        .route("/api/v1/datasets/{root}", get(get_dataset))
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/workers", get(list_workers))
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/workers/{address}/jobs", get(worker_jobs))
        .route("/api/v1/workers/{address}/offer", get(worker_offer))
        .route("/api/v1/sessions/{id}", get(get_session))
        .route("/api/v1/earnings/{address}", get(earnings))
        .route(
            "/api/v1/contributors/{address}/datasets",
            get(contributor_datasets),
        )
        .route("/metrics", get(metrics))
        .route("/", get(dashboard))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// `GET /api/v1/status`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Status {
    /// Chain id.
    pub chain_id: String,
    /// Last finalized height.
    pub height: u64,
    /// State root after it.
    pub state_root: Hash,
    /// Its digest.
    pub block_hash: Hash,
    /// Current epoch.
    pub epoch: u64,
    /// Pending transactions.
    pub mempool_size: usize,
    /// This node's validator address.
    pub validator: Address,
    /// Minimum fee per transaction.
    pub min_fee: Amount,
    /// Minimum fee per encoded byte.
    pub fee_per_byte: Amount,
    /// Total supply.
    pub supply: Amount,
}

async fn status(State(s): State<ApiState>) -> ApiResult<Status> {
    let head = s.chain.head().map_err(ApiError::internal)?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let p = s.chain.params();
    Ok(Json(Status {
        chain_id: s.chain.chain_id().to_string(),
        height: head.height,
        state_root: head.root,
        block_hash: head.digest,
        epoch: rewards::epoch_of(p, head.height),
        mempool_size: s.chain.mempool_len(),
        validator: s.validator,
        min_fee: p.bank.min_fee,
        fee_per_byte: p.bank.fee_per_byte,
        supply: bank::supply(&state).map_err(ApiError::internal)?,
    }))
}

/// Body of `POST /api/v1/txs` (JSON form; raw bytes are accepted as `application/octet-stream`).
#[derive(Serialize, Deserialize, Debug)]
pub struct SubmitTx {
    /// The encoded signed transaction, hex.
    pub tx: String,
}

/// Answer of `POST /api/v1/txs`.
#[derive(Serialize, Deserialize, Debug)]
pub struct Submitted {
    /// The transaction hash.
    pub hash: Hash,
}

async fn submit_tx(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Submitted> {
    let body = body.map_err(body_error)?;
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    let bytes = if raw {
        body.to_vec()
    } else {
        let req: SubmitTx = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
        hex::decode(req.tx.trim()).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_tx",
                format!("tx is not hex: {e}"),
            )
        })?
    };
    let tx = Tx::decode_bytes(&bytes)?;
    let hash = s.chain.submit(tx)?;
    if let Some(g) = &s.gossip {
        let _ = g.unbounded_send(bytes);
    }
    Ok(Json(Submitted { hash }))
}

/// Answer of `GET /api/v1/txs/{hash}`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TxStatus {
    /// Hash.
    pub hash: Hash,
    /// `pending` (in the mempool) or `finalized`.
    pub status: String,
    /// Block height once finalized.
    pub height: Option<u64>,
    /// Index in the block.
    pub index: Option<u32>,
    /// The receipt once finalized.
    pub receipt: Option<Receipt>,
}

/// Query of `GET /api/v1/txs/{hash}`.
#[derive(Deserialize, Debug)]
pub struct TxQuery {
    /// Wait up to this many milliseconds (at most 60,000) for a pending transaction to be
    /// finalized before answering.
    pub wait_ms: Option<u64>,
}

async fn tx_status(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
    Query(q): Query<TxQuery>,
) -> ApiResult<TxStatus> {
    let hash = Hash::from_hex(&hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let wait = std::time::Duration::from_millis(q.wait_ms.unwrap_or(0).min(60_000));
    let mut finalized = s.finalized.clone();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        finalized.borrow_and_update();
        let st = tx_lookup(&s, hash)?;
        if st.status == "finalized" || tokio::time::Instant::now() >= deadline {
            return Ok(Json(st));
        }
        if tokio::time::timeout_at(deadline, finalized.changed())
            .await
            .is_err()
        {
            return Ok(Json(tx_lookup(&s, hash)?));
        }
    }
}

fn tx_lookup(s: &ApiState, hash: Hash) -> Result<TxStatus, ApiError> {
    if let Some(loc) = s.chain.store().tx(&hash).map_err(ApiError::internal)? {
        let receipt: Receipt = decode(&loc.receipt).map_err(ApiError::internal)?;
        return Ok(TxStatus {
            hash,
            status: "finalized".into(),
            height: Some(loc.height),
            index: Some(loc.index),
            receipt: Some(receipt),
        });
    }
    if s.chain.in_mempool(&hash) {
        return Ok(TxStatus {
            hash,
            status: "pending".into(),
            height: None,
            index: None,
            receipt: None,
        });
    }
    Err(ApiError::not_found(format!(
        "transaction {hash} is neither pending nor finalized"
    )))
}

async fn get_account(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<mycel_ledger::execute::AccountView> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(account(&state, &addr).map_err(ApiError::internal)?))
}

/// A block as the API shows it.
#[derive(Serialize, Deserialize, Debug)]
pub struct BlockView {
    /// Height.
    pub height: u64,
    /// Digest.
    pub hash: Hash,
    /// Parent digest.
    pub parent: Hash,
    /// Proposer's clock.
    pub timestamp_ms: u64,
    /// Proposer.
    pub proposer: Address,
    /// Post-state root.
    pub state_root: Hash,
    /// Transaction root.
    pub tx_root: Hash,
    /// Transactions with their receipts.
    pub txs: Vec<serde_json::Value>,
}

fn height_param(s: &ApiState, h: &str) -> Result<u64, ApiError> {
    if h == "latest" {
        return Ok(s.chain.head().map_err(ApiError::internal)?.height);
    }
    h.parse()
        .map_err(|_| ApiError::bad_request(format!("height {h:?} is not a number or \"latest\"")))
}

fn load_block(s: &ApiState, height: u64) -> Result<block::Block, ApiError> {
    let bytes = s
        .chain
        .store()
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    block::decode(&bytes).map_err(ApiError::internal)
}

async fn get_block(State(s): State<ApiState>, Path(h): Path<String>) -> ApiResult<BlockView> {
    let height = height_param(&s, &h)?;
    let b = load_block(&s, height)?;
    let mut txs = Vec::new();
    for t in &b.txs {
        let receipt = s
            .chain
            .store()
            .tx(&t.hash())
            .map_err(ApiError::internal)?
            .and_then(|l| decode::<Receipt>(&l.receipt).ok());
        let mut v = serde_json::to_value(TxView::from(t)).map_err(ApiError::internal)?;
        v["receipt"] = serde_json::to_value(receipt).map_err(ApiError::internal)?;
        txs.push(v);
    }
    Ok(Json(BlockView {
        height: b.height,
        hash: b.hash(),
        parent: Hash(b.parent.0),
        timestamp_ms: b.timestamp_ms,
        proposer: b.proposer,
        state_root: b.state_root,
        tx_root: b.tx_root,
        txs,
    }))
}

/// Events of one block.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct BlockEvents {
    /// Height.
    pub height: u64,
    /// Events of each successful transaction, then of the block hooks.
    pub events: Vec<EventView>,
}

/// An event with where it came from.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EventView {
    /// The transaction that emitted it (none for block hooks).
    pub tx: Option<Hash>,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

fn events_of(s: &ApiState, height: u64) -> Result<BlockEvents, ApiError> {
    let b = load_block(s, height)?;
    let mut events = Vec::new();
    for t in &b.txs {
        let h = t.hash();
        if let Some(loc) = s.chain.store().tx(&h).map_err(ApiError::internal)? {
            let r: Receipt = decode(&loc.receipt).map_err(ApiError::internal)?;
            events.extend(
                r.events
                    .into_iter()
                    .map(|event| EventView { tx: Some(h), event }),
            );
        }
    }
    if let Some(raw) = s.chain.store().events(height).map_err(ApiError::internal)? {
        events.extend(
            decode_events(&raw)
                .map_err(ApiError::internal)?
                .into_iter()
                .map(|event| EventView { tx: None, event }),
        );
    }
    Ok(BlockEvents { height, events })
}

async fn block_events(State(s): State<ApiState>, Path(h): Path<String>) -> ApiResult<BlockEvents> {
    let height = height_param(&s, &h)?;
    Ok(Json(events_of(&s, height)?))
}

/// Query of `GET /api/v1/events`.
#[derive(Deserialize, Debug)]
pub struct EventsQuery {
    /// First height (default: 100 blocks before the head).
    pub from: Option<u64>,
    /// Last height (default: the head).
    pub to: Option<u64>,
    /// Only this kind (e.g. `bank.transfer`).
    pub kind: Option<String>,
}

/// Most blocks one events query scans.
const MAX_EVENT_RANGE: u64 = 1_000;

async fn events(
    State(s): State<ApiState>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Vec<BlockEvents>> {
    let head = s.chain.head().map_err(ApiError::internal)?.height;
    let to = q.to.unwrap_or(head).min(head);
    let from = q.from.unwrap_or(to.saturating_sub(100));
    if from > to {
        return Err(ApiError::bad_request("from is above to"));
    }
    if to - from >= MAX_EVENT_RANGE {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_EVENT_RANGE} blocks per query"
        )));
    }
    let mut out = Vec::new();
    for h in from..=to {
        let mut be = events_of(&s, h)?;
        if let Some(k) = &q.kind {
            be.events.retain(|e| &e.event.kind == k);
        }
        if !be.events.is_empty() {
            out.push(be);
        }
    }
    Ok(Json(out))
}

/// Query of `GET /api/v1/rewards/{epoch}`.
#[derive(Deserialize, Debug)]
pub struct RewardsQuery {
    /// Only this account.
    pub address: Option<String>,
}

/// Answer of `GET /api/v1/rewards/{epoch}`.
#[derive(Serialize, Debug)]
pub struct RewardsView {
    /// Epoch.
    pub epoch: u64,
    /// Payout summary, once the epoch has ended.
    pub summary: Option<rewards::EpochSummary>,
    /// Every credit and debit with its reason.
    pub records: Vec<rewards::Record>,
}

async fn get_rewards(
    State(s): State<ApiState>,
    Path(epoch): Path<u64>,
    Query(q): Query<RewardsQuery>,
) -> ApiResult<RewardsView> {
    let addr = match q.address {
        Some(a) => Some(
            a.parse::<Address>()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(RewardsView {
        epoch,
        summary: rewards::summary(&state, epoch).map_err(ApiError::internal)?,
        records: rewards::records(&state, epoch, addr.as_ref()).map_err(ApiError::internal)?,
    }))
}

async fn get_dataset(
    State(s): State<ApiState>,
    Path(root): Path<String>,
) -> ApiResult<mycel_ledger::modules::data::Dataset> {
    let root = Hash::from_hex(&root).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    mycel_ledger::modules::data::dataset(&state, &root)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no dataset with root {root}")))
}

async fn contributor_datasets(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<Hash>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        mycel_ledger::modules::data::datasets_of(&state, &addr).map_err(ApiError::internal)?,
    ))
}

async fn get_job(State(s): State<ApiState>, Path(id): Path<u64>) -> ApiResult<market::Job> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::job(&state, id)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

async fn worker_offer(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<market::Offer> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::offer(&state, &addr)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("{addr} has no offer")))
}

/// Query of the list endpoints (`/api/v1/jobs`, `/sessions`, `/datasets`): newest first.
#[derive(Deserialize, Debug)]
pub struct ListQuery {
    /// Most items (default 20, at most 200).
    pub limit: Option<u64>,
}

impl ListQuery {
    fn limit(&self) -> u64 {
        self.limit.unwrap_or(20).min(200)
    }
}

async fn list_jobs(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<market::Job>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        market::recent_jobs(&state, q.limit()).map_err(ApiError::internal)?,
    ))
}

async fn list_sessions(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<market::Session>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        market::recent_sessions(&state, q.limit()).map_err(ApiError::internal)?,
    ))
}

async fn list_datasets(
    State(s): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<mycel_ledger::modules::data::Dataset>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(
        mycel_ledger::modules::data::recent_datasets(&state, q.limit() as usize)
            .map_err(ApiError::internal)?,
    ))
}

/// One entry of `GET /api/v1/workers`.
#[derive(Serialize, Debug)]
pub struct WorkerEntry {
    /// The worker.
    pub address: Address,
    /// Its offer.
    pub offer: market::Offer,
    /// Its reputation.
    pub reputation: u64,
}

async fn list_workers(State(s): State<ApiState>) -> ApiResult<Vec<WorkerEntry>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let offers = market::offers(&state).map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(offers.len());
    for (address, offer) in offers {
        out.push(WorkerEntry {
            reputation: market::reputation(&state, &address).map_err(ApiError::internal)?,
            address,
            offer,
        });
    }
    Ok(Json(out))
}

async fn get_session(State(s): State<ApiState>, Path(id): Path<u64>) -> ApiResult<market::Session> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    market::session(&state, id)
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no session {id}")))
}

async fn worker_jobs(
    State(s): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<Vec<market::Job>> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for id in market::jobs_of(&state, &addr).map_err(ApiError::internal)? {
        if let Some(j) = market::job(&state, id).map_err(ApiError::internal)?
            && j.worker == addr
        {
            out.push(j);
        }
    }
    Ok(Json(out))
}

/// Query of `GET /api/v1/earnings/{address}`.
#[derive(Deserialize, Debug)]
pub struct EarningsQuery {
    /// The epoch (default: the current one and the one before).
    pub epoch: Option<u64>,
}

/// One epoch of a node's earnings, with a reason for every figure.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EpochEarnings {
    /// Epoch.
    pub epoch: u64,
    /// Heights it covers.
    pub heights: (u64, u64),
    /// `true` once it has ended and its emissions are paid.
    pub ended: bool,
    /// Work units settled.
    pub work_units: u64,
    /// Every credit and debit, each with its reason code.
    pub records: Vec<serde_json::Value>,
    /// Sum of credits.
    pub credits: Amount,
    /// Sum of debits.
    pub debits: Amount,
}

/// Answer of `GET /api/v1/earnings/{address}`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Earnings {
    /// The node's account.
    pub address: Address,
    /// Current height.
    pub height: u64,
    /// Stake per role.
    pub stakes: Vec<(String, Amount)>,
    /// Reputation as a worker.
    pub reputation: u64,
    /// Why the node cannot get work right now (empty when nothing blocks it).
    pub blockers: Vec<String>,
    /// Jobs assigned to it: id, status, units, fee.
    pub jobs: Vec<serde_json::Value>,
    /// Epoch figures.
    pub epochs: Vec<EpochEarnings>,
}

async fn earnings(
    State(s): State<ApiState>,
    Path(address): Path<String>,
    Query(q): Query<EarningsQuery>,
) -> ApiResult<Earnings> {
    let addr: Address = address
        .parse()
        .map_err(|e: mycel_primitives::Error| ApiError::bad_request(e.to_string()))?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let height = state.version().unwrap_or(0);
    let p = s.chain.params();
    let current = rewards::epoch_of(p, height);
    let epochs: Vec<u64> = match q.epoch {
        Some(e) => vec![e],
        None => (current.saturating_sub(1)..=current).collect(),
    };
    let internal = ApiError::internal;
    let view = account(&state, &addr).map_err(internal)?;
    let mut out = Earnings {
        address: addr,
        height,
        stakes: view
            .stakes
            .iter()
            .map(|(r, a)| (r.name().to_string(), *a))
            .collect(),
        reputation: market::reputation(&state, &addr).map_err(internal)?,
        blockers: market::blockers(&state, p, height, &addr).map_err(internal)?,
        jobs: Vec::new(),
        epochs: Vec::new(),
    };
    for id in market::jobs_of(&state, &addr).map_err(internal)? {
        if let Some(j) = market::job(&state, id).map_err(internal)? {
            let why = match j.status {
                market::JobStatus::Assigned if j.worker == addr => {
                    format!("assigned, result due at height {}", j.due)
                }
                market::JobStatus::Committed if j.worker == addr => {
                    format!("result committed, settles at height {}", j.due)
                }
                market::JobStatus::Settled if j.worker == addr => {
                    format!("settled: paid {} for {} units", j.fee, j.units)
                }
                market::JobStatus::Failed => {
                    "failed: no worker delivered, poster refunded".to_string()
                }
                _ => format!("missed its deadline here; reassigned to {}", j.worker),
            };
            out.jobs.push(serde_json::json!({"id": id, "status": j.status, "units": j.units, "fee": j.fee, "reason": why}));
        }
    }
    let len = p.rewards.epoch_length.max(1);
    for e in epochs {
        let records = rewards::records(&state, e, Some(&addr)).map_err(internal)?;
        let (mut credits, mut debits) = (Amount::ZERO, Amount::ZERO);
        for r in &records {
            if r.debit {
                debits = debits.checked_add(r.amount).map_err(ApiError::internal)?;
            } else {
                credits = credits.checked_add(r.amount).map_err(ApiError::internal)?;
            }
        }
        let work_units = market::units(&state, e)
            .map_err(internal)?
            .into_iter()
            .find(|(a, _)| *a == addr)
            .map_or(0, |(_, u)| u);
        out.epochs.push(EpochEarnings {
            epoch: e,
            heights: (e * len, e * len + len - 1),
            ended: rewards::summary(&state, e).map_err(internal)?.is_some(),
            work_units,
            records: records
                .iter()
                .map(|r| serde_json::json!({"reason": r.reason, "debit": r.debit, "amount": r.amount, "explanation": explain(r.reason)}))
                .collect(),
            credits,
            debits,
        });
    }
    Ok(Json(out))
}

/// A sentence per reason code.
fn explain(r: rewards::Reason) -> &'static str {
    use rewards::Reason::*;
    match r {
        ValidatorEmission => "validator share of the epoch emission, pro rata to stake",
        FeeShare => "validator share of the epoch's transaction fees, pro rata to stake",
        FeePaid => "transaction fees this account paid",
        Slashed => "stake slashed (e.g. a missed job deadline)",
        UnbondReleased => "unbonded stake returned after the unbonding delay",
        ReservedWorkers | ReservedData | ReservedAuditors => {
            "emission share held in the reserve: no eligible earners this epoch"
        }
        Dust => "rounding remainder kept in the reserve",
        NoveltyForfeited => "novelty bond lost: a challenger proved a record was not new",
        ChallengeReward => "share of a forfeited novelty bond for a successful challenge",
        JobFee => "fee for a settled job, after the protocol fee",
        JobPaid => "cost of a settled job this account posted",
        WorkerEmission => "worker share of the epoch emission, pro rata to settled work units",
        DataEmission => {
            "data share of the epoch emission, pro rata to novel bytes used by settled jobs"
        }
    }
}

async fn put_blob(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Submitted> {
    let body = body.map_err(body_error)?;
    let blobs = s.blobs.clone();
    let hash = tokio::task::spawn_blocking(move || blobs.put(&body))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(Submitted { hash }))
}

async fn get_blob(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = Hash::from_hex(&hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let blobs = s.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&hash))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            mycel_store::Error::MissingBlob(h) => ApiError::not_found(format!("no blob {h}")),
            e => ApiError::internal(e),
        })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Answer of `GET /api/v1/supply`: an audit of the bank invariant.
#[derive(Serialize, Deserialize, Debug)]
pub struct SupplyAudit {
    /// Height audited.
    pub height: u64,
    /// Recorded total supply.
    pub supply: Amount,
    /// Everything ever burned.
    pub burned: Amount,
    /// Sum of every balance, module accounts included.
    pub balances_sum: Amount,
    /// Number of non-zero balances.
    pub accounts: usize,
    /// `supply == balances_sum`.
    pub consistent: bool,
}

async fn supply(State(s): State<ApiState>) -> ApiResult<SupplyAudit> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let height = state.version().unwrap_or(0);
    let balances = bank::balances(&state).map_err(ApiError::internal)?;
    let sum = balances
        .iter()
        .try_fold(Amount::ZERO, |acc, (_, b)| acc.checked_add(*b))
        .map_err(ApiError::internal)?;
    let supply = bank::supply(&state).map_err(ApiError::internal)?;
    Ok(Json(SupplyAudit {
        height,
        supply,
        burned: bank::burned(&state).map_err(ApiError::internal)?,
        balances_sum: sum,
        accounts: balances.len(),
        consistent: sum == supply,
    }))
}

/// The dashboard: one static page that reads this API.
const DASHBOARD: &str = include_str!("../assets/dashboard.html");

async fn dashboard() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DASHBOARD,
    )
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (s.metrics)(),
    )
}
