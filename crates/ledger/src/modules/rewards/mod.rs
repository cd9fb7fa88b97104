//! `rewards`: epochs, the emission schedule and its split, and a record of every credit and debit
//! with a reason code (what the earnings debugger reads).
//!
//! Epoch `e` covers heights `[e·L, (e+1)·L)` for epoch length `L`. At the last block of an epoch
//! the epoch's emission is minted: the validator share is paid pro rata to the epoch's validator
//! set by stake, the shares of workers, data contributors and auditors go to the reserve account
//! until the modules that earn them exist, and the fees collected during the epoch are paid to
//! the validators pro rata as well. Rounding dust goes to the reserve. All arithmetic is integer.
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
