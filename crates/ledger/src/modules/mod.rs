//! Ledger modules and their registry.
//!
//! A module owns a state prefix (`<name>/…`), its messages, events, queries and block/epoch
//! hooks, all in its own folder. Modules are registered once, in the [`registry!`] table at the
//! end of this file: it generates the [`Message`] enum, its wire codec, message dispatch and the
//! block and epoch hooks. Adding a module means a folder here and one line in that table.

pub mod agent;
pub mod bank;
pub mod data;
pub mod device;
pub mod market;
pub mod model;
pub mod rewards;
pub mod staking;
pub mod verify;

#[macro_use]
mod registry_macro;

use crate::{
    ExecResult, Result, events::Event, execute::BlockEnv, params::Params, state::StateCache,
};
use mycel_primitives::{Address, codec::CodecError};
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
    /// The public key that signed the transaction being executed (`None` in block hooks).
    pub signer: Option<mycel_primitives::PublicKey>,
}

impl<S: StateRead + ?Sized> Ctx<'_, '_, S> {
    /// The epoch of the block being executed.
    pub fn epoch(&self) -> u64 {
        self.params.epoch(self.env.height)
    }

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

    /// Applies one message from `sender`. [`ExecError::Tx`] rolls back the whole transaction's
    /// messages into a failed receipt; [`ExecError::Fatal`] aborts the block.
    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Self::Msg,
    ) -> ExecResult;

    /// Runs after the block's transactions.
    fn end_block<S: StateRead + ?Sized>(_ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        Ok(())
    }

    /// Runs at the last block of `epoch`, after every module's `end_block`, in the registry's
    /// `end_epoch` order.
    fn end_epoch<S: StateRead + ?Sized>(_ctx: &mut Ctx<'_, '_, S>, _epoch: u64) -> Result<()> {
        Ok(())
    }
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

registry! {
    /// Modules with messages, in declaration order: the [`Message`] variant (its serde name is
    /// the snake-case variant, which equals [`Module::NAME`]) and the module type. The wire tag
    /// is the module's [`Module::ID`]; tags are checked to be distinct at compile time.
    messages {
        /// `bank` messages (wire tag 1).
        Bank => bank::Bank,
        /// `staking` messages (wire tag 2).
        Staking => staking::Staking,
        /// `data` messages (wire tag 4).
        Data => data::Data,
        /// `market` messages (wire tag 5).
        Market => market::Market,
        /// `verify` messages (wire tag 6).
        Verify => verify::Verify,
        /// `model` messages (wire tag 7).
        Model => model::Model,
        /// `agent` messages (wire tag 8).
        Agent => agent::Agent,
        /// `device` messages (wire tag 9).
        Device => device::Device,
    }
    /// Modules with hooks only (tag 3 is reserved for rewards).
    hooks {
        rewards::Rewards,
    }
    /// `end_block` runs in declaration order (messages, then hooks): bank, staking, data, market,
    /// verify, rewards (verify after market: it draws audits of the results market recorded). `end_epoch` runs these first, in this order, then every other module in
    /// declaration order: rewards must pay the validator set of the epoch that ends before
    /// staking's `end_epoch` replaces it with the next epoch's set.
    end_epoch_first [
        bank::Bank,
        rewards::Rewards,
        staking::Staking,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycel_primitives::{Amount, Hash, codec::Encode};

    #[test]
    fn registry_names_and_tags_match_the_wire_and_json() {
        let samples = [
            Message::Bank(bank::Msg::Burn { amount: Amount(1) }),
            Message::Staking(staking::Msg::Unjail),
            Message::Data(data::Msg::UpdateConsent {
                dataset: Hash::ZERO,
                consent: 0,
            }),
            Message::Market(market::Msg::CloseOffer),
            Message::Device(device::Msg::Resume),
            Message::Model(model::Msg::SetAccess {
                model: Hash::ZERO,
                access: model::Access::Gated,
            }),
        ];
        for m in samples {
            let json = serde_json::to_value(&m).unwrap();
            let name = json["module"].as_str().unwrap().to_string();
            let tag = m.encode()[0];
            assert!(
                registry::MODULES.contains(&(name.as_str(), tag)),
                "{name} / {tag}"
            );
        }
        assert_eq!(
            registry::MODULES,
            &[
                ("bank", 1),
                ("staking", 2),
                ("data", 4),
                ("market", 5),
                ("verify", 6),
                ("model", 7),
                ("agent", 8),
                ("device", 9),
                ("rewards", 3)
            ]
        );
    }
}
