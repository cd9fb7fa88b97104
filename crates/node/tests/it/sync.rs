//! State sync: a full node started long after genesis takes a validator's snapshot, checked
//! against a finality proof, and follows the chain from there; a tampered snapshot is refused
//! and leaves the store empty.

use crate::common::{FullNode, start_node_configured};
use commonware_cryptography::Signer as _;
use mycel_node::{
    client::Client,
    http::sync::{Handoffs, Snapshot},
    services::sync,
};
use mycel_store::Store;
use std::time::Duration;

async fn wait_height(c: &Client, h: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = c.status().await
            && s.height >= h
        {
            return s.height;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "height {h} not reached"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_joins_by_state_sync_and_follows() {
    let dir = tempfile::tempdir().unwrap();
    // The full node's identity, known to the validator as a peer from the start.
    let full = FullNode::prepare(dir.path());
    let (home, client) =
        start_node_configured(dir.path(), false, |c| c.peers.push(full.peer())).await;
    wait_height(&client, 12).await;

    // A chain whose set never changed needs no hand-offs; an epoch without validators yet is
    // a bad request.
    let snap: Snapshot = client.get("/api/v1/sync/snapshot").await.unwrap();
    assert!(snap.handoffs.is_empty());
    let h: Handoffs = client.get("/api/v1/sync/handoffs").await.unwrap();
    assert!(h.handoffs.is_empty());
    let e = client
        .get::<Handoffs>(&format!("/api/v1/sync/handoffs?epoch={}", h.epoch + 5))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no validators yet"), "{e}");
    let e = client
        .get::<Handoffs>(&format!(
            "/api/v1/sync/handoffs?epoch={}&from={}",
            h.epoch,
            h.epoch + 1
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is after epoch"), "{e}");

    // A tampered snapshot is refused before anything is written.
    let genesis = home.genesis().unwrap();
    let probe = tempfile::tempdir().unwrap();
    let store = Store::open(probe.path().join("s.redb")).unwrap();
    let mut bad = snap.clone();
    let last = bad.entries.len() - 1;
    bad.entries[last].1.push_str("00");
    let e = sync::import(&store, &genesis, None, &bad)
        .err()
        .expect("tampered state");
    assert!(e.to_string().contains("hashes to"), "{e}");
    let mut bad = snap.clone();
    bad.entries.pop();
    assert!(
        sync::import(&store, &genesis, None, &bad).is_err(),
        "a missing entry"
    );
    let mut bad = snap.clone();
    // Flip one hex digit inside the signatures (after the height, round and proposal).
    let mut cert = snap.certificate.clone().into_bytes();
    let i = cert.len() - 40;
    cert[i] = if cert[i] == b'0' { b'1' } else { b'0' };
    bad.certificate = String::from_utf8(cert).unwrap();
    assert!(
        sync::import(&store, &genesis, None, &bad).is_err(),
        "a forged certificate"
    );
    // A hand-off with a real certificate (the snapshot's own) but a validator set of the
    // cheater's choosing: the set is not in the certified state, so nothing is imported.
    let mut bad = snap.clone();
    let certified =
        mycel_consensus::block::decode(&hex::decode(snap.blocks.last().unwrap()).unwrap()).unwrap();
    let cheater = mycel_primitives::keys::private_key_from_seed(b"cheater").public_key();
    bad.handoffs.push(mycel_consensus::light::Handoff {
        header: certified.header(),
        certificate: hex::decode(&snap.certificate).unwrap(),
        keys: cheater.as_ref().to_vec(),
        proof: Vec::new(),
    });
    let e = sync::import(&store, &genesis, None, &bad)
        .err()
        .expect("a forged hand-off");
    assert!(e.to_string().contains("not in the hand-off's state"), "{e}");
    let mut other = genesis.clone();
    other.chain_id = "another-chain".into();
    assert!(
        sync::import(&store, &other, None, &snap).is_err(),
        "another chain"
    );
    assert!(
        store.head().unwrap().is_none(),
        "a refused snapshot wrote something"
    );
    // The real one imports.
    let synced = sync::import(&store, &genesis, None, &snap).unwrap();
    assert_eq!(store.head().unwrap().unwrap().root, snap.state_root);
    assert_eq!(synced.height, snap.height);
    drop(store);

    // The full node: same genesis, its own key, state sync from the validator.
    let height = wait_height(&client, 20).await;
    let base = client.base().to_string();
    let follower = full.start(&home, |c| c.state_sync = Some(base)).await;
    // It started from a recent height, not genesis: block 1 is not in its store.
    let r = follower.get::<serde_json::Value>("/api/v1/blocks/1").await;
    assert!(r.is_err(), "a synced node holds block 1: {r:?}");
    // It follows: the same blocks and state roots as the validator from there on.
    let target = wait_height(&follower, height + 5).await;
    let theirs = client
        .get::<serde_json::Value>(&format!("/api/v1/blocks/{target}"))
        .await
        .unwrap();
    let ours = follower
        .get::<serde_json::Value>(&format!("/api/v1/blocks/{target}"))
        .await
        .unwrap();
    assert_eq!(theirs, ours);
}
