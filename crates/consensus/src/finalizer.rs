//! Applies finalized blocks from marshal to the store, then acknowledges them.

use crate::{block::Block, chain::Chain};
use commonware_actor::Feedback;
use commonware_consensus::{Reporter, marshal::Update};
use commonware_utils::Acknowledgement;
use std::sync::Arc;
use tracing::error;

/// Called after each newly committed block.
pub type FinalizedHook = Arc<dyn Fn(&Block) + Send + Sync>;

/// Marshal's reporter: commits each finalized block durably before acknowledging it.
///
/// The commit runs inside `report` so that a block is acknowledged only after its redb
/// transaction is durable. A block that cannot be committed is not acknowledged, which halts
/// marshal (and so this node) rather than letting state and consensus diverge.
#[derive(Clone)]
pub struct Finalizer {
    chain: Arc<Chain>,
    on_finalized: Option<FinalizedHook>,
}

impl Finalizer {
    /// A finalizer for `chain`.
    pub fn new(chain: Arc<Chain>) -> Finalizer {
        Finalizer {
            chain,
            on_finalized: None,
        }
    }

    /// Calls `f` after each newly committed block (metrics, subscribers).
    pub fn with_hook(mut self, f: FinalizedHook) -> Finalizer {
        self.on_finalized = Some(f);
        self
    }
}

impl Reporter for Finalizer {
    type Activity = Update<Block>;

    fn report(&mut self, activity: Update<Block>) -> Feedback {
        if let Update::Block(block, ack) = activity {
            match self.chain.finalize(block.inner()) {
                Ok(()) => {
                    if let Some(f) = &self.on_finalized {
                        f(block.inner());
                    }
                    ack.acknowledge();
                }
                Err(e) => {
                    error!(target: "mycel::chain", height = block.inner().height, error = %e, "cannot commit finalized block; halting");
                    drop(ack);
                    return Feedback::Closed;
                }
            }
        }
        Feedback::Ok
    }
}
