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
