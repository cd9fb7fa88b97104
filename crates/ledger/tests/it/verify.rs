//! Audits, disputes and slashing, played as the cheaters would: every test ends with supply
//! equal to the sum of balances, and every refused move changes nothing.

use super::*;
use mycel_ledger::modules::{
    market::{self, JobKind, JobStatus, Offer},
    rewards::{self, Reason},
    staking::Role,
    verify::{self, AuditStage, Outcome, Turn},
};
use mycel_primitives::merkle;
use mycel_referee::{Arch, Faults, IntLm, Run, input_hash, prompt_bytes};

const PRICE: u128 = 1_000_000;
const PROMPT: [u32; 5] = [3, 14, 15, 9, 26];
const MAX_TOKENS: u32 = 6;

fn model() -> IntLm {
    IntLm::random(
        Arch {
            vocab: 64,
            dim: 16,
            layers: 2,
            shift: 7,
        },
        42,
    )
    .unwrap()
}

/// Poster 0, worker 1, auditors 4 and 5, challenger 6; the worker serves the Tier D model.
fn chain(f: impl FnOnce(&mut Params)) -> Chain {
    chain_with(&[4, 5], f)
}

/// [`chain`] with the given auditors only.
fn chain_with(auditors: &[usize], f: impl FnOnce(&mut Params)) -> Chain {
    let m = model();
    let mut c = Chain::new(genesis_with(1, |p| {
        p.market.challenge_window = 3;
        p.rewards.epoch_length = 1_000;
        p.verify.canary_bps = 0;
        f(p)
    }));
    let worker = account(1);
    ok(&c.block(&[c.tx(&worker, vec![bond(Role::Worker, Amount::from_myc(100))])]));
    let offer = Message::Market(market::Msg::Offer(Box::new(Offer {
        kinds: 1 << JobKind::Generate as u8,
        models: vec![m.model_id()],
        hardware: "cpu".into(),
        price_per_unit: Amount(PRICE),
        endpoint: "127.0.0.1:9000".into(),
        licenses: "*".into(),
    })));
    ok(&c.block(&[c.tx(&worker, vec![offer])]));
    for &a in auditors {
        ok(&c.block(&[c.tx(
            &account(a),
            vec![bond(Role::Auditor, Amount::from_myc(100))],
        )]));
    }
    c
}

fn ok(out: &BlockOutput) {
    for r in &out.receipts {
        assert!(r.success, "{}: {}", r.code, r.error);
    }
}

fn conserved(c: &Chain) {
    assert_eq!(
        c.supply(),
        sum_balances(&c.state),
        "supply must equal balances"
    );
}

fn post_msg() -> Message {
    let params = format!(r#"{{"max_tokens":{MAX_TOKENS},"temperature":0}}"#);
    Message::Market(market::Msg::PostJob {
        kind: JobKind::Generate,
        model: model().model_id(),
        input: input_hash(&PROMPT),
        params: params.into_bytes(),
        max_fee: Amount::from_myc(1),
        deadline_blocks: 20,
    })
}

fn post(c: &mut Chain) -> market::Job {
    ok(&c.block(&[c.tx(&account(0), vec![post_msg()])]));
    let id = market::recent_jobs(&c.state, 1).unwrap()[0].id;
    market::job(&c.state, id).unwrap().unwrap()
}

fn run(job: &market::Job, faults: &Faults) -> Run {
    model()
        .run_with(&PROMPT, MAX_TOKENS, 0, &job.seed, faults)
        .unwrap()
}

fn output_of(run: &Run) -> Hash {
    mycel_store::blob_hash(&prompt_bytes(&run.tokens))
}

fn units(run: &Run) -> u64 {
    (PROMPT.len() + run.tokens.len()) as u64
}

fn commit(c: &mut Chain, job: &market::Job, run: &Run, units: u64) {
    ok(&c.block(&[c.tx(
        &account(1),
        vec![Message::Market(market::Msg::CommitResult {
            job: job.id,
            output: output_of(run),
            units,
            trace_root: run.trace_root(),
            trace_len: run.leaves.len() as u64,
        })],
    )]));
}

fn key_of(c: &Chain, a: &Address) -> PrivateKey {
    (0..8)
        .map(account)
        .find(|k| addr(k) == *a)
        .unwrap_or_else(|| panic!("{a} is not a test account {}", c.height))
}

/// The honest claim an auditor's replay produces.
fn replay(job: &market::Job) -> (Hash, Hash) {
    let r = run(job, &Faults::default());
    (
        verify::claim_digest(
            &output_of(&r),
            units(&r),
            &r.trace_root(),
            r.leaves.len() as u64,
        ),
        r.trace_root(),
    )
}

fn seal_and_reveal(c: &mut Chain, audit: &verify::Audit, digest: Hash, root: Hash) -> BlockOutput {
    let k = key_of(c, &audit.auditor);
    let salt = Hash([0xAB; 32]);
    let sealed = verify::seal(audit.id, &audit.auditor, &digest, &root, &salt);
    ok(&c.block(&[c.tx(
        &k,
        vec![vmsg(verify::Msg::Seal {
            audit: audit.id,
            sealed,
        })],
    )]));
    c.block(&[c.tx(
        &k,
        vec![vmsg(verify::Msg::Reveal {
            audit: audit.id,
            digest,
            trace_root: root,
            salt,
        })],
    )])
}

fn vmsg(m: verify::Msg) -> Message {
    Message::Verify(m)
}

fn the_audit(c: &Chain, job: u64) -> verify::Audit {
    let audits = verify::audits_of(&c.state, job).unwrap();
    assert_eq!(audits.len(), 1, "{audits:?}");
    audits.into_iter().next().unwrap()
}

/// Plays the bisection: the worker splits from `worker_leaves`, the challenger picks the
/// leftmost child that differs from `challenger_leaves`. Returns the rounds played.
fn bisect(
    c: &mut Chain,
    d: u64,
    worker_leaves: &[Hash],
    challenger: &PrivateKey,
    honest: &[Hash],
) -> u32 {
    loop {
        let dispute = verify::dispute(&c.state, d).unwrap().unwrap();
        if dispute.turn != Turn::Split {
            return dispute.rounds;
        }
        let (o, n) = (dispute.offset as usize, dispute.size as usize);
        let k = merkle_split(n);
        let (left, right) = (
            merkle::root(&worker_leaves[o..o + k]),
            merkle::root(&worker_leaves[o + k..o + n]),
        );
        ok(&c.block(&[c.tx(
            &account(1),
            vec![vmsg(verify::Msg::Split {
                dispute: d,
                left,
                right,
            })],
        )]));
        let right_pick = merkle::root(&honest[o..o + k]) == left;
        ok(&c.block(&[c.tx(
            challenger,
            vec![vmsg(verify::Msg::Pick {
                dispute: d,
                right: right_pick,
            })],
        )]));
    }
}

fn merkle_split(n: usize) -> usize {
    merkle::split(n as u64) as usize
}

fn stake(c: &Chain, a: &Address, role: Role) -> Amount {
    mycel_ledger::modules::staking::stake(&c.state, a, role).unwrap()
}

#[test]
fn a_new_workers_honest_result_is_audited_verified_and_settled() {
    let mut c = chain(|_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    commit(&mut c, &job, &r, units(&r));
    // Drawn at the next block, from the digest of the block that carried the result.
    c.block(&[]);
    let audit = the_audit(&c, job.id);
    assert!(
        [addr(&account(4)), addr(&account(5))].contains(&audit.auditor),
        "the auditor is never the worker or the poster"
    );
    assert_eq!(audit.stage, AuditStage::Sealing);
    // The worker cannot unbond while its result is open.
    let out = c.block(&[c.tx(
        &account(1),
        vec![unbond(Role::Worker, Amount::from_myc(100))],
    )]);
    assert_eq!(out.receipts[0].code, "stake_locked");
    // A reveal that does not open the seal changes nothing.
    let (digest, root) = replay(&job);
    let k = key_of(&c, &audit.auditor);
    let sealed = verify::seal(audit.id, &audit.auditor, &digest, &root, &Hash([1; 32]));
    ok(&c.block(&[c.tx(
        &k,
        vec![vmsg(verify::Msg::Seal {
            audit: audit.id,
            sealed,
        })],
    )]));
    let out = c.block(&[c.tx(
        &k,
        vec![vmsg(verify::Msg::Reveal {
            audit: audit.id,
            digest,
            trace_root: root,
            salt: Hash([2; 32]),
        })],
    )]);
    assert_eq!(out.receipts[0].code, "invalid_verify");
    assert!(out.receipts[0].error.contains("seal"));
    let out = c.block(&[c.tx(
        &k,
        vec![vmsg(verify::Msg::Reveal {
            audit: audit.id,
            digest,
            trace_root: root,
            salt: Hash([1; 32]),
        })],
    )]);
    ok(&out);
    assert_eq!(the_audit(&c, job.id).stage, AuditStage::Matched);
    // The poster pays the auditor 60 % of the job's fee from the escrow kept back for it.
    let job_now = market::job(&c.state, job.id).unwrap().unwrap();
    let fee = Amount(PRICE * job_now.units as u128);
    let audit_fee = fee.mul_div(6_000, 10_000).unwrap();
    assert_eq!(job_now.max_fee.0, Amount::from_myc(1).0 - audit_fee.0);
    let paid = rewards::records(&c.state, 0, Some(&audit.auditor))
        .unwrap()
        .into_iter()
        .find(|r| r.reason == Reason::AuditFee)
        .map(|r| r.amount);
    assert_eq!(paid, Some(audit_fee));
    c.run_to(c.height + 3);
    let job = market::job(&c.state, job.id).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Settled);
    assert_eq!(
        market::reputation(&c.state, &addr(&account(1))).unwrap(),
        market::START_REPUTATION + 1,
        "a verified result raises reputation"
    );
    assert_eq!(
        verify::history(&c.state, &addr(&account(1)))
            .unwrap()
            .verified,
        1
    );
    // The worker's stake is free again.
    ok(&c.block(&[c.tx(
        &account(1),
        vec![unbond(Role::Worker, Amount::from_myc(100))],
    )]));
    // At the epoch's end the auditor is paid from the auditor pool.
    c.run_to(999);
    let paid = rewards::records(&c.state, 0, Some(&audit.auditor))
        .unwrap()
        .into_iter()
        .find(|r| r.reason == Reason::AuditorEmission)
        .map(|r| r.amount);
    assert!(paid.is_some_and(|a| !a.is_zero()));
    conserved(&c);
}

#[test]
fn a_skipped_layer_is_found_by_the_audit_and_refuted_by_the_referee() {
    let mut c = chain(|_| {});
    let job = post(&mut c);
    let cheat = run(
        &job,
        &Faults {
            skip_layer: Some(1),
            ..Default::default()
        },
    );
    let honest = run(&job, &Faults::default());
    assert_ne!(cheat.trace_root(), honest.trace_root());
    commit(&mut c, &job, &cheat, units(&cheat));
    c.block(&[]);
    let audit = the_audit(&c, job.id);
    let (digest, root) = replay(&job);
    let worker_stake = stake(&c, &addr(&account(1)), Role::Worker);
    let auditor_before = c.balance(&audit.auditor);
    let poster_before = c.balance(&addr(&account(0)));
    let burned_before = c.burned();
    let out = seal_and_reveal(&mut c, &audit, digest, root);
    ok(&out);
    assert_eq!(the_audit(&c, job.id).stage, AuditStage::Mismatched);
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    assert!(d.by_auditor);
    let auditor_key = key_of(&c, &audit.auditor);
    let rounds = bisect(&mut c, d.id, &cheat.leaves, &auditor_key, &honest.leaves);
    let n = cheat.leaves.len() as u64;
    assert_eq!(rounds, 64 - (n - 1).leading_zeros(), "⌈log₂ n⌉ rounds");
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(d.turn, Turn::Resolve);
    // The leaf reached is the first one where the traces differ.
    let first = cheat
        .leaves
        .iter()
        .zip(&honest.leaves)
        .position(|(a, b)| a != b)
        .unwrap();
    assert_eq!(d.offset, first as u64);
    // Out of turn: the challenger cannot resolve, and a witness for another leaf fails.
    let out = c.block(&[c.tx(
        &auditor_key,
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness: vec![],
        })],
    )]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    let m = model();
    let wrong = m
        .witness(&cheat, &prompt_bytes(&PROMPT), (first as u64 + 1) % n)
        .unwrap();
    let out = c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness: wrong,
        })],
    )]);
    assert_eq!(
        out.receipts[0].code, "invalid_verify",
        "{}",
        out.receipts[0].error
    );
    // The cheater's own witness: the referee recomputes the step and refutes it.
    let witness = m
        .witness(&cheat, &prompt_bytes(&PROMPT), first as u64)
        .unwrap();
    ok(&c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness,
        })],
    )]));
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(d.outcome, Outcome::ChallengerWon);
    assert_eq!(d.reason, "referee_refuted_step");
    let job = market::job(&c.state, job.id).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Rejected);
    // The poster got the whole escrow back (less its own fees for nothing here).
    assert_eq!(
        c.balance(&addr(&account(0))).0,
        poster_before.0 + Amount::from_myc(1).0
    );
    // Half the worker's stake is gone: half of that to the auditor, the rest burned.
    let cut = worker_stake.mul_div(5_000, 10_000).unwrap();
    assert_eq!(
        stake(&c, &addr(&account(1)), Role::Worker).0,
        worker_stake.0 - cut.0
    );
    let prize = cut.mul_div(5_000, 10_000).unwrap();
    assert!(c.balance(&audit.auditor).0 >= auditor_before.0 + prize.0 - 10_000_000);
    assert!(c.burned().0 >= burned_before.0 + cut.0 - prize.0);
    assert_eq!(
        verify::history(&c.state, &addr(&account(1)))
            .unwrap()
            .strikes,
        1
    );
    // Double slashing: the dispute is closed; moves on it are refused.
    let out = c.block(&[c.tx(
        &auditor_key,
        vec![vmsg(verify::Msg::Pick {
            dispute: d.id,
            right: false,
        })],
    )]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    // A rejected job cannot be challenged again.
    let out = c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: Hash([1; 32]),
            bond: Amount::from_myc(1),
        })],
    )]);
    assert!(
        out.receipts[0].error.contains("no open result"),
        "{}",
        out.receipts[0].error
    );
    conserved(&c);
}

#[test]
fn a_lying_challenger_loses_its_bond_to_the_referee() {
    let mut c = chain_with(&[], |_| {});
    let job = post(&mut c);
    let honest = run(&job, &Faults::default());
    commit(&mut c, &job, &honest, units(&honest));
    // Account 6 claims another trace (a model run with a skipped layer).
    let liar = run(
        &job,
        &Faults {
            skip_layer: Some(0),
            ..Default::default()
        },
    );
    let bond = Amount::from_myc(2);
    let before = c.balance(&addr(&account(6)));
    let worker_before = c.balance(&addr(&account(1)));
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: liar.trace_root(),
            bond,
        })],
    )]));
    // A second challenge while one is open is refused.
    let out = c.block(&[c.tx(
        &account(7),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: liar.trace_root(),
            bond,
        })],
    )]);
    assert!(out.receipts[0].error.contains("already disputed"));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    bisect(&mut c, d.id, &honest.leaves, &account(6), &liar.leaves);
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    let w = model()
        .witness(&honest, &prompt_bytes(&PROMPT), d.offset)
        .unwrap();
    ok(&c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness: w,
        })],
    )]));
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(d.outcome, Outcome::WorkerWon);
    assert!(c.balance(&addr(&account(6))).0 < before.0 - bond.0 + 1);
    let half = bond.mul_div(5_000, 10_000).unwrap();
    c.run_to(c.height + 4);
    let job = market::job(&c.state, job.id).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Settled, "the honest result is paid");
    assert!(c.balance(&addr(&account(1))).0 >= worker_before.0 + half.0);
    conserved(&c);
}

#[test]
fn silence_loses_each_side_of_a_dispute() {
    // The worker withholds its trace: it loses when the round times out.
    let mut c = chain_with(&[], |_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    commit(&mut c, &job, &r, units(&r));
    let other = run(
        &job,
        &Faults {
            skip_layer: Some(1),
            ..Default::default()
        },
    );
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: other.trace_root(),
            bond: Amount::from_myc(1),
        })],
    )]));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    c.run_to(d.due);
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(
        (d.outcome, d.reason.as_str()),
        (Outcome::ChallengerWon, "worker_silent")
    );
    assert_eq!(
        market::job(&c.state, job.id).unwrap().unwrap().status,
        JobStatus::Rejected
    );
    // A move after the deadline is refused.
    let out = c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Split {
            dispute: d.id,
            left: Hash::ZERO,
            right: Hash::ZERO,
        })],
    )]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    conserved(&c);

    // The challenger walks away after the first split: the worker wins.
    let mut c = chain_with(&[], |_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    commit(&mut c, &job, &r, units(&r));
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: other.trace_root(),
            bond: Amount::from_myc(1),
        })],
    )]));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    let k = merkle_split(r.leaves.len());
    // Bad split: children that do not hash to the node.
    let out = c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Split {
            dispute: d.id,
            left: Hash([1; 32]),
            right: Hash([2; 32]),
        })],
    )]);
    assert!(out.receipts[0].error.contains("do not hash"));
    ok(&c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Split {
            dispute: d.id,
            left: merkle::root(&r.leaves[..k]),
            right: merkle::root(&r.leaves[k..]),
        })],
    )]));
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    c.run_to(d.due);
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(
        (d.outcome, d.reason.as_str()),
        (Outcome::WorkerWon, "challenger_silent")
    );
    conserved(&c);
}

#[test]
fn inflated_units_are_refused_and_a_wrong_unit_count_fails_the_audit() {
    let mut c = chain(|_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    // 1 MYC at 1,000,000 per unit, with the audit fee kept back: 625 units at most.
    let out = c.block(&[c.tx(
        &account(1),
        vec![Message::Market(market::Msg::CommitResult {
            job: job.id,
            output: output_of(&r),
            units: 626,
            trace_root: r.trace_root(),
            trace_len: r.leaves.len() as u64,
        })],
    )]);
    assert!(out.receipts[0].error.contains("at most 625"));
    // Within the bound but more than the replay counts: the digest differs.
    commit(&mut c, &job, &r, units(&r) + 100);
    c.block(&[]);
    let audit = the_audit(&c, job.id);
    let (digest, root) = replay(&job);
    ok(&seal_and_reveal(&mut c, &audit, digest, root));
    assert_eq!(the_audit(&c, job.id).stage, AuditStage::Mismatched);
    conserved(&c);
}

#[test]
fn a_silent_auditor_is_slashed_and_replaced() {
    let mut c = chain(|_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    commit(&mut c, &job, &r, units(&r));
    c.block(&[]);
    let first = the_audit(&c, job.id);
    let before = stake(&c, &first.auditor, Role::Auditor);
    c.run_to(first.due);
    let audits = verify::audits_of(&c.state, job.id).unwrap();
    assert_eq!(audits[0].stage, AuditStage::Silent);
    assert_eq!(
        stake(&c, &first.auditor, Role::Auditor),
        Amount(before.0 - before.mul_div(5_000, 10_000).unwrap().0)
    );
    assert_eq!(audits.len(), 2);
    assert_ne!(audits[1].auditor, first.auditor);
    assert_eq!(
        market::job(&c.state, job.id).unwrap().unwrap().status,
        JobStatus::Committed
    );
    conserved(&c);
}

#[test]
fn a_lazy_auditor_fails_the_canary_and_an_approved_wrong_result_costs_its_approver() {
    // A challenge window long enough to challenge after the audit.
    let mut c = chain(|p| {
        p.verify.canary_bps = 10_000;
        p.market.challenge_window = 30;
    });
    let job = post(&mut c);
    let cheat = run(
        &job,
        &Faults {
            skip_layer: Some(1),
            ..Default::default()
        },
    );
    commit(&mut c, &job, &cheat, units(&cheat));
    c.block(&[]);
    let audits = verify::audits_of(&c.state, job.id).unwrap();
    assert_eq!(audits.len(), 2, "a real audit and a canary");
    let claim = verify::claim_digest(
        &output_of(&cheat),
        units(&cheat),
        &cheat.trace_root(),
        cheat.leaves.len() as u64,
    );
    // Both auditors are lazy: they confirm the claim they are shown without replaying.
    let before: Vec<Amount> = audits
        .iter()
        .map(|a| stake(&c, &a.auditor, Role::Auditor))
        .collect();
    for a in &audits {
        ok(&seal_and_reveal(&mut c, a, a.claim, cheat.trace_root()));
    }
    let audits = verify::audits_of(&c.state, job.id).unwrap();
    let (real, canary): (Vec<_>, Vec<_>) = audits.iter().partition(|a| a.claim == claim);
    assert_eq!(real[0].stage, AuditStage::Matched);
    assert_eq!(canary[0].stage, AuditStage::CanaryPassed);
    let i = audits.iter().position(|a| a.id == canary[0].id).unwrap();
    assert!(
        stake(&c, &canary[0].auditor, Role::Auditor) < before[i],
        "the canary caught it"
    );
    // A challenger proves the approved result wrong: the approver is slashed too.
    let j = audits.iter().position(|a| a.id == real[0].id).unwrap();
    let approver_before = stake(&c, &real[0].auditor, Role::Auditor);
    assert_eq!(approver_before, before[j]);
    let honest = run(&job, &Faults::default());
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: honest.trace_root(),
            bond: Amount::from_myc(1),
        })],
    )]));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    bisect(&mut c, d.id, &cheat.leaves, &account(6), &honest.leaves);
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    let w = model()
        .witness(&cheat, &prompt_bytes(&PROMPT), d.offset)
        .unwrap();
    ok(&c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness: w,
        })],
    )]));
    assert_eq!(
        verify::dispute(&c.state, d.id).unwrap().unwrap().outcome,
        Outcome::ChallengerWon
    );
    assert!(stake(&c, &real[0].auditor, Role::Auditor) < approver_before);
    conserved(&c);
}

#[test]
fn a_step_the_referee_cannot_run_goes_to_the_validators() {
    let mut c = chain_with(&[], |_| {});
    let job = post(&mut c);
    let r = run(&job, &Faults::default());
    commit(&mut c, &job, &r, units(&r));
    let other = run(
        &job,
        &Faults {
            skip_layer: Some(1),
            ..Default::default()
        },
    );
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: other.trace_root(),
            bond: Amount::from_myc(1),
        })],
    )]));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    bisect(&mut c, d.id, &r.leaves, &account(6), &other.leaves);
    ok(&c.block(&[c.tx(
        &account(1),
        vec![vmsg(verify::Msg::Resolve {
            dispute: d.id,
            witness: vec![],
        })],
    )]));
    assert_eq!(
        verify::dispute(&c.state, d.id).unwrap().unwrap().turn,
        Turn::Vote
    );
    // Only a validator votes.
    let out = c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Vote {
            dispute: d.id,
            worker_right: false,
        })],
    )]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    let v = c.genesis.validators[0].clone();
    let vk = (0..1)
        .map(|i| dev_key("validator", i))
        .find(|k| Some(k.public_key()) == v.key().ok())
        .expect("dev validator key");
    ok(&c.block(&[c.tx(&account(7), vec![transfer(addr(&vk), Amount::from_myc(1))])]));
    ok(&c.block(&[c.tx(
        &vk,
        vec![vmsg(verify::Msg::Vote {
            dispute: d.id,
            worker_right: true,
        })],
    )]));
    let d = verify::dispute(&c.state, d.id).unwrap().unwrap();
    assert_eq!(
        (d.outcome, d.reason.as_str()),
        (Outcome::WorkerWon, "validators_confirmed_step")
    );
    conserved(&c);
}

#[test]
fn paying_yourself_for_jobs_loses_money() {
    // The worker posts jobs to itself through a second account (the only worker serving the
    // model, so every job is its own). Over an epoch, fees + emission < what it paid.
    let mut c = chain_with(&[], |p| p.rewards.epoch_length = 60);
    let (sybil, worker) = (account(0), account(1));
    let start = c.balance(&addr(&sybil)).0 + c.balance(&addr(&worker)).0;
    for _ in 0..5 {
        let job = post(&mut c);
        let r = run(&job, &Faults::default());
        commit(&mut c, &job, &r, units(&r));
    }
    c.run_to(59);
    let end = c.balance(&addr(&sybil)).0 + c.balance(&addr(&worker)).0;
    let emission = rewards::records(&c.state, 0, Some(&addr(&worker)))
        .unwrap()
        .into_iter()
        .find(|r| r.reason == Reason::WorkerEmission)
        .map(|r| r.amount.0)
        .unwrap_or(0);
    assert!(emission > 0, "the work earned some emission");
    assert!(end < start, "self-dealing lost {} base units", start - end);
    conserved(&c);
}

mod property {
    //! Random plays of the market and verification game, honest and not, with the supply
    //! invariants checked after every block: nothing is created or lost on any path.
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Act {
        /// Poster 0 posts a job.
        Post,
        /// The worker commits: honest, a skipped layer, or inflated units.
        Commit(u8),
        /// The auditor of the first open audit: honest, lazy (confirms what it is shown) or
        /// with a reveal that does not open its seal.
        Audit(u8),
        /// Account 6 challenges the first committed job: with the honest root or a lie, and a
        /// bond that may be too small.
        Challenge(bool, u8),
        /// The worker's move in the first open dispute: honest from its committed trace, bad
        /// children, or the referee witness (possibly for the wrong leaf).
        Defend(u8),
        /// The challenger's move: the honest pick or the other child.
        Pick(bool),
        /// The worker or an auditor tries to unbond everything.
        Unbond(bool),
        /// Empty blocks (deadlines pass).
        Wait(u8),
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => Just(Act::Post),
            3 => (0..3u8).prop_map(Act::Commit),
            3 => (0..3u8).prop_map(Act::Audit),
            1 => (any::<bool>(), 0..3u8).prop_map(|(h, b)| Act::Challenge(h, b)),
            4 => (0..3u8).prop_map(Act::Defend),
            3 => any::<bool>().prop_map(Act::Pick),
            1 => any::<bool>().prop_map(Act::Unbond),
            2 => (1..12u8).prop_map(Act::Wait),
        ]
    }

    /// What the worker committed for each job (to answer disputes from its own trace).
    type Committed = std::collections::BTreeMap<u64, Run>;

    fn invariants(c: &Chain, initial: Amount) {
        let p = c.params();
        let supply = c.supply();
        assert_eq!(
            supply,
            sum_balances(&c.state),
            "supply != balances at {}",
            c.height
        );
        // An epoch is minted at its last block.
        let epochs = (c.height + 1) / p.rewards.epoch_length;
        let minted: u128 = (0..epochs)
            .map(|e| rewards::emission(&p.rewards, e).0)
            .sum();
        assert_eq!(
            supply.0 + c.burned().0,
            initial.0 + minted,
            "supply + burned != genesis + minted"
        );
        let mut open_fees = 0u128;
        for j in market::recent_jobs(&c.state, 1_000).unwrap() {
            if matches!(j.status, JobStatus::Assigned | JobStatus::Committed) {
                open_fees += j.max_fee.0;
            }
        }
        assert_eq!(
            c.balance(&market::escrow()).0,
            open_fees,
            "escrow != open jobs"
        );
        let bonds: u128 = verify::open_disputes(&c.state)
            .unwrap()
            .iter()
            .map(|d| d.bond.0)
            .sum();
        assert_eq!(
            c.balance(&verify::bonds()).0,
            bonds,
            "bond account != open bonds"
        );
        let stakes = mycel_ledger::modules::staking::stakes(&c.state).unwrap();
        let bonded: u128 = stakes.iter().map(|s| s.2.0).sum();
        let mut pending = 0u128;
        for i in 0..8 {
            for (_, _, a) in
                mycel_ledger::modules::staking::unbonding(&c.state, &addr(&account(i))).unwrap()
            {
                pending += a.0;
            }
        }
        assert_eq!(
            c.balance(&mycel_ledger::modules::staking::pool()).0,
            bonded + pending,
            "staking pool != bonded + unbonding"
        );
    }

    fn step(c: &mut Chain, a: &Act, committed: &mut Committed) {
        let m = model();
        match a {
            Act::Post => {
                // Fails once no worker is eligible (slashed below the minimum, or unbonded).
                c.block(&[c.tx(&account(0), vec![post_msg()])]);
            }
            Act::Commit(how) => {
                let Some(job) = market::recent_jobs(&c.state, 50)
                    .unwrap()
                    .into_iter()
                    .find(|j| j.status == JobStatus::Assigned)
                else {
                    return;
                };
                let faults = match how {
                    1 => Faults {
                        skip_layer: Some(1),
                        ..Default::default()
                    },
                    _ => Faults::default(),
                };
                let r = run(&job, &faults);
                let u = units(&r) + if *how == 2 { 7 } else { 0 };
                c.block(&[c.tx(
                    &account(1),
                    vec![Message::Market(market::Msg::CommitResult {
                        job: job.id,
                        output: output_of(&r),
                        units: u,
                        trace_root: r.trace_root(),
                        trace_len: r.leaves.len() as u64,
                    })],
                )]);
                committed.insert(job.id, r);
            }
            Act::Audit(how) => {
                let open: Vec<verify::Audit> = [4, 5]
                    .iter()
                    .flat_map(|i| verify::open_audits(&c.state, &addr(&account(*i))).unwrap())
                    .collect();
                let Some(audit) = open.into_iter().next() else {
                    return;
                };
                let job = market::job(&c.state, audit.job).unwrap().unwrap();
                let (digest, root) = replay(&job);
                let k = key_of(c, &audit.auditor);
                let (digest, root) = if *how == 1 {
                    (audit.claim, job.trace_root)
                } else {
                    (digest, root)
                };
                let salt = Hash([7; 32]);
                let msg = if audit.stage == AuditStage::Sealing {
                    verify::Msg::Seal {
                        audit: audit.id,
                        sealed: verify::seal(audit.id, &audit.auditor, &digest, &root, &salt),
                    }
                } else {
                    let salt = if *how == 2 { Hash([8; 32]) } else { salt };
                    verify::Msg::Reveal {
                        audit: audit.id,
                        digest,
                        trace_root: root,
                        salt,
                    }
                };
                c.block(&[c.tx(&k, vec![vmsg(msg)])]);
            }
            Act::Challenge(honest, b) => {
                let Some(job) = market::recent_jobs(&c.state, 50)
                    .unwrap()
                    .into_iter()
                    .find(|j| j.status == JobStatus::Committed)
                else {
                    return;
                };
                let root = if *honest {
                    run(&job, &Faults::default()).trace_root()
                } else {
                    run(
                        &job,
                        &Faults {
                            skip_layer: Some(0),
                            ..Default::default()
                        },
                    )
                    .trace_root()
                };
                let bond = [Amount(1), Amount::from_myc(1), Amount::from_myc(3)][*b as usize];
                c.block(&[c.tx(
                    &account(6),
                    vec![vmsg(verify::Msg::Challenge {
                        job: job.id,
                        trace_root: root,
                        bond,
                    })],
                )]);
            }
            Act::Defend(how) => {
                let Some(d) = verify::open_disputes(&c.state).unwrap().into_iter().next() else {
                    return;
                };
                let Some(r) = committed.get(&d.job) else {
                    return;
                };
                let msg = match (d.turn, how) {
                    (Turn::Split, 1) => verify::Msg::Split {
                        dispute: d.id,
                        left: Hash([1; 32]),
                        right: Hash([2; 32]),
                    },
                    (Turn::Split, _) => {
                        let (o, n) = (d.offset as usize, d.size as usize);
                        let k = merkle_split(n);
                        verify::Msg::Split {
                            dispute: d.id,
                            left: merkle::root(&r.leaves[o..o + k]),
                            right: merkle::root(&r.leaves[o + k..o + n]),
                        }
                    }
                    (_, 2) => {
                        let i = (d.offset + 1) % r.leaves.len() as u64;
                        verify::Msg::Resolve {
                            dispute: d.id,
                            witness: m.witness(r, &prompt_bytes(&PROMPT), i).unwrap(),
                        }
                    }
                    _ => verify::Msg::Resolve {
                        dispute: d.id,
                        witness: m
                            .witness(
                                r,
                                &prompt_bytes(&PROMPT),
                                d.offset.min(r.leaves.len() as u64 - 1),
                            )
                            .unwrap(),
                    },
                };
                c.block(&[c.tx(&account(1), vec![vmsg(msg)])]);
            }
            Act::Pick(honest) => {
                let Some(d) = verify::open_disputes(&c.state).unwrap().into_iter().next() else {
                    return;
                };
                if d.turn != Turn::Pick {
                    return;
                }
                let job = market::job(&c.state, d.job).unwrap().unwrap();
                let mine = run(&job, &Faults::default());
                let k = merkle_split(d.size as usize);
                let o = d.offset as usize;
                let right = (merkle::root(&mine.leaves[o..o + k]) == d.left) == *honest;
                let who = key_of(c, &d.challenger);
                c.block(&[c.tx(
                    &who,
                    vec![vmsg(verify::Msg::Pick {
                        dispute: d.id,
                        right,
                    })],
                )]);
            }
            Act::Unbond(worker) => {
                let (k, role) = if *worker {
                    (account(1), Role::Worker)
                } else {
                    (account(4), Role::Auditor)
                };
                let s = stake(c, &addr(&k), role);
                if !s.is_zero() {
                    c.block(&[c.tx(&k, vec![unbond(role, s)])]);
                }
            }
            Act::Wait(n) => {
                c.run_to(c.height + *n as u64);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
        #[test]
        fn supply_escrow_bonds_and_stake_are_conserved_through_jobs_audits_and_disputes(
            acts in proptest::collection::vec(act(), 20..60),
            canary in any::<bool>(),
        ) {
            let mut c = chain(|p| {
                p.rewards.epoch_length = 25;
                p.verify.canary_bps = if canary { 5_000 } else { 0 };
                p.verify.round_blocks = 4;
                p.verify.seal_blocks = 6;
                p.verify.reveal_blocks = 4;
            });
            let initial = {
                // What genesis created: supply now plus what was burned before the first act.
                Amount(c.supply().0 + c.burned().0)
            };
            let mut committed = Committed::new();
            invariants(&c, initial);
            for a in &acts {
                step(&mut c, a, &mut committed);
                invariants(&c, initial);
            }
            c.run_to(c.height + 60);
            invariants(&c, initial);
            // Every job ends settled, rejected or failed once every deadline has passed.
            for j in market::recent_jobs(&c.state, 1_000).unwrap() {
                prop_assert!(
                    !matches!(j.status, JobStatus::Assigned | JobStatus::Committed),
                    "job {} stuck in {:?}", j.id, j.status
                );
            }
        }
    }
}

#[test]
fn a_caught_worker_has_every_other_open_result_audited() {
    // No auditor yet: three made-up results go unaudited, with a long challenge window.
    let mut c = chain_with(&[], |p| p.market.challenge_window = 200);
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let job = post(&mut c);
        let cheat = run(
            &job,
            &Faults {
                skip_layer: Some(1),
                ..Default::default()
            },
        );
        commit(&mut c, &job, &cheat, units(&cheat));
        jobs.push((job, cheat));
    }
    c.block(&[]);
    for (job, _) in &jobs {
        assert!(verify::audits_of(&c.state, job.id).unwrap().is_empty());
    }
    for a in [4, 5] {
        ok(&c.block(&[c.tx(
            &account(a),
            vec![bond(Role::Auditor, Amount::from_myc(100))],
        )]));
    }
    // A challenger proves the first one wrong (the worker stays silent).
    let (job, _) = &jobs[0];
    let honest = run(job, &Faults::default());
    ok(&c.block(&[c.tx(
        &account(6),
        vec![vmsg(verify::Msg::Challenge {
            job: job.id,
            trace_root: honest.trace_root(),
            bond: Amount::from_myc(1),
        })],
    )]));
    let d = verify::disputes_of(&c.state, job.id).unwrap()[0].clone();
    c.run_to(d.due);
    assert_eq!(
        verify::dispute(&c.state, d.id).unwrap().unwrap().outcome,
        Outcome::ChallengerWon
    );
    // The other two are now under audit, and cannot settle before it ends.
    for (job, _) in &jobs[1..] {
        let audits = verify::audits_of(&c.state, job.id).unwrap();
        assert_eq!(audits.len(), 1, "job {} audited after the strike", job.id);
        assert_eq!(audits[0].stage, AuditStage::Sealing);
    }
    conserved(&c);
}
