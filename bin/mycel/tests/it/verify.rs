//! Verification end to end, as the cheater and the honest worker meet it: real node, real
//! auditor process replaying on the data engine, the CLI for everything a user would type.

use crate::common::{Devnet, Process, assert_supply_consistent};
use mycel_node::types::{Amount, Role};
use std::time::{Duration, Instant};

const DEDUP: &str = "mycel-text/v1";

fn records(net: &Devnet) -> std::path::PathBuf {
    let path = net.home.join("records.jsonl");
    crate::common::write_jsonl(
        &path,
        &[
            (
                "a".into(),
                "The quick brown fox jumps over the lazy dog.".into(),
            ),
            (
                "b".into(),
                "the quick  brown fox jumps over the lazy dog".into(),
            ),
            (
                "c".into(),
                "An entirely different sentence about verification.".into(),
            ),
        ],
    );
    path
}

fn auditor(net: &Devnet) -> Process {
    let mut cmd = net.mycel();
    cmd.args([
        "auditor",
        "--tiny",
        "--from",
        "auditor",
        "--validator-key",
        "validator",
    ]);
    Process::spawn(cmd, &net.home.join("auditor.log"))
}

/// Polls `mycel audit status JOB --json` until `done` holds; panics with the logs at the deadline.
async fn wait_for(
    net: &Devnet,
    job: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = net.cli_json(&["audit", "status", job]);
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "job {job}: never {what}: {v}\nauditor log:\n{}",
            std::fs::read_to_string(net.home.join("auditor.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A worker commits a made-up result (an output hash with no blob behind it, a random trace
/// root). The auditor's replay disagrees, the dispute opens, the worker cannot split a trace it
/// never computed and loses by timeout: the poster is refunded, half the worker's stake is gone
/// (half of that to the auditor), and `mycel earnings` says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_result_is_caught_and_its_worker_slashed() {
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    let profile = mycel_data::profile::Profile::by_name(DEDUP)
        .unwrap()
        .id()
        .to_hex();
    net.cli(&[
        "tx", "bond", "--from", "dev1", "--role", "worker", "--amount", "100",
    ]);
    net.cli(&[
        "tx", "offer", "--from", "dev1", "--kinds", "dedup", "--models", &profile, "--price",
        "1000u",
    ]);
    let input = records(&net);
    let posted = net.cli_json(&[
        "job",
        "post",
        "--from",
        "dev0",
        "--kind",
        "dedup",
        "--model",
        DEDUP,
        "--input",
        input.to_str().unwrap(),
        "--max-fee",
        "2",
        "--deadline",
        "50",
    ]);
    let id = posted["job"].as_str().unwrap().to_string();
    let _auditor = auditor(&net);
    // The auditor must be bonded before the result lands, to be drawn.
    let deadline = Instant::now() + Duration::from_secs(60);
    let auditor_addr = net.address("auditor");
    while c
        .account(&auditor_addr)
        .await
        .unwrap()
        .stake(Role::Auditor)
        .is_zero()
    {
        assert!(Instant::now() < deadline, "the auditor never bonded");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Units within the bound (2 MYC at 1000u per unit), but nothing behind the hashes.
    net.cli(&[
        "tx",
        "commit-result",
        "--from",
        "dev1",
        "--job",
        &id,
        "--output",
        &"02".repeat(32),
        "--units",
        "3",
        "--trace-root",
        &"03".repeat(32),
        "--trace-len",
        "3",
    ]);
    let v = wait_for(&net, &id, "rejected", |v| v["status"] == "rejected").await;
    assert!(
        v["state"]
            .as_str()
            .unwrap()
            .contains("proven wrong (worker_silent)"),
        "{v}"
    );
    let audit = &v["audits"][0];
    assert_eq!(audit["stage"], "mismatched", "{v}");
    assert_eq!(v["disputes"][0]["outcome"], "challenger_won", "{v}");
    let text = net.cli(&["audit", "status", &id]);
    assert!(
        text.contains("Rejected") && text.contains("worker_silent"),
        "{text}"
    );
    let e = net.cli(&["earnings", "--node", "dev1"]);
    assert!(e.contains("slashed_fraud"), "{e}");
    assert!(e.contains("rejected:"), "{e}");
    let stake = c
        .account(&net.address("dev1"))
        .await
        .unwrap()
        .stake(Role::Worker);
    assert_eq!(
        stake,
        Amount::from_myc(50),
        "half of the worker's 100 MYC is slashed"
    );
    let e = net.cli(&["earnings", "--node", "auditor"]);
    assert!(e.contains("dispute_won"), "{e}");
    assert_supply_consistent(&c).await;
    node.kill();
}

/// An honest worker's result is replayed by the auditor, matches, and settles verified; the
/// worker's reputation rises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_result_is_verified_and_paid() {
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    let mut w = net.mycel();
    let port = crate::common::free_port();
    w.args(["worker", "--tiny", "--listen", &format!("127.0.0.1:{port}")]);
    let _worker = Process::spawn(w, &net.home.join("worker.log"));
    let _auditor = auditor(&net);
    // Wait for the worker's offer.
    let deadline = Instant::now() + Duration::from_secs(120);
    while c
        .get::<Vec<serde_json::Value>>("/api/v1/workers")
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the worker never offered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let input = records(&net);
    let posted = net.cli_json(&[
        "job",
        "post",
        "--from",
        "dev0",
        "--kind",
        "dedup",
        "--model",
        DEDUP,
        "--input",
        input.to_str().unwrap(),
        "--max-fee",
        "2",
        "--deadline",
        "50",
    ]);
    let id = posted["job"].as_str().unwrap().to_string();
    let v = wait_for(&net, &id, "settled verified", |v| {
        v["status"] == "settled" && v["audits"][0]["stage"] == "matched"
    })
    .await;
    assert!(v["disputes"].as_array().unwrap().is_empty(), "{v}");
    let e = net.cli_json(&["earnings", "--node", "worker"]);
    assert_eq!(e["reputation"], 101, "{e}");
    assert_supply_consistent(&c).await;
    node.kill();
}
