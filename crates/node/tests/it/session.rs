//! Chat sessions: receipts, settlement as a root, refunds.

use crate::common::{MODEL, assert_supply_consistent, send_tx, start_node};
use mycel_ledger::{
    Message,
    modules::market::{self, Job, JobKind, Session, SessionMsg},
};
use mycel_node::http::openai::{Prompt, Usage};
use mycel_node::{
    client::send_chat,
    keystore::Keystore,
    roles::worker::{
        JobOutput, JobRunner, Worker, WorkerConfig,
        sessions::{ChatEngine, ChatMessage, ChatRequest, Finish, Generated, SessionServer},
    },
};
use mycel_primitives::{Amount, Hash};
use std::time::Duration;

/// Test double: replies with the last user message reversed, one character at a time; bills
/// one token per character of prompt and reply.
pub(crate) struct ReverseEngine;

impl ChatEngine for ReverseEngine {
    fn models(&self) -> Vec<Hash> {
        vec![MODEL]
    }
    fn prompt_tokens(&self, _: &Hash, prompt: &Prompt) -> mycel_node::Result<(u64, u64)> {
        Ok((last(prompt).len() as u64, 64))
    }
    fn generate(
        &self,
        _: &Hash,
        req: &ChatRequest,
        max_tokens: u64,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> mycel_node::Result<Generated> {
        let last = last(&req.prompt);
        let mut completion = 0;
        for c in last.chars().rev() {
            if completion == max_tokens {
                break;
            }
            completion += 1;
            if !on_text(&c.to_string()) {
                break;
            }
        }
        Ok(Generated {
            usage: Usage {
                prompt_tokens: last.len() as u64,
                completion_tokens: completion,
            },
            finish: Some(Finish::Stop),
        })
    }
}

fn last(p: &Prompt) -> String {
    match p {
        Prompt::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        Prompt::Text(t) => t.clone(),
    }
}

/// Test double: offers generation and is never given a batch job.
pub(crate) struct GenRunner;

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
        duration_blocks: 15,
    }));
    let r = send_tx(&client, &client_key, open).await;
    assert!(r.success, "{}", r.error);

    let req = |text: &str, stream: bool| {
        let mut r = ChatRequest::chat(
            vec![ChatMessage {
                role: "user".into(),
                content: text.into(),
            }],
            16,
        );
        r.model = "reverse".into();
        r.stream = stream;
        r
    };
    let (a, ra) = send_chat(
        &worker_url,
        &worker_addr,
        0,
        0,
        &client_key,
        &req("hello", false),
    )
    .await
    .unwrap();
    assert_eq!(a, "olleh");
    let (b, rb) = send_chat(
        &worker_url,
        &worker_addr,
        0,
        1,
        &client_key,
        &req("stream me", true),
    )
    .await
    .unwrap();
    assert_eq!(b, "em maerts");
    // Replaying seq 1 and a stranger's request are refused.
    assert!(
        matches!(send_chat(&worker_url, &worker_addr, 0, 1, &client_key, &req("again", false)).await, Err(mycel_node::Error::Api { ref code, .. }) if code == "conflict")
    );
    assert!(
        matches!(send_chat(&worker_url, &worker_addr, 0, 2, &stranger, &req("mine?", false)).await, Err(mycel_node::Error::Api { ref code, .. }) if code == "unauthorized")
    );
    let (_, rc) = send_chat(
        &worker_url,
        &worker_addr,
        0,
        2,
        &client_key,
        &req("three", false),
    )
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

    // After expiry (and the worker's grace to settle) the client closes and gets the unspent
    // deposit back.
    let start = std::time::Instant::now();
    loop {
        let st = client.status().await.unwrap();
        if st.height >= session.expires + market::SETTLE_GRACE {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120));
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
    assert_supply_consistent(&client).await;
    // The dashboard is served at the root.
    let page = reqwest::get(format!("{}/", client.base())).await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("Earnings debugger"));
}
