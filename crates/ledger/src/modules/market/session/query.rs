//! Read-only queries of the `market::session` module, used by other modules and the API.

use super::state::*;
use crate::Result;
use mycel_store::StateRead;

/// A session.
pub fn session(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Session>> {
    crate::state::read::<Session>(state, &session_key(id))
}

/// The `limit` most recently opened sessions, newest first.
pub fn recent_sessions(state: &(impl StateRead + ?Sized), limit: u64) -> Result<Vec<Session>> {
    crate::modules::market::newest(state, NEXT, limit, |id| session(state, id))
}

/// The open disputes of `worker`'s sessions, oldest session first (what its node answers).
pub fn open_disputes_of(
    state: &(impl StateRead + ?Sized),
    worker: &mycel_primitives::Address,
) -> Result<Vec<SessionDispute>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(DISPUTE)? {
        let rest = &k[DISPUTE.len()..];
        let (Some(id), Some(seq)) = (
            rest.get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes),
            rest.get(8..16)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes),
        ) else {
            return Err(crate::state::corrupt(&k, "bad dispute key"));
        };
        let Some(s) = session(state, id)? else {
            continue;
        };
        if s.worker != *worker {
            continue;
        }
        let due = v
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| crate::state::corrupt(&k, "bad dispute record"))?;
        let receipt = if v.len() > 8 {
            Some(
                mycel_primitives::codec::decode(&v[8..])
                    .map_err(|e| crate::state::corrupt(&k, e))?,
            )
        } else {
            None
        };
        out.push(SessionDispute {
            session: id,
            seq,
            due,
            receipt,
        });
    }
    Ok(out)
}
