//! `bank`: balances, transfers, fees, burns and the total supply.
//!
//! State: `bank/bal/<addr>` → [`Amount`], `bank/supply` → [`Amount`], `bank/burned` → [`Amount`].
//! Invariant: the sum of all balances (module accounts included) equals the supply.

pub mod events;
mod exec;
mod msg;
mod params;
mod query;
mod state;

pub use exec::*;
pub use msg::*;
pub use params::*;
pub use query::*;
pub use state::*;

/// The bank module.
pub struct Bank;
