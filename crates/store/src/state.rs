//! The redb-backed store, read snapshots and the state-read trait the ledger executes against.

use crate::{
    Error, Result,
    blobs::Upload,
    error::db,
    layer::{Layer, WriteSet},
    pending::PendingLog,
    tables::*,
};
use jmt::{
    JellyfishMerkleTree, KeyHash, OwnedValue, Version,
    storage::{LeafNode, Node, NodeKey, TreeReader},
};
use mycel_primitives::{Address, Hash};
use parking_lot::Mutex;
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable};
use sha2::Sha256;
use std::{collections::BTreeMap, path::Path, sync::Arc};

/// How many recent versions of the state tree are kept for proofs; older stale nodes are pruned.
pub const KEEP_VERSIONS: u64 = 1_000;

/// Read access to state: what the ledger executes against.
pub trait StateRead {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// All entries whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// An in-memory state, for tests and tools that need no persistence or roots.
#[derive(Debug, Default, Clone)]
pub struct MemState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemState {
    /// Applies a write set.
    pub fn apply(&mut self, writes: &WriteSet) {
        for (k, v) in writes {
            match v {
                Some(v) => self.0.insert(k.clone(), v.clone()),
                None => self.0.remove(k),
            };
        }
    }
}

impl StateRead for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(key).cloned())
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .0
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// The last committed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// Its height (= tree version).
    pub height: u64,
    /// Its digest.
    pub digest: Hash,
    /// The state root after it.
    pub root: Hash,
}

impl CommitInfo {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(72);
        v.extend_from_slice(&self.height.to_be_bytes());
        v.extend_from_slice(&self.digest.0);
        v.extend_from_slice(&self.root.0);
        v
    }
    fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != 72 {
            return Err(Error::Corrupt {
                table: "meta",
                why: format!("head is {} bytes", b.len()),
            });
        }
        Ok(CommitInfo {
            height: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            digest: Hash(b[8..40].try_into().expect("32 bytes")),
            root: Hash(b[40..72].try_into().expect("32 bytes")),
        })
    }
}

/// A finalized block as the store keeps it.
#[derive(Clone, Debug)]
pub struct BlockRecord {
    /// Height.
    pub height: u64,
    /// Digest (the consensus payload).
    pub digest: Hash,
    /// Encoded block.
    pub bytes: Vec<u8>,
    /// Each transaction's hash and encoded receipt, in block order.
    pub txs: Vec<(Hash, Vec<u8>)>,
    /// Encoded events of the block.
    pub events: Vec<u8>,
}

/// Where a transaction landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// Encoded receipt.
    pub receipt: Vec<u8>,
}

/// The node's persistent store.
pub struct Store {
    db: Database,
    // Serialises commits with the creation of snapshots, so a snapshot's layers always sit
    // exactly on top of the height its read transaction sees.
    commit_lock: Mutex<()>,
    /// The acknowledged transactions, in a log of their own beside the database.
    pending: PendingLog,
}

/// The page cache of [`Store::open`].
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

impl Store {
    /// Opens or creates the store at `path`, with a [`DEFAULT_CACHE_BYTES`] page cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens or creates the store at `path`, caching at most `cache_bytes` of its pages in
    /// memory. (redb's own default is 1 GiB: a validator's resident memory grew with its
    /// database to that size within minutes of load.)
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Store> {
        let database = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path.as_ref())
            .map_err(db)?;
        let w = database.begin_write().map_err(db)?;
        {
            // Create every table so read transactions never see a missing one.
            w.open_table(STATE).map_err(db)?;
            w.open_table(NODES).map_err(db)?;
            w.open_table(STALE).map_err(db)?;
            w.open_table(BLOCKS).map_err(db)?;
            w.open_table(BLOCK_DIGESTS).map_err(db)?;
            w.open_table(BLOCK_META).map_err(db)?;
            w.open_table(TXS).map_err(db)?;
            w.open_table(EVENTS).map_err(db)?;
            w.open_table(META).map_err(db)?;
        }
        // Versioned JMT values were once kept here for ever (every write of every key, at a
        // random place in the table); proofs now read values from `STATE`.
        w.delete_table(VALUES).map_err(db)?;
        // Acknowledged transactions were once kept in a table here: moved to the log.
        let pending = PendingLog::open(&path.as_ref().with_extension("mempool"))?;
        let moved: Vec<(Hash, Vec<u8>)> = match w.open_table(MEMPOOL) {
            Ok(t) => t
                .iter()
                .map_err(db)?
                .filter_map(|e| match e {
                    Ok((k, v)) => Some(Ok((Hash(k.value().try_into().ok()?), v.value().to_vec()))),
                    Err(e) => Some(Err(db(e))),
                })
                .collect::<Result<_>>()?,
            Err(e) => return Err(db(e)),
        };
        for (h, tx) in &moved {
            pending.admit(h, tx, &[])?;
        }
        w.delete_table(MEMPOOL).map_err(db)?;
        w.commit().map_err(db)?;
        Ok(Store {
            db: database,
            commit_lock: Mutex::new(()),
            pending,
        })
    }

    /// The last committed block, or `None` for an empty store.
    pub fn head(&self) -> Result<Option<CommitInfo>> {
        let r = self.db.begin_read().map_err(db)?;
        read_head(&r)
    }

    /// A consistent read view: the committed state plus `layers` (oldest first) that sit above
    /// it. Layers at or below the committed height are skipped (their block is already in).
    ///
    /// Does not wait for a commit in progress: the read transaction sees the state either
    /// before or after it, and its own head decides which layers still apply.
    pub fn snapshot(&self, layers: &[Arc<Layer>]) -> Result<Snapshot> {
        let txn = self.db.begin_read().map_err(db)?;
        let head = read_head(&txn)?;
        let floor = head.map(|h| h.height);
        let layers = layers
            .iter()
            .filter(|l| floor.is_none_or(|f| l.version > f))
            .cloned()
            .collect();
        Ok(Snapshot {
            head,
            layers,
            state: txn.open_table(STATE).map_err(db)?,
            nodes: txn.open_table(NODES).map_err(db)?,
        })
    }

    /// Commits `layer` and its block atomically. Committing a block that is already committed is
    /// a no-op (finalized blocks may be delivered more than once); a different block at an
    /// already-committed height is an error.
    pub fn commit(&self, layer: &Layer, block: &BlockRecord) -> Result<()> {
        let _g = self.commit_lock.lock();
        let w = self.db.begin_write().map_err(db)?;
        let head = {
            let meta = w.open_table(META).map_err(db)?;
            match meta.get(META_HEAD).map_err(db)? {
                Some(v) => Some(CommitInfo::decode(v.value())?),
                None => None,
            }
        };
        let expected = head.map_or(0, |h| h.height + 1);
        if block.height < expected {
            let blocks_meta = w.open_table(BLOCK_META).map_err(db)?;
            let same = blocks_meta
                .get(block.height)
                .map_err(db)?
                .is_some_and(|m| m.value()[..32] == block.digest.0);
            return if same {
                Ok(())
            } else {
                Err(Error::Conflict(block.height))
            };
        }
        if block.height != expected || layer.version != block.height {
            return Err(Error::OutOfOrder {
                expected,
                got: block.height,
            });
        }
        {
            let mut state = w.open_table(STATE).map_err(db)?;
            for (k, v) in &layer.writes {
                match v {
                    Some(v) => state.insert(k.as_slice(), v.as_slice()).map_err(db)?,
                    None => state.remove(k.as_slice()).map_err(db)?,
                };
            }
            write_tree(&w, &layer.tree.node_batch)?;
            let mut nodes = w.open_table(NODES).map_err(db)?;
            let mut stale = w.open_table(STALE).map_err(db)?;
            for s in &layer.tree.stale_node_index_batch {
                let mut k = s.stale_since_version.to_be_bytes().to_vec();
                k.extend(borsh::to_vec(&s.node_key).map_err(db)?);
                stale.insert(k.as_slice(), ()).map_err(db)?;
            }
            // Prune nodes that became stale more than KEEP_VERSIONS ago.
            if block.height > KEEP_VERSIONS {
                let cutoff = (block.height - KEEP_VERSIONS).to_be_bytes();
                let doomed: Vec<Vec<u8>> = stale
                    .range(..cutoff.as_slice())
                    .map_err(db)?
                    .map(|e| e.map(|(k, _)| k.value().to_vec()))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(db)?;
                for k in doomed {
                    nodes.remove(&k[8..]).map_err(db)?;
                    stale.remove(k.as_slice()).map_err(db)?;
                }
            }

            let mut blocks = w.open_table(BLOCKS).map_err(db)?;
            blocks
                .insert(block.height, block.bytes.as_slice())
                .map_err(db)?;
            let mut digests = w.open_table(BLOCK_DIGESTS).map_err(db)?;
            digests
                .insert(block.digest.0.as_slice(), block.height)
                .map_err(db)?;
            let mut bmeta = w.open_table(BLOCK_META).map_err(db)?;
            let mut m = block.digest.0.to_vec();
            m.extend_from_slice(&layer.root.0);
            bmeta.insert(block.height, m.as_slice()).map_err(db)?;
            let mut txs = w.open_table(TXS).map_err(db)?;
            for (i, (h, receipt)) in block.txs.iter().enumerate() {
                let mut v = block.height.to_be_bytes().to_vec();
                v.extend_from_slice(&(i as u32).to_be_bytes());
                v.extend_from_slice(receipt);
                txs.insert(h.0.as_slice(), v.as_slice()).map_err(db)?;
            }
            let mut events = w.open_table(EVENTS).map_err(db)?;
            events
                .insert(block.height, block.events.as_slice())
                .map_err(db)?;
            let mut meta = w.open_table(META).map_err(db)?;
            let head = CommitInfo {
                height: block.height,
                digest: block.digest,
                root: layer.root,
            };
            meta.insert(META_HEAD, head.encode().as_slice())
                .map_err(db)?;
        }
        w.commit().map_err(db)?;
        // A finalized transaction is no longer pending (the log is not written: a restore
        // skips transactions already in a block).
        self.pending.finalized(block.txs.iter().map(|(h, _)| *h));
        Ok(())
    }

    /// Imports a state snapshot into an empty store (state sync): `entries` (every key and
    /// value of the state after the block `anchor`) must rebuild to `anchor.root` in a fresh
    /// Jellyfish Merkle tree at version `anchor.height`, or nothing is written. Also records the
    /// genesis block and the anchor block (their encodings), and `anchor` as the head; the
    /// blocks below the anchor stay absent.
    pub fn import(
        &self,
        anchor: CommitInfo,
        genesis: &BlockRecord,
        block: &BlockRecord,
        entries: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<()> {
        if self.head()?.is_some() {
            return Err(Error::Db("state sync needs an empty store".into()));
        }
        if block.height != anchor.height || block.digest != anchor.digest || genesis.height != 0 {
            return Err(Error::Db(
                "the anchor block does not match the anchor".into(),
            ));
        }
        // A tree that is empty at the version before the anchor.
        struct Empty(Version);
        impl TreeReader for Empty {
            fn get_node_option(&self, k: &NodeKey) -> anyhow::Result<Option<Node>> {
                Ok(
                    (k.version() == self.0 && k.nibble_path().num_nibbles() == 0)
                        .then_some(Node::Null),
                )
            }
            fn get_value_option(
                &self,
                _: Version,
                _: KeyHash,
            ) -> anyhow::Result<Option<OwnedValue>> {
                Ok(None)
            }
            fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
                Ok(None)
            }
        }
        let version = anchor.height;
        let empty = Empty(version.wrapping_sub(1));
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&empty);
        let set = entries
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice())));
        let (root, batch) = put(&tree, set, version)?;
        if Hash(root.0) != anchor.root {
            return Err(Error::Tree(format!(
                "the snapshot hashes to {} but the finalized root is {}",
                Hash(root.0),
                anchor.root
            )));
        }
        let _g = self.commit_lock.lock();
        let w = self.db.begin_write().map_err(db)?;
        {
            let mut state = w.open_table(STATE).map_err(db)?;
            for (k, v) in entries {
                state.insert(k.as_slice(), v.as_slice()).map_err(db)?;
            }
            write_tree(&w, &batch.node_batch)?;
            let mut blocks = w.open_table(BLOCKS).map_err(db)?;
            let mut digests = w.open_table(BLOCK_DIGESTS).map_err(db)?;
            let mut bmeta = w.open_table(BLOCK_META).map_err(db)?;
            for (b, root) in [(genesis, None), (block, Some(anchor.root))] {
                blocks.insert(b.height, b.bytes.as_slice()).map_err(db)?;
                digests
                    .insert(b.digest.0.as_slice(), b.height)
                    .map_err(db)?;
                if let Some(root) = root {
                    let mut m = b.digest.0.to_vec();
                    m.extend_from_slice(&root.0);
                    bmeta.insert(b.height, m.as_slice()).map_err(db)?;
                }
            }
            let mut meta = w.open_table(META).map_err(db)?;
            meta.insert(META_HEAD, anchor.encode().as_slice())
                .map_err(db)?;
            meta.insert(META_SYNCED_FROM, anchor.height.to_be_bytes().as_slice())
                .map_err(db)?;
        }
        w.commit().map_err(db)
    }

    /// The height a state-synced store started from (`None`: it executed every block since
    /// genesis).
    pub fn synced_from(&self) -> Result<Option<u64>> {
        let r = self.db.begin_read().map_err(db)?;
        let meta = r.open_table(META).map_err(db)?;
        Ok(meta
            .get(META_SYNCED_FROM)
            .map_err(db)?
            .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes)))
    }

    /// Stores a named record in the node's metadata (outside the state).
    pub fn put_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        let w = self.db.begin_write().map_err(db)?;
        w.open_table(META)
            .map_err(db)?
            .insert(name, value)
            .map_err(db)?;
        w.commit().map_err(db)
    }

    /// A named record of the node's metadata.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let r = self.db.begin_read().map_err(db)?;
        let meta = r.open_table(META).map_err(db)?;
        Ok(meta.get(name).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// The encoded block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Vec<u8>>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(BLOCKS).map_err(db)?;
        Ok(t.get(height).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// Digest and state root of the block at `height`.
    pub fn block_meta(&self, height: u64) -> Result<Option<(Hash, Hash)>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(BLOCK_META).map_err(db)?;
        Ok(t.get(height).map_err(db)?.map(|v| {
            let b = v.value();
            (
                Hash(b[..32].try_into().expect("32")),
                Hash(b[32..64].try_into().expect("32")),
            )
        }))
    }

    /// The height of the block with `digest`.
    pub fn height_of(&self, digest: &Hash) -> Result<Option<u64>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(BLOCK_DIGESTS).map_err(db)?;
        Ok(t.get(digest.0.as_slice()).map_err(db)?.map(|v| v.value()))
    }

    /// Where the transaction `hash` was finalized.
    pub fn tx(&self, hash: &Hash) -> Result<Option<TxLocation>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(TXS).map_err(db)?;
        let Some(v) = t.get(hash.0.as_slice()).map_err(db)? else {
            return Ok(None);
        };
        let b = v.value();
        if b.len() < 12 {
            return Err(Error::Corrupt {
                table: "txs",
                why: "short record".into(),
            });
        }
        Ok(Some(TxLocation {
            height: u64::from_be_bytes(b[..8].try_into().expect("8")),
            index: u32::from_be_bytes(b[8..12].try_into().expect("4")),
            receipt: b[12..].to_vec(),
        }))
    }

    /// Durably records an admitted transaction, so that it survives a crash before finality,
    /// and forgets `evicted` ones; returns once the write is on disk. Concurrent calls share
    /// one write and one sync (see `pending.rs`).
    pub fn put_pending_tx(&self, hash: &Hash, bytes: &[u8], evicted: &[Hash]) -> Result<()> {
        self.pending.admit(hash, bytes, evicted)
    }

    /// Forgets admitted transactions found invalid or evicted. Not waited for: written with
    /// the next admission (one lost in a crash is checked again when the mempool is restored).
    pub fn remove_pending_txs(&self, hashes: &[Hash]) {
        self.pending.remove(hashes);
    }

    /// Charges an upload of blob `hash` (`size` bytes, at `now_ms`) to `uploader` within
    /// `quota` bytes. A blob whose upload is still recorded costs nothing again, but its clock
    /// restarts (whoever sent it again expects it kept for the grace period). Returns whether it
    /// was charged, or the uploader's usage if the upload would exceed the quota (nothing is
    /// recorded).
    pub fn charge_upload(
        &self,
        uploader: &Address,
        hash: &Hash,
        size: u64,
        quota: u64,
        now_ms: u64,
    ) -> Result<std::result::Result<bool, u64>> {
        let w = self.db.begin_write().map_err(db)?;
        let charged = {
            let mut uploads = w.open_table(BLOB_UPLOADS).map_err(db)?;
            let known = uploads
                .get(hash.0.as_slice())
                .map_err(db)?
                .and_then(|v| Upload::decode(hash, v.value()));
            match known {
                Some(mut u) => {
                    u.at_ms = u.at_ms.max(now_ms);
                    uploads
                        .insert(hash.0.as_slice(), u.encode().as_slice())
                        .map_err(db)?;
                    false
                }
                None => {
                    let mut usage = w.open_table(BLOB_USAGE).map_err(db)?;
                    let used = usage
                        .get(uploader.0.as_slice())
                        .map_err(db)?
                        .map_or(0, |v| v.value());
                    if used.saturating_add(size) > quota {
                        return Ok(Err(used));
                    }
                    usage
                        .insert(uploader.0.as_slice(), used + size)
                        .map_err(db)?;
                    let u = Upload {
                        hash: *hash,
                        uploader: *uploader,
                        size,
                        at_ms: now_ms,
                    };
                    uploads
                        .insert(hash.0.as_slice(), u.encode().as_slice())
                        .map_err(db)?;
                    true
                }
            }
        };
        w.commit().map_err(db)?;
        Ok(Ok(charged))
    }

    /// Forgets the upload of `hash` and gives its bytes back to the uploader's quota: its
    /// write failed, it was collected, or the chain now references it (the network keeps it;
    /// the uploader's quota bounds only what nothing references yet).
    pub fn refund_upload(&self, hash: &Hash) -> Result<()> {
        let w = self.db.begin_write().map_err(db)?;
        {
            let mut uploads = w.open_table(BLOB_UPLOADS).map_err(db)?;
            let rec = uploads
                .remove(hash.0.as_slice())
                .map_err(db)?
                .and_then(|v| Upload::decode(hash, v.value()));
            if let Some(u) = rec {
                let mut usage = w.open_table(BLOB_USAGE).map_err(db)?;
                let used = usage
                    .get(u.uploader.0.as_slice())
                    .map_err(db)?
                    .map_or(0, |v| v.value());
                usage
                    .insert(u.uploader.0.as_slice(), used.saturating_sub(u.size))
                    .map_err(db)?;
            }
        }
        w.commit().map_err(db)
    }

    /// The recorded upload of `hash`, if any.
    pub fn upload(&self, hash: &Hash) -> Result<Option<Upload>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = match r.open_table(BLOB_UPLOADS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        Ok(t.get(hash.0.as_slice())
            .map_err(db)?
            .and_then(|v| Upload::decode(hash, v.value())))
    }

    /// Every recorded upload (the blobs the collector may delete), in hash order.
    pub fn uploads(&self) -> Result<Vec<Upload>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = match r.open_table(BLOB_UPLOADS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = Vec::new();
        for e in t.iter().map_err(db)? {
            let (k, v) = e.map_err(db)?;
            let Ok(h) = <[u8; 32]>::try_from(k.value()) else {
                continue;
            };
            if let Some(u) = Upload::decode(&Hash(h), v.value()) {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Bytes of blobs `uploader` has uploaded.
    pub fn upload_usage(&self, uploader: &Address) -> Result<u64> {
        let r = self.db.begin_read().map_err(db)?;
        let t = match r.open_table(BLOB_USAGE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(db(e)),
        };
        Ok(t.get(uploader.0.as_slice())
            .map_err(db)?
            .map_or(0, |v| v.value()))
    }

    /// Every recorded admitted transaction (encoded) not yet in a finalized block.
    pub fn pending_txs(&self) -> Result<Vec<Vec<u8>>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(TXS).map_err(db)?;
        let mut out = Vec::new();
        for (h, tx) in self.pending.live() {
            if t.get(h.0.as_slice()).map_err(db)?.is_none() {
                out.push(tx);
            }
        }
        Ok(out)
    }

    /// The encoded events of the block at `height`.
    pub fn events(&self, height: u64) -> Result<Option<Vec<u8>>> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(EVENTS).map_err(db)?;
        Ok(t.get(height).map_err(db)?.map(|v| v.value().to_vec()))
    }
}

fn read_head(r: &ReadTransaction) -> Result<Option<CommitInfo>> {
    let meta = r.open_table(META).map_err(db)?;
    match meta.get(META_HEAD).map_err(db)? {
        Some(v) => Ok(Some(CommitInfo::decode(v.value())?)),
        None => Ok(None),
    }
}

/// Writes a tree batch's nodes. Not its values: a leaf commits to its value's hash, and the
/// value itself is the key's entry in `STATE` (see [`Snapshot::get_with_proof`]).
fn write_tree(w: &redb::WriteTransaction, batch: &jmt::storage::NodeBatch) -> Result<()> {
    let mut nodes = w.open_table(NODES).map_err(db)?;
    for (nk, node) in batch.nodes() {
        nodes
            .insert(
                borsh::to_vec(nk).map_err(db)?.as_slice(),
                borsh::to_vec(node).map_err(db)?.as_slice(),
            )
            .map_err(db)?;
    }
    Ok(())
}

/// Applies `writes` (a block's, or a snapshot's entries at state sync) to `tree` as `version`: the
/// root and the new and stale nodes.
///
/// jmt's one-key-at-a-time `put_value_set` rebuilds every internal node on a key's path for
/// each key, hashing each again (up to 15 SHA-256 a node); its batch insert builds each touched
/// node once, so a block's nodes are hashed once. The batch cannot delete, so a write set with
/// a deletion goes one key at a time. Both give the same tree, node for node (the tree's shape
/// depends only on its keys; `tests::batch_and_sequential_puts_agree`).
fn put<'a, R: TreeReader>(
    tree: &JellyfishMerkleTree<'_, R, Sha256>,
    writes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    version: Version,
) -> Result<(jmt::RootHash, jmt::storage::TreeUpdateBatch)> {
    let tree_err = |e: anyhow::Error| Error::Tree(e.to_string());
    let set: Vec<(KeyHash, Option<OwnedValue>)> = writes
        .into_iter()
        .map(|(k, v)| (KeyHash::with::<Sha256>(k), v.map(<[u8]>::to_vec)))
        .collect();
    if set.is_empty() || set.iter().any(|(_, v)| v.is_none()) {
        return tree.put_value_set(set, version).map_err(tree_err);
    }
    let upserts = set.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    let (roots, batch) = tree
        .batch_put_value_sets(vec![upserts], None, version)
        .map_err(tree_err)?;
    Ok((roots[0], batch))
}

/// A write set as borrowed keys and values.
fn pairs(writes: &WriteSet) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref()))
}

/// A consistent read view: committed state at one height plus speculative layers above it.
pub struct Snapshot {
    head: Option<CommitInfo>,
    layers: Vec<Arc<Layer>>,
    // Opened once per view: a block's execution reads them thousands of times.
    state: ReadOnlyTable<&'static [u8], &'static [u8]>,
    nodes: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Snapshot {
    /// The committed block under the layers.
    pub fn head(&self) -> Option<CommitInfo> {
        self.head
    }

    /// The height of the newest state visible in this view (`None` before genesis).
    pub fn version(&self) -> Option<u64> {
        self.layers
            .last()
            .map(|l| l.version)
            .or(self.head.map(|h| h.height))
    }

    /// The state root of the newest state visible in this view.
    pub fn root(&self) -> Option<Hash> {
        self.layers
            .last()
            .map(|l| l.root)
            .or(self.head.map(|h| h.root))
    }

    /// Computes the layer produced by applying `writes` on top of this view as the next version.
    pub fn apply(&self, writes: WriteSet) -> Result<Layer> {
        let version = self.version().map_or(0, |v| v + 1);
        let tree = JellyfishMerkleTree::<_, Sha256>::new(self);
        let (root, batch) = put(&tree, pairs(&writes), version)?;
        Ok(Layer {
            version,
            writes,
            root: Hash(root.0),
            tree: batch,
        })
    }

    /// The value under `key` with a proof against [`Self::root`] (ICS23-compatible JMT proof,
    /// borsh-encoded), for light clients.
    pub fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
        let version = self
            .version()
            .ok_or_else(|| Error::Tree("empty state".into()))?;
        self.get_unchanged_with_proof(key, version)
    }

    /// [`Self::get_with_proof`] against the root of an earlier `version`, for a key not written
    /// since: the store keeps no older values, so the value in this view must be the one at
    /// `version` (a key that changed gives a proof that does not verify). Tree nodes stale for
    /// more than [`KEEP_VERSIONS`] versions are pruned, so older versions fail.
    pub fn get_unchanged_with_proof(
        &self,
        key: &[u8],
        version: u64,
    ) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
        if self.version().is_none_or(|v| version > v) {
            return Err(Error::Tree(format!("no version {version} yet")));
        }
        let reader = Proving {
            snapshot: self,
            key_hash: KeyHash::with::<Sha256>(key),
            value: StateRead::get(self, key)?,
        };
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&reader);
        let (value, proof) = tree
            .get_with_proof(reader.key_hash, version)
            .map_err(|e| Error::Tree(e.to_string()))?;
        Ok((value, borsh::to_vec(&proof).map_err(db)?))
    }
}

/// The tree of a [`Snapshot`] with the one value a proof is being made for: the store keeps no
/// versioned values, and a proof is only ever made at the snapshot's own version, where the
/// value is the key's entry in the state.
struct Proving<'a> {
    snapshot: &'a Snapshot,
    key_hash: KeyHash,
    value: Option<Vec<u8>>,
}

impl TreeReader for Proving<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        self.snapshot.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        _: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        anyhow::ensure!(key_hash == self.key_hash, "no value kept for {key_hash:?}");
        Ok(self.value.clone())
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("state restore is not supported by this store")
    }
}

impl StateRead for Snapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for l in self.layers.iter().rev() {
            if let Some(v) = l.get(key) {
                return Ok(v.map(<[u8]>::to_vec));
            }
        }
        Ok(self.state.get(key).map_err(db)?.map(|v| v.value().to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for e in self.state.range(prefix..).map_err(db)? {
            let (k, v) = e.map_err(db)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            merged.insert(k.value().to_vec(), Some(v.value().to_vec()));
        }
        for l in &self.layers {
            for (k, v) in l.writes.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

impl TreeReader for Snapshot {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        for l in self.layers.iter().rev() {
            if let Some(n) = l.tree.node_batch.get_node(node_key) {
                return Ok(Some(n.clone()));
            }
        }
        let k = borsh::to_vec(node_key)?;
        match self.nodes.get(k.as_slice())? {
            Some(v) => Ok(Some(borsh::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        // Values are kept once, in `STATE`, by key; only `get_with_proof` reads one.
        anyhow::bail!("the tree keeps no values; read them from the state")
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("state restore is not supported by this store")
    }
}

#[cfg(test)]
mod tests;

/// Checks offline that `value` is stored under `key` in the state whose root is `root`, with a
/// proof from [`Snapshot::get_with_proof`] (what a light client or a receipt verifier holds).
pub fn verify_state_proof(root: &Hash, key: &[u8], value: &[u8], proof: &[u8]) -> Result<()> {
    let proof: jmt::proof::SparseMerkleProof<Sha256> =
        borsh::from_slice(proof).map_err(|e| Error::Tree(format!("proof does not decode: {e}")))?;
    proof
        .verify_existence(jmt::RootHash(root.0), KeyHash::with::<Sha256>(key), value)
        .map_err(|e| Error::Tree(format!("proof does not verify: {e}")))
}
