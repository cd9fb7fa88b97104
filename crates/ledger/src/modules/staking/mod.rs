//! `staking`: bonding and unbonding stake for roles, jailing and slashing.
//!
//! Bonded tokens move to the staking module account, so the bank's supply invariant holds.
//! Unbonded tokens wait `unbonding_delay` blocks in a queue keyed by release height and are then
//! paid back. At each epoch end the validator set of the next epoch is fixed from the bonded
//! validator stakes (highest stake first, address as tie-break, jailed accounts excluded).
//!
//! State: `staking/stake/<addr><role>` → [`Amount`]; `staking/total/<role>` → [`Amount`];
//! `staking/unbond/<release height BE><addr><role>` → [`Amount`]; `staking/jail/<addr>` → until
//! height (u64); `staking/valset/<epoch BE><addr>` → stake.

use super::{Ctx, Module, bank, rewards};
use crate::{Result, TxError, state::key};
use mycel_primitives::{
    Address, Amount,
    codec::{CodecError, EncodeSize, Read, Write},
};
use mycel_store::StateRead;

/// The staking module.
pub struct Staking;

const STAKE: &[u8] = b"staking/stake/";
const TOTAL: &[u8] = b"staking/total/";
const UNBOND: &[u8] = b"staking/unbond/";
const JAIL: &[u8] = b"staking/jail/";
const VALSET: &[u8] = b"staking/valset/";

/// The account that holds bonded and unbonding stake.
pub fn pool() -> Address {
    Address::module("staking")
}

/// What stake is bonded for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Proposes and votes on blocks.
    Validator = 0,
    /// Runs compute jobs.
    Worker = 1,
    /// Re-executes sampled work.
    Auditor = 2,
    /// A light edge device.
    Edge = 3,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Validator, Role::Worker, Role::Auditor, Role::Edge];

    fn from_u8(v: u8) -> Option<Role> {
        Role::ALL.get(v as usize).copied()
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Validator => "validator",
            Role::Worker => "worker",
            Role::Auditor => "auditor",
            Role::Edge => "edge",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown role {s:?} (validator, worker, auditor, edge)"))
    }
}

/// Staking parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks between an unbond and the release of its tokens.
    pub unbonding_delay: u64,
    /// Minimum stake per role, indexed by [`Role`] as usize.
    pub min_stake: [Amount; 4],
    /// Largest validator set.
    pub max_validators: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            unbonding_delay: 100,
            min_stake: [
                Amount::from_myc(1_000),
                Amount::from_myc(100),
                Amount::from_myc(100),
                Amount::from_myc(10),
            ],
            max_validators: 100,
        }
    }
}

/// Staking messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Bonds `amount` from the sender's balance for `role`.
    Bond {
        /// Role.
        role: Role,
        /// Amount.
        amount: Amount,
    },
    /// Starts unbonding `amount` of the sender's `role` stake.
    Unbond {
        /// Role.
        role: Role,
        /// Amount.
        amount: Amount,
    },
    /// Leaves jail once the jail term has passed.
    Unjail,
}

impl Write for Msg {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Msg::Bond { role, amount } => {
                0u8.write(buf);
                (*role as u8).write(buf);
                amount.write(buf);
            }
            Msg::Unbond { role, amount } => {
                1u8.write(buf);
                (*role as u8).write(buf);
                amount.write(buf);
            }
            Msg::Unjail => 2u8.write(buf),
        }
    }
}

impl EncodeSize for Msg {
    fn encode_size(&self) -> usize {
        match self {
            Msg::Bond { .. } | Msg::Unbond { .. } => 1 + 1 + 16,
            Msg::Unjail => 1,
        }
    }
}

impl Read for Msg {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        let kind = u8::read_cfg(buf, &())?;
        let role = |buf: &mut _| -> std::result::Result<Role, CodecError> {
            let r = u8::read_cfg(buf, &())?;
            Role::from_u8(r).ok_or(CodecError::InvalidEnum(r))
        };
        match kind {
            0 => Ok(Msg::Bond {
                role: role(buf)?,
                amount: Amount::read_cfg(buf, &())?,
            }),
            1 => Ok(Msg::Unbond {
                role: role(buf)?,
                amount: Amount::read_cfg(buf, &())?,
            }),
            2 => Ok(Msg::Unjail),
            k => Err(super::unknown(Staking::ID, k)),
        }
    }
}

fn stake_key(a: &Address, r: Role) -> Vec<u8> {
    key(STAKE, &[&a.0, &[r as u8]])
}

fn err(e: crate::Error) -> TxError {
    TxError::Malformed(e.to_string())
}

impl Module for Staking {
    const NAME: &'static str = "staking";
    const ID: u8 = 2;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> std::result::Result<(), TxError> {
        match msg {
            Msg::Bond { role, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                if let Some(until) = jailed_until(ctx.state, &sender)
                    .map_err(err)?
                    .filter(|u| *u > ctx.env.height)
                {
                    return Err(TxError::Jailed(until));
                }
                let k = stake_key(&sender, *role);
                let new = ctx.state.amount(&k).map_err(err)?.checked_add(*amount)?;
                let min = ctx.params.staking.min_stake[*role as usize];
                if new < min {
                    return Err(TxError::BelowMinStake {
                        role: role.name().into(),
                        min,
                        got: new,
                    });
                }
                bank::transfer(ctx, &sender, &pool(), *amount)?;
                ctx.state.set_amount(k, new);
                add_total(ctx, *role, *amount, true)?;
                ctx.emit(
                    "staking.bond",
                    &[
                        ("address", sender.to_string()),
                        ("role", role.name().into()),
                        ("amount", amount.0.to_string()),
                    ],
                );
            }
            Msg::Unbond { role, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                let k = stake_key(&sender, *role);
                let bonded = ctx.state.amount(&k).map_err(err)?;
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
                    });
                }
                ctx.state.set_amount(k, left);
                add_total(ctx, *role, *amount, false)?;
                let release = ctx.env.height + ctx.params.staking.unbonding_delay;
                let uk = key(UNBOND, &[&release.to_be_bytes(), &sender.0, &[*role as u8]]);
                let queued = ctx.state.amount(&uk).map_err(err)?.checked_add(*amount)?;
                ctx.state.set_amount(uk, queued);
                ctx.emit(
                    "staking.unbond",
                    &[
                        ("address", sender.to_string()),
                        ("role", role.name().into()),
                        ("amount", amount.0.to_string()),
                        ("release_height", release.to_string()),
                    ],
                );
            }
            Msg::Unjail => match jailed_until(ctx.state, &sender).map_err(err)? {
                None => return Err(TxError::NotJailed),
                Some(until) if until > ctx.env.height => return Err(TxError::Jailed(until)),
                Some(_) => {
                    ctx.state.delete(key(JAIL, &[&sender.0]));
                    ctx.emit("staking.unjail", &[("address", sender.to_string())]);
                }
            },
        }
        Ok(())
    }

    /// Pays out unbondings that mature at this height.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        let prefix = key(UNBOND, &[&ctx.env.height.to_be_bytes()]);
        let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
        for (k, v) in ctx.state.scan_prefix(&prefix)? {
            let amount = mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?;
            let addr = Address(
                k[prefix.len()..prefix.len() + 20]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "short key"))?,
            );
            bank::transfer(ctx, &pool(), &addr, amount)
                .map_err(|_| crate::Error::Overflow("unbond release"))?;
            rewards::record(
                ctx.state,
                epoch,
                &addr,
                rewards::Reason::UnbondReleased,
                amount,
            )?;
            ctx.state.delete(k);
            ctx.emit(
                "staking.unbond_released",
                &[
                    ("address", addr.to_string()),
                    ("amount", amount.0.to_string()),
                ],
            );
        }
        Ok(())
    }

    /// Fixes the validator set of `epoch + 1`.
    fn end_epoch<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
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
        let next = epoch + 1;
        for (stake, addr) in &candidates {
            ctx.state
                .put(key(VALSET, &[&next.to_be_bytes(), &addr.0]), stake);
        }
        ctx.emit(
            "staking.validator_set",
            &[
                ("epoch", next.to_string()),
                ("size", candidates.len().to_string()),
            ],
        );
        Ok(())
    }
}

fn add_total<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    role: Role,
    amount: Amount,
    up: bool,
) -> std::result::Result<(), TxError> {
    let k = key(TOTAL, &[&[role as u8]]);
    let t = ctx.state.amount(&k).map_err(err)?;
    let t = if up {
        t.checked_add(amount)?
    } else {
        t.checked_sub(amount)?
    };
    ctx.state.set_amount(k, t);
    Ok(())
}

/// Bonds stake directly (genesis), moving it from the account's balance.
pub fn genesis_bond<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    addr: &Address,
    role: Role,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    bank::transfer(ctx, addr, &pool(), amount)?;
    let k = stake_key(addr, role);
    let new = ctx.state.amount(&k).map_err(err)?.checked_add(amount)?;
    ctx.state.set_amount(k, new);
    add_total(ctx, role, amount, true)?;
    ctx.state
        .put(key(VALSET, &[&0u64.to_be_bytes(), &addr.0]), &new);
    Ok(())
}

/// The bonded stake of `addr` for `role`.
pub fn stake(state: &(impl StateRead + ?Sized), addr: &Address, role: Role) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &stake_key(addr, role))?.unwrap_or_default())
}

/// Total bonded stake for `role`.
pub fn total(state: &(impl StateRead + ?Sized), role: Role) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &key(TOTAL, &[&[role as u8]]))?.unwrap_or_default())
}

/// Every (address, role, stake), in key order.
pub fn stakes(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Role, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(STAKE)? {
        let rest = &k[STAKE.len()..];
        if rest.len() != 21 {
            return Err(crate::state::corrupt(&k, "bad stake key"));
        }
        let role = Role::from_u8(rest[20]).ok_or_else(|| crate::state::corrupt(&k, "bad role"))?;
        let amount = mycel_primitives::codec::decode::<Amount>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        out.push((
            Address(rest[..20].try_into().expect("20 bytes")),
            role,
            amount,
        ));
    }
    Ok(out)
}

/// Pending unbondings of `addr`: (release height, role, amount).
pub fn unbonding(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<Vec<(u64, Role, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(UNBOND)? {
        let rest = &k[UNBOND.len()..];
        if rest.len() != 29 || rest[8..28] != addr.0 {
            continue;
        }
        let h = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
        let role = Role::from_u8(rest[28]).ok_or_else(|| crate::state::corrupt(&k, "bad role"))?;
        out.push((
            h,
            role,
            mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?,
        ));
    }
    Ok(out)
}

/// The height until which `addr` is jailed, if it is.
pub fn jailed_until(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<Option<u64>> {
    crate::state::read::<u64>(state, &key(JAIL, &[&addr.0]))
}

/// The validator set of `epoch`: (address, stake), in address order.
pub fn validator_set(
    state: &(impl StateRead + ?Sized),
    epoch: u64,
) -> Result<Vec<(Address, Amount)>> {
    let prefix = key(VALSET, &[&epoch.to_be_bytes()]);
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(&prefix)? {
        let addr = Address(
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad valset key"))?,
        );
        out.push((
            addr,
            mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?,
        ));
    }
    Ok(out)
}

/// Jails `addr` until `until` (hook for the verify and market modules).
pub fn jail<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, addr: &Address, until: u64) {
    ctx.state.put(key(JAIL, &[&addr.0]), &until);
    ctx.emit(
        "staking.jail",
        &[("address", addr.to_string()), ("until", until.to_string())],
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
    let k = stake_key(addr, role);
    let bonded = ctx.state.amount(&k)?;
    let cut = bonded
        .mul_div(bps.min(10_000) as u128, 10_000)
        .map_err(|_| crate::Error::Overflow("slash"))?;
    if cut.is_zero() {
        return Ok(cut);
    }
    ctx.state.set_amount(
        k,
        bonded
            .checked_sub(cut)
            .map_err(|_| crate::Error::Overflow("slash"))?,
    );
    add_total(ctx, role, cut, false).map_err(|_| crate::Error::Overflow("slash"))?;
    bank::burn(ctx, &pool(), cut).map_err(|_| crate::Error::Overflow("slash"))?;
    let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
    rewards::record(ctx.state, epoch, addr, rewards::Reason::Slashed, cut)?;
    ctx.emit(
        "staking.slash",
        &[
            ("address", addr.to_string()),
            ("role", role.name().into()),
            ("amount", cut.0.to_string()),
            ("reason", reason.into()),
        ],
    );
    Ok(cut)
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
    add_total(ctx, role, amount, false).map_err(|_| crate::Error::Overflow("take stake"))?;
    bank::transfer(ctx, &pool(), to, amount).map_err(|_| crate::Error::Overflow("take stake"))?;
    Ok(())
}
