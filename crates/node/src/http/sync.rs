//! State sync: a node serves its finalized state with what proves it, so a new node starts
//! from a recent height instead of executing every block since genesis.

use super::{
    ApiState,
    chain::{certificate_after, load_block},
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use commonware_consensus::Epochable as _;
use mycel_consensus::light::Handoff;
use mycel_primitives::Hash;
use mycel_store::StateRead as _;
use serde::{Deserialize, Serialize};

/// Answer of `GET /api/v1/sync/snapshot`: the finalized state at `height`, the blocks from
/// `height` up to one a certificate finalizes, and that certificate. A client checks the
/// certificate against the validators, the blocks' digests against each other, the snapshot
/// against the first block's state root (by rebuilding the Jellyfish Merkle tree), and then
/// executes the remaining blocks.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Snapshot {
    /// Height of the state.
    pub height: u64,
    /// Its root.
    pub state_root: Hash,
    /// Every state entry: key and value, hex.
    pub entries: Vec<(String, String)>,
    /// The genesis block, encoded, hex.
    pub genesis: String,
    /// The blocks `height..=certified`, encoded, hex.
    pub blocks: Vec<String>,
    /// The certificate of the last of them, encoded, hex.
    pub certificate: String,
    /// The validator-set changes from genesis up to the certificate's epoch (so a client that
    /// trusts only the genesis validators can check a certificate of a later set).
    #[serde(default)]
    pub handoffs: Vec<Handoff>,
}

/// Most state entries a snapshot is served with (one response; larger states need chunked
/// snapshots, not built yet).
pub const MAX_SNAPSHOT_ENTRIES: usize = 2_000_000;

pub(crate) async fn snapshot(State(s): State<ApiState>) -> ApiResult<Snapshot> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let (height, state_root) = match (state.version(), state.root()) {
        (Some(h), Some(r)) => (h, r),
        _ => {
            return Err(ApiError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "no state yet",
            ));
        }
    };
    let entries = state.scan_prefix(&[]).map_err(ApiError::internal)?;
    drop(state);
    if entries.len() > MAX_SNAPSHOT_ENTRIES {
        return Err(ApiError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} state entries, above the {MAX_SNAPSHOT_ENTRIES} one snapshot holds",
                entries.len()
            ),
        ));
    }
    let c = certificate_after(&s, height).await?;
    let blocks = (height..=c.height)
        .map(|h| load_block(&s, h).map(|b| hex::encode(mycel_consensus::block::encode(&b))))
        .collect::<Result<Vec<_>, _>>()?;
    let genesis = hex::encode(mycel_consensus::block::encode(&load_block(&s, 0)?));
    let handoffs = set_changes(&s, c.finalization.epoch().get())?;
    let mut certificate = Vec::new();
    commonware_codec::Write::write(&c, &mut certificate);
    Ok(Json(Snapshot {
        height,
        state_root,
        entries: entries
            .into_iter()
            .map(|(k, v)| (hex::encode(k), hex::encode(v)))
            .collect(),
        genesis,
        blocks,
        certificate: hex::encode(certificate),
        handoffs,
    }))
}

/// The hand-offs a client that trusts the genesis validators needs for a certificate of
/// `epoch`; 503 when this node lacks one (it state-synced past it, or was down).
pub(crate) fn set_changes(s: &ApiState, epoch: u64) -> Result<Vec<Handoff>, ApiError> {
    set_changes_since(s, 0, epoch)
}

fn set_changes_since(s: &ApiState, from: u64, epoch: u64) -> Result<Vec<Handoff>, ApiError> {
    s.chain
        .set_changes_since(from, epoch)
        .map_err(|e| ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

/// Query of `GET /api/v1/sync/handoffs`.
#[derive(Deserialize)]
pub struct HandoffsQuery {
    /// The epoch whose validators the client wants (default: the next block's).
    pub epoch: Option<u64>,
    /// The epoch whose validators the client already holds (default: 0, the genesis set).
    pub from: Option<u64>,
}

/// Answer of `GET /api/v1/sync/handoffs`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Handoffs {
    /// The epoch the hand-offs lead to.
    pub epoch: u64,
    /// The epoch whose validators they start from.
    #[serde(default)]
    pub from: u64,
    /// Each epoch end from `from` on that changed the validator set, oldest first.
    pub handoffs: Vec<Handoff>,
}

/// The validator-set changes from `from` (genesis by default) to `epoch`, each proven: what a
/// light client follows to hold the validators of a later epoch
/// (`mycel_consensus::light::TrustedSet`). A client that keeps the set it last verified asks
/// with `from` and receives only the changes since, not the whole history.
pub(crate) async fn handoffs(
    State(s): State<ApiState>,
    Query(q): Query<HandoffsQuery>,
) -> ApiResult<Handoffs> {
    let head = s.chain.head().map_err(ApiError::internal)?.height;
    let next = s.chain.epoch_of(head + 1);
    let epoch = q.epoch.unwrap_or(next);
    if epoch > next {
        return Err(ApiError::bad_request(format!(
            "epoch {epoch} has no validators yet (the next block is in epoch {next})"
        )));
    }
    let from = q.from.unwrap_or(0);
    if from > epoch {
        return Err(ApiError::bad_request(format!(
            "from ({from}) is after epoch ({epoch})"
        )));
    }
    Ok(Json(Handoffs {
        epoch,
        from,
        handoffs: set_changes_since(&s, from, epoch)?,
    }))
}
