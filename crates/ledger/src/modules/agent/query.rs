//! Read-only queries of the `agent` module, used by `market` and the API.

use super::{msg::*, state::*};
use crate::{Result, state::key};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;

/// Entry `id`.
pub fn entry(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Option<Entry>> {
    crate::state::read::<Entry>(state, &entry_key(id))
}

/// The entry named `name` of `kind`.
pub fn named(state: &(impl StateRead + ?Sized), kind: Kind, name: &str) -> Result<Option<Entry>> {
    entry(state, &entry_id(kind, name))
}

/// The registered manifest with hash `h`.
pub fn doc(state: &(impl StateRead + ?Sized), h: &Hash) -> Result<Option<Doc>> {
    crate::state::read::<Doc>(state, &doc_key(h))
}

/// The entry whose versions include manifest `h`, with that version's document.
pub fn by_manifest(state: &(impl StateRead + ?Sized), h: &Hash) -> Result<Option<(Entry, Doc)>> {
    let Some(d) = doc(state, h)? else {
        return Ok(None);
    };
    Ok(entry(state, &d.entry)?.map(|e| (e, d)))
}

/// The manifest hashes of every version of `id`, oldest first.
pub fn versions(state: &(impl StateRead + ?Sized), id: &Hash) -> Result<Vec<Hash>> {
    state
        .scan_prefix(&key(VERSION, &[&id.0]))?
        .into_iter()
        .map(|(k, v)| {
            v.try_into()
                .map(Hash)
                .map_err(|_| crate::state::corrupt(&k, "bad version value"))
        })
        .collect()
}

fn ids(state: &(impl StateRead + ?Sized), prefix: &[u8]) -> Result<Vec<Hash>> {
    state
        .scan_prefix(prefix)?
        .into_iter()
        .map(|(k, _)| {
            k[k.len() - 32..]
                .try_into()
                .map(Hash)
                .map_err(|_| crate::state::corrupt(&k, "bad agent index key"))
        })
        .collect()
}

/// Every entry of `kind` (all statuses), in ID order, from `after` (exclusive), at most
/// `limit`.
pub fn list(
    state: &(impl StateRead + ?Sized),
    kind: Option<Kind>,
    after: Option<&Hash>,
    limit: usize,
) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(ENTRY)? {
        if after.is_some_and(|a| k[ENTRY.len()..] <= a.0[..]) {
            continue;
        }
        let e: Entry =
            mycel_primitives::codec::decode(&v).map_err(|e| crate::state::corrupt(&k, e))?;
        if kind.is_none_or(|kind| e.kind == kind) {
            out.push(e);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// The entries `owner` registered, in ID order.
pub fn owned_by(state: &(impl StateRead + ?Sized), owner: &Address) -> Result<Vec<Hash>> {
    ids(state, &key(OWNER, &[&owner.0]))
}

/// The agents with a skill whose ID or tag is `skill` (ASCII case-insensitive), in ID order.
pub fn with_skill(state: &(impl StateRead + ?Sized), skill: &str) -> Result<Vec<Hash>> {
    ids(state, &skill_prefix(&skill.to_ascii_lowercase()))
}

pub(super) fn skill_prefix(skill: &str) -> Vec<u8> {
    key(SKILL, &[skill.as_bytes(), &[0]])
}
