//! Execution of `device` messages and the probe rounds.

use super::{
    Device, DeviceError, Params, events,
    msg::*,
    query::{addr_suffix, u64_suffix, *},
    state::*,
};
use crate::modules::{Ctx, Module, bank, verify};
use crate::{ExecResult, Result, earnings, events::attr, state::key};
use mycel_primitives::{
    Address, Amount, Hash, Signature,
    hash::{Domain, hash_parts},
    keys::{self, public_key_from_bytes},
};
use mycel_store::StateRead;

fn load<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, d: &Address) -> ExecResult<DeviceEntry> {
    device(ctx.state, d)?.ok_or_else(|| DeviceError::Unknown { device: *d }.into())
}

fn put(ctx: &mut Ctx<'_, '_, impl StateRead + ?Sized>, d: &DeviceEntry) {
    ctx.state.put(device_key(&d.address), d);
}

fn live_key(d: &Address) -> Vec<u8> {
    key(LIVE, &[&d.0])
}

fn reopen_key(job: u64, unit: u64) -> Vec<u8> {
    key(REOPEN, &[&job.to_be_bytes(), &unit.to_be_bytes()])
}

fn rand_u64(parts: &[&[u8]]) -> u64 {
    let h = hash_parts(Domain::Randomness, parts);
    u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"))
}

fn register<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    owner: Address,
    r: &Registration,
) -> ExecResult {
    let pk = public_key_from_bytes(&r.key).map_err(|_| DeviceError::BadSignature)?;
    let addr = Address::from_public_key(&pk);
    if addr == owner {
        return Err(DeviceError::OwnerIsDevice.into());
    }
    if let Some(d) = device(ctx.state, &addr)? {
        return Err(DeviceError::Taken {
            device: addr,
            owner: d.owner,
        }
        .into());
    }
    let sig: Signature =
        mycel_primitives::codec::decode(&r.signature).map_err(|_| DeviceError::BadSignature)?;
    if !keys::verify(
        &pk,
        REGISTER_NAMESPACE,
        &register_bytes(&owner, r.class, &r.model),
        &sig,
    ) {
        return Err(DeviceError::BadSignature.into());
    }
    let min = ctx.params.device.min_bond;
    if r.bond < min {
        return Err(DeviceError::BondTooLow { min, got: r.bond }.into());
    }
    bank::transfer(ctx, &owner, &escrow(), r.bond)?;
    let d = DeviceEntry {
        address: addr,
        key: r.key.clone(),
        owner,
        class: r.class,
        model: r.model,
        bond: r.bond,
        status: Status::Probation,
        registered: ctx.env.height,
        probes: 0,
        answered: 0,
        missed: 0,
        passed: 0,
        failed: 0,
        misses_in_row: 0,
        reputation: START_REPUTATION,
        earned: Amount::ZERO,
        records: 0,
        open_probes: 0,
    };
    put(ctx, &d);
    ctx.state.put_raw(live_key(&addr), Vec::new());
    ctx.state
        .put_raw(key(OWNER, &[&owner.0, &addr.0]), Vec::new());
    ctx.emit(
        events::REGISTER,
        &[
            (attr::DEVICE, addr.to_string()),
            (attr::OWNER, owner.to_string()),
            (attr::CLASS, r.class.as_str().into()),
            (attr::MODEL, r.model.to_hex()),
            (attr::AMOUNT, r.bond.0.to_string()),
        ],
    );
    Ok(())
}

fn leave<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    device: &Address,
) -> ExecResult {
    let mut d = load(ctx, device)?;
    if sender != d.owner && sender != d.address {
        return Err(DeviceError::NotYours {
            device: *device,
            sender,
        }
        .into());
    }
    if d.status == Status::Left {
        return Err(DeviceError::Left { device: *device }.into());
    }
    d.status = Status::Left;
    put(ctx, &d);
    ctx.state.delete(live_key(device));
    let at = ctx
        .env
        .height
        .saturating_add(ctx.params.device.release_blocks);
    ctx.state
        .put_raw(key(RELEASE, &[&at.to_be_bytes(), &device.0]), Vec::new());
    ctx.emit(
        events::LEAVE,
        &[
            (attr::DEVICE, device.to_string()),
            (attr::RELEASE_HEIGHT, at.to_string()),
        ],
    );
    Ok(())
}

fn resume<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, sender: Address) -> ExecResult {
    let mut d = load(ctx, &sender)?;
    if d.status != Status::Offline {
        return Err(DeviceError::NotOffline { device: sender }.into());
    }
    // Back on probation: its next probe is checked again.
    d.status = Status::Probation;
    d.misses_in_row = 0;
    put(ctx, &d);
    ctx.state.put_raw(live_key(&sender), Vec::new());
    ctx.emit(events::RESUME, &[(attr::DEVICE, sender.to_string())]);
    Ok(())
}

fn open_probe<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    round: u64,
    device: &Address,
) -> ExecResult<(Round, Probe)> {
    let r = self::round(ctx.state, round)?;
    let p = probe(ctx.state, round, device)?;
    match (r, p) {
        (Some(r), Some(p)) => Ok((r, p)),
        _ => Err(DeviceError::NoProbe {
            round,
            device: *device,
        }
        .into()),
    }
}

fn window(
    what: &'static str,
    round: u64,
    from_ms: u64,
    until_ms: u64,
    now_ms: u64,
) -> std::result::Result<(), DeviceError> {
    if now_ms > from_ms && now_ms <= until_ms {
        Ok(())
    } else {
        Err(DeviceError::OutOfWindow {
            what,
            round,
            from_ms,
            until_ms,
            now_ms,
        })
    }
}

fn seal_answer<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    round: u64,
    sealed: Hash,
) -> ExecResult {
    let (r, mut p) = open_probe(ctx, round, &sender)?;
    let pr = &ctx.params.device;
    // The checks are drawn once the seal window is over: no seal after that.
    let until = if r.check_seed == Hash::ZERO {
        r.seal_end(pr)
    } else {
        0
    };
    window(
        "seal",
        round,
        r.start_ms.saturating_sub(1),
        until,
        ctx.env.time_ms,
    )?;
    if p.sealed != Hash::ZERO {
        return Err(DeviceError::Already {
            what: "seal",
            round,
        }
        .into());
    }
    p.sealed = sealed;
    ctx.state.put(probe_key(round, &sender), &p);
    Ok(())
}

fn seal_check<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    round: u64,
    device: &Address,
    sealed: Hash,
) -> ExecResult {
    let (r, mut p) = open_probe(ctx, round, device)?;
    if !p.checked || p.checker != sender {
        return Err(DeviceError::NotChecker {
            round,
            device: *device,
            sender,
        }
        .into());
    }
    let pr = &ctx.params.device;
    // A job unit's checker is known from the start; a canary's only after the seals.
    let from = if p.job != 0 {
        r.start_ms.saturating_sub(1)
    } else {
        r.seal_end(pr)
    };
    window("check seal", round, from, r.check_end(pr), ctx.env.time_ms)?;
    if p.check_sealed != Hash::ZERO {
        return Err(DeviceError::Already {
            what: "check seal",
            round,
        }
        .into());
    }
    p.check_sealed = sealed;
    ctx.state.put(probe_key(round, device), &p);
    Ok(())
}

fn check_shape(answer: &[u8], records: u32) -> std::result::Result<(), DeviceError> {
    let n = records.max(1) as usize;
    let ok = !answer.is_empty() && answer.len().is_multiple_of(n) && answer.len() / n <= MAX_DIM;
    if ok {
        Ok(())
    } else {
        Err(DeviceError::BadAnswer {
            bytes: answer.len(),
            records,
            max_dim: MAX_DIM,
        })
    }
}

fn reveal<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    round: u64,
    device: &Address,
    answer: &[u8],
    salt: &Hash,
) -> ExecResult {
    let (r, mut p) = open_probe(ctx, round, device)?;
    let pr = &ctx.params.device;
    let from = if r.check_seed == Hash::ZERO {
        u64::MAX
    } else {
        r.check_end(pr)
    };
    window("reveal", round, from, r.reveal_end(pr), ctx.env.time_ms)?;
    let by_device = sender == *device;
    if !by_device && (!p.checked || p.checker != sender) {
        return Err(DeviceError::NotChecker {
            round,
            device: *device,
            sender,
        }
        .into());
    }
    let (sealed, opened) = if by_device {
        (p.sealed, &p.answer)
    } else {
        (p.check_sealed, &p.reference)
    };
    if !opened.is_empty() {
        return Err(DeviceError::Already {
            what: "reveal",
            round,
        }
        .into());
    }
    if sealed == Hash::ZERO || seal(round, device, &sender, &answer_hash(answer), salt) != sealed {
        return Err(DeviceError::SealMismatch.into());
    }
    check_shape(answer, p.records)?;
    if by_device {
        p.answer = answer.to_vec();
    } else {
        p.reference = answer.to_vec();
    }
    ctx.state.put(probe_key(round, device), &p);
    Ok(())
}

fn post_job<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    poster: Address,
    model: Hash,
    input: Hash,
    records: u64,
    unit_records: u32,
    price_per_record: Amount,
) -> ExecResult {
    let bad = |why: &str| DeviceError::BadJob { why: why.into() };
    if records == 0 || records > MAX_JOB_RECORDS {
        return Err(bad(&format!("records must be 1..={MAX_JOB_RECORDS}")).into());
    }
    let most = Class::Standard.records();
    if unit_records == 0 || unit_records > most {
        return Err(bad(&format!("unit_records must be 1..={most}")).into());
    }
    if price_per_record.is_zero() {
        return Err(bad("price_per_record must be positive").into());
    }
    let escrowed = price_per_record
        .0
        .checked_mul(records as u128)
        .map(Amount)
        .ok_or_else(|| bad("price × records overflows"))?;
    bank::transfer(ctx, &poster, &escrow(), escrowed)?;
    let id = ctx.state.step_counter(NEXT_JOB.to_vec(), true)?;
    let job = EdgeJob {
        id,
        poster,
        model,
        input,
        records,
        unit_records,
        price_per_record,
        escrow: escrowed,
        done: 0,
        next_unit: 0,
        posted: ctx.env.height,
        completed: 0,
    };
    ctx.state.put(job_key(id), &job);
    ctx.state
        .put_raw(key(OPEN_JOB, &[&id.to_be_bytes()]), Vec::new());
    ctx.emit(
        events::JOB,
        &[
            (attr::JOB, id.to_string()),
            (attr::POSTER, poster.to_string()),
            (attr::MODEL, model.to_hex()),
            (attr::RECORDS, records.to_string()),
            (attr::AMOUNT, escrowed.0.to_string()),
        ],
    );
    Ok(())
}

/// A unit of an open job on `model` that a probe of `records` can hold: a lost lease first,
/// then the next fresh unit. Leases it to `device` for `round`.
fn lease_unit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    model: &Hash,
    records: u32,
    device: &Address,
    round: u64,
) -> Result<Option<(u64, u64, u32)>> {
    for (k, _) in ctx.state.scan_prefix(OPEN_JOB)? {
        let id = u64_suffix(&k)?;
        let Some(mut job) = edge_job(ctx.state, id)? else {
            continue;
        };
        if job.model != *model || job.unit_records > records {
            continue;
        }
        let reopened = ctx
            .state
            .scan_prefix(&key(REOPEN, &[&id.to_be_bytes()]))?
            .into_iter()
            .next();
        let u = if let Some((rk, _)) = reopened {
            ctx.state.delete(rk.clone());
            u64::from_be_bytes(
                rk[rk.len() - 8..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&rk, "bad reopen key"))?,
            )
        } else if job.next_unit < job.units() {
            job.next_unit += 1;
            ctx.state.put(job_key(id), &job);
            job.next_unit - 1
        } else {
            continue;
        };
        let mut unit = unit(ctx.state, id, u)?.unwrap_or(Unit {
            state: UnitState::Open,
            device: Address::default(),
            round: 0,
            leases: 0,
            output: Hash::ZERO,
        });
        unit.state = UnitState::Leased;
        unit.device = *device;
        unit.round = round;
        unit.leases += 1;
        ctx.state.put(unit_key(id, u), &unit);
        return Ok(Some((id, u, job.unit_len(u))));
    }
    Ok(None)
}

/// Starts round `id`: a probe for every live device, a job unit where one waits. `false` when
/// no device is live (no round).
fn start_round<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: u64) -> Result<bool> {
    let live = ctx.state.scan_prefix(LIVE)?;
    if live.is_empty() {
        return Ok(false);
    }
    let seed = hash_parts(Domain::DeviceRound, &[&ctx.env.parent.0, &id.to_be_bytes()]);
    let mut probes = 0u32;
    for (k, _) in live {
        let addr = addr_suffix(&k)?;
        let Some(mut d) = device(ctx.state, &addr)? else {
            continue;
        };
        let class_records = d.class.records();
        // A job unit's answer becomes someone's output: every one is checked, and its checker
        // is drawn now so that it can compute its reference while the device does. With no
        // checker to draw, the device gets a canary instead of a unit. A canary is checked only
        // if drawn after the seals.
        let draw = rand_u64(&[&seed.0, &addr.0, b"job"]);
        let checker = verify::draw_auditor(ctx, &[d.owner, d.address], draw)?;
        let leased = match checker {
            Some(_) => lease_unit(ctx, &d.model, class_records, &addr, id)?,
            None => None,
        };
        let (job, unit, records) = leased.unwrap_or((0, 0, class_records));
        let checker = if job != 0 { checker } else { None };
        ctx.state.put(
            probe_key(id, &addr),
            &Probe {
                round: id,
                device: addr,
                records,
                job,
                unit,
                sealed: Hash::ZERO,
                answer: Vec::new(),
                checked: checker.is_some(),
                checker: checker.unwrap_or_default(),
                check_sealed: Hash::ZERO,
                reference: Vec::new(),
            },
        );
        d.probes += 1;
        d.open_probes += 1;
        put(ctx, &d);
        probes += 1;
    }
    ctx.state.put(
        round_key(id),
        &Round {
            id,
            seed,
            start_ms: ctx.env.time_ms,
            check_seed: Hash::ZERO,
            probes,
        },
    );
    ctx.state
        .put_raw(key(OPEN_ROUND, &[&id.to_be_bytes()]), Vec::new());
    ctx.emit(
        events::ROUND,
        &[
            (attr::ROUND, id.to_string()),
            (attr::COUNT, probes.to_string()),
        ],
    );
    Ok(true)
}

/// Draws which probes of `r` are checked, and by whom, now that every answer is sealed.
fn draw_checks<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, r: &mut Round) -> Result<()> {
    r.check_seed = hash_parts(
        Domain::DeviceRound,
        &[&ctx.env.parent.0, &r.id.to_be_bytes(), b"check"],
    );
    for p in probes_of(ctx.state, r.id)? {
        let mut p = p;
        if p.sealed == Hash::ZERO || p.checked {
            continue;
        }
        let Some(d) = device(ctx.state, &p.device)? else {
            continue;
        };
        let draw = rand_u64(&[&r.check_seed.0, &p.device.0]);
        let must = d.status == Status::Probation;
        if !must && draw % 10_000 >= ctx.params.device.check_bps as u64 {
            continue;
        }
        // Drawn but nobody to check it (no auditor staked but the device's own): it stays
        // checked with no checker, so it closes unchecked and earns no credit.
        let checker = verify::draw_auditor(ctx, &[d.owner, d.address], draw >> 16)?;
        p.checked = true;
        p.checker = checker.unwrap_or_default();
        ctx.state.put(probe_key(r.id, &p.device), &p);
    }
    ctx.state.put(round_key(r.id), &*r);
    Ok(())
}

/// Whether the device's answer matches the checker's reference: same shape, every int8 value
/// within `max_dim_diff`.
pub fn answers_match(answer: &[u8], reference: &[u8], max_dim_diff: u8) -> bool {
    answer.len() == reference.len()
        && answer
            .iter()
            .zip(reference)
            .all(|(a, b)| (*a as i8 as i16 - *b as i8 as i16).unsigned_abs() <= max_dim_diff as u16)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Answered,
    Unchecked,
    Failed,
    Missed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Answered => "answered",
            Outcome::Unchecked => "unchecked",
            Outcome::Failed => "failed",
            Outcome::Missed => "missed",
        }
    }
}

fn close_round<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, r: &Round) -> Result<()> {
    let epoch = ctx.epoch();
    for p in probes_of(ctx.state, r.id)? {
        ctx.state.delete(probe_key(r.id, &p.device));
        let Some(mut d) = device(ctx.state, &p.device)? else {
            continue;
        };
        d.open_probes = d.open_probes.saturating_sub(1);
        let outcome = if p.sealed == Hash::ZERO || p.answer.is_empty() {
            Outcome::Missed
        } else if !p.checked {
            Outcome::Answered
        } else if p.reference.is_empty() {
            Outcome::Unchecked
        } else if answers_match(&p.answer, &p.reference, ctx.params.device.max_dim_diff) {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        if p.checked && !p.reference.is_empty() {
            let k = checks_key(epoch, &p.checker);
            let n = ctx.state.get::<u64>(&k)?.unwrap_or(0);
            ctx.state.put(k, &(n + 1));
        }
        match outcome {
            Outcome::Missed => {
                d.missed += 1;
                d.misses_in_row += 1;
                d.reputation = d.reputation.saturating_sub(1);
                if d.misses_in_row >= ctx.params.device.max_misses
                    && matches!(d.status, Status::Probation | Status::Active)
                {
                    d.status = Status::Offline;
                    ctx.state.delete(live_key(&d.address));
                    ctx.emit(events::OFFLINE, &[(attr::DEVICE, d.address.to_string())]);
                }
                lose_lease(ctx, &p);
            }
            Outcome::Failed => {
                d.failed += 1;
                d.reputation = d.reputation.saturating_sub(FAIL_REPUTATION);
                // Caught: nothing it answered this epoch is credited, and it proves itself again.
                ctx.state.delete(credit_key(epoch, &d.address));
                if matches!(d.status, Status::Active) {
                    d.status = Status::Probation;
                }
                slash(ctx, &mut d, &p.checker)?;
                lose_lease(ctx, &p);
            }
            Outcome::Passed | Outcome::Answered | Outcome::Unchecked => {
                d.answered += 1;
                d.misses_in_row = 0;
                d.reputation = (d.reputation + 1).min(MAX_REPUTATION);
                if outcome == Outcome::Passed {
                    d.passed += 1;
                    if d.status == Status::Probation {
                        d.status = Status::Active;
                    }
                }
                // Records are credited only for answers that were checked or could have been:
                // an answer nobody checked although it was drawn (no checker, or one that did not
                // reveal) counts for uptime only, so a chain without auditors pays nothing out.
                if outcome != Outcome::Unchecked {
                    d.records += p.records as u64;
                    let k = credit_key(epoch, &d.address);
                    let c = ctx.state.get::<u64>(&k)?.unwrap_or(0);
                    ctx.state.put(k, &(c + p.records as u64));
                }
                // A unit's output is accepted only as checked: a checker that did not reveal
                // leaves it unverified, so it goes to another device.
                if p.job != 0 && outcome == Outcome::Unchecked {
                    lose_lease(ctx, &p);
                } else if p.job != 0 {
                    finish_unit(ctx, &mut d, &p)?;
                }
            }
        }
        put(ctx, &d);
        ctx.emit(
            events::PROBE,
            &[
                (attr::ROUND, r.id.to_string()),
                (attr::DEVICE, d.address.to_string()),
                (attr::REASON, outcome.as_str().into()),
                (attr::RECORDS, p.records.to_string()),
                (attr::JOB, p.job.to_string()),
                (attr::UNIT, p.unit.to_string()),
                (attr::CHECKER, p.checker.to_string()),
            ],
        );
    }
    ctx.state.delete(round_key(r.id));
    ctx.state.delete(key(OPEN_ROUND, &[&r.id.to_be_bytes()]));
    Ok(())
}

/// The unit goes back to the pool for another device; nothing of it was paid.
fn lose_lease<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, p: &Probe) {
    if p.job == 0 {
        return;
    }
    if let Ok(Some(mut u)) = unit(ctx.state, p.job, p.unit)
        && u.state == UnitState::Leased
    {
        u.state = UnitState::Open;
        u.device = Address::default();
        ctx.state.put(unit_key(p.job, p.unit), &u);
        ctx.state.put_raw(reopen_key(p.job, p.unit), Vec::new());
    }
}

/// Burns `fail_slash_bps` of the bond: a checker gains nothing from a failure it reports, so a
/// lying checker only spends its own stake's standing.
fn slash<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    d: &mut DeviceEntry,
    checker: &Address,
) -> Result<()> {
    let amount = d
        .bond
        .mul_div(ctx.params.device.fail_slash_bps as u128, 10_000)
        .map_err(|_| crate::Error::Overflow("device slash"))?;
    if amount.is_zero() {
        return Ok(());
    }
    bank::burn(ctx, &escrow(), amount).map_err(|e| e.into_fatal("device slash"))?;
    d.bond = d.bond.checked_sub(amount).unwrap_or_default();
    earnings::record(
        ctx.state,
        ctx.epoch(),
        &d.owner,
        earnings::Reason::DeviceSlashed,
        amount,
    )?;
    ctx.emit(
        events::SLASHED,
        &[
            (attr::DEVICE, d.address.to_string()),
            (attr::AMOUNT, amount.0.to_string()),
            (attr::CHECKER, checker.to_string()),
        ],
    );
    Ok(())
}

/// Accepts the unit's answer and pays it, once.
fn finish_unit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    d: &mut DeviceEntry,
    p: &Probe,
) -> Result<()> {
    let (Some(mut job), Some(mut u)) =
        (edge_job(ctx.state, p.job)?, unit(ctx.state, p.job, p.unit)?)
    else {
        return Ok(());
    };
    if u.state != UnitState::Leased || u.device != d.address || u.round != p.round {
        return Ok(());
    }
    let fee = Amount(job.price_per_record.0.saturating_mul(p.records as u128)).min(job.escrow);
    bank::transfer(ctx, &escrow(), &d.owner, fee).map_err(|e| e.into_fatal("unit fee"))?;
    let epoch = ctx.epoch();
    earnings::record(
        ctx.state,
        epoch,
        &d.owner,
        earnings::Reason::EdgeUnitFee,
        fee,
    )?;
    earnings::record(
        ctx.state,
        epoch,
        &job.poster,
        earnings::Reason::EdgeUnitPaid,
        fee,
    )?;
    job.escrow = job.escrow.checked_sub(fee).unwrap_or_default();
    job.done += 1;
    d.earned = d.earned.checked_add(fee).unwrap_or(d.earned);
    u.state = UnitState::Done;
    u.output = answer_hash(&p.answer);
    ctx.state.put(unit_key(p.job, p.unit), &u);
    ctx.emit(
        events::UNIT,
        &[
            (attr::JOB, p.job.to_string()),
            (attr::UNIT, p.unit.to_string()),
            (attr::DEVICE, d.address.to_string()),
            (attr::OUTPUT, u.output.to_hex()),
            (attr::FEE, fee.0.to_string()),
        ],
    );
    if job.done == job.units() {
        job.completed = ctx.env.height;
        let refund = job.escrow;
        if !refund.is_zero() {
            bank::transfer(ctx, &escrow(), &job.poster, refund)
                .map_err(|e| e.into_fatal("edge job refund"))?;
        }
        job.escrow = Amount::ZERO;
        ctx.state.delete(key(OPEN_JOB, &[&job.id.to_be_bytes()]));
        ctx.emit(
            events::JOB_DONE,
            &[
                (attr::JOB, job.id.to_string()),
                (attr::REFUND, refund.0.to_string()),
            ],
        );
    }
    ctx.state.put(job_key(job.id), &job);
    Ok(())
}

fn release_bonds<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let due = key(RELEASE, &[&ctx.env.height.to_be_bytes()]);
    for (k, _) in ctx.state.scan_prefix(&due)? {
        ctx.state.delete(k.clone());
        let addr = addr_suffix(&k)?;
        let Some(mut d) = device(ctx.state, &addr)? else {
            continue;
        };
        if d.open_probes > 0 {
            // Its bond still answers for probes not yet closed: looked at again later.
            let at = ctx
                .env
                .height
                .saturating_add(ctx.params.device.release_blocks.max(1));
            ctx.state
                .put_raw(key(RELEASE, &[&at.to_be_bytes(), &addr.0]), Vec::new());
            continue;
        }
        let bond = d.bond;
        bank::transfer(ctx, &escrow(), &d.owner, bond)
            .map_err(|e| e.into_fatal("device bond release"))?;
        d.bond = Amount::ZERO;
        put(ctx, &d);
        ctx.emit(
            events::RELEASED,
            &[
                (attr::DEVICE, addr.to_string()),
                (attr::AMOUNT, bond.0.to_string()),
            ],
        );
    }
    Ok(())
}

fn advance_rounds<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let p: Params = ctx.params.device.clone();
    let now = ctx.env.time_ms;
    for (k, _) in ctx.state.scan_prefix(OPEN_ROUND)? {
        let id = u64_suffix(&k)?;
        let Some(mut r) = round(ctx.state, id)? else {
            continue;
        };
        if r.check_seed == Hash::ZERO && now > r.seal_end(&p) {
            draw_checks(ctx, &mut r)?;
        }
        if now > r.reveal_end(&p) {
            close_round(ctx, &r)?;
        }
    }
    let current = now / p.round_ms.max(1);
    let last = ctx.state.get::<u64>(LAST_ROUND)?.unwrap_or(0);
    // Without live devices nothing is written, so a chain without devices keeps its roots.
    if current > last && start_round(ctx, current)? {
        ctx.state.put(LAST_ROUND.to_vec(), &current);
    }
    Ok(())
}

impl Module for Device {
    const NAME: &'static str = "device";
    const ID: u8 = 9;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Register(r) => register(ctx, sender, r),
            Msg::Leave { device } => leave(ctx, sender, device),
            Msg::Resume => resume(ctx, sender),
            Msg::Seal { round, sealed } => seal_answer(ctx, sender, *round, *sealed),
            Msg::CheckSeal {
                round,
                device,
                sealed,
            } => seal_check(ctx, sender, *round, device, *sealed),
            Msg::Reveal {
                round,
                device,
                answer,
                salt,
            } => reveal(ctx, sender, *round, device, answer, salt),
            Msg::PostJob {
                model,
                input,
                records,
                unit_records,
                price_per_record,
            } => post_job(
                ctx,
                sender,
                *model,
                *input,
                *records,
                *unit_records,
                *price_per_record,
            ),
        }
    }

    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        release_bonds(ctx)?;
        advance_rounds(ctx)
    }
}

/// Per-account weights of an epoch's payout.
pub(crate) type Weights = Vec<(Address, u64)>;

/// Takes the epoch's credited records, by owner (what the edge share of the emission is split
/// by), and the checks each checker revealed (counted as audits done). Clears both.
pub(crate) fn take_epoch<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    epoch: u64,
) -> Result<(Weights, Weights)> {
    let mut by_owner = std::collections::BTreeMap::<Address, u64>::new();
    let prefix = key(CREDIT, &[&epoch.to_be_bytes()]);
    for (k, v) in ctx.state.scan_prefix(&prefix)? {
        ctx.state.delete(k.clone());
        let addr = addr_suffix(&k)?;
        let n: u64 =
            mycel_primitives::codec::decode(&v).map_err(|e| crate::state::corrupt(&k, e))?;
        if let Some(d) = device(ctx.state, &addr)? {
            *by_owner.entry(d.owner).or_default() += n;
        }
    }
    let mut checks = Vec::new();
    let prefix = key(CHECKS, &[&epoch.to_be_bytes()]);
    for (k, v) in ctx.state.scan_prefix(&prefix)? {
        ctx.state.delete(k.clone());
        let addr = addr_suffix(&k)?;
        let n: u64 =
            mycel_primitives::codec::decode(&v).map_err(|e| crate::state::corrupt(&k, e))?;
        checks.push((addr, n));
    }
    Ok((by_owner.into_iter().collect(), checks))
}
