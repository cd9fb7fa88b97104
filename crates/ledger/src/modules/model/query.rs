//! Read-only queries of the `model` module, used by `market` and the API.

use super::{ModelError, msg::*, state::*};
use crate::{Result, state::key};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;

/// A registered version.
pub fn version(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Option<Version>> {
    crate::state::read::<Version>(state, &v_key(id))
}

/// Number of registered versions.
pub fn count(state: &(impl StateRead + ?Sized)) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, COUNT)?.unwrap_or(0))
}

fn suffixes<const N: usize>(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
) -> Result<Vec<[u8; N]>> {
    state
        .scan_prefix(prefix)?
        .into_iter()
        .map(|(k, _)| {
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad model index key"))
        })
        .collect()
}

/// The versions registered with `id` among their parents, in ID order.
pub fn children(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Vec<Hash>> {
    Ok(suffixes(state, &key(CHILD, &[&id.0]))?
        .into_iter()
        .map(Hash)
        .collect())
}

/// The versions `owner` owns, in ID order.
pub fn models_of(state: &(impl StateRead + ?Sized), owner: &Address) -> Result<Vec<Hash>> {
    Ok(suffixes(state, &key(OWNER, &[&owner.0]))?
        .into_iter()
        .map(Hash)
        .collect())
}

/// The versions registered under display name `name`, in ID order (names are not unique).
pub fn named(state: &(impl StateRead + ?Sized), name: &str) -> Result<Vec<Hash>> {
    Ok(suffixes(state, &name_prefix(name))?
        .into_iter()
        .map(Hash)
        .collect())
}

/// The accounts granted use of `id`, in address order.
pub fn grantees(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Vec<Address>> {
    Ok(suffixes(state, &key(GRANT, &[&id.0]))?
        .into_iter()
        .map(Address)
        .collect())
}

/// True when `account` holds a grant on `id`.
pub fn granted(state: &(impl StateRead + ?Sized), id: &Hash, account: &Address) -> Result<bool> {
    Ok(state.get(&grant_key(id, account))?.is_some())
}

/// Whether `account` may use model `id` in a job or a session: an unregistered or public model
/// is open to all; a gated one to its owner and grantees.
pub fn may_use(
    state: &(impl StateRead + ?Sized),
    id: &Hash,
    account: &Address,
) -> Result<std::result::Result<(), ModelError>> {
    let Some(v) = version(state, id)? else {
        return Ok(Ok(()));
    };
    if v.registration.access == Access::Public
        || v.owner == *account
        || granted(state, id, account)?
    {
        return Ok(Ok(()));
    }
    Ok(Err(ModelError::NotGranted {
        id: *id,
        account: *account,
    }))
}

/// Whether an offer whose accepted licences are `offer_licenses` may serve model `id`: any
/// offer may serve an unregistered model; a registered one needs its licence accepted.
pub fn offer_accepts(
    state: &(impl StateRead + ?Sized),
    id: &Hash,
    offer_licenses: &str,
) -> Result<bool> {
    Ok(match version(state, id)? {
        None => true,
        Some(v) => accepts(offer_licenses, &v.registration.license),
    })
}

/// The `limit` most recently registered versions, newest first (ties by ID). Scans every
/// version: for dashboards and operators, not for the state machine.
pub fn recent_models(state: &(impl StateRead + ?Sized), limit: usize) -> Result<Vec<Version>> {
    let mut all = state
        .scan_prefix(V)?
        .into_iter()
        .map(|(k, v)| {
            mycel_primitives::codec::decode::<Version>(&v).map_err(|e| crate::state::corrupt(&k, e))
        })
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| {
        b.height
            .cmp(&a.height)
            .then(a.registration.id.cmp(&b.registration.id))
    });
    all.truncate(limit);
    Ok(all)
}
