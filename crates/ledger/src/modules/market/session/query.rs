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
