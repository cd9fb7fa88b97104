//! Event kinds the `agent` module emits (`agent.<what>`). Attribute names are in
//! [`crate::events::attr`].

/// `agent.register`: a tool or agent was registered, or got a new version or new terms.
pub const REGISTER: &str = "agent.register";
/// `agent.deregister`: retired by its owner.
pub const DEREGISTER: &str = "agent.deregister";
/// `agent.slashed`: a rug pull was proven.
pub const SLASHED: &str = "agent.slashed";
/// `agent.released`: the bond returned to the owner.
pub const RELEASED: &str = "agent.released";
