//! The simulation under faults the engine's own tests cover: lossy, jittery links with a full
//! node following, and a Byzantine validator (the engine's `Conflicter` mock) that signs
//! conflicting votes in every view. Same seed, same trace.

use super::*;
use commonware_consensus::simplex::mocks::conflicter::{Config as ConflicterConfig, Conflicter};
use commonware_cryptography::Blake3;

/// Four honest validators and a full node over links that deliver 70 % of messages with 50 ms
/// (± 30 ms) latency; transactions finalize and the full node follows every block.
fn lossy(seed: u64) -> Vec<(u64, Hash, Hash)> {
    let dirs: Vec<tempfile::TempDir> = (0..N + 1).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(3_600)));
    deterministic::Runner::new(cfg).start(|ctx| async move {
        let genesis = Genesis::dev("sim", N);
        let full = dev_key("full", 0);
        let mut keys: Vec<PublicKey> = genesis.validator_keys().unwrap();
        keys.push(full.public_key());
        let link = Link {
            latency: Duration::from_millis(50),
            jitter: Duration::from_millis(30),
            success_rate: probability!(0.7),
        };
        let oracle = network(&ctx, &keys, link).await;
        let seen: Vec<Seen> = (0..N + 1)
            .map(|_| Arc::new(Mutex::new(BTreeMap::new())))
            .collect();
        let mut nodes: Vec<Validator> = (0..N)
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
        nodes.push(spawn_node(
            &ctx,
            &oracle,
            full,
            false,
            genesis.clone(),
            paths[N].clone(),
            seen[N].clone(),
        ));
        ctx.sleep(Duration::from_millis(500)).await;
        for n in 0..5 {
            for v in &nodes[..N] {
                submit(v, transfer(0, n, "sim"));
            }
        }
        wait_for(&ctx, &seen, &[0, 1, 2, 3, 4], 12).await;
        assert!(
            oracle.blocked().await.unwrap().is_empty(),
            "an honest peer was blocked"
        );
        let trace = agree(&seen);
        // The full node re-executed every block to the same state, transfers included.
        let chain = nodes[N].chain.lock().clone().unwrap();
        let state = chain.finalized_state().unwrap();
        let sender = Address::from_public_key(&dev_key("account", 0).public_key());
        assert_eq!(mycel_ledger::execute::nonce(&state, &sender).unwrap(), 5);
        let _ = ctx.encode();
        trace
    })
}

#[test]
fn lossy_links_and_a_full_node() {
    assert!(lossy(3).len() >= 12);
}

#[test]
fn lossy_same_seed_same_trace() {
    assert_eq!(lossy(5), lossy(5));
}

/// Validator 3 is the engine's `Conflicter`: for every vote it receives it signs the proposal
/// and a random one in the same round. The three honest validators keep finalizing, report
/// the conflicting votes, put the proof in a block, and the ledger slashes and tombstones the
/// offender.
fn byzantine(seed: u64) -> (Vec<(u64, Hash, Hash)>, bool) {
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
        let oracle = network(&ctx, &keys, link).await;
        let seen: Vec<Seen> = (0..N)
            .map(|_| Arc::new(Mutex::new(BTreeMap::new())))
            .collect();
        let honest: Vec<Validator> = (0..3)
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
        // The Byzantine validator: only a vote channel, answering every vote with two.
        let sk = dev_key("validator", 3);
        let control = oracle.control(sk.public_key());
        let quota = Quota::per_second(NZU32!(100_000));
        let (votes_tx, votes_rx) = control
            .register(engine::CHANNEL_VOTES, quota)
            .await
            .unwrap();
        // Epoch 0's votes travel on subchannel 0 of the vote channel.
        let (mux, mut handle) =
            commonware_p2p::utils::mux::Muxer::new(ctx.child("conflicter_mux"), votes_tx, votes_rx);
        mux.start();
        let votes = handle.register(0).await.unwrap();
        for ch in 1..5u64 {
            let _ = control.register(ch, quota).await.unwrap();
        }
        let participants = engine::participants(&keys);
        let scheme = engine::signer_scheme(participants, sk.clone()).unwrap();
        Conflicter::<_, _, Blake3>::new(ctx.child("conflicter"), ConflicterConfig { scheme })
            .start(votes);

        let offender = Address::from_public_key(&sk.public_key());

        let stake = Amount::from_myc(10_000);
        ctx.sleep(Duration::from_millis(500)).await;
        for n in 0..3 {
            for v in &honest {
                submit(v, transfer(0, n, "sim"));
            }
        }
        // Under most schedules each honest node holds two of the offender's votes for one
        // view and reports them; under some, the engine refuses the offender's first
        // conflicting vote against a leader proposal it already holds and disconnects it
        // without evidence (one signed vote proves nothing). Give the chain 30 s either way.
        ctx.sleep(Duration::from_secs(30)).await;
        let h = (0..3).map(|i| max_height(&seen[i])).max().unwrap();
        wait_for(&ctx, &seen, &[0, 1, 2], h + 3).await;
        let chain = honest[0].chain.lock().clone().unwrap();
        let state = chain.finalized_state().unwrap();
        let staking = |a: &Address| {
            mycel_ledger::modules::staking::stake(
                &state,
                a,
                mycel_ledger::modules::staking::Role::Validator,
            )
            .unwrap()
        };
        // No honest validator is ever slashed; the offender at most once, with one proof.
        for i in 0..3 {
            let a = Address::from_public_key(&dev_key("validator", i).public_key());
            assert_eq!(staking(&a), stake, "honest validator {i} slashed");
        }
        let head = chain.head().unwrap().height;
        let with_evidence: Vec<u64> = (1..=head)
            .filter(|h| {
                let bytes = chain.store().block(*h).unwrap().unwrap();
                !mycel_consensus::block::decode(&bytes)
                    .unwrap()
                    .evidence
                    .is_empty()
            })
            .collect();
        let slashed = mycel_ledger::modules::staking::tombstoned(&state, &offender).unwrap();
        let cut = stake.0 * mycel_ledger::modules::staking::EQUIVOCATION_SLASH_BPS as u128 / 10_000;
        if slashed {
            assert_eq!(
                staking(&offender),
                Amount(stake.0 - cut),
                "slashed exactly once"
            );
            assert_eq!(with_evidence.len(), 1, "{with_evidence:?}");
        } else {
            assert_eq!(staking(&offender), stake);
            assert!(with_evidence.is_empty());
        }
        // The honest validators were never blocked; the conflicter was, by all of them.
        let blocked = oracle.blocked().await.unwrap();
        assert!(
            blocked.iter().all(|(_, b)| *b == sk.public_key()),
            "{blocked:?}"
        );
        assert_eq!(blocked.len(), 3, "{blocked:?}");
        assert_eq!(
            mycel_ledger::execute::nonce(
                &state,
                &Address::from_public_key(&dev_key("account", 0).public_key())
            )
            .unwrap(),
            3
        );
        let _ = ctx.encode();
        (agree(&seen[..3]), slashed)
    })
}

#[test]
fn an_equivocating_validator_is_slashed_once_with_the_evidence() {
    let (trace, slashed) = byzantine(9);
    assert!(
        slashed,
        "seed 9's schedule lets the honest nodes hold two conflicting votes"
    );
    assert!(trace.len() > 3);
}

#[test]
fn across_schedules_only_the_offender_is_ever_slashed() {
    let slashed = (20..26).filter(|s| byzantine(*s).1).count();
    assert!(slashed > 0, "no schedule of six produced evidence");
}

#[test]
fn byzantine_same_seed_same_trace() {
    assert_eq!(byzantine(9), byzantine(9));
}
