//! Read-only queries of the `market` module, used by other modules and the API.

use super::{msg::*, state::*};
use crate::modules::staking;
use crate::{Result, state::key};
use mycel_primitives::Address;
use mycel_store::StateRead;

/// A worker's offer.
pub fn offer(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<Option<Offer>> {
    crate::state::read::<Offer>(state, &key(OFFER, &[&worker.0]))
}

/// A job.
pub fn job(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Job>> {
    crate::state::read::<Job>(state, &job_key(id))
}

/// The `limit` most recent jobs, newest first.
pub fn recent_jobs(state: &(impl StateRead + ?Sized), limit: u64) -> Result<Vec<Job>> {
    newest(state, NEXT, limit, |id| job(state, id))
}

/// The items numbered below the counter at `next_key`, the `limit` highest first.
pub(super) fn newest<T>(
    state: &(impl StateRead + ?Sized),
    next_key: &[u8],
    limit: u64,
    get: impl Fn(u64) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let next = crate::state::read::<u64>(state, next_key)?.unwrap_or(0);
    (next.saturating_sub(limit)..next)
        .rev()
        .filter_map(|id| get(id).transpose())
        .collect()
}

/// Every published offer, by worker address.
pub fn offers(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Offer)>> {
    by_address(state, OFFER)
}

/// Every `(address, value)` stored under `prefix ‖ address`.
fn by_address<T: mycel_primitives::codec::Read<Cfg = ()>>(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
) -> Result<Vec<(Address, T)>> {
    state
        .scan_prefix(prefix)?
        .into_iter()
        .map(|(k, v)| {
            let a = Address(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad address key"))?,
            );
            let t = mycel_primitives::codec::decode::<T>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?;
            Ok((a, t))
        })
        .collect()
}

/// A worker's reputation.
pub fn reputation(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, &key(REP, &[&worker.0]))?.unwrap_or(START_REPUTATION))
}

/// IDs of the jobs ever assigned to `worker`, ascending.
pub fn jobs_of(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<Vec<u64>> {
    let p = key(BY_WORKER, &[&worker.0]);
    state
        .scan_prefix(&p)?
        .into_iter()
        .map(|(k, _)| {
            Ok(u64::from_be_bytes(
                k[p.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad key"))?,
            ))
        })
        .collect()
}

/// Why a worker can or cannot be assigned jobs right now, in plain words (the earnings
/// debugger shows these). Empty when it is eligible for every job its offer names.
pub fn blockers(
    state: &(impl StateRead + ?Sized),
    params: &crate::params::Params,
    height: u64,
    worker: &Address,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let min = params.staking.min_stake[staking::Role::Worker as usize];
    let stake = staking::stake(state, worker, staking::Role::Worker)?;
    if stake < min {
        out.push(format!(
            "below minimum stake: {stake} bonded as worker, {min} required"
        ));
    }
    if let Some(until) = staking::jailed_until(state, worker)?.filter(|u| *u > height) {
        out.push(format!("jailed until height {until}"));
    }
    let unbonding: Vec<_> = staking::unbonding(state, worker)?
        .into_iter()
        .filter(|(_, r, _)| *r == staking::Role::Worker)
        .collect();
    for (h, _, a) in unbonding {
        out.push(format!(
            "unbonding {a} of worker stake (released at height {h})"
        ));
    }
    match offer(state, worker)? {
        None => out.push("no offer published: publish one with `mycel tx offer`".into()),
        Some(o) if o.models.is_empty() => out.push("the offer serves no model".into()),
        Some(_) => {}
    }
    let rep = reputation(state, worker)?;
    if rep < START_REPUTATION {
        out.push(format!("reputation {rep} below the starting {START_REPUTATION} after missed deadlines: fewer assignments"));
    }
    Ok(out)
}

/// Work units settled by each worker in `epoch`, in address order.
pub fn units(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Vec<(Address, u64)>> {
    per_epoch(state, UNITS, epoch)
}

/// Fees of jobs settled in `epoch` that someone other than the worker posted, per worker.
pub fn independent_fees(
    state: &(impl StateRead + ?Sized),
    epoch: u64,
) -> Result<Vec<(Address, u64)>> {
    per_epoch(state, FEES, epoch)
}

/// Novel bytes of each contributor's datasets used by jobs settled in `epoch`.
pub fn data_used(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Vec<(Address, u64)>> {
    per_epoch(state, USED, epoch)
}

fn per_epoch(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
    epoch: u64,
) -> Result<Vec<(Address, u64)>> {
    by_address(state, &key(prefix, &[&epoch.to_be_bytes()]))
}
