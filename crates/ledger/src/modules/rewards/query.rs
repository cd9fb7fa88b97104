//! Read-only queries of the `rewards` module, used by other modules and the API.

use super::state::*;
use crate::{Result, state::key};
use mycel_store::StateRead;

/// The payout summary of `epoch`, once it has ended.
pub fn summary(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Option<EpochSummary>> {
    crate::state::read::<EpochSummary>(state, &key(EPOCH, &[&epoch.to_be_bytes()]))
}
