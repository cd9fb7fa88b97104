//! Event kinds the `data` module emits (`data.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `data.bond_released`.
pub const BOND_RELEASED: &str = "data.bond_released";
/// `data.consent`.
pub const CONSENT: &str = "data.consent";
/// `data.novelty_challenged`.
pub const NOVELTY_CHALLENGED: &str = "data.novelty_challenged";
/// `data.register`.
pub const REGISTER: &str = "data.register";
