//! Chain state shared by the application, the finalizer and the API: the store, the executed but
//! unfinalized blocks and the mempool.

use crate::{
    Error, Result,
    block::{self, Block, Certificate, Digest, Evidence, MAX_EVIDENCE, to_hash},
    engine::{NAMESPACE, participants},
    mempool::{Limits, Mempool},
};
use commonware_consensus::{Epochable, simplex::scheme::ed25519::Scheme, types::Epoch};
use commonware_cryptography::{Digestible, ed25519::PublicKey};
use commonware_parallel::Sequential;
use mycel_ledger::{
    Receipt, Tx, TxError,
    events::encode_events,
    execute::{
        BlockEnv, Certified, Equivocation, build_block, execute_block_checked, execute_genesis,
    },
    genesis::{Genesis, Params},
    modules::staking,
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

/// Encoded size of a block without its transactions and certificate (header fields, the
/// certificate flag and the transaction count prefix).
const BLOCK_HEADER_BYTES: usize = 32 + 8 + 8 + 20 + 32 + 1 + 5;

/// The layers from the finalized head to a block, and the transactions they already include.
type Path = (Vec<Arc<Layer>>, BTreeSet<Hash>);

/// A block executed here but not finalized yet.
struct Pending {
    block: Arc<Block>,
    layer: Arc<Layer>,
    receipts: Vec<Receipt>,
    events: Vec<mycel_ledger::Event>,
}

/// The validators of one consensus epoch, as the ledger fixed them at the end of the epoch
/// before (the genesis set for epoch 0).
pub struct EpochSet {
    /// The epoch.
    pub epoch: u64,
    /// Their consensus keys, in the engine's participant order.
    pub participants: commonware_utils::ordered::Set<PublicKey>,
    /// Address of each participant, by its index in signer bitmaps.
    pub addresses: Vec<Address>,
    /// Verifies the epoch's votes and certificates.
    pub verifier: Scheme,
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
    /// Blocks per consensus epoch (the ledger's epoch length).
    epoch_length: u64,
    /// Genesis validators' keys, for chains whose state predates recorded consensus keys.
    genesis_keys: BTreeMap<Address, PublicKey>,
    /// The participant sets of the epochs looked up so far (a set never changes once its
    /// epoch's previous one is finalized).
    epochs: Mutex<BTreeMap<u64, Arc<EpochSet>>>,
    /// Equivocation evidence reported by this node's consensus engine and not yet finalized,
    /// by offender.
    evidence: Mutex<BTreeMap<Address, Evidence>>,
    /// Woken when a block is committed ([`Chain::next_commit`]).
    commit_waiters: Mutex<Vec<futures::channel::oneshot::Sender<()>>>,
}

impl Chain {
    /// Opens the chain in `store`, writing genesis if the store is empty. Fails if the store
    /// holds another chain. `mempool` bounds the pool (a plain number: that many transactions,
    /// with [`Limits::new`]'s per-sender share).
    pub fn open(
        store: Arc<Store>,
        genesis: &Genesis,
        max_block_txs: usize,
        mempool: impl Into<Limits>,
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
        if genesis.params.rewards.epoch_length < 2 {
            return Err(Error::InvalidBlock(
                "epoch_length must be at least 2 (an epoch holds at least one block after its boundary)"
                    .into(),
            ));
        }
        let genesis_keys = genesis
            .validator_keys()?
            .into_iter()
            .map(|k| (Address::from_public_key(&k), k))
            .collect();
        let chain = Chain {
            store,
            chain_id: genesis.chain_id.clone(),
            params: genesis.params.clone(),
            genesis: genesis_block,
            pending: Mutex::new(BTreeMap::new()),
            mempool: Mutex::new(Mempool::new(mempool.into())),
            max_block_txs,
            epoch_length: genesis.params.rewards.epoch_length,
            genesis_keys,
            epochs: Mutex::new(BTreeMap::new()),
            evidence: Mutex::new(BTreeMap::new()),
            commit_waiters: Mutex::new(Vec::new()),
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
                Ok(a) => {
                    restored += 1;
                    dead.extend(a.evicted);
                }
                Err(_) => dead.push(h),
            }
        }
        drop(mempool);
        self.store.remove_pending_txs(&dead);
        if restored > 0 {
            info!(target: "mycel::mempool", restored, "re-admitted acknowledged transactions");
        }
        Ok(())
    }

    /// Blocks per consensus epoch.
    pub fn epoch_length(&self) -> u64 {
        self.epoch_length
    }

    /// The genesis validators' consensus keys.
    pub fn genesis_validator_keys(&self) -> Vec<PublicKey> {
        self.genesis_keys.values().cloned().collect()
    }

    /// The epoch of the block at `height` (genesis is in epoch 0).
    pub fn epoch_of(&self, height: u64) -> u64 {
        height / self.epoch_length
    }

    /// Height of the last block of `epoch`: once it is finalized, the next epoch's set votes.
    pub fn last_of(&self, epoch: u64) -> u64 {
        (epoch + 1) * self.epoch_length - 1
    }

    /// The validators of `epoch`, from the finalized state; `None` while the block that fixes
    /// them (the last of the epoch before) is not finalized here.
    pub fn epoch_set(&self, epoch: u64) -> Result<Option<Arc<EpochSet>>> {
        if let Some(s) = self.epochs.lock().get(&epoch) {
            return Ok(Some(s.clone()));
        }
        if epoch > 0 && self.head()?.height < self.last_of(epoch - 1) {
            return Ok(None);
        }
        let state = self.finalized_state()?;
        let members = staking::validator_set(&state, epoch)?;
        if members.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(members.len());
        for (addr, _) in members {
            let key = match staking::consensus_key(&state, &addr)? {
                Some(k) => k,
                None => self.genesis_keys.get(&addr).cloned().ok_or_else(|| {
                    Error::InvalidBlock(format!("validator {addr} of epoch {epoch} has no key"))
                })?,
            };
            keys.push(key);
        }
        let participants = participants(&keys);
        let set = Arc::new(EpochSet {
            epoch,
            addresses: participants.iter().map(Address::from_public_key).collect(),
            verifier: Scheme::verifier(NAMESPACE, participants.clone()),
            participants,
        });
        let mut epochs = self.epochs.lock();
        epochs.insert(epoch, set.clone());
        // Old sets are only needed for certificates near a boundary.
        while epochs.len() > 8 {
            epochs.pop_first();
        }
        Ok(Some(set))
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

    /// Up to `max` pending transactions, in proposal order (what a node gossips again).
    pub fn pending_sample(&self, max: usize) -> Vec<Arc<Tx>> {
        self.mempool.lock().candidates(max, &BTreeSet::new())
    }

    /// True when `hash` waits in the mempool.
    pub fn in_mempool(&self, hash: &Hash) -> bool {
        self.mempool.lock().contains(hash)
    }

    /// Admits a transaction into the mempool and records it durably before acknowledging it,
    /// so an acknowledged transaction survives a crash. (An acknowledged transaction can still
    /// be evicted by better-paying ones or dropped as invalid; it is then no longer pending,
    /// and `GET /api/v1/txs/{hash}` says so.)
    ///
    /// The disk write happens outside the mempool's lock, grouped with concurrent submissions
    /// (one commit for all of them), so proposers and other submitters never wait on it.
    pub fn submit(&self, tx: Tx) -> std::result::Result<Hash, TxError> {
        let bytes = tx.encode().to_vec();
        let admitted = self.admit(tx)?;
        let hash = admitted.hash;
        if let Err(e) = self.store.put_pending_tx(&hash, &bytes, &admitted.evicted) {
            self.mempool.lock().remove(&hash);
            return Err(TxError::Unavailable(e.to_string()));
        }
        Ok(hash)
    }

    /// Admits a batch of transactions another node gossiped, into the mempool only: the node
    /// that acknowledged each to its sender holds it durably (and gossips it again after a
    /// restart), so a write here would cost a disk sync per transaction on every node for
    /// nothing. Those already pending (re-gossip) are skipped before any signature is checked;
    /// the others' signatures are checked in one batch. One result per transaction, in order.
    pub fn admit_gossiped(&self, txs: Vec<Tx>) -> Vec<std::result::Result<Hash, TxError>> {
        let mut out: Vec<std::result::Result<Hash, TxError>> = Vec::with_capacity(txs.len());
        // The transactions that pass the pre-checks, and where each sits in `txs`.
        let (mut at, mut fresh) = (Vec::new(), Vec::new());
        {
            let mempool = self.mempool.lock();
            for (i, tx) in txs.into_iter().enumerate() {
                out.push(mempool.precheck(&tx));
                if out[i].is_ok() {
                    at.push(i);
                    fresh.push(tx);
                }
            }
        }
        // A batch that fails names its first forgery; the ones after it are checked again.
        let mut forged = vec![false; fresh.len()];
        let mut from = 0;
        while from < fresh.len() {
            match mycel_ledger::tx::verify_signatures(&fresh[from..]) {
                Ok(()) => break,
                Err((bad, e)) => {
                    forged[from + bad] = true;
                    out[at[from + bad]] = Err(e);
                    from += bad + 1;
                }
            }
        }
        let verified = at
            .into_iter()
            .zip(fresh)
            .zip(forged)
            .filter(|(_, forged)| !forged)
            .map(|(v, _)| v);
        let mut evicted = Vec::new();
        {
            // Under the pool's lock, as in `admit`.
            let mut mempool = self.mempool.lock();
            let state = match self.finalized_state() {
                Ok(s) => s,
                Err(e) => {
                    for (i, _) in verified {
                        out[i] = Err(TxError::Unavailable(e.to_string()));
                    }
                    return out;
                }
            };
            for (i, tx) in verified {
                out[i] = mempool
                    .admit_verified(tx, &state, &self.params, &self.chain_id)
                    .map(|a| {
                        evicted.extend(a.evicted);
                        a.hash
                    });
            }
        }
        if !evicted.is_empty() {
            // Evicted by better payers: no longer pending here, so not restored either.
            self.store.remove_pending_txs(&evicted);
        }
        out
    }

    /// Admission with the signature checked outside the mempool's lock.
    fn admit(&self, tx: Tx) -> std::result::Result<crate::mempool::Admitted, TxError> {
        self.mempool.lock().precheck(&tx)?;
        tx.verify_signature()?;
        // The state is read under the pool's lock: a finalized block leaves the pool only after
        // its commit, so a view read first could be older than the pool (its transactions gone
        // from the pool, their nonces not yet used in the view) and refuse the next nonce.
        let mut mempool = self.mempool.lock();
        let state = self
            .finalized_state()
            .map_err(|e| TxError::Unavailable(e.to_string()))?;
        mempool.admit_verified(tx, &state, &self.params, &self.chain_id)
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

    /// The digest of the ancestor at `height` of the block `from` (itself included), through
    /// the executed blocks and the finalized store; `None` if the path from `from` does not
    /// reach the finalized head or `height` is above `from`.
    fn ancestor_at(&self, from: Digest, height: u64) -> Result<Option<Digest>> {
        // Lock before reading the head: a concurrent finalization commits the head before it
        // prunes the executed blocks, so the walk always meets one or the other.
        let pending = self.pending.lock();
        let head = self.head()?;
        let mut cur = from;
        while to_hash(&cur) != head.digest {
            let Some(p) = pending.get(&cur) else {
                return Ok(None);
            };
            if p.block.height <= head.height || p.block.height < height {
                return Ok(None);
            }
            if p.block.height == height {
                return Ok(Some(cur));
            }
            cur = p.block.parent;
        }
        drop(pending);
        if height > head.height {
            return Ok(None);
        }
        Ok(self.store.block_meta(height)?.map(|(d, _)| Digest(d.0)))
    }

    /// Height of the last block certified on the chain ending at `digest` (from its
    /// post-state); `None` if that state is not available here.
    pub fn last_certified(&self, digest: &Digest) -> Result<Option<u64>> {
        let layers = {
            let pending = self.pending.lock();
            match self.layers_to(*digest, &pending)? {
                Some((layers, _)) => layers,
                None => return Ok(None),
            }
        };
        let snapshot = self.store.snapshot(&layers)?;
        Ok(Some(staking::last_certified(&snapshot)?))
    }

    /// The ledger's view of `certificate` carried by a block at `height` on `parent`: checks
    /// that it finalizes `parent`'s ancestor at the height it names (below `height`) in this
    /// chain's epoch, with a signer bitmap over the participants, and returns the signers'
    /// addresses. Signatures are checked separately ([`Chain::verify_certificate`]); the
    /// ledger checks that the height was not certified before.
    pub fn certified(
        &self,
        parent: &Digest,
        height: u64,
        certificate: &Certificate,
    ) -> Result<Certified> {
        let bad = |why: String| Error::InvalidBlock(format!("certificate: {why}"));
        let c = certificate;
        if c.height == 0 || c.height >= height {
            return Err(bad(format!(
                "certifies height {} from height {height}",
                c.height
            )));
        }
        let epoch = self.epoch_of(c.height);
        if c.finalization.epoch() != Epoch::new(epoch) {
            return Err(bad(format!(
                "epoch {} for height {} of epoch {epoch}",
                c.finalization.epoch(),
                c.height
            )));
        }
        let set = self
            .epoch_set(epoch)?
            .ok_or_else(|| bad(format!("epoch {epoch}'s validators are not known yet")))?;
        let ancestor = self
            .ancestor_at(*parent, c.height)?
            .ok_or(Error::UnknownParent(*parent))?;
        if c.finalization.proposal.payload != ancestor {
            return Err(bad(format!(
                "finalizes {} but the ancestor at height {} is {ancestor}",
                c.finalization.proposal.payload, c.height
            )));
        }
        let bitmap = &c.finalization.certificate.signers;
        if bitmap.len() != set.addresses.len() {
            return Err(bad(format!(
                "{} signer slots for {} participants",
                bitmap.len(),
                set.addresses.len()
            )));
        }
        let signers = bitmap
            .iter()
            .map(|p| set.addresses.get(p.get() as usize).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("unknown signer".into()))?;
        Ok(Certified {
            height: c.height,
            signers,
        })
    }

    /// Checks the signatures of `certificate` against the participants of its epoch (a quorum
    /// of valid finalize signatures over its proposal).
    pub fn verify_certificate<R: rand::CryptoRng>(
        &self,
        rng: &mut R,
        certificate: &Certificate,
    ) -> bool {
        match self.epoch_set(certificate.finalization.epoch().get()) {
            Ok(Some(set)) => certificate
                .finalization
                .verify(rng, &set.verifier, &Sequential),
            _ => false,
        }
    }

    /// Records equivocation evidence the consensus engine found (it verified both votes);
    /// the next block this node proposes carries it. Evidence against an unknown signer or of
    /// another epoch is ignored.
    pub fn report_evidence(&self, evidence: Evidence) {
        let Ok(Some(set)) = self.epoch_set(evidence.epoch()) else {
            return;
        };
        let Some(&offender) = set.addresses.get(evidence.signer() as usize) else {
            return;
        };
        // A late report of an offender already punished would sit in the pool forever.
        if self
            .finalized_state()
            .and_then(|s| Ok(staking::tombstoned(&s, &offender)?))
            .unwrap_or(false)
        {
            return;
        }
        info!(target: "mycel::consensus", %offender, view = evidence.view(), "equivocation detected");
        self.evidence.lock().entry(offender).or_insert(evidence);
    }

    /// Number of equivocation proofs waiting to be included.
    pub fn pending_evidence(&self) -> usize {
        self.evidence.lock().len()
    }

    /// The ledger's view of a block's evidence: each proof's offender (a participant of this
    /// chain's epoch), at most [`MAX_EVIDENCE`] and no offender twice. Signatures are checked
    /// separately ([`Chain::verify_evidence`]).
    pub fn equivocations(&self, evidence: &[Evidence]) -> Result<Vec<Equivocation>> {
        let bad = |why: String| Error::InvalidBlock(format!("evidence: {why}"));
        if evidence.len() > MAX_EVIDENCE {
            return Err(bad(format!(
                "{} proofs, above {MAX_EVIDENCE}",
                evidence.len()
            )));
        }
        let mut out: Vec<Equivocation> = Vec::with_capacity(evidence.len());
        for e in evidence {
            let set = self
                .epoch_set(e.epoch())?
                .ok_or_else(|| bad(format!("epoch {} is not known here", e.epoch())))?;
            let validator = *set
                .addresses
                .get(e.signer() as usize)
                .ok_or_else(|| bad(format!("unknown signer {}", e.signer())))?;
            if out.iter().any(|o| o.validator == validator) {
                return Err(bad(format!("{validator} named twice")));
            }
            out.push(Equivocation {
                validator,
                epoch: e.epoch(),
                view: e.view(),
            });
        }
        Ok(out)
    }

    /// Checks the signatures of every proof `block` carries against the participants.
    pub fn verify_evidence<R: rand::CryptoRng>(&self, rng: &mut R, block: &Block) -> bool {
        block
            .evidence
            .iter()
            .all(|e| match self.epoch_set(e.epoch()) {
                Ok(Some(set)) => e.verify(rng, &set.verifier),
                _ => false,
            })
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
        self.mempool.lock().has_candidates(&exclude)
    }

    /// Builds, executes and records a block on `parent` with waiting transactions and, if it
    /// fits the chain, `certificate` (a finalization this node has already verified).
    /// Transactions that fail their admission checks against the parent's state are dropped
    /// from the mempool.
    pub fn build(
        &self,
        parent: &Block,
        proposer: Address,
        timestamp_ms: u64,
        certificate: Option<Certificate>,
    ) -> Result<Block> {
        let (layers, exclude) = {
            let pending = self.pending.lock();
            self.layers_to(parent.digest(), &pending)?
                .ok_or(Error::UnknownParent(parent.digest()))?
        };
        let snapshot = self.store.snapshot(&layers)?;
        // A certificate that does not fit the chain (another fork, a height already certified)
        // is left out: the block stays valid without one.
        let last = staking::last_certified(&snapshot)?;
        let (certificate, certified) = match certificate {
            Some(c) if c.height <= last => (None, None),
            Some(c) => match self.certified(&parent.digest(), parent.height + 1, &c) {
                Ok(certified) => (Some(c), Some(certified)),
                Err(e) => {
                    debug!(target: "mycel::consensus", error = %e, "leaving out a certificate");
                    (None, None)
                }
            },
            None => (None, None),
        };
        // Fill the block up to the transaction count and the byte limit (which keeps every
        // block below the p2p message limit), in one pass over the candidates.
        let budget = MAX_BLOCK_BYTES
            - BLOCK_HEADER_BYTES
            - certificate.as_ref().map_or(0, EncodeSize::encode_size);
        // Evidence against validators not yet tombstoned on this chain.
        let evidence: Vec<Evidence> = {
            let pool = self.evidence.lock();
            let mut v = Vec::new();
            for (offender, e) in pool.iter() {
                if v.len() == MAX_EVIDENCE {
                    break;
                }
                if !staking::tombstoned(&snapshot, offender)? {
                    v.push(e.clone());
                }
            }
            v
        };
        let equivocations = self.equivocations(&evidence)?;
        let budget = budget.saturating_sub(evidence.iter().map(EncodeSize::encode_size).sum());
        let env = BlockEnv {
            height: parent.height + 1,
            proposer,
            parent: to_hash(&parent.digest()),
            time_ms: timestamp_ms.max(parent.timestamp_ms),
            certified,
            equivocations,
        };
        let candidates = self.mempool.lock().candidates(self.max_block_txs, &exclude);
        let built = build_block(&snapshot, &env, candidates, self.max_block_txs, budget)?;
        if !built.rejected.is_empty() {
            let mut dropped = Vec::new();
            let mut mempool = self.mempool.lock();
            for (hash, error) in &built.rejected {
                debug!(target: "mycel::mempool", tx = %hash, %error, "dropping invalid transaction");
                if matches!(error, TxError::NonceTooLow { .. }) {
                    // Already on the chain (a block being finalized leaves the pool only after
                    // its commit): the sender's later transactions are still good.
                    mempool.remove(hash);
                    dropped.push(*hash);
                } else {
                    dropped.extend(mempool.reject(hash));
                }
            }
            drop(mempool);
            self.store.remove_pending_txs(&dropped);
        }
        let (txs, out) = (built.txs, built.output);
        let layer = snapshot.apply(out.writes)?;
        let b = Block::with_certificate(
            parent.digest(),
            parent.height + 1,
            timestamp_ms.max(parent.timestamp_ms),
            proposer,
            layer.root,
            certificate,
            txs,
        )
        .with_evidence(evidence);
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

    /// Re-executes `block` on its parent's state and records it if its header is right and its
    /// certificate, if any, finalizes one of its ancestors (the signatures are checked by
    /// [`Chain::verify_certificate`] before voting; finalized blocks carry a quorum's word).
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
        let certified = match &block.certificate {
            Some(c) => Some(self.certified(&block.parent, block.height, c)?),
            None => None,
        };
        let env = BlockEnv {
            height: block.height,
            proposer: block.proposer,
            parent: to_hash(&block.parent),
            time_ms: block.timestamp_ms,
            certified,
            equivocations: self.equivocations(&block.evidence)?,
        };
        // Transactions this node admitted had their signatures checked then (a hash covers
        // the signature too): only the others are verified again.
        let admitted: Vec<bool> = {
            let hashes: Vec<Hash> = block.txs.iter().map(Tx::hash).collect();
            let mempool = self.mempool.lock();
            hashes.iter().map(|h| mempool.contains(h)).collect()
        };
        let out = execute_block_checked(&snapshot, &env, &block.txs, |i| admitted[i])?;
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

    /// Completes once a block is committed after this call (or is dropped, unsent, with the
    /// chain). Ask before reading the head, so that a commit in between is not missed.
    pub fn next_commit(&self) -> futures::channel::oneshot::Receiver<()> {
        let (tx, rx) = futures::channel::oneshot::channel();
        let mut waiters = self.commit_waiters.lock();
        waiters.retain(|w| !w.is_canceled());
        waiters.push(tx);
        rx
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
        // The block stays among the pending ones until its commit is done, so that a proposal
        // or a vote building on it meanwhile finds its state in one place or the other.
        let (layer, txs, events) = {
            let pending = self.pending.lock();
            let p = pending
                .get(&block.digest())
                .ok_or(Error::UnknownParent(block.digest()))?;
            let txs = p
                .receipts
                .iter()
                .map(|r| (r.tx_hash, r.encode().to_vec()))
                .collect();
            (p.layer.clone(), txs, encode_events(&p.events))
        };
        self.store.commit(
            &layer,
            &BlockRecord {
                height: block.height,
                digest: block.hash(),
                bytes: block::encode(block),
                txs,
                events,
            },
        )?;
        // The commit forgot the block's own transactions; those it made unpayable or stale
        // are dropped here.
        let pruned = {
            let mut mempool = self.mempool.lock();
            for h in block.txs.iter().map(Tx::hash) {
                mempool.remove(&h);
            }
            mempool.prune(&self.store.snapshot(&[])?, block.txs.iter().map(Tx::sender))
        };
        self.store.remove_pending_txs(&pruned);
        if !block.evidence.is_empty() {
            let state = self.store.snapshot(&[])?;
            let mut pool = self.evidence.lock();
            let mut punished = Vec::new();
            for offender in pool.keys() {
                if staking::tombstoned(&state, offender)? {
                    punished.push(*offender);
                }
            }
            for o in punished {
                pool.remove(&o);
            }
        }
        self.pending
            .lock()
            .retain(|_, p| p.block.height > block.height);
        for w in self.commit_waiters.lock().drain(..) {
            let _ = w.send(());
        }
        debug!(target: "mycel::chain", height = block.height, txs = block.txs.len(), root = %block.state_root, "finalized");
        Ok(())
    }
}
