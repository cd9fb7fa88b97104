//! The mempool: admission checks and proposal order.

use mycel_ledger::{Tx, TxError, check_tx, execute::nonce, genesis::Params};
use mycel_primitives::{Address, Hash, codec::EncodeSize};
use mycel_store::StateRead;
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    sync::Arc,
};

/// Pending transactions, in arrival order, with at most one per (sender, nonce).
pub struct Mempool {
    txs: BTreeMap<Hash, Arc<Tx>>,
    queue: VecDeque<Hash>,
    by_sender: BTreeMap<Address, BTreeMap<u64, Hash>>,
    max_txs: usize,
}

impl Mempool {
    /// An empty mempool holding at most `max_txs`.
    pub fn new(max_txs: usize) -> Self {
        Mempool {
            txs: BTreeMap::new(),
            queue: VecDeque::new(),
            by_sender: BTreeMap::new(),
            max_txs,
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// True when `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.txs.contains_key(hash)
    }

    /// Admits `tx` after checking it against `state` (the last finalized state). The nonce must
    /// be the sender's next one, counting its transactions already pending here.
    pub fn admit(
        &mut self,
        tx: Tx,
        state: &(impl StateRead + ?Sized),
        params: &Params,
        chain_id: &str,
    ) -> Result<Hash, TxError> {
        let hash = tx.hash();
        if self.txs.contains_key(&hash) {
            return Err(TxError::Duplicate(hash));
        }
        if self.txs.len() >= self.max_txs {
            return Err(TxError::MempoolFull);
        }
        let size = tx.encode_size();
        if size > mycel_primitives::codec::MAX_TX_BYTES {
            return Err(TxError::TooLarge {
                size,
                max: mycel_primitives::codec::MAX_TX_BYTES,
            });
        }
        tx.verify_signature()?;
        let sender = tx.sender();
        // A failed read is this node's fault, not the transaction's: the client may retry.
        let state_nonce = nonce(state, &sender).map_err(|e| TxError::Unavailable(e.to_string()))?;
        let pending = self.by_sender.get(&sender);
        let expected = pending
            .and_then(|p| p.keys().next_back())
            .map_or(state_nonce, |n| (n + 1).max(state_nonce));
        if tx.body.nonce < expected && tx.body.nonce >= state_nonce {
            return Err(TxError::NonceTooLow {
                expected,
                got: tx.body.nonce,
            });
        }
        check_tx(state, params, chain_id, &tx, Some(expected))?;
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(tx.body.nonce, hash);
        self.txs.insert(hash, Arc::new(tx));
        self.queue.push_back(hash);
        Ok(hash)
    }

    /// Up to `max` transactions in arrival order, skipping `exclude` (transactions already in
    /// unfinalized ancestors of the block being built).
    pub fn candidates(&mut self, max: usize, exclude: &BTreeSet<Hash>) -> Vec<Arc<Tx>> {
        while self
            .queue
            .front()
            .is_some_and(|h| !self.txs.contains_key(h))
        {
            self.queue.pop_front();
        }
        self.queue
            .iter()
            .filter(|h| !exclude.contains(*h))
            .filter_map(|h| self.txs.get(h).cloned())
            .take(max)
            .collect()
    }

    /// Removes a transaction (included in a finalized block, or found invalid).
    pub fn remove(&mut self, hash: &Hash) {
        if let Some(tx) = self.txs.remove(hash) {
            let sender = tx.sender();
            if let Some(m) = self.by_sender.get_mut(&sender) {
                m.remove(&tx.body.nonce);
                if m.is_empty() {
                    self.by_sender.remove(&sender);
                }
            }
        }
    }

    /// Drops transactions made stale by a newly finalized state (nonce already used) and
    /// returns their hashes.
    pub fn prune(&mut self, state: &(impl StateRead + ?Sized)) -> Vec<Hash> {
        let mut stale = Vec::new();
        for (sender, by_nonce) in &self.by_sender {
            let Ok(n) = nonce(state, sender) else {
                continue;
            };
            stale.extend(by_nonce.range(..n).map(|(_, h)| *h));
        }
        for h in &stale {
            self.remove(h);
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use mycel_ledger::{
        Message, TxBody,
        execute::execute_genesis,
        genesis::{Genesis, dev_key},
        modules::bank,
    };
    use mycel_primitives::Amount;
    use mycel_store::MemState;

    fn setup() -> (Genesis, MemState) {
        let g = Genesis::dev("mp", 1);
        let mut s = MemState::default();
        s.apply(&execute_genesis(&g).unwrap().writes);
        (g, s)
    }

    fn transfer(nonce: u64, chain: &str) -> Tx {
        let k = dev_key("account", 0);
        TxBody {
            chain_id: chain.into(),
            sender: k.public_key(),
            nonce,
            fee: Amount::from_myc(1),
            messages: vec![Message::Bank(bank::Msg::Transfer {
                to: Address([5; 20]),
                amount: Amount(1),
            })],
            memo: String::new(),
        }
        .sign(&k)
    }

    #[test]
    fn nonce_rules() {
        let (g, s) = setup();
        let mut m = Mempool::new(10);
        m.admit(transfer(0, "mp"), &s, &g.params, "mp").unwrap();
        assert!(matches!(
            m.admit(transfer(0, "mp"), &s, &g.params, "mp"),
            Err(TxError::Duplicate(_))
        ));
        assert!(matches!(
            m.admit(transfer(2, "mp"), &s, &g.params, "mp"),
            Err(TxError::NonceGap {
                expected: 1,
                got: 2
            })
        ));
        m.admit(transfer(1, "mp"), &s, &g.params, "mp").unwrap();
        assert!(matches!(
            m.admit(transfer(5, "other"), &s, &g.params, "mp"),
            Err(TxError::WrongChainId { .. })
        ));
        let mut bad = transfer(2, "mp");
        bad.body.memo = "tampered".into();
        assert_eq!(
            m.admit(bad, &s, &g.params, "mp"),
            Err(TxError::BadSignature)
        );
        assert_eq!(m.candidates(10, &BTreeSet::new()).len(), 2);
        let first = m.candidates(1, &BTreeSet::new())[0].hash();
        let excl: BTreeSet<Hash> = [first].into();
        assert_eq!(m.candidates(10, &excl).len(), 1);
        m.remove(&first);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn full_mempool_rejects() {
        let (g, s) = setup();
        let mut m = Mempool::new(1);
        m.admit(transfer(0, "mp"), &s, &g.params, "mp").unwrap();
        assert_eq!(
            m.admit(transfer(1, "mp"), &s, &g.params, "mp"),
            Err(TxError::MempoolFull)
        );
    }
}
