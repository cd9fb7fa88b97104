//! `mycel bench gateway`: what the OpenAI-compatible gateway adds over calling a worker's
//! session server directly, at many concurrent streams, measured in the same run.
//!
//! A real `mycel devnet` (its gateway on, its own worker off) and, in this process, a session
//! server under the devnet's `dev1` key with an engine that answers at once (so the figure is
//! the protocol's, not generation's) registered as a worker. The direct client does what the
//! gateway does for each request — a session from a pool of the same size, a signed request, the
//! streamed answer read to its end and its receipt checked — so the difference is the gateway's
//! own cost: API key, routing, one more HTTP hop, relaying and checking the stream, logging the
//! receipt. With the pinned models present, the same pair runs on the devnet's real worker at a
//! low concurrency (one CPU engine serves one request at a time).

use crate::{free_port, percentile, run_many, tempdir};
use commonware_cryptography::Signer as _;
use mycel_ledger::{
    Message,
    modules::market::{self, SessionMsg},
};
use mycel_node::{
    Error, Home, Result,
    client::{Client, SendOptions},
    error::io,
    http::openai::{ChatMessage, ChatRequest},
    keystore::Keystore,
    roles::worker::{
        JobOutput, JobRunner, Worker, WorkerConfig,
        sessions::{InstantEngine, SessionServer},
    },
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, codec::Encode};
use mycel_verify::{SignedReceipt, sign_request};
use std::{
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

/// Options of `mycel bench gateway`.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayBenchArgs {
    /// Concurrent streams.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Requests per path (after a warm-up of one per session).
    #[arg(long, default_value_t = 2_560)]
    pub requests: usize,
    /// Sessions per worker, the same for both paths.
    #[arg(long, default_value_t = 16)]
    pub sessions: usize,
    /// Requests on the real model per path (0 to skip; needs the pinned models).
    #[arg(long, default_value_t = 16)]
    pub real_requests: usize,
}

const REPLY: &str = "the quick brown fox jumps over the lazy dog again and again until it stops";

/// Offers generation of one model; runs no batch jobs.
struct Offers(Hash);

impl JobRunner for Offers {
    fn kinds(&self) -> Vec<mycel_ledger::modules::market::JobKind> {
        vec![mycel_ledger::modules::market::JobKind::Generate]
    }
    fn models(&self) -> Vec<Hash> {
        vec![self.0]
    }
    fn run(&self, _: &mycel_ledger::modules::market::Job, _: &[u8]) -> Result<JobOutput> {
        Err(Error::Invalid {
            what: "bench worker".into(),
            why: "runs no batch jobs".into(),
        })
    }
}

/// A direct client's pool of sessions with one worker (each entry its session and next seq),
/// with a first-come line for them, as the gateway's.
struct DirectPool {
    sessions: Vec<Arc<tokio::sync::Mutex<(u64, u64)>>>,
    line: Arc<tokio::sync::Semaphore>,
}

/// One streamed request straight to the worker: signed, read to the end, receipt checked.
async fn direct_once(
    http: &reqwest::Client,
    url: &str,
    worker: &Address,
    key: &PrivateKey,
    pool: &DirectPool,
    body: &[u8],
) -> Result<f64> {
    let t = Instant::now();
    let _place = pool
        .line
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| invalid(&e.to_string()))?;
    let mut s = pool
        .sessions
        .iter()
        .find_map(|s| s.clone().try_lock_owned().ok())
        .ok_or_else(|| invalid("no idle session while holding a place"))?;
    let (session, seq) = *s;
    let sig = sign_request(key, session, seq, body);
    let unreachable = |e: reqwest::Error| Error::Unreachable {
        url: url.to_string(),
        why: e.to_string(),
    };
    let text = http
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-mycel-session", session.to_string())
        .header("x-mycel-seq", seq.to_string())
        .header("x-mycel-client-key", hex::encode(key.public_key().as_ref()))
        .header("x-mycel-signature", hex::encode(sig.encode()))
        .body(body.to_vec())
        .send()
        .await
        .map_err(unreachable)?
        .text()
        .await
        .map_err(unreachable)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let receipt = receipt_of(&text)?;
    if receipt.signer() != Some(*worker) || !receipt.verify() || receipt.receipt.seq != seq {
        return Err(invalid("the worker's receipt does not check"));
    }
    s.1 += 1;
    Ok(ms)
}

fn invalid(why: &str) -> Error {
    Error::Invalid {
        what: "gateway bench".into(),
        why: why.into(),
    }
}

/// The receipt in the last chunk of a stream.
fn receipt_of(sse: &str) -> Result<SignedReceipt> {
    sse.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(|v| !v["mycel_receipt"].is_null())
        .and_then(|v| serde_json::from_value(v["mycel_receipt"].clone()).ok())
        .ok_or_else(|| invalid(&format!("no receipt in the stream: {sse:.200}")))
}

/// One streamed request through the gateway.
async fn gateway_once(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    body: &str,
) -> Result<f64> {
    let t = Instant::now();
    let r = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(api_key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| Error::Unreachable {
            url: base.into(),
            why: e.to_string(),
        })?;
    let status = r.status();
    let text = r.text().await.map_err(|e| Error::Unreachable {
        url: base.into(),
        why: e.to_string(),
    })?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if !status.is_success() {
        return Err(invalid(&format!("gateway answered {status}: {text:.300}")));
    }
    receipt_of(&text)?;
    Ok(ms)
}

fn row(name: &str, v: &[f64], wall: f64) {
    println!(
        "{name:<44} {:>9.2} {:>9.2} {:>9.2} {:>10.0}",
        percentile(v, 0.5),
        percentile(v, 0.99),
        v.iter().sum::<f64>() / v.len() as f64,
        v.len() as f64 / wall
    );
}

/// Opens `n` sessions for `key` with `worker` for `model` in one transaction; their IDs.
async fn open_sessions(
    c: &Client,
    key: &PrivateKey,
    worker: Address,
    model: Hash,
    n: usize,
) -> Result<Vec<u64>> {
    let msgs = (0..n)
        .map(|_| {
            Message::Market(market::Msg::Session(SessionMsg::Open {
                worker,
                model,
                deposit: Amount::from_myc(10),
                duration_blocks: 100_000,
            }))
        })
        .collect();
    let sent = c.send_all(key, msgs, &SendOptions::default()).await?;
    Ok(sent
        .receipt
        .events
        .iter()
        .filter(|e| e.kind == market::events::SESSION_OPENED)
        .filter_map(|e| {
            e.attrs
                .iter()
                .find(|(k, _)| k == mycel_ledger::events::attr::SESSION)
                .and_then(|(_, v)| v.parse().ok())
        })
        .collect())
}

/// The pair of figures (direct, gateway) for one worker.
#[allow(clippy::too_many_arguments)]
async fn pair(
    c: &Client,
    base: &str,
    api_key: &str,
    client_key: &PrivateKey,
    worker: Address,
    worker_url: &str,
    model: Hash,
    body: &ChatRequest,
    (n, conc, sessions): (usize, usize, usize),
) -> Result<((Vec<f64>, f64), (Vec<f64>, f64))> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .map_err(|e| invalid(&e.to_string()))?;
    let ids = open_sessions(c, client_key, worker, model, sessions).await?;
    let pool = Arc::new(DirectPool {
        sessions: ids
            .iter()
            .map(|id| Arc::new(tokio::sync::Mutex::new((*id, 0))))
            .collect(),
        line: Arc::new(tokio::sync::Semaphore::new(ids.len())),
    });
    let direct_body = serde_json::to_vec(&body.openai_body()).expect("serializes");
    let mut gw = body.clone();
    gw.model = model.to_hex();
    let gw_body = serde_json::to_string(&gw.openai_body()).expect("serializes");
    // Warm-up: one request per session on both paths (the gateway opens its sessions here).
    run_many(sessions, sessions, || {
        direct_once(&http, worker_url, &worker, client_key, &pool, &direct_body)
    })
    .await?;
    run_many(sessions, sessions, || {
        gateway_once(&http, base, api_key, &gw_body)
    })
    .await?;
    let t = Instant::now();
    let direct = run_many(n, conc, || {
        direct_once(&http, worker_url, &worker, client_key, &pool, &direct_body)
    })
    .await?;
    let direct_wall = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let via = run_many(n, conc, || gateway_once(&http, base, api_key, &gw_body)).await?;
    Ok(((direct, direct_wall), (via, t.elapsed().as_secs_f64())))
}

/// Gateway overhead at `concurrency` streams on an instant engine, and on the real model.
pub fn gateway(args: &GatewayBenchArgs) -> Result<()> {
    let home = tempdir()?;
    let (api, p2p) = (free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(io(std::path::Path::new("current exe")))?;
    let models = mycel_ml::registry::ModelStore::from_env();
    let real = args.real_requests > 0
        && models.is_present(&mycel_ml::registry::SMOLLM2)
        && models.is_present(&mycel_ml::registry::MINILM);
    let mut cmd = Command::new(exe);
    cmd.args(["--home", home.to_str().unwrap_or("."), "devnet"])
        .args(["--api.addr", &format!("127.0.0.1:{api}")])
        .args(["--p2p.addr", &format!("127.0.0.1:{p2p}")])
        .env("MYCEL_MODELS", models.root())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if real {
        cmd.args(["--worker.listen", &format!("127.0.0.1:{}", free_port()?)]);
    } else {
        cmd.arg("--no-worker");
    }
    let mut child = cmd
        .spawn()
        .map_err(io(std::path::Path::new("mycel devnet")))?;
    let result = (|| -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io(std::path::Path::new("tokio")))?;
        rt.block_on(async {
            let base = format!("http://127.0.0.1:{api}");
            let c = Client::new(&base);
            let start = Instant::now();
            let api_key = loop {
                let path = Home(home.clone()).gateway_dir().join("devnet-api-key");
                match (std::fs::read_to_string(&path), c.status().await) {
                    (Ok(k), Ok(_)) => break k.trim().to_string(),
                    _ if start.elapsed() < Duration::from_secs(120) => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    _ => return Err(invalid("the devnet did not start")),
                }
            };
            let keys = Keystore::new(Home(home.clone()).keys_dir());
            let client_key = keys.load("dev0")?.private_key()?;
            let worker_key = keys.load("dev1")?.private_key()?;
            let worker = keys.load("dev1")?.address;
            // The instant worker, in this process.
            let model = Hash([0x42; 32]);
            let server = SessionServer::open(
                InstantEngine {
                    model,
                    reply: REPLY.into(),
                    pause: Duration::ZERO,
                },
                worker_key.clone(),
                c.clone(),
                home.join("bench-worker"),
            )?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(io(std::path::Path::new("127.0.0.1:0")))?;
            let url = format!(
                "http://{}",
                listener
                    .local_addr()
                    .map_err(io(std::path::Path::new("127.0.0.1:0")))?
            );
            let app = server.router();
            tokio::spawn(async move { mycel_node::http::serve(listener, app).await });
            Worker::new(
                c.clone(),
                worker_key,
                Offers(model),
                WorkerConfig {
                    endpoint: url.clone(),
                    licenses: "*".into(),
                    ..Default::default()
                },
            )
            .register()
            .await?;
            let mut req = ChatRequest::chat(
                vec![ChatMessage {
                    role: "user".into(),
                    content: "Say something.".into(),
                }],
                16,
            );
            req.stream = true;
            req.model = model.to_hex();
            println!(
                "gateway overhead: {} streamed chat requests per path, {} in flight, {} sessions each; client, gateway and worker on this machine",
                args.requests, args.concurrency, args.sessions
            );
            println!(
                "{:<44} {:>9} {:>9} {:>9} {:>10}",
                "path (latency ms, request to last byte)", "p50", "p99", "mean", "req/s"
            );
            let ((direct, dw), (via, vw)) = pair(
                &c,
                &base,
                &api_key,
                &client_key,
                worker,
                &url,
                model,
                &req,
                (args.requests, args.concurrency, args.sessions),
            )
            .await?;
            row("instant engine, direct to the worker", &direct, dw);
            row("instant engine, through the gateway", &via, vw);
            println!(
                "{:<44} {:>9.2} {:>9.2}   (target: p50 <= 2 ms)",
                "gateway overhead",
                percentile(&via, 0.5) - percentile(&direct, 0.5),
                percentile(&via, 0.99) - percentile(&direct, 0.99)
            );
            if real {
                let gen_worker = keys.load("worker")?.address;
                let start = Instant::now();
                let offer: market::Offer = loop {
                    match c.get(&format!("/api/v1/workers/{gen_worker}/offer")).await {
                        Ok(o) => break o,
                        Err(_) if start.elapsed() < Duration::from_secs(180) => {
                            tokio::time::sleep(Duration::from_millis(300)).await
                        }
                        Err(e) => return Err(e),
                    }
                };
                let gen_url = if offer.endpoint.starts_with("http") {
                    offer.endpoint.clone()
                } else {
                    format!("http://{}", offer.endpoint)
                };
                let gen_model = offer.models[0];
                let mut req = req.clone();
                req.max_tokens = Some(16);
                req.model = gen_model.to_hex();
                let conc = 2;
                let ((direct, dw), (via, vw)) = pair(
                    &c,
                    &base,
                    &api_key,
                    &client_key,
                    gen_worker,
                    &gen_url,
                    gen_model,
                    &req,
                    (args.real_requests, conc, conc),
                )
                .await?;
                println!(
                    "SmolLM2-135M Q4_1, 16 tokens, {} requests per path, {conc} in flight (the worker's one engine serves them in turn)",
                    args.real_requests
                );
                row("real model, direct to the worker", &direct, dw);
                row("real model, through the gateway", &via, vw);
                println!(
                    "{:<44} {:>9.2} {:>9.2}",
                    "gateway overhead",
                    percentile(&via, 0.5) - percentile(&direct, 0.5),
                    percentile(&via, 0.99) - percentile(&direct, 0.99)
                );
            } else {
                println!("real model: skipped (pinned models absent, or --real-requests 0)");
            }
            Ok(())
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    result
}
