//! Ledger modules and their registry.
//!
//! A module owns a state prefix (`<name>/…`), its messages, events, queries and block/epoch
//! hooks, all in its own folder. Adding a module means: a folder here, a variant in [`Message`],
//! and a line in each function of [`registry`]. No other module changes.

pub mod bank;
pub mod data;
pub mod market;
pub mod rewards;
pub mod staking;

use crate::{
    Result, TxError, events::Event, execute::BlockEnv, genesis::Params, state::StateCache,
};
use mycel_primitives::{
    Address,
    codec::{CodecError, EncodeSize, Read, Write},
};
use mycel_store::StateRead;

/// What a module sees while it executes.
pub struct Ctx<'c, 'a, S: StateRead + ?Sized> {
    /// Buffered state.
    pub state: &'c mut StateCache<'a, S>,
    /// The block being executed.
    pub env: &'c BlockEnv,
    /// Chain parameters.
    pub params: &'c Params,
    /// Events emitted so far by the current transaction or hook.
    pub events: Vec<Event>,
}

impl<S: StateRead + ?Sized> Ctx<'_, '_, S> {
    /// Records an event.
    pub fn emit(&mut self, kind: &str, attrs: &[(&str, String)]) {
        self.events.push(Event::new(kind, attrs));
    }
}

/// A ledger module.
pub trait Module {
    /// Name, also the state prefix.
    const NAME: &'static str;
    /// Tag of the module's messages on the wire.
    const ID: u8;
    /// The module's messages.
    type Msg;

    /// Applies one message from `sender`. An error rolls back the whole transaction's messages.
    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Self::Msg,
    ) -> std::result::Result<(), TxError>;

    /// Runs after the block's transactions.
    fn end_block<S: StateRead + ?Sized>(_ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        Ok(())
    }

    /// Runs at the last block of `epoch`, after every module's `end_block`.
    fn end_epoch<S: StateRead + ?Sized>(_ctx: &mut Ctx<'_, '_, S>, _epoch: u64) -> Result<()> {
        Ok(())
    }
}

/// Every message the ledger understands, tagged by module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "module", content = "msg", rename_all = "snake_case")]
pub enum Message {
    /// `bank` messages.
    Bank(bank::Msg),
    /// `staking` messages.
    Staking(staking::Msg),
    /// `data` messages.
    Data(data::Msg),
    /// `market` messages.
    Market(market::Msg),
}

/// Raised (wrapped in the codec error) when a message tag is unknown, so the API can say so.
#[derive(Debug, thiserror::Error)]
#[error("unknown message module {module} kind {kind}")]
pub struct UnknownMessage {
    /// Module tag.
    pub module: u8,
    /// Kind tag.
    pub kind: u8,
}

pub(crate) fn unknown(module: u8, kind: u8) -> CodecError {
    CodecError::Wrapped("message", Box::new(UnknownMessage { module, kind }))
}

impl Write for Message {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Message::Bank(m) => {
                bank::Bank::ID.write(buf);
                m.write(buf)
            }
            Message::Staking(m) => {
                staking::Staking::ID.write(buf);
                m.write(buf)
            }
            Message::Data(m) => {
                data::Data::ID.write(buf);
                m.write(buf)
            }
            Message::Market(m) => {
                market::Market::ID.write(buf);
                m.write(buf)
            }
        }
    }
}

impl EncodeSize for Message {
    fn encode_size(&self) -> usize {
        1 + match self {
            Message::Bank(m) => m.encode_size(),
            Message::Staking(m) => m.encode_size(),
            Message::Data(m) => m.encode_size(),
            Message::Market(m) => m.encode_size(),
        }
    }
}

impl Read for Message {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        let module = u8::read_cfg(buf, &())?;
        match module {
            bank::Bank::ID => Ok(Message::Bank(bank::Msg::read_cfg(buf, &())?)),
            staking::Staking::ID => Ok(Message::Staking(staking::Msg::read_cfg(buf, &())?)),
            data::Data::ID => Ok(Message::Data(data::Msg::read_cfg(buf, &())?)),
            market::Market::ID => Ok(Message::Market(market::Msg::read_cfg(buf, &())?)),
            _ => {
                let kind = if buf.has_remaining() {
                    buf.chunk()[0]
                } else {
                    0
                };
                Err(unknown(module, kind))
            }
        }
    }
}

/// The module registry: dispatch and hooks in a fixed order.
pub mod registry {
    use super::*;

    /// Dispatches a message to its module.
    pub fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Message,
    ) -> std::result::Result<(), TxError> {
        match msg {
            Message::Bank(m) => bank::Bank::execute(ctx, sender, m),
            Message::Staking(m) => staking::Staking::execute(ctx, sender, m),
            Message::Data(m) => data::Data::execute(ctx, sender, m),
            Message::Market(m) => market::Market::execute(ctx, sender, m),
        }
    }

    /// End-of-block hooks, in registry order.
    pub fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        bank::Bank::end_block(ctx)?;
        staking::Staking::end_block(ctx)?;
        data::Data::end_block(ctx)?;
        market::Market::end_block(ctx)?;
        rewards::Rewards::end_block(ctx)
    }

    /// End-of-epoch hooks, in registry order: rewards pays the validator set of the epoch that
    /// ends, then staking fixes the set of the next epoch.
    pub fn end_epoch<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, epoch: u64) -> Result<()> {
        bank::Bank::end_epoch(ctx, epoch)?;
        rewards::Rewards::end_epoch(ctx, epoch)?;
        staking::Staking::end_epoch(ctx, epoch)
    }
}
