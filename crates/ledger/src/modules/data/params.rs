//! Parameters of the `data` module (the `data` section of the genesis `params`).

use mycel_primitives::Amount;

/// Data parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Smallest bond behind a novelty claim.
    pub min_bond: Amount,
    /// Blocks during which the bond can be taken by a challenger.
    pub challenge_window: u64,
    /// Challenger's share of a forfeited bond, basis points (the rest is burned).
    pub challenge_reward_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_bond: Amount::from_myc(10),
            challenge_window: 1_000,
            challenge_reward_bps: 5_000,
        }
    }
}
