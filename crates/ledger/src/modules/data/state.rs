//! Stored types and state keys of the `data` module.

use super::msg::*;
use crate::state::key;
use mycel_primitives::{Address, Hash};

pub(super) const DS: &[u8] = b"data/ds/";

pub(super) const BY: &[u8] = b"data/by/";

pub(super) const BOND: &[u8] = b"data/bond/";

/// The number of datasets registered so far (a big-endian `u64`): each dataset's `seq`.
pub(super) const SEQ: &[u8] = b"data/seq";

/// `data/order/<seq BE>` → root: datasets in registration order, for nodes that rebuild the
/// near-dup index of everything registered.
pub(super) const ORDER: &[u8] = b"data/order/";

/// The account that holds novelty bonds.
pub fn escrow() -> Address {
    Address::module("data")
}

/// A registered dataset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dataset {
    /// The registration.
    pub registration: Registration,
    /// Contributor.
    pub contributor: Address,
    /// Height of registration.
    pub height: u64,
    /// Registration order over the whole chain (two datasets in one block are still ordered, so
    /// a copy registered in the same block as its original can be challenged).
    pub seq: u64,
    /// True once a novelty challenge succeeded: the novelty credit is forfeited.
    pub challenged: bool,
    /// True while the bond is held.
    pub bond_locked: bool,
}

impl Dataset {
    /// Novel bytes that count for rewards.
    pub fn credited_novel_bytes(&self) -> u64 {
        if self.challenged {
            0
        } else {
            self.registration.novel_bytes
        }
    }
}

mycel_primitives::impl_codec!(Dataset {
    registration,
    contributor,
    height,
    seq,
    challenged,
    bond_locked,
});

/// The state key of dataset `root` (what a lineage proof proves).
pub fn dataset_key(root: &Hash) -> Vec<u8> {
    key(DS, &[&root.0])
}
