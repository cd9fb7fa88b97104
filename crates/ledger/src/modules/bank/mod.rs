//! `bank`: balances, transfers, fees, burns and the total supply.
//!
//! State: `bank/bal/<addr>` → [`Amount`], `bank/supply` → [`Amount`], `bank/burned` → [`Amount`].
//! Invariant: the sum of all balances (module accounts included) equals the supply.

use super::{Ctx, Module, rewards};
use crate::{Result, TxError, state::key};
use mycel_primitives::{
    Address, Amount,
    codec::{CodecError, EncodeSize, Read, Write},
};
use mycel_store::StateRead;

/// The bank module.
pub struct Bank;

const BAL: &[u8] = b"bank/bal/";
const SUPPLY: &[u8] = b"bank/supply";
const BURNED: &[u8] = b"bank/burned";

/// Account that collects the non-burned part of fees until the epoch's rewards pay it out.
pub fn fee_collector() -> Address {
    Address::module("fee_collector")
}

/// Bank parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Flat minimum fee per transaction.
    pub min_fee: Amount,
    /// Additional minimum fee per encoded byte.
    pub fee_per_byte: Amount,
    /// Share of every fee that is burned, in basis points.
    pub fee_burn_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_fee: Amount(10_000),
            fee_per_byte: Amount(10),
            fee_burn_bps: 5_000,
        }
    }
}

/// The minimum fee for a transaction of `size` encoded bytes.
pub fn min_fee(p: &Params, size: usize) -> Amount {
    Amount(
        p.min_fee
            .0
            .saturating_add(p.fee_per_byte.0.saturating_mul(size as u128)),
    )
}

/// Bank messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: Amount,
    },
    /// Destroys `amount` of the sender's balance.
    Burn {
        /// Amount.
        amount: Amount,
    },
}

impl Write for Msg {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Msg::Transfer { to, amount } => {
                0u8.write(buf);
                to.write(buf);
                amount.write(buf);
            }
            Msg::Burn { amount } => {
                1u8.write(buf);
                amount.write(buf);
            }
        }
    }
}

impl EncodeSize for Msg {
    fn encode_size(&self) -> usize {
        match self {
            Msg::Transfer { .. } => 1 + 20 + 16,
            Msg::Burn { .. } => 1 + 16,
        }
    }
}

impl Read for Msg {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Msg::Transfer {
                to: Address::read_cfg(buf, &())?,
                amount: Amount::read_cfg(buf, &())?,
            }),
            1 => Ok(Msg::Burn {
                amount: Amount::read_cfg(buf, &())?,
            }),
            k => Err(super::unknown(Bank::ID, k)),
        }
    }
}

impl Module for Bank {
    const NAME: &'static str = "bank";
    const ID: u8 = 1;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> std::result::Result<(), TxError> {
        match msg {
            Msg::Transfer { to, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                transfer(ctx, &sender, to, *amount)?;
                ctx.emit(
                    "bank.transfer",
                    &[
                        ("from", sender.to_string()),
                        ("to", to.to_string()),
                        ("amount", amount.0.to_string()),
                    ],
                );
            }
            Msg::Burn { amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                burn(ctx, &sender, *amount)?;
                ctx.emit(
                    "bank.burn",
                    &[
                        ("from", sender.to_string()),
                        ("amount", amount.0.to_string()),
                    ],
                );
            }
        }
        Ok(())
    }
}

fn bal_key(a: &Address) -> Vec<u8> {
    key(BAL, &[&a.0])
}

/// The balance of `addr`.
pub fn balance(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &bal_key(addr))?.unwrap_or_default())
}

/// The total supply.
pub fn supply(state: &(impl StateRead + ?Sized)) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, SUPPLY)?.unwrap_or_default())
}

/// Everything ever burned.
pub fn burned(state: &(impl StateRead + ?Sized)) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, BURNED)?.unwrap_or_default())
}

/// All non-zero balances, in address order.
pub fn balances(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(BAL)? {
        let addr: [u8; 20] = k[BAL.len()..]
            .try_into()
            .map_err(|_| crate::state::corrupt(&k, "address length"))?;
        let amt = mycel_primitives::codec::decode::<Amount>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        out.push((Address(addr), amt));
    }
    Ok(out)
}

/// Takes `amount` from `from`.
pub fn debit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    let k = bal_key(from);
    let have = ctx
        .state
        .amount(&k)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    let left = have
        .checked_sub(amount)
        .map_err(|_| TxError::InsufficientBalance { need: amount, have })?;
    ctx.state.set_amount(k, left);
    Ok(())
}

/// Gives `amount` to `to`.
pub fn credit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    to: &Address,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    let k = bal_key(to);
    let have = ctx
        .state
        .amount(&k)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    ctx.state.set_amount(k, have.checked_add(amount)?);
    Ok(())
}

/// Moves `amount` between accounts.
pub fn transfer<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    debit(ctx, from, amount)?;
    credit(ctx, to, amount)
}

/// Creates `amount` in `to` (emissions, genesis).
pub fn mint<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    to: &Address,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    credit(ctx, to, amount)?;
    let s = ctx
        .state
        .amount(SUPPLY)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    ctx.state.put(SUPPLY.to_vec(), &s.checked_add(amount)?);
    Ok(())
}

/// Destroys `amount` held by `from`.
pub fn burn<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    amount: Amount,
) -> std::result::Result<(), TxError> {
    debit(ctx, from, amount)?;
    let s = ctx
        .state
        .amount(SUPPLY)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    ctx.state.put(SUPPLY.to_vec(), &s.checked_sub(amount)?);
    let b = ctx
        .state
        .amount(BURNED)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    ctx.state.put(BURNED.to_vec(), &b.checked_add(amount)?);
    Ok(())
}

/// Charges a transaction's fee: the burn share is destroyed, the rest goes to the fee collector.
pub fn charge_fee<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    payer: &Address,
    fee: Amount,
    p: &Params,
) -> std::result::Result<(), TxError> {
    if fee.is_zero() {
        return Ok(());
    }
    let burned = fee.mul_div(p.fee_burn_bps as u128, 10_000)?;
    transfer(ctx, payer, &fee_collector(), fee)?;
    if !burned.is_zero() {
        burn(ctx, &fee_collector(), burned)?;
    }
    let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
    rewards::record(ctx.state, epoch, payer, rewards::Reason::FeePaid, fee)
        .map_err(|e| TxError::Malformed(e.to_string()))?;
    Ok(())
}
