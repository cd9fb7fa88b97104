//! `device`: edge devices that join under an owner, prove they are alive by doing useful work
//! that is checked, and are paid for it.
//!
//! A device holds its own ed25519 key; its owner registers it with the device key's signature
//! (so nobody can claim someone else's device), a declared hardware [`Class`], the embedding
//! model it runs and a bond. A key is registered once, ever.
//!
//! Liveness is useful work. Every `round_ms` of block time a round starts and each live device
//! gets a probe of its class's size: a unit of a waiting edge job (records of a real input), or,
//! with none waiting, a canary (texts that every node derives from the round seed, which nobody
//! knows before the round). A probe is answered with one int8-quantized embedding per record:
//! - sealed within `seal_ms` (so no device copies another's answer, and a device that claims a
//!   faster class than it has runs out of time);
//! - then the checks are drawn from ledger randomness (so a device cannot know whether its
//!   canary will be checked); a device on probation (new, resumed or caught) is always checked,
//!   and so is every job unit (its answer becomes the poster's output), whose checker is drawn
//!   at the round's start so that it computes alongside the device. A checker, drawn
//!   stake-weighted among auditors other than the device and its owner, seals its own reference
//!   by the end of `check_ms`;
//! - then both reveal within `reveal_ms`, and the chain compares the two in integers (every
//!   value within `max_dim_diff` steps, which cross-CPU rounding stays within and a different or
//!   skipped model does not).
//!
//! A missed probe loses the lease of its unit (another device takes it the next round), costs
//! reputation, and after `max_misses` in a row sets the device offline. A failed check burns a
//! share of the bond, voids the device's credit for the epoch and puts it back on probation.
//! Answered probes credit records; the edge share of each epoch's emission is split by them.
//! Job units are paid once, when their answer is accepted; a unit is never lost (a lost lease
//! reopens it) and never paid twice (a done unit is never leased again).
//!
//! State: `device/dev/<addr>` → [`DeviceEntry`]; `device/owner/<owner><addr>`, `device/live/<addr>`
//! → (); `device/round/<r BE>` → [`Round`]; `device/open/<r BE>` → (); `device/probe/<r BE><addr>`
//! → [`Probe`]; `device/credit/<epoch BE><addr>`, `device/checks/<epoch BE><addr>` → u64;
//! `device/job/<id BE>` → [`EdgeJob`]; `device/openjob/<id BE>` → (); `device/unit/<job BE><u BE>`
//! → [`Unit`]; `device/reopen/<job BE><u BE>`, `device/release/<height BE><addr>` → ().

mod error;
pub use error::DeviceError;
pub mod events;
mod exec;
mod msg;
mod params;
mod query;
mod state;

pub use exec::answers_match;
pub(crate) use exec::take_epoch;
pub use msg::*;
pub use params::Params;
pub use query::*;
pub use state::*;

/// The device module.
pub struct Device;
