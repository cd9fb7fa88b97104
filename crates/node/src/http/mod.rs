//! The HTTP surface of a node, one file per surface: [`chain`] (status, transactions, accounts,
//! blocks, events, rewards, supply), [`blobs`], [`market`] (jobs, workers, sessions), [`data`]
//! (datasets, contributors), [`model`] (model versions, lineage, lineage proofs), [`agent`]
//! (MCP tools and A2A agents, their manifest versions, signed Agent Cards), [`verify`] (audits
//! and disputes), [`validators`] (validator sets per epoch and how they signed), [`earnings`]
//! (the earnings debugger) and [`dashboard`] (the page and `/metrics`). [`openai`] holds the
//! OpenAI wire format (parsing and checking requests) that the worker's session server and the
//! gateway (`roles::gateway`, merged in as extra routes) share.
//!
//! Every surface answers errors in one shape ([`error`]): `{"error": {"code", "message"}}` with
//! stable codes (the ledger's transaction error codes, plus `not_found`, `bad_request`,
//! `malformed_json`, `method_not_allowed`, `payload_too_large`, `uri_too_long`,
//! `headers_too_large`, `unavailable` and `internal`).

pub mod agent;
pub mod blobs;
pub mod chain;
pub mod dashboard;
pub mod data;
pub mod device;
pub mod earnings;
pub mod error;
pub mod market;
pub mod model;
pub mod openai;
pub mod sync;
pub mod validators;
pub mod verify;

pub use chain::{
    BlockEvents, BlockView, EventView, StateProof, Status, Submitted, SupplyAudit, TxStatus,
};
pub use earnings::{Earnings, EpochEarnings};
pub use error::{ApiError, ErrorBody, ErrorDetail};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use mycel_consensus::Chain;
use mycel_primitives::Address;
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
    /// Bytes of blobs one account may upload to this node.
    pub blob_quota: u64,
    /// Other nodes' APIs: where a missing blob is fetched from, and where uploads are pushed.
    pub blob_peers: crate::net::Peers,
    /// How many peers an accepted upload is pushed to.
    pub blob_replicas: usize,
    /// Held by an upload while it is charged and written (the collector deletes exclusively).
    pub upload_lock: crate::net::gc::UploadLock,
    /// Where admitted transactions go to be pushed to the other validators.
    pub gossip: Option<futures::channel::mpsc::UnboundedSender<Vec<u8>>>,
}

/// The node's router: every surface (and `extra`, e.g. the gateway's routes), with the shared
/// error shape and limits.
pub fn router(state: ApiState, max_body: usize, extra: Option<Router>) -> Router {
    let blobs = Router::new()
        .route("/api/v1/blobs", post(blobs::put_blob))
        .layer(DefaultBodyLimit::max(blobs::MAX_BLOB_BYTES));
    let rest = Router::new()
        .merge(blobs)
        .route("/api/v1/blobs/{hash}", get(blobs::get_blob))
        .route("/api/v1/status", get(chain::status))
        .route("/api/v1/sync/snapshot", get(sync::snapshot))
        .route("/api/v1/sync/handoffs", get(sync::handoffs))
        .route("/api/v1/txs", post(chain::submit_tx))
        .route("/api/v1/txs/{hash}", get(chain::tx_status))
        .route("/api/v1/accounts/{address}", get(chain::get_account))
        .route("/api/v1/blocks/{height}", get(chain::get_block))
        .route("/api/v1/blocks/{height}/events", get(chain::block_events))
        .route("/api/v1/events", get(chain::events))
        .route("/api/v1/rewards/{epoch}", get(chain::get_rewards))
        .route("/api/v1/supply", get(chain::supply))
        .route("/api/v1/validators", get(validators::get_validators))
        .route("/api/v1/validators/epochs", get(validators::list_epochs))
        .route("/api/v1/datasets", get(data::list_datasets))
        .route("/api/v1/datasets/{root}", get(data::get_dataset))
        .route(
            "/api/v1/contributors/{address}/datasets",
            get(data::contributor_datasets),
        )
        .route("/api/v1/models", get(model::list_models))
        .route("/api/v1/models/{id}", get(model::get_model))
        .route("/api/v1/models/{id}/lineage", get(model::get_lineage))
        .route("/api/v1/models/{id}/proof", get(model::get_proof))
        .route(
            "/api/v1/models/{id}/access/{address}",
            get(model::get_access),
        )
        .route("/api/v1/devices", get(device::list_devices))
        .route("/api/v1/devices/{addr}", get(device::get_device))
        .route("/api/v1/device-checks/{checker}", get(device::get_checks))
        .route("/api/v1/edge/jobs", get(device::list_jobs))
        .route("/api/v1/edge/jobs/{id}", get(device::get_job))
        .route("/api/v1/tools", get(agent::list_tools))
        .route("/api/v1/tool-definitions", get(agent::list_definitions))
        .route("/api/v1/tools/{id}", get(agent::get_tool))
        .route("/api/v1/tools/{id}/versions", get(agent::tool_versions))
        .route("/api/v1/agents", get(agent::list_agents))
        .route("/api/v1/agents/{id}", get(agent::get_agent))
        .route("/api/v1/agents/{id}/versions", get(agent::agent_versions))
        .route("/api/v1/agents/{id}/card", get(agent::agent_card))
        .route("/api/v1/jobs", get(market::list_jobs))
        .route("/api/v1/jobs/{id}", get(market::get_job))
        .route(
            "/api/v1/jobs/{id}/verification",
            get(verify::job_verification),
        )
        .route(
            "/api/v1/auditors/{address}/audits",
            get(verify::auditor_audits),
        )
        .route("/api/v1/disputes", get(verify::open_disputes))
        .route("/api/v1/disputes/{id}", get(verify::get_dispute))
        .route("/api/v1/workers", get(market::list_workers))
        .route("/api/v1/workers/{address}/jobs", get(market::worker_jobs))
        .route("/api/v1/workers/{address}/offer", get(market::worker_offer))
        .route(
            "/api/v1/workers/{address}/session-disputes",
            get(market::worker_session_disputes),
        )
        .route("/api/v1/sessions", get(market::list_sessions))
        .route("/api/v1/sessions/{id}", get(market::get_session))
        .route("/api/v1/sessions/{id}/proof", get(chain::session_proof))
        .route("/api/v1/earnings/{address}", get(earnings::earnings))
        .route("/metrics", get(dashboard::metrics))
        .route("/", get(dashboard::dashboard))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    let rest = match extra {
        Some(extra) => rest.merge(extra.layer(DefaultBodyLimit::max(max_body))),
        None => rest,
    };
    with_error_shape(rest)
}

/// Wraps a router in the shared error shape: a JSON 404 for unknown paths, every non-JSON error
/// rewritten into the shape, and the URI and header limits.
pub fn with_error_shape(router: Router) -> Router {
    router
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(error::limits))
}

/// Most connections one client address may hold open at once; beyond it new ones are closed
/// at accept, so one greedy client cannot take every slot.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 512;
/// Most connections open at once in all.
pub const MAX_CONNECTIONS: usize = 8_192;
/// How long a client has to send a request head (slowloris).
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a client has to send a request body.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `router` (HTTP/1.1) on `listener` until the process stops.
///
/// The parser's own limits are set above [`error::MAX_URI_BYTES`], [`error::MAX_HEADER_BYTES`]
/// and [`error::MAX_HEADERS`], so a client meets those, answered in the error shape by
/// [`error::limits`]. Only what the parser refuses before any code of ours runs gets a bare
/// status: a request target above 64 KiB (414), more than ten times the header limits (431).
/// Slow or greedy clients: a request head must arrive within [`HEADER_READ_TIMEOUT`] and a body
/// within [`BODY_READ_TIMEOUT`], and one client address holds at most
/// [`MAX_CONNECTIONS_PER_CLIENT`] connections.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        service::TowerToHyperService,
    };
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        BODY_READ_TIMEOUT,
    ));
    let open: Arc<parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> =
        Arc::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin or stop serving.
                tracing::warn!(target: "mycel::http", error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = peer.ip();
        {
            let mut open = open.lock();
            let total: usize = open.values().sum();
            let mine = open.entry(ip).or_default();
            if *mine >= MAX_CONNECTIONS_PER_CLIENT || total >= MAX_CONNECTIONS {
                tracing::debug!(target: "mycel::http", %ip, "connection refused: over the cap");
                drop(stream);
                continue;
            }
            *mine += 1;
        }
        let service = TowerToHyperService::new(router.clone());
        let open = open.clone();
        tokio::spawn(async move {
            let mut http1 = hyper::server::conn::http1::Builder::new();
            // Ten times our limits: beyond these the parser answers a bare 431 (the header
            // slots are allocated per request, so this cannot grow without bound).
            http1
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_headers(10 * error::MAX_HEADERS)
                .max_buf_size(10 * (error::MAX_HEADER_BYTES + error::MAX_URI_BYTES));
            // A client that goes away mid-request is not the server's error.
            let _ = http1
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            let mut open = open.lock();
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        });
    }
}
