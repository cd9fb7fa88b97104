//! Epoch ends: emission, its split, fee shares, records and summaries.

use crate::*;
use mycel_ledger::modules::{
    rewards::{self, EpochSummary, Reason},
    staking::Role,
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

/// Applies the next block with one small transfer from each of `senders`; returns the fees.
fn block_with_fees(c: &mut Chain, senders: &[usize]) -> Vec<Amount> {
    let txs: Vec<Tx> = senders
        .iter()
        .map(|&i| {
            c.tx_with(
                &account(i),
                c.nonce(&account(i)),
                vec![transfer(addr(&account(7)), Amount(1))],
                i as u128 * 7,
            )
        })
        .collect();
    let fees = txs.iter().map(|t| t.body.fee).collect();
    let out = c.block(&txs);
    assert!(out.receipts.iter().all(|r| r.success));
    fees
}

#[test]
fn single_validator_epoch_payout() {
    let mut c = chain(1);
    let p = c.params();
    assert_eq!(p.rewards.epoch_length, L);
    let v = c.validator(0);
    let supply0 = c.supply();
    assert_eq!(
        c.balance(&v),
        Amount::ZERO,
        "the genesis stake is all bonded"
    );

    let mut fees = Vec::new();
    fees.extend(block_with_fees(&mut c, &[0, 1]));
    fees.extend(block_with_fees(&mut c, &[2]));
    c.block(&[]);
    assert_eq!(c.height, L - 2);
    // Mid-epoch nothing is paid yet.
    assert_eq!(c.balance(&v), Amount::ZERO);
    assert_eq!(rewards::summary(&c.state, 0).unwrap(), None);
    // The last block of the epoch also contributes fees.
    fees.extend(block_with_fees(&mut c, &[3, 4, 5]));
    assert_eq!(c.height, L - 1);

    let total_fees: u128 = fees.iter().map(|f| f.0).sum();
    let burned: u128 = fees.iter().map(|f| burned_part(&p, *f).0).sum();
    let fee_share = Amount(total_fees - burned);
    let emission = rewards::emission(&p.rewards, 0);
    assert_eq!(emission, Amount::from_myc(1_000));
    let validator_emission = Amount(emission.0 * p.rewards.validator_bps as u128 / 10_000);
    assert_eq!(validator_emission, Amount::from_myc(200));

    assert_eq!(c.balance(&v), Amount(validator_emission.0 + fee_share.0));
    assert_eq!(
        record(&c, 0, &v, Reason::ValidatorEmission),
        Some(validator_emission)
    );
    assert_eq!(record(&c, 0, &v, Reason::FeeShare), Some(fee_share));
    assert!(
        rewards::records(&c.state, 0, Some(&v))
            .unwrap()
            .iter()
            .all(|r| !r.debit)
    );
    assert_eq!(
        rewards::summary(&c.state, 0).unwrap(),
        Some(EpochSummary {
            emission,
            validators: validator_emission,
            fees: fee_share,
            workers: Amount::ZERO,
            data: Amount::ZERO,
            auditors: Amount::ZERO,
            edge: Amount::ZERO,
            reserved: Amount(emission.0 - validator_emission.0),
            validator_count: 1,
        })
    );
    assert_eq!(rewards::summary(&c.state, 1).unwrap(), None);
    // Supply grew by the emission less everything burned.
    assert_eq!(c.burned(), Amount(burned));
    assert_eq!(c.supply(), Amount(supply0.0 + emission.0 - burned));
    assert_eq!(c.supply(), sum_balances(&c.state));
    // The collector is emptied; the reserve holds the other shares.
    assert_eq!(c.balance(&bank_mod::fee_collector()), Amount::ZERO);
    let reserve = rewards::reserve();
    assert_eq!(c.balance(&reserve), Amount::from_myc(800));
    assert_eq!(
        record(&c, 0, &reserve, Reason::ReservedWorkers),
        Some(Amount::from_myc(450))
    );
    assert_eq!(
        record(&c, 0, &reserve, Reason::ReservedEdge),
        Some(Amount::from_myc(50))
    );
    assert_eq!(
        record(&c, 0, &reserve, Reason::ReservedData),
        Some(Amount::from_myc(200))
    );
    assert_eq!(
        record(&c, 0, &reserve, Reason::ReservedAuditors),
        Some(Amount::from_myc(100))
    );
    assert_eq!(record(&c, 0, &reserve, Reason::Dust), None);
    // Each payer's fees are recorded as debits of the epoch.
    for (i, f) in [(0, fees[0]), (2, fees[2]), (5, fees[5])] {
        assert_eq!(
            record(&c, 0, &addr(&account(i)), Reason::FeePaid),
            Some(f),
            "account {i}"
        );
    }
    assert_eq!(record(&c, 0, &addr(&account(6)), Reason::FeePaid), None);
}

#[test]
fn epoch_end_emits_events_in_hook_order() {
    let mut c = chain(1);
    let outs = c.run_to(L - 1);
    for out in &outs[..outs.len() - 1] {
        assert!(out.events.iter().all(|e| e.kind != "rewards.epoch"));
    }
    let last = outs.last().unwrap();
    let kinds: Vec<_> = last.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["rewards.epoch", "staking.validator_set"]);
    let e = &last.events[0];
    assert_eq!(attr(e, "epoch"), "0");
    assert_eq!(attr(e, "emission"), Amount::from_myc(1_000).0.to_string());
    assert_eq!(attr(e, "validators"), Amount::from_myc(200).0.to_string());
    assert_eq!(attr(e, "fees"), "0");
}

#[test]
fn consecutive_epochs_with_halving() {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = L;
        p.rewards.halving_interval = 1;
    }));
    let p = c.params();
    let v = c.validator(0);
    let supply0 = c.supply();
    c.run_to(L - 1);
    let after0 = c.balance(&v);
    assert_eq!(after0, Amount::from_myc(200));
    // A fee paid in the first block of epoch 1 belongs to epoch 1.
    let fees = block_with_fees(&mut c, &[0]);
    assert_eq!(c.height, L);
    assert_eq!(
        record(&c, 1, &addr(&account(0)), Reason::FeePaid),
        Some(fees[0])
    );
    assert_eq!(record(&c, 0, &addr(&account(0)), Reason::FeePaid), None);
    c.run_to(2 * L - 1);
    let emission1 = rewards::emission(&p.rewards, 1);
    assert_eq!(emission1, Amount::from_myc(500));
    let share = Amount(fees[0].0 - burned_part(&p, fees[0]).0);
    assert_eq!(
        c.balance(&v),
        Amount(after0.0 + Amount::from_myc(100).0 + share.0)
    );
    assert_eq!(
        record(&c, 1, &v, Reason::ValidatorEmission),
        Some(Amount::from_myc(100))
    );
    assert_eq!(record(&c, 1, &v, Reason::FeeShare), Some(share));
    assert_eq!(
        rewards::summary(&c.state, 1).unwrap().unwrap().emission,
        emission1
    );
    assert_eq!(
        c.supply(),
        Amount(supply0.0 + Amount::from_myc(1_500).0 - burned_part(&p, fees[0]).0)
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn two_equal_validators_split_emission_and_fees() {
    let mut c = chain(2);
    let p = c.params();
    let (v0, v1) = (c.validator(0), c.validator(1));
    // Pick a fee whose collected share is odd, so that splitting it leaves a unit of dust.
    let a = account(0);
    let msgs = vec![transfer(addr(&account(7)), Amount(1))];
    let tx = (0..4)
        .map(|extra| c.tx_with(&a, 0, msgs.clone(), extra))
        .find(|t| (t.body.fee.0 - burned_part(&p, t.body.fee).0) % 2 == 1)
        .unwrap();
    let fees = vec![tx.body.fee];
    assert!(c.block(&[tx]).receipts[0].success);
    let share = |fees: &[Amount]| {
        fees.iter()
            .map(|f| f.0 - burned_part(&p, *f).0)
            .sum::<u128>()
    };
    c.run_to(L - 1);
    let collected = share(&fees);
    assert_eq!(collected % 2, 1);
    let each = collected / 2;
    for v in [v0, v1] {
        assert_eq!(c.balance(&v), Amount(Amount::from_myc(100).0 + each));
        assert_eq!(
            record(&c, 0, &v, Reason::ValidatorEmission),
            Some(Amount::from_myc(100))
        );
        assert_eq!(record(&c, 0, &v, Reason::FeeShare), Some(Amount(each)));
    }
    let s = rewards::summary(&c.state, 0).unwrap().unwrap();
    assert_eq!(s.validator_count, 2);
    assert_eq!(s.validators, Amount::from_myc(200));
    assert_eq!(s.fees, Amount(2 * each));
    // Fee rounding dust stays in the reserve.
    assert_eq!(
        c.balance(&rewards::reserve()),
        Amount(Amount::from_myc(800).0 + collected - 2 * each)
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn three_validators_leave_emission_dust_in_reserve() {
    let mut c = chain(3);
    c.run_to(L - 1);
    let pool = Amount::from_myc(200).0;
    let each = pool / 3;
    assert_ne!(pool % 3, 0);
    for i in 0..3 {
        assert_eq!(c.balance(&c.validator(i)), Amount(each));
    }
    let reserve = rewards::reserve();
    assert_eq!(
        record(&c, 0, &reserve, Reason::Dust),
        Some(Amount(pool - 3 * each))
    );
    assert_eq!(
        c.balance(&reserve),
        Amount(Amount::from_myc(1_000).0 - 3 * each)
    );
    let s = rewards::summary(&c.state, 0).unwrap().unwrap();
    assert_eq!(s.validators, Amount(3 * each));
    assert_eq!(s.reserved, Amount(Amount::from_myc(1_000).0 - 3 * each));
    // Records of the reserve add up to its balance.
    let recs = rewards::records(&c.state, 0, Some(&reserve)).unwrap();
    let sum: u128 = recs.iter().map(|r| r.amount.0).sum();
    assert_eq!(Amount(sum + 3 * each), Amount::from_myc(1_000));
}

#[test]
fn emission_is_paid_pro_rata_to_signed_blocks_times_stake() {
    let mut c = chain(1);
    let v0 = c.validator(0);
    let a = account(0);
    let tx = c.tx(&a, vec![bond(Role::Validator, Amount::from_myc(30_000))]);
    c.block(&[tx]);
    c.run_to(L - 1);
    // Epoch 0 paid only the genesis validator: the new bond joins epoch 1's set.
    assert_eq!(record(&c, 0, &addr(&a), Reason::ValidatorEmission), None);
    let v0_after0 = c.balance(&v0);
    let a_after0 = c.balance(&addr(&a));
    // Epoch 1 (heights 5..=9) carries the certificates of heights 4..=8: both sign all five.
    c.signers = vec![v0, addr(&a)];
    c.run_to(2 * L - 1);
    // Stakes 10,000 and 30,000 with equal signatures share 200 MYC as 50 and 150.
    assert_eq!(
        record(&c, 1, &v0, Reason::ValidatorEmission),
        Some(Amount::from_myc(50))
    );
    assert_eq!(
        record(&c, 1, &addr(&a), Reason::ValidatorEmission),
        Some(Amount::from_myc(150))
    );
    assert_eq!(c.balance(&v0), Amount(v0_after0.0 + Amount::from_myc(50).0));
    assert_eq!(
        c.balance(&addr(&a)),
        Amount(a_after0.0 + Amount::from_myc(150).0)
    );
    assert_eq!(
        rewards::summary(&c.state, 1)
            .unwrap()
            .unwrap()
            .validator_count,
        2
    );
}
