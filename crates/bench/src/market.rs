//! `mycel bench market`: the ledger cost of a batch job and job-lifecycle throughput, and the
//! latency a session adds to a chat request through a real devnet worker.

use crate::{free_port, percentile, tempdir};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message, Tx, TxBody,
    execute::{BlockEnv, execute_block},
    genesis::{Genesis, dev_key},
};
use mycel_node::{Error, Home, Result, client::Client, error::io};
use mycel_primitives::{Address, Amount, PrivateKey};
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Options of `mycel bench market`.
#[derive(Debug, Clone, clap::Args)]
pub struct MarketBenchArgs {
    /// Jobs to run through their whole lifecycle.
    #[arg(long, default_value_t = 2_000)]
    pub jobs: usize,
    /// Interactive requests timed through a devnet worker's session server against the same
    /// generation run directly (0 to skip; needs the pinned models).
    #[arg(long, default_value_t = 30)]
    pub interactive_samples: usize,
    /// Tokens generated per interactive request.
    #[arg(long, default_value_t = 4)]
    pub interactive_tokens: usize,
}

/// Ledger cost of a batch job (transactions, bytes on chain, state written) and the ledger's
/// job-lifecycle throughput, measured by executing real blocks.
pub fn market(args: &MarketBenchArgs) -> Result<()> {
    use mycel_ledger::modules::{
        market::{self, JobKind, Offer},
        staking::Role,
    };
    use mycel_primitives::codec::EncodeSize;
    use mycel_store::MemState;

    let posters: Vec<PrivateKey> = (0..100).map(|i| dev_key("poster", i)).collect();
    let workers: Vec<PrivateKey> = (0..10).map(|i| dev_key("worker", i)).collect();
    let all: Vec<_> = posters
        .iter()
        .chain(&workers)
        .map(|k| k.public_key())
        .collect();
    let mut genesis = Genesis::build(
        "bench",
        &[dev_key("validator", 0).public_key()],
        &all,
        Amount::from_myc(1_000_000),
    );
    genesis.params.market.challenge_window = 2;
    let out = mycel_ledger::execute::execute_genesis(&genesis)?;
    let mut state = MemState::default();
    state.apply(&out.writes);
    let mut height = 0u64;
    let mut nonces = std::collections::BTreeMap::<Address, u64>::new();
    let model = mycel_primitives::Hash([7; 32]);
    let mut sign = |k: &PrivateKey, msg: Message| {
        let a = Address::from_public_key(&k.public_key());
        let n = nonces.entry(a).or_insert(0);
        let tx = TxBody {
            chain_id: "bench".into(),
            sender: k.public_key(),
            nonce: *n,
            fee: Amount::from_myc(1),
            messages: vec![msg],
            memo: String::new(),
        }
        .sign(k);
        *n += 1;
        tx
    };
    let mut run = |state: &mut MemState, txs: &[Tx]| -> Result<(usize, Duration)> {
        height += 1;
        let env = BlockEnv {
            height,
            proposer: Address::default(),
            parent: mycel_primitives::Hash([height as u8; 32]),
            time_ms: height * 100,
            certified: None,
            equivocations: Vec::new(),
        };
        let t = Instant::now();
        let out = execute_block(state, &env, txs)?;
        let el = t.elapsed();
        let bytes = out
            .writes
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()))
            .sum();
        if let Some(r) = out.receipts.iter().find(|r| !r.success) {
            return Err(Error::Api {
                code: r.code.clone(),
                message: r.error.clone(),
            });
        }
        state.apply(&out.writes);
        Ok((bytes, el))
    };
    let mut setup = Vec::new();
    for w in &workers {
        setup.push(sign(
            w,
            Message::Staking(mycel_ledger::modules::staking::Msg::Bond {
                role: Role::Worker,
                amount: Amount::from_myc(1_000),
            }),
        ));
    }
    run(&mut state, &setup)?;
    let offers: Vec<Tx> = workers
        .iter()
        .map(|w| {
            sign(
                w,
                Message::Market(market::Msg::Offer(Box::new(Offer {
                    kinds: 0b1111,
                    models: vec![model],
                    hardware: "cpu".into(),
                    price_per_unit: Amount(1_000),
                    endpoint: "127.0.0.1:1".into(),
                    licenses: "*".into(),
                }))),
            )
        })
        .collect();
    run(&mut state, &offers)?;

    let posts: Vec<Tx> = (0..args.jobs)
        .map(|i| {
            sign(
                &posters[i % posters.len()],
                Message::Market(market::Msg::PostJob {
                    kind: JobKind::Embed,
                    model,
                    input: mycel_primitives::Hash([(i % 251) as u8; 32]),
                    params: br#"{"batch":32}"#.to_vec(),
                    max_fee: Amount::from_myc(1),
                    deadline_blocks: 100,
                }),
            )
        })
        .collect();
    let post_bytes: usize = posts.iter().map(|t| t.encode_size()).sum();
    // A fresh chain numbers its jobs from 0.
    let first_job = 0u64;
    let (post_state, post_time) = run(&mut state, &posts)?;
    let worker_of = |id: u64, state: &MemState| -> Result<Address> {
        Ok(market::job(state, id)?
            .map(|j| j.worker)
            .unwrap_or_default())
    };
    let mut commits = Vec::new();
    for i in 0..args.jobs as u64 {
        let w = worker_of(first_job + i, &state)?;
        let key = workers
            .iter()
            .find(|k| Address::from_public_key(&k.public_key()) == w)
            .expect("assigned to a bench worker");
        commits.push(sign(
            key,
            Message::Market(market::Msg::CommitResult {
                job: first_job + i,
                output: mycel_primitives::Hash([1; 32]),
                units: 100,
                trace_root: mycel_primitives::Hash([2; 32]),
                trace_len: 1,
            }),
        ));
    }
    let commit_bytes: usize = commits.iter().map(|t| t.encode_size()).sum();
    let (commit_state, commit_time) = run(&mut state, &commits)?;
    let (_, _) = run(&mut state, &[])?;
    let (settle_state, settle_time) = run(&mut state, &[])?;
    let settled = (0..args.jobs as u64).filter(|i| matches!(market::job(&state, first_job + i), Ok(Some(j)) if j.status == market::JobStatus::Settled)).count();
    let n = args.jobs as f64;
    let total = post_time + commit_time + settle_time;
    println!(
        "mycel bench market: {} batch jobs through post → assign → commit → settle, {} workers",
        args.jobs,
        workers.len()
    );
    println!();
    println!("{:<58} {:>12}", "figure", "value");
    println!(
        "{:<58} {:>12}",
        "transactions per job (post + commit; settlement is automatic)", 2
    );
    println!(
        "{:<58} {:>12.0}",
        "bytes on chain per job (both signed transactions)",
        (post_bytes + commit_bytes) as f64 / n
    );
    println!(
        "{:<58} {:>12.0}",
        "  of which PostJob tx",
        post_bytes as f64 / n
    );
    println!(
        "{:<58} {:>12.0}",
        "  of which CommitResult tx",
        commit_bytes as f64 / n
    );
    println!(
        "{:<58} {:>12.0}",
        "state bytes written per job (post + commit + settle)",
        (post_state + commit_state + settle_state) as f64 / n
    );
    println!(
        "{:<58} {:>12.0}",
        "job lifecycles executed per second (ledger only)",
        n / total.as_secs_f64()
    );
    println!("{:<58} {:>12}", "jobs settled", settled);
    println!(
        "{:<58} {:>12}",
        "design budget per on-chain event (DESIGN.md)", "100-300 B"
    );
    if args.interactive_samples > 0 {
        println!();
        interactive(args.interactive_samples, args.interactive_tokens)?;
    }
    Ok(())
}

/// The latency a session adds to a chat request: the same greedy generation run in this process
/// (what `mycel run generate` does) and sent through a real `mycel devnet` worker (client
/// signature, HTTP, session lookup on the node, generation, signed and fsynced receipt), paired
/// and interleaved so that both see the same machine load.
fn interactive(samples: usize, tokens: usize) -> Result<()> {
    use mycel_node::{
        client::send_chat_with,
        roles::worker::{
            runners::MlRunner,
            sessions::{ChatEngine, ChatMessage, ChatRequest, InstantEngine, SessionServer},
        },
    };

    use mycel_ledger::modules::market::Offer;
    use mycel_ml::registry::{MINILM, ModelStore, SMOLLM2};

    let models = ModelStore::from_env();
    if !(models.is_present(&SMOLLM2) && models.is_present(&MINILM)) {
        println!("interactive latency: skipped (pinned models absent; run `mycel models fetch`)");
        return Ok(());
    }
    let home = tempdir()?;
    let (api, p2p, listen) = (free_port()?, free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(io(std::path::Path::new("current exe")))?;
    let mut child = Command::new(exe)
        .args(["--home", home.to_str().unwrap_or("."), "devnet"])
        .args(["--api.addr", &format!("127.0.0.1:{api}")])
        .args(["--p2p.addr", &format!("127.0.0.1:{p2p}")])
        .args(["--worker.listen", &format!("127.0.0.1:{listen}")])
        .env("MYCEL_MODELS", models.root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io(std::path::Path::new("mycel devnet")))?;
    let result = (|| -> Result<()> {
        let runner = MlRunner::load(models.clone(), 1, SMOLLM2.name, MINILM.name)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(io(std::path::Path::new("tokio")))?;
        rt.block_on(async {
            let c = Client::new(&format!("http://127.0.0.1:{api}"));
            let keys = mycel_node::keystore::Keystore::new(Home(home.clone()).keys_dir());
            let worker = keys.load("worker")?.address;
            let start = Instant::now();
            let offer: Offer = loop {
                match c.get(&format!("/api/v1/workers/{worker}/offer")).await {
                    Ok(o) => break o,
                    Err(_) if start.elapsed() < Duration::from_secs(120) => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    Err(e) => return Err(e),
                }
            };
            let client_key = keys.load("dev0")?.private_key()?;
            let open_session = || async {
                mycel_node::services::sessions::open(
                    &c,
                    &client_key,
                    worker,
                    runner.generator_id(),
                    Amount::from_myc(100),
                    100_000,
                )
                .await
            };
            let session = open_session().await?;
            // A second session, served in this process by the worker's key with an engine that
            // replies at once: the protocol's own cost, without generation noise.
            let protocol_session = open_session().await?;
            let instant = SessionServer::open(
                InstantEngine {
                    model: runner.generator_id(),
                    reply: "ok".into(),
                    pause: Duration::ZERO,
                },
                keys.load("worker")?.private_key()?,
                c.clone(),
                home.join("bench-sessions"),
            )?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(io(std::path::Path::new("127.0.0.1:0")))?;
            let instant_url = format!(
                "http://{}",
                listener
                    .local_addr()
                    .map_err(io(std::path::Path::new("127.0.0.1:0")))?
            );
            let app = instant.router();
            tokio::spawn(async move { mycel_node::http::serve(listener, app).await });
            let url = format!("http://{}", offer.endpoint.trim_start_matches("http://"));
            let messages = vec![ChatMessage {
                role: "user".into(),
                content: "What is the capital of France?".into(),
            }];
            let mut req = ChatRequest::chat(messages.clone(), tokens as u64);
            req.model = runner.generator_id().to_hex();
            let http = reqwest::Client::new();
            let (mut direct, mut via, mut added, mut protocol) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            // One warm-up of each, then `samples` timed pairs.
            for i in 0..=samples {
                let t = Instant::now();
                let mut local = String::new();
                runner.generate(&runner.generator_id(), &req, tokens as u64, &mut |p| {
                    local.push_str(p);
                    true
                })?;
                let d = t.elapsed().as_secs_f64() * 1e3;
                let t = Instant::now();
                let (remote, _receipt) =
                    send_chat_with(&http, &url, &worker, session, i as u64, &client_key, &req)
                        .await?;
                let v = t.elapsed().as_secs_f64() * 1e3;
                let t = Instant::now();
                send_chat_with(
                    &http,
                    &instant_url,
                    &worker,
                    protocol_session,
                    i as u64,
                    &client_key,
                    &req,
                )
                .await?;
                let p = t.elapsed().as_secs_f64() * 1e3;
                if remote != local {
                    return Err(Error::Invalid {
                        what: "interactive bench".into(),
                        why: format!("the worker replied {remote:?}, the local run {local:?}"),
                    });
                }
                if i > 0 {
                    direct.push(d);
                    via.push(v);
                    added.push(v - d);
                    protocol.push(p);
                }
            }
            for v in [&mut direct, &mut via, &mut added, &mut protocol] {
                v.sort_by(|a, b| a.total_cmp(b));
            }
            println!(
                "interactive: SmolLM2 Q4_1, greedy, {tokens} tokens, {samples} paired requests, 1 thread each"
            );
            println!("{:<58} {:>12}", "figure", "value");
            for (name, v) in [
                ("direct local generation (mycel run generate path), ms", &direct),
                ("through the devnet worker's session server, ms", &via),
                ("added latency per request (paired difference), ms", &added),
                ("session protocol alone (instant engine), ms", &protocol),
            ] {
                println!(
                    "{:<58} {:>12}",
                    name,
                    format!("p50 {:.1} p99 {:.1}", percentile(v, 0.5), percentile(v, 0.99))
                );
            }
            println!("{:<58} {:>12}", "  target (added, p50)", "<= 5 ms");
            println!(
                "  (protocol: client signature, HTTP on 127.0.0.1, session lookup on the node, receipt signed and fsynced)"
            );
            Ok(())
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    result
}
