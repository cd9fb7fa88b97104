//! Edge-device REST: devices with their records, the open probes a device answers or a checker
//! checks (with the round's windows and the chain's block time, so a device on any clock knows
//! where the round stands), and edge jobs with their units.

use super::{
    ApiState,
    chain::load_block,
    error::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, Query, State},
};
use mycel_ledger::modules::device::{self, DeviceEntry, EdgeJob, Probe, Round, Unit};
use mycel_primitives::{Address, Hash};
use serde::{Deserialize, Serialize};

/// One open probe, without the answer bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProbeView {
    /// Round.
    pub round: u64,
    /// Seed of the round's canary texts.
    pub seed: Hash,
    /// Block time the round started.
    pub start_ms: u64,
    /// Seals are due by this block time.
    pub seal_end_ms: u64,
    /// Checkers seal by this block time; reveals open after it.
    pub check_end_ms: u64,
    /// Reveals are due by this block time.
    pub reveal_end_ms: u64,
    /// Whether the checks are drawn.
    pub drawn: bool,
    /// The device.
    pub device: Address,
    /// Records to embed.
    pub records: u32,
    /// Edge job (0: a canary).
    pub job: u64,
    /// Unit of the job.
    pub unit: u64,
    /// The device's seal, if sent.
    pub sealed: Option<Hash>,
    /// Whether the device revealed.
    pub revealed: bool,
    /// Whether the probe is checked.
    pub checked: bool,
    /// The checker, if drawn.
    pub checker: Option<Address>,
    /// The checker's seal, if sent.
    pub check_sealed: Option<Hash>,
    /// Whether the checker revealed.
    pub check_revealed: bool,
}

/// `GET /api/v1/devices/{addr}`: a device and its open probes.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DeviceView {
    /// The device.
    pub device: DeviceEntry,
    /// Its open probes, oldest first.
    pub probes: Vec<ProbeView>,
    /// Time of the last finalized block.
    pub now_ms: u64,
}

/// `GET /api/v1/device-checks/{checker}`: the probes a checker was drawn for.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ChecksView {
    /// Probes, oldest first.
    pub probes: Vec<ProbeView>,
    /// Time of the last finalized block.
    pub now_ms: u64,
}

/// `GET /api/v1/edge/jobs/{id}`: an edge job and its units.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EdgeJobView {
    /// The job.
    pub job: EdgeJob,
    /// Units leased at least once, with their numbers.
    pub units: Vec<(u64, Unit)>,
}

/// Filters of `GET /api/v1/devices`.
#[derive(Deserialize, Debug, Default)]
pub struct DevicesQuery {
    /// Only this owner's devices.
    pub owner: Option<String>,
}

fn some(h: Hash) -> Option<Hash> {
    (h != Hash::ZERO).then_some(h)
}

fn probe_view(p: &device::Params, r: &Round, pr: &Probe) -> ProbeView {
    ProbeView {
        round: r.id,
        seed: r.seed,
        start_ms: r.start_ms,
        seal_end_ms: r.seal_end(p),
        check_end_ms: r.check_end(p),
        reveal_end_ms: r.reveal_end(p),
        drawn: r.check_seed != Hash::ZERO,
        device: pr.device,
        records: pr.records,
        job: pr.job,
        unit: pr.unit,
        sealed: some(pr.sealed),
        revealed: !pr.answer.is_empty(),
        checked: pr.checked,
        checker: pr.checked.then_some(pr.checker),
        check_sealed: some(pr.check_sealed),
        check_revealed: !pr.reference.is_empty(),
    }
}

fn address(a: &str, param: &str) -> Result<Address, ApiError> {
    a.parse::<Address>().map_err(|e: mycel_primitives::Error| {
        ApiError::bad_request(e.to_string()).with_param(param)
    })
}

fn now_ms(s: &ApiState) -> Result<u64, ApiError> {
    let head = s.chain.head().map_err(ApiError::internal)?;
    Ok(load_block(s, head.height)?.timestamp_ms)
}

/// `GET /api/v1/devices?owner=`: every device (or one owner's), by address.
pub(crate) async fn list_devices(
    State(s): State<ApiState>,
    Query(q): Query<DevicesQuery>,
) -> ApiResult<Vec<DeviceEntry>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let out = match q.owner.as_deref() {
        Some(o) => device::devices_of(&state, &address(o, "owner")?),
        None => device::devices(&state),
    }
    .map_err(ApiError::internal)?;
    Ok(Json(out))
}

/// `GET /api/v1/devices/{addr}`.
pub(crate) async fn get_device(
    State(s): State<ApiState>,
    Path(a): Path<String>,
) -> ApiResult<DeviceView> {
    let addr = address(&a, "device")?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let d = device::device(&state, &addr)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no device {addr}")))?;
    let p = mycel_ledger::execute::params(&state).map_err(ApiError::internal)?;
    let probes = device::probes_for(&state, &addr)
        .map_err(ApiError::internal)?
        .iter()
        .map(|(r, pr)| probe_view(&p.device, r, pr))
        .collect();
    Ok(Json(DeviceView {
        device: d,
        probes,
        now_ms: now_ms(&s)?,
    }))
}

/// `GET /api/v1/device-checks/{checker}`.
pub(crate) async fn get_checks(
    State(s): State<ApiState>,
    Path(a): Path<String>,
) -> ApiResult<ChecksView> {
    let addr = address(&a, "checker")?;
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let p = mycel_ledger::execute::params(&state).map_err(ApiError::internal)?;
    let probes = device::checks_for(&state, &addr)
        .map_err(ApiError::internal)?
        .iter()
        .map(|(r, pr)| probe_view(&p.device, r, pr))
        .collect();
    Ok(Json(ChecksView {
        probes,
        now_ms: now_ms(&s)?,
    }))
}

/// `GET /api/v1/edge/jobs`: every edge job, oldest first.
pub(crate) async fn list_jobs(State(s): State<ApiState>) -> ApiResult<Vec<EdgeJob>> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    Ok(Json(device::edge_jobs(&state).map_err(ApiError::internal)?))
}

/// `GET /api/v1/edge/jobs/{id}`.
pub(crate) async fn get_job(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
) -> ApiResult<EdgeJobView> {
    let state = s.chain.finalized_state().map_err(ApiError::internal)?;
    let job = device::edge_job(&state, id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no edge job {id}")))?;
    let units = device::units_of(&state, id).map_err(ApiError::internal)?;
    Ok(Json(EdgeJobView { job, units }))
}
