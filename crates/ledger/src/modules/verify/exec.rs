//! Execution of `verify` messages and the module's block hooks.

use super::events;
use super::{Verify, VerifyError};
use super::{msg::*, query::*, state::*};
use crate::earnings;
use crate::modules::market::{self, Job, JobStatus};
use crate::modules::{Ctx, Module, bank, staking};
use crate::{ExecResult, Result, events::attr, state::key};
use mycel_primitives::{
    Address, Amount, Hash,
    hash::{Domain, hash_parts},
    merkle,
};
use mycel_store::StateRead;

/// What an auditor's replay must reproduce: output, units and the trace, in one hash.
pub fn claim_digest(output: &Hash, units: u64, trace_root: &Hash, trace_len: u64) -> Hash {
    hash_parts(
        Domain::Verdict,
        &[
            b"claim",
            &output.0,
            &units.to_be_bytes(),
            &trace_root.0,
            &trace_len.to_be_bytes(),
        ],
    )
}

/// The seal an auditor posts before revealing `digest` and `trace_root`.
pub fn seal(audit: u64, auditor: &Address, digest: &Hash, trace_root: &Hash, salt: &Hash) -> Hash {
    hash_parts(
        Domain::Verdict,
        &[
            b"seal",
            &audit.to_be_bytes(),
            &auditor.0,
            &digest.0,
            &trace_root.0,
            &salt.0,
        ],
    )
}

/// Audit probability of a result, basis points: `10_000 >> (verified / halving)`, at least the
/// floor, and at least `audit_safety · exposure / (exposure + slashable)`, where `exposure` is
/// the fees of every result the worker has open (this one included) and `slashable` what one
/// proven fraud costs it. A cheater gains at most `exposure` (R, the fees, bounds the compute C
/// it saves) and is caught with at least that probability, so `p·(R+S) ≥ C` holds with a
/// margin of `audit_safety`; the margin also covers an auditor colluding with the worker that
/// holds less than `1 − 1/audit_safety` of the auditor stake (it is drawn for the partner's
/// audits only in proportion to its stake).
pub fn audit_rate_bps(
    p: &super::Params,
    history: &History,
    exposure: Amount,
    slashable: Amount,
) -> u16 {
    let halvings = history.verified / p.audit_halving_jobs.max(1);
    let by_history = if halvings >= 14 {
        0
    } else {
        10_000u32 >> halvings
    };
    let denom = exposure.0.saturating_add(slashable.0);
    let by_stake = if denom == 0 {
        10_000
    } else {
        let num = exposure
            .0
            .saturating_mul(10_000)
            .saturating_mul(p.audit_safety.max(1) as u128);
        num.div_ceil(denom).min(10_000) as u32
    };
    by_history
        .max(by_stake)
        .max(p.audit_floor_bps as u32)
        .min(10_000) as u16
}

fn rand_u64(parts: &[&[u8]]) -> u64 {
    let h = hash_parts(Domain::Randomness, parts);
    u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"))
}

fn next_id<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, counter: &[u8]) -> Result<u64> {
    let id = ctx.state.get::<u64>(counter)?.unwrap_or(0);
    ctx.state.put(counter.to_vec(), &(id + 1));
    Ok(id)
}

fn job_of<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, id: u64) -> Result<Job> {
    market::job(ctx.state, id)?
        .ok_or_else(|| crate::state::corrupt(&id.to_be_bytes(), "verify refers to a missing job"))
}

fn job_claim(job: &Job) -> Hash {
    claim_digest(&job.output, job.units, &job.trace_root, job.trace_len)
}

fn fee_of(job: &Job) -> Amount {
    Amount(job.price_per_unit.0.saturating_mul(job.units as u128)).min(job.max_fee)
}

/// Draws an auditor stake-weighted among bonded, unjailed auditors not in `exclude`.
pub(crate) fn draw_auditor<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    exclude: &[Address],
    seed: u64,
) -> Result<Option<Address>> {
    let min = ctx.params.staking.min_stake[staking::Role::Auditor as usize];
    let mut candidates = Vec::new();
    for (addr, role, stake) in staking::stakes(ctx.state)? {
        if role != staking::Role::Auditor
            || stake < min
            || stake.is_zero()
            || exclude.contains(&addr)
            || staking::jailed_until(ctx.state, &addr)?.is_some_and(|u| u > ctx.env.height)
        {
            continue;
        }
        candidates.push((addr, stake.0));
    }
    let total: u128 = candidates.iter().map(|c| c.1).sum();
    if total == 0 {
        return Ok(None);
    }
    let r = (seed as u128) % total;
    let mut acc = 0u128;
    Ok(candidates
        .into_iter()
        .find(|c| {
            acc += c.1;
            r < acc
        })
        .map(|c| c.0))
}

fn hold<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, job: u64, on: bool) -> Result<()> {
    market::set_hold(ctx, job, on)
}

/// Settles a job once nothing holds it any more and its window has passed.
fn settle_if_due<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: u64) -> Result<()> {
    let mut job = job_of(ctx, id)?;
    if job.status == JobStatus::Committed
        && job.due <= ctx.env.height
        && !market::is_held(ctx.state, id)?
    {
        market::settle(ctx, &mut job)?;
    }
    Ok(())
}

fn assign_audit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &Job,
    claim: Hash,
    attempt: u32,
    exclude: &[Address],
    what: &[u8],
) -> Result<Option<Audit>> {
    let seed = rand_u64(&[
        what,
        &ctx.env.parent.0,
        &job.id.to_be_bytes(),
        &attempt.to_be_bytes(),
    ]);
    let Some(auditor) = draw_auditor(ctx, exclude, seed)? else {
        return Ok(None);
    };
    let id = next_id(ctx, NEXT_AUDIT)?;
    let audit = Audit {
        id,
        job: job.id,
        auditor,
        claim,
        stage: AuditStage::Sealing,
        due: ctx.env.height + ctx.params.verify.seal_blocks,
        sealed: Hash::ZERO,
        digest: Hash::ZERO,
        trace_root: Hash::ZERO,
        attempt,
        assigned: ctx.env.height,
    };
    ctx.state.put(audit_key(id), &audit);
    ctx.state
        .put_raw(due_key(audit.due, DUE_AUDIT, id), Vec::new());
    staking::lock(ctx, &auditor, staking::Role::Auditor, true)?;
    ctx.emit(
        events::AUDIT_ASSIGNED,
        &[
            (attr::AUDIT, id.to_string()),
            (attr::JOB, job.id.to_string()),
            (attr::AUDITOR, auditor.to_string()),
            (attr::DUE, audit.due.to_string()),
        ],
    );
    Ok(Some(audit))
}

/// Draws the audits of the results committed in the previous block.
fn select<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let Some(prev) = ctx.env.height.checked_sub(1) else {
        return Ok(());
    };
    let prefix = key(market::COMMITTED, &[&prev.to_be_bytes()]);
    let p = ctx.params.verify.clone();
    for (k, _) in ctx.state.scan_prefix(&prefix)? {
        ctx.state.delete(k.clone());
        let id = u64::from_be_bytes(
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad committed key"))?,
        );
        let job = job_of(ctx, id)?;
        if job.status != JobStatus::Committed {
            continue;
        }
        let hist = history(ctx.state, &job.worker)?;
        let slashable = staking::stake(ctx.state, &job.worker, staking::Role::Worker)?
            .mul_div(p.fraud_slash_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("audit rate"))?;
        // Every open result of the worker is at stake at once: cheating on many in parallel
        // must not dilute the risk of each.
        let open = staking::locks(ctx.state, &job.worker, staking::Role::Worker)?.max(1);
        let exposure = Amount(fee_of(&job).0.saturating_mul(open as u128));
        let rate = audit_rate_bps(&p, &hist, exposure, slashable);
        let roll = rand_u64(&[b"verify.select", &ctx.env.parent.0, &id.to_be_bytes()]) % 10_000;
        let exclude = [job.worker, job.poster];
        if roll >= rate as u64 {
            ctx.emit(
                events::UNAUDITED,
                &[
                    (attr::JOB, id.to_string()),
                    (attr::REASON, "not_drawn".into()),
                ],
            );
            continue;
        }
        let Some(audit) = assign_audit(ctx, &job, job_claim(&job), 1, &exclude, b"verify.auditor")?
        else {
            ctx.emit(
                events::UNAUDITED,
                &[
                    (attr::JOB, id.to_string()),
                    (attr::REASON, "no_auditor".into()),
                ],
            );
            continue;
        };
        hold(ctx, id, true)?;
        // A canary: a second auditor shown an altered claim. Replaying finds the difference;
        // approving it without replaying is slashed.
        let canary = rand_u64(&[b"verify.canary", &ctx.env.parent.0, &id.to_be_bytes()]) % 10_000;
        if canary < p.canary_bps as u64 {
            let altered = hash_parts(Domain::Verdict, &[b"canary", &job_claim(&job).0]);
            let exclude = [job.worker, job.poster, audit.auditor];
            assign_audit(ctx, &job, altered, 1, &exclude, b"verify.canary_auditor")?;
        }
    }
    Ok(())
}

/// A worker caught once is suspect: every other result it has open and not yet under audit or
/// dispute is audited now, so a burst of cheats is caught as a whole.
fn audit_open_results<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    worker: &Address,
    caught: u64,
) -> Result<()> {
    for id in market::jobs_of(ctx.state, worker)? {
        if id == caught || market::is_held(ctx.state, id)? {
            continue;
        }
        let job = job_of(ctx, id)?;
        if job.status != JobStatus::Committed || job.worker != *worker {
            continue;
        }
        let exclude = [job.worker, job.poster];
        if assign_audit(ctx, &job, job_claim(&job), 1, &exclude, b"verify.suspect")?.is_some() {
            hold(ctx, id, true)?;
        }
    }
    Ok(())
}

fn is_canary(audit: &Audit, job: &Job) -> bool {
    audit.claim != job_claim(job)
}

fn record_verified<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, job: &Job) -> Result<()> {
    let k = key(HISTORY, &[&job.worker.0]);
    let mut h = history(ctx.state, &job.worker)?;
    h.verified = h.verified.saturating_add(1);
    ctx.state.put(k, &h);
    if job.poster != job.worker {
        market::reward_reputation(ctx, &job.worker)?;
    }
    Ok(())
}

fn audit_done<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, auditor: &Address) -> Result<()> {
    let epoch = ctx.epoch();
    ctx.state
        .step_counter(key(DONE, &[&epoch.to_be_bytes(), &auditor.0]), true)
        .map(|_| ())
}

fn close_audit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    audit: &mut Audit,
    stage: AuditStage,
) -> Result<()> {
    ctx.state.delete(due_key(audit.due, DUE_AUDIT, audit.id));
    audit.stage = stage;
    ctx.state.put(audit_key(audit.id), audit);
    staking::lock(ctx, &audit.auditor, staking::Role::Auditor, false)
}

/// Slashes `bps` of `who`'s `role` stake, paying `winner_bps` of it to `winner` (when given)
/// and burning the rest. Returns the total taken.
fn forfeit_stake<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    who: &Address,
    role: staking::Role,
    bps: u16,
    winner: Option<&Address>,
    code: earnings::Reason,
    reason: &str,
) -> Result<Amount> {
    let stake = staking::stake(ctx.state, who, role)?;
    let cut = stake
        .mul_div(bps.min(10_000) as u128, 10_000)
        .map_err(|_| crate::Error::Overflow("forfeit"))?;
    let mut paid = Amount::ZERO;
    if let Some(w) = winner {
        paid = cut
            .mul_div(ctx.params.verify.winner_bps.min(10_000) as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("forfeit"))?;
        staking::take_stake(ctx, who, role, paid, w)?;
        let epoch = ctx.epoch();
        earnings::record(ctx.state, epoch, who, code, paid)?;
        earnings::record(ctx.state, epoch, w, earnings::Reason::DisputeWon, paid)?;
    }
    // Burn the rest: `slash` takes a share of what is bonded now, so ask for exactly the rest.
    let rest = cut
        .checked_sub(paid)
        .map_err(|_| crate::Error::Overflow("forfeit"))?;
    let left = staking::stake(ctx.state, who, role)?;
    if !rest.is_zero() && !left.is_zero() {
        staking::slash_amount(ctx, who, role, rest, code, reason)?;
    }
    Ok(cut)
}

fn reveal_outcome<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    audit: &mut Audit,
) -> Result<()> {
    let job = job_of(ctx, audit.job)?;
    let matched = audit.digest == audit.claim;
    let verdict;
    if is_canary(audit, &job) {
        if matched {
            verdict = "canary_passed";
            close_audit(ctx, audit, AuditStage::CanaryPassed)?;
            forfeit_stake(
                ctx,
                &audit.auditor.clone(),
                staking::Role::Auditor,
                ctx.params.verify.lazy_slash_bps,
                None,
                earnings::Reason::SlashedLazy,
                "approved a canary",
            )?;
        } else {
            verdict = "canary_caught";
            close_audit(ctx, audit, AuditStage::CanaryCaught)?;
            audit_done(ctx, &audit.auditor.clone())?;
        }
    } else if matched {
        verdict = "match";
        close_audit(ctx, audit, AuditStage::Matched)?;
        audit_done(ctx, &audit.auditor.clone())?;
        pay_audit_fee(ctx, &job, &audit.auditor)?;
        ctx.state
            .put(key(APPROVED, &[&job.id.to_be_bytes()]), &audit.auditor);
        record_verified(ctx, &job)?;
        hold(ctx, job.id, false)?;
        settle_if_due(ctx, job.id)?;
    } else {
        verdict = "mismatch";
        close_audit(ctx, audit, AuditStage::Mismatched)?;
        // The hold passes from the audit to the dispute.
        hold(ctx, job.id, false)?;
        if job.status == JobStatus::Committed && open_dispute_of(ctx, job.id)?.is_none() {
            open_dispute(
                ctx,
                &job,
                audit.auditor,
                true,
                Amount::ZERO,
                audit.trace_root,
            )?;
        } else {
            settle_if_due(ctx, job.id)?;
        }
    }
    ctx.emit(
        events::VERDICT,
        &[
            (attr::AUDIT, audit.id.to_string()),
            (attr::JOB, audit.job.to_string()),
            (attr::AUDITOR, audit.auditor.to_string()),
            (attr::VERDICT, verdict.into()),
        ],
    );
    Ok(())
}

/// Pays the auditor of a matching verdict `audit_fee_bps` of the job's fee out of the poster's
/// unused escrow (verification is a service the poster buys; the worker's pay is untouched).
/// The job's escrow ceiling shrinks by the same amount, so escrow stays equal to open ceilings.
fn pay_audit_fee<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &Job,
    auditor: &Address,
) -> Result<()> {
    let cost = fee_of(job);
    let spare = job
        .max_fee
        .checked_sub(cost)
        .map_err(|_| crate::Error::Overflow("audit fee"))?;
    let fee = cost
        .mul_div(ctx.params.verify.audit_fee_bps as u128, 10_000)
        .map_err(|_| crate::Error::Overflow("audit fee"))?
        .min(spare);
    if fee.is_zero() || job.status != JobStatus::Committed {
        return Ok(());
    }
    let mut job = job.clone();
    job.max_fee = job
        .max_fee
        .checked_sub(fee)
        .map_err(|_| crate::Error::Overflow("audit fee"))?;
    market::put_job(ctx, &job);
    bank::transfer(ctx, &market::escrow(), auditor, fee).map_err(|e| e.into_fatal("audit fee"))?;
    let epoch = ctx.epoch();
    earnings::record(ctx.state, epoch, auditor, earnings::Reason::AuditFee, fee)?;
    earnings::record(
        ctx.state,
        epoch,
        &job.poster,
        earnings::Reason::AuditPaid,
        fee,
    )?;
    Ok(())
}

fn open_dispute_of<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, job: u64) -> Result<Option<u64>> {
    ctx.state.get::<u64>(&key(OPEN, &[&job.to_be_bytes()]))
}

fn open_dispute<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &Job,
    challenger: Address,
    by_auditor: bool,
    bond: Amount,
    challenger_root: Hash,
) -> Result<u64> {
    let id = next_id(ctx, NEXT_DISPUTE)?;
    let d = Dispute {
        id,
        job: job.id,
        challenger,
        by_auditor,
        bond,
        challenger_root,
        offset: 0,
        size: job.trace_len,
        node: job.trace_root,
        left: Hash::ZERO,
        right: Hash::ZERO,
        turn: if job.trace_len == 1 {
            Turn::Resolve
        } else {
            Turn::Split
        },
        due: ctx.env.height + ctx.params.verify.round_blocks,
        rounds: 0,
        outcome: Outcome::Open,
        votes_for: 0,
        votes_against: 0,
        reason: String::new(),
    };
    ctx.state.put(dispute_key(id), &d);
    ctx.state
        .put_raw(due_key(d.due, DUE_DISPUTE, id), Vec::new());
    ctx.state.put(key(OPEN, &[&job.id.to_be_bytes()]), &id);
    hold(ctx, job.id, true)?;
    if by_auditor {
        staking::lock(ctx, &challenger, staking::Role::Auditor, true)?;
    }
    ctx.emit(
        events::DISPUTE_OPENED,
        &[
            (attr::DISPUTE, id.to_string()),
            (attr::JOB, job.id.to_string()),
            (attr::WORKER, job.worker.to_string()),
            (attr::CHALLENGER, challenger.to_string()),
            (attr::DUE, d.due.to_string()),
        ],
    );
    Ok(id)
}

fn move_deadline<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, d: &mut Dispute, blocks: u64) {
    ctx.state.delete(due_key(d.due, DUE_DISPUTE, d.id));
    d.due = ctx.env.height + blocks;
    ctx.state
        .put_raw(due_key(d.due, DUE_DISPUTE, d.id), Vec::new());
}

/// Ends a dispute: the loser forfeits, the winner is paid, the job is rejected or released.
fn finish<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    d: &mut Dispute,
    outcome: Outcome,
    reason: &str,
) -> Result<()> {
    ctx.state.delete(due_key(d.due, DUE_DISPUTE, d.id));
    ctx.state.delete(key(OPEN, &[&d.job.to_be_bytes()]));
    d.turn = Turn::Done;
    d.outcome = outcome;
    d.reason = reason.into();
    let mut job = job_of(ctx, d.job)?;
    let p = ctx.params.verify.clone();
    let epoch = ctx.epoch();
    hold(ctx, d.job, false)?;
    let (winner, loser) = match outcome {
        Outcome::ChallengerWon => (d.challenger, job.worker),
        Outcome::WorkerWon => (job.worker, d.challenger),
        _ => (Address::default(), Address::default()),
    };
    match outcome {
        Outcome::ChallengerWon => {
            forfeit_stake(
                ctx,
                &job.worker,
                staking::Role::Worker,
                p.fraud_slash_bps,
                Some(&d.challenger),
                earnings::Reason::SlashedFraud,
                "result proven wrong",
            )?;
            if !d.bond.is_zero() {
                bank::transfer(ctx, &bonds(), &d.challenger, d.bond)
                    .map_err(|e| e.into_fatal("bond return"))?;
            }
            // The auditor that approved this result did not replay it.
            if let Some(approver) = ctx
                .state
                .get::<Address>(&key(APPROVED, &[&job.id.to_be_bytes()]))?
            {
                forfeit_stake(
                    ctx,
                    &approver,
                    staking::Role::Auditor,
                    p.lazy_slash_bps,
                    None,
                    earnings::Reason::SlashedLazy,
                    "approved a wrong result",
                )?;
            }
            let hk = key(HISTORY, &[&job.worker.0]);
            let mut h = history(ctx.state, &job.worker)?;
            h.verified = 0;
            h.strikes = h.strikes.saturating_add(1);
            ctx.state.put(hk, &h);
            audit_open_results(ctx, &job.worker, job.id)?;
            if d.by_auditor {
                audit_done(ctx, &d.challenger)?;
            }
            if job.status == JobStatus::Committed {
                market::reject(ctx, &mut job, p.reputation_penalty)?;
            }
        }
        Outcome::WorkerWon => {
            if d.by_auditor {
                forfeit_stake(
                    ctx,
                    &d.challenger,
                    staking::Role::Auditor,
                    p.fraud_slash_bps,
                    Some(&job.worker),
                    earnings::Reason::SlashedFraud,
                    "challenge failed",
                )?;
            } else if !d.bond.is_zero() {
                let paid = d
                    .bond
                    .mul_div(p.winner_bps.min(10_000) as u128, 10_000)
                    .map_err(|_| crate::Error::Overflow("bond split"))?;
                let burned = d
                    .bond
                    .checked_sub(paid)
                    .map_err(|_| crate::Error::Overflow("bond split"))?;
                bank::transfer(ctx, &bonds(), &job.worker, paid)
                    .map_err(|e| e.into_fatal("bond payout"))?;
                bank::burn(ctx, &bonds(), burned).map_err(|e| e.into_fatal("bond burn"))?;
                earnings::record(
                    ctx.state,
                    epoch,
                    &d.challenger,
                    earnings::Reason::BondForfeited,
                    d.bond,
                )?;
                earnings::record(
                    ctx.state,
                    epoch,
                    &job.worker,
                    earnings::Reason::DisputeWon,
                    paid,
                )?;
            }
            settle_if_due(ctx, d.job)?;
        }
        _ => {
            if !d.bond.is_zero() {
                bank::transfer(ctx, &bonds(), &d.challenger, d.bond)
                    .map_err(|e| e.into_fatal("bond return"))?;
            }
            if job.status == JobStatus::Committed {
                market::reject(ctx, &mut job, 0)?;
            }
        }
    }
    if d.by_auditor {
        staking::lock(ctx, &d.challenger, staking::Role::Auditor, false)?;
    }
    ctx.state.put(dispute_key(d.id), d);
    ctx.emit(
        events::DISPUTE_RESOLVED,
        &[
            (attr::DISPUTE, d.id.to_string()),
            (attr::JOB, d.job.to_string()),
            (attr::WINNER, winner.to_string()),
            (attr::LOSER, loser.to_string()),
            (attr::ROUND, d.rounds.to_string()),
            (attr::REASON, reason.into()),
        ],
    );
    Ok(())
}

fn referee_context(job: &Job) -> mycel_referee::DisputeContext {
    let params = serde_json::from_slice::<serde_json::Value>(&job.params).unwrap_or_default();
    let int = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.as_u64())
            .map(|v| v.min(u32::MAX as u64) as u32)
            .unwrap_or(0)
    };
    mycel_referee::DisputeContext {
        model: job.model,
        input: job.input,
        seed: job.seed,
        trace_root: job.trace_root,
        trace_len: job.trace_len,
        temperature: int("temperature"),
        max_tokens: int("max_tokens"),
    }
}

impl Module for Verify {
    const NAME: &'static str = "verify";
    const ID: u8 = 6;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Seal { audit: id, sealed } => {
                let mut a =
                    audit(ctx.state, *id)?.ok_or(VerifyError::UnknownAudit { audit: *id })?;
                if a.auditor != sender {
                    return Err(VerifyError::NotAuditor { audit: *id }.into());
                }
                if a.stage != AuditStage::Sealing {
                    return Err(VerifyError::WrongStage { audit: *id }.into());
                }
                ctx.state.delete(due_key(a.due, DUE_AUDIT, a.id));
                a.sealed = *sealed;
                a.stage = AuditStage::Revealing;
                a.due = ctx.env.height + ctx.params.verify.reveal_blocks;
                ctx.state
                    .put_raw(due_key(a.due, DUE_AUDIT, a.id), Vec::new());
                ctx.state.put(audit_key(a.id), &a);
                ctx.emit(
                    events::SEALED,
                    &[
                        (attr::AUDIT, id.to_string()),
                        (attr::AUDITOR, sender.to_string()),
                    ],
                );
            }
            Msg::Reveal {
                audit: id,
                digest,
                trace_root,
                salt,
            } => {
                let mut a =
                    audit(ctx.state, *id)?.ok_or(VerifyError::UnknownAudit { audit: *id })?;
                if a.auditor != sender {
                    return Err(VerifyError::NotAuditor { audit: *id }.into());
                }
                if a.stage != AuditStage::Revealing {
                    return Err(VerifyError::WrongStage { audit: *id }.into());
                }
                if seal(*id, &sender, digest, trace_root, salt) != a.sealed {
                    return Err(VerifyError::SealMismatch.into());
                }
                a.digest = *digest;
                a.trace_root = *trace_root;
                reveal_outcome(ctx, &mut a)?;
            }
            Msg::Challenge {
                job: id,
                trace_root,
                bond,
            } => {
                let job = market::job(ctx.state, *id)?
                    .filter(|j| j.status == JobStatus::Committed)
                    .ok_or(VerifyError::NotChallengeable { job: *id })?;
                if job.worker == sender {
                    return Err(VerifyError::OwnResult.into());
                }
                if open_dispute_of(ctx, *id)?.is_some() {
                    return Err(VerifyError::AlreadyDisputed { job: *id }.into());
                }
                let min = ctx.params.verify.min_challenge_bond;
                if *bond < min {
                    return Err(VerifyError::BondTooSmall { min }.into());
                }
                if *trace_root == job.trace_root {
                    return Err(VerifyError::NothingToDispute.into());
                }
                bank::transfer(ctx, &sender, &bonds(), *bond)?;
                open_dispute(ctx, &job, sender, false, *bond, *trace_root)?;
            }
            Msg::Split {
                dispute: id,
                left,
                right,
            } => {
                let mut d = open(ctx, *id)?;
                let job = job_of(ctx, d.job)?;
                if d.turn != Turn::Split || job.worker != sender {
                    return Err(VerifyError::NotYourMove { dispute: *id }.into());
                }
                if merkle::node_hash(left, right) != d.node {
                    return Err(VerifyError::BadSplit.into());
                }
                d.left = *left;
                d.right = *right;
                d.turn = Turn::Pick;
                move_deadline(ctx, &mut d, ctx.params.verify.round_blocks);
                ctx.state.put(dispute_key(d.id), &d);
                round_event(ctx, &d, "split");
            }
            Msg::Pick { dispute: id, right } => {
                let mut d = open(ctx, *id)?;
                if d.turn != Turn::Pick || d.challenger != sender {
                    return Err(VerifyError::NotYourMove { dispute: *id }.into());
                }
                let k = merkle::split(d.size);
                if *right {
                    d.offset += k;
                    d.size -= k;
                    d.node = d.right;
                } else {
                    d.size = k;
                    d.node = d.left;
                }
                d.rounds += 1;
                d.turn = if d.size == 1 {
                    Turn::Resolve
                } else {
                    Turn::Split
                };
                move_deadline(ctx, &mut d, ctx.params.verify.round_blocks);
                ctx.state.put(dispute_key(d.id), &d);
                round_event(ctx, &d, if *right { "pick_right" } else { "pick_left" });
            }
            Msg::Resolve {
                dispute: id,
                witness,
            } => {
                let mut d = open(ctx, *id)?;
                let job = job_of(ctx, d.job)?;
                if d.turn != Turn::Resolve || job.worker != sender {
                    return Err(VerifyError::NotYourMove { dispute: *id }.into());
                }
                if witness.is_empty() {
                    d.turn = Turn::Vote;
                    move_deadline(ctx, &mut d, ctx.params.verify.panel_blocks);
                    ctx.state.put(dispute_key(d.id), &d);
                    round_event(ctx, &d, "to_validators");
                    return Ok(());
                }
                let leaf = mycel_referee::recompute_leaf(&referee_context(&job), d.offset, witness)
                    .map_err(|e| VerifyError::BadWitness { why: e.to_string() })?;
                if leaf == d.node {
                    finish(ctx, &mut d, Outcome::WorkerWon, "referee_confirmed_step")?;
                } else {
                    finish(ctx, &mut d, Outcome::ChallengerWon, "referee_refuted_step")?;
                }
            }
            Msg::Vote {
                dispute: id,
                worker_right,
            } => {
                let mut d = open(ctx, *id)?;
                if d.turn != Turn::Vote {
                    return Err(VerifyError::NotYourMove { dispute: *id }.into());
                }
                let set = staking::validator_set(ctx.state, ctx.epoch())?;
                let total: u128 = set.iter().map(|(_, s)| s.0).sum();
                let Some(weight) = set.iter().find(|(a, _)| *a == sender).map(|(_, s)| s.0) else {
                    return Err(VerifyError::NotVoter.into());
                };
                let vk = key(VOTED, &[&id.to_be_bytes(), &sender.0]);
                if ctx.state.get_raw(&vk)?.is_some() {
                    return Err(VerifyError::NotVoter.into());
                }
                ctx.state.put_raw(vk, Vec::new());
                if *worker_right {
                    d.votes_for = d.votes_for.saturating_add(weight);
                } else {
                    d.votes_against = d.votes_against.saturating_add(weight);
                }
                ctx.emit(
                    events::VOTE,
                    &[
                        (attr::DISPUTE, id.to_string()),
                        (attr::ADDRESS, sender.to_string()),
                        (attr::VERDICT, worker_right.to_string()),
                    ],
                );
                if d.votes_for.saturating_mul(3) > total.saturating_mul(2) {
                    finish(ctx, &mut d, Outcome::WorkerWon, "validators_confirmed_step")?;
                } else if d.votes_against.saturating_mul(3) > total.saturating_mul(2) {
                    finish(
                        ctx,
                        &mut d,
                        Outcome::ChallengerWon,
                        "validators_refuted_step",
                    )?;
                } else {
                    ctx.state.put(dispute_key(d.id), &d);
                }
            }
        }
        Ok(())
    }

    /// Draws audits of the previous block's results and enforces deadlines.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        select(ctx)?;
        let prefix = key(DUE, &[&ctx.env.height.to_be_bytes()]);
        for (k, _) in ctx.state.scan_prefix(&prefix)? {
            ctx.state.delete(k.clone());
            let rest = &k[prefix.len()..];
            let (what, id) = match rest {
                [what, id @ ..] if id.len() == 8 => {
                    (*what, u64::from_be_bytes(id.try_into().expect("8 bytes")))
                }
                _ => return Err(crate::state::corrupt(&k, "bad due key")),
            };
            if what == DUE_AUDIT {
                audit_timeout(ctx, id)?;
            } else {
                dispute_timeout(ctx, id)?;
            }
        }
        Ok(())
    }
}

fn open<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    id: u64,
) -> std::result::Result<Dispute, crate::ExecError> {
    let d = dispute(ctx.state, id)?.ok_or(VerifyError::UnknownDispute { dispute: id })?;
    if d.outcome != Outcome::Open {
        return Err(VerifyError::NotYourMove { dispute: id }.into());
    }
    Ok(d)
}

fn round_event<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, d: &Dispute, what: &str) {
    ctx.emit(
        events::ROUND,
        &[
            (attr::DISPUTE, d.id.to_string()),
            (attr::ROUND, d.rounds.to_string()),
            (attr::LEAF, d.offset.to_string()),
            (attr::SIZE, d.size.to_string()),
            (attr::REASON, what.into()),
            (attr::DUE, d.due.to_string()),
        ],
    );
}

fn audit_timeout<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: u64) -> Result<()> {
    let Some(mut a) = audit(ctx.state, id)? else {
        return Ok(());
    };
    if !matches!(a.stage, AuditStage::Sealing | AuditStage::Revealing) {
        return Ok(());
    }
    let job = job_of(ctx, a.job)?;
    let auditor = a.auditor;
    a.due = ctx.env.height; // the entry was consumed; keep close_audit's delete harmless
    close_audit(ctx, &mut a, AuditStage::Silent)?;
    forfeit_stake(
        ctx,
        &auditor,
        staking::Role::Auditor,
        ctx.params.verify.lazy_slash_bps,
        None,
        earnings::Reason::SlashedLazy,
        "audit deadline missed",
    )?;
    ctx.emit(
        events::AUDITOR_SILENT,
        &[
            (attr::AUDIT, id.to_string()),
            (attr::AUDITOR, auditor.to_string()),
        ],
    );
    if is_canary(&a, &job) || job.status != JobStatus::Committed {
        return Ok(());
    }
    // Draw a replacement; after `max_auditors` the result is released unaudited.
    let exclude: Vec<Address> = [job.worker, job.poster]
        .into_iter()
        .chain(audits_of(ctx.state, job.id)?.into_iter().map(|a| a.auditor))
        .collect();
    if a.attempt < ctx.params.verify.max_auditors
        && assign_audit(
            ctx,
            &job,
            job_claim(&job),
            a.attempt + 1,
            &exclude,
            b"verify.auditor",
        )?
        .is_some()
    {
        return Ok(());
    }
    hold(ctx, job.id, false)?;
    ctx.emit(
        events::UNAUDITED,
        &[
            (attr::JOB, job.id.to_string()),
            (attr::REASON, "auditors_silent".into()),
        ],
    );
    settle_if_due(ctx, job.id)
}

fn dispute_timeout<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: u64) -> Result<()> {
    let Some(mut d) = dispute(ctx.state, id)? else {
        return Ok(());
    };
    if d.outcome != Outcome::Open {
        return Ok(());
    }
    match d.turn {
        Turn::Split | Turn::Resolve => finish(ctx, &mut d, Outcome::ChallengerWon, "worker_silent"),
        Turn::Pick => finish(ctx, &mut d, Outcome::WorkerWon, "challenger_silent"),
        Turn::Vote => finish(ctx, &mut d, Outcome::Undecided, "validators_undecided"),
        Turn::Done => Ok(()),
    }
}
