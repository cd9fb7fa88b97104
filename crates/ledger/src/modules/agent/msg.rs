//! Messages of the `agent` module and their wire format.

use super::Agent;
use crate::modules::Module;
use mycel_primitives::{
    Amount, Hash,
    hash::{Domain, hash, hash_parts},
};

/// Signature namespace of an owner's signature over a manifest (what makes a card or a tool
/// definition verifiable offline against the on-chain key).
pub const MANIFEST_NAMESPACE: &[u8] = b"_MYCEL_AGENT_MANIFEST";

/// Signature namespace of a provider's advertisement of the manifest it serves now.
pub const ADVERT_NAMESPACE: &[u8] = b"_MYCEL_TOOL_ADVERT";

/// What is registered.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An MCP tool definition (`name`, `description`, `inputSchema`, …).
    Tool = 0,
    /// An A2A Agent Card.
    Agent = 1,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        [Kind::Tool, Kind::Agent].get(v as usize).copied()
    }

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Agent => "agent",
        }
    }
}

/// The hash of a manifest's canonical bytes: what calls, receipts and adverts pin.
pub fn manifest_hash(bytes: &[u8]) -> Hash {
    hash(Domain::AgentManifest, bytes)
}

/// The ID of the tool or agent `name`: the handle that stays while versions change.
pub fn entry_id(kind: Kind, name: &str) -> Hash {
    hash_parts(Domain::AgentEntry, &[&[kind as u8], name.as_bytes()])
}

/// What an owner signs for a manifest: its kind and hash.
pub fn manifest_signing_bytes(kind: Kind, manifest: &Hash) -> Vec<u8> {
    let mut v = Vec::with_capacity(33);
    v.push(kind as u8);
    v.extend_from_slice(&manifest.0);
    v
}

/// What a provider signs when it says which manifest it serves for entry `id` now.
pub fn advert_bytes(id: &Hash, manifest: &Hash) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&id.0);
    v.extend_from_slice(&manifest.0);
    v
}

/// A registration: a new tool or agent, or a new version (or new terms) of one the sender owns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// Tool or agent.
    pub kind: Kind,
    /// The canonical JSON manifest (at most [`super::MAX_MANIFEST_BYTES`]).
    pub manifest: Vec<u8>,
    /// Where the provider serves calls (`http://…` or `https://…`).
    pub endpoint: String,
    /// Price of one call.
    pub price: Amount,
    /// The bond the entry holds after this message (at least [`super::MIN_BOND`]; never lower
    /// than the bond already held): what disputes and challenges are paid from.
    pub bond: Amount,
    /// The owner's public key (32 bytes): the sender's.
    pub owner_key: Vec<u8>,
    /// The owner's signature over [`manifest_signing_bytes`] under [`MANIFEST_NAMESPACE`].
    pub signature: Vec<u8>,
}

/// `agent` messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Registers a tool or agent, or a new version of one the sender owns.
    Register(Box<Registration>),
    /// Retires an entry the sender owns: no new sessions; the bond returns once the last
    /// session's receipts can no longer be disputed.
    Deregister {
        /// Entry ID.
        id: Hash,
    },
    /// Shows that the provider of `id` signed an advert of a manifest that is none of the
    /// entry's registered versions (a changed definition served under a registered name).
    Challenge {
        /// Entry ID.
        id: Hash,
        /// The manifest hash the provider advertised.
        advertised: Hash,
        /// The provider's public key (32 bytes).
        provider_key: Vec<u8>,
        /// Its signature over [`advert_bytes`] under [`ADVERT_NAMESPACE`].
        signature: Vec<u8>,
    },
}

mycel_primitives::impl_codec!(Kind as u8, from = Kind::from_u8);

mycel_primitives::impl_codec!(Registration {
    kind,
    manifest: vec(0..=super::MAX_MANIFEST_BYTES),
    endpoint: string(256),
    price,
    bond,
    owner_key: vec(32..=32),
    signature: vec(64..=64),
});

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Agent::ID, k), {
    0 => Register(registration: boxed),
    1 => Deregister { id },
    2 => Challenge {
        id,
        advertised,
        provider_key: vec(32..=32),
        signature: vec(64..=64),
    },
});
