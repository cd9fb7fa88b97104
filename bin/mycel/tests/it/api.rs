//! The HTTP API's answers to bad input over real HTTP.

use crate::common::{Devnet, balance, transfer};
use commonware_cryptography::Signer as _;
use mycel_ledger::Tx;
use mycel_node::Error;
use mycel_primitives::{Address, Amount};
use std::time::Duration;

/// Bad input over real HTTP: typed errors and no state change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rejects_bad_input_without_state_change() {
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    // A fresh connection per request: the server may close one after refusing an oversized
    // body unread, and a pooled connection reused after that fails with IncompleteMessage.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
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
    let spent = balance(&before) - balance(&after);
    assert_eq!(spent, Amount::from_myc(1).0 + 1_000);

    // Unknown routes and malformed parameters are typed too.
    let get = |path: &str| http.get(format!("http://{}{path}", net.api)).send();
    let r = get("/api/v1/accounts/nope").await.unwrap();
    assert_eq!(code(r.json().await.unwrap()), "bad_request");
    let r = get("/api/v1/nothing").await.unwrap();
    assert_eq!(r.status(), 404);
    // Blobs: stored by content, verified on the way out, unknown ones are typed errors.
    let h = c.put_blob(&key, b"some job input".to_vec()).await.unwrap();
    assert_eq!(h, mycel_store::blob_hash(b"some job input"));
    assert_eq!(c.get_blob(&h).await.unwrap(), b"some job input");
    assert!(
        matches!(c.get_blob(&mycel_store::blob_hash(b"nope")).await, Err(Error::Api { ref code, .. }) if code == "not_found")
    );
    // Metrics are exported.
    let m = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(m.contains("finalized_txs"), "{}", &m[..m.len().min(500)]);
    node.kill();
}
