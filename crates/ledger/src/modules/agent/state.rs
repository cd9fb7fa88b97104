//! Stored types and state keys of the `agent` module.

use super::msg::*;
use crate::state::key;
use mycel_primitives::{Address, Amount, Hash};

pub(super) const ENTRY: &[u8] = b"agent/entry/";
pub(super) const DOC: &[u8] = b"agent/doc/";
pub(super) const VERSION: &[u8] = b"agent/ver/";
pub(super) const OWNER: &[u8] = b"agent/owner/";
pub(super) const SKILL: &[u8] = b"agent/skill/";
pub(super) const RELEASE: &[u8] = b"agent/release/";

/// Smallest bond an entry holds: 0.1 MYC.
pub const MIN_BOND: Amount = Amount(100_000_000);

/// Blocks between deregistration and the bond's return (more while sessions are open).
pub const RETIRE_DELAY: u64 = 100;

/// Share of the bond a proven rug pull forfeits (basis points); half of it goes to the
/// challenger, half is burned.
pub const RUG_PULL_SLASH_BPS: u16 = 5_000;

/// Reputation of a new entry; settled calls raise it (capped), disputes lower it.
pub const START_REPUTATION: u64 = 100;
/// Highest reputation.
pub const MAX_REPUTATION: u64 = 200;
/// Reputation lost per proven or unanswered dispute.
pub const DISPUTE_REPUTATION: u64 = 10;

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Listed and callable.
    Active = 0,
    /// Deregistered by its owner: no new sessions; its bond returns when none is open.
    Retired = 1,
    /// Caught serving an unregistered definition: unlisted for good.
    Slashed = 2,
}

impl Status {
    fn from_u8(v: u8) -> Option<Status> {
        [Status::Active, Status::Retired, Status::Slashed]
            .get(v as usize)
            .copied()
    }
}

/// A registered tool or agent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// [`entry_id`] of kind and name.
    pub id: Hash,
    /// Tool or agent.
    pub kind: Kind,
    /// Name (the MCP tool name, or the card's name).
    pub name: String,
    /// Who registered it and serves it.
    pub owner: Address,
    /// The owner's public key (what manifest signatures and receipts are checked against).
    pub owner_key: Vec<u8>,
    /// Hash of the current manifest.
    pub manifest: Hash,
    /// Current version, from 1.
    pub version: u32,
    /// Where calls go.
    pub endpoint: String,
    /// Price of one call.
    pub price: Amount,
    /// Bond held.
    pub bond: Amount,
    /// Height of the first registration.
    pub registered: u64,
    /// Height of the last registration message.
    pub updated: u64,
    /// Calls settled on chain.
    pub calls: u64,
    /// Paid for them.
    pub earned: Amount,
    /// Disputes lost (proven or unanswered).
    pub disputes_lost: u64,
    /// Reputation.
    pub reputation: u64,
    /// Sessions open on it (its bond answers for them).
    pub sessions: u64,
    /// Status.
    pub status: Status,
}

mycel_primitives::impl_codec!(Status as u8, from = Status::from_u8);

mycel_primitives::impl_codec!(Entry {
    id,
    kind,
    name: string(128),
    owner,
    owner_key: vec(32..=32),
    manifest,
    version,
    endpoint: string(256),
    price,
    bond,
    registered,
    updated,
    calls,
    earned,
    disputes_lost,
    reputation,
    sessions,
    status,
});

/// One registered version of a manifest, with its bytes and the owner's signature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Doc {
    /// The entry it belongs to.
    pub entry: Hash,
    /// Its version number.
    pub version: u32,
    /// Height it was registered at.
    pub height: u64,
    /// The canonical JSON.
    pub manifest: Vec<u8>,
    /// The owner's signature over [`manifest_signing_bytes`].
    pub signature: Vec<u8>,
}

mycel_primitives::impl_codec!(Doc {
    entry,
    version,
    height,
    manifest: vec(0..=super::MAX_MANIFEST_BYTES),
    signature: vec(64..=64),
});

/// The state key of entry `id`.
pub fn entry_key(id: &Hash) -> Vec<u8> {
    key(ENTRY, &[&id.0])
}

/// The state key of the manifest with hash `h`.
pub fn doc_key(h: &Hash) -> Vec<u8> {
    key(DOC, &[&h.0])
}

pub(super) fn version_key(id: &Hash, version: u32) -> Vec<u8> {
    key(VERSION, &[&id.0, &version.to_be_bytes()])
}

/// The account that holds bonds.
pub fn bond_escrow() -> Address {
    Address::module("agent")
}
