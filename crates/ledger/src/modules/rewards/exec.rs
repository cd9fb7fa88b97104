//! Execution of `rewards` messages and the module's block hooks.

use super::Rewards;
use super::events;
use super::{params::*, state::*};
use crate::earnings;
use crate::modules::{Ctx, Module, bank, staking};
use crate::{ExecError, ExecResult, Result, events::attr, state::key};
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

fn tx_err(e: ExecError) -> crate::Error {
    e.into_fatal("rewards payout")
}

/// Pays `pool` out of the reserve to `weights` pro rata (integer shares, dust stays in the
/// reserve) and returns what was paid.
fn pay_pro_rata<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    epoch: u64,
    pool: Amount,
    weights: &[(Address, u64)],
    reason: earnings::Reason,
) -> Result<Amount> {
    let total: u128 = weights.iter().map(|(_, w)| *w as u128).sum();
    let mut paid = Amount::ZERO;
    if total == 0 {
        return Ok(paid);
    }
    for (addr, w) in weights {
        let share = pool
            .mul_div(*w as u128, total)
            .map_err(|_| crate::Error::Overflow("pro rata share"))?;
        bank::transfer(ctx, &reserve(), addr, share).map_err(tx_err)?;
        earnings::record(ctx.state, epoch, addr, reason, share)?;
        paid = paid
            .checked_add(share)
            .map_err(|_| crate::Error::Overflow("pro rata"))?;
    }
    Ok(paid)
}

/// Pays each `(address, fees)` its pro-rata share of `pool` by fees, capped at `cap_bps` of its
/// fees, and returns what was paid (the rest stays in the reserve).
fn pay_capped<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    epoch: u64,
    pool: Amount,
    fees: &[(Address, u64)],
    cap_bps: u16,
    reason: earnings::Reason,
) -> Result<Amount> {
    let total: u128 = fees.iter().map(|(_, w)| *w as u128).sum();
    let mut paid = Amount::ZERO;
    if total == 0 {
        return Ok(paid);
    }
    for (addr, fee) in fees {
        let share = pool
            .mul_div(*fee as u128, total)
            .map_err(|_| crate::Error::Overflow("pro rata share"))?;
        let cap = Amount(*fee as u128)
            .mul_div(cap_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission cap"))?;
        let share = share.min(cap);
        bank::transfer(ctx, &reserve(), addr, share).map_err(tx_err)?;
        earnings::record(ctx.state, epoch, addr, reason, share)?;
        paid = paid
            .checked_add(share)
            .map_err(|_| crate::Error::Overflow("capped pay"))?;
    }
    Ok(paid)
}

impl Module for Rewards {
    const NAME: &'static str = "rewards";
    const ID: u8 = 3;
    type Msg = ();

    fn execute<S: StateRead + ?Sized>(_: &mut Ctx<'_, '_, S>, _: Address, _: &()) -> ExecResult {
        Ok(())
    }

    fn end_epoch<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
        let p = ctx.params.rewards.clone();
        let minted = emission(&p, epoch);
        // Validators earn by the certified blocks they signed times their stake: only members
        // of the epoch's set count, and bonding without running a node earns nothing.
        let validators = staking::validator_set(ctx.state, epoch)?;
        let (_, signed) = staking::liveness(ctx.state, epoch)?;
        let signed: std::collections::BTreeMap<Address, u64> = signed.into_iter().collect();
        let mut weights = Vec::new();
        for (addr, stake) in &validators {
            let n = signed.get(addr).copied().unwrap_or(0);
            if n > 0 {
                let w = stake
                    .0
                    .checked_mul(n as u128)
                    .ok_or(crate::Error::Overflow("validator weight"))?;
                weights.push((*addr, w));
            }
        }
        let total_weight = weights
            .iter()
            .try_fold(0u128, |t, (_, w)| t.checked_add(*w))
            .ok_or(crate::Error::Overflow("validator weight"))?;
        let mut summary = EpochSummary {
            emission: minted,
            validator_count: weights.len() as u32,
            ..Default::default()
        };

        // Everything is minted to the reserve first, then paid out of it, so that supply always
        // equals the sum of balances even mid-hook.
        bank::mint(ctx, &reserve(), minted).map_err(tx_err)?;
        let validator_pool = minted
            .mul_div(p.validator_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let fees = bank::balance(ctx.state, &bank::fee_collector())?;
        let mut fees_moved = Amount::ZERO;
        let mut reserved_validators = Amount::ZERO;
        if total_weight > 0 {
            fees_moved = fees;
            bank::transfer(ctx, &bank::fee_collector(), &reserve(), fees).map_err(tx_err)?;
            for (addr, w) in &weights {
                let e = validator_pool
                    .mul_div(*w, total_weight)
                    .map_err(|_| crate::Error::Overflow("emission share"))?;
                let f = fees
                    .mul_div(*w, total_weight)
                    .map_err(|_| crate::Error::Overflow("fee share"))?;
                bank::transfer(
                    ctx,
                    &reserve(),
                    addr,
                    e.checked_add(f)
                        .map_err(|_| crate::Error::Overflow("share"))?,
                )
                .map_err(tx_err)?;
                earnings::record(
                    ctx.state,
                    epoch,
                    addr,
                    earnings::Reason::ValidatorEmission,
                    e,
                )?;
                earnings::record(ctx.state, epoch, addr, earnings::Reason::FeeShare, f)?;
                summary.validators = summary
                    .validators
                    .checked_add(e)
                    .map_err(|_| crate::Error::Overflow("summary"))?;
                summary.fees = summary
                    .fees
                    .checked_add(f)
                    .map_err(|_| crate::Error::Overflow("summary"))?;
            }
        } else {
            // No liveness evidence: the validators' emission stays in the reserve and the fees
            // wait in the collector for the next epoch's signers.
            reserved_validators = validator_pool;
            earnings::record(
                ctx.state,
                epoch,
                &reserve(),
                earnings::Reason::ReservedValidators,
                reserved_validators,
            )?;
        }
        // Workers are paid by the fees other accounts paid them for settled jobs, pro rata, but
        // never more than `worker_emission_per_fee_bps` of those fees: that cap is below the
        // burned protocol fee, so posting jobs to yourself (through any number of accounts)
        // costs more than the emission it earns. What is not paid waits in the reserve.
        let mut accounted = summary
            .validators
            .checked_add(reserved_validators)
            .map_err(|_| crate::Error::Overflow("split"))?;
        let worker_pool = minted
            .mul_div(p.worker_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let fees_by_worker = crate::modules::market::independent_fees(ctx.state, epoch)?;
        summary.workers = pay_capped(
            ctx,
            epoch,
            worker_pool,
            &fees_by_worker,
            p.worker_emission_per_fee_bps,
            earnings::Reason::WorkerEmission,
        )?;
        earnings::record(
            ctx.state,
            epoch,
            &reserve(),
            earnings::Reason::ReservedWorkers,
            worker_pool.checked_sub(summary.workers).unwrap_or_default(),
        )?;
        let data_pool = minted
            .mul_div(p.data_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        let used = crate::modules::market::data_used(ctx.state, epoch)?;
        summary.data = pay_pro_rata(ctx, epoch, data_pool, &used, earnings::Reason::DataEmission)?;
        earnings::record(
            ctx.state,
            epoch,
            &reserve(),
            earnings::Reason::ReservedData,
            data_pool.checked_sub(summary.data).unwrap_or_default(),
        )?;
        // Auditors are paid by audits completed (a revealed verdict, a caught canary, a won
        // dispute); audits are assigned by the ledger, so they cannot be farmed.
        let auditor_pool = minted
            .mul_div(p.auditor_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        // Device checks are audits too: drawn by the ledger, sealed before the answers open.
        let (edge_credit, checks) = crate::modules::device::take_epoch(ctx, epoch)?;
        let mut done: std::collections::BTreeMap<Address, u64> =
            crate::modules::verify::audits_done(ctx.state, epoch)?
                .into_iter()
                .collect();
        for (a, n) in checks {
            *done.entry(a).or_default() += n;
        }
        let done: Vec<(Address, u64)> = done.into_iter().collect();
        summary.auditors = pay_pro_rata(
            ctx,
            epoch,
            auditor_pool,
            &done,
            earnings::Reason::AuditorEmission,
        )?;
        earnings::record(
            ctx.state,
            epoch,
            &reserve(),
            earnings::Reason::ReservedAuditors,
            auditor_pool
                .checked_sub(summary.auditors)
                .unwrap_or_default(),
        )?;
        // Edge devices are paid by credited records: answered probes, each one a real
        // embedding of a job's unit or a canary, and none from an epoch a check caught.
        let edge_pool = minted
            .mul_div(p.edge_bps as u128, 10_000)
            .map_err(|_| crate::Error::Overflow("emission split"))?;
        summary.edge = pay_pro_rata(
            ctx,
            epoch,
            edge_pool,
            &edge_credit,
            earnings::Reason::EdgeUptime,
        )?;
        earnings::record(
            ctx.state,
            epoch,
            &reserve(),
            earnings::Reason::ReservedEdge,
            edge_pool.checked_sub(summary.edge).unwrap_or_default(),
        )?;
        for a in [worker_pool, data_pool, auditor_pool, edge_pool] {
            accounted = accounted
                .checked_add(a)
                .map_err(|_| crate::Error::Overflow("split"))?;
        }
        let dust = minted.checked_sub(accounted).unwrap_or_default();
        earnings::record(ctx.state, epoch, &reserve(), earnings::Reason::Dust, dust)?;
        // Everything minted or collected that the validators did not receive stays in the reserve.
        summary.reserved = minted
            .checked_add(fees_moved)
            .and_then(|t| t.checked_sub(summary.validators))
            .and_then(|t| t.checked_sub(summary.fees))
            .and_then(|t| t.checked_sub(summary.workers))
            .and_then(|t| t.checked_sub(summary.data))
            .and_then(|t| t.checked_sub(summary.auditors))
            .and_then(|t| t.checked_sub(summary.edge))
            .map_err(|_| crate::Error::Overflow("summary"))?;
        ctx.state.put(key(EPOCH, &[&epoch.to_be_bytes()]), &summary);
        ctx.emit(
            events::EPOCH,
            &[
                (attr::EPOCH, epoch.to_string()),
                (attr::EMISSION, minted.0.to_string()),
                (attr::VALIDATORS, summary.validators.0.to_string()),
                (attr::FEES, summary.fees.0.to_string()),
            ],
        );
        Ok(())
    }
}
