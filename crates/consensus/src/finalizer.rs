//! Applies finalized blocks from marshal to the store, then acknowledges them.

use crate::{block::Block, chain::Chain};
use commonware_actor::Feedback;
use commonware_consensus::{Reporter, marshal::Update};
use commonware_cryptography::Digested;
use commonware_runtime::{Handle, Spawner};
use commonware_utils::{Acknowledgement, acknowledgement::Exact};
use futures::{StreamExt, channel::mpsc};
use std::sync::Arc;
use tracing::error;

/// Called after each newly committed block.
pub type FinalizedHook = Arc<dyn Fn(&Block) + Send + Sync>;

/// Commits each finalized block durably before acknowledging it.
///
/// A block is acknowledged only after its redb transaction is durable. A block that cannot be
/// committed is not acknowledged, which halts marshal (and so this node) rather than letting
/// state and consensus diverge.
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

    /// Starts committing on a task of its own; marshal reports to the returned [`Committer`].
    ///
    /// The commit does not run inside marshal's `report`: marshal also hands out the blocks
    /// that proposals and votes build on, and a commit there would hold every next proposal and
    /// vote for as long as its write takes. Marshal keeps up to its `max_pending_acks` blocks
    /// in flight and delivers them in height order, which this task keeps.
    pub fn start<E: Spawner>(self, context: E) -> (Committer, Handle<()>) {
        let (sender, mut blocks) = mpsc::unbounded::<(Digested<Block>, Exact)>();
        let handle = context.dedicated().spawn(move |_| async move {
            while let Some((block, ack)) = blocks.next().await {
                if let Err(e) = self.chain.finalize(block.inner()) {
                    error!(target: "mycel::chain", height = block.inner().height, error = %e, "cannot commit finalized block; halting");
                    return; // drops `ack`: marshal stops
                }
                if let Some(f) = &self.on_finalized {
                    f(block.inner());
                }
                ack.acknowledge();
            }
        });
        (Committer { sender }, handle)
    }
}

/// Marshal's reporter: hands each finalized block to the [`Finalizer`]'s task.
#[derive(Clone)]
pub struct Committer {
    sender: mpsc::UnboundedSender<(Digested<Block>, Exact)>,
}

impl Reporter for Committer {
    type Activity = Update<Block>;

    fn report(&mut self, activity: Update<Block>) -> Feedback {
        if let Update::Block(block, ack) = activity
            && self.sender.unbounded_send((block, ack)).is_err()
        {
            return Feedback::Closed; // the finalizer halted
        }
        Feedback::Ok
    }
}
