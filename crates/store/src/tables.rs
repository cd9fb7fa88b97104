//! redb table definitions. Keys and values are raw bytes; encodings are documented per table.

use redb::TableDefinition;

/// Latest finalized state: state key → value.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// JMT nodes: borsh(NodeKey) → borsh(Node).
pub const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_nodes");
/// Versioned JMT values of older stores, deleted on open: a proof reads its value from `STATE`.
pub const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_values");
/// Stale JMT nodes awaiting pruning: stale_since (u64 BE) ‖ borsh(NodeKey) → ().
pub const STALE: TableDefinition<&[u8], ()> = TableDefinition::new("jmt_stale");
/// Finalized blocks: height (u64 BE) → block bytes.
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Block digest (32) → height.
pub const BLOCK_DIGESTS: TableDefinition<&[u8], u64> = TableDefinition::new("block_digests");
/// Per-block metadata: height → digest (32) ‖ state root (32).
pub const BLOCK_META: TableDefinition<u64, &[u8]> = TableDefinition::new("block_meta");
/// Transactions: tx hash (32) → height (u64 BE) ‖ index (u32 BE) ‖ receipt bytes.
pub const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// Events of a block: height → encoded events.
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// Admitted but not yet finalized transactions: tx hash (32) → encoded tx.
pub const MEMPOOL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mempool");
/// Blobs uploaded over the API and not yet referenced by the chain: blob hash (32) → uploader
/// address (20) ‖ size (u64 BE) ‖ upload time (ms, u64 BE).
pub const BLOB_UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blob_uploads");
/// Bytes of blobs each account uploaded: address (20) → bytes.
pub const BLOB_USAGE: TableDefinition<&[u8], u64> = TableDefinition::new("blob_usage");
/// Singletons: name → bytes.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// `META` key of the height a state-synced store started from.
pub const META_SYNCED_FROM: &str = "synced_from";
/// `META` key of the last committed height, digest and root.
pub const META_HEAD: &str = "head";
