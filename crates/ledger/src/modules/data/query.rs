//! Read-only queries of the `data` module, used by other modules and the API.

use super::state::*;
use crate::{Result, state::key};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;

/// A registered dataset.
pub fn dataset(state: &(impl StateRead + ?Sized), root: &Hash) -> Result<Option<Dataset>> {
    crate::state::read::<Dataset>(state, &dataset_key(root))
}

/// The `limit` most recently registered datasets, newest first (ties by root). Scans every
/// dataset: for dashboards and operators, not for the state machine.
pub fn recent_datasets(state: &(impl StateRead + ?Sized), limit: usize) -> Result<Vec<Dataset>> {
    let mut all = state
        .scan_prefix(DS)?
        .into_iter()
        .map(|(k, v)| {
            mycel_primitives::codec::decode::<Dataset>(&v).map_err(|e| crate::state::corrupt(&k, e))
        })
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| {
        b.height
            .cmp(&a.height)
            .then(a.registration.root.cmp(&b.registration.root))
    });
    all.truncate(limit);
    Ok(all)
}

/// Up to `limit` datasets in registration order, starting with the one whose `seq` is `from`
/// (point reads: cheap whatever the chain's size).
pub fn datasets_from(
    state: &(impl StateRead + ?Sized),
    from: u64,
    limit: usize,
) -> Result<Vec<Dataset>> {
    let mut out = Vec::new();
    for seq in from..from.saturating_add(limit as u64) {
        let k = key(ORDER, &[&seq.to_be_bytes()]);
        let Some(root) = state.get(&k)? else {
            break;
        };
        let root = Hash(
            root.as_slice()
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad order entry"))?,
        );
        out.push(dataset(state, &root)?.ok_or_else(|| crate::state::corrupt(&k, "no dataset"))?);
    }
    Ok(out)
}

/// The roots of the datasets `contributor` registered, in root order.
pub fn datasets_of(state: &(impl StateRead + ?Sized), contributor: &Address) -> Result<Vec<Hash>> {
    let prefix = key(BY, &[&contributor.0]);
    state
        .scan_prefix(&prefix)?
        .into_iter()
        .map(|(k, _)| {
            k[prefix.len()..]
                .try_into()
                .map(Hash)
                .map_err(|_| crate::state::corrupt(&k, "bad attribution key"))
        })
        .collect()
}
