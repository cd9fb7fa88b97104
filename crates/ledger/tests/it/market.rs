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
        licenses: "*".into(),
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
        profile: "mycel-text/v1".into(),
        minhash_root: Hash([1; 32]),
        signatures: Hash([2; 32]),
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
    use mycel_ledger::modules::market::{
        REQUEST_NAMESPACE, Receipt, SETTLE_GRACE, SessionMsg, request_bytes, session,
    };
    use mycel_primitives::{codec::Encode, keys, merkle};

    fn gen_offer(price: u128) -> Message {
        Message::Market(market::Msg::Offer(Box::new(Offer {
            kinds: 0b01,
            models: vec![MODEL],
            hardware: "cpu".into(),
            price_per_unit: Amount(price),
            endpoint: "127.0.0.1:9000".into(),
            licenses: "*".into(),
        })))
    }

    fn smsg(m: SessionMsg) -> Message {
        Message::Market(market::Msg::Session(m))
    }

    fn stake(c: &Chain) -> u128 {
        mycel_ledger::modules::staking::stake(&c.state, &addr(&account(1)), Role::Worker)
            .unwrap()
            .0
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

    /// `n` honest receipts of 10 tokens each, with their running totals.
    fn receipts(n: u64) -> Vec<Receipt> {
        (0..n)
            .map(|seq| Receipt {
                session: 0,
                seq,
                model: MODEL,
                input_hash: Hash([seq as u8; 32]),
                output_hash: Hash([seq as u8 + 100; 32]),
                tokens: 10,
                price: Amount(1_000),
                amount: Amount(10_000),
                cumulative: Amount(10_000 * (seq as u128 + 1)),
            })
            .collect()
    }

    fn leaves(r: &[Receipt]) -> Vec<Hash> {
        r.iter().map(Receipt::leaf).collect()
    }

    fn settle_msg(r: &[Receipt]) -> Message {
        let last = r.last().unwrap().clone();
        smsg(SessionMsg::Settle {
            session: 0,
            receipts_root: merkle::root(&leaves(r)),
            count: r.len() as u64,
            total: last.cumulative,
            proof: merkle::prove(&leaves(r), r.len() - 1).unwrap(),
            last,
        })
    }

    fn settle(c: &mut Chain, r: &[Receipt]) -> mycel_ledger::Receipt {
        let out = c.block(&[c.tx(&account(1), vec![settle_msg(r)])]);
        out.receipts[0].clone()
    }

    /// The worker's answer to a dispute of `r[i]`: its proof and the client's request signature.
    fn answer(r: &[Receipt], i: usize, client: &PrivateKey) -> Message {
        let sig = keys::sign(
            client,
            REQUEST_NAMESPACE,
            &request_bytes(0, r[i].seq, &r[i].input_hash),
        );
        smsg(SessionMsg::Answer {
            receipt: r[i].clone(),
            proof: merkle::prove(&leaves(r), i).unwrap(),
            client_key: client.public_key().as_ref().to_vec(),
            request_signature: sig.encode().to_vec(),
        })
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
        // The client may close only after expiry and the worker's grace to settle; the refund
        // is the unspent deposit.
        c.run_to(s.expires);
        let out = c.block(&[c.tx(&account(0), vec![smsg(SessionMsg::Close { session: 0 })])]);
        assert_eq!(out.receipts[0].code, "unauthorized");
        c.run_to(s.expires + SETTLE_GRACE);
        let before = c.balance(&addr(&account(0)));
        let out = c.block(&[c.tx(&account(0), vec![smsg(SessionMsg::Close { session: 0 })])]);
        assert!(out.receipts[0].success);
        assert_eq!(
            c.balance(&addr(&account(0))).0 + out.receipts[0].fee.0 - before.0,
            Amount::from_myc(1).0 - 50_000
        );
        escrow_is_backed_sessions(&c);
    }

    /// A worker cannot claim a total the receipts do not add up to: the total must be the last
    /// settled receipt's running total, proven in the root.
    #[test]
    fn settled_total_is_tied_to_the_last_receipt() {
        let mut c = open();
        let r = receipts(3);
        let escrow = c.balance(&market::escrow());
        let last = r[2].clone();
        let inflated = |total: Amount, last: Receipt, count: u64| {
            smsg(SessionMsg::Settle {
                session: 0,
                receipts_root: merkle::root(&leaves(&r)),
                count,
                total,
                proof: merkle::prove(&leaves(&r), 2).unwrap(),
                last,
            })
        };
        // The whole deposit, against a root whose receipts add up to 30,000.
        for (msg, code) in [
            (
                inflated(Amount::from_myc(1), last.clone(), 3),
                "last receipt must be",
            ),
            // A last receipt that claims the deposit but is not the one in the root.
            (
                inflated(
                    Amount::from_myc(1),
                    Receipt {
                        cumulative: Amount::from_myc(1),
                        ..last.clone()
                    },
                    3,
                ),
                "proof:",
            ),
            // More receipts than the root holds.
            (
                inflated(Amount(30_000), last.clone(), 4),
                "last receipt must be",
            ),
        ] {
            let out = c.block(&[c.tx(&account(1), vec![msg])]);
            let rc = &out.receipts[0];
            assert!(!rc.success);
            assert!(rc.error.contains(code), "{code}: {rc:?}");
        }
        assert_eq!(c.balance(&market::escrow()), escrow, "nothing paid");
        assert!(settle(&mut c, &r).success);
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

    /// An overcharging receipt is refunded from stake once; replaying the dispute is refused.
    #[test]
    fn overcharging_receipt_is_refunded_from_stake_once() {
        let mut c = open();
        let mut r = receipts(1)[0].clone();
        r.amount = Amount(20_000); // 10 tokens × 1,000 = 10,000 is fair
        r.cumulative = Amount(20_000);
        let staked = stake(&c);
        let before = c.balance(&addr(&account(0)));
        let rc = dispute(&mut c, &r, &account(1));
        assert!(rc.success, "{}", rc.error);
        assert_eq!(
            c.balance(&addr(&account(0))).0 + rc.fee.0 - before.0,
            20_000
        );
        assert_eq!(staked - stake(&c), 20_000);
        // The same receipt again: refused, the stake is not drained.
        let again = dispute(&mut c, &r, &account(1));
        assert!(again.error.contains("already disputed"), "{:?}", again);
        assert_eq!(staked - stake(&c), 20_000);
        // A price other than the session's is an overcharge too.
        let mut cheap_tokens = receipts(2)[1].clone();
        cheap_tokens.price = Amount(2_000);
        cheap_tokens.amount = Amount(20_000);
        assert!(dispute(&mut c, &cheap_tokens, &account(1)).success);
        assert_eq!(staked - stake(&c), 40_000);
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
        // The worker settles a root where receipt 2 is replaced by a dearer one.
        let mut forged = r.clone();
        forged[2].tokens = 30;
        forged[2].amount = Amount(30_000);
        forged[2].cumulative = Amount(50_000);
        forged[3].cumulative = Amount(60_000);
        let out = c.block(&[c.tx(&account(1), vec![settle_msg(&forged)])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        // An honest receipt 1 is answered with its proof and the client's request signature.
        assert!(dispute(&mut c, &r[1], &account(1)).success);
        // A signature by someone other than the client does not answer it.
        let out = c.block(&[c.tx(&account(1), vec![answer(&forged, 1, &account(2))])]);
        assert!(
            out.receipts[0].error.contains("not the session's client"),
            "{:?}",
            out.receipts[0]
        );
        let out = c.block(&[c.tx(&account(1), vec![answer(&forged, 1, &account(0))])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        // Receipt 2 is not in the root; the worker cannot answer and pays at the deadline what
        // the client was charged beyond the receipt it holds (60,000 - 30,000).
        let staked = stake(&c);
        assert!(dispute(&mut c, &r[2], &account(1)).success);
        let mut bad = answer(&forged, 2, &account(0));
        if let Message::Market(market::Msg::Session(SessionMsg::Answer { receipt, .. })) = &mut bad
        {
            *receipt = r[2].clone();
        }
        let out = c.block(&[c.tx(&account(1), vec![bad])]);
        assert_eq!(out.receipts[0].code, "invalid_market");
        let before = c.balance(&addr(&account(0)));
        c.run_to(c.height + 20);
        assert_eq!(staked - stake(&c), 30_000);
        assert_eq!(c.balance(&addr(&account(0))).0 - before.0, 30_000);
        escrow_is_backed_sessions(&c);
    }

    /// Receipts the worker made up (requests the client never signed) cost it everything it
    /// was paid in the session; an honest worker answers with the client's signature.
    #[test]
    fn made_up_receipts_cost_the_worker_what_it_was_paid() {
        let mut c = open();
        let r = receipts(5);
        assert!(settle(&mut c, &r).success);
        // Request 1 was made: the worker answers with the client's signature.
        let out = c.block(&[c.tx(
            &account(0),
            vec![smsg(SessionMsg::Unrequested { session: 0, seq: 1 })],
        )]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        let out = c.block(&[c.tx(&account(1), vec![answer(&r, 1, &account(0))])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        // Request 4 was not (the worker holds no client signature for it).
        let staked = stake(&c);
        let out = c.block(&[c.tx(
            &account(0),
            vec![smsg(SessionMsg::Unrequested { session: 0, seq: 4 })],
        )]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        let forged_sig = answer(&r, 4, &account(1));
        let out = c.block(&[c.tx(&account(1), vec![forged_sig])]);
        assert!(
            out.receipts[0].error.contains("not the session's client"),
            "{:?}",
            out.receipts[0]
        );
        // Disputing a sequence twice, or one not settled, is refused.
        for seq in [4, 5] {
            let out = c.block(&[c.tx(
                &account(0),
                vec![smsg(SessionMsg::Unrequested { session: 0, seq })],
            )]);
            assert!(!out.receipts[0].success);
        }
        c.run_to(c.height + 20);
        assert_eq!(staked - stake(&c), 50_000, "all the client paid");
        let s = session(&c.state, 0).unwrap().unwrap();
        assert_eq!(s.refunded, Amount(50_000));
        escrow_is_backed_sessions(&c);
    }

    /// A top-up adds to the deposit and extends expiry; only the client may top up.
    #[test]
    fn top_up_adds_deposit_and_time() {
        let mut c = open();
        let before = session(&c.state, 0).unwrap().unwrap();
        let top = smsg(SessionMsg::TopUp {
            session: 0,
            amount: Amount::from_myc(2),
            extend_blocks: 500,
        });
        let out = c.block(&[c.tx(&account(1), vec![top.clone()])]);
        assert!(
            out.receipts[0].error.contains("only the session's client"),
            "{:?}",
            out.receipts[0]
        );
        let out = c.block(&[c.tx(&account(0), vec![top])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        let after = session(&c.state, 0).unwrap().unwrap();
        assert_eq!(after.deposit, Amount::from_myc(3));
        assert_eq!(after.expires, c.height + 500);
        assert!(after.expires > before.expires);
        escrow_is_backed_sessions(&c);
    }

    /// A worker cannot unbond its way out of its session receipts: its stake stays bonded while
    /// a session is open and for a dispute window after it closes; a dispute after that window
    /// is refused, and then the stake is free.
    #[test]
    fn worker_stake_answers_for_sessions_until_their_receipts_cannot_be_disputed() {
        use mycel_ledger::modules::market::DISPUTE_WINDOW;
        let mut c = open();
        let r = receipts(2);
        assert!(settle(&mut c, &r).success);
        let unbond_msg = unbond(Role::Worker, Amount::from_myc(100));
        let out = c.block(&[c.tx(&account(1), vec![unbond_msg.clone()])]);
        assert_eq!(
            out.receipts[0].code, "stake_locked",
            "{:?}",
            out.receipts[0]
        );
        // The worker closes at once, hoping to leave.
        let out = c.block(&[c.tx(&account(1), vec![smsg(SessionMsg::Close { session: 0 })])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        let closed_at = c.height;
        let out = c.block(&[c.tx(&account(1), vec![unbond_msg.clone()])]);
        assert_eq!(out.receipts[0].code, "stake_locked");
        // Within the window the client still disputes, and the worker still answers.
        assert!(dispute(&mut c, &r[1], &account(1)).success);
        let out = c.block(&[c.tx(&account(1), vec![answer(&r, 1, &account(0))])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        // After it, disputes are refused and the stake is released.
        c.run_to(closed_at + 2 * DISPUTE_WINDOW + 1);
        let late = dispute(&mut c, &r[0], &account(1));
        assert!(late.error.contains("could be disputed until"), "{late:?}");
        let out = c.block(&[c.tx(&account(1), vec![unbond_msg])]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        escrow_is_backed_sessions(&c);
    }

    /// A worker that signs a receipt whose running total jumps past the amounts pays the jump
    /// back, proven by its own two signatures; totals that add up prove nothing.
    #[test]
    fn a_jump_in_the_running_total_is_paid_back() {
        let mut c = open();
        let mut r = receipts(3);
        r[2].cumulative = Amount(90_000); // 30,000 is right: a jump of 60,000
        assert!(settle(&mut c, &r).success);
        let jump = |c: &Chain, a: &Receipt, b: &Receipt| {
            c.tx(
                &account(0),
                vec![smsg(SessionMsg::Jump {
                    previous: Box::new(a.clone()),
                    previous_signature: a.sign(&account(1)).encode().to_vec(),
                    receipt: Box::new(b.clone()),
                    signature: b.sign(&account(1)).encode().to_vec(),
                    worker_key: account(1).public_key().as_ref().to_vec(),
                })],
            )
        };
        let tx = jump(&c, &r[0], &r[1]);
        let out = c.block(&[tx]);
        assert!(
            out.receipts[0].error.contains("add up"),
            "{:?}",
            out.receipts[0]
        );
        let tx = jump(&c, &r[0], &r[2]);
        let out = c.block(&[tx]);
        assert!(
            out.receipts[0].error.contains("not consecutive"),
            "{:?}",
            out.receipts[0]
        );
        let staked = stake(&c);
        let before = c.balance(&addr(&account(0)));
        let tx = jump(&c, &r[1], &r[2]);
        let out = c.block(&[tx]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        assert_eq!(staked - stake(&c), 60_000);
        assert_eq!(
            c.balance(&addr(&account(0))).0 + out.receipts[0].fee.0 - before.0,
            60_000
        );
        // Once only.
        let tx = jump(&c, &r[1], &r[2]);
        let out = c.block(&[tx]);
        assert!(
            out.receipts[0].error.contains("already disputed"),
            "{:?}",
            out.receipts[0]
        );
        // A first receipt whose running total is not its amount is an overcharge on its own.
        let mut first = receipts(1)[0].clone();
        first.cumulative = Amount(50_000);
        let staked = stake(&c);
        let rc = dispute(&mut c, &first, &account(1));
        assert!(rc.success, "{}", rc.error);
        assert_eq!(staked - stake(&c), first.amount.0);
        escrow_is_backed_sessions(&c);
    }
}
