//! Read-only queries of the `device` module, used by the API and the edge worker.

use super::state::*;
use crate::{Result, state::key};
use mycel_primitives::Address;
use mycel_store::StateRead;

fn decode_all<T: mycel_primitives::codec::Read<Cfg = ()>>(
    rows: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<Vec<T>> {
    rows.into_iter()
        .map(|(k, v)| mycel_primitives::codec::decode(&v).map_err(|e| crate::state::corrupt(&k, e)))
        .collect()
}

/// The big-endian u64 a state key ends with (a round, job or unit number).
pub(super) fn u64_suffix(k: &[u8]) -> Result<u64> {
    k.get(k.len().saturating_sub(8)..)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| crate::state::corrupt(k, "bad u64 key suffix"))
}

/// The address a state key ends with.
pub(super) fn addr_suffix(k: &[u8]) -> Result<Address> {
    k.get(k.len().saturating_sub(20)..)
        .and_then(|s| s.try_into().ok())
        .map(Address)
        .ok_or_else(|| crate::state::corrupt(k, "bad address key suffix"))
}

/// Device `d`.
pub fn device(state: &(impl StateRead + ?Sized), d: &Address) -> Result<Option<DeviceEntry>> {
    crate::state::read::<DeviceEntry>(state, &device_key(d))
}

/// Every device, by address.
pub fn devices(state: &(impl StateRead + ?Sized)) -> Result<Vec<DeviceEntry>> {
    decode_all(state.scan_prefix(DEVICE)?)
}

/// The devices of `owner`.
pub fn devices_of(state: &(impl StateRead + ?Sized), owner: &Address) -> Result<Vec<DeviceEntry>> {
    let prefix = key(OWNER, &[&owner.0]);
    let mut out = Vec::new();
    for (k, _) in state.scan_prefix(&prefix)? {
        out.extend(device(state, &addr_suffix(&k)?)?);
    }
    Ok(out)
}

/// Round `r`, while it is open.
pub fn round(state: &(impl StateRead + ?Sized), r: u64) -> Result<Option<Round>> {
    crate::state::read::<Round>(state, &round_key(r))
}

/// The rounds not yet closed, oldest first.
pub fn open_rounds(state: &(impl StateRead + ?Sized)) -> Result<Vec<Round>> {
    let mut out = Vec::new();
    for (k, _) in state.scan_prefix(OPEN_ROUND)? {
        out.extend(round(state, u64_suffix(&k)?)?);
    }
    Ok(out)
}

/// `d`'s probe in round `r`, while the round is open.
pub fn probe(state: &(impl StateRead + ?Sized), r: u64, d: &Address) -> Result<Option<Probe>> {
    crate::state::read::<Probe>(state, &probe_key(r, d))
}

/// The probes of open round `r`, by device.
pub fn probes_of(state: &(impl StateRead + ?Sized), r: u64) -> Result<Vec<Probe>> {
    decode_all(state.scan_prefix(&key(PROBE, &[&r.to_be_bytes()]))?)
}

/// The open probes of `d` (with their rounds), oldest first: what a device or a checker works on.
pub fn probes_for(state: &(impl StateRead + ?Sized), d: &Address) -> Result<Vec<(Round, Probe)>> {
    let mut out = Vec::new();
    for r in open_rounds(state)? {
        if let Some(p) = probe(state, r.id, d)? {
            out.push((r, p));
        }
    }
    Ok(out)
}

/// The open probes `checker` was drawn to check, oldest first.
pub fn checks_for(
    state: &(impl StateRead + ?Sized),
    checker: &Address,
) -> Result<Vec<(Round, Probe)>> {
    let mut out = Vec::new();
    for r in open_rounds(state)? {
        for p in probes_of(state, r.id)? {
            if p.checked && p.checker == *checker {
                out.push((r.clone(), p));
            }
        }
    }
    Ok(out)
}

/// Edge job `id`.
pub fn edge_job(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<EdgeJob>> {
    crate::state::read::<EdgeJob>(state, &job_key(id))
}

/// Every edge job, oldest first.
pub fn edge_jobs(state: &(impl StateRead + ?Sized)) -> Result<Vec<EdgeJob>> {
    decode_all(state.scan_prefix(JOB)?)
}

/// Unit `u` of job `job` (none until first leased).
pub fn unit(state: &(impl StateRead + ?Sized), job: u64, u: u64) -> Result<Option<Unit>> {
    crate::state::read::<Unit>(state, &unit_key(job, u))
}

/// The units of `job` leased at least once, with their numbers, in order.
pub fn units_of(state: &(impl StateRead + ?Sized), job: u64) -> Result<Vec<(u64, Unit)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(&key(UNIT, &[&job.to_be_bytes()]))? {
        let u = mycel_primitives::codec::decode(&v).map_err(|e| crate::state::corrupt(&k, e))?;
        out.push((u64_suffix(&k)?, u));
    }
    Ok(out)
}
