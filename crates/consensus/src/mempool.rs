//! The mempool: admission checks, per-sender limits, fee priority and eviction.
//!
//! A transaction is admitted when it passes the ledger's checks against the last finalized
//! state (signature, chain id, fee, next nonce counting the sender's pending ones) and the
//! sender can pay for everything it has pending: its finalized balance must cover the upfront
//! cost (fee plus the amount moved by bank transfers and burns) of all its pending transactions
//! and this one. So an account cannot fill the pool with transactions it cannot pay for; at
//! most [`Limits::max_per_sender`] wait per account.
//!
//! Proposals take transactions by fee rate (fee per encoded byte), each sender's in nonce
//! order. When the pool is full a newcomer that pays a higher rate evicts the cheapest
//! sender's last transaction (never a predecessor of its own); otherwise it is refused.

use mycel_ledger::{
    Message, Tx, TxError, check_tx,
    execute::nonce,
    genesis::Params,
    modules::{bank, bank::Msg as BankMsg},
};
use mycel_primitives::{Address, Amount, Hash, codec::EncodeSize};
use mycel_store::StateRead;
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap},
    sync::Arc,
};

/// How large the pool may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Pending transactions in all.
    pub max_txs: usize,
    /// Pending transactions of one sender.
    pub max_per_sender: usize,
}

impl Limits {
    /// `max_txs` in all, and a 50th of them (at least 16) per sender.
    pub fn new(max_txs: usize) -> Limits {
        Limits {
            max_txs,
            max_per_sender: (max_txs / 50).max(16),
        }
    }
}

impl From<usize> for Limits {
    fn from(max_txs: usize) -> Limits {
        Limits::new(max_txs)
    }
}

/// A transaction admitted into the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// Its hash.
    pub hash: Hash,
    /// Cheaper transactions evicted to make room for it.
    pub evicted: Vec<Hash>,
}

struct Entry {
    tx: Arc<Tx>,
    hash: Hash,
    /// Fee per encoded byte, scaled by 1024.
    rate: u128,
    /// Arrival order: earlier wins ties.
    seq: u64,
    /// Fee plus the amounts its bank messages move.
    upfront: u128,
}

#[derive(Default)]
struct Account {
    by_nonce: BTreeMap<u64, Entry>,
    /// Sum of the pending transactions' upfront costs.
    spend: u128,
}

/// A sender's last pending transaction, ordered cheapest (then newest) first: the eviction
/// order.
type TailKey = (u128, Reverse<u64>, Address);

/// Pending transactions, at most one per (sender, nonce).
pub struct Mempool {
    limits: Limits,
    index: BTreeMap<Hash, (Address, u64)>,
    accounts: BTreeMap<Address, Account>,
    tails: BTreeSet<TailKey>,
    seq: u64,
}

/// The upfront cost of `tx`: its fee and what its bank messages move out of the sender's
/// balance. Other messages' deposits fail at execution, not at admission, if unpaid (the fee
/// is still charged).
pub fn upfront(tx: &Tx) -> u128 {
    tx.body.messages.iter().fold(tx.body.fee.0, |sum, m| {
        let moved = match m {
            Message::Bank(BankMsg::Transfer { amount, .. } | BankMsg::Burn { amount }) => amount.0,
            _ => 0,
        };
        sum.saturating_add(moved)
    })
}

fn rate(tx: &Tx) -> u128 {
    tx.body.fee.0.saturating_mul(1024) / tx.encode_size().max(1) as u128
}

impl Mempool {
    /// An empty mempool within `limits`.
    pub fn new(limits: Limits) -> Self {
        Mempool {
            limits,
            index: BTreeMap::new(),
            accounts: BTreeMap::new(),
            tails: BTreeSet::new(),
            seq: 0,
        }
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Number of senders with pending transactions.
    pub fn senders(&self) -> usize {
        self.accounts.len()
    }

    /// True when `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.index.contains_key(hash)
    }

    /// The upfront cost of `sender`'s pending transactions.
    pub fn pending_spend(&self, sender: &Address) -> Amount {
        Amount(self.accounts.get(sender).map_or(0, |a| a.spend))
    }

    fn tail_key(&self, sender: &Address) -> Option<TailKey> {
        let (_, e) = self.accounts.get(sender)?.by_nonce.last_key_value()?;
        Some((e.rate, Reverse(e.seq), *sender))
    }

    /// Applies `f` to `sender`'s account, keeping the eviction index and empty accounts right.
    fn with_account<R>(&mut self, sender: Address, f: impl FnOnce(&mut Account) -> R) -> R {
        if let Some(k) = self.tail_key(&sender) {
            self.tails.remove(&k);
        }
        let account = self.accounts.entry(sender).or_default();
        let r = f(account);
        if account.by_nonce.is_empty() {
            self.accounts.remove(&sender);
        } else if let Some(k) = self.tail_key(&sender) {
            self.tails.insert(k);
        }
        r
    }

    /// Removes `sender`'s transactions with nonces in `range` and returns their hashes.
    fn remove_range(
        &mut self,
        sender: Address,
        range: impl std::ops::RangeBounds<u64>,
    ) -> Vec<Hash> {
        let removed = self.with_account(sender, |a| {
            let nonces: Vec<u64> = a.by_nonce.range(range).map(|(n, _)| *n).collect();
            let mut out = Vec::with_capacity(nonces.len());
            for n in nonces {
                let e = a.by_nonce.remove(&n).expect("listed");
                a.spend -= e.upfront;
                out.push(e.hash);
            }
            out
        });
        for h in &removed {
            self.index.remove(h);
        }
        removed
    }

    /// Admits `tx` after checking it against `state` (the last finalized state). The nonce must
    /// be the sender's next one, counting its transactions already pending here.
    pub fn admit(
        &mut self,
        tx: Tx,
        state: &(impl StateRead + ?Sized),
        params: &Params,
        chain_id: &str,
    ) -> Result<Admitted, TxError> {
        self.precheck(&tx)?;
        tx.verify_signature()?;
        self.admit_verified(tx, state, params, chain_id)
    }

    /// The checks that come before a signature's: not pending already, not oversized. Returns
    /// the transaction's hash.
    pub fn precheck(&self, tx: &Tx) -> Result<Hash, TxError> {
        let hash = tx.hash();
        if self.index.contains_key(&hash) {
            return Err(TxError::Duplicate(hash));
        }
        let size = tx.encode_size();
        if size > mycel_primitives::codec::MAX_TX_BYTES {
            return Err(TxError::TooLarge {
                size,
                max: mycel_primitives::codec::MAX_TX_BYTES,
            });
        }
        Ok(hash)
    }

    /// [`Mempool::admit`] for a transaction whose signature the caller has verified (outside
    /// the pool's lock, or in a batch with others).
    pub fn admit_verified(
        &mut self,
        tx: Tx,
        state: &(impl StateRead + ?Sized),
        params: &Params,
        chain_id: &str,
    ) -> Result<Admitted, TxError> {
        let hash = self.precheck(&tx)?;
        let sender = tx.sender();
        // A failed read is this node's fault, not the transaction's: the client may retry.
        let unavailable = |e: mycel_ledger::Error| TxError::Unavailable(e.to_string());
        let state_nonce = nonce(state, &sender).map_err(unavailable)?;
        let account = self.accounts.get(&sender);
        let expected = account
            .and_then(|a| a.by_nonce.keys().next_back())
            .map_or(state_nonce, |n| (n + 1).max(state_nonce));
        if tx.body.nonce < expected && tx.body.nonce >= state_nonce {
            return Err(TxError::NonceTooLow {
                expected,
                got: tx.body.nonce,
            });
        }
        check_tx(state, params, chain_id, &tx, Some(expected))?;
        let pending = account.map_or(0, |a| a.by_nonce.len());
        if pending >= self.limits.max_per_sender {
            return Err(TxError::SenderLimit {
                max: self.limits.max_per_sender,
            });
        }
        let cost = upfront(&tx);
        let need = account.map_or(0, |a| a.spend).saturating_add(cost);
        let have =
            bank::balance(state, &sender).map_err(|e| TxError::Unavailable(e.to_string()))?;
        if have.0 < need {
            return Err(TxError::InsufficientBalance {
                need: Amount(need),
                have,
            });
        }
        let rate = rate(&tx);
        let mut evicted = Vec::new();
        if self.index.len() >= self.limits.max_txs {
            // The cheapest other sender's last transaction, if this one pays more.
            let victim = self
                .tails
                .iter()
                .take_while(|(r, _, _)| *r < rate)
                .find(|(_, _, a)| *a != sender)
                .map(|(_, _, a)| *a);
            let Some(victim) = victim else {
                return Err(TxError::MempoolFull);
            };
            let last = *self.accounts[&victim]
                .by_nonce
                .keys()
                .next_back()
                .expect("a tail");
            evicted = self.remove_range(victim, last..);
        }
        self.seq += 1;
        let entry = Entry {
            tx: Arc::new(tx),
            hash,
            rate,
            seq: self.seq,
            upfront: cost,
        };
        let n = entry.tx.body.nonce;
        self.with_account(sender, |a| {
            a.spend += entry.upfront;
            a.by_nonce.insert(n, entry);
        });
        self.index.insert(hash, (sender, n));
        Ok(Admitted { hash, evicted })
    }

    /// Up to `max` transactions for a block, highest fee rate first and each sender's in nonce
    /// order, skipping `exclude` (transactions already in unfinalized ancestors of the block
    /// being built). Linear in `max` plus the number of senders.
    pub fn candidates(&self, max: usize, exclude: &BTreeSet<Hash>) -> Vec<Arc<Tx>> {
        // Each sender's next transaction, by (rate, earliest arrival).
        let mut heads: BinaryHeap<(u128, Reverse<u64>, Address, u64)> = BinaryHeap::new();
        let next = |a: &Account, from: u64| {
            a.by_nonce
                .range(from..)
                .find(|(_, e)| !exclude.contains(&e.hash))
                .map(|(n, e)| (e.rate, Reverse(e.seq), *n))
        };
        for (addr, a) in &self.accounts {
            if let Some((r, s, n)) = next(a, 0) {
                heads.push((r, s, *addr, n));
            }
        }
        let mut out = Vec::with_capacity(max.min(self.index.len()));
        while out.len() < max {
            let Some((_, _, addr, n)) = heads.pop() else {
                break;
            };
            let a = &self.accounts[&addr];
            out.push(a.by_nonce[&n].tx.clone());
            if let Some((r, s, n)) = next(a, n + 1) {
                heads.push((r, s, addr, n));
            }
        }
        out
    }

    /// True when some pending transaction is not in `exclude`.
    pub fn has_candidates(&self, exclude: &BTreeSet<Hash>) -> bool {
        self.index.len()
            > exclude
                .iter()
                .filter(|h| self.index.contains_key(h))
                .count()
    }

    /// Removes a transaction included in a finalized block.
    pub fn remove(&mut self, hash: &Hash) {
        if let Some(&(sender, n)) = self.index.get(hash) {
            self.remove_range(sender, n..=n);
        }
    }

    /// Drops a transaction found invalid while building a block, and its sender's later ones
    /// (they can no longer execute); returns every hash dropped.
    pub fn reject(&mut self, hash: &Hash) -> Vec<Hash> {
        match self.index.get(hash) {
            Some(&(sender, n)) => self.remove_range(sender, n..),
            None => Vec::new(),
        }
    }

    /// Drops the pending transactions of `senders` (those of a newly finalized block) that
    /// its state made stale (nonce already used: a conflicting transaction was included) and
    /// returns their hashes.
    pub fn prune(
        &mut self,
        state: &(impl StateRead + ?Sized),
        senders: impl IntoIterator<Item = Address>,
    ) -> Vec<Hash> {
        let mut stale = Vec::new();
        for sender in senders.into_iter().collect::<BTreeSet<_>>() {
            let Ok(n) = nonce(state, &sender) else {
                continue;
            };
            if self.accounts.get(&sender).is_some_and(|a| {
                a.by_nonce
                    .first_key_value()
                    .is_some_and(|(first, _)| *first < n)
            }) {
                stale.extend(self.remove_range(sender, ..n));
            }
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
        genesis::{Genesis, GenesisAccount, dev_key},
        modules::bank,
    };
    use mycel_primitives::Amount;
    use mycel_store::MemState;

    /// A dev genesis plus `account 100`, which holds only `poor` base units.
    fn setup(poor: Amount) -> (Genesis, MemState) {
        let mut g = Genesis::dev("mp", 1);
        g.accounts.push(GenesisAccount {
            address: Address::from_public_key(&dev_key("account", 100).public_key()),
            balance: poor,
        });
        let mut s = MemState::default();
        s.apply(&execute_genesis(&g).unwrap().writes);
        (g, s)
    }

    fn signed(account: usize, nonce: u64, fee: Amount, amount: Amount, chain: &str) -> Tx {
        let k = dev_key("account", account);
        TxBody {
            chain_id: chain.into(),
            sender: k.public_key(),
            nonce,
            fee,
            messages: vec![Message::Bank(bank::Msg::Transfer {
                to: Address([5; 20]),
                amount,
            })],
            memo: String::new(),
        }
        .sign(&k)
    }

    fn transfer(nonce: u64, chain: &str) -> Tx {
        signed(0, nonce, Amount::from_myc(1), Amount(1), chain)
    }

    #[test]
    fn nonce_rules() {
        let (g, s) = setup(Amount(0));
        let mut m = Mempool::new(Limits::new(10));
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
        assert!(m.has_candidates(&excl));
        m.remove(&first);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn admission_counts_the_pending_spend() {
        // Enough for three transactions' fees, not four: the fourth is refused however many
        // the finalized balance would cover one at a time.
        let fee = Amount::from_myc(1);
        let (g, s) = setup(Amount(fee.0 * 3 + 5));
        let mut m = Mempool::new(Limits::new(1_000));
        for n in 0..3 {
            m.admit(signed(100, n, fee, Amount(1), "mp"), &s, &g.params, "mp")
                .unwrap();
        }
        let poor = Address::from_public_key(&dev_key("account", 100).public_key());
        assert_eq!(m.pending_spend(&poor), Amount(fee.0 * 3 + 3));
        assert!(matches!(
            m.admit(signed(100, 3, fee, Amount(1), "mp"), &s, &g.params, "mp"),
            Err(TxError::InsufficientBalance { .. })
        ));
        // Transfers count too: a rich account cannot promise its balance twice.
        let rich = Amount::from_myc(1_000_000);
        m.admit(
            signed(1, 0, fee, Amount(rich.0 - 2 * fee.0), "mp"),
            &s,
            &g.params,
            "mp",
        )
        .unwrap();
        assert!(matches!(
            m.admit(signed(1, 1, fee, Amount(fee.0), "mp"), &s, &g.params, "mp"),
            Err(TxError::InsufficientBalance { .. })
        ));
        // Finalizing a pending transaction frees its share.
        let first = signed(100, 0, fee, Amount(1), "mp").hash();
        m.remove(&first);
        assert_eq!(m.pending_spend(&poor), Amount(fee.0 * 2 + 2));
    }

    #[test]
    fn one_sender_cannot_fill_the_pool() {
        let (g, s) = setup(Amount(0));
        let limits = Limits {
            max_txs: 100,
            max_per_sender: 8,
        };
        let mut m = Mempool::new(limits);
        for n in 0..8 {
            m.admit(transfer(n, "mp"), &s, &g.params, "mp").unwrap();
        }
        assert_eq!(
            m.admit(transfer(8, "mp"), &s, &g.params, "mp"),
            Err(TxError::SenderLimit { max: 8 })
        );
        assert_eq!(m.len(), 8);
        // Others still get in.
        m.admit(
            signed(1, 0, Amount::from_myc(1), Amount(1), "mp"),
            &s,
            &g.params,
            "mp",
        )
        .unwrap();
    }

    #[test]
    fn proposals_follow_fee_rate_and_nonce_order() {
        let (g, s) = setup(Amount(0));
        let mut m = Mempool::new(Limits::new(1_000));
        // Account 0 pays 1 MYC, then 5 MYC; account 1 pays 3 MYC; account 2 pays 2 MYC.
        let a0 = signed(0, 0, Amount::from_myc(1), Amount(1), "mp");
        let a0b = signed(0, 1, Amount::from_myc(5), Amount(1), "mp");
        let a1 = signed(1, 0, Amount::from_myc(3), Amount(1), "mp");
        let a2 = signed(2, 0, Amount::from_myc(2), Amount(1), "mp");
        for t in [&a0, &a0b, &a1, &a2] {
            m.admit(t.clone(), &s, &g.params, "mp").unwrap();
        }
        let order: Vec<Hash> = m
            .candidates(10, &BTreeSet::new())
            .iter()
            .map(|t| t.hash())
            .collect();
        // a0b pays most but waits for a0, the cheapest head.
        assert_eq!(order, vec![a1.hash(), a2.hash(), a0.hash(), a0b.hash()]);
    }

    #[test]
    fn a_full_pool_evicts_the_cheapest_tail_for_a_better_payer() {
        let (g, s) = setup(Amount(0));
        let mut m = Mempool::new(Limits {
            max_txs: 3,
            max_per_sender: 3,
        });
        let cheap0 = signed(0, 0, Amount::from_myc(1), Amount(1), "mp");
        let cheap1 = signed(0, 1, Amount::from_myc(1), Amount(1), "mp");
        let mid = signed(1, 0, Amount::from_myc(2), Amount(1), "mp");
        for t in [&cheap0, &cheap1, &mid] {
            m.admit(t.clone(), &s, &g.params, "mp").unwrap();
        }
        // Paying no more than the cheapest tail is refused.
        assert_eq!(
            m.admit(
                signed(2, 0, Amount::from_myc(1), Amount(1), "mp"),
                &s,
                &g.params,
                "mp"
            ),
            Err(TxError::MempoolFull)
        );
        // Paying more evicts account 0's last transaction, not its first.
        let rich = signed(2, 0, Amount::from_myc(9), Amount(1), "mp");
        let a = m.admit(rich.clone(), &s, &g.params, "mp").unwrap();
        assert_eq!(a.evicted, vec![cheap1.hash()]);
        assert!(m.contains(&cheap0.hash()) && m.contains(&rich.hash()) && m.len() == 3);
        // A sender never evicts its own predecessor.
        let own = signed(2, 1, Amount::from_myc(9), Amount(1), "mp");
        let a = m.admit(own, &s, &g.params, "mp").unwrap();
        assert_eq!(a.evicted, vec![cheap0.hash()]);
    }

    #[test]
    fn reject_drops_the_senders_later_transactions() {
        let (g, s) = setup(Amount(0));
        let mut m = Mempool::new(Limits::new(100));
        let txs: Vec<Tx> = (0..4).map(|n| transfer(n, "mp")).collect();
        for t in &txs {
            m.admit(t.clone(), &s, &g.params, "mp").unwrap();
        }
        let dropped = m.reject(&txs[1].hash());
        assert_eq!(dropped, vec![txs[1].hash(), txs[2].hash(), txs[3].hash()]);
        assert_eq!(m.len(), 1);
        assert!(m.reject(&txs[3].hash()).is_empty());
    }

    #[test]
    fn full_mempool_rejects() {
        let (g, s) = setup(Amount(0));
        let mut m = Mempool::new(Limits::new(1));
        m.admit(transfer(0, "mp"), &s, &g.params, "mp").unwrap();
        assert_eq!(
            m.admit(transfer(1, "mp"), &s, &g.params, "mp"),
            Err(TxError::MempoolFull)
        );
    }
}
