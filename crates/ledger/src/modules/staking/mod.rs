//! `staking`: bonding and unbonding stake for roles, jailing and slashing.
//!
//! Bonded tokens move to the staking module account, so the bank's supply invariant holds.
//! Unbonded tokens wait `unbonding_delay` blocks in a queue keyed by release height and are then
//! paid back. At each epoch end the validator set of the next epoch is fixed from the bonded
//! validator stakes (highest stake first, address as tie-break, jailed accounts excluded).
//!
//! Liveness: a block may carry the signers of an earlier block's finalization certificate
//! ([`crate::execute::Certified`]); each is counted for the epoch of the carrying block. At the
//! epoch's end every member of the epoch's set that signed fewer than `min_signed_bps` of the
//! epoch's certified blocks is jailed for `downtime_jail` blocks (`staking.downtime`, then
//! `staking.jail`) and so left out of the next set. Rewards are paid by the same counts.
//!
//! State: `staking/stake/<addr><role>` → [`Amount`]; `staking/total/<role>` → [`Amount`];
//! `staking/unbond/<release height BE><addr><role>` → [`Amount`]; `staking/jail/<addr>` → until
//! height (u64); `staking/valset/<epoch BE><addr>` → stake; `staking/signed/<epoch BE><addr>` →
//! certificates signed (u64); `staking/certified/<epoch BE>` → certificates counted (u64);
//! `staking/last_certified` → the last certified height (u64).

pub mod events;
mod exec;
mod msg;
mod params;
mod query;
mod role;
mod state;

pub use exec::*;
pub use msg::*;
pub use params::*;
pub use query::*;
pub use role::*;
pub use state::*;

/// The staking module.
pub struct Staking;
