//! Runs a validator node: consensus over authenticated TCP, the ledger store and the HTTP API.

use crate::{
    Error, Home, Result,
    config::Role,
    error::io,
    http::{self, ApiState},
    keystore::Keystore,
    roles::gateway::{Gateway, GatewayConfig},
};
use commonware_cryptography::{ChaCha20Poly1305, Signer, ed25519::PublicKey};
use commonware_p2p::{Address as P2pAddress, AddressableManager as _, authenticated::lookup};
use commonware_runtime::{Metrics, Runner as _, Spawner as _, Supervisor as _, tokio as cw_tokio};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZUsize, ordered::Map};
use mycel_consensus::{
    Chain, Finalizer,
    engine::{self, Timing},
    gossip,
    mempool::Limits,
};
use mycel_primitives::{Address, Hash, codec::Encode, keys::public_key_from_bytes};
use mycel_store::Store;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use std::{sync::Arc, time::Duration};
use tracing::{info, warn};

/// Options that override `config.toml`.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// HTTP API address.
    pub api_addr: Option<std::net::SocketAddr>,
    /// p2p address.
    pub p2p_addr: Option<std::net::SocketAddr>,
    /// Role, overriding `config.toml`'s.
    pub role: Option<Role>,
    /// State sync from this peer API when the store is empty, overriding `config.toml`'s.
    pub state_sync: Option<String>,
    /// Called once the API is listening, with its address.
    pub on_ready: Option<Arc<dyn Fn(std::net::SocketAddr) + Send + Sync>>,
    /// Serve the OpenAI-compatible gateway on the API port.
    pub gateway: bool,
}

/// How often a node pushes its oldest pending transactions to its peers again.
const REGOSSIP_EVERY: Duration = Duration::from_secs(2);

/// The mempool's bounds from `config.toml`.
fn mempool_limits(cfg: &crate::config::NodeConfig) -> Limits {
    let mut limits = Limits::new(cfg.mempool_size);
    if cfg.mempool_per_sender > 0 {
        limits.max_per_sender = cfg.mempool_per_sender;
    }
    limits
}

/// Runs the node in `home` until the process is stopped.
pub fn run(home: &Home, opts: RunOptions) -> Result<()> {
    let mut cfg = home.config()?;
    if let Some(a) = opts.api_addr {
        cfg.api_addr = a;
    }
    if let Some(a) = opts.p2p_addr {
        cfg.p2p_addr = a;
    }
    let genesis = home.genesis()?;
    let key = Keystore::new(home.keys_dir())
        .load("validator")?
        .private_key()?;
    let me = key.public_key();
    let validators = genesis.validator_keys()?;
    let role = opts.role.unwrap_or(cfg.role);
    if role == Role::Validator && !validators.contains(&me) {
        // It votes from the first epoch whose set includes it (after it bonds).
        info!(target: "mycel::node", "this node's key is not a genesis validator: it follows the chain until an epoch's validator set includes it");
    }
    let data = home.data_dir();
    std::fs::create_dir_all(&data).map_err(io(&data))?;
    let store = Arc::new(Store::open_with_cache(
        home.state_db(),
        cfg.state_cache_mb.max(1) << 20,
    )?);
    let sync_from = opts.state_sync.clone().or(cfg.state_sync.clone());
    let synced = match sync_from {
        Some(peer) if store.head()?.is_none() => {
            let trust = cfg
                .trust_hash
                .as_deref()
                .map(Hash::from_hex)
                .transpose()
                .map_err(|e| Error::Invalid {
                    what: "trust_hash".into(),
                    why: e.to_string(),
                })?;
            let started = std::time::Instant::now();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(io(std::path::Path::new("state sync runtime")))?;
            let synced = rt.block_on(crate::services::sync::from_peer(
                &peer, &store, &genesis, trust,
            ))?;
            info!(target: "mycel::node", peer, height = synced.height, ms = started.elapsed().as_millis() as u64, "state synced");
            Some(synced)
        }
        _ => None,
    };
    let blobs = mycel_store::BlobStore::open(home.blobs_dir())?;
    let chain = Arc::new(Chain::open(
        store,
        &genesis,
        cfg.max_block_txs,
        mempool_limits(&cfg),
    )?);
    // A synced store executes the few blocks between the snapshot and its certificate.
    if let Some(s) = &synced {
        for b in &s.blocks {
            chain.verify(b)?;
            chain.finalize(b)?;
        }
    }
    let anchor = crate::services::sync::anchor(chain.store())?;
    let head = chain.head()?;
    info!(target: "mycel::node", height = head.height, root = %head.root, "store opened");

    let mut peers: Vec<(PublicKey, P2pAddress)> = vec![(me.clone(), cfg.p2p_addr.into())];
    for p in &cfg.peers {
        let bytes = hex::decode(&p.public_key).map_err(|e| Error::Invalid {
            what: "peer key".into(),
            why: e.to_string(),
        })?;
        let pk = public_key_from_bytes(&bytes).map_err(|e| Error::Invalid {
            what: "peer key".into(),
            why: e.to_string(),
        })?;
        peers.push((pk, p.address.into()));
    }
    let timing = Timing {
        heartbeat: Duration::from_millis(cfg.heartbeat_ms),
        leader_timeout: Duration::from_millis(cfg.leader_timeout_ms),
        certification_timeout: Duration::from_millis(cfg.leader_timeout_ms + 1_000),
        timeout_retry: Duration::from_millis(1_000),
        skip_timeout: Duration::from_millis(cfg.leader_timeout_ms + 3_000),
    };
    let runtime = cw_tokio::Config::new()
        .with_storage_directory(home.consensus_dir())
        .with_worker_threads(2)
        .with_catch_panics(false);
    let validator_addr = Address::from_public_key(&me);
    let result: Result<()> = cw_tokio::Runner::new(runtime).start(|ctx| async move {
        let max_msg = engine::MAX_MESSAGE_BYTES.min(lookup::max_size::<
            Cups<Sake<commonware_cryptography::ed25519::PrivateKey>, ChaCha20Poly1305>,
        >());
        let p2p = lookup::Config::local(
            Cups::<_, ChaCha20Poly1305>::new(
                Sake {
                    signer: key.clone(),
                    synchrony_bound: Duration::from_secs(5),
                    max_handshake_age: Duration::from_secs(10),
                    version: sake::Version::V1,
                },
                cups::Version::V1,
            ),
            b"_MYCEL_P2P",
            cfg.p2p_addr,
            NZUsize!(peers.len().max(1)),
            max_msg,
            NZUsize!(1_024),
        );
        let (mut network, mut oracle) = lookup::Network::new(ctx.child("p2p"), p2p);
        let peer_map: Map<PublicKey, P2pAddress> =
            peers.try_into().map_err(|_| Error::Invalid {
                what: "peers".into(),
                why: "duplicate peer".into(),
            })?;
        let _ = oracle.track(0, peer_map);
        let mut register = |channel| network.register(channel, engine::channel_quota(channel));
        let channels = [
            register(engine::CHANNEL_VOTES),
            register(engine::CHANNEL_CERTIFICATES),
            register(engine::CHANNEL_RESOLVER),
            register(engine::CHANNEL_BLOCKS),
            register(engine::CHANNEL_BACKFILL),
        ];
        // Transactions admitted here are pushed to the other validators, so whichever leads
        // next can include them (one hop: validators form a full mesh).
        let (mut gossip_out, mut gossip_in) = register(engine::CHANNEL_TXS);
        network.start();
        let (gossip_tx, mut gossip_rx) = futures::channel::mpsc::unbounded::<Vec<u8>>();
        ctx.child("gossip_out").spawn(move |_| async move {
            use commonware_p2p::Sender as _;
            use futures::StreamExt as _;
            // Whatever was admitted meanwhile goes out in one message.
            while let Some(first) = gossip_rx.next().await {
                let mut txs = vec![first];
                while txs.len() < 4 * engine::MAX_GOSSIP_TXS {
                    match gossip_rx.try_recv() {
                        Ok(t) => txs.push(t),
                        Err(_) => break,
                    }
                }
                for batch in gossip::encode_batches(&txs, max_msg as usize) {
                    let _ = gossip_out.send(commonware_p2p::Recipients::All, batch, false);
                }
            }
        });
        let gossip_chain = chain.clone();
        let mut gossip_blocker = oracle.clone();
        ctx.child("gossip_in").spawn(move |_| async move {
            use commonware_p2p::{Blocker as _, Receiver as _};
            while let Ok((peer, buf)) = gossip_in.recv().await {
                match gossip::decode_batch(buf.as_ref()) {
                    Ok(txs) => {
                        // Duplicates (re-gossip) and stale transactions are expected; the
                        // mempool rejects them before checking signatures. A forged one
                        // comes from a faulty peer.
                        let forged = gossip_chain
                            .admit_gossiped(txs)
                            .iter()
                            .any(|r| matches!(r, Err(mycel_ledger::TxError::BadSignature)));
                        if forged {
                            warn!(target: "mycel::p2p", peer = %peer, "blocking a peer that gossiped a forged transaction");
                            let _ = gossip_blocker.block(peer.clone());
                        }
                    }
                    Err(e) => {
                        warn!(target: "mycel::p2p", peer = %peer, error = %e, "blocking a peer for bad gossip");
                        let _ = gossip_blocker.block(peer);
                    }
                }
            }
        });

        // Gossip is best effort (a send over a peer's quota, or to a peer that is down, is
        // dropped), and a node that does not propose (a full node, a validator outside the
        // epoch's set) holds transactions only others can include: every few seconds each node
        // pushes its oldest pending transactions again, so none it acknowledged is stranded.
        let regossip_chain = chain.clone();
        let regossip_tx = gossip_tx.clone();
        ctx.child("regossip").spawn(move |ctx| async move {
            loop {
                commonware_runtime::Clock::sleep(&ctx, REGOSSIP_EVERY).await;
                for tx in regossip_chain.pending_sample(engine::MAX_GOSSIP_TXS) {
                    let _ = regossip_tx.unbounded_send(tx.encode().to_vec());
                }
            }
        });

        let height = ctx.register("height", "last finalized height", Gauge::<i64>::default());
        let mempool = ctx.register(
            "mempool_size",
            "pending transactions",
            Gauge::<i64>::default(),
        );
        let finalized_txs = ctx.register(
            "finalized_txs",
            "transactions finalized since start",
            Counter::<u64>::default(),
        );
        height.set(head.height as i64);
        let hook_chain = chain.clone();
        let (finalized_tx, finalized_rx) = tokio::sync::watch::channel(head.height);
        let finalizer = Finalizer::new(chain.clone()).with_hook(Arc::new(move |b| {
            finalized_tx.send_replace(b.height);
            height.set(b.height as i64);
            mempool.set(hook_chain.mempool_len() as i64);
            finalized_txs.inc_by(b.txs.len() as u64);
        }));

        // A full node has no signing key: it verifies every certificate and re-executes every
        // block, and never votes.
        let signer = match role {
            Role::Validator => Some(key),
            Role::Full => None,
        };
        let handles = engine::start(
            ctx.child("engine"),
            "mycel",
            chain.clone(),
            signer,
            anchor,
            me,
            timing,
            finalizer,
            oracle.clone(),
            oracle,
            channels,
        )
        .await;

        let listener = tokio::net::TcpListener::bind(cfg.api_addr)
            .await
            .map_err(io(std::path::Path::new(&cfg.api_addr.to_string())))?;
        let bound = listener
            .local_addr()
            .map_err(io(std::path::Path::new("api listener")))?;
        let gateway = if opts.gateway {
            let g = Gateway::open(home, &format!("http://{bound}"), GatewayConfig::default())?;
            let background = g.clone();
            ctx.child("gateway")
                .spawn(move |_| background.run_background());
            Some(g)
        } else {
            None
        };
        let upload_lock = crate::net::gc::UploadLock::default();
        let blob_peers = crate::net::Peers::new(cfg.blob_peers.clone());
        let collector = crate::net::gc::Collector::new(
            chain.clone(),
            blobs.clone(),
            blob_peers.clone(),
            upload_lock.clone(),
            home.datasets_dir(),
            std::time::Duration::from_secs(cfg.blob_grace_secs),
        );
        ctx.child("blob_gc").spawn(move |_| collector.run());
        let metrics_ctx = ctx.child("api_metrics");
        let metrics_gateway = gateway.clone();
        let state = ApiState {
            chain,
            validator: validator_addr,
            metrics: Arc::new(move || {
                let mut text = metrics_ctx.encode();
                if let Some(g) = &metrics_gateway {
                    text.push_str(&g.metrics_text());
                }
                text
            }),
            finalized: finalized_rx,
            blobs,
            blob_quota: cfg.blob_quota_bytes,
            blob_peers,
            blob_replicas: cfg.blob_replicas,
            upload_lock: upload_lock.clone(),
            gossip: Some(gossip_tx),
        };
        let app = http::router(state, cfg.max_request_bytes, gateway.map(|g| g.router()));
        ctx.child("api").spawn(move |_| async move {
            if let Err(e) = http::serve(listener, app).await {
                tracing::error!(target: "mycel::api", error = %e, "api server stopped");
            }
        });
        info!(target: "mycel::node", api = %bound, p2p = %cfg.p2p_addr, ?role, "node running");
        if let Some(f) = &opts.on_ready {
            f(bound);
        }
        futures::future::join_all(handles).await;
        Ok(())
    });
    result
}
