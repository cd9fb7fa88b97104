//! Execution of `bank` messages and the module's block hooks.

use super::Bank;
use super::events;
use super::{msg::*, params::*, state::*};
use crate::earnings;
use crate::modules::{Ctx, Module};
use crate::{ExecResult, TxError, events::attr};
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

impl Module for Bank {
    const NAME: &'static str = "bank";
    const ID: u8 = 1;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Transfer { to, amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount.into());
                }
                transfer(ctx, &sender, to, *amount)?;
                ctx.emit(
                    events::TRANSFER,
                    &[
                        (attr::FROM, sender.to_string()),
                        (attr::TO, to.to_string()),
                        (attr::AMOUNT, amount.0.to_string()),
                    ],
                );
            }
            Msg::Burn { amount } => {
                if amount.is_zero() {
                    return Err(TxError::ZeroAmount.into());
                }
                burn(ctx, &sender, *amount)?;
                ctx.emit(
                    events::BURN,
                    &[
                        (attr::FROM, sender.to_string()),
                        (attr::AMOUNT, amount.0.to_string()),
                    ],
                );
            }
        }
        Ok(())
    }
}

/// Takes `amount` from `from`.
fn debit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    amount: Amount,
) -> ExecResult {
    let k = bal_key(from);
    let have = ctx.state.amount(&k)?;
    let left = have
        .checked_sub(amount)
        .map_err(|_| TxError::InsufficientBalance { need: amount, have })?;
    ctx.state.set_amount(k, left);
    Ok(())
}

/// Gives `amount` to `to`.
fn credit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    to: &Address,
    amount: Amount,
) -> ExecResult {
    let k = bal_key(to);
    let have = ctx.state.amount(&k)?;
    ctx.state.set_amount(k, have.checked_add(amount)?);
    Ok(())
}

/// Moves `amount` between accounts.
pub fn transfer<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> ExecResult {
    debit(ctx, from, amount)?;
    credit(ctx, to, amount)
}

/// Creates `amount` in `to` (emissions, genesis).
pub fn mint<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    to: &Address,
    amount: Amount,
) -> ExecResult {
    credit(ctx, to, amount)?;
    let s = ctx.state.amount(SUPPLY)?;
    ctx.state.put(SUPPLY.to_vec(), &s.checked_add(amount)?);
    Ok(())
}

/// Destroys `amount` held by `from`.
pub fn burn<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    from: &Address,
    amount: Amount,
) -> ExecResult {
    debit(ctx, from, amount)?;
    let s = ctx.state.amount(SUPPLY)?;
    ctx.state.put(SUPPLY.to_vec(), &s.checked_sub(amount)?);
    let b = ctx.state.amount(BURNED)?;
    ctx.state.put(BURNED.to_vec(), &b.checked_add(amount)?);
    Ok(())
}

/// Charges a transaction's fee: the burn share is destroyed, the rest goes to the fee collector.
pub fn charge_fee<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    payer: &Address,
    fee: Amount,
    p: &Params,
) -> ExecResult {
    if fee.is_zero() {
        return Ok(());
    }
    let burned = fee.mul_div(p.fee_burn_bps as u128, 10_000)?;
    transfer(ctx, payer, &fee_collector(), fee)?;
    if !burned.is_zero() {
        burn(ctx, &fee_collector(), burned)?;
    }
    let epoch = ctx.epoch();
    earnings::record(ctx.state, epoch, payer, earnings::Reason::FeePaid, fee)?;
    Ok(())
}
