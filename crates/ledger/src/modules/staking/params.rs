//! Parameters of the `staking` module (the `staking` section of the genesis `params`).

use mycel_primitives::Amount;

/// Staking parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks between an unbond and the release of its tokens.
    pub unbonding_delay: u64,
    /// Minimum stake per role, indexed by [`Role`] as usize.
    pub min_stake: [Amount; 4],
    /// Largest validator set.
    pub max_validators: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            unbonding_delay: 100,
            min_stake: [
                Amount::from_myc(1_000),
                Amount::from_myc(100),
                Amount::from_myc(100),
                Amount::from_myc(10),
            ],
            max_validators: 100,
        }
    }
}
