//! Read-only queries of the `verify` module.

use super::state::*;
use crate::{Result, state::key};
use mycel_primitives::Address;
use mycel_store::StateRead;

/// An audit.
pub fn audit(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Audit>> {
    crate::state::read::<Audit>(state, &audit_key(id))
}

/// A dispute.
pub fn dispute(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Dispute>> {
    crate::state::read::<Dispute>(state, &dispute_key(id))
}

/// A worker's verification record.
pub fn history(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<History> {
    Ok(crate::state::read::<History>(state, &key(HISTORY, &[&worker.0]))?.unwrap_or_default())
}

/// Every audit of job `job` (canaries included), oldest first.
pub fn audits_of(state: &(impl StateRead + ?Sized), job: u64) -> Result<Vec<Audit>> {
    Ok(all(state, AUDIT, |s, id| audit(s, id))?
        .into_iter()
        .filter(|a| a.job == job)
        .collect())
}

/// Every dispute of job `job`, oldest first.
pub fn disputes_of(state: &(impl StateRead + ?Sized), job: u64) -> Result<Vec<Dispute>> {
    Ok(all(state, DISPUTE, |s, id| dispute(s, id))?
        .into_iter()
        .filter(|d| d.job == job)
        .collect())
}

/// Audits assigned to `auditor` still waiting for a seal or a reveal.
pub fn open_audits(state: &(impl StateRead + ?Sized), auditor: &Address) -> Result<Vec<Audit>> {
    Ok(all(state, AUDIT, |s, id| audit(s, id))?
        .into_iter()
        .filter(|a| {
            &a.auditor == auditor && matches!(a.stage, AuditStage::Sealing | AuditStage::Revealing)
        })
        .collect())
}

/// Disputes still open.
pub fn open_disputes(state: &(impl StateRead + ?Sized)) -> Result<Vec<Dispute>> {
    Ok(all(state, DISPUTE, |s, id| dispute(s, id))?
        .into_iter()
        .filter(|d| d.outcome == Outcome::Open)
        .collect())
}

/// Audits each auditor completed in `epoch` (the auditor emission's weights).
pub fn audits_done(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Vec<(Address, u64)>> {
    let prefix = key(DONE, &[&epoch.to_be_bytes()]);
    state
        .scan_prefix(&prefix)?
        .into_iter()
        .map(|(k, v)| {
            let a = Address(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad address key"))?,
            );
            let n = mycel_primitives::codec::decode::<u64>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?;
            Ok((a, n))
        })
        .collect()
}

fn all<T, S: StateRead + ?Sized>(
    state: &S,
    prefix: &[u8],
    get: impl Fn(&S, u64) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (k, _) in state.scan_prefix(prefix)? {
        let id = u64::from_be_bytes(
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad id key"))?,
        );
        if let Some(t) = get(state, id)? {
            out.push(t);
        }
    }
    Ok(out)
}
