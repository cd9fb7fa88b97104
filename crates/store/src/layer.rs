//! Speculative execution layers.

use jmt::storage::TreeUpdateBatch;
use mycel_primitives::Hash;
use std::collections::BTreeMap;

/// A block's state changes: key → new value, or `None` for a deletion. Ordered, so that every
/// node iterates it the same way.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// One executed but not yet committed block: its write set, the tree nodes the write set created
/// and the resulting state root. Layers stack: a block's layer is read through its parent's.
#[derive(Debug)]
pub struct Layer {
    /// The block height (tree version) this layer produces.
    pub version: u64,
    /// The state changes.
    pub writes: WriteSet,
    /// The state root after this layer.
    pub root: Hash,
    pub(crate) tree: TreeUpdateBatch,
}

impl Layer {
    /// Looks a key up in this layer only: `Some(None)` means "deleted here".
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.writes.get(key).map(|v| v.as_deref())
    }
}
