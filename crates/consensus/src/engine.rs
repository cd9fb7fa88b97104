//! Wires marshal, buffered broadcast, the backfill resolver and Simplex for one validator.

use crate::{app::App, block::BLOCK_CFG, chain::Chain, finalizer::Finalizer};
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{self, Start, core::Actor as Marshal, resolver::p2p as backfill, standard::Inline},
    simplex::{
        self, ForwardPolicy, SkipBudget, SkipPolicy, config::Floor, elector::RoundRobin,
        scheme::ed25519::Scheme,
    },
    types::{Epoch, FixedEpocher, TermLength, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible, Sha256, certificate::Verifier as _, ed25519::PublicKey,
};
use commonware_p2p::{
    Blocker, Provider, Receiver, Sender,
    utils::mux::{MuxHandle, Muxer, SubReceiver, SubSender},
};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize};
use std::{sync::Arc, time::Duration};

/// p2p channel of consensus votes.
pub const CHANNEL_VOTES: u64 = 0;
/// p2p channel of consensus certificates.
pub const CHANNEL_CERTIFICATES: u64 = 1;
/// p2p channel of the consensus certificate resolver.
pub const CHANNEL_RESOLVER: u64 = 2;
/// p2p channel of block broadcast.
pub const CHANNEL_BLOCKS: u64 = 3;
/// p2p channel of block backfill.
pub const CHANNEL_BACKFILL: u64 = 4;
/// p2p channel of transaction gossip between validators.
pub const CHANNEL_TXS: u64 = 5;
/// Largest p2p message (a full block plus framing).
pub const MAX_MESSAGE_BYTES: u32 = (mycel_primitives::codec::MAX_BLOCK_BYTES + 64 * 1024) as u32;
/// Consensus signature namespace.
pub const NAMESPACE: &[u8] = b"_MYCEL_CONSENSUS";
/// Most transactions in one gossip message (admitted transactions are batched per send).
pub const MAX_GOSSIP_TXS: usize = 512;

/// The per-peer rate limit of a p2p channel: messages per second and the burst allowed above it.
///
/// The burst sizes the memory: commonware preallocates every channel's inbound mailbox (and the
/// router's outbound one) as `peers x burst` slots, and Simplex sizes its resolver's handler
/// queue from the resolver channel. A burst of 100,000 (the default of a plain
/// `per_second(100_000)`) preallocated 1.3 GB in a one-validator devnet and 5.3 GB in each of
/// four testnet validators; these bursts cover a view's votes and a catch-up's requests with a
/// few MB.
pub fn channel_quota(channel: u64) -> commonware_runtime::Quota {
    let (per_second, burst) = match channel {
        // Each peer sends a few votes and certificates per view (views last tens of ms).
        CHANNEL_VOTES | CHANNEL_CERTIFICATES => (1_000, 256),
        // Certificate and block requests, and their answers, during a catch-up.
        CHANNEL_RESOLVER | CHANNEL_BACKFILL => (1_000, 256),
        // One block per view.
        CHANNEL_BLOCKS => (200, 32),
        // Batched transaction gossip (up to [`MAX_GOSSIP_TXS`] a message).
        CHANNEL_TXS => (500, 64),
        _ => (100, 16),
    };
    commonware_runtime::Quota::per_second(std::num::NonZeroU32::new(per_second).expect("nonzero"))
        .allow_burst(std::num::NonZeroU32::new(burst).expect("nonzero"))
}

/// Takes the equivocation evidence Simplex reports (it verified both votes) into the chain's
/// evidence pool; every other activity goes to marshal alone.
#[derive(Clone)]
pub struct EvidenceReporter {
    chain: Arc<Chain>,
}

impl commonware_consensus::Reporter for EvidenceReporter {
    type Activity = simplex::types::Activity<Scheme, crate::block::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        use crate::block::Evidence;
        use simplex::types::Activity;
        let evidence = match activity {
            Activity::ConflictingNotarize(e) => Evidence::Notarize(e),
            Activity::ConflictingFinalize(e) => Evidence::Finalize(e),
            Activity::NullifyFinalize(e) => Evidence::NullifyFinalize(e),
            _ => return commonware_actor::Feedback::Ok,
        };
        self.chain.report_evidence(evidence);
        commonware_actor::Feedback::Ok
    }
}

/// Timing of one validator.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Idle chains get a block this often (below `leader_timeout`).
    pub heartbeat: Duration,
    /// How long to wait for a leader's proposal.
    pub leader_timeout: Duration,
    /// How long to wait for a notarized proposal to be certified.
    pub certification_timeout: Duration,
    /// Rebroadcast interval of nullify votes.
    pub timeout_retry: Duration,
    /// Skip a silent leader after this long.
    pub skip_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: Duration::from_millis(1_000),
            leader_timeout: Duration::from_millis(2_000),
            certification_timeout: Duration::from_millis(3_000),
            timeout_retry: Duration::from_millis(1_000),
            skip_timeout: Duration::from_millis(5_000),
        }
    }
}

/// A (sender, receiver) pair of one p2p channel.
pub type ChannelPair<S, R> = (S, R);

/// The signing scheme of each epoch, for marshal (which verifies certificates of any epoch)
/// and the per-epoch Simplex engines: a signer where this node's key is among the epoch's
/// participants, a verifier otherwise (and for a full node, which has no signing key).
#[derive(Clone)]
pub struct EpochSchemes {
    chain: Arc<Chain>,
    signer: Option<commonware_cryptography::ed25519::PrivateKey>,
}

impl EpochSchemes {
    /// The schemes `chain`'s epochs give the holder of `signer`.
    pub fn new(
        chain: Arc<Chain>,
        signer: Option<commonware_cryptography::ed25519::PrivateKey>,
    ) -> Self {
        EpochSchemes { chain, signer }
    }

    /// The scheme of `epoch`, and whether it signs; `None` while its set is not known.
    pub fn scheme(&self, epoch: u64) -> Option<(Scheme, bool)> {
        let set = self.chain.epoch_set(epoch).ok()??;
        if let Some(key) = &self.signer
            && let Some(s) = Scheme::signer(NAMESPACE, set.participants.clone(), key.clone())
        {
            return Some((s, true));
        }
        Some((set.verifier.clone(), false))
    }
}

impl commonware_cryptography::certificate::Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<commonware_cryptography::certificate::Scoped<Scheme>> {
        use commonware_cryptography::certificate::Scoped;
        let (scheme, signs) = self.scheme(epoch.get())?;
        Some(match signs {
            true => Scoped::scheme(Arc::new(scheme)),
            false => Scoped::verifier(Arc::new(scheme)),
        })
    }
}

/// Starts one node's consensus stack and returns the task handles.
///
/// `partition` prefixes every storage partition of marshal and Simplex (unique per node on a
/// shared storage backend). `signer` is the node's consensus key (`None` for a full node): in
/// each epoch whose validator set includes it the node votes, otherwise it follows.
///
/// One Simplex instance runs per epoch, on its own subchannel of the vote, certificate and
/// resolver channels. When the last block of epoch `e` is finalized here, the instance of `e`
/// stops and one for `e + 1` starts with the set the ledger fixed in that block, from that
/// block (the next epoch's genesis). Marshal spans epochs and verifies each epoch's
/// certificates with that epoch's set.
#[allow(clippy::too_many_arguments)]
pub async fn start<E, S, R, B, P>(
    context: E,
    partition: &str,
    chain: Arc<Chain>,
    signer: Option<commonware_cryptography::ed25519::PrivateKey>,
    anchor: Option<crate::block::Certificate>,
    me: PublicKey,
    timing: Timing,
    finalizer: Finalizer,
    blocker: B,
    provider: P,
    channels: [ChannelPair<S, R>; 5],
) -> Vec<Handle<()>>
where
    E: Clock + rand::CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
{
    let [votes, certificates, resolver, blocks, backfill_channel] = channels;
    let page_cache = CacheRef::new(NZU16!(4_096), NZUsize!(1_024));
    let genesis = chain.genesis_block().clone();
    let genesis_digest = genesis.digest();
    let genesis = Digested::precomputed(genesis, genesis_digest);

    let archive = |name: &str| (format!("{partition}-{name}"),);
    let finalizations = immutable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            &archive("finalizations").0,
            page_cache.clone(),
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .expect("finalizations archive");
    let finalized_blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(&archive("blocks").0, page_cache.clone(), BLOCK_CFG),
    )
    .await
    .expect("blocks archive");

    let (broadcast, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: NZUsize!(1_024),
            deque_size: 10,
            priority: false,
            codec_config: BLOCK_CFG,
            peer_provider: provider.clone(),
            strategy: Sequential,
        },
    );
    let resolver_engine = backfill::init(
        context.child("backfill"),
        backfill::Config {
            public_key: me.clone(),
            peer_provider: provider,
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1_024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill_channel,
    );

    let schemes = EpochSchemes::new(chain.clone(), signer);
    let epocher = FixedEpocher::new(
        std::num::NonZeroU64::new(chain.epoch_length()).expect("epoch length checked at open"),
    );
    let (marshal, mailbox, _floor) = Marshal::init(
        context.child("marshal"),
        finalizations,
        finalized_blocks,
        marshal::Config {
            provider: schemes.clone(),
            epocher: epocher.clone(),
            // A state-synced node starts from the certificate it synced to.
            start: match &anchor {
                Some(c) => Start::Floor(c.finalization.clone()),
                None => Start::Genesis(genesis),
            },
            partition_prefix: format!("{partition}-marshal"),
            mailbox_size: NZUsize!(1_024),
            view_retention: ViewDelta::new(100),
            prunable_items_per_section: NZU64!(4_096),
            page_cache: page_cache.clone(),
            replay_buffer: NZUsize!(1024 * 1024),
            key_write_buffer: NZUsize!(1024 * 1024),
            value_write_buffer: NZUsize!(1024 * 1024),
            block_codec_config: BLOCK_CFG,
            max_repair: NZUsize!(20),
            max_pending_acks: NZUsize!(16),
            strategy: Sequential,
        },
    )
    .await;

    let evidence = EvidenceReporter {
        chain: chain.clone(),
    };
    let app = App::new(chain.clone(), mailbox.clone(), &me, timing.heartbeat);
    let wrapper = Inline::new(context.child("inline"), app, mailbox.clone(), epocher);

    // Each epoch's engine gets its own subchannel (the epoch number) of the consensus channels.
    let (votes_mux, votes) = Muxer::new(context.child("votes_mux"), votes.0, votes.1);
    let (certs_mux, certificates) = Muxer::new(
        context.child("certificates_mux"),
        certificates.0,
        certificates.1,
    );
    let (resolver_mux, resolver) =
        Muxer::new(context.child("resolver_mux"), resolver.0, resolver.1);
    let epochs = Epochs {
        chain,
        marshal: mailbox,
        me,
        schemes,
        wrapper,
        evidence,
        blocker,
        timing,
        partition: partition.to_string(),
        page_cache,
        genesis_digest,
        anchor,
        channels: (votes, certificates, resolver),
        early: None,
    };
    let orchestrator = context.child("epochs").spawn(move |ctx| epochs.run(ctx));

    let (committer, finalizing) = finalizer.start(context.child("finalizer"));
    vec![
        finalizing,
        broadcast.start(blocks),
        marshal.start(committer, buffer, resolver_engine),
        context.child("votes_mux_run").spawn(|_| async move {
            let _ = votes_mux.run().await;
        }),
        context.child("certificates_mux_run").spawn(|_| async move {
            let _ = certs_mux.run().await;
        }),
        context.child("resolver_mux_run").spawn(|_| async move {
            let _ = resolver_mux.run().await;
        }),
        orchestrator,
    ]
}

/// Runs one Simplex instance per epoch (see [`start`]).
struct Epochs<B, W, S: Sender> {
    chain: Arc<Chain>,
    marshal: crate::app::Marshal,
    me: PublicKey,
    schemes: EpochSchemes,
    wrapper: W,
    evidence: EvidenceReporter,
    blocker: B,
    timing: Timing,
    partition: String,
    page_cache: CacheRef,
    genesis_digest: crate::block::Digest,
    anchor: Option<crate::block::Certificate>,
    channels: (MuxHandle<S>, MuxHandle<S>, MuxHandle<S>),
    /// The next epoch's subchannels, opened while the one before runs (see [`Epochs::open`]).
    early: Option<(u64, EpochChannels<S>)>,
}

/// One epoch's (votes, certificates, resolver) subchannels.
type EpochChannels<S> = (SubChannel<S>, SubChannel<S>, SubChannel<S>);
type SubChannel<S> = (SubSender<S>, SubReceiver<PublicKey>);

/// Views a leader serves in a row (Simplex's stable-leader terms; the same on every node).
///
/// With one-view terms the second view of each epoch went to a validator the others had not
/// yet heard from in the fresh epoch's instance whenever it was still verifying the first
/// view's block: Simplex's skip policy then had some validators nullify that view at once and
/// others notarize it, and the split waited out the leader timeout (a ~3 s stall, the run's
/// p99). With terms, a leader starts its term after voting through the views before it, and a
/// silent one loses its whole term to one nullification.
pub const TERM_LENGTH: u32 = 4;

/// How often the orchestrator looks for the end of the running epoch if no commit wakes it.
const EPOCH_POLL: Duration = Duration::from_millis(20);
/// How long the finalized height may stand still before the orchestrator asks peers for the
/// end of the running epoch.
const CATCH_UP_AFTER: Duration = Duration::from_secs(2);

impl<B, W, S> Epochs<B, W, S>
where
    B: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    W: commonware_consensus::CertifiableAutomaton<
            Context = simplex::types::Context<crate::block::Digest, PublicKey>,
            Digest = crate::block::Digest,
        > + commonware_consensus::Relay<
            Digest = crate::block::Digest,
            PublicKey = PublicKey,
            Plan = simplex::Plan<PublicKey>,
        > + commonware_consensus::Reporter<
            Activity = simplex::types::Activity<Scheme, crate::block::Digest>,
        > + Clone,
{
    /// Registers `epoch`'s subchannels; `None` if one is already registered or the mux is gone.
    async fn open(&mut self, epoch: u64) -> Option<EpochChannels<S>> {
        let votes = self.channels.0.register(epoch).await.ok()?;
        let certificates = self.channels.1.register(epoch).await.ok()?;
        let resolver = self.channels.2.register(epoch).await.ok()?;
        Some((votes, certificates, resolver))
    }

    async fn run<E>(mut self, context: E)
    where
        E: Clock + rand::CryptoRng + Spawner + Storage + Metrics,
    {
        // Set while the node catches up: the next epoch asks for its end at once.
        let mut catching_up = false;
        loop {
            let Ok(head) = self.chain.head() else {
                context.sleep(EPOCH_POLL).await;
                continue;
            };
            // The epoch of the next block to finalize.
            let epoch = self.chain.epoch_of(head.height + 1);
            let Some((scheme, signs)) = self.schemes.scheme(epoch) else {
                context.sleep(EPOCH_POLL).await;
                continue;
            };
            // An epoch starts from the last block of the one before (genesis for epoch 0); a
            // node state-synced into the epoch, which lacks that block, from its sync anchor.
            let floor = if epoch == 0 {
                Floor::Genesis(self.genesis_digest)
            } else {
                match self.chain.store().block_meta(self.chain.last_of(epoch - 1)) {
                    Ok(Some((d, _))) => Floor::Genesis(crate::block::Digest(d.0)),
                    _ => match &self.anchor {
                        Some(c)
                            if commonware_consensus::Epochable::epoch(&c.finalization).get()
                                == epoch =>
                        {
                            Floor::Finalized(c.finalization.clone())
                        }
                        _ => {
                            context.sleep(EPOCH_POLL).await;
                            continue;
                        }
                    },
                }
            };
            // Once per epoch: the epoch before has ended here.
            if epoch > 0 {
                hand_off(&self.chain, self.marshal.clone(), epoch - 1).await;
            }
            let channels = match self.early.take() {
                Some((e, c)) if e == epoch => Some(c),
                _ => self.open(epoch).await,
            };
            let Some((votes, certificates, resolver)) = channels else {
                tracing::error!(target: "mycel::consensus", epoch, "cannot open the epoch's channels");
                return;
            };
            // A peer that finalizes this epoch's last block first enters the next epoch first:
            // its proposal and votes there wait in these channels until this node enters too.
            // (The mux drops messages of a subchannel nobody registered; a node that entered
            // late then missed the first leader's proposal, found that leader silent, voted to
            // skip it, and split the first view's votes until the leader timeout.)
            self.early = self.open(epoch + 1).await.map(|c| (epoch + 1, c));
            tracing::info!(target: "mycel::consensus", epoch, signs, participants = commonware_cryptography::certificate::Scheme::participants(&scheme).len(), "starting epoch");
            let engine = simplex::Engine::new(
                context.child("simplex").with_attribute("epoch", epoch),
                simplex::config::Config {
                    scheme,
                    elector: RoundRobin::<Sha256>::default().with_term(
                        TermLength::new(NZU32!(TERM_LENGTH)),
                        self.timing.leader_timeout + self.timing.certification_timeout,
                        ViewDelta::zero(),
                    ),
                    blocker: self.blocker.clone(),
                    automaton: self.wrapper.clone(),
                    relay: self.wrapper.clone(),
                    reporter: commonware_consensus::Reporters::from((
                        self.wrapper.clone(),
                        self.evidence.clone(),
                    )),
                    strategy: Sequential,
                    partition: journal_partition(&self.partition, epoch),
                    mailbox_size: NZUsize!(1_024),
                    epoch: Epoch::new(epoch),
                    floor,
                    replay_buffer: NZUsize!(1024 * 1024),
                    write_buffer: NZUsize!(1024 * 1024),
                    page_cache: self.page_cache.clone(),
                    leader_timeout: self.timing.leader_timeout,
                    certification_timeout: self.timing.certification_timeout,
                    timeout_retry: self.timing.timeout_retry,
                    view_retention: ViewDelta::new(10),
                    skip: SkipPolicy::Enabled {
                        timeout: self.timing.skip_timeout,
                        budget: SkipBudget::Participants,
                    },
                    fetch_timeout: NZDuration!(Duration::from_secs(1)),
                    fetch_retry_delay: Duration::from_millis(100),
                    forward: ForwardPolicy::Disabled,
                    track_historical_votes: false,
                },
            );
            let handle = engine.start(votes, certificates, resolver);
            // Run until the epoch's last block is finalized here. A node that stalls (it was
            // down while the others moved on to later epochs, whose messages it cannot follow
            // yet) asks the epoch's validators for the finalization of the epoch's last block:
            // marshal fetches it and its ancestors, verified with this epoch's set.
            let last = self.chain.last_of(epoch);
            let peers: Vec<PublicKey> = self
                .chain
                .epoch_set(epoch)
                .ok()
                .flatten()
                .map(|s| {
                    s.participants
                        .iter()
                        .filter(|p| **p != self.me)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let mut seen = head.height;
            let mut since = context.current();
            let mut hinted = false;
            // The epoch before has ended here: its Simplex journal (a section per retained view)
            // is never read again. Removed once a block after this epoch's first is committed,
            // off the epoch start's path (removal takes the storage's namespace lock).
            let mut stale = epoch.checked_sub(1);
            loop {
                // Woken by the commit of the epoch's last block rather than a poll's tick: the
                // next epoch's first view waits for a quorum of nodes to enter it.
                let committed = self.chain.next_commit();
                let height = self.chain.head().map(|h| h.height).unwrap_or(0);
                if let Some(e) = stale
                    && height > last + 1 - self.chain.epoch_length()
                {
                    stale = None;
                    remove_journal(&context, &self.partition, e).await;
                }
                if height >= last {
                    break;
                }
                if height != seen {
                    seen = height;
                    since = context.current();
                } else if catching_up
                    || context
                        .current()
                        .duration_since(since)
                        .is_ok_and(|d| d >= CATCH_UP_AFTER)
                {
                    catching_up = false;
                    hinted = true;
                    if let Ok(targets) = commonware_utils::vec::NonEmptyVec::try_from(peers.clone())
                    {
                        self.marshal.hint_finalized(
                            commonware_consensus::types::Height::new(last),
                            targets,
                        );
                    }
                    since = context.current();
                }
                futures::future::select(committed, Box::pin(context.sleep(EPOCH_POLL))).await;
            }
            handle.abort();
            catching_up = hinted;
            tracing::info!(target: "mycel::consensus", epoch, last, "epoch finalized");
        }
    }
}

/// The partition of `epoch`'s Simplex journal.
pub fn journal_partition(prefix: &str, epoch: u64) -> String {
    format!("{prefix}-simplex-{epoch}")
}

/// Removes the Simplex journal of `epoch`, an epoch this node has finished: without this every
/// epoch left its last retained views' sections on disk for ever (a dozen 8 KiB files per
/// epoch; an epoch a second under load on the testnet's 20-block epochs). Missing is fine: a
/// node state-synced past the epoch, or one that removed it before a restart.
async fn remove_journal<E: Storage>(context: &E, prefix: &str, epoch: u64) {
    match context
        .remove(&journal_partition(prefix, epoch), None)
        .await
    {
        Ok(()) | Err(commonware_runtime::Error::PartitionMissing(_)) => {}
        Err(e) => {
            tracing::warn!(target: "mycel::consensus", epoch, error = %e, "could not remove a finished epoch's journal")
        }
    }
}

/// Records the light-client hand-off of `epoch` (see [`crate::handoffs`]) from marshal's
/// finalization of its last block, if its end changed the set and it is not recorded. A node
/// that state-synced past that block, or whose marshal lacks its finalization, goes without.
async fn hand_off(chain: &Chain, marshal: crate::app::Marshal, epoch: u64) {
    if !matches!(chain.changes_set(epoch), Ok(Some(true)))
        || matches!(crate::handoffs::load(chain.store(), epoch), Ok(Some(_)))
    {
        return;
    }
    let last = chain.last_of(epoch);
    let Some(f) = marshal
        .get_finalization(commonware_consensus::types::Height::new(last))
        .await
    else {
        tracing::debug!(target: "mycel::consensus", epoch, last, "no finalization of the epoch's last block: no hand-off recorded");
        return;
    };
    if let Err(e) = chain.record_handoff(f) {
        tracing::debug!(target: "mycel::consensus", epoch, error = %e, "hand-off not recorded");
    }
}

fn archive_config<C: Clone>(
    prefix: &str,
    page_cache: CacheRef,
    codec_config: C,
) -> immutable::Config<C> {
    immutable::Config {
        metadata_partition: format!("{prefix}-metadata"),
        freezer_table_partition: format!("{prefix}-freezer-table"),
        freezer_table_initial_size: 64,
        freezer_table_resize_frequency: 10,
        freezer_table_resize_chunk_size: 10,
        freezer_key_partition: format!("{prefix}-freezer-key"),
        freezer_key_page_cache: page_cache,
        freezer_value_partition: format!("{prefix}-freezer-value"),
        freezer_value_target_size: 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-ordinal"),
        items_per_section: NZU64!(1_024),
        codec_config,
        replay_buffer: NZUsize!(64 * 1024),
        freezer_key_write_buffer: NZUsize!(64 * 1024),
        freezer_value_write_buffer: NZUsize!(64 * 1024),
        ordinal_write_buffer: NZUsize!(64 * 1024),
    }
}

/// The participant set of a validator list (sorted, deduplicated).
pub fn participants(keys: &[PublicKey]) -> commonware_utils::ordered::Set<PublicKey> {
    commonware_utils::ordered::Set::from_iter_dedup(keys.iter().cloned())
}

/// The scheme of a node that follows `participants` without signing (a full node).
pub fn verifier_scheme(participants: commonware_utils::ordered::Set<PublicKey>) -> Scheme {
    Scheme::verifier(NAMESPACE, participants)
}

/// The signing scheme of validator `signer` among `participants`; `None` if it is not one.
pub fn signer_scheme(
    participants: commonware_utils::ordered::Set<PublicKey>,
    signer: commonware_cryptography::ed25519::PrivateKey,
) -> Option<Scheme> {
    Scheme::signer(NAMESPACE, participants, signer)
}
