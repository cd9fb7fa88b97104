//! Deterministic simulation of a 4-validator mycel chain: real ledger, real redb stores, real
//! Simplex + marshal, simulated network with latency and jitter, a crashed validator, a
//! partition that heals and a restart that catches up, a whole-network crash that tears unsynced
//! writes (crash.rs); and golden vectors and property tests of
//! the block codec.

mod byzantine;
mod crash;
mod epochs;
mod golden;
mod liveness;
mod mempool;
mod roundtrip;
#[path = "../../../ledger/tests/it/strategies.rs"]
mod strategies;

use commonware_cryptography::{Signer, ed25519::PublicKey};
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{
    Clock, Handle, Metrics, Quota, Runner, Spawner, Supervisor, deterministic,
};
use commonware_utils::{NZU32, NZUsize, probability};
use mycel_consensus::{
    Chain, Finalizer,
    engine::{self, Timing},
};
use mycel_ledger::{
    Message, TxBody,
    genesis::{Genesis, dev_key},
    modules::bank,
};
use mycel_primitives::{Address, Amount, Hash};
use mycel_store::Store;
use parking_lot::Mutex;
use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

type Seen = Arc<Mutex<BTreeMap<u64, (Hash, Hash)>>>;

const N: usize = 4;

struct Validator {
    handle: Handle<()>,
    chain: Arc<Mutex<Option<Arc<Chain>>>>,
}

fn spawn_validator(
    ctx: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    i: usize,
    genesis: Genesis,
    dir: PathBuf,
    seen: Seen,
) -> Validator {
    spawn_node(
        ctx,
        oracle,
        dev_key("validator", i),
        true,
        genesis,
        dir,
        seen,
    )
}

/// The storage-partition prefix of the node with key `pk` (its partitions share one simulated
/// storage with the other nodes').
fn partition_prefix(pk: &PublicKey) -> String {
    format!("n{}", hex::encode(&pk.as_ref()[..4]))
}

/// Starts a node with key `sk`: a validator (`signer`, `sk` must be a participant) or a full
/// node that follows without signing.
fn spawn_node(
    ctx: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    sk: commonware_cryptography::ed25519::PrivateKey,
    signer: bool,
    genesis: Genesis,
    dir: PathBuf,
    seen: Seen,
) -> Validator {
    let oracle = oracle.clone();
    let slot: Arc<Mutex<Option<Arc<Chain>>>> = Arc::new(Mutex::new(None));
    let slot_task = slot.clone();
    let name = hex::encode(&sk.public_key().as_ref()[..4]);
    let partition = partition_prefix(&sk.public_key());
    let handle = ctx
        .child("node")
        .with_attribute("key", &name)
        .spawn(move |ctx| async move {
            let pk = sk.public_key();
            let control = oracle.control(pk.clone());
            let quota = Quota::per_second(NZU32!(100_000));
            let mut channels = Vec::new();
            for ch in 0..5u64 {
                channels.push(control.register(ch, quota).await.expect("register channel"));
            }
            let channels: [_; 5] = channels.try_into().unwrap_or_else(|_| unreachable!());
            // A restarted validator may find the previous incarnation's file still closing.
            let store = loop {
                match Store::open(dir.join("state.redb")) {
                    Ok(s) => break Arc::new(s),
                    Err(_) => ctx.sleep(Duration::from_millis(50)).await,
                }
            };
            let chain = Arc::new(Chain::open(store, &genesis, 1_000, 10_000).expect("open chain"));
            *slot_task.lock() = Some(chain.clone());
            let signer = signer.then_some(sk);
            let record = seen.clone();
            let finalizer = Finalizer::new(chain.clone()).with_hook(Arc::new(move |b| {
                record.lock().insert(b.height, (b.hash(), b.state_root));
            }));
            let handles = engine::start(
                ctx.child("node"),
                &partition,
                chain,
                signer,
                None,
                pk,
                Timing::default(),
                finalizer,
                control.clone(),
                oracle.manager(),
                channels,
            )
            .await;
            futures::future::join_all(handles).await;
        });
    Validator {
        handle,
        chain: slot,
    }
}

/// A started simulated network of `keys` (one peer set), fully meshed with `link`.
async fn network(
    ctx: &deterministic::Context,
    keys: &[PublicKey],
    link: Link,
) -> Oracle<PublicKey, deterministic::Context> {
    let (network, oracle) = Network::new_with_peers(
        ctx.child("network"),
        simulated::Config {
            max_size: engine::MAX_MESSAGE_BYTES,
            max_peers_per_set: NZUsize!(keys.len()),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
        keys.to_vec(),
    )
    .await;
    network.start();
    for a in keys {
        for b in keys {
            if a != b {
                oracle
                    .add_link(a.clone(), b.clone(), link.clone())
                    .await
                    .unwrap();
            }
        }
    }
    oracle
}

/// Finalized (height, digest, state root) of every node agree where they overlap; node 0's.
fn agree(seen: &[Seen]) -> Vec<(u64, Hash, Hash)> {
    let reference = seen[0].lock().clone();
    for s in &seen[1..] {
        for (h, v) in s.lock().iter() {
            if let Some(r) = reference.get(h) {
                assert_eq!(r, v, "nodes disagree at height {h}");
            }
        }
    }
    reference.into_iter().map(|(h, (d, r))| (h, d, r)).collect()
}

fn max_height(seen: &Seen) -> u64 {
    seen.lock().keys().next_back().copied().unwrap_or(0)
}

async fn wait_for(ctx: &deterministic::Context, seen: &[Seen], who: &[usize], height: u64) {
    loop {
        if who.iter().all(|&i| max_height(&seen[i]) >= height) {
            return;
        }
        ctx.sleep(Duration::from_millis(100)).await;
    }
}

fn transfer(from: usize, nonce: u64, chain_id: &str) -> mycel_ledger::Tx {
    let k = dev_key("account", from);
    TxBody {
        chain_id: chain_id.into(),
        sender: k.public_key(),
        nonce,
        fee: Amount::from_myc(1),
        messages: vec![Message::Bank(bank::Msg::Transfer {
            to: Address([from as u8 + 1; 20]),
            amount: Amount(1_000 + nonce as u128),
        })],
        memo: String::new(),
    }
    .sign(&k)
}

fn submit(v: &Validator, tx: mycel_ledger::Tx) {
    if let Some(chain) = v.chain.lock().as_ref() {
        chain.submit(tx).expect("admitted");
    }
}

fn run(seed: u64) -> Vec<(u64, Hash, Hash)> {
    let dirs: Vec<tempfile::TempDir> = (0..N).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(3_600)));
    deterministic::Runner::new(cfg).start(|ctx| async move {
        let genesis = Genesis::dev("sim", N);
        let keys: Vec<PublicKey> = genesis.validator_keys().unwrap();
        let link = Link {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            success_rate: probability!(1.0),
        };
        let oracle = network(&ctx, &keys, link.clone()).await;
        // dev_key("validator", i) are the genesis validators, in genesis order.
        let index_of = |i: usize| {
            keys.iter()
                .position(|k| *k == dev_key("validator", i).public_key())
                .unwrap()
        };
        let seen: Vec<Seen> = (0..N)
            .map(|_| Arc::new(Mutex::new(BTreeMap::new())))
            .collect();
        let mut vals: Vec<Validator> = (0..N)
            .map(|i| {
                spawn_validator(
                    &ctx,
                    &oracle,
                    i,
                    genesis.clone(),
                    paths[i].clone(),
                    seen[i].clone(),
                )
            })
            .collect();

        // Transactions go to every validator so whichever leads includes them.
        ctx.sleep(Duration::from_millis(500)).await;
        for n in 0..5 {
            for v in &vals {
                submit(v, transfer(0, n, "sim"));
            }
        }
        wait_for(&ctx, &seen, &[0, 1, 2, 3], 5).await;

        // Crash validator 3: the other three (a quorum) keep finalizing.
        vals[3].handle.abort();
        *vals[3].chain.lock() = None;
        let h = (0..3).map(|i| max_height(&seen[i])).max().unwrap();
        for n in 0..5 {
            for v in &vals[..3] {
                submit(v, transfer(1, n, "sim"));
            }
        }
        wait_for(&ctx, &seen, &[0, 1, 2], h + 5).await;

        // Partition {0} | {1, 2}: without a quorum nothing new finalizes.
        let (k0, k1, k2) = (
            keys[index_of(0)].clone(),
            keys[index_of(1)].clone(),
            keys[index_of(2)].clone(),
        );
        for p in [&k1, &k2] {
            oracle.remove_link(k0.clone(), p.clone()).await.unwrap();
            oracle.remove_link(p.clone(), k0.clone()).await.unwrap();
        }
        ctx.sleep(Duration::from_secs(2)).await;
        let stalled = (0..3).map(|i| max_height(&seen[i])).max().unwrap();
        ctx.sleep(Duration::from_secs(20)).await;
        let after = (0..3).map(|i| max_height(&seen[i])).max().unwrap();
        assert!(
            after <= stalled + 1,
            "finalized without a quorum: {stalled} -> {after}"
        );

        // Heal: progress resumes.
        for p in [&k1, &k2] {
            oracle
                .add_link(k0.clone(), p.clone(), link.clone())
                .await
                .unwrap();
            oracle
                .add_link(p.clone(), k0.clone(), link.clone())
                .await
                .unwrap();
        }
        wait_for(&ctx, &seen, &[0, 1, 2], after + 5).await;

        // Restart validator 3 from its store: it catches up through backfill.
        let target = (0..3).map(|i| max_height(&seen[i])).max().unwrap();
        vals[3] = spawn_validator(
            &ctx,
            &oracle,
            3,
            genesis.clone(),
            paths[3].clone(),
            seen[3].clone(),
        );
        wait_for(&ctx, &seen, &[0, 1, 2, 3], target + 3).await;

        assert!(
            oracle.blocked().await.unwrap().is_empty(),
            "an honest peer was blocked"
        );
        // Every validator finalized the same block and state root at every height it saw.
        let trace = agree(&seen);
        // The transfers were finalized: account 0 used 5 nonces, account 1 used 5.
        let chain = vals[0].chain.lock().clone().unwrap();
        let state = chain.finalized_state().unwrap();
        assert_eq!(
            mycel_ledger::execute::nonce(
                &state,
                &Address::from_public_key(&dev_key("account", 0).public_key())
            )
            .unwrap(),
            5
        );
        assert_eq!(
            mycel_ledger::execute::nonce(
                &state,
                &Address::from_public_key(&dev_key("account", 1).public_key())
            )
            .unwrap(),
            5
        );
        // Proposers carried finalization certificates of earlier blocks, and the ledger counted
        // their signers (genesis validators only) for the epoch.
        let head = chain.head().unwrap().height;
        let carried = (1..=head)
            .filter(|h| {
                let bytes = chain.store().block(*h).unwrap().unwrap();
                mycel_consensus::block::decode(&bytes)
                    .unwrap()
                    .certificate
                    .is_some()
            })
            .count() as u64;
        assert!(
            carried > head / 2,
            "{carried} of {head} blocks carry a certificate"
        );
        let (certified, signed) = mycel_ledger::modules::staking::liveness(&state, 0).unwrap();
        if head < genesis.params.rewards.epoch_length {
            assert_eq!(certified, carried);
        }
        let addrs: Vec<Address> = keys.iter().map(Address::from_public_key).collect();
        assert!(!signed.is_empty());
        assert!(
            signed
                .iter()
                .all(|(a, n)| addrs.contains(a) && *n > 0 && *n <= certified)
        );
        let _ = ctx.encode();
        trace
    })
}

#[test]
fn four_validators_survive_crash_and_partition() {
    let trace = run(7);
    assert!(trace.len() > 10);
}

#[test]
fn same_seed_same_trace() {
    let a = run(11);
    let b = run(11);
    assert_eq!(a, b);
}
