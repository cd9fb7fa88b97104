//! Validator sets per epoch with their signing records, and the chain's gauges in `/metrics`,
//! against a real single-validator node (epochs of 20 blocks, a block about every second).

use crate::common::start_node;
use mycel_node::{
    client::Client,
    http::validators::{EpochValidators, MAX_EPOCHS},
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Asserts that `path` answers 400 in the shared error shape, naming `param`.
async fn bad_request(c: &Client, path: &str, param: &str) {
    let r = reqwest::get(format!("{}{path}", c.base())).await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "{path}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request", "{path}: {v}");
    assert_eq!(v["error"]["param"], param, "{path}: {v}");
    assert!(v["error"]["message"].is_string(), "{path}: {v}");
}

/// Polls `/api/v1/validators` until `done` holds of the answer.
async fn until(c: &Client, what: &str, done: impl Fn(&EpochValidators) -> bool) -> EpochValidators {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v: EpochValidators = c.get("/api/v1/validators").await.unwrap();
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of the un-labelled sample `name` in a Prometheus text.
fn sample(text: &str, name: &str) -> u64 {
    assert!(
        text.contains(&format!("# TYPE {name} gauge\n")),
        "no TYPE line for {name}"
    );
    assert!(
        text.contains(&format!("# HELP {name} ")),
        "no HELP line for {name}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no sample of {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_per_epoch_with_signing_records_and_gauges() {
    let dir = tempfile::tempdir().unwrap();
    let (_home, c) = start_node(dir.path()).await;
    let me = c.status().await.unwrap().validator;

    // The genesis validator, in the set of epoch 0, signing every certified block.
    let first = until(&c, "a certified block", |v| v.certified >= 1).await;
    assert_eq!(
        (first.epoch, first.first_height, first.last_height),
        (0, 0, 19)
    );
    assert_eq!(first.validators.len(), 1, "{first:?}");
    let v = &first.validators[0];
    assert_eq!(v.address, me);
    assert!(v.stake.0 > 0);
    assert_eq!(v.signed, first.certified, "one validator signs them all");
    assert_eq!(v.signed_bps, Some(10_000));
    assert_eq!((v.jailed_until, v.tombstoned), (None, false));

    // Signed counts grow as blocks are certified.
    let later = until(&c, "more certified blocks", |v| {
        v.epoch > 0 || v.certified >= first.certified + 3
    })
    .await;
    let again: EpochValidators = c.get("/api/v1/validators?epoch=0").await.unwrap();
    assert!(again.certified >= first.certified + 3 || later.epoch > 0);
    assert!(again.validators[0].signed > first.validators[0].signed);
    assert_eq!(again.validators[0].signed, again.certified);

    // A bad epoch, limit, order or start is a typed 400.
    bad_request(&c, "/api/v1/validators?epoch=abc", "epoch").await;
    bad_request(&c, "/api/v1/validators?epoch=-1", "epoch").await;
    bad_request(&c, "/api/v1/validators?epoch=1000000", "epoch").await;
    bad_request(&c, "/api/v1/validators/epochs?from=1000000", "from").await;
    bad_request(&c, "/api/v1/validators/epochs?from=x", "from").await;
    bad_request(&c, "/api/v1/validators/epochs?limit=many", "limit").await;
    bad_request(&c, "/api/v1/validators/epochs?order=sideways", "order").await;

    // `/metrics` carries the chain's gauges, computed at scrape time.
    let before = c.status().await.unwrap().height;
    let text = c.get_text("/metrics").await.unwrap();
    let after = c.status().await.unwrap().height;
    let height = sample(&text, "mycel_finalized_height");
    assert!(
        (before..=after).contains(&height),
        "{height} not in {before}..={after}"
    );
    assert_eq!(sample(&text, "mycel_epoch"), height / 20);
    assert_eq!(sample(&text, "mycel_validators"), 1);
    sample(&text, "mycel_mempool_txs");
    // The runtime's own metrics are still there, and `# EOF` (if any) ends the text.
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(samples > 4, "the runtime's metrics are missing");
    if let Some(i) = text.find("# EOF") {
        assert_eq!(&text[i..], "# EOF\n", "something follows # EOF");
    }

    // Into epoch 1: the set the ledger fixed for it, epochs newest first.
    until(&c, "epoch 1", |v| v.epoch >= 1).await;
    let eps: Vec<EpochValidators> = c.get("/api/v1/validators/epochs").await.unwrap();
    let numbers: Vec<u64> = eps.iter().map(|e| e.epoch).collect();
    assert_eq!(numbers, (0..=numbers[0]).rev().collect::<Vec<_>>());
    assert!(numbers[0] >= 1);
    let zero = eps.last().unwrap();
    assert!(zero.ended, "{zero:?}");
    assert_eq!(zero.validators[0].signed, zero.certified);
    assert_eq!(eps[0].validators[0].address, me);
    let one: EpochValidators = c.get("/api/v1/validators?epoch=1").await.unwrap();
    assert_eq!((one.first_height, one.last_height), (20, 39));
    assert_eq!(one.validators.len(), 1);

    // Paging: from, limit (bounded), order.
    let page: Vec<EpochValidators> = c
        .get("/api/v1/validators/epochs?from=1&limit=1")
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1]);
    let asc: Vec<EpochValidators> = c
        .get("/api/v1/validators/epochs?order=asc&limit=2")
        .await
        .unwrap();
    assert_eq!(asc.iter().map(|e| e.epoch).collect::<Vec<_>>(), [0, 1]);
    let all: Vec<EpochValidators> = c
        .get("/api/v1/validators/epochs?limit=100000")
        .await
        .unwrap();
    assert!(all.len() as u64 <= MAX_EPOCHS && all.len() >= 2);
    let none: Vec<EpochValidators> = c.get("/api/v1/validators/epochs?limit=0").await.unwrap();
    assert!(none.is_empty());
}
