//! The compute market over the CLI: bonding, offers, a job posted, committed and settled, and
//! the earnings debugger.

use crate::common::{Devnet, assert_supply_consistent};
use std::time::{Duration, Instant};

/// A worker bonds, offers, is assigned a job posted with the CLI, commits a result and is paid
/// at settlement; `mycel earnings` explains every figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_flow_and_earnings_over_the_cli() {
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    let model = "07".repeat(32);
    // Before bonding, the earnings debugger says why dev1 gets no work.
    let e = net.cli_json(&["earnings", "--node", "dev1"]);
    let blockers = e["blockers"].as_array().unwrap();
    let blocked_by = |prefix: &str| {
        blockers
            .iter()
            .any(|b| b.as_str().unwrap().starts_with(prefix))
    };
    assert!(blocked_by("below minimum stake"), "{e}");
    assert!(blocked_by("no offer"), "{e}");

    net.cli(&[
        "tx", "bond", "--from", "dev1", "--role", "worker", "--amount", "100",
    ]);
    net.cli(&[
        "tx", "offer", "--from", "dev1", "--kinds", "embed", "--models", &model, "--price", "1000u",
    ]);
    let posted = net.cli_json(&[
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
    ]);
    assert_eq!(posted["worker"], net.address("dev1").to_string().as_str());
    let id = posted["job"].as_str().unwrap().to_string();
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
        "500",
        "--trace-root",
        &"03".repeat(32),
    ]);
    // Settlement comes after the challenge window (10 blocks at one per second when idle).
    let j = net
        .wait_settled(&id, Instant::now() + Duration::from_secs(60))
        .await;
    // 500 units × 1000 = 500,000 base units, 5% burned.
    assert_eq!(j["fee"], "475000");
    let text = net.cli(&["earnings", "--node", "dev1"]);
    assert!(text.contains("job_fee"), "{text}");
    assert!(text.contains("settled: paid"), "{text}");
    assert!(text.contains("nothing blocks this node"), "{text}");
    assert_supply_consistent(&c).await;
    node.kill();
}
