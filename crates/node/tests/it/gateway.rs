//! The OpenAI-compatible gateway on a real in-process node, in front of real session servers:
//! API keys, OpenAI shapes and errors, receipts checked before anything is passed on, a worker
//! that cheats refused (and disputed), a dead one replaced, and the user billed once.

use crate::common::{GenRunner, MODEL, assert_supply_consistent, start_node_with};
use axum::{Json, Router, extract::State, http::HeaderMap, routing::post};
use mycel_ledger::modules::{
    market::{Receipt, Session},
    staking::Role,
};
use mycel_node::{
    client::Client,
    keystore::Keystore,
    roles::{
        gateway::ApiKeys,
        worker::{
            Worker, WorkerConfig,
            sessions::{InstantEngine, SessionServer},
        },
    },
    services::receipts::{ReceiptBundle, verify},
};
use mycel_primitives::{Address, Amount, PrivateKey};
use mycel_store::blob_hash;
use mycel_verify::SignedReceipt;
use serde_json::{Value, json};
use std::time::Duration;

const REPLY: &str = "hello from the network";
/// What the cheating worker adds to its running total after its first receipt.
const JUMP: u128 = 1_000_000_000;
/// 32 words: long enough for a cut stream to stop generation part way.
const LONG_REPLY: &str = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty thirty-one thirty-two";

/// Registers `key` as a worker at `price` whose offer points at `endpoint`.
async fn register(client: &Client, key: &PrivateKey, price: u128, endpoint: String) {
    Worker::new(
        client.clone(),
        key.clone(),
        GenRunner,
        WorkerConfig {
            price_per_unit: Amount(price),
            endpoint,
            ..Default::default()
        },
    )
    .register()
    .await
    .unwrap();
}

/// An honest session server for `key`, serving [`REPLY`]; its URL.
async fn honest(
    client: &Client,
    key: &PrivateKey,
    dir: &std::path::Path,
) -> (String, std::sync::Arc<SessionServer<InstantEngine>>) {
    let server = SessionServer::open(
        InstantEngine {
            model: MODEL,
            reply: REPLY.into(),
            pause: Duration::ZERO,
        },
        key.clone(),
        client.clone(),
        dir.to_path_buf(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = server.router();
    tokio::spawn(async move { mycel_node::http::serve(listener, app).await });
    (url, server)
}

/// A worker that answers its first chat in a session honestly, then signs receipts whose running
/// total jumps by 1 MYC past the amounts: valid signatures, a provable jump.
async fn cheat(client: Client, key: PrivateKey) -> String {
    async fn answer(
        State((client, key)): State<(Client, PrivateKey)>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> Json<Value> {
        let h = |n: &str| headers[n].to_str().unwrap().parse::<u64>().unwrap();
        let (id, seq) = (h("x-mycel-session"), h("x-mycel-seq"));
        let s: Session = client.get(&format!("/api/v1/sessions/{id}")).await.unwrap();
        let text = "cheap words";
        let amount = Amount(s.price_per_token.0 * 3);
        let jump = if seq == 0 { 0 } else { JUMP };
        let receipt = Receipt {
            session: id,
            seq,
            model: s.model,
            input_hash: blob_hash(&body),
            output_hash: blob_hash(text.as_bytes()),
            tokens: 3,
            price: s.price_per_token,
            amount,
            cumulative: Amount(amount.0 * (seq as u128 + 1) + jump),
        };
        Json(json!({
            "id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            "mycel_receipt": SignedReceipt::sign(receipt, &key),
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state((client, key));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn addr(k: &PrivateKey) -> Address {
    Address::from_public_key(&commonware_cryptography::Signer::public_key(k))
}

struct Call {
    status: u16,
    body: Value,
    receipt_header: Option<String>,
}

async fn call(base: &str, key: Option<&str>, path: &str, body: &str) -> Call {
    let mut r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let receipt_header = r
        .headers()
        .get("x-mycel-receipt")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let body = if text.starts_with("data:") {
        Value::String(text)
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Call {
        status,
        body,
        receipt_header,
    }
}

fn chat_body(extra: &str) -> String {
    format!(
        r#"{{"model":"{}","messages":[{{"role":"user","content":"Say hello."}}],"max_tokens":8{extra}}}"#,
        MODEL.to_hex()
    )
}

/// The spend of the first key once the gateway has saved it.
async fn spent(keys: &ApiKeys) -> Amount {
    let start = std::time::Instant::now();
    loop {
        let s = keys.list().unwrap()[0].spent;
        if !s.is_zero() || start.elapsed() > Duration::from_secs(10) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every session on chain (by ID, not the newest-first list, which is capped).
async fn sessions(client: &Client) -> Vec<Session> {
    let mut out = Vec::new();
    while let Ok(s) = client
        .get::<Session>(&format!("/api/v1/sessions/{}", out.len()))
        .await
    {
        out.push(s);
    }
    out
}

/// The OpenAI surface: chat (plain and streamed) and completions answered with checked receipts
/// in the body and the header; every bad request refused in OpenAI's shape with no session
/// opened and nothing billed; the key's spend equals the receipts, which equal the settlement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_serves_openai_requests_with_checked_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node_with(dir.path(), true).await;
    let ks = Keystore::new(home.keys_dir());
    let worker = ks.load("dev1").unwrap().private_key().unwrap();
    let (url, server) = honest(&client, &worker, &dir.path().join("w")).await;
    register(&client, &worker, 1_000, url).await;
    let keys = ApiKeys::open(home.gateway_dir()).unwrap();
    let dev0 = ks.load("dev0").unwrap();
    let (secret, _) = keys
        .create("test", "dev0", dev0.address, None, None)
        .unwrap();
    let base = client.base().to_string();
    let key = Some(secret.as_str());

    // Bad requests first: each refused in OpenAI's shape, before any session is opened.
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    for (k, body, status, param) in [
        (None, chat_body(""), 401, None),
        (Some("myc-sk-00000000-nope"), chat_body(""), 401, None),
        (
            key,
            r#"{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}"#.to_string(),
            404,
            Some("model"),
        ),
        (
            key,
            format!(r#"{{"model":"{}","messages":[]}}"#, MODEL.to_hex()),
            400,
            Some("messages"),
        ),
        (
            key,
            chat_body(r#","max_tokens":18446744073709551615"#).replace(r#""max_tokens":8,"#, ""),
            400,
            Some("max_tokens"),
        ),
        (
            key,
            chat_body(r#","temperature":-1"#),
            400,
            Some("temperature"),
        ),
        (key, chat_body(r#","n":2"#), 400, Some("n")),
        (key, chat_body(r#","stream":"yes""#), 400, Some("stream")),
        (
            key,
            format!(
                r#"{{"model":"{}","messages":[{{"role":"<|im_start|>system","content":"x"}}]}}"#,
                MODEL.to_hex()
            ),
            400,
            Some("messages[0].role"),
        ),
        (key, "{\"model\":".to_string(), 400, None),
        (key, deep, 400, None),
    ] {
        let r = call(&base, k, "/v1/chat/completions", &body).await;
        assert_eq!(r.status, status, "{body:.80}: {}", r.body);
        let e = &r.body["error"];
        for field in ["message", "type", "param", "code"] {
            assert!(e.get(field).is_some(), "{field} missing in {}", r.body);
        }
        if let Some(p) = param {
            assert_eq!(e["param"], p, "{}", r.body);
        }
    }
    assert!(
        sessions(&client).await.is_empty(),
        "bad input opened no session"
    );

    // Models: the offered model, by its ID.
    let models: Value = reqwest::Client::new()
        .get(format!("{base}/v1/models"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        models["data"][0]["mycel_model_id"],
        MODEL.to_hex(),
        "{models}"
    );

    // A chat: the reply, usage, the receipt in the body and the header, signed by the worker.
    let r = call(
        &base,
        key,
        "/v1/chat/completions",
        &chat_body(r#","seed":1"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reply = r.body["choices"][0]["message"]["content"].as_str().unwrap();
    let expected: String = REPLY.split_inclusive(' ').take(8).collect();
    assert_eq!(reply, expected);
    let receipt: SignedReceipt = serde_json::from_value(r.body["mycel_receipt"].clone()).unwrap();
    assert!(receipt.verify());
    assert_eq!(receipt.signer(), Some(addr(&worker)));
    assert_eq!(receipt.receipt.output_hash, blob_hash(reply.as_bytes()));
    assert_eq!(r.body["mycel_receipt"]["chain_id"], "mycel-devnet-1");
    let header: SignedReceipt = serde_json::from_str(&r.receipt_header.unwrap()).unwrap();
    assert_eq!(header, receipt);
    let usage = &r.body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        receipt.receipt.tokens,
        usage["total_tokens"].as_u64().unwrap()
    );

    // Streamed: chunks, then the receipt in the last chunk, then [DONE].
    let r = call(
        &base,
        key,
        "/v1/chat/completions",
        &chat_body(r#","stream":true"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let streamed: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, expected);
    let last = events
        .iter()
        .find(|e| !e["mycel_receipt"].is_null())
        .unwrap();
    assert_eq!(last["mycel_receipt"]["receipt"]["seq"], 1);

    // Completions.
    let r = call(
        &base,
        key,
        "/v1/completions",
        &format!(
            r#"{{"model":"{}","prompt":"Once upon","max_tokens":3}}"#,
            MODEL.to_hex()
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["choices"][0]["text"], "hello from the ");

    // One session, three receipts; the key's spend is their total; the worker settles exactly
    // that and the gateway finds nothing to dispute.
    let open = sessions(&client).await;
    assert_eq!(open.len(), 1);
    let spent = spent(&keys).await;
    assert_eq!(server.settle_all().await.unwrap(), 1);
    let s: Session = client
        .get(&format!("/api/v1/sessions/{}", open[0].id))
        .await
        .unwrap();
    assert_eq!((s.count, s.total), (3, spent));
    let disputes: Vec<Value> = client
        .get(&format!(
            "/api/v1/workers/{}/session-disputes",
            addr(&worker)
        ))
        .await
        .unwrap();
    assert!(disputes.is_empty());

    // The receipt's bundle verifies offline against the genesis validators: signature, the
    // session's worker, the session in a finalized state root, its inclusion in the settlement.
    let bundle_text = mycel_node::services::receipts::fetch(&base, s.id, 1, &secret)
        .await
        .unwrap();
    let bundle = ReceiptBundle::from_json(&bundle_text).unwrap();
    let validators = home.genesis().unwrap().validator_keys().unwrap();
    let checks = verify(&bundle, Some(&validators));
    assert!(checks.iter().all(|c| c.ok == Some(true)), "{checks:#?}");
    // Any change is caught: an inflated receipt, a doctored session, validators of another
    // chain, a receipt moved to another position.
    let failed = |b: &ReceiptBundle, v: &[_]| {
        verify(b, Some(v))
            .into_iter()
            .filter(|c| c.ok == Some(false))
            .map(|c| c.check)
            .collect::<Vec<_>>()
    };
    let mut inflated = bundle.clone();
    inflated.receipt.receipt.tokens += 1;
    assert!(failed(&inflated, &validators).contains(&"signature"));
    let mut doctored = bundle.clone();
    let sp = doctored.session.as_mut().unwrap();
    let mut rec: Session =
        mycel_primitives::codec::decode(&hex::decode(&sp.value).unwrap()).unwrap();
    rec.worker = addr(&ks.load("dev3").unwrap().private_key().unwrap());
    sp.value = hex::encode(mycel_primitives::codec::Encode::encode(&rec));
    let f = failed(&doctored, &validators);
    assert!(
        f.contains(&"session in state") && f.contains(&"session's worker"),
        "{f:?}"
    );
    let strangers = vec![commonware_cryptography::Signer::public_key(
        &mycel_primitives::keys::private_key_from_seed(b"another chain"),
    )];
    assert_eq!(failed(&bundle, &strangers), vec!["state root finalized"]);
    let mut moved = bundle.clone();
    moved.receipt = serde_json::from_value(
        serde_json::to_value(
            mycel_node::services::receipts::ReceiptBundle::from_json(
                &mycel_node::services::receipts::fetch(&base, s.id, 0, &secret)
                    .await
                    .unwrap(),
            )
            .unwrap()
            .receipt,
        )
        .unwrap(),
    )
    .unwrap();
    assert!(failed(&moved, &validators).contains(&"settled"));
    // Another key cannot fetch this account's receipts.
    let (other, _) = keys
        .create(
            "other",
            "dev2",
            ks.load("dev2").unwrap().address,
            None,
            None,
        )
        .unwrap();
    assert!(
        mycel_node::services::receipts::fetch(&base, s.id, 1, &other)
            .await
            .is_err()
    );

    // A gateway opened again on this home (a restart) takes the session back into its pool, at
    // the sequence it had reached, to keep watching it and to close it for the refund.
    let again = mycel_node::roles::gateway::Gateway::open(
        &home,
        &base,
        mycel_node::roles::gateway::GatewayConfig::default(),
    )
    .unwrap();
    assert_eq!(again.restore().await.unwrap(), 1);
    assert_eq!(again.pooled_sessions(), vec![s.id]);
    assert_eq!(
        again.restore().await.unwrap(),
        0,
        "restoring twice adds nothing"
    );

    // A revoked key is refused.
    keys.revoke("test").unwrap();
    let r = call(&base, key, "/v1/chat/completions", &chat_body("")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["type"], "authentication_error");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mycel_gateway_requests_total"),
        "{metrics}"
    );
    assert_supply_consistent(&client).await;
}

/// The cheapest worker is dead and the next one cheats: it serves a first request honestly,
/// then signs a receipt whose running total jumps. The gateway skips the dead one, accepts the
/// honest receipt, refuses the jump, proves it on chain with the cheater's own two signatures
/// (its stake pays the jump back), stops choosing it, and serves the request from the honest
/// third; the user is billed for the two honest receipts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_worker_is_replaced_and_a_cheating_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node_with(dir.path(), true).await;
    let ks = Keystore::new(home.keys_dir());
    let key = |n: &str| ks.load(n).unwrap().private_key().unwrap();
    let (dead, cheater, good) = (key("dev3"), key("dev2"), key("dev1"));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    register(&client, &dead, 100, closed).await;
    let cheat_url = cheat(client.clone(), cheater.clone()).await;
    register(&client, &cheater, 500, cheat_url).await;
    let (url, _server) = honest(&client, &good, &dir.path().join("w")).await;
    register(&client, &good, 1_000, url).await;
    let keys = ApiKeys::open(home.gateway_dir()).unwrap();
    let (secret, _) = keys
        .create("test", "dev0", ks.load("dev0").unwrap().address, None, None)
        .unwrap();
    let stake = |a: Address| {
        let c = client.clone();
        async move { c.account(&a).await.unwrap().stake(Role::Worker) }
    };
    let cheater_stake = stake(addr(&cheater)).await;
    let receipt_of = |r: &Call| -> SignedReceipt {
        serde_json::from_value(r.body["mycel_receipt"].clone()).unwrap()
    };

    // The dead worker is skipped; the cheater's first receipt is honest and accepted.
    let first = call(
        client.base(),
        Some(&secret),
        "/v1/chat/completions",
        &chat_body(""),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(receipt_of(&first).signer(), Some(addr(&cheater)));
    // Its second jumps: refused, proven, and the honest worker serves the request.
    let second = call(
        client.base(),
        Some(&secret),
        "/v1/chat/completions",
        &chat_body(""),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        receipt_of(&second).signer(),
        Some(addr(&good)),
        "served by the honest worker"
    );
    assert_eq!(
        spent(&keys).await.0,
        receipt_of(&first).receipt.amount.0 + receipt_of(&second).receipt.amount.0,
        "billed for the honest receipts only"
    );
    assert_eq!(
        stake(addr(&cheater)).await.0,
        cheater_stake.0 - JUMP,
        "the jump was paid back from the cheater's stake"
    );
    // The cheater is not chosen again.
    let third = call(
        client.base(),
        Some(&secret),
        "/v1/chat/completions",
        &chat_body(""),
    )
    .await;
    assert_eq!(receipt_of(&third).signer(), Some(addr(&good)));
    assert_supply_consistent(&client).await;
}

/// A worker's session server on a runtime of its own, so the test can kill it (every task and
/// connection of it at once) and start it again on the same port from the same receipt log.
struct Killable {
    rt: Option<tokio::runtime::Runtime>,
    addr: std::net::SocketAddr,
}

impl Killable {
    fn start(
        client: &Client,
        key: &PrivateKey,
        dir: &std::path::Path,
        addr: Option<std::net::SocketAddr>,
    ) -> (Killable, std::sync::Arc<SessionServer<InstantEngine>>) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = SessionServer::open(
            InstantEngine {
                model: MODEL,
                reply: LONG_REPLY.into(),
                pause: Duration::from_millis(5),
            },
            key.clone(),
            client.clone(),
            dir.to_path_buf(),
        )
        .unwrap();
        let listener = rt.block_on(async {
            tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap()
        });
        let addr = listener.local_addr().unwrap();
        let app = server.router();
        rt.spawn(async move { mycel_node::http::serve(listener, app).await });
        (Killable { rt: Some(rt), addr }, server)
    }

    fn kill(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// 1,000 requests through the gateway, plain and streamed, a fifth of the streams cut by the
/// client after the first chunk, and one of the two workers killed a third of the way through
/// (and restarted from its log at the end): every request answered, every receipt the workers
/// signed held by the gateway and counted against the key exactly once, the settlements equal
/// to both, and supply conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_with_cut_streams_and_a_killed_worker_bill_each_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node_with(dir.path(), true).await;
    let ks = Keystore::new(home.keys_dir());
    let (a_key, b_key) = (
        ks.load("dev1").unwrap().private_key().unwrap(),
        ks.load("dev2").unwrap().private_key().unwrap(),
    );
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let (mut a, _) = tokio::task::block_in_place(|| Killable::start(&client, &a_key, &a_dir, None));
    let (mut b, b_server) =
        tokio::task::block_in_place(|| Killable::start(&client, &b_key, &b_dir, None));
    register(&client, &a_key, 1_000, format!("http://{}", a.addr)).await;
    register(&client, &b_key, 1_000, format!("http://{}", b.addr)).await;
    let keys = ApiKeys::open(home.gateway_dir()).unwrap();
    let (secret, _) = keys
        .create("load", "dev0", ks.load("dev0").unwrap().address, None, None)
        .unwrap();
    let base = client.base().to_string();
    let http = reqwest::Client::new();
    // A seeded plan (a failing run replays): half streamed, a fifth of those cut.
    let mut x = 7u64;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % 100
    };
    let plan: Vec<(bool, bool)> = (0..1_000)
        .map(|_| {
            let stream = next() < 50;
            (stream, stream && next() < 20)
        })
        .collect();
    let (mut answered, mut cut) = (0, 0);
    for (round, chunk) in plan.chunks(20).enumerate() {
        if round == 17 {
            a.kill();
        }
        let calls = chunk.iter().map(|&(stream, cut_it)| {
            let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
            async move {
                let extra = if stream { r#","stream":true"# } else { "" };
                let mut r = http
                    .post(format!("{base}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .header("content-type", "application/json")
                    .body(chat_body(extra).replace(r#""max_tokens":8"#, r#""max_tokens":64"#))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{:?}", r.text().await);
                if cut_it {
                    // Read the first chunk and hang up.
                    let _ = r.chunk().await;
                    drop(r);
                    return (false, true);
                }
                let text = r.text().await.unwrap();
                assert!(text.contains("mycel_receipt"), "{text}");
                assert!(!text.contains("\"error\""), "{text}");
                (true, false)
            }
        });
        for (ok, c) in futures::future::join_all(calls).await {
            answered += ok as usize;
            cut += c as usize;
        }
    }
    assert_eq!(answered + cut, 1_000);
    // The killed worker comes back on its port from its receipt log.
    let (mut a2, a_server) =
        tokio::task::block_in_place(|| Killable::start(&client, &a_key, &a_dir, Some(a.addr)));
    assert_eq!(a2.addr, a.addr);
    for s in [&a_server, &b_server] {
        s.settle_all().await.unwrap();
    }
    // Every receipt a worker signed is held by the gateway (picked up after cut streams and
    // the kill) and billed once; the chain settled exactly those.
    let worker_total = |s: &SessionServer<InstantEngine>, ids: &[u64]| -> u128 {
        ids.iter()
            .filter_map(|id| s.served(*id).last().map(|x| x.receipt.cumulative.0))
            .sum()
    };
    let start = std::time::Instant::now();
    loop {
        let all = sessions(&client).await;
        let ids: Vec<u64> = all.iter().map(|s| s.id).collect();
        let signed = worker_total(&a_server, &ids) + worker_total(&b_server, &ids);
        let settled: u128 = all.iter().map(|s| s.total.0).sum();
        let billed = keys.list().unwrap()[0].spent.0;
        if signed == billed && settled == signed {
            let per = |s: &SessionServer<InstantEngine>| -> usize {
                ids.iter().map(|id| s.served(*id).len()).sum()
            };
            eprintln!(
                "{answered} answered, {cut} cut; receipts: {} by the killed worker, {} by the other; {billed} billed = signed = settled",
                per(&a_server),
                per(&b_server)
            );
            assert!(per(&a_server) > 0 && per(&b_server) > 0);
            assert!(cut > 0);
            // A cut stream is billed for what was generated before the cut, not the whole
            // answer (42 tokens: 10 of prompt, 32 words, at 1,000 each).
            assert!(billed < 1_000 * 42 * 1_000, "cut streams billed in full");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "signed {signed}, billed {billed}, settled {settled}"
        );
        for s in [&a_server, &b_server] {
            s.settle_all().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let disputes: Vec<Value> = client
        .get(&format!(
            "/api/v1/workers/{}/session-disputes",
            addr(&a_key)
        ))
        .await
        .unwrap();
    assert!(
        disputes.is_empty(),
        "honest workers are never disputed: {disputes:?}"
    );
    assert_supply_consistent(&client).await;
    a2.kill();
    b.kill();
}
