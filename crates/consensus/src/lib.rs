//! Adapts the mycel ledger to commonware Simplex: mempool, block building, finalization and sync.
//!
//! The pieces, in the order a transaction meets them:
//! - [`Mempool`]: admits signed transactions after checking size, signature, chain id, nonce
//!   (replays and gaps are rejected) and fee, against the last finalized state.
//! - [`App`] (a commonware `Application`): when this validator leads a view it builds a [`Block`]
//!   from the mempool on top of the parent's post-state, executes it and puts the post-state root
//!   in the header; when another validator leads, it re-executes the proposal against the parent
//!   and votes only if the root matches. Blocks are proposed as soon as transactions are waiting
//!   and at least every `heartbeat` otherwise, so epochs advance on an idle chain.
//! - Liveness evidence: a proposer puts into its block the finalization certificate of an
//!   earlier block that marshal holds ([`block::Certificate`]); verifiers check that it
//!   finalizes the named ancestor, that the height was not certified before on that chain and
//!   that its signatures verify against the participants, and the ledger receives the signers
//!   (`BlockEnv::certified`), pays validator rewards by them and jails validators that stop
//!   signing. A block without a certificate is valid; one with a forged certificate is not.
//! - [`Finalizer`]: marshal delivers finalized blocks in height order, at least once; each is
//!   committed to the store (state, tree nodes, block, receipts and head in one redb
//!   transaction) on a task of its own, off marshal's loop, and only then acknowledged.
//!   Re-deliveries are no-ops.
//! - [`engine::start`]: wires marshal, buffered broadcast, the backfill resolver and Simplex over
//!   any commonware runtime and p2p implementation (tokio + authenticated TCP for real nodes,
//!   the deterministic runtime + simulated network for tests).
//!
//! - [`light`]: what a client checks without a node: headers up to a finalization certificate,
//!   verified against the validator keys, prove a state root finalized; hand-offs carry the
//!   client from the genesis validators across set changes ([`handoffs`]: the node side).
//!
//! Executed but not yet finalized blocks are kept as store layers keyed by digest, so a
//! validator can build and verify on a notarized parent before it is finalized.

pub mod app;
pub mod block;
pub mod chain;
pub mod engine;
pub mod error;
pub mod finalizer;
pub mod gossip;
pub mod handoffs;
pub mod light;
pub mod mempool;

pub use app::App;
pub use block::{Block, Digest, Header};
pub use chain::Chain;
pub use error::{Error, Result};
pub use finalizer::Finalizer;
pub use mempool::Mempool;
