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
    /// Least share of an epoch's certified blocks, in basis points, that a validator of the
    /// epoch's set must have signed; below it the validator is jailed at the epoch's end.
    #[serde(default = "default_min_signed_bps")]
    pub min_signed_bps: u16,
    /// Blocks a validator jailed for downtime stays jailed.
    #[serde(default = "default_downtime_jail")]
    pub downtime_jail: u64,
}

/// 5 %, as the Cosmos Hub's `min_signed_per_window`: a certificate carries only the quorum
/// whose votes arrived first, so a live but slower validator is left out of many of them; only
/// a validator that is really down falls this low.
fn default_min_signed_bps() -> u16 {
    500
}

fn default_downtime_jail() -> u64 {
    100
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
            min_signed_bps: default_min_signed_bps(),
            downtime_jail: default_downtime_jail(),
        }
    }
}
