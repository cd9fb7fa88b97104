//! Event kinds the `bank` module emits (`bank.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `bank.burn`.
pub const BURN: &str = "bank.burn";
/// `bank.transfer`.
pub const TRANSFER: &str = "bank.transfer";
