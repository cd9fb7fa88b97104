//! Event kinds the `staking` module emits (`staking.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `staking.bond`.
pub const BOND: &str = "staking.bond";
/// `staking.downtime`: a validator signed too few of its epoch's certified blocks (followed by
/// `staking.jail`).
pub const DOWNTIME: &str = "staking.downtime";
/// A validator was slashed and tombstoned for signing conflicting votes.
pub const EQUIVOCATION: &str = "staking.equivocation";
/// `staking.jail`.
pub const JAIL: &str = "staking.jail";
/// `staking.slash`.
pub const SLASH: &str = "staking.slash";
/// `staking.unbond`.
pub const UNBOND: &str = "staking.unbond";
/// `staking.unbond_released`.
pub const UNBOND_RELEASED: &str = "staking.unbond_released";
/// `staking.unjail`.
pub const UNJAIL: &str = "staking.unjail";
/// `staking.validator_set`.
pub const VALIDATOR_SET: &str = "staking.validator_set";
