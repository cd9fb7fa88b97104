//! Execution of `staking` messages and the module's block hooks.

use super::Staking;
use super::events;
use super::{msg::*, query::*, role::*, state::*};
use crate::earnings;
use crate::modules::{Ctx, Module, bank};
use crate::{ExecResult, Result, TxError, events::attr, state::key};
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

impl Module for Staking {
    const NAME: &'static str = "staking";
    const ID: u8 = 2;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Bond { role, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount.into());
                }
                if let Some(until) =
                    jailed_until(ctx.state, &sender)?.filter(|u| *u > ctx.env.height)
                {
                    return Err(TxError::Jailed(until).into());
                }
                let k = stake_key(&sender, *role);
                let new = ctx.state.amount(&k)?.checked_add(*amount)?;
                let min = ctx.params.staking.min_stake[*role as usize];
                if new < min {
                    return Err(TxError::BelowMinStake {
                        role: role.name().into(),
                        min,
                        got: new,
                    }
                    .into());
                }
                bank::transfer(ctx, &sender, &pool(), *amount)?;
                ctx.state.set_amount(k, new);
                add_total(ctx, *role, *amount, true)?;
                // A validator votes with the key that signs its transactions: consensus reads
                // the epoch's participant keys from here.
                if *role == Role::Validator
                    && let Some(signer) = &ctx.signer
                {
                    ctx.state
                        .put_raw(key(CONSENSUS_KEY, &[&sender.0]), signer.as_ref().to_vec());
                }
                ctx.emit(
                    events::BOND,
                    &[
                        (attr::ADDRESS, sender.to_string()),
                        (attr::ROLE, role.name().into()),
                        (attr::AMOUNT, amount.0.to_string()),
                    ],
                );
            }
            Msg::Unbond { role, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount.into());
                }
                let open =
                    locks(ctx.state, &sender, *role)? + count(ctx.state, HOLD, &sender, *role)?;
                if open > 0 {
                    return Err(TxError::StakeLocked { open }.into());
                }
                let k = stake_key(&sender, *role);
                let bonded = ctx.state.amount(&k)?;
                let left = bonded
                    .checked_sub(*amount)
                    .map_err(|_| TxError::InsufficientStake {
                        bonded,
                        requested: *amount,
                    })?;
                let min = ctx.params.staking.min_stake[*role as usize];
                if !left.is_zero() && left < min {
                    return Err(TxError::BelowMinStake {
                        role: role.name().into(),
                        min,
                        got: left,
                    }
                    .into());
                }
                ctx.state.set_amount(k, left);
                add_total(ctx, *role, *amount, false)?;
                let release = ctx.env.height + ctx.params.staking.unbonding_delay;
                let uk = key(UNBOND, &[&release.to_be_bytes(), &sender.0, &[*role as u8]]);
                let queued = ctx.state.amount(&uk)?.checked_add(*amount)?;
                ctx.state.set_amount(uk, queued);
                ctx.emit(
                    events::UNBOND,
                    &[
                        (attr::ADDRESS, sender.to_string()),
                        (attr::ROLE, role.name().into()),
                        (attr::AMOUNT, amount.0.to_string()),
                        (attr::RELEASE_HEIGHT, release.to_string()),
                    ],
                );
            }
            Msg::Unjail => match jailed_until(ctx.state, &sender)? {
                None => return Err(TxError::NotJailed.into()),
                Some(until) if until > ctx.env.height => return Err(TxError::Jailed(until).into()),
                Some(_) => {
                    ctx.state.delete(key(JAIL, &[&sender.0]));
                    ctx.emit(events::UNJAIL, &[(attr::ADDRESS, sender.to_string())]);
                }
            },
        }
        Ok(())
    }

    /// Records the block's liveness evidence, then pays out unbondings that mature at this
    /// height.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        record_signatures(ctx)?;
        punish_equivocations(ctx)?;
        let prefix = key(UNBOND, &[&ctx.env.height.to_be_bytes()]);
        let epoch = ctx.epoch();
        for (k, v) in ctx.state.scan_prefix(&prefix)? {
            let amount = mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?;
            let addr = Address(
                k[prefix.len()..prefix.len() + 20]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "short key"))?,
            );
            bank::transfer(ctx, &pool(), &addr, amount)
                .map_err(|e| e.into_fatal("unbond release"))?;
            earnings::record(
                ctx.state,
                epoch,
                &addr,
                earnings::Reason::UnbondReleased,
                amount,
            )?;
            ctx.state.delete(k);
            ctx.emit(
                events::UNBOND_RELEASED,
                &[
                    (attr::ADDRESS, addr.to_string()),
                    (attr::AMOUNT, amount.0.to_string()),
                ],
            );
        }
        Ok(())
    }

    /// Jails the validators of `epoch` that signed too few of its certified blocks, then fixes
    /// the validator set of `epoch + 1`.
    fn end_epoch<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
        jail_absent(ctx, epoch)?;
        let mut candidates = Vec::new();
        for (addr, role, stake) in stakes(ctx.state)? {
            if role != Role::Validator || stake < ctx.params.staking.min_stake[0] {
                continue;
            }
            if jailed_until(ctx.state, &addr)?.is_some_and(|u| u > ctx.env.height) {
                continue;
            }
            candidates.push((stake, addr));
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        candidates.truncate(ctx.params.staking.max_validators as usize);
        // A chain without validators could never finalize again: if everyone left or was
        // jailed, the current set carries over.
        if candidates.is_empty() {
            candidates = validator_set(ctx.state, epoch)?
                .into_iter()
                .map(|(a, s)| (s, a))
                .collect();
        }
        let next = epoch + 1;
        let mut keys = Vec::with_capacity(candidates.len());
        for (stake, addr) in &candidates {
            ctx.state
                .put(key(VALSET, &[&next.to_be_bytes(), &addr.0]), stake);
            // Every validator bonded with a signed transaction or at genesis, so it has a key.
            if let Some(k) = ctx.state.get_raw(&key(CONSENSUS_KEY, &[&addr.0]))? {
                keys.push(k);
            }
        }
        if !keys.is_empty() {
            ctx.state.put_raw(set_keys_key(next), encode_set_keys(keys));
        }
        ctx.emit(
            events::VALIDATOR_SET,
            &[
                (attr::EPOCH, next.to_string()),
                (attr::SIZE, candidates.len().to_string()),
            ],
        );
        Ok(())
    }
}

/// Counts the signers of the certificate the block carries (if any) for the block's epoch.
///
/// The certificate must name a block below this one and above the last one certified on this
/// chain, so that no block is counted twice; otherwise the block is invalid.
fn record_signatures<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let Some(c) = &ctx.env.certified else {
        return Ok(());
    };
    let last = last_certified(ctx.state)?;
    if c.height >= ctx.env.height || c.height <= last {
        return Err(crate::Error::InvalidCertificate(format!(
            "certifies height {} but must be in ({last}, {})",
            c.height, ctx.env.height
        )));
    }
    if c.signers.is_empty() {
        return Err(crate::Error::InvalidCertificate("no signers".into()));
    }
    let epoch = ctx.epoch();
    let signers: std::collections::BTreeSet<Address> = c.signers.iter().copied().collect();
    for a in &signers {
        let k = key(SIGNED, &[&epoch.to_be_bytes(), &a.0]);
        let n = ctx.state.get::<u64>(&k)?.unwrap_or(0);
        ctx.state.put(k, &(n + 1));
    }
    let k = key(CERTIFIED, &[&epoch.to_be_bytes()]);
    let n = ctx.state.get::<u64>(&k)?.unwrap_or(0);
    ctx.state.put(k, &(n + 1));
    ctx.state.put(LAST_CERTIFIED.to_vec(), &c.height);
    Ok(())
}

/// Share of its validator stake, in basis points, that a validator proven to have equivocated
/// loses (burned); it is also jailed for good (tombstoned), like a double-signer in Cosmos.
pub const EQUIVOCATION_SLASH_BPS: u16 = 500;

/// True when `addr` was slashed for equivocation.
pub fn tombstoned(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<bool> {
    Ok(crate::state::read::<u64>(state, &key(TOMBSTONE, &[&addr.0]))?.is_some())
}

/// Slashes and tombstones the equivocating validators the block names. The consensus layer
/// checked the evidence (two conflicting votes, both signed by the validator); the ledger
/// refuses a block that names a validator twice or one already tombstoned, so the same
/// evidence is never paid for twice.
fn punish_equivocations<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let equivocations = ctx.env.equivocations.clone();
    for e in &equivocations {
        if tombstoned(ctx.state, &e.validator)? {
            return Err(crate::Error::InvalidEvidence(format!(
                "{} is already tombstoned",
                e.validator
            )));
        }
        ctx.state.put(key(TOMBSTONE, &[&e.validator.0]), &e.view);
        let cut = slash(
            ctx,
            &e.validator,
            Role::Validator,
            EQUIVOCATION_SLASH_BPS,
            "equivocation",
        )?;
        jail(ctx, &e.validator, u64::MAX);
        ctx.emit(
            events::EQUIVOCATION,
            &[
                (attr::ADDRESS, e.validator.to_string()),
                (attr::EPOCH, e.epoch.to_string()),
                (attr::VIEW, e.view.to_string()),
                (attr::AMOUNT, cut.0.to_string()),
            ],
        );
    }
    Ok(())
}

/// Jails, for `downtime_jail` blocks, every validator of `epoch`'s set that signed fewer than
/// `min_signed_bps` of the epoch's certified blocks. An epoch without certificates proves
/// nothing either way and jails no one.
fn jail_absent<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
    let (certified, signed) = liveness(ctx.state, epoch)?;
    if certified == 0 {
        return Ok(());
    }
    let signed: std::collections::BTreeMap<Address, u64> = signed.into_iter().collect();
    let min_bps = ctx.params.staking.min_signed_bps.min(10_000) as u128;
    let until = ctx
        .env
        .height
        .saturating_add(ctx.params.staking.downtime_jail);
    for (addr, _) in validator_set(ctx.state, epoch)? {
        let n = signed.get(&addr).copied().unwrap_or(0);
        if (n as u128) * 10_000 >= min_bps * certified as u128 {
            continue;
        }
        if jailed_until(ctx.state, &addr)?.is_some_and(|u| u >= until) {
            continue;
        }
        ctx.emit(
            events::DOWNTIME,
            &[
                (attr::ADDRESS, addr.to_string()),
                (attr::EPOCH, epoch.to_string()),
                (attr::SIGNED, n.to_string()),
                (attr::CERTIFIED, certified.to_string()),
            ],
        );
        jail(ctx, &addr, until);
    }
    Ok(())
}

fn add_total<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    role: Role,
    amount: Amount,
    up: bool,
) -> ExecResult {
    let k = key(TOTAL, &[&[role as u8]]);
    let t = ctx.state.amount(&k)?;
    let t = if up {
        t.checked_add(amount)?
    } else {
        t.checked_sub(amount)?
    };
    ctx.state.set_amount(k, t);
    Ok(())
}

/// Bonds stake directly (genesis), moving it from the account's balance; a validator's
/// consensus key is recorded.
pub fn genesis_bond<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    amount: Amount,
) -> ExecResult {
    if role == Role::Validator
        && let Some(signer) = &ctx.signer
    {
        ctx.state
            .put_raw(key(CONSENSUS_KEY, &[&addr.0]), signer.as_ref().to_vec());
    }
    bank::transfer(ctx, addr, &pool(), amount)?;
    let k = stake_key(addr, role);
    let new = ctx.state.amount(&k)?.checked_add(amount)?;
    ctx.state.set_amount(k, new);
    add_total(ctx, role, amount, true)?;
    ctx.state
        .put(key(VALSET, &[&0u64.to_be_bytes(), &addr.0]), &new);
    Ok(())
}

/// Jails `addr` until `until` (hook for the verify and market modules).
pub fn jail<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, addr: &Address, until: u64) {
    ctx.state.put(key(JAIL, &[&addr.0]), &until);
    ctx.emit(
        events::JAIL,
        &[
            (attr::ADDRESS, addr.to_string()),
            (attr::UNTIL, until.to_string()),
        ],
    );
}

/// Burns `bps` basis points of `addr`'s `role` stake (hook for the verify and market modules).
/// Returns the amount slashed.
pub fn slash<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    bps: u16,
    reason: &str,
) -> Result<Amount> {
    let bonded = ctx.state.amount(&stake_key(addr, role))?;
    let cut = bonded
        .mul_div(bps.min(10_000) as u128, 10_000)
        .map_err(|_| crate::Error::Overflow("slash"))?;
    slash_amount(ctx, addr, role, cut, earnings::Reason::Slashed, reason)
}

/// Slashes exactly `amount` (at most what is bonded) of `addr`'s `role` stake and burns it.
pub fn slash_amount<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    amount: Amount,
    code: earnings::Reason,
    reason: &str,
) -> Result<Amount> {
    let bonded = ctx.state.amount(&stake_key(addr, role))?;
    let cut = amount.min(bonded);
    if cut.is_zero() {
        return Ok(cut);
    }
    let k = stake_key(addr, role);
    ctx.state.set_amount(
        k,
        bonded
            .checked_sub(cut)
            .map_err(|_| crate::Error::Overflow("slash"))?,
    );
    add_total(ctx, role, cut, false).map_err(|e| e.into_fatal("slash"))?;
    bank::burn(ctx, &pool(), cut).map_err(|e| e.into_fatal("slash"))?;
    let epoch = ctx.epoch();
    earnings::record(ctx.state, epoch, addr, code, cut)?;
    ctx.emit(
        events::SLASH,
        &[
            (attr::ADDRESS, addr.to_string()),
            (attr::ROLE, role.name().into()),
            (attr::AMOUNT, cut.0.to_string()),
            (attr::REASON, reason.into()),
        ],
    );
    Ok(cut)
}

/// Adds (`open`) or removes one open obligation on `addr`'s `role` stake (see [`LOCK`]).
pub fn lock<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    open: bool,
) -> Result<()> {
    step(ctx, LOCK, addr, role, open)
}

/// Opens (`open`) or releases a hold on `addr`'s `role` stake: like [`lock`], it refuses
/// unbonding while any is open, but it is not an open result (the audit rate does not count it).
pub fn hold<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    open: bool,
) -> Result<()> {
    step(ctx, HOLD, addr, role, open)
}

fn step<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    prefix: &[u8],
    addr: &Address,
    role: Role,
    open: bool,
) -> Result<()> {
    ctx.state
        .step_counter(key(prefix, &[&addr.0, &[role as u8]]), open)
        .map(|_| ())
}

/// Open obligations on `addr`'s `role` stake.
pub fn locks<S: StateRead + ?Sized>(
    state: &crate::state::StateCache<'_, S>,
    addr: &Address,
    role: Role,
) -> Result<u64> {
    count(state, LOCK, addr, role)
}

fn count<S: StateRead + ?Sized>(
    state: &crate::state::StateCache<'_, S>,
    prefix: &[u8],
    addr: &Address,
    role: Role,
) -> Result<u64> {
    Ok(state
        .get::<u64>(&key(prefix, &[&addr.0, &[role as u8]]))?
        .unwrap_or(0))
}

/// Moves `amount` of `addr`'s bonded `role` stake to `to` (a compensation ordered by another
/// module, e.g. a refund for a proven session dispute).
pub fn take_stake<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    amount: Amount,
    to: &Address,
) -> Result<()> {
    if amount.is_zero() {
        return Ok(());
    }
    let k = stake_key(addr, role);
    let bonded = ctx.state.amount(&k)?;
    let left = bonded
        .checked_sub(amount)
        .map_err(|_| crate::Error::Overflow("take stake"))?;
    ctx.state.set_amount(k, left);
    add_total(ctx, role, amount, false).map_err(|e| e.into_fatal("take stake"))?;
    bank::transfer(ctx, &pool(), to, amount).map_err(|e| e.into_fatal("take stake"))?;
    Ok(())
}
