//! Property tests: supply conservation, stake accounting and determinism over random blocks.

use crate::*;
use mycel_ledger::{
    execute::BlockOutput,
    modules::{rewards, staking::Role},
};
use proptest::prelude::*;

const EPOCH: u64 = 4;
const DELAY: u64 = 3;

#[derive(Clone, Debug)]
enum Op {
    /// Transfer `bps` of the sender's balance (above 10,000: more than it has; 0: zero amount).
    Transfer { from: usize, to: usize, bps: u32 },
    /// Burn `bps` of the sender's balance.
    Burn { from: usize, bps: u32 },
    /// Bond `units` tenths of a MYC for `role`.
    Bond {
        from: usize,
        role: usize,
        units: u64,
    },
    /// Unbond `bps` of one of the sender's stakes (1,000,000 base units per bp when it has none).
    Unbond { from: usize, role: usize, bps: u32 },
    /// A transfer followed by a message that may fail, all in one tx.
    Pair {
        from: usize,
        to: usize,
        bps: u32,
        role: usize,
        units: u64,
    },
    /// A tx reusing a spent nonce or skipping one: the block must reject it.
    BadNonce { from: usize, gap: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..8usize;
    let bps = prop_oneof![1 => Just(0u32), 6 => 1..10_000u32, 1 => Just(10_000u32), 2 => 10_001..12_000u32];
    let units = prop_oneof![0..200u64, 50..20_000u64, 9_990..10_010u64];
    prop_oneof![
        4 => (who.clone(), who.clone(), bps.clone()).prop_map(|(from, to, bps)| Op::Transfer { from, to, bps }),
        1 => (who.clone(), bps.clone()).prop_map(|(from, bps)| Op::Burn { from, bps: bps / 4 }),
        4 => (who.clone(), 0..4usize, units.clone()).prop_map(|(from, role, units)| Op::Bond { from, role, units }),
        3 => (who.clone(), 0..4usize, bps.clone()).prop_map(|(from, role, bps)| Op::Unbond { from, role, bps }),
        1 => (who.clone(), who.clone(), bps, 0..4usize, units).prop_map(|(from, to, bps, role, units)| Op::Pair { from, to, bps, role, units }),
        1 => (who, any::<bool>()).prop_map(|(from, gap)| Op::BadNonce { from, gap }),
    ]
}

fn frac(a: Amount, bps: u32) -> Amount {
    a.mul_div(bps as u128, 10_000).unwrap()
}

/// Every address that can hold stake or unbonding tokens.
fn holders(c: &Chain) -> Vec<Address> {
    let mut v: Vec<_> = (0..8).map(|i| addr(&account(i))).collect();
    v.push(c.validator(0));
    v
}

/// The invariants that must hold after every block.
fn check_invariants(c: &Chain, minted: Amount, initial: Amount) {
    let p = c.params();
    let supply = c.supply();
    assert_eq!(
        supply,
        sum_balances(&c.state),
        "supply != sum of balances at height {}",
        c.height
    );
    assert_eq!(
        Amount(supply.0 + c.burned().0),
        Amount(initial.0 + minted.0),
        "supply + burned != genesis + emissions"
    );

    let stakes = staking_mod::stakes(&c.state).unwrap();
    for r in Role::ALL {
        let sum: u128 = stakes.iter().filter(|s| s.1 == r).map(|s| s.2.0).sum();
        assert_eq!(
            staking_mod::total(&c.state, r).unwrap(),
            Amount(sum),
            "total of {r:?}"
        );
    }
    for (a, r, s) in &stakes {
        assert!(
            *s >= p.staking.min_stake[*r as usize],
            "{a} holds {s} of {r:?}, below the minimum"
        );
    }
    let bonded: u128 = stakes.iter().map(|s| s.2.0).sum();
    let mut pending = 0u128;
    for a in holders(c) {
        for (h, _, amt) in staking_mod::unbonding(&c.state, &a).unwrap() {
            assert!(
                h > c.height,
                "unbonding due at {h} not released by {}",
                c.height
            );
            assert!(h <= c.height + DELAY);
            pending += amt.0;
        }
    }
    assert_eq!(
        c.balance(&staking_mod::pool()),
        Amount(bonded + pending),
        "pool != bonded + unbonding"
    );
}

/// Builds, checks and applies one block from `ops`; returns the output and the burns it caused.
fn run_block(c: &mut Chain, ops: &[Op]) -> (BlockOutput, Vec<Option<Amount>>) {
    let p = c.params();
    let mut txs: Vec<Tx> = Vec::new();
    let mut burns: Vec<Option<Amount>> = Vec::new();
    let mut next: Vec<u64> = (0..8).map(|i| c.nonce(&account(i))).collect();
    for op in ops {
        let bal = |i: usize| c.balance(&addr(&account(i)));
        let stake = |i: usize, r: usize| {
            staking_mod::stake(&c.state, &addr(&account(i)), Role::ALL[r]).unwrap()
        };
        let (from, msgs, burn_amount) = match op {
            Op::Transfer { from, to, bps } => (
                *from,
                vec![transfer(addr(&account(*to)), frac(bal(*from), *bps))],
                None,
            ),
            Op::Burn { from, bps } => {
                let a = frac(bal(*from), *bps);
                (*from, vec![burn(a)], Some(a))
            }
            Op::Bond { from, role, units } => (
                *from,
                vec![bond(Role::ALL[*role], Amount(*units as u128 * 100_000_000))],
                None,
            ),
            Op::Unbond { from, role, bps } => {
                // Prefer a role the sender has stake in; with nothing bonded, ask for some
                // stake anyway (it must fail).
                let bonded: Vec<usize> = (0..4).filter(|r| !stake(*from, *r).is_zero()).collect();
                let role = if bonded.is_empty() {
                    *role
                } else {
                    bonded[*role % bonded.len()]
                };
                let s = stake(*from, role);
                let a = if s.is_zero() {
                    Amount(*bps as u128 * 1_000_000)
                } else {
                    frac(s, *bps)
                };
                (*from, vec![unbond(Role::ALL[role], a)], None)
            }
            Op::Pair {
                from,
                to,
                bps,
                role,
                units,
            } => (
                *from,
                vec![
                    transfer(addr(&account(*to)), frac(bal(*from), *bps)),
                    bond(Role::ALL[*role], Amount(*units as u128 * 100_000_000)),
                ],
                None,
            ),
            Op::BadNonce { from, gap } => {
                let n = next[*from];
                if !*gap && n == 0 {
                    continue;
                }
                let nonce = if *gap { n + 1 } else { n - 1 };
                let tx = c.tx_with(
                    &account(*from),
                    nonce,
                    vec![transfer(addr(&account(0)), Amount(1))],
                    0,
                );
                let mut with = txs.clone();
                with.push(tx);
                let err = c.expect_invalid(&with, txs.len());
                if *gap {
                    assert_eq!(
                        err,
                        TxError::NonceGap {
                            expected: n,
                            got: n + 1
                        }
                    );
                } else {
                    assert_eq!(
                        err,
                        TxError::NonceTooLow {
                            expected: n,
                            got: n - 1
                        }
                    );
                }
                continue;
            }
        };
        let tx = c.tx_with(&account(from), next[from], msgs, 0);
        let mut with = txs.clone();
        with.push(tx.clone());
        match c.exec(&with) {
            Ok(_) => {
                txs.push(tx);
                burns.push(burn_amount);
                next[from] += 1;
            }
            // The sender cannot pay the fee any more: leave the tx out.
            Err(Error::InvalidTx {
                index,
                error: TxError::InsufficientBalance { .. },
            }) if index == txs.len() => {}
            Err(e) => panic!("unexpected block error {e}"),
        }
    }

    // Determinism: the same block over two copies of the same state gives the same result.
    let env = c.next_env();
    let a = execute_block(&c.state.clone(), &env, &txs).unwrap();
    let b = execute_block(&c.state.clone(), &env, &txs).unwrap();
    assert_eq!(a.writes, b.writes);
    assert_eq!(a.receipts, b.receipts);
    assert_eq!(a.events, b.events);

    let (burned0, supply0) = (c.burned(), c.supply());
    let out = c.block(&txs);
    assert_eq!(out.writes, a.writes);
    for (i, n) in next.iter().enumerate() {
        assert_eq!(c.nonce(&account(i)), *n, "nonce of account {i}");
    }
    // Every tx paid its fee whatever happened to its messages; burns are fee burns plus
    // successful burn messages.
    let mut expect_burn = 0u128;
    for ((tx, r), b) in txs.iter().zip(&out.receipts).zip(&burns) {
        assert_eq!(r.fee, tx.body.fee);
        assert_eq!(r.tx_hash, tx.hash());
        expect_burn += burned_part(&p, tx.body.fee).0;
        if r.success {
            assert!(r.code.is_empty());
            expect_burn += b.map_or(0, |a| a.0);
        } else {
            assert!(
                [
                    "insufficient_balance",
                    "zero_amount",
                    "below_min_stake",
                    "insufficient_stake",
                    // A bonded validator that signs no certificate is jailed at its epoch's end.
                    "jailed"
                ]
                .contains(&r.code.as_str()),
                "unexpected failure {r:?}"
            );
            assert!(r.events.is_empty());
        }
    }
    assert_eq!(c.burned(), Amount(burned0.0 + expect_burn));
    let epoch_end = (c.height + 1).is_multiple_of(EPOCH);
    let emitted = if epoch_end {
        rewards::emission(&p.rewards, c.height / EPOCH).0
    } else {
        0
    };
    assert_eq!(c.supply(), Amount(supply0.0 + emitted - expect_burn));
    (out, burns)
}

fn chain() -> Chain {
    Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = EPOCH;
        p.staking.unbonding_delay = DELAY;
        // Low minimums so that bonds often succeed.
        p.staking.min_stake = [
            Amount::from_myc(500),
            Amount::from_myc(100),
            Amount::from_myc(50),
            Amount::from_myc(10),
        ];
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn supply_and_stake_are_conserved(blocks in prop::collection::vec(prop::collection::vec(op(), 0..6), 6..24)) {
        let mut c = chain();
        let p = c.params();
        let initial = c.supply();
        let mut minted = Amount::ZERO;
        check_invariants(&c, minted, initial);
        for ops in &blocks {
            let (out, _) = run_block(&mut c, ops);
            if (c.height + 1).is_multiple_of(EPOCH) {
                let epoch = c.height / EPOCH;
                minted = Amount(minted.0 + rewards::emission(&p.rewards, epoch).0);
                prop_assert!(rewards::summary(&c.state, epoch).unwrap().is_some());
                prop_assert_eq!(c.balance(&bank_mod::fee_collector()), Amount::ZERO);
                prop_assert!(out.events.iter().any(|e| e.kind == "rewards.epoch"));
            }
            check_invariants(&c, minted, initial);
        }
        // Let every pending unbonding mature: the pool then holds exactly the bonded stake.
        let end = c.height + DELAY;
        while c.height < end {
            c.block(&[]);
            if (c.height + 1).is_multiple_of(EPOCH) {
                minted = Amount(minted.0 + rewards::emission(&p.rewards, c.height / EPOCH).0);
            }
            check_invariants(&c, minted, initial);
        }
        let bonded: u128 = staking_mod::stakes(&c.state).unwrap().iter().map(|s| s.2 .0).sum();
        prop_assert_eq!(c.balance(&staking_mod::pool()), Amount(bonded));
    }
}

#[test]
fn same_block_twice_gives_identical_writes() {
    // A block that ends an epoch, releases an unbonding, and mixes failing and succeeding txs.
    let mut c = chain();
    let a = account(0);
    c.block(&[c.tx(&a, vec![bond(Role::Worker, Amount::from_myc(300))])]);
    // Unbond at height 4 so that the release (height 7) falls on the end of epoch 1.
    let release = EPOCH * 2 - 1;
    c.run_to(release - DELAY - 1);
    c.block(&[c.tx(&a, vec![unbond(Role::Worker, Amount::from_myc(100))])]);
    assert_eq!(
        staking_mod::unbonding(&c.state, &addr(&a)).unwrap(),
        vec![(release, Role::Worker, Amount::from_myc(100))]
    );
    c.run_to(release - 1);
    let txs = vec![
        c.tx(
            &account(1),
            vec![transfer(addr(&account(2)), Amount::from_myc(3))],
        ),
        c.tx(&account(2), vec![transfer(addr(&account(3)), Amount::ZERO)]),
        c.tx(
            &account(3),
            vec![bond(Role::Validator, Amount::from_myc(600))],
        ),
        c.tx(&account(4), vec![burn(Amount::from_myc(1))]),
    ];
    let env = c.next_env();
    let s1 = c.state.clone();
    let s2 = c.state.clone();
    let o1 = execute_block(&s1, &env, &txs).unwrap();
    let o2 = execute_block(&s2, &env, &txs).unwrap();
    assert!(!o1.writes.is_empty());
    assert_eq!(o1.writes, o2.writes);
    assert_eq!(o1.receipts, o2.receipts);
    assert_eq!(o1.events, o2.events);
    let kinds: Vec<_> = o1.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "staking.unbond_released",
            "rewards.epoch",
            "staking.validator_set"
        ]
    );
    assert_eq!(
        o1.receipts.iter().map(|r| r.success).collect::<Vec<_>>(),
        vec![true, false, true, true]
    );
    // Applying either leaves the same state.
    let (mut x, mut y) = (s1, s2);
    x.apply(&o1.writes);
    y.apply(&o2.writes);
    assert_eq!(x.0, y.0);
}
