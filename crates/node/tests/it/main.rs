//! The worker role against a real in-process node.

use mycel_ledger::{
    Message,
    modules::market::{self, Job, JobKind, JobStatus, Session, SessionMsg},
};
use mycel_node::{
    Home,
    client::Client,
    client::send_chat,
    init::{InitOptions, init},
    keystore::Keystore,
    roles::{
        validator::{RunOptions, run},
        worker::{
            JobOutput, JobRunner, Worker, WorkerConfig,
            sessions::{ChatEngine, ChatMessage, ChatRequest, SessionServer},
        },
    },
};
use mycel_primitives::{Amount, Hash};
use std::{sync::mpsc, time::Duration};

/// Test double: upper-cases the input, one unit per byte, one item per line.
struct UppercaseRunner;

const MODEL: Hash = Hash([7; 32]);

impl JobRunner for UppercaseRunner {
    fn kinds(&self) -> Vec<JobKind> {
        vec![JobKind::Dedup]
    }
    fn models(&self) -> Vec<Hash> {
        vec![MODEL]
    }
    fn run(&self, _job: &Job, input: &[u8]) -> mycel_node::Result<JobOutput> {
        let out = input.to_ascii_uppercase();
        let items = out
            .split(|b| *b == b'\n')
            .map(mycel_store::blob_hash)
            .collect();
        Ok(JobOutput {
            units: input.len() as u64,
            items,
            bytes: out,
        })
    }
}

/// Test double: replies with the last user message reversed, one character at a time; bills
/// one token per character of prompt and reply.
struct ReverseEngine;

impl ChatEngine for ReverseEngine {
    fn model(&self) -> Hash {
        MODEL
    }
    fn chat(
        &self,
        messages: &[ChatMessage],
        _max: usize,
        _seed: u64,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> mycel_node::Result<u64> {
        let last = messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let reply: String = last.chars().rev().collect();
        for c in reply.chars() {
            on_text(&c.to_string());
        }
        Ok((last.len() + reply.len()) as u64)
    }
}

async fn start_node(dir: &std::path::Path) -> (Home, Client) {
    let home = Home(dir.join("home"));
    let mut opts = InitOptions::default();
    opts.config.api_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    opts.config.p2p_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    init(&home, &opts).unwrap();
    let (tx, rx) = mpsc::channel();
    let node_home = home.clone();
    std::thread::spawn(move || {
        let on_ready = std::sync::Arc::new(move |a| {
            let _ = tx.send(a);
        });
        run(
            &node_home,
            RunOptions {
                on_ready: Some(on_ready),
                ..Default::default()
            },
        )
        .unwrap();
    });
    let api =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
    (home, Client::new(&format!("http://{api}")))
}

async fn send_tx(
    client: &Client,
    key: &mycel_primitives::PrivateKey,
    msg: Message,
) -> mycel_ledger::Receipt {
    let tx = client.sign(key, vec![msg], None, "").await.unwrap();
    let h = client.submit(&tx).await.unwrap();
    client
        .wait(&h, Duration::from_secs(30))
        .await
        .unwrap()
        .receipt
        .unwrap()
}

/// A session: opened on chain, three chats (plain and streamed) with verified receipts,
/// replays and strangers refused, receipts settled as a root, and the unspent deposit refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_chats_are_receipted_settled_and_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node(dir.path()).await;
    let ks = Keystore::new(home.keys_dir());
    let worker_key = ks.load("dev1").unwrap().private_key().unwrap();
    let client_key = ks.load("dev0").unwrap().private_key().unwrap();
    let stranger = ks.load("dev2").unwrap().private_key().unwrap();

    struct GenRunner;
    impl JobRunner for GenRunner {
        fn kinds(&self) -> Vec<JobKind> {
            vec![JobKind::Generate]
        }
        fn models(&self) -> Vec<Hash> {
            vec![MODEL]
        }
        fn run(&self, _: &Job, _: &[u8]) -> mycel_node::Result<JobOutput> {
            unreachable!("no batch jobs in this test")
        }
    }
    Worker::new(
        client.clone(),
        worker_key.clone(),
        GenRunner,
        WorkerConfig::default(),
    )
    .register()
    .await
    .unwrap();
    let server = SessionServer::open(
        ReverseEngine,
        worker_key.clone(),
        client.clone(),
        dir.path().join("receipts"),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker_url = format!("http://{}", listener.local_addr().unwrap());
    let app = server.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let worker_addr = mycel_primitives::Address::from_public_key(
        &commonware_cryptography::Signer::public_key(&worker_key),
    );
    let open = Message::Market(market::Msg::Session(SessionMsg::Open {
        worker: worker_addr,
        model: MODEL,
        deposit: Amount::from_myc(1),
        duration_blocks: 8,
    }));
    let r = send_tx(&client, &client_key, open).await;
    assert!(r.success, "{}", r.error);

    let req = |text: &str, stream: bool| ChatRequest {
        model: String::new(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: text.into(),
        }],
        max_tokens: 16,
        stream,
        seed: 0,
    };
    let (a, ra) = send_chat(&worker_url, 0, 0, &client_key, &req("hello", false))
        .await
        .unwrap();
    assert_eq!(a, "olleh");
    let (b, rb) = send_chat(&worker_url, 0, 1, &client_key, &req("stream me", true))
        .await
        .unwrap();
    assert_eq!(b, "em maerts");
    // Replaying seq 1 and a stranger's request are refused.
    assert!(
        matches!(send_chat(&worker_url, 0, 1, &client_key, &req("again", false)).await, Err(mycel_node::Error::Api { ref code, .. }) if code == "conflict")
    );
    assert!(
        matches!(send_chat(&worker_url, 0, 2, &stranger, &req("mine?", false)).await, Err(mycel_node::Error::Api { ref code, .. }) if code == "unauthorized")
    );
    let (_, rc) = send_chat(&worker_url, 0, 2, &client_key, &req("three", false))
        .await
        .unwrap();
    assert_eq!(ra.receipt.amount, Amount(10 * 1_000));
    let total = ra.receipt.amount.0 + rb.receipt.amount.0 + rc.receipt.amount.0;

    assert_eq!(server.settle_all().await.unwrap(), 1);
    let session: Session = client.get("/api/v1/sessions/0").await.unwrap();
    assert_eq!((session.count, session.total), (3, Amount(total)));
    let leaves: Vec<Hash> = [&ra, &rb, &rc].iter().map(|r| r.receipt.leaf()).collect();
    assert_eq!(
        session.receipts_root,
        mycel_primitives::merkle::root(&leaves)
    );
    // Nothing new: settling again does nothing.
    assert_eq!(server.settle_all().await.unwrap(), 0);
    // A restarted server reloads its receipts and agrees.
    drop(server);
    let again = SessionServer::open(
        ReverseEngine,
        worker_key,
        client.clone(),
        dir.path().join("receipts"),
    )
    .unwrap();
    assert_eq!(again.settle_all().await.unwrap(), 0);

    // After expiry the client closes and gets the unspent deposit back.
    let start = std::time::Instant::now();
    loop {
        let st = client.status().await.unwrap();
        if st.height >= session.expires {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let r = send_tx(
        &client,
        &client_key,
        Message::Market(market::Msg::Session(SessionMsg::Close { session: 0 })),
    )
    .await;
    assert!(r.success, "{}", r.error);
    let closed: Session = client.get("/api/v1/sessions/0").await.unwrap();
    assert!(closed.closed);
    let audit: serde_json::Value = client.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
    // The dashboard is served at the root.
    let page = reqwest::get(format!("{}/", client_base(&client)))
        .await
        .unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("Earnings debugger"));
}

fn client_base(c: &Client) -> String {
    c.base().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_an_assigned_job_once_and_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node(dir.path()).await;
    let ks = Keystore::new(home.keys_dir());
    let worker_key = ks.load("dev1").unwrap().private_key().unwrap();
    let poster = ks.load("dev0").unwrap().private_key().unwrap();

    let mut worker = Worker::new(
        client.clone(),
        worker_key.clone(),
        UppercaseRunner,
        WorkerConfig::default(),
    );
    worker.register().await.unwrap();
    // Nothing assigned yet.
    assert_eq!(worker.step().await.unwrap(), 0);

    let input = client.put_blob(b"hello\nworld".to_vec()).await.unwrap();
    let post = Message::Market(market::Msg::PostJob {
        kind: JobKind::Dedup,
        model: MODEL,
        input,
        params: b"{}".to_vec(),
        max_fee: Amount::from_myc(1),
        deadline_blocks: 60,
    });
    let tx = client.sign(&poster, vec![post], None, "").await.unwrap();
    let h = client.submit(&tx).await.unwrap();
    assert_eq!(
        client
            .wait(&h, Duration::from_secs(30))
            .await
            .unwrap()
            .status,
        "finalized"
    );

    assert_eq!(worker.step().await.unwrap(), 1);
    let job: Job = client.get("/api/v1/jobs/0").await.unwrap();
    assert_eq!(job.status, JobStatus::Committed);
    assert_eq!(client.get_blob(&job.output).await.unwrap(), b"HELLO\nWORLD");
    assert_eq!(job.units, 11);
    // A restarted worker (fresh process state) finds nothing left to do: no double commit.
    let mut restarted = Worker::new(
        client.clone(),
        worker_key,
        UppercaseRunner,
        WorkerConfig::default(),
    );
    assert_eq!(restarted.step().await.unwrap(), 0);
    // Settlement after the challenge window pays the worker.
    let start = std::time::Instant::now();
    loop {
        let job: Job = client.get("/api/v1/jobs/0").await.unwrap();
        if job.status == JobStatus::Settled {
            assert_eq!(job.fee.0, 11 * 1_000 - 11 * 1_000 * 500 / 10_000);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let audit: serde_json::Value = client.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
}
