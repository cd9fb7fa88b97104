//! The chain under real processes: crash safety under kill -9, and four validators over TCP.

use crate::common::{
    BIN, Devnet, Process, assert_supply_consistent, free_port_range, key_at, transfer, wait_up,
};
use commonware_cryptography::Signer as _;
use mycel_ledger::Tx;
use mycel_node::{Error, client::Client};
use mycel_primitives::{Address, Hash, PrivateKey};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

/// Re-sends a transaction whose acknowledgement was lost in a crash: it is either a duplicate,
/// already finalized (nonce used) or new; its hash either way.
async fn resubmit(c: &Client, tx: &Tx) -> Hash {
    match c.submit(tx).await {
        Ok(h) => h,
        Err(Error::Api { code, .. }) if code == "duplicate_tx" || code == "nonce_too_low" => {
            tx.hash()
        }
        Err(e) => panic!("resubmission failed: {e}"),
    }
}

/// Kills the node with SIGKILL at arbitrary moments while transfers stream in. Every
/// transaction the API acknowledged is finalized in the end, nothing finalized is ever lost or
/// changed, and the bank invariant (supply = sum of balances) holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_transfers_loses_nothing() {
    let net = Devnet::init();
    let keys: Vec<PrivateKey> = (0..4).map(|i| net.key(&format!("dev{i}"))).collect();
    let sink = Address([42; 20]);
    let mut nonces = [0u64; 4];
    let mut acked: Vec<Hash> = Vec::new();
    let mut unsure: Vec<Tx> = Vec::new();
    let mut finalized: BTreeMap<Hash, u64> = BTreeMap::new();
    let mut roots: BTreeMap<u64, String> = BTreeMap::new();
    // Deterministic pseudo-random kill times between 150 ms and 1.5 s.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for round in 0..6 {
        let (node, c) = net.start_and_wait().await;
        for tx in unsure.drain(..) {
            acked.push(resubmit(&c, &tx).await);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let run_for = Duration::from_millis(150 + x % 1_350);
        let start = Instant::now();
        let mut i = 0usize;
        while start.elapsed() < run_for {
            let a = i % 4;
            let tx = transfer(&keys[a], nonces[a], sink);
            nonces[a] += 1;
            match c.submit(&tx).await {
                Ok(h) => acked.push(h),
                Err(e) => panic!("submission refused in round {round}: {e}"),
            }
            i += 1;
        }
        // Remember what is already final, and the state root of the head.
        for h in &acked {
            if let Ok(s) = c.tx(h).await
                && s.status == "finalized"
            {
                finalized.insert(*h, s.height.unwrap());
            }
        }
        if let Ok(s) = c.status().await {
            roots.insert(s.height, s.state_root.to_hex());
        }
        // One more transaction in flight at the moment of the kill.
        let a = i % 4;
        let tx = transfer(&keys[a], nonces[a], sink);
        nonces[a] += 1;
        let in_flight = {
            let c = c.clone();
            let tx = tx.clone();
            tokio::spawn(async move { c.submit(&tx).await })
        };
        tokio::time::sleep(Duration::from_millis(x % 5)).await;
        node.kill();
        match in_flight.await.unwrap() {
            Ok(h) => acked.push(h),
            Err(_) => unsure.push(tx),
        }
    }

    let (node, c) = net.start_and_wait().await;
    for tx in unsure.drain(..) {
        acked.push(resubmit(&c, &tx).await);
    }
    for h in &acked {
        let s = c.wait(h, Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.status, "finalized", "acknowledged tx {h} was lost");
        assert!(s.receipt.as_ref().unwrap().success);
        if let Some(height) = finalized.get(h) {
            assert_eq!(s.height, Some(*height), "finalized tx {h} moved");
        }
    }
    for (height, root) in &roots {
        let b = c.block(&height.to_string()).await.unwrap();
        assert_eq!(
            b["state_root"].as_str().unwrap(),
            root,
            "state root at {height} changed after restart"
        );
    }
    assert_supply_consistent(&c).await;
    for (a, k) in keys.iter().enumerate() {
        let acct = c
            .account(&Address::from_public_key(&k.public_key()))
            .await
            .unwrap();
        assert_eq!(acct.nonce, nonces[a], "account {a} nonce");
    }
    assert!(
        acked.len() > 20,
        "too few transactions exercised: {}",
        acked.len()
    );
    node.kill();
}

/// Four real validator processes over authenticated TCP on 127.0.0.1 finalize a transfer and
/// agree on every block and state root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_over_tcp_agree() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_port_range(8);
    let out = Command::new(BIN)
        .args(["testnet", "--dir", dir.path().to_str().unwrap()])
        .args([
            "--validators",
            "4",
            "--base-port",
            &base.to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "testnet failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let homes: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("node{i}")))
        .collect();
    let nodes: Vec<Process> = homes
        .iter()
        .map(|h| {
            let mut cmd = Command::new(BIN);
            cmd.args(["--home", h.to_str().unwrap(), "node"]);
            Process::spawn(cmd, &h.join("node.log"))
        })
        .collect();
    let clients: Vec<Client> = (0..4)
        .map(|i| Client::new(&format!("http://127.0.0.1:{}", base + 2 * i)))
        .collect();
    for (c, h) in clients.iter().zip(&homes) {
        wait_up(c, h).await;
    }
    // Blocks finalize across the four processes.
    let start = Instant::now();
    while clients[0].status().await.unwrap().height < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no progress: {}",
            std::fs::read_to_string(homes[0].join("node.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A transfer submitted to node 1 is finalized and visible on every node.
    let key = key_at(&homes[1], "dev0");
    let mut body = transfer(&key, 0, Address([9; 20])).body;
    body.chain_id = "mycel-testnet-1".into();
    let h = clients[1].submit(&body.sign(&key)).await.unwrap();
    // Gossip: the other validators learn the transaction at once (pending or already final),
    // so whichever of them leads next can include it.
    let seen = Instant::now();
    for c in [&clients[0], &clients[2], &clients[3]] {
        while c.tx(&h).await.is_err() {
            assert!(
                seen.elapsed() < Duration::from_millis(1_500),
                "tx not gossiped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let st = clients[1].wait(&h, Duration::from_secs(90)).await.unwrap();
    assert_eq!(st.status, "finalized");
    let height = st.height.unwrap();
    for c in &clients {
        let s = c.wait(&h, Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.height, Some(height));
    }
    // Every node has the same block and state root at every height up to the transfer's.
    for hgt in 1..=height {
        let reference = clients[0].block(&hgt.to_string()).await.unwrap();
        for c in &clients[1..] {
            let b = c.block(&hgt.to_string()).await.unwrap();
            assert_eq!(b["hash"], reference["hash"], "height {hgt}");
            assert_eq!(b["state_root"], reference["state_root"], "height {hgt}");
        }
    }
    for n in nodes {
        n.kill();
    }
}
