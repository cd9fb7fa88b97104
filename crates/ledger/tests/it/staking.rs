//! Bonding, unbonding and the release of unbonded stake.

use crate::*;
use mycel_ledger::{
    execute::account as account_view,
    modules::{rewards, staking::Role},
};

const DELAY: u64 = 4;

fn chain() -> Chain {
    Chain::new(genesis_with(1, |p| {
        p.staking.unbonding_delay = DELAY;
        p.rewards.epoch_length = 1_000;
    }))
}

/// Runs one tx from `k` and returns its receipt.
fn run(c: &mut Chain, k: &PrivateKey, msgs: Vec<Message>) -> mycel_ledger::Receipt {
    let tx = c.tx(k, msgs);
    c.block(&[tx]).receipts.remove(0)
}

fn stake(c: &Chain, a: &Address, r: Role) -> Amount {
    staking_mod::stake(&c.state, a, r).unwrap()
}

#[test]
fn bond_below_minimum_fails() {
    let mut c = chain();
    let a = account(0);
    let min = c.params().staking.min_stake;
    for role in Role::ALL {
        let m = min[role as usize];
        let (bal, pool) = (c.balance(&addr(&a)), c.balance(&staking_mod::pool()));
        let tx = c.tx(&a, vec![bond(role, Amount(m.0 - 1))]);
        let fee = tx.body.fee;
        let r = c.block(&[tx]).receipts.remove(0);
        assert!(!r.success);
        assert_eq!(r.code, "below_min_stake", "{role:?}");
        assert_eq!(c.balance(&addr(&a)), Amount(bal.0 - fee.0));
        assert_eq!(c.balance(&staking_mod::pool()), pool);
        assert_eq!(stake(&c, &addr(&a), role), Amount::ZERO);
    }
    let r = run(&mut c, &a, vec![bond(Role::Worker, Amount::ZERO)]);
    assert_eq!(r.code, "zero_amount");
    // A top-up may be below the minimum once the total reaches it.
    let m = min[Role::Edge as usize];
    assert!(run(&mut c, &a, vec![bond(Role::Edge, m)]).success);
    let r = run(&mut c, &a, vec![bond(Role::Edge, Amount(1))]);
    assert!(r.success, "{r:?}");
    assert_eq!(stake(&c, &addr(&a), Role::Edge), Amount(m.0 + 1));
}

#[test]
fn bond_above_balance_fails() {
    let mut c = chain();
    let a = account(0);
    let bal = c.balance(&addr(&a));
    let r = run(&mut c, &a, vec![bond(Role::Validator, bal)]);
    assert_eq!(r.code, "insufficient_balance");
    assert_eq!(stake(&c, &addr(&a), Role::Validator), Amount::ZERO);
    assert_eq!(
        staking_mod::total(&c.state, Role::Validator).unwrap(),
        Amount::from_myc(10_000)
    );
}

#[test]
fn bond_moves_tokens_to_pool() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    let amount = Amount::from_myc(1_000);
    let (bal, pool, supply) = (c.balance(&who), c.balance(&staking_mod::pool()), c.supply());
    let total = staking_mod::total(&c.state, Role::Validator).unwrap();
    assert_eq!(
        pool,
        Amount::from_myc(10_000),
        "the genesis validator's stake"
    );
    let tx = c.tx(&a, vec![bond(Role::Validator, amount)]);
    let fee = tx.body.fee;
    let r = c.block(&[tx]).receipts.remove(0);
    assert!(r.success, "{r:?}");
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].kind, "staking.bond");
    assert_eq!(attr(&r.events[0], "role"), "validator");
    assert_eq!(attr(&r.events[0], "amount"), amount.0.to_string());
    assert_eq!(c.balance(&who), Amount(bal.0 - amount.0 - fee.0));
    assert_eq!(c.balance(&staking_mod::pool()), Amount(pool.0 + amount.0));
    assert_eq!(stake(&c, &who, Role::Validator), amount);
    assert_eq!(
        staking_mod::total(&c.state, Role::Validator).unwrap(),
        Amount(total.0 + amount.0)
    );
    // Bonding is not a burn.
    assert_eq!(
        c.supply(),
        Amount(supply.0 - burned_part(&c.params(), fee).0)
    );
    let view = account_view(&c.state, &who).unwrap();
    assert_eq!(view.stakes, vec![(Role::Validator, amount)]);
    assert_eq!(view.balance, c.balance(&who));
    assert_eq!(view.nonce, 1);
    assert!(view.unbonding.is_empty());
    assert_eq!(view.jailed_until, None);
    assert!(
        staking_mod::stakes(&c.state)
            .unwrap()
            .contains(&(who, Role::Validator, amount))
    );
}

#[test]
fn unbond_queues_and_releases_exactly_at_release_height() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    let amount = Amount::from_myc(2_000);
    assert!(run(&mut c, &a, vec![bond(Role::Validator, amount)]).success);

    let part = Amount::from_myc(500);
    let tx = c.tx(&a, vec![unbond(Role::Validator, part)]);
    let fee = tx.body.fee;
    let unbond_height = c.height + 1;
    let r = c.block(&[tx]).receipts.remove(0);
    assert!(r.success, "{r:?}");
    let release = unbond_height + DELAY;
    assert_eq!(r.events[0].kind, "staking.unbond");
    assert_eq!(attr(&r.events[0], "release_height"), release.to_string());
    let bal = c.balance(&who);
    let pool = c.balance(&staking_mod::pool());
    assert_eq!(stake(&c, &who, Role::Validator), Amount::from_myc(1_500));
    assert_eq!(
        pool,
        Amount(Amount::from_myc(10_000).0 + amount.0),
        "unbonding stake stays in the pool"
    );
    let view = account_view(&c.state, &who).unwrap();
    assert_eq!(
        view.stakes,
        vec![(Role::Validator, Amount::from_myc(1_500))]
    );
    assert_eq!(view.unbonding, vec![(release, Role::Validator, part)]);
    assert_eq!(
        staking_mod::unbonding(&c.state, &who).unwrap(),
        vec![(release, Role::Validator, part)]
    );
    let _ = fee;

    // Nothing is released before the release height.
    for out in c.run_to(release - 1) {
        assert!(
            out.events
                .iter()
                .all(|e| e.kind != "staking.unbond_released")
        );
    }
    assert_eq!(c.balance(&who), bal);
    assert_eq!(c.balance(&staking_mod::pool()), pool);
    assert_eq!(staking_mod::unbonding(&c.state, &who).unwrap().len(), 1);

    // Released at the end of the release block.
    let out = c.block(&[]);
    assert_eq!(c.height, release);
    let ev: Vec<_> = out
        .events
        .iter()
        .filter(|e| e.kind == "staking.unbond_released")
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(attr(ev[0], "address"), who.to_string());
    assert_eq!(attr(ev[0], "amount"), part.0.to_string());
    assert_eq!(c.balance(&who), Amount(bal.0 + part.0));
    assert_eq!(c.balance(&staking_mod::pool()), Amount(pool.0 - part.0));
    assert!(staking_mod::unbonding(&c.state, &who).unwrap().is_empty());
    assert!(account_view(&c.state, &who).unwrap().unbonding.is_empty());
    let epoch = rewards::epoch_of(&c.params(), release);
    let recs = rewards::records(&c.state, epoch, Some(&who)).unwrap();
    let rel: Vec<_> = recs
        .iter()
        .filter(|r| r.reason == rewards::Reason::UnbondReleased)
        .collect();
    assert_eq!(rel.len(), 1);
    assert_eq!(rel[0].amount, part);
    assert!(!rel[0].debit);
    assert_eq!(c.supply(), sum_balances(&c.state));

    // Nothing more is released later.
    let out = c.block(&[]);
    assert!(
        out.events
            .iter()
            .all(|e| e.kind != "staking.unbond_released")
    );
    assert_eq!(c.balance(&who), Amount(bal.0 + part.0));
}

#[test]
fn unbonds_of_one_height_merge_and_different_heights_stay_apart() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    assert!(
        run(
            &mut c,
            &a,
            vec![bond(Role::Worker, Amount::from_myc(1_000))]
        )
        .success
    );
    let h = c.height + 1;
    assert!(
        run(
            &mut c,
            &a,
            vec![
                unbond(Role::Worker, Amount::from_myc(100)),
                unbond(Role::Worker, Amount::from_myc(200))
            ]
        )
        .success
    );
    assert!(
        run(
            &mut c,
            &a,
            vec![unbond(Role::Worker, Amount::from_myc(300))]
        )
        .success
    );
    assert_eq!(
        staking_mod::unbonding(&c.state, &who).unwrap(),
        vec![
            (h + DELAY, Role::Worker, Amount::from_myc(300)),
            (h + 1 + DELAY, Role::Worker, Amount::from_myc(300))
        ]
    );
    assert_eq!(stake(&c, &who, Role::Worker), Amount::from_myc(400));
    let bal = c.balance(&who);
    c.run_to(h + DELAY);
    assert_eq!(c.balance(&who), Amount(bal.0 + Amount::from_myc(300).0));
    c.run_to(h + 1 + DELAY);
    assert_eq!(c.balance(&who), Amount(bal.0 + Amount::from_myc(600).0));
    assert_eq!(
        c.balance(&staking_mod::pool()),
        Amount(Amount::from_myc(10_000 + 400).0)
    );
}

#[test]
fn full_unbond_clears_the_stake() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    assert!(
        run(
            &mut c,
            &a,
            vec![bond(Role::Validator, Amount::from_myc(1_000))]
        )
        .success
    );
    assert!(
        run(
            &mut c,
            &a,
            vec![unbond(Role::Validator, Amount::from_myc(1_000))]
        )
        .success
    );
    assert_eq!(stake(&c, &who, Role::Validator), Amount::ZERO);
    assert!(
        staking_mod::stakes(&c.state)
            .unwrap()
            .iter()
            .all(|(x, _, _)| *x != who)
    );
    assert!(account_view(&c.state, &who).unwrap().stakes.is_empty());
    assert_eq!(
        staking_mod::total(&c.state, Role::Validator).unwrap(),
        Amount::from_myc(10_000)
    );
}

#[test]
fn unbond_more_than_bonded_fails() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    // Nothing bonded at all.
    let r = run(&mut c, &a, vec![unbond(Role::Worker, Amount(1))]);
    assert_eq!(r.code, "insufficient_stake");
    assert!(run(&mut c, &a, vec![bond(Role::Worker, Amount::from_myc(150))]).success);
    let pool = c.balance(&staking_mod::pool());
    let r = run(
        &mut c,
        &a,
        vec![unbond(Role::Worker, Amount(Amount::from_myc(150).0 + 1))],
    );
    assert!(!r.success);
    assert_eq!(r.code, "insufficient_stake");
    assert_eq!(stake(&c, &who, Role::Worker), Amount::from_myc(150));
    assert!(staking_mod::unbonding(&c.state, &who).unwrap().is_empty());
    assert_eq!(c.balance(&staking_mod::pool()), pool);
    // Stake of another role does not count.
    let r = run(&mut c, &a, vec![unbond(Role::Auditor, Amount(1))]);
    assert_eq!(r.code, "insufficient_stake");
    let r = run(&mut c, &a, vec![unbond(Role::Worker, Amount::ZERO)]);
    assert_eq!(r.code, "zero_amount");
}

#[test]
fn unbond_leaving_remainder_below_minimum_fails() {
    let mut c = chain();
    let a = account(0);
    let who = addr(&a);
    assert!(
        run(
            &mut c,
            &a,
            vec![bond(Role::Validator, Amount::from_myc(1_500))]
        )
        .success
    );
    // 1,500 - 501 = 999 < 1,000.
    let r = run(
        &mut c,
        &a,
        vec![unbond(Role::Validator, Amount::from_myc(501))],
    );
    assert!(!r.success);
    assert_eq!(r.code, "below_min_stake");
    assert_eq!(stake(&c, &who, Role::Validator), Amount::from_myc(1_500));
    assert!(staking_mod::unbonding(&c.state, &who).unwrap().is_empty());
    // Leaving exactly the minimum is fine.
    let r = run(
        &mut c,
        &a,
        vec![unbond(Role::Validator, Amount::from_myc(500))],
    );
    assert!(r.success, "{r:?}");
    assert_eq!(stake(&c, &who, Role::Validator), Amount::from_myc(1_000));
}

#[test]
fn bonded_validator_joins_next_epochs_set() {
    let mut c = Chain::new(genesis_with(1, |p| p.rewards.epoch_length = 5));
    let a = account(0);
    let who = addr(&a);
    let v0 = c.validator(0);
    assert_eq!(
        staking_mod::validator_set(&c.state, 0).unwrap(),
        vec![(v0, Amount::from_myc(10_000))]
    );
    assert!(
        run(
            &mut c,
            &a,
            vec![bond(Role::Validator, Amount::from_myc(20_000))]
        )
        .success
    );
    // Workers are not validators.
    assert!(
        run(
            &mut c,
            &account(1),
            vec![bond(Role::Worker, Amount::from_myc(50_000))]
        )
        .success
    );
    assert_eq!(staking_mod::validator_set(&c.state, 1).unwrap(), vec![]);
    let outs = c.run_to(4);
    let ev = outs
        .last()
        .unwrap()
        .events
        .iter()
        .find(|e| e.kind == "staking.validator_set")
        .expect("set event");
    assert_eq!(attr(ev, "epoch"), "1");
    assert_eq!(attr(ev, "size"), "2");
    let mut want = vec![
        (v0, Amount::from_myc(10_000)),
        (who, Amount::from_myc(20_000)),
    ];
    want.sort();
    assert_eq!(staking_mod::validator_set(&c.state, 1).unwrap(), want);
    // Epoch 0's set is unchanged.
    assert_eq!(
        staking_mod::validator_set(&c.state, 0).unwrap(),
        vec![(v0, Amount::from_myc(10_000))]
    );
    // Consensus reads each member's key from state: the genesis validator's, and the key that
    // signed the bond; a worker's bond records none.
    assert_eq!(
        staking_mod::consensus_key(&c.state, &who).unwrap(),
        Some(a.public_key())
    );
    assert_eq!(
        staking_mod::consensus_key(&c.state, &v0).unwrap(),
        Some(c.genesis.validators[0].key().unwrap())
    );
    assert_eq!(
        staking_mod::consensus_key(&c.state, &addr(&account(1))).unwrap(),
        None
    );
}

#[test]
fn a_set_that_would_be_empty_carries_over() {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = 5;
        p.staking.unbonding_delay = 1;
    }));
    let v0 = c.validator(0);
    hook(&mut c, |ctx| staking_mod::jail(ctx, &v0, 1_000));
    c.run_to(4);
    assert_eq!(
        staking_mod::validator_set(&c.state, 1).unwrap(),
        vec![(v0, Amount::from_myc(10_000))],
        "no one would validate epoch 1"
    );
}

#[test]
fn max_validators_keeps_the_highest_stakes() {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = 5;
        p.staking.max_validators = 2;
    }));
    let v0 = c.validator(0);
    let (a, b) = (account(0), account(1));
    let tx_a = c.tx(&a, vec![bond(Role::Validator, Amount::from_myc(9_000))]);
    let tx_b = c.tx(&b, vec![bond(Role::Validator, Amount::from_myc(11_000))]);
    c.block(&[tx_a, tx_b]);
    c.run_to(4);
    let mut want = vec![
        (v0, Amount::from_myc(10_000)),
        (addr(&b), Amount::from_myc(11_000)),
    ];
    want.sort();
    assert_eq!(staking_mod::validator_set(&c.state, 1).unwrap(), want);
}

#[test]
fn zero_unbonding_delay_releases_in_the_same_block() {
    let mut c = Chain::new(genesis_with(1, |p| p.staking.unbonding_delay = 0));
    let a = account(0);
    let who = addr(&a);
    assert!(run(&mut c, &a, vec![bond(Role::Edge, Amount::from_myc(10))]).success);
    let bal = c.balance(&who);
    let tx = c.tx(&a, vec![unbond(Role::Edge, Amount::from_myc(10))]);
    let fee = tx.body.fee;
    let out = c.block(&[tx]);
    assert!(out.receipts[0].success);
    assert!(
        out.events
            .iter()
            .any(|e| e.kind == "staking.unbond_released")
    );
    assert_eq!(
        c.balance(&who),
        Amount(bal.0 - fee.0 + Amount::from_myc(10).0)
    );
    assert!(staking_mod::unbonding(&c.state, &who).unwrap().is_empty());
}

/// Runs `f` as a module hook would (over the state of the next block) and applies its writes.
fn hook<T>(
    c: &mut Chain,
    f: impl FnOnce(&mut mycel_ledger::modules::Ctx<'_, '_, MemState>) -> T,
) -> (T, Vec<mycel_ledger::Event>) {
    let env = c.next_env();
    let params = c.params();
    let base = c.state.clone();
    let mut cache = mycel_ledger::state::StateCache::new(&base);
    let mut ctx = mycel_ledger::modules::Ctx {
        state: &mut cache,
        env: &env,
        params: &params,
        events: Vec::new(),
        signer: None,
    };
    let t = f(&mut ctx);
    let events = std::mem::take(&mut ctx.events);
    ctx.state.commit_tx();
    let writes = cache.into_writes();
    c.state.apply(&writes);
    (t, events)
}

#[test]
fn slash_burns_bonded_stake() {
    let mut c = chain();
    let v = c.validator(0);
    let (supply, burned, pool) = (c.supply(), c.burned(), c.balance(&staking_mod::pool()));
    let (cut, events) = hook(&mut c, |ctx| {
        staking_mod::slash(ctx, &v, Role::Validator, 1_000, "test").unwrap()
    });
    assert_eq!(cut, Amount::from_myc(1_000));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "staking.slash");
    assert_eq!(attr(&events[0], "reason"), "test");
    assert_eq!(stake(&c, &v, Role::Validator), Amount::from_myc(9_000));
    assert_eq!(
        staking_mod::total(&c.state, Role::Validator).unwrap(),
        Amount::from_myc(9_000)
    );
    assert_eq!(c.balance(&staking_mod::pool()), Amount(pool.0 - cut.0));
    assert_eq!(c.supply(), Amount(supply.0 - cut.0));
    assert_eq!(c.burned(), Amount(burned.0 + cut.0));
    assert_eq!(c.supply(), sum_balances(&c.state));
    let recs = rewards::records(&c.state, 0, Some(&v)).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].reason, recs[0].amount, recs[0].debit),
        (rewards::Reason::Slashed, cut, true)
    );
    // Nothing bonded: nothing slashed.
    let (cut, events) = hook(&mut c, |ctx| {
        staking_mod::slash(ctx, &addr(&account(0)), Role::Worker, 10_000, "none").unwrap()
    });
    assert_eq!(cut, Amount::ZERO);
    assert!(events.is_empty());
    // More than 100% is capped at the whole stake.
    let (cut, _) = hook(&mut c, |ctx| {
        staking_mod::slash(ctx, &v, Role::Validator, u16::MAX, "all").unwrap()
    });
    assert_eq!(cut, Amount::from_myc(9_000));
    assert_eq!(stake(&c, &v, Role::Validator), Amount::ZERO);
    assert_eq!(c.balance(&staking_mod::pool()), Amount::ZERO);
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn jail_blocks_bonding_and_validator_set_until_unjailed() {
    let mut c = Chain::new(genesis_with(1, |p| p.rewards.epoch_length = 5));
    let a = account(0);
    let who = addr(&a);
    assert!(
        run(
            &mut c,
            &a,
            vec![bond(Role::Validator, Amount::from_myc(1_000))]
        )
        .success
    );
    let r = run(&mut c, &a, vec![Message::Staking(staking_mod::Msg::Unjail)]);
    assert_eq!(r.code, "not_jailed");
    let until = 6;
    hook(&mut c, |ctx| staking_mod::jail(ctx, &who, until));
    assert_eq!(
        account_view(&c.state, &who).unwrap().jailed_until,
        Some(until)
    );
    let r = run(&mut c, &a, vec![bond(Role::Worker, Amount::from_myc(100))]);
    assert_eq!(r.code, "jailed");
    let r = run(&mut c, &a, vec![Message::Staking(staking_mod::Msg::Unjail)]);
    assert_eq!(r.code, "jailed");
    // The jailed account is left out of the next epoch's set.
    c.run_to(4);
    assert_eq!(
        staking_mod::validator_set(&c.state, 1).unwrap(),
        vec![(c.validator(0), Amount::from_myc(10_000))]
    );
    c.run_to(until - 1);
    let r = run(&mut c, &a, vec![Message::Staking(staking_mod::Msg::Unjail)]);
    assert_eq!(c.height, until);
    assert!(r.success, "{r:?}");
    assert_eq!(r.events[0].kind, "staking.unjail");
    assert_eq!(account_view(&c.state, &who).unwrap().jailed_until, None);
    assert!(run(&mut c, &a, vec![bond(Role::Worker, Amount::from_myc(100))]).success);
    c.run_to(9);
    assert!(
        staking_mod::validator_set(&c.state, 2)
            .unwrap()
            .contains(&(who, Amount::from_myc(1_000)))
    );
}

#[test]
fn equivocation_slashes_tombstones_and_is_paid_for_once() {
    let mut c = Chain::new(genesis_with(2, |p| p.rewards.epoch_length = 5));
    let offender = c.validator(1);
    let bonded = stake(&c, &offender, Role::Validator);
    let supply = c.supply();
    let evidence = mycel_ledger::Equivocation {
        validator: offender,
        epoch: 0,
        view: 3,
    };
    let mut env = c.next_env();
    env.equivocations = vec![evidence.clone()];
    let out = execute_block(&c.state, &env, &[]).unwrap();
    let cut = Amount(bonded.0 * staking_mod::EQUIVOCATION_SLASH_BPS as u128 / 10_000);
    let e = out
        .events
        .iter()
        .find(|e| e.kind == "staking.equivocation")
        .expect("an equivocation event");
    assert_eq!(attr(e, "address"), offender.to_string());
    assert_eq!(attr(e, "amount"), cut.0.to_string());
    c.state.apply(&out.writes);
    c.height += 1;
    c.time_ms += c.step_ms;
    // The cut is burned (supply conserved: what left the stake left the supply), the
    // validator is jailed for good and out of the next set.
    assert_eq!(
        stake(&c, &offender, Role::Validator),
        Amount(bonded.0 - cut.0)
    );
    assert_eq!(c.supply(), Amount(supply.0 - cut.0));
    assert!(staking_mod::tombstoned(&c.state, &offender).unwrap());
    assert_eq!(
        account_view(&c.state, &offender).unwrap().jailed_until,
        Some(u64::MAX)
    );
    c.run_to(4);
    let next: Vec<Address> = staking_mod::validator_set(&c.state, 1)
        .unwrap()
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(next, vec![c.validator(0)]);
    // The same evidence again (or any for a tombstoned validator) makes the block invalid.
    let mut env = c.next_env();
    env.equivocations = vec![evidence];
    assert!(matches!(
        execute_block(&c.state, &env, &[]),
        Err(Error::InvalidEvidence(_))
    ));
}
