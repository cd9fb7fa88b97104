//! Bridges between the engines and the ledger that CLI commands and roles call.
//!
//! - [`data`]: registering an ingested dataset on chain, and challenging a false novelty claim.
//! - [`sessions`]: opening, chatting in, closing and auditing an interactive session.
//! - [`accounts`]: naming an account by key or address.

pub mod accounts;
pub mod data;
pub mod sessions;
