//! Read-only queries of the `model` module, used by `market` and the API.

use super::{ModelError, msg::*, state::*};
use crate::{Result, state::key};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;

/// A registered version.
pub fn version(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Option<Version>> {
    crate::state::read::<Version>(state, &version_key(id))
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

/// The registered ancestors of `v`, breadth-first (nearest first; each version's parents in ID
/// order; a version reached twice, through a merge, listed once), at most `max`; the flag is true
/// when there were more. The one walk up a lineage: access checks, lineage graphs and lineage
/// proofs all take it.
pub fn ancestors(
    state: &(impl StateRead + ?Sized),
    v: &Version,
    max: usize,
) -> Result<(Vec<Version>, bool)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::from([v.registration.id]);
    let sorted = |v: &Version| {
        let mut p = v.registration.parents.clone();
        p.sort();
        p
    };
    let mut queue = std::collections::VecDeque::from(sorted(v));
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p) {
            continue;
        }
        let Some(pv) = version(state, &p)? else {
            continue;
        };
        if out.len() == max {
            return Ok((out, true));
        }
        queue.extend(sorted(&pv));
        out.push(pv);
    }
    Ok((out, false))
}

/// Most versions [`may_use`] checks (a model and its ancestors).
pub const MAX_POLICY_WALK: usize = 256;

/// Whether `account` may use model `id` in a job or a session: every gated version in its
/// lineage (itself and all its ancestors) must be its own or grant it use, so a grantee cannot
/// pass a gated model on by deriving from it. Unregistered and public versions are open to all.
/// Deterministic and bounded: at most [`MAX_POLICY_WALK`] versions, in [`ancestors`]' order.
pub fn may_use(
    state: &(impl StateRead + ?Sized),
    id: &Hash,
    account: &Address,
) -> Result<std::result::Result<(), ModelError>> {
    let Some(v) = version(state, id)? else {
        return Ok(Ok(()));
    };
    let (ancestors, truncated) = ancestors(state, &v, MAX_POLICY_WALK - 1)?;
    for m in std::iter::once(&v).chain(&ancestors) {
        let mid = m.registration.id;
        if m.registration.access == Access::Gated
            && m.owner != *account
            && !granted(state, &mid, account)?
        {
            return Ok(Err(ModelError::NotGranted {
                id: mid,
                account: *account,
            }));
        }
    }
    if truncated {
        return Ok(Err(ModelError::LineageTooDeep {
            id: *id,
            max: MAX_POLICY_WALK,
        }));
    }
    Ok(Ok(()))
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
