//! Chain REST: status, transactions, accounts, blocks, events, rewards, supply.

use super::{
    ApiState,
    error::{ApiError, ApiResult, body_error},
};
use axum::extract::rejection::BytesRejection;
use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
};
use mycel_consensus::block;
use mycel_ledger::{
    Event, Receipt, Tx,
    events::decode_events,
    execute::account,
    modules::{bank, rewards},
    tx::TxView,
};
use mycel_primitives::{Address, Amount, Hash, codec::decode};
use serde::{Deserialize, Serialize};

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

/// Query of `GET /api/v1/status`.
#[derive(Deserialize, Debug, Default)]
pub struct StatusQuery {
    /// Answer once the finalized height is above this one, or when `wait_ms` has passed: a
    /// client follows the chain with one waiting request at a time instead of polling.
    pub after: Option<u64>,
    /// How long to wait for a height above `after`, in milliseconds (default 10,000, at most
    /// 60,000). Without `after` the answer is immediate.
    pub wait_ms: Option<u64>,
}

pub(crate) async fn status(
    State(s): State<ApiState>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Status> {
    if let Some(after) = q.after {
        let wait = std::time::Duration::from_millis(q.wait_ms.unwrap_or(10_000).min(60_000));
        long_poll(&s, wait, || {
            let head = s.chain.head().map_err(ApiError::internal)?;
            Ok((head.height > after, ()))
        })
        .await?;
    }
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

pub(crate) async fn submit_tx(
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
    // The durable write blocks until its group is on disk: off the async workers.
    let chain = s.chain.clone();
    let hash = tokio::task::spawn_blocking(move || chain.submit(tx))
        .await
        .map_err(ApiError::internal)??;
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

pub(crate) async fn tx_status(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
    Query(q): Query<TxQuery>,
) -> ApiResult<TxStatus> {
    let hash = Hash::from_hex(&hash).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let wait = std::time::Duration::from_millis(q.wait_ms.unwrap_or(0).min(60_000));
    let st = long_poll(&s, wait, || {
        let st = tx_lookup(&s, hash)?;
        Ok((st.status == "finalized", st))
    })
    .await?;
    Ok(Json(st))
}

/// The API's long polls: calls `check` now and after each block this node commits, until it
/// says done, `wait` has passed or the node is stopping; returns its last answer.
async fn long_poll<T>(
    s: &ApiState,
    wait: std::time::Duration,
    mut check: impl FnMut() -> Result<(bool, T), ApiError>,
) -> Result<T, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut finalized = s.finalized.clone();
    loop {
        // Marked seen before `check` reads, so a commit in between wakes the wait below.
        finalized.borrow_and_update();
        let (done, answer) = check()?;
        if done
            || !matches!(
                tokio::time::timeout_at(deadline, finalized.changed()).await,
                Ok(Ok(()))
            )
        {
            return Ok(answer);
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

pub(crate) async fn get_account(
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

/// A value of the finalized state with its proof and the proof that its root was finalized.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StateProof {
    /// The height whose post-state it is.
    pub height: u64,
    /// Its state root.
    pub state_root: Hash,
    /// The state key, hex.
    pub key: String,
    /// The value's bytes, hex.
    pub value: String,
    /// The JMT inclusion proof, hex.
    pub proof: String,
    /// Headers up to a finalization certificate.
    pub finality: mycel_consensus::light::FinalityProof,
}

/// The finalized value under `key` with its state proof, and a finality proof of the root (it
/// waits, up to a few seconds, for a later block to carry a certificate).
pub(crate) async fn prove_state(s: &ApiState, key: &[u8]) -> Result<StateProof, ApiError> {
    let mut p = prove_states(s, &[key.to_vec()]).await?;
    let (key, value, proof) = p.entries.pop().expect("one key, one entry");
    let value = value.ok_or_else(|| ApiError::not_found("no such state entry"))?;
    Ok(StateProof {
        height: p.height,
        state_root: p.state_root,
        key,
        value,
        proof,
        finality: p.finality,
    })
}

/// Several finalized state entries proven against one root, with its finality proof.
pub(crate) struct StateProofs {
    pub height: u64,
    pub state_root: Hash,
    /// Key, value (absent when the key is not in the state), JMT proof; all hex.
    pub entries: Vec<(String, Option<String>, String)>,
    pub finality: mycel_consensus::light::FinalityProof,
}

/// Proves every key in `keys` against the same finalized root (present or absent), then waits,
/// up to a few seconds, for a later block to carry a certificate of that root.
pub(crate) async fn prove_states(s: &ApiState, keys: &[Vec<u8>]) -> Result<StateProofs, ApiError> {
    let snapshot = s.chain.finalized_state().map_err(ApiError::internal)?;
    let (height, root) = match (snapshot.version(), snapshot.root()) {
        (Some(h), Some(r)) => (h, r),
        _ => {
            return Err(ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "no state yet",
            ));
        }
    };
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, proof) = snapshot.get_with_proof(key).map_err(ApiError::internal)?;
        entries.push((hex::encode(key), value.map(hex::encode), hex::encode(proof)));
    }
    drop(snapshot);
    let c = certificate_after(s, height).await?;
    let headers = (height..=c.height)
        .map(|h| load_block(s, h).map(|b| b.header()))
        .collect::<Result<Vec<_>, _>>()?;
    let handoffs = super::sync::set_changes(
        s,
        commonware_consensus::Epochable::epoch(&c.finalization).get(),
    )?;
    let mut certificate = Vec::new();
    commonware_codec::Write::write(&c, &mut certificate);
    Ok(StateProofs {
        height,
        state_root: root,
        entries,
        finality: mycel_consensus::light::FinalityProof {
            headers,
            certificate,
            handoffs,
        },
    })
}

/// The first certificate a block above `height` carries for a height at or above it (the proof
/// that `height` is final): waits up to 20 s for one.
pub(crate) async fn certificate_after(
    s: &ApiState,
    height: u64,
) -> Result<block::Certificate, ApiError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut next = height + 1;
    loop {
        let head = s.chain.head().map_err(ApiError::internal)?.height;
        while next <= head {
            let b = load_block(s, next)?;
            next += 1;
            if let Some(c) = b.certificate.filter(|c| c.height >= height) {
                return Ok(c);
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("no finalization certificate for height {height} yet; retry"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub(crate) async fn session_proof(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<StateProof> {
    Ok(Json(
        prove_state(&s, &mycel_ledger::modules::market::session_key(id)).await?,
    ))
}

pub(crate) fn load_block(s: &ApiState, height: u64) -> Result<block::Block, ApiError> {
    let bytes = s
        .chain
        .store()
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    block::decode(&bytes).map_err(ApiError::internal)
}

pub(crate) async fn get_block(
    State(s): State<ApiState>,
    Path(h): Path<String>,
) -> ApiResult<BlockView> {
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

pub(crate) async fn block_events(
    State(s): State<ApiState>,
    Path(h): Path<String>,
) -> ApiResult<BlockEvents> {
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

pub(crate) async fn events(
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

pub(crate) async fn get_rewards(
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

pub(crate) async fn supply(State(s): State<ApiState>) -> ApiResult<SupplyAudit> {
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
