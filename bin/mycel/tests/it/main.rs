//! End-to-end tests of the real `mycel` binary on 127.0.0.1: crash safety under kill -9 and the
//! HTTP API's answers to bad input.

use commonware_cryptography::Signer;
use mycel_ledger::{Message, Tx, TxBody, modules::bank};
use mycel_node::{Error, client::Client, keystore::Keystore};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_mycel");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Devnet {
    home: PathBuf,
    api: String,
    p2p: String,
    _dir: tempfile::TempDir,
}

impl Devnet {
    fn init() -> Devnet {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let api = format!("127.0.0.1:{}", free_port());
        let p2p = format!("127.0.0.1:{}", free_port());
        let out = Command::new(BIN)
            .args([
                "--home",
                home.to_str().unwrap(),
                "init",
                "--api.addr",
                &api,
                "--p2p.addr",
                &p2p,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Devnet {
            home,
            api,
            p2p,
            _dir: dir,
        }
    }

    fn start(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("node.log"))
            .unwrap();
        Command::new(BIN)
            .args(["--home", self.home.to_str().unwrap(), "node"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn client(&self) -> Client {
        Client::new(&format!("http://{}", self.api))
    }

    fn key(&self, name: &str) -> PrivateKey {
        Keystore::new(self.home.join("keys"))
            .load(name)
            .unwrap()
            .private_key()
            .unwrap()
    }
}

async fn wait_up(c: &Client, home: &Path) {
    let start = Instant::now();
    while c.status().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "node did not start: {}",
            std::fs::read_to_string(home.join("node.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn transfer(key: &PrivateKey, nonce: u64, to: Address) -> Tx {
    TxBody {
        chain_id: "mycel-devnet-1".into(),
        sender: key.public_key(),
        nonce,
        fee: Amount::from_myc(1),
        messages: vec![Message::Bank(bank::Msg::Transfer {
            to,
            amount: Amount(1_000 + nonce as u128),
        })],
        memo: String::new(),
    }
    .sign(key)
}

/// Kills the node with SIGKILL at arbitrary moments while transfers stream in. Every
/// transaction the API acknowledged is finalized in the end, nothing finalized is ever lost or
/// changed, and the bank invariant (supply = sum of balances) holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_transfers_loses_nothing() {
    let net = Devnet::init();
    let c = net.client();
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
        let mut node = net.start();
        wait_up(&c, &net.home).await;
        // Transactions whose acknowledgement was lost in the previous crash are re-sent: they
        // are either duplicates, already finalized (nonce used) or new.
        for tx in unsure.drain(..) {
            match c.submit(&tx).await {
                Ok(h) => acked.push(h),
                Err(Error::Api { code, .. })
                    if code == "duplicate_tx" || code == "nonce_too_low" =>
                {
                    acked.push(tx.hash())
                }
                Err(e) => panic!("resubmission failed: {e}"),
            }
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
        node.kill().unwrap();
        node.wait().unwrap();
        match in_flight.await.unwrap() {
            Ok(h) => acked.push(h),
            Err(_) => unsure.push(tx),
        }
    }

    let mut node = net.start();
    wait_up(&c, &net.home).await;
    for tx in unsure.drain(..) {
        match c.submit(&tx).await {
            Ok(h) => acked.push(h),
            Err(Error::Api { code, .. }) if code == "duplicate_tx" || code == "nonce_too_low" => {
                acked.push(tx.hash())
            }
            Err(e) => panic!("resubmission failed: {e}"),
        }
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
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true, "{audit}");
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
    node.kill().unwrap();
    node.wait().unwrap();
}

/// Bad input over real HTTP: typed errors and no state change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rejects_bad_input_without_state_change() {
    let net = Devnet::init();
    let c = net.client();
    let mut node = net.start();
    wait_up(&c, &net.home).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/txs", net.api);
    let key = net.key("dev0");
    let to = Address([7; 20]);
    let before = c
        .account(&Address::from_public_key(&key.public_key()))
        .await
        .unwrap();

    let code = |r: serde_json::Value| r["error"]["code"].as_str().unwrap_or("").to_string();
    let post = |body: Vec<u8>, ct: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(&url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Malformed JSON, non-hex, garbage bytes, oversized payload.
    let r = post(b"{not json".to_vec(), "application/json").await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(r.json().await.unwrap()), "malformed_json");
    let r = post(br#"{"tx":"xyz"}"#.to_vec(), "application/json").await;
    assert_eq!(code(r.json().await.unwrap()), "malformed_tx");
    let r = post(vec![1, 2, 3], "application/octet-stream").await;
    assert_eq!(code(r.json().await.unwrap()), "malformed_tx");
    let r = post(vec![0; 1024 * 1024], "application/octet-stream").await;
    assert_eq!(r.status(), 413);
    assert_eq!(code(r.json().await.unwrap()), "payload_too_large");

    let submit_code = |tx: Tx| {
        let c = c.clone();
        async move {
            match c.submit(&tx).await {
                Err(Error::Api { code, .. }) => code,
                other => panic!("expected an error, got {other:?}"),
            }
        }
    };
    // Bad signature.
    let mut bad = transfer(&key, 0, to);
    bad.body.memo = "tampered".into();
    assert_eq!(submit_code(bad).await, "bad_signature");
    // Wrong chain id.
    let mut body = transfer(&key, 0, to).body;
    body.chain_id = "other-chain".into();
    assert_eq!(submit_code(body.sign(&key)).await, "wrong_chain_id");
    // Gapped nonce.
    assert_eq!(submit_code(transfer(&key, 5, to)).await, "nonce_gap");
    // Fee too low.
    let mut body = transfer(&key, 0, to).body;
    body.fee = Amount(1);
    assert_eq!(submit_code(body.sign(&key)).await, "fee_too_low");
    // Cannot pay the fee.
    let poor = mycel_primitives::keys::private_key_from_seed(b"nobody");
    assert_eq!(
        submit_code(transfer(&poor, 0, to)).await,
        "insufficient_balance"
    );
    // Unknown message type: corrupt the module tag of a valid encoding.
    let good = transfer(&key, 0, to);
    let mut bytes = mycel_primitives::codec::Encode::encode(&good).to_vec();
    let at = 1 + "mycel-devnet-1".len() + 32 + 8 + 16 + 1;
    bytes[at] = 99;
    let r = post(bytes, "application/octet-stream").await;
    assert_eq!(code(r.json().await.unwrap()), "unknown_message");

    // A valid transfer goes through; replaying it is refused.
    let tx = transfer(&key, 0, to);
    let h = c.submit(&tx).await.unwrap();
    assert_eq!(
        c.wait(&h, Duration::from_secs(30)).await.unwrap().status,
        "finalized"
    );
    let replay = c.submit(&tx).await;
    assert!(
        matches!(replay, Err(Error::Api { ref code, .. }) if code == "nonce_too_low" || code == "duplicate_tx"),
        "{replay:?}"
    );

    // Only the valid transfer changed the sender's state.
    let after = c
        .account(&Address::from_public_key(&key.public_key()))
        .await
        .unwrap();
    assert_eq!(before.nonce + 1, after.nonce);
    let spent = before.balance.0 - after.balance.0;
    assert_eq!(spent, Amount::from_myc(1).0 + 1_000);

    // Unknown routes and malformed parameters are typed too.
    let r = http
        .get(format!("http://{}/api/v1/accounts/nope", net.api))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r.json().await.unwrap()), "bad_request");
    let r = http
        .get(format!("http://{}/api/v1/nothing", net.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Blobs: stored by content, verified on the way out, unknown ones are typed errors.
    let h = c.put_blob(b"some job input".to_vec()).await.unwrap();
    assert_eq!(h, mycel_store::blob_hash(b"some job input"));
    assert_eq!(c.get_blob(&h).await.unwrap(), b"some job input");
    assert!(
        matches!(c.get_blob(&mycel_store::blob_hash(b"nope")).await, Err(Error::Api { ref code, .. }) if code == "not_found")
    );
    // Metrics are exported.
    let m = http
        .get(format!("http://{}/metrics", net.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("finalized_txs"), "{}", &m[..m.len().min(500)]);
    let _ = &net.p2p;
    node.kill().unwrap();
    node.wait().unwrap();
}

/// Finds `n` consecutive free ports on 127.0.0.1.
fn free_port_range(n: u16) -> u16 {
    let mut base = 20_000 + (std::process::id() as u16 % 20_000);
    loop {
        let ok = (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
        base = base.wrapping_add(n + 7).max(20_000);
    }
}

/// Four real validator processes over authenticated TCP on 127.0.0.1 finalize a transfer and
/// agree on every block and state root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_over_tcp_agree() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_port_range(8);
    let out = Command::new(BIN)
        .args([
            "testnet",
            "--dir",
            dir.path().to_str().unwrap(),
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
    let mut nodes: Vec<Child> = homes
        .iter()
        .map(|h| {
            let log = std::fs::File::create(h.join("node.log")).unwrap();
            Command::new(BIN)
                .args(["--home", h.to_str().unwrap(), "node"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap()
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
    let key = Keystore::new(homes[1].join("keys"))
        .load("dev0")
        .unwrap()
        .private_key()
        .unwrap();
    let mut body = transfer(&key, 0, Address([9; 20])).body;
    body.chain_id = "mycel-testnet-1".into();
    let h = clients[1].submit(&body.sign(&key)).await.unwrap();
    // Gossip: the other validators learn the transaction at once (pending or already final),
    // so whichever of them leads next can include it.
    let seen = Instant::now();
    for c in [&clients[0], &clients[2], &clients[3]] {
        loop {
            if c.tx(&h).await.is_ok() {
                break;
            }
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
    for n in &mut nodes {
        n.kill().unwrap();
        n.wait().unwrap();
    }
}

fn cli(net: &Devnet, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args([
            "--home",
            net.home.to_str().unwrap(),
            "--api",
            &format!("http://{}", net.api),
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mycel {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A worker bonds, offers, is assigned a job posted with the CLI, commits a result and is paid
/// at settlement; `mycel earnings` explains every figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_flow_and_earnings_over_the_cli() {
    let net = Devnet::init();
    let c = net.client();
    let mut node = net.start();
    wait_up(&c, &net.home).await;
    let model = "07".repeat(32);
    let run = |args: &[&str]| cli(&net, args);
    // Before bonding, the earnings debugger says why dev1 gets no work.
    let e: serde_json::Value =
        serde_json::from_str(&run(&["--json", "earnings", "--node", "dev1"])).unwrap();
    let blockers = e["blockers"].as_array().unwrap();
    assert!(
        blockers
            .iter()
            .any(|b| b.as_str().unwrap().starts_with("below minimum stake")),
        "{e}"
    );
    assert!(
        blockers
            .iter()
            .any(|b| b.as_str().unwrap().starts_with("no offer")),
        "{e}"
    );

    run(&[
        "tx", "bond", "--from", "dev1", "--role", "worker", "--amount", "100",
    ]);
    run(&[
        "tx", "offer", "--from", "dev1", "--kinds", "embed", "--models", &model, "--price", "1000u",
    ]);
    let posted: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "job",
        "post",
        "--from",
        "dev0",
        "--kind",
        "embed",
        "--model",
        &model,
        "--input",
        &"01".repeat(32),
        "--max-fee",
        "2",
        "--deadline",
        "50",
    ]))
    .unwrap();
    let dev1 = Keystore::new(net.home.join("keys"))
        .load("dev1")
        .unwrap()
        .address
        .to_string();
    assert_eq!(posted["worker"], dev1.as_str());
    let id = posted["job"].as_str().unwrap().to_string();
    run(&[
        "tx",
        "commit-result",
        "--from",
        "dev1",
        "--job",
        &id,
        "--output",
        &"02".repeat(32),
        "--units",
        "500",
        "--commitment",
        &"03".repeat(32),
    ]);
    // Settlement comes after the challenge window (10 blocks at one per second when idle).
    let start = Instant::now();
    loop {
        let j: serde_json::Value =
            serde_json::from_str(&run(&["--json", "job", "status", &id])).unwrap();
        if j["status"] == "settled" {
            // 500 units × 1000 = 500,000 base units, 5% burned.
            assert_eq!(j["fee"], "475000");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job never settled: {j}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let text = run(&["earnings", "--node", "dev1"]);
    assert!(text.contains("job_fee"), "{text}");
    assert!(text.contains("settled: paid"), "{text}");
    assert!(text.contains("nothing blocks this node"), "{text}");
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
    node.kill().unwrap();
    node.wait().unwrap();
}

fn cli_fails(net: &Devnet, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["--home", net.home.to_str().unwrap()])
        .args(["--api", &format!("http://{}", net.api)])
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "mycel {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `n` pseudo-random words from a small vocabulary.
fn words(seed: u64, n: usize) -> Vec<String> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            format!("w{}", s % 5000)
        })
        .collect()
}

fn write_jsonl(path: &Path, docs: &[(String, String)]) {
    let body: String = docs
        .iter()
        .map(|(id, t)| format!("{}\n", serde_json::json!({"id": id, "text": t})))
        .collect();
    std::fs::write(path, body).unwrap();
}

/// `mycel data add --from` ingests, signs the manifest and registers the dataset on chain; a
/// later version made of near-duplicates claims (and is credited) only its new record; proofs
/// verify offline; bad input is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_add_registers_and_near_duplicates_earn_no_credit() {
    let net = Devnet::init();
    let c = net.client();
    let mut node = net.start();
    wait_up(&c, &net.home).await;
    let run = |args: &[&str]| cli(&net, args);
    let dir = tempfile::tempdir().unwrap();
    let originals: Vec<Vec<String>> = (1..=5).map(|i| words(i, 300)).collect();
    let v1 = dir.path().join("v1.jsonl");
    write_jsonl(
        &v1,
        &originals
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("a{i}"), w.join(" ")))
            .collect::<Vec<_>>(),
    );
    let first: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "data",
        "add",
        v1.to_str().unwrap(),
        "--from",
        "dev0",
        "--license",
        "CC-BY-4.0",
        "--consent",
        "train,commercial",
    ]))
    .unwrap();
    let root1 = first["registered"]["root"].as_str().unwrap().to_string();
    assert_eq!(first["ingest"]["registration"]["novel_records"], 5);
    let ds: serde_json::Value = c.get(&format!("/api/v1/datasets/{root1}")).await.unwrap();
    let dev0 = Keystore::new(net.home.join("keys"))
        .load("dev0")
        .unwrap()
        .address
        .to_string();
    assert_eq!(ds["contributor"], dev0.as_str(), "{ds}");
    assert_eq!(ds["registration"]["records"], 5);
    assert_eq!(ds["registration"]["consent"], 3);
    assert_eq!(ds["registration"]["license"], "CC-BY-4.0");
    assert_eq!(
        ds["registration"]["novel_bytes"],
        first["ingest"]["registration"]["novel_bytes"]
    );
    assert_eq!(
        ds["registration"]["novel_root"],
        first["ingest"]["registration"]["novel_root"]
    );

    // Version 2: every record lightly edited (new IDs, J ≈ 0.97) plus one new record.
    let mut docs: Vec<(String, String)> = originals
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut w = w.clone();
            w[100] = format!("edit{i}");
            (format!("b{i}"), w.join(" "))
        })
        .collect();
    let fresh = words(77, 300).join(" ");
    docs.push(("new".into(), fresh.clone()));
    let v2 = dir.path().join("v2.jsonl");
    write_jsonl(&v2, &docs);
    let second: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "data",
        "add",
        v2.to_str().unwrap(),
        "--from",
        "dev0",
        "--license",
        "CC-BY-4.0",
        "--parent",
        &root1,
    ]))
    .unwrap();
    let root2 = second["registered"]["root"].as_str().unwrap().to_string();
    let ds2: serde_json::Value = c.get(&format!("/api/v1/datasets/{root2}")).await.unwrap();
    assert_eq!(ds2["registration"]["records"], 6);
    assert_eq!(ds2["registration"]["novel_records"], 1);
    assert_eq!(ds2["registration"]["novel_bytes"], fresh.len() as u64);
    assert_eq!(ds2["registration"]["parents"][0], root1.as_str());
    // The list endpoint (and the dashboard) shows both, newest first.
    let listed: Vec<serde_json::Value> = c.get("/api/v1/datasets?limit=5").await.unwrap();
    let roots: Vec<&str> = listed
        .iter()
        .map(|d| d["registration"]["root"].as_str().unwrap())
        .collect();
    assert_eq!(roots, vec![root2.as_str(), root1.as_str()]);

    // Offline checks: the manifest (signature, roots, counts, chunks) and a proof.
    assert!(run(&["data", "verify", &root2]).starts_with("ok:"));
    let manifest: serde_json::Value =
        serde_json::from_str(&run(&["--json", "data", "show", &root2])).unwrap();
    let id = manifest["entries"][0]["id"].as_str().unwrap().to_string();
    // The chunks are in the node's blob store, served by hash to anyone (a worker, a verifier).
    let chunk = Hash::from_hex(
        manifest["entries"][0]["chunks"][0]["hash"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let bytes = c.get_blob(&chunk).await.unwrap();
    assert_eq!(
        bytes.len() as u64,
        manifest["entries"][0]["chunks"][0]["len"].as_u64().unwrap()
    );
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, run(&["data", "prove", &root2, &id])).unwrap();
    let ok = run(&["data", "verify", &root2, "--proof", proof.to_str().unwrap()]);
    assert!(ok.contains("is in dataset"), "{ok}");
    // The same proof against another root.
    cli_fails(
        &net,
        &["data", "verify", &root1, "--proof", proof.to_str().unwrap()],
    );

    // A contributor whose node never saw version 1 (another home, same chain) re-registers one
    // of its records as novel; anyone holding version 1 defeats the claim with two proofs.
    let other = dir.path().join("other-home");
    std::fs::create_dir_all(&other).unwrap();
    let copied = Command::new("cp")
        .args([
            "-r",
            net.home.join("keys").to_str().unwrap(),
            other.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copied.success());
    let v3 = dir.path().join("v3.jsonl");
    write_jsonl(
        &v3,
        &[
            ("x".into(), originals[2].join(" ")),
            ("y".into(), words(99, 300).join(" ")),
        ],
    );
    let out = Command::new(BIN)
        .args(["--home", other.to_str().unwrap()])
        .args([
            "--api",
            &format!("http://{}", net.api),
            "--json",
            "data",
            "add",
        ])
        .args([v3.to_str().unwrap(), "--from", "dev1", "--license", "MIT"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(third["ingest"]["registration"]["novel_records"], 2);
    let root3 = third["registered"]["root"].as_str().unwrap().to_string();
    let manifest3 = other.join("datasets").join(format!("{root3}.json"));
    // The signed manifest is published on the node under the address the registration records,
    // so the challenger below (whose home lacks it) fetches it from there.
    let ds3: serde_json::Value = c.get(&format!("/api/v1/datasets/{root3}")).await.unwrap();
    let published = c
        .get_blob(&Hash::from_hex(ds3["registration"]["manifest"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(published, std::fs::read(&manifest3).unwrap());
    let dev2 = Keystore::new(net.home.join("keys"))
        .load("dev2")
        .unwrap()
        .address;
    let balance = |v: mycel_node::client::Account| v.balance.0;
    let before = balance(c.account(&dev2).await.unwrap());
    let won: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "data",
        "challenge",
        &root3,
        "--earlier",
        &root1,
        "--from",
        "dev2",
    ]))
    .unwrap();
    // Half of the 10 MYC bond goes to the challenger, the rest is burned.
    assert_eq!(won["reward"], "5000000000");
    let ds3: serde_json::Value = c.get(&format!("/api/v1/datasets/{root3}")).await.unwrap();
    assert_eq!(ds3["challenged"], true);
    let tx: serde_json::Value = c
        .get(&format!("/api/v1/txs/{}", won["tx"].as_str().unwrap()))
        .await
        .unwrap();
    let fee: u128 = tx["receipt"]["fee"].as_str().unwrap().parse().unwrap();
    let after = balance(c.account(&dev2).await.unwrap());
    assert_eq!(after + fee - before, 5_000_000_000);
    // The same claim cannot be defeated twice, and a dataset with no such record is refused.
    let err = cli_fails(
        &net,
        &[
            "data",
            "challenge",
            manifest3.to_str().unwrap(),
            "--earlier",
            &root1,
            "--from",
            "dev2",
        ],
    );
    assert!(err.contains("already defeated"), "{err}");
    let err = cli_fails(
        &net,
        &[
            "data",
            "challenge",
            &root2,
            "--earlier",
            &root1,
            "--from",
            "dev2",
        ],
    );
    assert!(err.contains("no record claimed novel"), "{err}");

    // Bad input: refused before any write.
    let datasets = || {
        std::fs::read_dir(net.home.join("datasets"))
            .unwrap()
            .count()
    };
    let before = datasets();
    let err = cli_fails(
        &net,
        &[
            "data",
            "add",
            v2.to_str().unwrap(),
            "--consent",
            "everything",
        ],
    );
    assert!(err.contains("unknown consent flag"), "{err}");
    let err = cli_fails(
        &net,
        &[
            "data",
            "add",
            v2.to_str().unwrap(),
            "--from",
            "nobody",
            "--license",
            "MIT",
        ],
    );
    assert!(err.contains("nobody"), "{err}");
    let err = cli_fails(
        &net,
        &["data", "add", v2.to_str().unwrap(), "--from", "dev0"],
    );
    assert!(err.contains("--license"), "{err}");
    assert_eq!(datasets(), before);
    // The same dataset cannot be registered twice.
    let err = cli_fails(&net, &["data", "register", &root2, "--from", "dev0"]);
    assert!(err.contains("already"), "{err}");

    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
    node.kill().unwrap();
    node.wait().unwrap();
}

/// The pinned models' store, or `None` after saying why a `real_*` test is skipped.
fn pinned_models() -> Option<mycel_ml::registry::ModelStore> {
    use mycel_ml::registry::{MINILM, ModelStore, SMOLLM2};
    let models = ModelStore::from_env();
    if models.is_present(&SMOLLM2) && models.is_present(&MINILM) {
        Some(models)
    } else {
        eprintln!("SKIP: pinned models absent (run scripts/fetch-models.sh)");
        None
    }
}

/// A two-example fine-tuning set.
const TRAIN_JSONL: &str = "{\"prompt\": \"Say hi.\", \"completion\": \"Hi!\"}\n{\"prompt\": \"Say bye.\", \"completion\": \"Bye!\"}\n";

/// The README's path on real models: `mycel devnet` starts its worker on the pinned models; the
/// CLI posts an `embed` and a `finetune` job (inputs uploaded from files), both are assigned,
/// executed, committed and settled, and their outputs fetched by hash; a chat session gets two
/// real replies with receipts that the worker settles on chain; supply stays conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_devnet_settles_embed_finetune_dedup_and_dataset_jobs_and_a_session() {
    let Some(models) = pinned_models() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet {
        home: dir.path().join("home"),
        api: format!("127.0.0.1:{}", free_port()),
        p2p: format!("127.0.0.1:{}", free_port()),
        _dir: tempfile::tempdir().unwrap(),
    };
    std::fs::create_dir_all(&net.home).unwrap();
    let log = std::fs::File::create(net.home.join("node.log")).unwrap();
    let mut devnet = Command::new(BIN)
        .args(["--home", net.home.to_str().unwrap(), "devnet"])
        .args(["--api.addr", &net.api, "--p2p.addr", &net.p2p])
        .args(["--worker.listen", &format!("127.0.0.1:{}", free_port())])
        .env("MYCEL_MODELS", models.root())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let c = net.client();
    wait_up(&c, &net.home).await;
    let worker = Keystore::new(net.home.join("keys"))
        .load("worker")
        .unwrap()
        .address
        .to_string();
    // The worker bonds and publishes its offer once its models are loaded.
    let start = Instant::now();
    while c
        .get::<serde_json::Value>(&format!("/api/v1/workers/{worker}/offer"))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the devnet worker never published an offer: {}",
            std::fs::read_to_string(net.home.join("node.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run = |args: &[&str]| cli(&net, args);
    let texts = dir.path().join("texts.jsonl");
    std::fs::write(
        &texts,
        "{\"text\": \"The cat sat on the mat.\"}\n{\"text\": \"A kitten rested on the rug.\"}\n{\"text\": \"Quarterly revenue grew by four percent.\"}\n",
    )
    .unwrap();
    let train = dir.path().join("train.jsonl");
    std::fs::write(&train, TRAIN_JSONL).unwrap();
    let post = |kind: &str, model: &str, input: &Path, params: &str| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&run(&[
            "--json",
            "job",
            "post",
            "--from",
            "dev0",
            "--kind",
            kind,
            "--model",
            model,
            "--input",
            input.to_str().unwrap(),
            "--max-fee",
            "5",
            "--deadline",
            "120",
            "--params",
            params,
        ]))
        .unwrap();
        assert_eq!(v["worker"], worker.as_str(), "{v}");
        v["job"].as_str().unwrap().parse().unwrap()
    };
    let embed = post("embed", "minilm", &texts, "{}");
    // A dedup job on the data engine: two copies differing in case and spacing, one other record.
    let records = dir.path().join("records.jsonl");
    std::fs::write(
        &records,
        "{\"id\": \"r1\", \"text\": \"the quick brown fox jumps over the lazy dog again\"}\n{\"id\": \"r2\", \"text\": \"The  Quick brown fox jumps over the lazy dog AGAIN\"}\n{\"id\": \"r3\", \"text\": \"an entirely different sentence about ledgers\"}\n",
    )
    .unwrap();
    let dedup = post("dedup", "mycel-text/v1", &records, "{\"tier\": \"d\"}");
    // A job over a registered dataset: the worker reassembles its records from the published
    // manifest and the chunks, and the contributor's novel bytes count as used.
    let added: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "data",
        "add",
        texts.to_str().unwrap(),
        "--license",
        "CC0-1.0",
        "--from",
        "dev2",
    ]))
    .unwrap();
    let root = added["registered"]["root"].as_str().unwrap().to_string();
    let on_dataset: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "job",
        "post",
        "--from",
        "dev0",
        "--kind",
        "embed",
        "--model",
        "minilm",
        "--input",
        &root,
        "--max-fee",
        "5",
        "--deadline",
        "120",
    ]))
    .unwrap();
    let on_dataset: u64 = on_dataset["job"].as_str().unwrap().parse().unwrap();
    let finetune = post(
        "finetune",
        "smollm2",
        &train,
        "{\"rank\": 2, \"steps\": 2, \"seed\": 7}",
    );

    // A session with two real chat replies while the jobs run.
    let opened: serde_json::Value = serde_json::from_str(&run(&[
        "--json",
        "session",
        "open",
        "--from",
        "dev1",
        "--worker",
        &worker,
        "--model",
        "smollm2",
        "--deposit",
        "1",
        "--blocks",
        "20",
    ]))
    .unwrap();
    let session = opened["session"].as_str().unwrap().to_string();
    let mut tokens = 0;
    for q in ["What is the capital of France?", "Name a primary colour."] {
        let r: serde_json::Value = serde_json::from_str(&run(&[
            "--json",
            "session",
            "chat",
            "--from",
            "dev1",
            "--session",
            &session,
            "--max-tokens",
            "12",
            q,
        ]))
        .unwrap();
        assert!(!r["reply"].as_str().unwrap().trim().is_empty(), "{r}");
        tokens += r["receipt"]["receipt"]["tokens"].as_u64().unwrap();
    }
    assert!(tokens > 0);

    // Both jobs settle; their outputs are fetched by hash and are what the kinds promise.
    let start = Instant::now();
    for id in [embed, finetune, dedup, on_dataset] {
        loop {
            let j: serde_json::Value =
                serde_json::from_str(&run(&["--json", "job", "status", &id.to_string()])).unwrap();
            if j["status"] == "settled" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "job {id} never settled: {j}\n{}",
                std::fs::read_to_string(net.home.join("node.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let out = dir.path().join("embeddings.jsonl");
    run(&[
        "job",
        "result",
        &embed.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let v: Vec<Vec<f64>> = lines
        .iter()
        .map(|l| {
            l["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(v[0].len(), 384);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(
        dot(&v[0], &v[1]) > dot(&v[0], &v[2]),
        "cat/kitten should be closer than cat/revenue"
    );
    let adapter = dir.path().join("adapter.safetensors");
    run(&[
        "job",
        "result",
        &finetune.to_string(),
        "--out",
        adapter.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&adapter).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("lora")),
        "{header}"
    );
    let from_dataset = dir.path().join("dataset-embeddings.jsonl");
    run(&[
        "job",
        "result",
        &on_dataset.to_string(),
        "--out",
        from_dataset.to_str().unwrap(),
    ]);
    let embedded: Vec<serde_json::Value> = std::fs::read_to_string(&from_dataset)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(embedded.len(), 3);
    // The same texts give the same vectors, whichever way they came in (records are in ID order).
    for e in &embedded {
        let v: Vec<f64> = e["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(lines.iter().any(|l| {
            l["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect::<Vec<_>>()
                == v
        }));
    }
    let clusters = dir.path().join("clusters.jsonl");
    run(&[
        "job",
        "result",
        &dedup.to_string(),
        "--out",
        clusters.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&clusters).unwrap(),
        "{\"id\":\"r1\",\"cluster\":\"r1\"}\n{\"id\":\"r2\",\"cluster\":\"r1\"}\n{\"id\":\"r3\",\"cluster\":\"r3\"}\n"
    );
    let jobs: Vec<serde_json::Value> = [embed, finetune, dedup]
        .iter()
        .map(|id| {
            serde_json::from_str(&run(&["--json", "job", "status", &id.to_string()])).unwrap()
        })
        .collect();
    assert_eq!(jobs[0]["units"], 3);
    assert_eq!(jobs[1]["units"], 2);
    assert_eq!(jobs[2]["units"], 3);
    // The list endpoints the dashboard reads.
    let listed: Vec<serde_json::Value> = c.get("/api/v1/jobs?limit=10").await.unwrap();
    let ids: Vec<u64> = listed.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![finetune, on_dataset, dedup, embed]);
    let workers: Vec<serde_json::Value> = c.get("/api/v1/workers").await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0]["address"], worker.as_str());
    assert_eq!(workers[0]["offer"]["kinds"], 15);

    // The worker settles the session's receipts (every few seconds).
    let start = Instant::now();
    loop {
        let s: serde_json::Value = c.get(&format!("/api/v1/sessions/{session}")).await.unwrap();
        if s["count"] == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never settled: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let sessions: Vec<serde_json::Value> = c.get("/api/v1/sessions").await.unwrap();
    assert_eq!(sessions[0]["id"].to_string(), session);
    let receipts = run(&["session", "receipts", "--session", &session]);
    assert_eq!(receipts.lines().count(), 2, "{receipts}");
    assert!(!receipts.contains("not settled"), "{receipts}");
    assert!(!receipts.contains("BAD"), "{receipts}");
    let text = run(&["earnings", "--node", "worker"]);
    assert!(text.contains("job_fee"), "{text}");
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
    devnet.kill().unwrap();
    devnet.wait().unwrap();
}

/// A worker process killed with SIGKILL in the middle of a real fine-tuning job, then restarted
/// with the same key: the job is run again and committed once, settled once, the poster pays
/// exactly the settled fee and its transaction fees, and supply stays conserved throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_worker_killed_mid_job_resumes_and_is_paid_once() {
    let Some(models) = pinned_models() else {
        return;
    };
    let net = Devnet::init();
    let c = net.client();
    let mut node = net.start();
    wait_up(&c, &net.home).await;
    let worker_log = net.home.join("worker.log");
    let start_worker = || {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&worker_log)
            .unwrap();
        Command::new(BIN)
            .args(["--home", net.home.to_str().unwrap()])
            .args(["--api", &format!("http://{}", net.api)])
            .args(["worker", "--from", "worker"])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .env("MYCEL_MODELS", models.root())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let log_has = |needle: &str| {
        std::fs::read_to_string(&worker_log)
            .unwrap_or_default()
            .matches(needle)
            .count()
    };
    let mut worker = start_worker();
    let worker_addr = Keystore::new(net.home.join("keys"))
        .load("worker")
        .unwrap()
        .address;
    let start = Instant::now();
    while log_has("offer published") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "worker never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let poster = Keystore::new(net.home.join("keys"))
        .load("dev0")
        .unwrap()
        .address;
    let balance = |v: &mycel_node::client::Account| v.balance.0;
    let before = balance(&c.account(&poster).await.unwrap());
    let train = net.home.join("train.jsonl");
    std::fs::write(&train, TRAIN_JSONL).unwrap();
    let posted: serde_json::Value = serde_json::from_str(&cli(
        &net,
        &[
            "--json",
            "job",
            "post",
            "--from",
            "dev0",
            "--kind",
            "finetune",
            "--model",
            "smollm2",
            "--input",
            train.to_str().unwrap(),
            "--max-fee",
            "5",
            "--deadline",
            "200",
            "--params",
            "{\"rank\": 2, \"steps\": 3, \"seed\": 1}",
        ],
    ))
    .unwrap();
    assert_eq!(posted["worker"], worker_addr.to_string().as_str());
    let id = posted["job"].as_str().unwrap().to_string();
    // Kill it while the job runs.
    let start = Instant::now();
    while log_has("running job") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(
        log_has("result committed"),
        0,
        "the job finished before the kill"
    );
    let j: serde_json::Value = c.get(&format!("/api/v1/jobs/{id}")).await.unwrap();
    assert_eq!(j["status"], "assigned", "{j}");
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);

    // Restarted, it finds the job still assigned to it, runs it again and commits it once.
    let mut worker = start_worker();
    let start = Instant::now();
    let job = loop {
        let j: serde_json::Value = c.get(&format!("/api/v1/jobs/{id}")).await.unwrap();
        if j["status"] == "settled" {
            break j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "never settled: {j}\n{}",
            std::fs::read_to_string(&worker_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(log_has("result committed"), 1);
    assert_eq!(job["units"], 3);
    // The poster paid the settled fee (its share, before the protocol cut, is units × price)
    // and the fees of its one transaction; the rest of the escrow came back.
    let offer: serde_json::Value = c
        .get(&format!("/api/v1/workers/{worker_addr}/offer"))
        .await
        .unwrap();
    let price: u128 = offer["price_per_unit"].as_str().unwrap().parse().unwrap();
    let tx: serde_json::Value = c
        .get(&format!("/api/v1/txs/{}", posted["tx"].as_str().unwrap()))
        .await
        .unwrap();
    let tx_fee: u128 = tx["receipt"]["fee"].as_str().unwrap().parse().unwrap();
    let after = balance(&c.account(&poster).await.unwrap());
    assert_eq!(before - after, 3 * price + tx_fee);
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
    worker.kill().unwrap();
    worker.wait().unwrap();
    node.kill().unwrap();
    node.wait().unwrap();
}
