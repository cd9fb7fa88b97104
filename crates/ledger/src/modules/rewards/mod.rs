//! `rewards`: epochs, the emission schedule and its split, and a record of every credit and debit
//! with a reason code (what the earnings debugger reads).
//!
//! Epoch `e` covers heights `[e·L, (e+1)·L)` for epoch length `L`. At the last block of an epoch
//! the epoch's emission is minted. The validator share and the fees collected during the epoch
//! are paid to the members of the epoch's validator set pro rata to *certified blocks signed ×
//! stake*: the signers come from the finalization certificates that the epoch's blocks carry
//! (see [`crate::execute::Certified`] and [`crate::modules::staking::liveness`]), so bonding as a
//! validator without running a node earns nothing. An epoch in which no member signed keeps the
//! validator share in the reserve and leaves the fees for the next epoch. Workers, data
//! contributors and auditors are paid by their own measures; what they do not earn stays in the
//! reserve, as does rounding dust. All arithmetic is integer.
//!
//! Emission of epoch `e` is `initial_emission >> (e / halving_interval)`.
//!
//! State: `rewards/epoch/<epoch BE>` → [`EpochSummary`]. The credit and debit record
//! (`rewards/rec/…`) is kept by [`crate::earnings`], below the modules, and re-exported here.

pub mod events;
mod exec;
mod params;
mod query;
mod state;

pub use params::*;
pub use query::*;
pub use state::*;

pub use crate::earnings::{Reason, Record, record, records};

/// The rewards module (no messages; hooks only).
pub struct Rewards;
