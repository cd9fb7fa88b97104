//! Chain parameters: one section per module, each defined by its module (`modules::<name>::Params`).
//!
//! The section order is the serialization order of the genesis file; it is independent of the
//! module registry's order.

use crate::modules::{bank, data, device, market, rewards, staking, verify};

/// Chain parameters, one section per module.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Params {
    /// Bank.
    pub bank: bank::Params,
    /// Staking.
    pub staking: staking::Params,
    /// Rewards.
    pub rewards: rewards::Params,
    /// Data.
    pub data: data::Params,
    /// Market.
    pub market: market::Params,
    /// Verification (audits, disputes, slashing).
    pub verify: verify::Params,
    /// Edge devices (probe rounds, checks, bonds).
    pub device: device::Params,
}

impl Params {
    /// The epoch containing `height`.
    pub fn epoch(&self, height: u64) -> u64 {
        height / self.rewards.epoch_length.max(1)
    }
}
