//! Integration tests of the ledger: whole blocks executed over an in-memory state.

mod agent;
mod bank;
mod data;
mod device;
mod fatal;
mod genesis;
mod golden;
mod liveness;
mod market;
mod model;
mod rewards;
mod roundtrip;
mod staking;
mod strategies;
mod supply;
mod verify;

use commonware_cryptography::Signer;
use mycel_ledger::{
    Error, Message, Tx, TxBody, TxError,
    execute::{
        self, BlockEnv, BlockOutput, Certified, execute_block, execute_block_checked,
        execute_genesis,
    },
    genesis::{Genesis, Params, dev_key},
    modules::{bank as bank_mod, staking as staking_mod},
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, codec::EncodeSize};
use mycel_store::MemState;

/// The chain id every test chain uses.
pub const CHAIN: &str = "test";

/// The `i`-th funded development account key.
pub fn account(i: usize) -> PrivateKey {
    dev_key("account", i)
}

/// The address of a key.
pub fn addr(k: &PrivateKey) -> Address {
    Address::from_public_key(&k.public_key())
}

/// A key that holds nothing.
pub fn pauper() -> PrivateKey {
    dev_key("account", 1_000)
}

/// `Genesis::dev(CHAIN, validators)` with its parameters adjusted by `f`.
pub fn genesis_with(validators: usize, f: impl FnOnce(&mut Params)) -> Genesis {
    let mut g = Genesis::dev(CHAIN, validators);
    f(&mut g.params);
    g
}

/// A chain under test: the state after the last applied block.
pub struct Chain {
    /// The genesis it started from.
    pub genesis: Genesis,
    /// State after the last applied block.
    pub state: MemState,
    /// Height of the last applied block.
    pub height: u64,
    /// Who signs the finalization certificate of each block, carried by the next block (the
    /// genesis validators unless a test changes it; empty: blocks carry no certificate).
    pub signers: Vec<Address>,
    /// Block time of the last applied block, milliseconds.
    pub time_ms: u64,
    /// Block time between blocks (100 ms unless a test changes it).
    pub step_ms: u64,
}

impl Chain {
    /// A chain started from `genesis`.
    pub fn new(genesis: Genesis) -> Chain {
        let out = execute_genesis(&genesis).expect("genesis executes");
        let mut state = MemState::default();
        state.apply(&out.writes);
        let signers = genesis
            .validators
            .iter()
            .map(|v| Address::from_public_key(&v.key().unwrap()))
            .collect();
        Chain {
            genesis,
            state,
            height: 0,
            signers,
            time_ms: 0,
            step_ms: 100,
        }
    }

    /// The default development chain with one validator.
    pub fn dev() -> Chain {
        Chain::new(Genesis::dev(CHAIN, 1))
    }

    /// The parameters stored in state.
    pub fn params(&self) -> Params {
        execute::params(&self.state).unwrap()
    }

    /// The environment of the next block.
    pub fn next_env(&self) -> BlockEnv {
        let h = self.height + 1;
        let mut parent = [0u8; 32];
        parent[..8].copy_from_slice(&h.to_be_bytes());
        BlockEnv {
            height: h,
            proposer: self.validator(0),
            parent: Hash(parent),
            time_ms: self.time_ms + self.step_ms,
            certified: (h > 1 && !self.signers.is_empty()).then(|| Certified {
                height: h - 1,
                signers: self.signers.clone(),
            }),
            equivocations: Vec::new(),
        }
    }

    /// The address of genesis validator `i`.
    pub fn validator(&self, i: usize) -> Address {
        Address::from_public_key(&self.genesis.validators[i].key().unwrap())
    }

    /// The next nonce of `k`.
    pub fn nonce(&self, k: &PrivateKey) -> u64 {
        execute::nonce(&self.state, &addr(k)).unwrap()
    }

    /// Balance of an address.
    pub fn balance(&self, a: &Address) -> Amount {
        bank_mod::balance(&self.state, a).unwrap()
    }

    /// Total supply.
    pub fn supply(&self) -> Amount {
        bank_mod::supply(&self.state).unwrap()
    }

    /// Everything burned so far.
    pub fn burned(&self) -> Amount {
        bank_mod::burned(&self.state).unwrap()
    }

    /// A transaction from `k` with an explicit nonce, paying the minimum fee plus `extra`.
    pub fn tx_with(&self, k: &PrivateKey, nonce: u64, messages: Vec<Message>, extra: u128) -> Tx {
        let body = TxBody {
            chain_id: CHAIN.into(),
            sender: k.public_key(),
            nonce,
            fee: Amount::ZERO,
            messages,
            memo: String::new(),
        };
        let fee = min_fee_of(&self.params(), &body.clone().sign(k));
        TxBody {
            fee: Amount(fee.0 + extra),
            ..body
        }
        .sign(k)
    }

    /// A transaction from `k` with its next state nonce and the minimum fee.
    pub fn tx(&self, k: &PrivateKey, messages: Vec<Message>) -> Tx {
        self.tx_with(k, self.nonce(k), messages, 0)
    }

    /// Executes `txs` as the next block without applying it.
    pub fn exec(&self, txs: &[Tx]) -> mycel_ledger::Result<BlockOutput> {
        execute_block(&self.state, &self.next_env(), txs)
    }

    /// Executes and applies the next block; panics if it is invalid.
    pub fn block(&mut self, txs: &[Tx]) -> BlockOutput {
        let out = self
            .exec(txs)
            .unwrap_or_else(|e| panic!("block {} invalid: {e}", self.height + 1));
        assert_eq!(out.receipts.len(), txs.len());
        self.state.apply(&out.writes);
        self.height += 1;
        self.time_ms += self.step_ms;
        assert_eq!(execute::height(&self.state).unwrap(), self.height);
        out
    }

    /// Applies empty blocks until the chain is at `height`.
    pub fn run_to(&mut self, height: u64) -> Vec<BlockOutput> {
        let mut outs = Vec::new();
        while self.height < height {
            outs.push(self.block(&[]));
        }
        outs
    }

    /// Executes `txs` expecting the block to be invalid because of tx `index`; returns its error
    /// and checks that nothing changed.
    pub fn expect_invalid(&self, txs: &[Tx], index: usize) -> TxError {
        let before = self.state.0.clone();
        let err = match self.exec(txs) {
            Err(Error::InvalidTx { index: i, error }) => {
                assert_eq!(i, index, "wrong offending index ({error})");
                error
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("block unexpectedly valid"),
        };
        assert_eq!(self.state.0, before, "an invalid block changed the state");
        err
    }
}

/// The minimum fee of `tx` under `params`.
pub fn min_fee_of(params: &Params, tx: &Tx) -> Amount {
    bank_mod::min_fee(&params.bank, tx.encode_size())
}

/// The part of `fee` that is burned under `params`.
pub fn burned_part(params: &Params, fee: Amount) -> Amount {
    fee.mul_div(params.bank.fee_burn_bps as u128, 10_000)
        .unwrap()
}

/// A transfer message.
pub fn transfer(to: Address, amount: Amount) -> Message {
    Message::Bank(bank_mod::Msg::Transfer { to, amount })
}

/// A burn message.
pub fn burn(amount: Amount) -> Message {
    Message::Bank(bank_mod::Msg::Burn { amount })
}

/// A bond message.
pub fn bond(role: staking_mod::Role, amount: Amount) -> Message {
    Message::Staking(staking_mod::Msg::Bond { role, amount })
}

/// An unbond message.
pub fn unbond(role: staking_mod::Role, amount: Amount) -> Message {
    Message::Staking(staking_mod::Msg::Unbond { role, amount })
}

/// Sum of all balances.
pub fn sum_balances(state: &MemState) -> Amount {
    Amount(
        bank_mod::balances(state)
            .unwrap()
            .iter()
            .map(|(_, a)| a.0)
            .sum(),
    )
}

/// Attribute `name` of an event.
pub fn attr<'e>(e: &'e mycel_ledger::Event, name: &str) -> &'e str {
    e.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{} has no {name}", e.kind))
}
