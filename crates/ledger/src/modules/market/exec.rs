//! Execution of `market` messages and the module's block hooks.

use super::events;
use super::{Market, MarketError};
use super::{msg::*, query::*, state::*};
use crate::earnings;
use crate::modules::{Ctx, Module, bank, data, model, staking};
use crate::{ExecResult, Result, TxError, events::attr, state::key};
use mycel_primitives::{
    Address, Amount, Hash,
    hash::{Domain, hash_parts},
};
use mycel_store::StateRead;

fn add_u64<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, k: Vec<u8>, n: u64) -> Result<()> {
    let cur = ctx.state.get::<u64>(&k)?.unwrap_or(0);
    ctx.state.put(k, &cur.saturating_add(n));
    Ok(())
}

/// Eligible workers for a job, with their weights (stake × reputation), in address order.
pub(super) fn eligible<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    kind: JobKind,
    model: &Hash,
    exclude: &[Address],
) -> Result<Vec<(Address, Offer, u128)>> {
    let license = model::version(ctx.state, model)?.map(|v| v.registration.license);
    let mut out = eligible_any_license(ctx, kind, model)?;
    out.retain(|(w, o, _)| {
        !exclude.contains(w)
            && license
                .as_ref()
                .is_none_or(|l| model::accepts(&o.licenses, l))
    });
    Ok(out)
}

/// Workers that would be eligible if the model's licence did not matter.
fn eligible_any_license<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    kind: JobKind,
    model: &Hash,
) -> Result<Vec<(Address, Offer, u128)>> {
    let min = ctx.params.staking.min_stake[staking::Role::Worker as usize];
    let mut out = Vec::new();
    for (k, v) in ctx.state.scan_prefix(OFFER)? {
        let worker = Address(
            k[OFFER.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad offer key"))?,
        );
        let offer = mycel_primitives::codec::decode::<Offer>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        if offer.kinds & kind.bit() == 0 || !offer.models.contains(model) {
            continue;
        }
        let stake = staking::stake(ctx.state, &worker, staking::Role::Worker)?;
        if stake < min
            || staking::jailed_until(ctx.state, &worker)?.is_some_and(|u| u > ctx.env.height)
        {
            continue;
        }
        let weight = stake
            .0
            .saturating_mul(reputation(ctx.state, &worker)? as u128);
        if weight > 0 {
            out.push((worker, offer, weight));
        }
    }
    Ok(out)
}

/// Draws a worker with probability proportional to weight, from ledger randomness.
fn draw(candidates: &[(Address, Offer, u128)], seed: &Hash) -> Option<usize> {
    let total: u128 = candidates.iter().map(|c| c.2).sum();
    if total == 0 {
        return None;
    }
    let r = u128::from_be_bytes(seed.0[..16].try_into().expect("16 bytes")) % total;
    let mut acc = 0u128;
    candidates.iter().position(|c| {
        acc += c.2;
        r < acc
    })
}

/// Assigns `job` to a worker not in `exclude`; returns false if nobody can take it.
fn assign<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &mut Job,
    exclude: &[Address],
) -> Result<bool> {
    let candidates = eligible(ctx, job.kind, &job.model, exclude)?;
    let seed = hash_parts(
        Domain::Randomness,
        &[
            b"market.assign",
            &ctx.env.parent.0,
            &job.id.to_be_bytes(),
            &job.attempts.to_be_bytes(),
        ],
    );
    let Some(i) = draw(&candidates, &seed) else {
        return Ok(false);
    };
    let (worker, offer, _) = &candidates[i];
    job.worker = *worker;
    job.price_per_unit = offer.price_per_unit;
    job.status = JobStatus::Assigned;
    job.attempts += 1;
    job.due = ctx.env.height + job.deadline_blocks;
    ctx.state.put_raw(due_key(job.due, job.id), Vec::new());
    ctx.state.put_raw(
        key(BY_WORKER, &[&worker.0, &job.id.to_be_bytes()]),
        Vec::new(),
    );
    ctx.emit(
        events::ASSIGNED,
        &[
            (attr::JOB, job.id.to_string()),
            (attr::WORKER, worker.to_string()),
            (attr::DUE, job.due.to_string()),
        ],
    );
    Ok(true)
}

impl Module for Market {
    const NAME: &'static str = "market";
    const ID: u8 = 5;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Session(m) => return super::session::execute(ctx, sender, m),
            Msg::Offer(o) => {
                let min = ctx.params.staking.min_stake[staking::Role::Worker as usize];
                let stake = staking::stake(ctx.state, &sender, staking::Role::Worker)?;
                if stake < min {
                    return Err(TxError::BelowMinStake {
                        role: "worker".into(),
                        min,
                        got: stake,
                    }
                    .into());
                }
                if o.kinds == 0 || o.kinds >> JobKind::ALL.len() != 0 || o.models.is_empty() {
                    return Err(MarketError::BadOffer.into());
                }
                ctx.state.put(key(OFFER, &[&sender.0]), o.as_ref());
                ctx.emit(
                    events::OFFER,
                    &[
                        (attr::WORKER, sender.to_string()),
                        (attr::PRICE, o.price_per_unit.0.to_string()),
                    ],
                );
            }
            Msg::CloseOffer => {
                let k = key(OFFER, &[&sender.0]);
                if ctx.state.get_raw(&k)?.is_none() {
                    return Err(MarketError::NoOfferToClose.into());
                }
                ctx.state.delete(k);
                ctx.emit(events::OFFER_CLOSED, &[(attr::WORKER, sender.to_string())]);
            }
            Msg::PostJob {
                kind,
                model,
                input,
                params,
                max_fee,
                deadline_blocks,
            } => {
                if max_fee.is_zero() {
                    return Err(TxError::ZeroAmount.into());
                }
                if *deadline_blocks == 0 || *deadline_blocks > 100_000 {
                    return Err(MarketError::BadDeadline {
                        blocks: *deadline_blocks,
                    }
                    .into());
                }
                if !params.is_empty()
                    && serde_json::from_slice::<serde_json::Value>(params).is_err()
                {
                    return Err(MarketError::ParamsNotJson.into());
                }
                model::may_use(ctx.state, model, &sender)??;
                if *kind == JobKind::Finetune && data::dataset(ctx.state, input)?.is_some() {
                    model::check_training_consent(ctx, input)?;
                }
                let id = ctx.state.get::<u64>(NEXT)?.unwrap_or(0);
                ctx.state.put(NEXT.to_vec(), &(id + 1));
                let mut job = Job {
                    id,
                    poster: sender,
                    kind: *kind,
                    model: *model,
                    input: *input,
                    params: params.clone(),
                    max_fee: *max_fee,
                    deadline_blocks: *deadline_blocks,
                    status: JobStatus::Assigned,
                    worker: Address::default(),
                    price_per_unit: Amount::ZERO,
                    due: 0,
                    attempts: 0,
                    output: Hash::ZERO,
                    units: 0,
                    trace_root: Hash::ZERO,
                    trace_len: 0,
                    seed: hash_parts(
                        Domain::Randomness,
                        &[b"market.seed", &ctx.env.parent.0, &id.to_be_bytes()],
                    ),
                    fee: Amount::ZERO,
                };
                if !assign(ctx, &mut job, &[])? {
                    // Say why when the licence is the only obstacle.
                    if let Some(v) = model::version(ctx.state, model)?
                        && !eligible_any_license(ctx, *kind, model)?.is_empty()
                    {
                        return Err(model::ModelError::LicenseNotAccepted {
                            id: *model,
                            license: v.registration.license,
                        }
                        .into());
                    }
                    return Err(MarketError::NoWorker {
                        kind: *kind,
                        model: *model,
                    }
                    .into());
                }
                bank::transfer(ctx, &sender, &escrow(), *max_fee)?;
                ctx.state.put(job_key(id), &job);
                ctx.emit(
                    events::JOB_POSTED,
                    &[
                        (attr::JOB, id.to_string()),
                        (attr::POSTER, sender.to_string()),
                        (attr::MAX_FEE, max_fee.0.to_string()),
                    ],
                );
            }
            Msg::CommitResult {
                job: id,
                output,
                units,
                trace_root,
                trace_len,
            } => {
                let mut job = job(ctx.state, *id)?.ok_or(MarketError::UnknownJob { job: *id })?;
                if job.status != JobStatus::Assigned {
                    return Err(MarketError::NotWaitingForResult { job: *id }.into());
                }
                if job.worker != sender {
                    return Err(MarketError::NotAssignedWorker {
                        job: *id,
                        worker: job.worker,
                    }
                    .into());
                }
                if *units == 0 {
                    return Err(MarketError::NoUnits.into());
                }
                let max = job.max_units(ctx.params.verify.audit_fee_bps);
                if *units > max {
                    return Err(MarketError::UnitsAboveBound { units: *units, max }.into());
                }
                if *trace_len == 0 || *trace_len > MAX_TRACE_LEN {
                    return Err(MarketError::BadTraceLength { len: *trace_len }.into());
                }
                ctx.state.delete(due_key(job.due, job.id));
                job.status = JobStatus::Committed;
                job.output = *output;
                job.units = *units;
                job.trace_root = *trace_root;
                job.trace_len = *trace_len;
                job.due = ctx.env.height + ctx.params.market.challenge_window;
                ctx.state.put_raw(due_key(job.due, job.id), Vec::new());
                ctx.state.put_raw(
                    key(
                        COMMITTED,
                        &[&ctx.env.height.to_be_bytes(), &job.id.to_be_bytes()],
                    ),
                    Vec::new(),
                );
                staking::lock(ctx, &sender, staking::Role::Worker, true)?;
                ctx.state.put(job_key(job.id), &job);
                ctx.emit(
                    events::RESULT,
                    &[
                        (attr::JOB, id.to_string()),
                        (attr::WORKER, sender.to_string()),
                        (attr::OUTPUT, output.to_hex()),
                        (attr::UNITS, units.to_string()),
                        (attr::TRACE_ROOT, trace_root.to_hex()),
                    ],
                );
            }
        }
        Ok(())
    }

    /// Settles jobs whose challenge window ended and handles missed deadlines.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        super::session::end_block(ctx)?;
        let prefix = key(DUE, &[&ctx.env.height.to_be_bytes()]);
        let p = ctx.params.market.clone();
        for (k, _) in ctx.state.scan_prefix(&prefix)? {
            ctx.state.delete(k.clone());
            let id = u64::from_be_bytes(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad due key"))?,
            );
            let Some(mut job) = job(ctx.state, id)? else {
                continue;
            };
            match job.status {
                JobStatus::Committed => {
                    if !is_held(ctx.state, id)? {
                        settle(ctx, &mut job)?;
                    }
                }
                JobStatus::Assigned => {
                    let late = job.worker;
                    let rep = reputation(ctx.state, &late)?;
                    ctx.state.put(
                        key(REP, &[&late.0]),
                        &rep.saturating_sub(p.missed_deadline_reputation),
                    );
                    staking::slash(
                        ctx,
                        &late,
                        staking::Role::Worker,
                        p.missed_deadline_bps,
                        "missed deadline",
                    )?;
                    ctx.emit(
                        events::DEADLINE_MISSED,
                        &[
                            (attr::JOB, id.to_string()),
                            (attr::WORKER, late.to_string()),
                        ],
                    );
                    if job.attempts >= p.max_attempts || !assign(ctx, &mut job, &[late])? {
                        bank::transfer(ctx, &escrow(), &job.poster, job.max_fee)
                            .map_err(|e| e.into_fatal("refund"))?;
                        job.status = JobStatus::Failed;
                        ctx.emit(
                            events::FAILED,
                            &[
                                (attr::JOB, id.to_string()),
                                (attr::REFUND, job.max_fee.0.to_string()),
                            ],
                        );
                    }
                    ctx.state.put(job_key(id), &job);
                }
                JobStatus::Settled | JobStatus::Failed | JobStatus::Rejected => {}
            }
        }
        Ok(())
    }
}

/// Stores `job` (for `verify`, which adjusts a held job's escrow ceiling).
pub(crate) fn put_job<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, job: &Job) {
    ctx.state.put(job_key(job.id), job);
}

/// True while `verify` holds job `id` (an audit or a dispute is open on its result).
pub(crate) fn is_held<S: StateRead + ?Sized>(
    state: &crate::state::StateCache<'_, S>,
    id: u64,
) -> Result<bool> {
    Ok(state
        .get::<u64>(&key(HOLD, &[&id.to_be_bytes()]))?
        .unwrap_or(0)
        > 0)
}

/// Adds (`on`) or removes one hold on job `id`'s settlement (called by `verify`: an audit and a
/// dispute may hold the same result at once).
pub(crate) fn set_hold<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    id: u64,
    on: bool,
) -> Result<()> {
    ctx.state
        .step_counter(key(HOLD, &[&id.to_be_bytes()]), on)
        .map(|_| ())
}

/// Pays a committed job out: the worker gets `min(units × price, max_fee)` less the burned
/// protocol fee, the poster the rest of the escrow. `verified` raises the worker's reputation
/// (only audited results do) and fees from other posters count toward the worker emission.
pub(crate) fn settle<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, job: &mut Job) -> Result<()> {
    let p = ctx.params.market.clone();
    let epoch = ctx.epoch();
    let overflow = |_| crate::Error::Overflow("market");
    let id = job.id;
    let cost = Amount(job.price_per_unit.0.saturating_mul(job.units as u128)).min(job.max_fee);
    let burned = cost
        .mul_div(p.protocol_fee_bps as u128, 10_000)
        .map_err(overflow)?;
    let pay = cost.checked_sub(burned).map_err(overflow)?;
    let refund = job.max_fee.checked_sub(cost).map_err(overflow)?;
    bank::transfer(ctx, &escrow(), &job.worker, pay).map_err(|e| e.into_fatal("job payment"))?;
    bank::burn(ctx, &escrow(), burned).map_err(|e| e.into_fatal("protocol fee"))?;
    bank::transfer(ctx, &escrow(), &job.poster, refund).map_err(|e| e.into_fatal("refund"))?;
    earnings::record(ctx.state, epoch, &job.worker, earnings::Reason::JobFee, pay)?;
    earnings::record(
        ctx.state,
        epoch,
        &job.poster,
        earnings::Reason::JobPaid,
        cost,
    )?;
    add_u64(
        ctx,
        key(UNITS, &[&epoch.to_be_bytes(), &job.worker.0]),
        job.units,
    )?;
    // Only fees someone else paid count toward emissions; the per-fee cap in `rewards` keeps
    // emissions below the burned protocol fee, so paying yourself through a second account loses.
    if job.poster != job.worker {
        let weight = u64::try_from(cost.0).unwrap_or(u64::MAX);
        add_u64(
            ctx,
            key(FEES, &[&epoch.to_be_bytes(), &job.worker.0]),
            weight,
        )?;
    }
    if let Some(ds) = data::dataset(ctx.state, &job.input)? {
        let credited = ds.credited_novel_bytes();
        if credited > 0 {
            add_u64(
                ctx,
                key(USED, &[&epoch.to_be_bytes(), &ds.contributor.0]),
                credited,
            )?;
        }
    }
    credit_lineage(ctx, &job.model, &job.poster)?;
    if job.kind == JobKind::Finetune {
        model::register_adapter(ctx, job)?;
    }
    staking::lock(ctx, &job.worker, staking::Role::Worker, false)?;
    job.status = JobStatus::Settled;
    job.fee = pay;
    ctx.state.put(job_key(id), job);
    ctx.emit(
        events::SETTLED,
        &[
            (attr::JOB, id.to_string()),
            (attr::WORKER, job.worker.to_string()),
            (attr::FEE, pay.0.to_string()),
            (attr::REFUND, refund.0.to_string()),
        ],
    );
    Ok(())
}

/// Credits the contributors of every dataset in `model`'s lineage with their credited novel
/// bytes for this epoch's data emission: serving a model pays the people whose data it learned
/// from. A contributor who pays for the work itself earns nothing from it (self-dealing would
/// otherwise farm the data pool).
pub(crate) fn credit_lineage<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    model_id: &Hash,
    payer: &Address,
) -> Result<()> {
    let Some(v) = model::version(ctx.state, model_id)? else {
        return Ok(());
    };
    let epoch = ctx.epoch();
    for root in &v.attribution {
        let Some(ds) = data::dataset(ctx.state, root)? else {
            continue;
        };
        let credited = ds.credited_novel_bytes();
        if credited > 0 && ds.contributor != *payer {
            add_u64(
                ctx,
                key(USED, &[&epoch.to_be_bytes(), &ds.contributor.0]),
                credited,
            )?;
        }
    }
    Ok(())
}

/// Raises `worker`'s reputation by one (capped): called by `verify` for a result that passed an
/// audit, never for an unaudited one.
pub(crate) fn reward_reputation<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    worker: &Address,
) -> Result<()> {
    let rep = reputation(ctx.state, worker)?;
    ctx.state
        .put(key(REP, &[&worker.0]), &(rep + 1).min(MAX_REPUTATION));
    Ok(())
}

/// Refunds the poster of a result proven wrong; the worker gets nothing and loses
/// `penalty` reputation (its stake is slashed by `verify`).
pub(crate) fn reject<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &mut Job,
    penalty: u64,
) -> Result<()> {
    bank::transfer(ctx, &escrow(), &job.poster, job.max_fee).map_err(|e| e.into_fatal("refund"))?;
    let rep = reputation(ctx.state, &job.worker)?;
    ctx.state
        .put(key(REP, &[&job.worker.0]), &rep.saturating_sub(penalty));
    staking::lock(ctx, &job.worker, staking::Role::Worker, false)?;
    job.status = JobStatus::Rejected;
    ctx.state.delete(due_key(job.due, job.id));
    ctx.state.put(job_key(job.id), job);
    ctx.emit(
        events::REJECTED,
        &[
            (attr::JOB, job.id.to_string()),
            (attr::WORKER, job.worker.to_string()),
            (attr::REFUND, job.max_fee.0.to_string()),
        ],
    );
    Ok(())
}
