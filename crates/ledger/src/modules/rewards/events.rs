//! Event kinds the `rewards` module emits (`rewards.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `rewards.epoch`.
pub const EPOCH: &str = "rewards.epoch";
