//! Transfers, fees, admission errors and failing messages.

use crate::*;
use mycel_ledger::{TxError, modules::rewards};

#[test]
fn transfer_moves_funds_charges_fee_and_emits_event() {
    let mut c = Chain::dev();
    let (a, b) = (account(0), account(1));
    let (from, to) = (addr(&a), addr(&b));
    let params = c.params();
    assert_eq!(
        params.bank.fee_burn_bps, 5_000,
        "default burns half of every fee"
    );
    let (bal_a, bal_b, supply) = (c.balance(&from), c.balance(&to), c.supply());
    assert_eq!(bal_a, Amount::from_myc(1_000_000));
    assert_eq!(c.nonce(&a), 0);

    let amount = Amount::from_myc(123);
    let tx = c.tx(&a, vec![transfer(to, amount)]);
    let fee = tx.body.fee;
    assert_eq!(fee, min_fee_of(&params, &tx));
    assert!(!fee.is_zero());
    let burned = burned_part(&params, fee);
    assert_eq!(burned, Amount(fee.0 / 2));

    let out = c.block(std::slice::from_ref(&tx));
    let r = &out.receipts[0];
    assert!(r.success, "{r:?}");
    assert_eq!(r.code, "");
    assert_eq!(r.error, "");
    assert_eq!(r.fee, fee);
    assert_eq!(r.tx_hash, tx.hash());
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.kind, "bank.transfer");
    assert_eq!(attr(e, "from"), from.to_string());
    assert_eq!(attr(e, "to"), to.to_string());
    assert_eq!(attr(e, "amount"), amount.0.to_string());

    assert_eq!(c.balance(&from), Amount(bal_a.0 - amount.0 - fee.0));
    assert_eq!(c.balance(&to), Amount(bal_b.0 + amount.0));
    assert_eq!(c.nonce(&a), 1);
    assert_eq!(c.nonce(&b), 0);
    // The burned half leaves the supply; the other half waits in the fee collector.
    assert_eq!(c.supply(), Amount(supply.0 - burned.0));
    assert_eq!(c.burned(), burned);
    assert_eq!(
        c.balance(&bank_mod::fee_collector()),
        Amount(fee.0 - burned.0)
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
    // The fee is in the earnings record of the payer.
    let recs = rewards::records(&c.state, 0, Some(&from)).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].reason, recs[0].amount, recs[0].debit),
        (rewards::Reason::FeePaid, fee, true)
    );

    // A second transfer uses the next nonce.
    let tx2 = c.tx(&a, vec![transfer(to, Amount(1))]);
    assert_eq!(tx2.body.nonce, 1);
    let out = c.block(&[tx2]);
    assert!(out.receipts[0].success);
    assert_eq!(c.nonce(&a), 2);
}

#[test]
fn fee_burn_share_follows_params() {
    for bps in [0u16, 2_500, 10_000] {
        let mut c = Chain::new(genesis_with(1, |p| p.bank.fee_burn_bps = bps));
        let a = account(0);
        let tx = c.tx_with(&a, 0, vec![transfer(addr(&account(1)), Amount(5))], 12_345);
        let fee = tx.body.fee;
        let supply = c.supply();
        c.block(&[tx]);
        let burned = Amount(fee.0 * bps as u128 / 10_000);
        assert_eq!(c.burned(), burned, "bps {bps}");
        assert_eq!(c.supply(), Amount(supply.0 - burned.0), "bps {bps}");
        assert_eq!(
            c.balance(&bank_mod::fee_collector()),
            Amount(fee.0 - burned.0),
            "bps {bps}"
        );
        assert_eq!(c.supply(), sum_balances(&c.state));
    }
}

#[test]
fn several_txs_of_one_sender_in_one_block() {
    let mut c = Chain::dev();
    let a = account(0);
    let to = addr(&account(2));
    let txs: Vec<_> = (0..3)
        .map(|n| c.tx_with(&a, n, vec![transfer(to, Amount(10 + n as u128))], 0))
        .collect();
    let fees: u128 = txs.iter().map(|t| t.body.fee.0).sum();
    let before = c.balance(&addr(&a));
    let out = c.block(&txs);
    assert!(out.receipts.iter().all(|r| r.success));
    assert_eq!(c.nonce(&a), 3);
    assert_eq!(
        c.balance(&to),
        Amount(Amount::from_myc(1_000_000).0 + 10 + 11 + 12)
    );
    assert_eq!(c.balance(&addr(&a)), Amount(before.0 - 33 - fees));
}

#[test]
fn bad_signature_invalidates_block() {
    let c = Chain::dev();
    let a = account(0);
    let to = addr(&account(1));
    // Tampered body.
    let mut tx = c.tx(&a, vec![transfer(to, Amount(5))]);
    tx.body.memo = "changed after signing".into();
    assert_eq!(c.expect_invalid(&[tx], 0), TxError::BadSignature);
    // Signed by another key than the sender's.
    let good = c.tx(&a, vec![transfer(to, Amount(5))]);
    let forged = TxBody {
        sender: account(3).public_key(),
        ..good.body.clone()
    }
    .sign(&a);
    assert_eq!(c.expect_invalid(&[forged], 0), TxError::BadSignature);
    // The offender's index is reported even after valid transactions.
    let mut bad = c.tx(&account(1), vec![transfer(to, Amount(5))]);
    bad.signature = good.signature.clone();
    assert_eq!(c.expect_invalid(&[good, bad], 1), TxError::BadSignature);
}

/// A verifier skips the signatures its mempool checked already; a forged transaction it never
/// admitted is still caught, at its own index in the block.
#[test]
fn skipping_checked_signatures_still_catches_forgeries() {
    let c = Chain::dev();
    let a = account(0);
    let to = addr(&account(1));
    let good = c.tx(&a, vec![transfer(to, Amount(5))]);
    let other = c.tx(&account(2), vec![transfer(to, Amount(6))]);
    let mut bad = c.tx(&account(1), vec![transfer(to, Amount(7))]);
    bad.signature = good.signature.clone();
    let txs = [good, other, bad];
    let env = c.next_env();
    // Nothing or everything but the forgery known: it is found, at index 2.
    for known in [
        [false, false, false],
        [true, true, false],
        [true, false, false],
    ] {
        match execute_block_checked(&c.state, &env, &txs, |i| known[i]) {
            Err(Error::InvalidTx { index, error }) => {
                assert_eq!((index, error), (2, TxError::BadSignature))
            }
            other => panic!("forgery accepted with {known:?}: {other:?}"),
        }
    }
    // Valid transactions give the same output whether their signatures were known or not.
    let valid = &txs[..2];
    let checked = execute_block_checked(&c.state, &env, valid, |_| true).unwrap();
    let full = c.exec(valid).unwrap();
    assert_eq!(checked.writes, full.writes);
    assert_eq!(checked.receipts, full.receipts);
}

#[test]
fn wrong_chain_id_invalidates_block() {
    let c = Chain::dev();
    let a = account(0);
    let tx = c.tx(&a, vec![transfer(addr(&account(1)), Amount(5))]);
    let other = TxBody {
        chain_id: "other".into(),
        ..tx.body
    }
    .sign(&a);
    assert_eq!(
        c.expect_invalid(&[other], 0),
        TxError::WrongChainId {
            expected: CHAIN.into(),
            got: "other".into()
        }
    );
}

#[test]
fn replayed_nonce_invalidates_block() {
    let mut c = Chain::dev();
    let a = account(0);
    let tx = c.tx(&a, vec![transfer(addr(&account(1)), Amount(5))]);
    // Twice in the same block.
    assert_eq!(
        c.expect_invalid(&[tx.clone(), tx.clone()], 1),
        TxError::NonceTooLow {
            expected: 1,
            got: 0
        }
    );
    // Again in a later block.
    c.block(std::slice::from_ref(&tx));
    assert_eq!(
        c.expect_invalid(&[tx], 0),
        TxError::NonceTooLow {
            expected: 1,
            got: 0
        }
    );
}

#[test]
fn gapped_nonce_invalidates_block() {
    let c = Chain::dev();
    let a = account(0);
    let tx = c.tx_with(&a, 1, vec![transfer(addr(&account(1)), Amount(5))], 0);
    assert_eq!(
        c.expect_invalid(&[tx], 0),
        TxError::NonceGap {
            expected: 0,
            got: 1
        }
    );
    let t0 = c.tx_with(&a, 0, vec![transfer(addr(&account(1)), Amount(5))], 0);
    let t2 = c.tx_with(&a, 2, vec![transfer(addr(&account(1)), Amount(5))], 0);
    assert_eq!(
        c.expect_invalid(&[t0, t2], 1),
        TxError::NonceGap {
            expected: 1,
            got: 2
        }
    );
}

#[test]
fn fee_below_minimum_invalidates_block() {
    let c = Chain::dev();
    let a = account(0);
    let tx = c.tx(&a, vec![transfer(addr(&account(1)), Amount(5))]);
    let min = tx.body.fee;
    let low = TxBody {
        fee: Amount(min.0 - 1),
        ..tx.body.clone()
    }
    .sign(&a);
    assert_eq!(
        c.expect_invalid(&[low], 0),
        TxError::FeeTooLow {
            min,
            got: Amount(min.0 - 1)
        }
    );
    // Exactly the minimum is accepted.
    assert!(c.exec(&[tx]).unwrap().receipts[0].success);
}

#[test]
fn unpayable_fee_invalidates_block() {
    let c = Chain::dev();
    // An account that holds nothing.
    let p = pauper();
    let tx = c.tx(&p, vec![transfer(addr(&account(1)), Amount(5))]);
    assert_eq!(
        c.expect_invalid(std::slice::from_ref(&tx), 0),
        TxError::InsufficientBalance {
            need: tx.body.fee,
            have: Amount::ZERO
        }
    );
    // A funded account offering a fee above its balance.
    let a = account(0);
    let have = c.balance(&addr(&a));
    let tx = c.tx_with(&a, 0, vec![transfer(addr(&account(1)), Amount(5))], have.0);
    assert_eq!(
        c.expect_invalid(std::slice::from_ref(&tx), 0),
        TxError::InsufficientBalance {
            need: tx.body.fee,
            have
        }
    );
    // A balance emptied by an earlier transaction of the same block.
    let all = c.tx_with(
        &a,
        0,
        vec![transfer(addr(&account(1)), Amount(5))],
        have.0 - min_fee_of(&c.params(), &tx).0,
    );
    assert_eq!(all.body.fee, have);
    let next = c.tx_with(&a, 1, vec![transfer(addr(&account(1)), Amount(5))], 0);
    assert_eq!(
        c.expect_invalid(&[all, next.clone()], 1),
        TxError::InsufficientBalance {
            need: next.body.fee,
            have: Amount::ZERO
        }
    );
}

#[test]
fn empty_tx_invalidates_block() {
    let c = Chain::dev();
    let tx = c.tx(&account(0), vec![]);
    assert_eq!(c.expect_invalid(&[tx], 0), TxError::Empty);
}

/// Runs `msgs` from account 0 in one tx and checks it failed with `code`, still paying its fee and
/// using its nonce, and that nothing else changed.
fn expect_failed(c: &mut Chain, msgs: Vec<Message>, code: &str) {
    let a = account(0);
    let from = addr(&a);
    let others: Vec<Amount> = (1..8).map(|i| c.balance(&addr(&account(i)))).collect();
    let (bal, nonce, supply, burned) = (c.balance(&from), c.nonce(&a), c.supply(), c.burned());
    let collector = c.balance(&bank_mod::fee_collector());
    let pool = c.balance(&staking_mod::pool());
    let tx = c.tx(&a, msgs);
    let fee = tx.body.fee;
    let out = c.block(&[tx]);
    let r = &out.receipts[0];
    assert!(!r.success, "{r:?}");
    assert_eq!(r.code, code, "{r:?}");
    assert!(!r.error.is_empty());
    assert!(
        r.events.is_empty(),
        "a failed tx emits no events: {:?}",
        r.events
    );
    assert_eq!(r.fee, fee);
    assert_eq!(c.balance(&from), Amount(bal.0 - fee.0));
    assert_eq!(c.nonce(&a), nonce + 1);
    let b = burned_part(&c.params(), fee);
    assert_eq!(c.supply(), Amount(supply.0 - b.0));
    assert_eq!(c.burned(), Amount(burned.0 + b.0));
    assert_eq!(
        c.balance(&bank_mod::fee_collector()),
        Amount(collector.0 + fee.0 - b.0)
    );
    assert_eq!(c.balance(&staking_mod::pool()), pool);
    let after: Vec<Amount> = (1..8).map(|i| c.balance(&addr(&account(i)))).collect();
    assert_eq!(after, others);
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn transfer_above_balance_fails_but_pays_fee() {
    let mut c = Chain::dev();
    let a = account(0);
    let bal = c.balance(&addr(&a));
    let fee = c
        .tx(&a, vec![transfer(addr(&account(1)), Amount(1))])
        .body
        .fee;
    // The fee is taken first: the whole pre-fee balance is one unit too many.
    expect_failed(
        &mut c,
        vec![transfer(addr(&account(1)), Amount(bal.0 - fee.0 + 1))],
        "insufficient_balance",
    );
    // Far too much fails the same way.
    expect_failed(
        &mut c,
        vec![transfer(addr(&account(1)), Amount(u128::MAX))],
        "insufficient_balance",
    );
}

#[test]
fn transfer_of_whole_remaining_balance_succeeds() {
    let mut c = Chain::dev();
    let a = account(0);
    let to = addr(&account(1));
    let bal = c.balance(&addr(&a));
    let fee = c.tx(&a, vec![transfer(to, Amount(1))]).body.fee;
    let out = c.block(&[c.tx(&a, vec![transfer(to, Amount(bal.0 - fee.0))])]);
    assert!(out.receipts[0].success, "{:?}", out.receipts[0]);
    assert_eq!(c.balance(&addr(&a)), Amount::ZERO);
    assert!(
        bank_mod::balances(&c.state)
            .unwrap()
            .iter()
            .all(|(x, _)| *x != addr(&a)),
        "zero balances are deleted"
    );
    assert_eq!(
        c.balance(&to),
        Amount(Amount::from_myc(1_000_000).0 * 2 - fee.0)
    );
    // The emptied account can no longer pay a fee.
    let tx = c.tx(&a, vec![transfer(to, Amount(1))]);
    assert!(matches!(
        c.expect_invalid(&[tx], 0),
        TxError::InsufficientBalance { .. }
    ));
}

#[test]
fn zero_amount_fails_but_pays_fee() {
    let mut c = Chain::dev();
    expect_failed(
        &mut c,
        vec![transfer(addr(&account(1)), Amount::ZERO)],
        "zero_amount",
    );
    expect_failed(&mut c, vec![burn(Amount::ZERO)], "zero_amount");
}

#[test]
fn failing_message_rolls_back_earlier_messages_of_its_tx() {
    let mut c = Chain::dev();
    expect_failed(
        &mut c,
        vec![
            transfer(addr(&account(1)), Amount(1_000)),
            burn(Amount(7)),
            transfer(addr(&account(2)), Amount::ZERO),
        ],
        "zero_amount",
    );
    // The next transaction in the same block is unaffected by the failed one.
    let (a, b) = (account(0), account(1));
    let t1 = c.tx_with(&a, c.nonce(&a), vec![transfer(addr(&b), Amount::ZERO)], 0);
    let t2 = c.tx_with(&b, c.nonce(&b), vec![transfer(addr(&a), Amount(9))], 0);
    let before = c.balance(&addr(&a));
    let out = c.block(&[t1.clone(), t2]);
    assert!(!out.receipts[0].success);
    assert!(out.receipts[1].success);
    assert_eq!(out.receipts[1].events.len(), 1);
    assert_eq!(c.balance(&addr(&a)), Amount(before.0 - t1.body.fee.0 + 9));
}

#[test]
fn burn_reduces_supply() {
    let mut c = Chain::dev();
    let a = account(0);
    let (supply, burned) = (c.supply(), c.burned());
    let tx = c.tx(&a, vec![burn(Amount::from_myc(50))]);
    let fee = tx.body.fee;
    let out = c.block(&[tx]);
    assert!(out.receipts[0].success);
    assert_eq!(out.receipts[0].events[0].kind, "bank.burn");
    let fee_burn = burned_part(&c.params(), fee);
    assert_eq!(
        c.supply(),
        Amount(supply.0 - Amount::from_myc(50).0 - fee_burn.0)
    );
    assert_eq!(
        c.burned(),
        Amount(burned.0 + Amount::from_myc(50).0 + fee_burn.0)
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
    // Burning more than the balance fails.
    let bal = c.balance(&addr(&a));
    expect_failed(&mut c, vec![burn(bal)], "insufficient_balance");
}

#[test]
fn check_tx_matches_block_admission() {
    let c = Chain::dev();
    let params = c.params();
    let a = account(0);
    let tx = c.tx(&a, vec![transfer(addr(&account(1)), Amount(5))]);
    assert_eq!(
        mycel_ledger::check_tx(&c.state, &params, CHAIN, &tx, None),
        Ok(())
    );
    // With one pending tx the next acceptable nonce is 1.
    assert_eq!(
        mycel_ledger::check_tx(&c.state, &params, CHAIN, &tx, Some(1)),
        Err(TxError::NonceGap {
            expected: 1,
            got: 0
        })
    );
    let t1 = c.tx_with(&a, 1, vec![transfer(addr(&account(1)), Amount(5))], 0);
    assert_eq!(
        mycel_ledger::check_tx(&c.state, &params, CHAIN, &t1, Some(1)),
        Ok(())
    );
    assert_eq!(
        mycel_ledger::check_tx(&c.state, &params, "other", &tx, None),
        Err(TxError::WrongChainId {
            expected: "other".into(),
            got: CHAIN.into()
        })
    );
}

#[test]
fn oversized_tx_invalidates_block() {
    use mycel_primitives::codec::MAX_TX_BYTES;
    let c = Chain::dev();
    let a = account(0);
    let tx = c.tx(&a, vec![transfer(addr(&account(1)), Amount(5))]);
    let memo = "m".repeat(MAX_TX_BYTES + 1 - tx.encode_size());
    let tx = TxBody {
        memo,
        fee: Amount::from_myc(1),
        ..tx.body
    }
    .sign(&a);
    let size = tx.encode_size();
    assert!(size > MAX_TX_BYTES);
    assert_eq!(
        c.expect_invalid(&[tx], 0),
        TxError::TooLarge {
            size,
            max: MAX_TX_BYTES
        }
    );
}

#[test]
fn receipts_and_events_survive_the_codec() {
    use mycel_primitives::codec::Encode;
    let mut c = Chain::new(genesis_with(1, |p| p.rewards.epoch_length = 2));
    let a = account(0);
    let txs = vec![
        c.tx_with(
            &a,
            0,
            vec![transfer(addr(&account(1)), Amount(5)), burn(Amount(3))],
            0,
        ),
        c.tx_with(&a, 1, vec![transfer(addr(&account(1)), Amount::ZERO)], 0),
    ];
    let out = c.block(&txs);
    assert!(!out.events.is_empty(), "block 1 ends epoch 0");
    for r in &out.receipts {
        let back = mycel_primitives::codec::decode::<mycel_ledger::Receipt>(&r.encode()).unwrap();
        assert_eq!(&back, r);
    }
    let bytes = mycel_ledger::events::encode_events(&out.events);
    assert_eq!(
        mycel_ledger::events::decode_events(&bytes).unwrap(),
        out.events
    );
}

#[test]
fn build_block_skips_invalid_candidates_in_one_pass() {
    let c = Chain::dev();
    let (a, b) = (account(0), account(1));
    let have = c.balance(&addr(&a));
    // a empties its balance on fees, so its next transaction cannot pay; a pauper cannot pay
    // at all; b's two transactions and a replayed nonce of b's surround them.
    let probe = c.tx_with(&a, 0, vec![transfer(addr(&b), Amount(5))], 0);
    let all = c.tx_with(
        &a,
        0,
        vec![transfer(addr(&b), Amount(5))],
        have.0 - min_fee_of(&c.params(), &probe).0,
    );
    let unpayable = c.tx_with(&a, 1, vec![transfer(addr(&b), Amount(5))], 0);
    let pauper_tx = c.tx(&pauper(), vec![transfer(addr(&b), Amount(5))]);
    let b0 = c.tx_with(&b, 0, vec![transfer(addr(&a), Amount(7))], 0);
    let replay = c.tx_with(&b, 0, vec![transfer(addr(&a), Amount(8))], 0);
    let b1 = c.tx_with(&b, 1, vec![burn(Amount(1))], 0);
    let candidates: Vec<std::sync::Arc<Tx>> = [&all, &unpayable, &pauper_tx, &b0, &replay, &b1]
        .into_iter()
        .map(|t| std::sync::Arc::new(t.clone()))
        .collect();
    let env = c.next_env();
    let built = execute::build_block(&c.state, &env, candidates.clone(), 100, usize::MAX).unwrap();
    assert_eq!(built.txs, vec![all.clone(), b0.clone(), b1.clone()]);
    let rejected: Vec<(Hash, &str)> = built.rejected.iter().map(|(h, e)| (*h, e.code())).collect();
    assert_eq!(
        rejected,
        vec![
            (unpayable.hash(), "insufficient_balance"),
            (pauper_tx.hash(), "insufficient_balance"),
            (replay.hash(), "nonce_too_low"),
        ]
    );
    // Every validator re-executes the included transactions to the same writes and receipts.
    let again = c.exec(&built.txs).unwrap();
    assert_eq!(again.writes, built.output.writes);
    assert_eq!(again.receipts, built.output.receipts);
    // The limits stop the block before the candidate that would exceed them.
    let two = execute::build_block(&c.state, &env, candidates.clone(), 2, usize::MAX).unwrap();
    assert_eq!(two.txs, vec![all.clone(), b0.clone()]);
    let bytes = all.encode_size() + b0.encode_size();
    let small = execute::build_block(&c.state, &env, candidates, 100, bytes).unwrap();
    assert_eq!(small.txs, vec![all, b0]);
}
