//! Stored types and state keys of the `model` module.

use super::msg::*;
use crate::state::key;
use mycel_primitives::{Address, Hash};

pub(super) const V: &[u8] = b"model/v/";
pub(super) const CHILD: &[u8] = b"model/child/";
pub(super) const OWNER: &[u8] = b"model/owner/";
pub(super) const GRANT: &[u8] = b"model/grant/";
pub(super) const COUNT: &[u8] = b"model/count";
pub(super) const NAME: &[u8] = b"model/name/";

/// The prefix of the versions named `name` in the name index (names hold no NUL byte).
pub(super) fn name_prefix(name: &str) -> Vec<u8> {
    key(NAME, &[name.as_bytes(), &[0]])
}

/// Most datasets a version's attribution carries (its own and its ancestors', deduplicated).
pub const MAX_ATTRIBUTION: usize = 64;

/// A registered model version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    /// What was registered.
    pub registration: Registration,
    /// The owner (the signer of the registration, or the poster of the fine-tune job).
    pub owner: Address,
    /// Height of registration.
    pub height: u64,
    /// The training job that produced it, when the network wrote it.
    pub job: Option<u64>,
    /// True when the network wrote it from a settled job (not declared by the owner).
    pub attested: bool,
    /// Datasets of this version and all its ancestors, sorted, at most [`MAX_ATTRIBUTION`].
    pub attribution: Vec<Hash>,
}

mycel_primitives::impl_codec!(Version {
    registration,
    owner,
    height,
    job,
    attested,
    attribution: vec(0..=MAX_ATTRIBUTION),
});

/// The state key of version `id` (what a lineage proof proves).
pub fn version_key(id: &Hash) -> Vec<u8> {
    key(V, &[&id.0])
}

pub(super) fn grant_key(id: &Hash, grantee: &Address) -> Vec<u8> {
    key(GRANT, &[&id.0, &grantee.0])
}
