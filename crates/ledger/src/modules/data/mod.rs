//! `data`: dataset registration, consent, novelty challenges and contributor attribution.
//!
//! A dataset is known on chain by its *root*: the RFC 6962 root over its records sorted by ID,
//! built off-chain by `mycel-data`. Registering it records who contributed it, its counts, its
//! dedup profile, the root of its MinHash signatures, its manifest hash, licence and consent, its
//! parents, and the contributor's *novelty claim*: the root over the IDs of the records that the
//! contributor's node found new (`novel_root`), with their count and bytes. The claim is backed by
//! a bond held for `challenge_window` blocks.
//!
//! Anyone holding an earlier dataset can challenge a false claim with two inclusion proofs: the
//! record is in the new dataset's novel set, and the same record ID is in a dataset registered at
//! a lower height. A successful challenge forfeits the dataset's novelty credit (its
//! `novel_bytes` no longer count for rewards) and, while the bond is locked, pays
//! `challenge_reward_bps` of the bond to the challenger and burns the rest.
//!
//! Leaves: a leaf preimage starts with the 32-byte record ID (what follows is up to the data
//! engine's leaf format); the ledger hashes it with [`mycel_primitives::merkle::leaf_hash`].
//!
//! State: `data/ds/<root>` → [`Dataset`]; `data/by/<contributor><root>` → () (attribution);
//! `data/bond/<release height BE><root>` → () (bond queue).

mod error;
pub use error::DataError;
pub mod events;
mod exec;
mod msg;
mod params;
mod query;
mod state;

pub use msg::*;
pub use params::*;
pub use query::*;
pub use state::*;

/// The data module.
pub struct Data;
