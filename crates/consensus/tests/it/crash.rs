//! The whole network crashes with writes in flight: the simulated storage keeps a random subset
//! of every byte that was written but not synced (a torn journal or archive write), and every
//! validator restarts from what is left. They must recover, finalize the same history, never
//! equivocate and keep every finalized transaction.

use super::*;
use commonware_runtime::deterministic::{FaultConfig, PartialWriteMode, WriteConfig};

/// Height the network reaches before the crash.
const BEFORE: u64 = 8;

fn nonce(chain: &Chain, account: usize) -> u64 {
    let state = chain.finalized_state().unwrap();
    mycel_ledger::execute::nonce(
        &state,
        &Address::from_public_key(&dev_key("account", account).public_key()),
    )
    .unwrap()
}

fn spawn_all(
    ctx: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    genesis: &Genesis,
    paths: &[PathBuf],
    seen: &[Seen],
) -> Vec<Validator> {
    (0..N)
        .map(|i| {
            spawn_validator(
                ctx,
                oracle,
                i,
                genesis.clone(),
                paths[i].clone(),
                seen[i].clone(),
            )
        })
        .collect()
}

async fn wait_nonce(ctx: &deterministic::Context, v: &Validator, account: usize, n: u64) {
    loop {
        if let Some(c) = v.chain.lock().clone()
            && nonce(&c, account) >= n
        {
            return;
        }
        ctx.sleep(Duration::from_millis(100)).await;
    }
}

fn crash_and_recover(seed: u64) {
    let dirs: Vec<tempfile::TempDir> = (0..N).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    let link = Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    };
    // No write fails outright; at the crash each unsynced byte survives with probability 1/2.
    let faults = FaultConfig::default().write(WriteConfig {
        failure_rate: probability!(0.0),
        retention_rate: probability!(0.5),
        mode: PartialWriteMode::Subset,
    });
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(3_600)))
        .with_storage_fault_config(faults);
    let genesis = Genesis::dev("sim", N);
    let before: Vec<Seen> = (0..N)
        .map(|_| Arc::new(Mutex::new(BTreeMap::new())))
        .collect();

    // Run 1: finalize some blocks with transfers in them, then crash everything at once.
    let (_, checkpoint) = deterministic::Runner::new(cfg).start_and_recover({
        let (genesis, paths, seen, link) =
            (genesis.clone(), paths.clone(), before.clone(), link.clone());
        |ctx| async move {
            let keys: Vec<PublicKey> = genesis.validator_keys().unwrap();
            let oracle = network(&ctx, &keys, link.clone()).await;
            let vals = spawn_all(&ctx, &oracle, &genesis, &paths, &seen);
            ctx.sleep(Duration::from_millis(500)).await;
            for n in 0..5 {
                for v in &vals {
                    submit(v, transfer(0, n, "sim"));
                }
            }
            wait_for(&ctx, &seen, &[0, 1, 2, 3], BEFORE).await;
            wait_nonce(&ctx, &vals[0], 0, 5).await;
            for v in &vals {
                *v.chain.lock() = None;
            }
        }
    });
    let crashed = agree(&before);
    assert!(crashed.len() as u64 >= BEFORE);

    // Run 2: the same stores after the crash; new transfers finalize on top of the old history.
    let after: Vec<Seen> = (0..N)
        .map(|_| Arc::new(Mutex::new(BTreeMap::new())))
        .collect();
    deterministic::Runner::from(checkpoint).start({
        let (after, crashed) = (after.clone(), crashed.clone());
        |ctx| async move {
            let keys: Vec<PublicKey> = genesis.validator_keys().unwrap();
            let oracle = network(&ctx, &keys, link).await;
            let vals = spawn_all(&ctx, &oracle, &genesis, &paths, &after);
            ctx.sleep(Duration::from_millis(500)).await;
            for n in 0..5 {
                for v in &vals {
                    submit(v, transfer(1, n, "sim"));
                }
            }
            let top = crashed.last().unwrap().0;
            wait_for(&ctx, &after, &[0, 1, 2, 3], top + 5).await;
            wait_nonce(&ctx, &vals[0], 1, 5).await;
            for v in &vals {
                let chain = v.chain.lock().clone().unwrap();
                // Nothing finalized before the crash was lost or rewritten.
                assert_eq!(nonce(&chain, 0), 5, "a finalized transfer was lost");
                assert_eq!(nonce(&chain, 1), 5);
                for (h, d, _) in &crashed {
                    let bytes = chain
                        .store()
                        .block(*h)
                        .unwrap()
                        .expect("finalized block kept");
                    assert_eq!(mycel_consensus::block::decode(&bytes).unwrap().hash(), *d);
                }
                // A validator whose vote journal was torn must not vote twice in a view.
                assert_eq!(chain.pending_evidence(), 0, "a validator equivocated");
            }
            assert!(
                oracle.blocked().await.unwrap().is_empty(),
                "an honest peer was blocked"
            );
            for v in &vals {
                *v.chain.lock() = None;
            }
        }
    });
    // Every node agrees on every height it finalized after the restart.
    let recovered = agree(&after);
    assert!(recovered.last().unwrap().0 >= crashed.last().unwrap().0 + 5);
    // Heights finalized in both runs (re-delivered after the crash) are the same blocks.
    for (h, d, r) in &recovered {
        if let Some((_, d0, r0)) = crashed.iter().find(|(h0, _, _)| h0 == h) {
            assert_eq!((d, r), (d0, r0), "height {h} changed across the crash");
        }
    }
}

#[test]
fn torn_writes_at_a_network_crash_lose_nothing_finalized() {
    for seed in [3, 4] {
        crash_and_recover(seed);
    }
}
