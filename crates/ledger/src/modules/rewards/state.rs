//! Stored types and state keys of the `rewards` module.

use mycel_primitives::{Address, Amount};

pub(super) const EPOCH: &[u8] = b"rewards/epoch/";

/// Holds the emission shares whose earners are not yet on chain.
pub fn reserve() -> Address {
    Address::module("rewards_reserve")
}

/// What an epoch paid out.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochSummary {
    /// Minted this epoch.
    pub emission: Amount,
    /// Paid to validators from the emission.
    pub validators: Amount,
    /// Fees paid to validators.
    pub fees: Amount,
    /// Paid to workers by independent fees (capped per fee).
    pub workers: Amount,
    /// Paid to data contributors by novel bytes used.
    pub data: Amount,
    /// Paid to auditors by audits completed.
    pub auditors: Amount,
    /// Paid to edge device owners by records their devices had credited.
    pub edge: Amount,
    /// Sent to the reserve (shares not yet claimable plus dust).
    pub reserved: Amount,
    /// Validators of the set that were paid (those that signed a certified block).
    pub validator_count: u32,
}

mycel_primitives::impl_codec!(EpochSummary {
    emission,
    validators,
    fees,
    workers,
    data,
    auditors,
    edge,
    reserved,
    validator_count,
});
