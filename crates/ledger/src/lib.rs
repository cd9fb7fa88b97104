//! The deterministic mycel state machine: transactions, modules, block execution and queries.
//!
//! The ledger is a pure function from (parent state, block environment, transactions) to
//! (state changes, events, receipts). It never reads a clock, never iterates an unordered map,
//! never uses floats and draws randomness only from the block environment, so every validator that
//! executes the same block over the same parent state computes the same write set and therefore
//! the same state root.
//!
//! Terms:
//! - [`Tx`]: a signed envelope (chain id, sender key, nonce, fee, messages, signature).
//! - [`Message`]: one action addressed to a module (`bank`, `staking`, …). Modules live in
//!   [`modules`], one folder each, and are registered in one place ([`modules::registry`]).
//! - [`execute_block`]: applies a block; [`check_tx`]: the admission checks a mempool runs.
//! - [`ExecError`]: how a message fails. [`ExecError::Tx`] (a [`TxError`], identical on every
//!   validator) rolls the transaction back into a failed receipt; [`ExecError::Fatal`] (a store
//!   or state fault of this node) aborts the block and never becomes a receipt.
//! - [`earnings`]: the per-epoch record of every credit and debit, by reason; [`params`]: the
//!   chain parameters, one section per module; [`events::attr`] and `modules::<name>::events`:
//!   event attribute names and kinds.
//!
//! ```
//! use mycel_ledger::{genesis::Genesis, execute::{execute_genesis}, modules::bank};
//! use mycel_store::MemState;
//! let genesis = Genesis::dev("doc-chain", 1);
//! let out = execute_genesis(&genesis).unwrap();
//! let mut state = MemState::default();
//! state.apply(&out.writes);
//! let (addr, amount) = (genesis.accounts[0].address, genesis.accounts[0].balance);
//! assert_eq!(bank::balance(&state, &addr).unwrap(), amount);
//! ```

pub mod blobs;
pub mod earnings;
pub mod error;
pub mod events;
pub mod execute;
pub mod genesis;
pub mod modules;
pub mod params;
pub mod state;
pub mod tx;

pub use error::{Error, ExecError, ExecResult, Result, TxError};
pub use events::{Event, Receipt};
pub use execute::{
    BlockEnv, BlockOutput, Built, Equivocation, build_block, check_tx, execute_block,
    execute_block_checked,
};
pub use modules::Message;
pub use tx::{TX_NAMESPACE, Tx, TxBody};
