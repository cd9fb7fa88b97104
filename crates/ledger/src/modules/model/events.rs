//! Event kinds the `model` module emits (`model.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `model.register`: a version was registered (declared, or written by a settled fine-tune).
pub const REGISTER: &str = "model.register";
/// `model.grant`.
pub const GRANT: &str = "model.grant";
/// `model.revoke`.
pub const REVOKE: &str = "model.revoke";
/// `model.access`: the access policy changed.
pub const ACCESS: &str = "model.access";
