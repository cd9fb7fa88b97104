//! The `market` module: offers, jobs, escrow, assignment, settlement, deadlines, rewards.

use super::*;
use mycel_ledger::modules::{
    data::{self, CONSENT_TRAIN, Registration},
    market::{self, JobKind, JobStatus, Offer},
    rewards,
    staking::Role,
};

const MODEL: Hash = Hash([7; 32]);

fn offer_msg(price: u128) -> Message {
    Message::Market(market::Msg::Offer(Box::new(Offer {
        kinds: 0b11,
        models: vec![MODEL],
        hardware: "cpu-2c".into(),
        price_per_unit: Amount(price),
        endpoint: "127.0.0.1:9000".into(),
    })))
}

fn post(input: Hash, max_fee: Amount, deadline: u64) -> Message {
    Message::Market(market::Msg::PostJob {
        kind: JobKind::Embed,
        model: MODEL,
        input,
        params: br#"{"batch":16}"#.to_vec(),
        max_fee,
        deadline_blocks: deadline,
    })
}

fn commit(job: u64, units: u64) -> Message {
    Message::Market(market::Msg::CommitResult {
        job,
        output: Hash([8; 32]),
        units,
        trace_root: Hash([9; 32]),
        trace_len: 1,
    })
}

/// A chain where accounts 1 and 2 are bonded workers with offers (if `workers` says so).
fn market_chain(workers: &[usize], f: impl FnOnce(&mut Params)) -> Chain {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.market.challenge_window = 3;
        p.rewards.epoch_length = 1_000;
        f(p)
    }));
    for &w in workers {
        let k = account(w);
        let out = c.block(&[c.tx(&k, vec![bond(Role::Worker, Amount::from_myc(100))])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        let out = c.block(&[c.tx(&k, vec![offer_msg(1_000_000)])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    }
    c
}

fn escrow_is_backed(c: &Chain) {
    let mut open = 0u128;
    for id in 0.. {
        let Some(j) = market::job(&c.state, id).unwrap() else {
            break;
        };
        if matches!(j.status, JobStatus::Assigned | JobStatus::Committed) {
            open += j.max_fee.0;
        }
    }
    assert_eq!(
        c.balance(&market::escrow()).0,
        open,
        "escrow must equal open jobs' max fees"
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn offers_need_worker_stake() {
    let mut c = Chain::dev();
    let out = c.block(&[c.tx(&account(3), vec![offer_msg(5)])]);
    assert_eq!(out.receipts[0].code, "below_min_stake");
    assert!(
        market::offer(&c.state, &addr(&account(3)))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_job_nobody_serves_is_refused_without_escrow() {
    let mut c = market_chain(&[], |_| {});
    let poster = account(0);
    let out = c.block(&[c.tx(&poster, vec![post(Hash([1; 32]), Amount::from_myc(5), 10)])]);
    assert_eq!(out.receipts[0].code, "invalid_market");
    assert!(c.balance(&market::escrow()).is_zero());
    assert!(market::job(&c.state, 0).unwrap().is_none());
}

#[test]
fn job_is_assigned_committed_and_settled() {
    let mut c = market_chain(&[1], |_| {});
    let (poster, worker) = (account(0), account(1));
    let max_fee = Amount::from_myc(5);
    let before_poster = c.balance(&addr(&poster));
    let out = c.block(&[c.tx(&poster, vec![post(Hash([1; 32]), max_fee, 10)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let post_fee = out.receipts[0].fee;
    let job = market::job(&c.state, 0).unwrap().unwrap();
    assert_eq!(job.worker, addr(&worker));
    assert_eq!(job.status, JobStatus::Assigned);
    assert_eq!(c.balance(&market::escrow()), max_fee);
    escrow_is_backed(&c);

    // Only the assigned worker can commit.
    let out = c.block(&[c.tx(&account(2), vec![commit(0, 10)])]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    // 5 MYC of escrow at 1,000,000 per unit, less the 60 % audit fee kept back, pays for at
    // most 3,125 units.
    let out = c.block(&[c.tx(&worker, vec![commit(0, 3_126)])]);
    assert_eq!(out.receipts[0].code, "invalid_market");
    assert!(
        out.receipts[0].error.contains("at most 3125"),
        "{}",
        out.receipts[0].error
    );
    let out = c.block(&[c.tx(&worker, vec![commit(0, 1_000)])]);
    assert!(out.receipts[0].success);
    let out = c.block(&[c.tx(&worker, vec![commit(0, 1_000)])]);
    assert_eq!(out.receipts[0].code, "invalid_market", "double commit");
    let committed_at = c.height - 1;
    let worker_before = c.balance(&addr(&worker));
    let supply_before = c.supply();
    c.run_to(committed_at + 3);
    let job = market::job(&c.state, 0).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Settled);
    // 1,000 units × 1,000,000 = 1 MYC; 5% protocol fee burned; 4 MYC refunded.
    let cost = Amount::from_myc(1);
    let burned = cost.mul_div(500, 10_000).unwrap();
    assert_eq!(job.fee.0, cost.0 - burned.0);
    assert_eq!(
        c.balance(&addr(&worker)).0 - worker_before.0,
        cost.0 - burned.0
    );
    assert_eq!(supply_before.0 - c.supply().0, burned.0);
    // The poster paid the job's cost and its one transaction fee, nothing more.
    assert_eq!(
        c.balance(&addr(&poster)).0,
        before_poster.0 - cost.0 - post_fee.0
    );
    assert_eq!(
        market::units(&c.state, 0).unwrap(),
        vec![(addr(&worker), 1_000)]
    );
    // With no auditor bonded the result settles unaudited, and only audited results raise
    // reputation.
    assert_eq!(
        market::reputation(&c.state, &addr(&worker)).unwrap(),
        market::START_REPUTATION
    );
    let recs = rewards::records(&c.state, 0, Some(&addr(&worker))).unwrap();
    assert!(
        recs.iter()
            .any(|r| r.reason == rewards::Reason::JobFee && r.amount == job.fee)
    );
    escrow_is_backed(&c);
}

#[test]
fn missed_deadline_penalises_and_reassigns_then_refunds() {
    let mut c = market_chain(&[1, 2], |p| p.market.max_attempts = 2);
    let poster = account(0);
    let max_fee = Amount::from_myc(5);
    c.block(&[c.tx(&poster, vec![post(Hash([1; 32]), max_fee, 4)])]);
    let first = market::job(&c.state, 0).unwrap().unwrap();
    let stake_before =
        mycel_ledger::modules::staking::stake(&c.state, &first.worker, Role::Worker).unwrap();
    c.run_to(first.due);
    let second = market::job(&c.state, 0).unwrap().unwrap();
    assert_eq!(second.status, JobStatus::Assigned);
    assert_ne!(
        second.worker, first.worker,
        "reassigned to the other worker"
    );
    assert_eq!(second.attempts, 2);
    assert_eq!(market::jobs_of(&c.state, &first.worker).unwrap(), vec![0]);
    assert_eq!(market::jobs_of(&c.state, &second.worker).unwrap(), vec![0]);
    let stake_after =
        mycel_ledger::modules::staking::stake(&c.state, &first.worker, Role::Worker).unwrap();
    assert_eq!(
        stake_before.0 - stake_after.0,
        stake_before.mul_div(100, 10_000).unwrap().0
    );
    assert_eq!(
        market::reputation(&c.state, &first.worker).unwrap(),
        market::START_REPUTATION - 20
    );
    escrow_is_backed(&c);
    // The second worker misses too: attempts are exhausted and the poster gets everything back.
    let poster_before = c.balance(&addr(&poster));
    c.run_to(second.due);
    let last = market::job(&c.state, 0).unwrap().unwrap();
    assert_eq!(last.status, JobStatus::Failed);
    assert_eq!(c.balance(&addr(&poster)).0 - poster_before.0, max_fee.0);
    escrow_is_backed(&c);
}

#[test]
fn assignment_is_deterministic_and_weighted() {
    // Same chain, same block: same worker.
    let a = market_chain(&[1, 2], |_| {});
    let b = market_chain(&[1, 2], |_| {});
    let tx = a.tx(
        &account(0),
        vec![post(Hash([1; 32]), Amount::from_myc(5), 10)],
    );
    let oa = a.exec(std::slice::from_ref(&tx)).unwrap();
    let ob = b.exec(&[tx]).unwrap();
    assert_eq!(oa.writes, ob.writes);
    // Over many jobs both workers get work.
    let mut c = market_chain(&[1, 2], |_| {});
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..16u8 {
        c.block(&[c.tx(
            &account(0),
            vec![post(Hash([i; 32]), Amount::from_myc(1), 100)],
        )]);
        seen.insert(market::job(&c.state, i as u64).unwrap().unwrap().worker);
    }
    assert_eq!(seen.len(), 2);
}

#[test]
fn epoch_rewards_pay_workers_by_independent_fees_capped_and_contributors_by_novel_bytes_used() {
    let mut c = market_chain(&[1], |p| p.rewards.epoch_length = 20);
    let (poster, worker, contributor) = (account(0), account(1), account(3));
    // A registered dataset with a novelty claim is the job's input.
    let root = Hash([0x55; 32]);
    let reg = Registration {
        root,
        records: 10,
        bytes: 10_000,
        profile: "text-v1".into(),
        minhash_root: Hash([1; 32]),
        manifest: Hash([2; 32]),
        license: "MIT".into(),
        consent: CONSENT_TRAIN,
        parents: vec![],
        novel_root: Hash([3; 32]),
        novel_records: 5,
        novel_bytes: 5_000,
        bond: Amount::from_myc(10),
    };
    c.block(&[c.tx(
        &contributor,
        vec![Message::Data(data::Msg::RegisterDataset(Box::new(reg)))],
    )]);
    c.block(&[c.tx(&poster, vec![post(root, Amount::from_myc(5), 5)])]);
    c.block(&[c.tx(&worker, vec![commit(0, 10)])]);
    c.run_to(19);
    let p = c.params();
    let emission = rewards::emission(&p.rewards, 0);
    // The worker's emission is capped at `worker_emission_per_fee_bps` of the fee the poster
    // paid (10 units × 1,000,000): far below the pool, which stays in the reserve.
    let fee = Amount(10 * 1_000_000);
    let worker_share = fee
        .mul_div(p.rewards.worker_emission_per_fee_bps as u128, 10_000)
        .unwrap();
    assert!(
        worker_share
            < emission
                .mul_div(p.rewards.worker_bps as u128, 10_000)
                .unwrap()
    );
    let data_share = emission
        .mul_div(p.rewards.data_bps as u128, 10_000)
        .unwrap();
    let rec = |a: &Address, r: rewards::Reason| {
        rewards::records(&c.state, 0, Some(a))
            .unwrap()
            .into_iter()
            .find(|x| x.reason == r)
            .map(|x| x.amount)
    };
    assert_eq!(
        rec(&addr(&worker), rewards::Reason::WorkerEmission),
        Some(worker_share)
    );
    assert_eq!(
        rec(&addr(&contributor), rewards::Reason::DataEmission),
        Some(data_share)
    );
    let s = rewards::summary(&c.state, 0).unwrap().unwrap();
    assert_eq!((s.workers, s.data), (worker_share, data_share));
    escrow_is_backed(&c);
}

mod sessions {
    use super::*;
    use mycel_ledger::modules::market::{Receipt, SessionMsg, session};
    use mycel_primitives::merkle;

    fn gen_offer(price: u128) -> Message {
        Message::Market(market::Msg::Offer(Box::new(Offer {
            kinds: 0b01,
            models: vec![MODEL],
            hardware: "cpu".into(),
            price_per_unit: Amount(price),
            endpoint: "127.0.0.1:9000".into(),
        })))
    }

    fn smsg(m: SessionMsg) -> Message {
        Message::Market(market::Msg::Session(m))
    }

    /// Worker = account 1 (bonded, generation offer at 1,000 per token); client = account 0
    /// with session 0 open and a 1 MYC deposit.
    fn open() -> Chain {
        let mut c = Chain::new(genesis_with(1, |_| {}));
        let w = account(1);
        c.block(&[c.tx(&w, vec![bond(Role::Worker, Amount::from_myc(100))])]);
        c.block(&[c.tx(&w, vec![gen_offer(1_000)])]);
        let out = c.block(&[c.tx(
            &account(0),
            vec![smsg(SessionMsg::Open {
                worker: addr(&w),
                model: MODEL,
                deposit: Amount::from_myc(1),
                duration_blocks: 50,
            })],
        )]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        c
    }

    fn receipts(n: u64) -> Vec<Receipt> {
        (0..n)
            .map(|seq| Receipt {
                session: 0,
                seq,
                input_hash: Hash([seq as u8; 32]),
                output_hash: Hash([seq as u8 + 100; 32]),
                tokens: 10,
                amount: Amount(10_000),
            })
            .collect()
    }

    fn root(r: &[Receipt]) -> Hash {
        merkle::root(&r.iter().map(Receipt::leaf).collect::<Vec<_>>())
    }

    fn settle(c: &mut Chain, r: &[Receipt]) -> mycel_ledger::Receipt {
        let total = Amount(r.iter().map(|x| x.amount.0).sum());
        let out = c.block(&[c.tx(
            &account(1),
            vec![smsg(SessionMsg::Settle {
                session: 0,
                receipts_root: root(r),
                count: r.len() as u64,
                total,
            })],
        )]);
        out.receipts[0].clone()
    }

    #[test]
    fn cumulative_settlement_pays_once_and_close_refunds() {
        let mut c = open();
        let r = receipts(5);
        let w_before = c.balance(&addr(&account(1)));
        let rc = settle(&mut c, &r[..3]);
        assert!(rc.success, "{}", rc.error);
        // The same settlement again is refused: nothing is paid twice.
        let again = settle(&mut c, &r[..3]);
        assert_eq!(again.code, "invalid_market");
        let third = settle(&mut c, &r);
        assert!(third.success);
        // 30,000 then 20,000 charged, each less the 5% protocol fee; the worker paid three tx fees.
        let paid = (30_000u128 - 1_500) + (20_000 - 1_000);
        let fees = rc.fee.0 + again.fee.0 + third.fee.0;
        assert_eq!(c.balance(&addr(&account(1))).0, w_before.0 + paid - fees);
        let s = session(&c.state, 0).unwrap().unwrap();
        assert_eq!((s.count, s.total), (5, Amount(50_000)));
        // The client may close only after expiry; the refund is the unspent deposit.
        let out = c.block(&[c.tx(&account(0), vec![smsg(SessionMsg::Close { session: 0 })])]);
        assert_eq!(out.receipts[0].code, "unauthorized");
        c.run_to(s.expires);
        let before = c.balance(&addr(&account(0)));
        let out = c.block(&[c.tx(&account(0), vec![smsg(SessionMsg::Close { session: 0 })])]);
        assert!(out.receipts[0].success);
        assert_eq!(
            c.balance(&addr(&account(0))).0 + out.receipts[0].fee.0 - before.0,
            Amount::from_myc(1).0 - 50_000
        );
        escrow_is_backed_sessions(&c);
    }

    fn escrow_is_backed_sessions(c: &Chain) {
        let mut open = 0u128;
        for id in 0.. {
            let Some(s) = session(&c.state, id).unwrap() else {
                break;
            };
            if !s.closed {
                open += s.deposit.0 - s.total.0;
            }
        }
        assert_eq!(c.balance(&market::escrow()).0, open);
        assert_eq!(c.supply(), sum_balances(&c.state));
    }

    fn dispute(c: &mut Chain, r: &Receipt, signer: &PrivateKey) -> mycel_ledger::Receipt {
        let sig = r.sign(signer);
        let msg = smsg(SessionMsg::Dispute {
            receipt: r.clone(),
            worker_key: commonware_cryptography::Signer::public_key(&account(1))
                .as_ref()
                .to_vec(),
            signature: mycel_primitives::codec::Encode::encode(&sig).to_vec(),
        });
        let out = c.block(&[c.tx(&account(0), vec![msg])]);
        out.receipts[0].clone()
    }

    #[test]
    fn overcharging_receipt_is_refunded_from_stake() {
        let mut c = open();
        let mut r = receipts(1)[0].clone();
        r.amount = Amount(20_000); // 10 tokens × 1,000 = 10,000 is fair
        let stake =
            mycel_ledger::modules::staking::stake(&c.state, &addr(&account(1)), Role::Worker)
                .unwrap();
        let before = c.balance(&addr(&account(0)));
        let rc = dispute(&mut c, &r, &account(1));
        assert!(rc.success, "{}", rc.error);
        assert_eq!(
            c.balance(&addr(&account(0))).0 + rc.fee.0 - before.0,
            20_000
        );
        let after =
            mycel_ledger::modules::staking::stake(&c.state, &addr(&account(1)), Role::Worker)
                .unwrap();
        assert_eq!(stake.0 - after.0, 20_000);
        escrow_is_backed_sessions(&c);
    }

    #[test]
    fn receipt_signed_by_another_key_is_rejected() {
        let mut c = open();
        let r = receipts(1)[0].clone();
        let rc = dispute(&mut c, &r, &account(2));
        assert_eq!(rc.code, "bad_signature");
    }

    #[test]
    fn settled_receipt_missing_from_root_costs_the_worker_unless_answered() {
        let mut c = open();
        let r = receipts(4);
        // The worker settles a root that leaves out receipt 2 (replaced by a cheaper one).
        let mut forged = r.clone();
        forged[2].amount = Amount(1);
        let total = Amount(forged.iter().map(|x| x.amount.0).sum());
        c.block(&[c.tx(
            &account(1),
            vec![smsg(SessionMsg::Settle {
                session: 0,
                receipts_root: root(&forged),
                count: 4,
                total,
            })],
        )]);
        // An honest receipt 1 is answered with its proof: no penalty.
        assert!(dispute(&mut c, &r[1], &account(1)).success);
        let proof =
            merkle::prove(&forged.iter().map(Receipt::leaf).collect::<Vec<_>>(), 1).unwrap();
        let out = c.block(&[c.tx(
            &account(1),
            vec![smsg(SessionMsg::Answer {
                receipt: r[1].clone(),
                proof,
            })],
        )]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        // Receipt 2 is not in the root; the worker cannot answer and pays at the deadline.
        let stake =
            mycel_ledger::modules::staking::stake(&c.state, &addr(&account(1)), Role::Worker)
                .unwrap();
        assert!(dispute(&mut c, &r[2], &account(1)).success);
        let bad = merkle::prove(&forged.iter().map(Receipt::leaf).collect::<Vec<_>>(), 2).unwrap();
        let out = c.block(&[c.tx(
            &account(1),
            vec![smsg(SessionMsg::Answer {
                receipt: r[2].clone(),
                proof: bad,
            })],
        )]);
        assert_eq!(out.receipts[0].code, "invalid_market");
        let before = c.balance(&addr(&account(0)));
        c.run_to(c.height + 20);
        let after =
            mycel_ledger::modules::staking::stake(&c.state, &addr(&account(1)), Role::Worker)
                .unwrap();
        assert_eq!(stake.0 - after.0, r[2].amount.0);
        assert_eq!(c.balance(&addr(&account(0))).0 - before.0, r[2].amount.0);
        escrow_is_backed_sessions(&c);
    }
}
