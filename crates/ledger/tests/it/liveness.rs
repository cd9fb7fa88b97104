//! Liveness: validator rewards follow the signers of finalization certificates, and validators
//! that stop signing are jailed.

use crate::*;
use mycel_ledger::modules::{
    rewards::{self, Reason},
    staking::{self, Role},
};

const L: u64 = 5;

fn chain(validators: usize) -> Chain {
    Chain::new(genesis_with(validators, |p| p.rewards.epoch_length = L))
}

fn record(c: &Chain, epoch: u64, a: &Address, reason: Reason) -> Option<Amount> {
    rewards::records(&c.state, epoch, Some(a))
        .unwrap()
        .into_iter()
        .find(|r| r.reason == reason)
        .map(|r| r.amount)
}

fn in_set(c: &Chain, epoch: u64, a: &Address) -> bool {
    staking::validator_set(&c.state, epoch)
        .unwrap()
        .iter()
        .any(|(v, _)| v == a)
}

/// Applies the next block with `signers` on the certificate it carries.
fn signed_block(c: &mut Chain, signers: &[Address]) -> BlockOutput {
    c.signers = signers.to_vec();
    c.block(&[])
}

#[test]
fn bonding_as_a_validator_without_signing_earns_nothing_and_jails() {
    let mut c = chain(1);
    let v0 = c.validator(0);
    let a = account(0);
    let tx = c.tx(&a, vec![bond(Role::Validator, Amount::from_myc(30_000))]);
    c.block(&[tx]);
    c.run_to(L - 1);
    assert!(in_set(&c, 1, &addr(&a)), "the bond joins epoch 1's set");
    let a_before = c.balance(&addr(&a));
    let v0_before = c.balance(&v0);

    // Epoch 1: only the genesis validator (the one running consensus) signs; three times the
    // stake earns nothing.
    c.signers = vec![v0];
    let outs = c.run_to(2 * L - 1);
    assert_eq!(
        staking::liveness(&c.state, 1).unwrap(),
        (L, vec![(v0, L)]),
        "five certificates, all signed by v0"
    );
    assert_eq!(record(&c, 1, &addr(&a), Reason::ValidatorEmission), None);
    assert_eq!(record(&c, 1, &addr(&a), Reason::FeeShare), None);
    assert_eq!(c.balance(&addr(&a)), a_before);
    assert_eq!(
        record(&c, 1, &v0, Reason::ValidatorEmission),
        Some(Amount::from_myc(200))
    );
    assert_eq!(
        c.balance(&v0),
        Amount(v0_before.0 + Amount::from_myc(200).0)
    );
    let s = rewards::summary(&c.state, 1).unwrap().unwrap();
    assert_eq!(s.validator_count, 1);
    assert_eq!(s.validators, Amount::from_myc(200));

    // The absent validator is jailed and left out of epoch 2's set; the signer is not.
    let last = outs.last().unwrap();
    let down: Vec<_> = last
        .events
        .iter()
        .filter(|e| e.kind == "staking.downtime")
        .collect();
    assert_eq!(down.len(), 1);
    assert_eq!(attr(down[0], "address"), addr(&a).to_string());
    assert_eq!(attr(down[0], "signed"), "0");
    assert_eq!(attr(down[0], "certified"), L.to_string());
    let until = c.height + c.params().staking.downtime_jail;
    assert!(last.events.iter().any(|e| e.kind == "staking.jail"
        && attr(e, "address") == addr(&a).to_string()
        && attr(e, "until") == until.to_string()));
    assert_eq!(
        staking::jailed_until(&c.state, &addr(&a)).unwrap(),
        Some(until)
    );
    assert_eq!(staking::jailed_until(&c.state, &v0).unwrap(), None);
    assert!(!in_set(&c, 2, &addr(&a)));
    assert!(in_set(&c, 2, &v0));
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn rewards_follow_signed_blocks_and_the_threshold_jails() {
    let mut c = Chain::new(genesis_with(2, |p| {
        p.rewards.epoch_length = L;
        p.staking.min_signed_bps = 5_000;
    }));
    let (v0, v1) = (c.validator(0), c.validator(1));
    let outsider = addr(&account(3));
    // Heights 2..=4 carry the certificates of heights 1..=3. v0 signs all three, v1 only the
    // first; an outsider to the set and a duplicate signature change nothing.
    c.block(&[]);
    signed_block(&mut c, &[v0, v1, outsider]);
    signed_block(&mut c, &[v0, v0, outsider]);
    let out = signed_block(&mut c, &[v0]);
    assert_eq!(c.height, L - 1);
    assert_eq!(
        staking::liveness(&c.state, 0).unwrap().0,
        3,
        "three certificates"
    );
    // Equal stakes, 3 and 1 signatures: 200 MYC split 150 / 50.
    assert_eq!(
        record(&c, 0, &v0, Reason::ValidatorEmission),
        Some(Amount::from_myc(150))
    );
    assert_eq!(
        record(&c, 0, &v1, Reason::ValidatorEmission),
        Some(Amount::from_myc(50))
    );
    assert_eq!(record(&c, 0, &outsider, Reason::ValidatorEmission), None);
    // v1 signed 1 of 3 (3,333 bps), below 5,000: jailed. v0 is not.
    let jailed: Vec<&str> = out
        .events
        .iter()
        .filter(|e| e.kind == "staking.jail")
        .map(|e| attr(e, "address"))
        .collect();
    assert_eq!(jailed, vec![v1.to_string()]);
    assert!(in_set(&c, 1, &v0));
    assert!(!in_set(&c, 1, &v1));
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn signing_at_the_threshold_keeps_a_validator_out_of_jail() {
    let mut c = Chain::new(genesis_with(2, |p| {
        p.rewards.epoch_length = L;
        p.staking.min_signed_bps = 6_000;
    }));
    let (v0, v1) = (c.validator(0), c.validator(1));
    c.block(&[]);
    signed_block(&mut c, &[v0, v1]);
    signed_block(&mut c, &[v0, v1]);
    let out = signed_block(&mut c, &[v0]);
    // 2 of 3 is 6,666 bps, above 6,000.
    assert!(out.events.iter().all(|e| e.kind != "staking.jail"));
    assert!(in_set(&c, 1, &v1));
}

#[test]
fn an_epoch_without_certificates_pays_no_validator_and_jails_no_one() {
    let mut c = chain(2);
    c.signers = vec![];
    let outs = c.run_to(L - 1);
    assert_eq!(staking::liveness(&c.state, 0).unwrap(), (0, vec![]));
    for i in 0..2 {
        assert_eq!(c.balance(&c.validator(i)), Amount::ZERO);
    }
    let reserve = rewards::reserve();
    assert_eq!(
        record(&c, 0, &reserve, Reason::ReservedValidators),
        Some(Amount::from_myc(200))
    );
    assert_eq!(record(&c, 0, &reserve, Reason::Dust), None);
    assert_eq!(c.balance(&reserve), Amount::from_myc(1_000));
    let s = rewards::summary(&c.state, 0).unwrap().unwrap();
    assert_eq!((s.validators, s.validator_count), (Amount::ZERO, 0));
    assert_eq!(s.reserved, Amount::from_myc(1_000));
    assert!(
        outs.last()
            .unwrap()
            .events
            .iter()
            .all(|e| e.kind != "staking.jail")
    );
    assert!(in_set(&c, 1, &c.validator(0)) && in_set(&c, 1, &c.validator(1)));
}

#[test]
fn fees_wait_for_an_epoch_with_signers() {
    let mut c = chain(1);
    let v0 = c.validator(0);
    c.signers = vec![];
    let tx = c.tx(&account(0), vec![transfer(addr(&account(1)), Amount(1))]);
    let fee = tx.body.fee;
    c.block(&[tx]);
    c.run_to(L - 1);
    let kept = Amount(fee.0 - burned_part(&c.params(), fee).0);
    assert_eq!(c.balance(&bank_mod::fee_collector()), kept);
    c.signers = vec![v0];
    c.run_to(2 * L - 1);
    assert_eq!(record(&c, 1, &v0, Reason::FeeShare), Some(kept));
    assert_eq!(c.balance(&bank_mod::fee_collector()), Amount::ZERO);
}

#[test]
fn a_certificate_must_name_a_new_earlier_height() {
    let mut c = chain(1);
    let v0 = c.validator(0);
    c.run_to(3);
    assert_eq!(staking::last_certified(&c.state).unwrap(), 2);
    let bad = |c: &Chain, height: u64, signers: Vec<Address>| {
        let mut env = c.next_env();
        env.certified = Some(execute::Certified { height, signers });
        match execute_block(&c.state, &env, &[]) {
            Err(Error::InvalidCertificate(_)) => {}
            other => panic!("certified height {height}: {other:?}"),
        }
    };
    // Not below the block, already certified, and without signers.
    bad(&c, 4, vec![v0]);
    bad(&c, 5, vec![v0]);
    bad(&c, 2, vec![v0]);
    bad(&c, 1, vec![v0]);
    bad(&c, 3, vec![]);
    // A gap is fine: heights whose certificates nobody carried are simply not counted.
    c.signers = vec![];
    c.block(&[]);
    let mut env = c.next_env();
    env.certified = Some(execute::Certified {
        height: 4,
        signers: vec![v0],
    });
    assert!(execute_block(&c.state, &env, &[]).is_ok());
}

#[test]
fn a_jailed_validator_can_return_after_its_term() {
    let mut c = chain(2);
    let (v0, v1) = (c.validator(0), c.validator(1));
    c.signers = vec![v0];
    c.run_to(L - 1);
    let until = staking::jailed_until(&c.state, &v1).unwrap().unwrap();
    assert!(!in_set(&c, 1, &v1));
    c.run_to(until);
    let key = dev_key("validator", 1);
    // The genesis validator key pays the fee out of its epoch-0 earnings (none: it signed
    // nothing), so fund it first.
    let fund = c.tx(&account(0), vec![transfer(v1, Amount::from_myc(1))]);
    c.block(&[fund]);
    let unjail = c.tx(&key, vec![Message::Staking(staking::Msg::Unjail)]);
    let out = c.block(&[unjail]);
    assert!(out.receipts[0].success, "{:?}", out.receipts[0]);
    assert_eq!(staking::jailed_until(&c.state, &v1).unwrap(), None);
    // Signing again, it rejoins at the next epoch boundary.
    c.signers = vec![v0, v1];
    let next = c.params().epoch(c.height) + 1;
    c.run_to((next + 1) * L - 1);
    assert!(in_set(&c, next + 1, &v1));
}
