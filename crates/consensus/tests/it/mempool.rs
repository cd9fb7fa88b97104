//! The mempool under abuse, through the chain a validator runs: an account flooding
//! transactions it cannot pay for, or more than its share, does not delay anyone else's by more
//! than one block; evictions are durable.

use commonware_cryptography::Signer;
use mycel_consensus::{Chain, block::Block};
use mycel_ledger::{
    Message, Tx, TxBody, TxError,
    genesis::{Genesis, GenesisAccount, dev_key},
    modules::bank,
};
use mycel_primitives::{Address, Amount};
use mycel_store::Store;
use std::sync::Arc;

const FEE: Amount = Amount(1_000_000);

fn genesis() -> Genesis {
    let mut g = Genesis::dev("abuse", 1);
    // The attacker can pay for three transactions.
    g.accounts.push(GenesisAccount {
        address: Address::from_public_key(&dev_key("attacker", 0).public_key()),
        balance: Amount(3 * (FEE.0 + 1)),
    });
    g
}

fn open(dir: &tempfile::TempDir, mempool: usize) -> Chain {
    let store = Arc::new(Store::open(dir.path().join("state.redb")).unwrap());
    Chain::open(store, &genesis(), 5_000, mempool).unwrap()
}

fn tx(key: &commonware_cryptography::ed25519::PrivateKey, nonce: u64, fee: Amount) -> Tx {
    TxBody {
        chain_id: "abuse".into(),
        sender: key.public_key(),
        nonce,
        fee,
        messages: vec![Message::Bank(bank::Msg::Transfer {
            to: Address([9; 20]),
            amount: Amount(1),
        })],
        memo: String::new(),
    }
    .sign(key)
}

/// Builds and finalizes the next block; returns it.
fn next_block(chain: &Chain) -> Block {
    let head = chain
        .store()
        .block(chain.head().unwrap().height)
        .unwrap()
        .unwrap();
    let parent = mycel_consensus::block::decode(&head).unwrap();
    let b = chain
        .build(&parent, Address::default(), parent.timestamp_ms + 100, None)
        .unwrap();
    chain.finalize(&b).unwrap();
    b
}

#[test]
fn fifty_thousand_unpayable_transactions_do_not_delay_others() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir, 50_000);
    let attacker = dev_key("attacker", 0);
    let rich = dev_key("account", 1);
    let (mut refused_balance, mut refused_share) = (0, 0);
    for n in 0..50_000u64 {
        // The poor account pays for three; the rich one may hold a 50th of the pool.
        for (key, refused) in [
            (&attacker, &mut refused_balance),
            (&rich, &mut refused_share),
        ] {
            match chain.submit(tx(key, n, FEE)) {
                Ok(_) => {}
                Err(TxError::InsufficientBalance { .. } | TxError::SenderLimit { .. }) => {
                    *refused += 1
                }
                // Once refused, later nonces leave a gap.
                Err(TxError::NonceGap { .. }) => *refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(refused_balance, 50_000 - 3);
    assert_eq!(refused_share, 50_000 - 1_000);
    assert_eq!(chain.mempool_len(), 1_003);
    // An honest sender's transaction, submitted after the flood, is in the next block.
    let honest = tx(&dev_key("account", 2), 0, FEE);
    let h = chain.submit(honest).unwrap();
    let b = next_block(&chain);
    assert!(b.txs.iter().any(|t| t.hash() == h), "not in the next block");
    assert_eq!(b.txs.len(), 1_004);
    assert_eq!(chain.mempool_len(), 0);
}

#[test]
fn a_better_payer_evicts_and_the_eviction_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cheap, payer) = (dev_key("account", 0), dev_key("account", 1));
    let evicted = {
        let chain = open(&dir, 16);
        for n in 0..16 {
            chain.submit(tx(&cheap, n, FEE)).unwrap();
        }
        assert_eq!(
            chain.submit(tx(&payer, 0, FEE)),
            Err(TxError::MempoolFull),
            "same fee rate: refused"
        );
        let last = tx(&cheap, 15, FEE).hash();
        chain.submit(tx(&payer, 0, Amount(FEE.0 * 2))).unwrap();
        assert!(!chain.in_mempool(&last));
        assert_eq!(chain.mempool_len(), 16);
        last
    };
    let chain = open(&dir, 16);
    assert_eq!(chain.mempool_len(), 16);
    assert!(
        !chain.in_mempool(&evicted),
        "an evicted transaction came back"
    );
    let b = next_block(&chain);
    assert_eq!(
        b.txs[0].body.sender,
        payer.public_key(),
        "the better payer goes first"
    );
}

/// A gossiped batch: re-gossiped transactions are skipped, a forgery in the middle is named
/// (so its peer can be blocked) while the valid ones around it are admitted, and nothing
/// gossiped is written to disk (its acknowledging node holds it), so a restart forgets it
/// while a transaction acknowledged here survives.
#[test]
fn a_gossiped_batch_names_its_forgery_and_admits_the_rest_without_a_disk_write() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dev_key("account", 0),
        dev_key("account", 1),
        dev_key("account", 2),
    );
    {
        let chain = open(&dir, 1_000);
        let mine = chain.submit(tx(&c, 0, FEE)).unwrap();
        let mut forged = tx(&b, 0, FEE);
        forged.body.memo = "changed after signing".into();
        let batch = vec![
            tx(&a, 0, FEE),
            tx(&c, 0, FEE), // already pending here
            forged,
            tx(&a, 1, FEE),
        ];
        let out = chain.admit_gossiped(batch.clone());
        assert_eq!(out[0], Ok(batch[0].hash()));
        assert_eq!(out[1], Err(TxError::Duplicate(mine)));
        assert_eq!(out[2], Err(TxError::BadSignature));
        assert_eq!(out[3], Ok(batch[3].hash()));
        assert_eq!(chain.mempool_len(), 3);
        // The same batch again: all skipped before any signature is checked.
        assert!(
            chain
                .admit_gossiped(batch)
                .iter()
                .enumerate()
                .all(|(i, r)| i == 2 || matches!(r, Err(TxError::Duplicate(_))))
        );
    }
    let chain = open(&dir, 1_000);
    assert_eq!(
        chain.mempool_len(),
        1,
        "only the acknowledged one is restored"
    );
    assert!(chain.in_mempool(&tx(&c, 0, FEE).hash()));
}
