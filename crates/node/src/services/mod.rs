//! Bridges between the engines and the ledger that CLI commands and roles call.
//!
//! - [`data`]: registering an ingested dataset on chain, and challenging a false novelty claim.
//! - [`sessions`]: opening, chatting in, closing and auditing an interactive session.
//! - [`hub`]: registrations built from files, and Hugging Face folders out of and into them.
//! - [`models`]: lineage graphs and lineage proofs of model versions, and their offline check.
//! - [`agents`]: A2A Agent Cards served with their owner's signature, and their offline check.
//! - [`accounts`]: naming an account by key or address.
//! - [`sync`]: state sync: a peer's snapshot checked against a finality proof and imported.
//! - [`receipts`]: receipt bundles (a receipt with its session's state and finality proofs and
//!   its inclusion in the settled root) and their offline verification.

pub mod accounts;
pub mod agents;
pub mod data;
pub mod devices;
pub mod hub;
pub mod models;
pub mod receipts;
pub mod sessions;
pub mod sync;
