//! Chain state shared by the application, the finalizer and the API: the store, the executed but
//! unfinalized blocks and the mempool.

use crate::{
    Error, Result,
    block::{self, Block, Digest, to_hash},
    mempool::Mempool,
};
use commonware_cryptography::Digestible;
use mycel_ledger::{
    Error as LedgerError, Receipt, Tx, TxError,
    events::encode_events,
    execute::{BlockEnv, execute_block, execute_genesis},
    genesis::{Genesis, Params},
};
use mycel_primitives::{
    Address, Hash,
    codec::{Encode, EncodeSize, MAX_BLOCK_BYTES},
};
use mycel_store::{BlockRecord, CommitInfo, Layer, Snapshot, Store};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};
use tracing::{debug, info};

/// Encoded size of a block without its transactions (header fields and the count prefix).
const BLOCK_HEADER_BYTES: usize = 32 + 8 + 8 + 20 + 32 + 5;

/// The layers from the finalized head to a block, and the transactions they already include.
type Path = (Vec<Arc<Layer>>, BTreeSet<Hash>);

/// A block executed here but not finalized yet.
struct Pending {
    block: Arc<Block>,
    layer: Arc<Layer>,
    receipts: Vec<Receipt>,
    events: Vec<mycel_ledger::Event>,
}

/// The node's view of the chain.
pub struct Chain {
    store: Arc<Store>,
    chain_id: String,
    params: Params,
    genesis: Block,
    pending: Mutex<BTreeMap<Digest, Pending>>,
    mempool: Mutex<Mempool>,
    max_block_txs: usize,
}

impl Chain {
    /// Opens the chain in `store`, writing genesis if the store is empty. Fails if the store
    /// holds another chain.
    pub fn open(
        store: Arc<Store>,
        genesis: &Genesis,
        max_block_txs: usize,
        mempool_size: usize,
    ) -> Result<Chain> {
        let genesis_parent = Digest(genesis.digest().0);
        let genesis_block = match store.head()? {
            None => {
                let out = execute_genesis(genesis)?;
                let layer = store.snapshot(&[])?.apply(out.writes)?;
                let b = Block::new(genesis_parent, 0, 0, Address::default(), layer.root, vec![]);
                store.commit(
                    &layer,
                    &BlockRecord {
                        height: 0,
                        digest: b.hash(),
                        bytes: block::encode(&b),
                        txs: vec![],
                        events: encode_events(&out.events),
                    },
                )?;
                info!(target: "mycel::chain", root = %layer.root, "genesis written");
                b
            }
            Some(_) => {
                let bytes = store
                    .block(0)?
                    .ok_or_else(|| Error::InvalidBlock("store has no genesis block".into()))?;
                let b = block::decode(&bytes)
                    .map_err(|e| Error::InvalidBlock(format!("stored genesis: {e}")))?;
                if b.parent != genesis_parent {
                    return Err(Error::InvalidBlock(
                        "the store holds a different chain than this genesis".into(),
                    ));
                }
                b
            }
        };
        let chain = Chain {
            store,
            chain_id: genesis.chain_id.clone(),
            params: genesis.params.clone(),
            genesis: genesis_block,
            pending: Mutex::new(BTreeMap::new()),
            mempool: Mutex::new(Mempool::new(mempool_size)),
            max_block_txs,
        };
        chain.restore_mempool()?;
        Ok(chain)
    }

    /// Re-admits the transactions acknowledged before a restart, in nonce order; those that
    /// are no longer valid (finalized meanwhile, or stale) are forgotten.
    fn restore_mempool(&self) -> Result<()> {
        let mut txs: Vec<Tx> = self
            .store
            .pending_txs()?
            .iter()
            .filter_map(|b| Tx::decode_bytes(b).ok())
            .collect();
        txs.sort_by_key(|t| (t.sender(), t.body.nonce));
        let state = self.finalized_state()?;
        let mut dead = Vec::new();
        let mut mempool = self.mempool.lock();
        let mut restored = 0;
        for tx in txs {
            let h = tx.hash();
            match mempool.admit(tx, &state, &self.params, &self.chain_id) {
                Ok(_) => restored += 1,
                Err(_) => dead.push(h),
            }
        }
        drop(mempool);
        self.store.remove_pending_txs(&dead)?;
        if restored > 0 {
            info!(target: "mycel::mempool", restored, "re-admitted acknowledged transactions");
        }
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Chain parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The genesis block (height 0).
    pub fn genesis_block(&self) -> &Block {
        &self.genesis
    }

    /// The last finalized block.
    pub fn head(&self) -> Result<CommitInfo> {
        self.store
            .head()?
            .ok_or_else(|| Error::InvalidBlock("empty store".into()))
    }

    /// A read view of the last finalized state.
    pub fn finalized_state(&self) -> Result<Snapshot> {
        Ok(self.store.snapshot(&[])?)
    }

    /// Number of pending mempool transactions.
    pub fn mempool_len(&self) -> usize {
        self.mempool.lock().len()
    }

    /// True when `hash` waits in the mempool.
    pub fn in_mempool(&self, hash: &Hash) -> bool {
        self.mempool.lock().contains(hash)
    }

    /// Admits a transaction into the mempool and records it durably before acknowledging it,
    /// so an acknowledged transaction survives a crash.
    pub fn submit(&self, tx: Tx) -> std::result::Result<Hash, TxError> {
        let state = self
            .finalized_state()
            .map_err(|e| TxError::Unavailable(e.to_string()))?;
        let bytes = tx.encode().to_vec();
        let mut mempool = self.mempool.lock();
        let hash = mempool.admit(tx, &state, &self.params, &self.chain_id)?;
        if let Err(e) = self.store.put_pending_tx(&hash, &bytes) {
            mempool.remove(&hash);
            return Err(TxError::Unavailable(e.to_string()));
        }
        Ok(hash)
    }

    /// The layers from the last finalized block up to `digest`, oldest first; `None` if some
    /// block on the way was never executed here or sits on a dead fork.
    fn layers_to(
        &self,
        digest: Digest,
        pending: &BTreeMap<Digest, Pending>,
    ) -> Result<Option<Path>> {
        let head = self.head()?;
        let mut layers = Vec::new();
        let mut txs = BTreeSet::new();
        let mut cur = digest;
        loop {
            if to_hash(&cur) == head.digest {
                layers.reverse();
                return Ok(Some((layers, txs)));
            }
            let Some(p) = pending.get(&cur) else {
                return Ok(None);
            };
            if p.block.height <= head.height {
                return Ok(None);
            }
            layers.push(p.layer.clone());
            txs.extend(p.block.txs.iter().map(Tx::hash));
            cur = p.block.parent;
        }
    }

    /// True when the post-state of `digest` is available (finalized head or executed pending).
    pub fn is_executed(&self, digest: &Digest) -> bool {
        let pending = self.pending.lock();
        matches!(self.layers_to(*digest, &pending), Ok(Some(_)))
    }

    /// True when transactions wait that a block on `parent` could include.
    pub fn has_candidates(&self, parent: &Digest) -> bool {
        let exclude = {
            let pending = self.pending.lock();
            match self.layers_to(*parent, &pending) {
                Ok(Some((_, txs))) => txs,
                _ => return false,
            }
        };
        !self.mempool.lock().candidates(1, &exclude).is_empty()
    }

    /// Builds, executes and records a block on `parent` with waiting transactions. Transactions
    /// that fail their admission checks against the parent's state are dropped from the mempool.
    pub fn build(&self, parent: &Block, proposer: Address, timestamp_ms: u64) -> Result<Block> {
        let (layers, exclude) = {
            let pending = self.pending.lock();
            self.layers_to(parent.digest(), &pending)?
                .ok_or(Error::UnknownParent(parent.digest()))?
        };
        // Fill the block up to the transaction count and the byte limit (which keeps every
        // block below the p2p message limit).
        let mut budget = MAX_BLOCK_BYTES - BLOCK_HEADER_BYTES;
        let mut txs: Vec<Tx> = Vec::new();
        for t in self.mempool.lock().candidates(self.max_block_txs, &exclude) {
            let size = t.encode_size();
            if size > budget {
                break;
            }
            budget -= size;
            txs.push((*t).clone());
        }
        let snapshot = self.store.snapshot(&layers)?;
        let env = BlockEnv {
            height: parent.height + 1,
            proposer,
            parent: to_hash(&parent.digest()),
        };
        let out = loop {
            match execute_block(&snapshot, &env, &txs) {
                Ok(out) => break out,
                Err(LedgerError::InvalidTx { index, error }) => {
                    let bad = txs.remove(index);
                    debug!(target: "mycel::mempool", tx = %bad.hash(), %error, "dropping invalid transaction");
                    self.mempool.lock().remove(&bad.hash());
                    self.store.remove_pending_txs(&[bad.hash()])?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let layer = snapshot.apply(out.writes)?;
        let b = Block::new(
            parent.digest(),
            parent.height + 1,
            timestamp_ms.max(parent.timestamp_ms),
            proposer,
            layer.root,
            txs,
        );
        self.pending.lock().insert(
            b.digest(),
            Pending {
                block: Arc::new(b.clone()),
                layer: Arc::new(layer),
                receipts: out.receipts,
                events: out.events,
            },
        );
        Ok(b)
    }

    /// Re-executes `block` on its parent's state and records it if its header is right.
    pub fn verify(&self, block: &Block) -> Result<()> {
        if self.pending.lock().contains_key(&block.digest()) {
            return Ok(());
        }
        let size = block.encode_size();
        if size > MAX_BLOCK_BYTES {
            return Err(Error::InvalidBlock(format!(
                "{size} bytes, above {MAX_BLOCK_BYTES}"
            )));
        }
        if block.txs.len() > self.max_block_txs {
            return Err(Error::InvalidBlock(format!(
                "{} transactions, above {}",
                block.txs.len(),
                self.max_block_txs
            )));
        }
        let layers = {
            let pending = self.pending.lock();
            self.layers_to(block.parent, &pending)?
                .ok_or(Error::UnknownParent(block.parent))?
                .0
        };
        let snapshot = self.store.snapshot(&layers)?;
        if snapshot.version() != Some(block.height - 1) {
            return Err(Error::InvalidBlock(format!(
                "height {} does not follow its parent",
                block.height
            )));
        }
        let env = BlockEnv {
            height: block.height,
            proposer: block.proposer,
            parent: to_hash(&block.parent),
        };
        let out = execute_block(&snapshot, &env, &block.txs)?;
        let layer = snapshot.apply(out.writes)?;
        if layer.root != block.state_root {
            return Err(Error::InvalidBlock(format!(
                "state root {} but execution gives {}",
                block.state_root, layer.root
            )));
        }
        self.pending.lock().insert(
            block.digest(),
            Pending {
                block: Arc::new(block.clone()),
                layer: Arc::new(layer),
                receipts: out.receipts,
                events: out.events,
            },
        );
        Ok(())
    }

    /// Commits a finalized block. Idempotent: a block at or below the finalized height is
    /// ignored if it is the one already committed there.
    pub fn finalize(&self, block: &Block) -> Result<()> {
        let head = self.head()?;
        if block.height <= head.height {
            return match self.store.block_meta(block.height)? {
                Some((d, _)) if d == block.hash() => Ok(()),
                _ => Err(Error::InvalidBlock(format!(
                    "conflicting finalized block at height {}",
                    block.height
                ))),
            };
        }
        if to_hash(&block.parent) != head.digest {
            return Err(Error::UnknownParent(block.parent));
        }
        if !self.pending.lock().contains_key(&block.digest()) {
            self.verify(block)?;
        }
        let p = self
            .pending
            .lock()
            .remove(&block.digest())
            .ok_or(Error::UnknownParent(block.digest()))?;
        let txs = p
            .receipts
            .iter()
            .map(|r| (r.tx_hash, r.encode().to_vec()))
            .collect();
        self.store.commit(
            &p.layer,
            &BlockRecord {
                height: block.height,
                digest: block.hash(),
                bytes: block::encode(block),
                txs,
                events: encode_events(&p.events),
            },
        )?;
        let mut done: Vec<Hash> = block.txs.iter().map(Tx::hash).collect();
        {
            let mut mempool = self.mempool.lock();
            for h in &done {
                mempool.remove(h);
            }
            done.extend(mempool.prune(&self.store.snapshot(&[])?));
        }
        self.store.remove_pending_txs(&done)?;
        self.pending
            .lock()
            .retain(|_, p| p.block.height > block.height);
        debug!(target: "mycel::chain", height = block.height, txs = block.txs.len(), root = %block.state_root, "finalized");
        Ok(())
    }
}
