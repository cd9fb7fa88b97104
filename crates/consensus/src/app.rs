//! The commonware `Application`: block proposal and verification.

use crate::{
    Error,
    block::{Block, Certificate, Digest},
    chain::Chain,
};
use commonware_consensus::{
    Application,
    marshal::{Identifier, ancestry::Ancestry, core::Mailbox, standard::Standard},
    simplex::{scheme::ed25519::Scheme, types::Context},
    types::Height,
};
use commonware_cryptography::{Digested, Digestible, ed25519::PublicKey};
use commonware_runtime::{Clock, Metrics, Spawner};
use futures::StreamExt;
use mycel_primitives::Address;
use std::{sync::Arc, time::Duration};
use tracing::{debug, warn};

/// How often a waiting proposer looks at the mempool again.
const POLL: Duration = Duration::from_millis(2);

/// How many heights below the latest finalization a proposer looks for a certificate to carry.
const CERTIFICATE_LOOKBACK: u64 = 4;

/// Marshal's mailbox, where a proposer finds the finalization certificates it carries.
pub type Marshal = Mailbox<Scheme, Standard<Block>>;

/// The application a validator runs inside Simplex.
#[derive(Clone)]
pub struct App {
    chain: Arc<Chain>,
    marshal: Marshal,
    me: Address,
    heartbeat: Duration,
}

impl App {
    /// An application for the validator `me`; idle chains get a block every `heartbeat`
    /// (keep it below the leader timeout). Proposals carry finalization certificates found in
    /// `marshal`.
    pub fn new(chain: Arc<Chain>, marshal: Marshal, me: &PublicKey, heartbeat: Duration) -> App {
        App {
            chain,
            marshal,
            me: Address::from_public_key(me),
            heartbeat,
        }
    }

    /// The finalization certificate a block on `parent` carries: the newest one marshal holds
    /// for an ancestor of `parent` above the last height certified on its chain (looking at
    /// most [`CERTIFICATE_LOOKBACK`] heights down); `None` if there is none.
    async fn certificate_for(&self, parent: &Digested<Block>) -> Option<Certificate> {
        let last = self.chain.last_certified(&parent.digest()).ok()??;
        let (latest, _) = self.marshal.get_info(Identifier::Latest).await?;
        let top = latest.get().min(parent.inner().height);
        let floor = last.max(top.saturating_sub(CERTIFICATE_LOOKBACK));
        for height in (floor + 1..=top).rev() {
            let Some(finalization) = self.marshal.get_finalization(Height::new(height)).await
            else {
                continue;
            };
            let c = Certificate {
                height,
                finalization,
            };
            if self
                .chain
                .certified(&parent.digest(), parent.inner().height + 1, &c)
                .is_ok()
            {
                return Some(c);
            }
        }
        None
    }

    /// Executes, oldest first, the ancestors in `ancestry` that this node has not executed yet.
    async fn catch_up(&self, first: &Digested<Block>, ancestry: &mut impl Ancestry<Block>) -> bool {
        let mut missing = Vec::new();
        let mut cur = first.clone();
        while !self.chain.is_executed(&cur.digest()) {
            let head = match self.chain.head() {
                Ok(h) => h.height,
                Err(_) => return false,
            };
            if cur.inner().height <= head {
                return false; // a dead fork below the finalized head
            }
            missing.push(cur.clone());
            match ancestry.next().await {
                Some(b) => cur = b,
                None => return false,
            }
        }
        for b in missing.iter().rev() {
            if let Err(e) = self.chain.verify(b.inner()) {
                warn!(target: "mycel::consensus", height = b.inner().height, error = %e, "ancestor failed re-execution");
                return false;
            }
        }
        true
    }
}

fn now_ms<E: Clock>(rt: &E) -> u64 {
    rt.current()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<E: Clock + Metrics + Spawner + rand::CryptoRng> Application<E> for App {
    type SigningScheme = commonware_consensus::simplex::scheme::ed25519::Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = Block;
    type Input = ();

    async fn propose(
        &mut self,
        (rt, _ctx): (E, Self::Context),
        mut ancestry: impl Ancestry<Block>,
        _input: (),
    ) -> Option<Digested<Block>> {
        let parent = ancestry.next().await?;
        if !self.chain.is_executed(&parent.digest()) {
            let mut rest = ancestry.clone();
            if !self.catch_up(&parent, &mut rest).await {
                return None;
            }
        }
        // Propose as soon as transactions wait; otherwise once per heartbeat.
        let due = parent
            .inner()
            .timestamp_ms
            .saturating_add(self.heartbeat.as_millis() as u64);
        while !self.chain.has_candidates(&parent.digest()) && now_ms(&rt) < due {
            rt.sleep(POLL).await;
        }
        let certificate = self.certificate_for(&parent).await;
        match self
            .chain
            .build(parent.inner(), self.me, now_ms(&rt), certificate)
        {
            Ok(b) => {
                debug!(target: "mycel::consensus", height = b.height, txs = b.txs.len(), "proposed");
                let d = b.digest();
                Some(Digested::precomputed(b, d))
            }
            Err(e) => {
                warn!(target: "mycel::consensus", error = %e, "could not build a block");
                None
            }
        }
    }

    async fn verify(
        &mut self,
        (mut rt, ctx): (E, Self::Context),
        mut ancestry: impl Ancestry<Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        let b = block.inner();
        if b.proposer != Address::from_public_key(&ctx.leader) {
            warn!(target: "mycel::consensus", height = b.height, "proposer is not the view's leader");
            return false;
        }
        if b.timestamp_ms < parent.inner().timestamp_ms {
            return false;
        }
        if !self.chain.is_executed(&parent.digest()) && !self.catch_up(&parent, &mut ancestry).await
        {
            return false;
        }
        // A forged certificate would credit validators that did not sign.
        if let Some(c) = &b.certificate
            && !self.chain.verify_certificate(&mut rt, c)
        {
            warn!(target: "mycel::consensus", height = b.height, certified = c.height, "certificate signatures do not verify");
            return false;
        }
        // Forged evidence would slash an honest validator.
        if !self.chain.verify_evidence(&mut rt, b) {
            warn!(target: "mycel::consensus", height = b.height, "evidence signatures do not verify");
            return false;
        }
        match self.chain.verify(b) {
            Ok(()) => {
                debug!(target: "mycel::consensus", height = b.height, txs = b.txs.len(), "verified");
                true
            }
            Err(Error::UnknownParent(_)) => false,
            Err(e) => {
                warn!(target: "mycel::consensus", height = b.height, error = %e, "rejecting block");
                false
            }
        }
    }
}
