//! `mycel bench network`: a fixed offered load of signed transfers on a real network of
//! validator processes on loopback, beside a single validator under the same load in the same
//! run.
//!
//! Every node is a real `mycel --home DIR node` process of this binary, its home made by
//! [`init_testnet`]. For each network the run:
//! 1. waits for blocks on every node, then reads each validator's resident memory (idle);
//! 2. submits transfers at `--rate` tx/s for `--seconds` over HTTP, each sending account bound to
//!    one node (so its nonces arrive in order) and its transfers signed with the next nonce as
//!    they fall due; meanwhile it polls every node's finalized blocks and notes when each
//!    transaction's block was first seen finalized, and samples the validators' memory;
//! 3. waits for every accepted transaction to finalize, then reports submit → finality latency,
//!    the throughput finalized within the load window, offered against accepted, and the submit
//!    errors by code;
//! 4. on the multi-validator network (`--abuse`), funds an account with three fees' worth and
//!    floods the nodes with `--abuse-txs` transactions it cannot pay for, while an honest account
//!    submits one transfer: the refusals by code, and the blocks the honest transfer waited;
//! 5. checks that every node has the same block and state root at a height all have passed, and
//!    that every accepted transaction was finalized; it fails (after printing the report on
//!    stderr) if not.
//!
//! With `--faults` a third network runs the fault phase (`network_faults`): 4 genesis
//! validators and a fifth node that bonds and joins, every p2p link through a fault proxy, under
//! `--fault-rate` tx/s while validators are killed and restarted, one is partitioned and one
//! unbonds; then every height is compared on every node.

use crate::{free_port, percentile, tempdir};
use commonware_cryptography::Signer;
use mycel_ledger::{Message, Tx, TxBody, genesis::dev_key, modules::bank};
use mycel_node::{
    Error, Home, Result,
    client::Client,
    error::io,
    init::{InitOptions, init_testnet},
    keystore::Keystore,
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

#[path = "network_faults.rs"]
mod network_faults;
#[path = "network_sync.rs"]
mod network_sync;

/// The issue-15 latency targets at 1,000 tx/s: p50 and p99, milliseconds.
const TARGET_P50_MS: f64 = 100.0;
/// See [`TARGET_P50_MS`].
const TARGET_P99_MS: f64 = 250.0;
/// Resident memory targets of a validator, MB: idle and under load.
const TARGET_IDLE_MB: f64 = 200.0;
/// See [`TARGET_IDLE_MB`].
const TARGET_LOAD_MB: f64 = 500.0;
/// Every submitted transfer pays this fee (far above the minimum).
const FEE: Amount = Amount::from_myc(1);
/// How long one HTTP request may take before it counts as a `timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the block tracker's long poll of a node's status waits for a new block.
const FOLLOW_WAIT: Duration = Duration::from_secs(2);

/// Options of `mycel bench network`.
#[derive(Debug, Clone, clap::Args)]
pub struct NetworkBenchArgs {
    /// Validators of the network under test.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Offered load, transactions per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Funded sending accounts. Each submits its transfers one at a time in nonce order to one
    /// node, so the rate holds while a submission takes under `accounts / rate` seconds.
    #[arg(long, default_value_t = 256)]
    pub accounts: usize,
    /// Also run the same load against a single validator.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub single: bool,
    /// Run the load phase (the multi-validator network, and the single validator beside it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub load: bool,
    /// Blocks per epoch on the load phase's chains (the testnet default is 20: a new Simplex
    /// instance, and possibly a new validator set, every 20 blocks).
    #[arg(long, default_value_t = 20)]
    pub epoch_length: u64,
    /// Run the mempool-abuse phase on the multi-validator network.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub abuse: bool,
    /// Unpayable transactions the abuser submits.
    #[arg(long, default_value_t = 50_000)]
    pub abuse_txs: usize,
    /// Seconds to wait after the load for accepted transactions to finalize.
    #[arg(long, default_value_t = 30)]
    pub drain: u64,
    /// Also run the fault phase: 4 genesis validators and a fifth that bonds and joins, every
    /// p2p link through a proxy; validators killed and restarted, one partitioned, one unbonded,
    /// under load (see `network_faults`).
    #[arg(long)]
    pub faults: bool,
    /// Offered load of the fault phase, transactions per second.
    #[arg(long, default_value_t = 300)]
    pub fault_rate: u64,
    /// Seconds of the fault phase (its load and its faults).
    #[arg(long, default_value_t = 150)]
    pub fault_seconds: u64,
    /// Blocks per epoch on the fault phase's chain.
    #[arg(long, default_value_t = 20)]
    pub fault_epoch_length: u64,
    /// In the fault phase, a validator is killed (SIGKILL) this often, seconds.
    #[arg(long, default_value_t = 30)]
    pub kill_every: u64,
    /// Seconds a killed validator stays down before it is restarted.
    #[arg(long, default_value_t = 5)]
    pub down_seconds: u64,
    /// Seconds one validator is partitioned from every other node.
    #[arg(long, default_value_t = 60)]
    pub partition_seconds: u64,
    /// Also run the state-sync phase: a full node joins a chain of `--sync-blocks` blocks by
    /// state sync, beside one replaying from genesis (see `network_sync`).
    #[arg(long)]
    pub sync: bool,
    /// Length of the chain the sync phase's full node joins.
    #[arg(long, default_value_t = 100_000)]
    pub sync_blocks: u64,
    /// Accounts the sync phase's chain creates (its state size).
    #[arg(long, default_value_t = 100_000)]
    pub sync_accounts: usize,
    /// Blocks per epoch on the sync phase's chain.
    #[arg(long, default_value_t = 100)]
    pub sync_epoch_length: u64,
    /// Least seconds the replaying full node runs.
    #[arg(long, default_value_t = 30)]
    pub sync_replay_seconds: u64,
}

/// Submit → finality latency, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Latency {
    /// The summary of `samples` (all zero when empty).
    pub fn of(mut samples: Vec<f64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_by(f64::total_cmp);
        Latency {
            n: samples.len(),
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// One network under the offered load.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadRun {
    /// Validators.
    pub validators: usize,
    /// Transactions due in the load window (rate × seconds).
    pub offered: usize,
    /// Transactions actually submitted.
    pub sent: usize,
    /// Submitted per second over the time the submissions took.
    pub sent_per_s: f64,
    /// Admitted by the node they were submitted to.
    pub accepted: usize,
    /// Refused or failed submissions by error code.
    pub submit_errors: BTreeMap<String, usize>,
    /// Accepted and seen finalized.
    pub finalized: usize,
    /// Accepted transactions finalized within the load window, per second of it.
    pub sustained_tps: f64,
    /// Submit → first seen finalized on any node.
    pub latency: Latency,
    /// The same, of the transactions submitted to each node.
    pub latency_by_node: Vec<Latency>,
    /// Blocks finalized from the start of the load until the last accepted transaction.
    pub blocks: usize,
    /// Largest number of transactions in one of them.
    pub max_block_txs: usize,
    /// Resident memory of each validator after start, before load, MB.
    pub idle_rss_mb: Vec<f64>,
    /// Largest resident memory of each validator during the load and its drain, MB.
    pub load_rss_mb: Vec<f64>,
    /// CPU time (user + system) each validator used from the start of the load until the last
    /// accepted transaction was seen finalized, seconds.
    pub validator_cpu_s: Vec<f64>,
    /// The same for this process (the load generator, its HTTP client and the tracker).
    pub client_cpu_s: f64,
    /// Over the same span, the time the validators' threads spent runnable but waiting for a
    /// core, summed over threads (Linux `schedstat`; threads that exited meanwhile are not
    /// counted), seconds. How oversubscribed the machine was.
    pub validator_wait_s: f64,
    /// Wall-clock seconds of that span.
    pub span_s: f64,
    /// The height every node had passed when checked.
    pub common_height: u64,
    /// Every node's block hash and state root at that height agree.
    pub consistent: bool,
    /// Accepted transactions not finalized by the end (still pending or dropped).
    pub lost: usize,
    /// Of those, how many each node had accepted, and how many it still holds as pending.
    pub lost_by_node: Vec<(usize, usize)>,
    /// Time between seeing a block and the one before it finalized, ms: for an epoch's first
    /// block (a new Simplex instance starts from the last block's finalization) and for the
    /// others.
    pub interval_epoch_start: Latency,
    /// See `interval_epoch_start`.
    pub interval_within_epoch: Latency,
}

/// The mempool-abuse phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AbuseRun {
    /// Balance of the abuser, base units (three fees and three transfers of one unit).
    pub funded: u128,
    /// Transactions the abuser submitted.
    pub submitted: usize,
    /// Of which admitted.
    pub accepted: usize,
    /// Refusals by error code.
    pub refused: BTreeMap<String, usize>,
    /// Seconds the flood took.
    pub seconds: f64,
    /// Largest pool size over the nodes right after the flood.
    pub mempool_after: usize,
    /// The finalized height (highest over the nodes) when the honest transfer was submitted.
    pub honest_head: u64,
    /// The height that included it.
    pub honest_height: u64,
    /// Blocks finalized after its submission that did not include it.
    pub honest_blocks_waited: u64,
    /// Its submit → finality latency, ms.
    pub honest_latency_ms: f64,
}

/// What `mycel bench network` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NetworkReport {
    /// Offered rate, tx/s.
    pub rate: u64,
    /// Seconds of load.
    pub seconds: u64,
    /// Sending accounts.
    pub accounts: usize,
    /// The multi-validator network (`--load`).
    pub network: Option<LoadRun>,
    /// The single validator under the same load.
    pub single: Option<LoadRun>,
    /// The abuse phase on the multi-validator network.
    pub abuse: Option<AbuseRun>,
    /// The fault phase (`--faults`).
    pub faults: Option<network_faults::FaultRun>,
    /// The state-sync phase (`--sync`).
    pub sync: Option<network_sync::SyncRun>,
}

/// Runs the network benchmark; its report (an error if a network disagreed or lost a
/// transaction, after printing what was measured on stderr).
pub fn network(args: &NetworkBenchArgs) -> Result<NetworkReport> {
    if args.validators == 0 || args.accounts == 0 || args.rate == 0 || args.seconds == 0 {
        return Err(Error::Invalid {
            what: "bench network options".into(),
            why: "validators, accounts, rate and seconds must be positive".into(),
        });
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(io(Path::new("tokio")))?;
    rt.block_on(async {
        let (network, abuse) = match args.load {
            true => {
                let (n, a) = run_network(args, args.validators, args.abuse).await?;
                (Some(n), a)
            }
            false => (None, None),
        };
        let single = match args.single && args.load {
            true => Some(run_network(args, 1, false).await?.0),
            false => None,
        };
        let faults = match args.faults {
            true => Some(network_faults::run(args).await?),
            false => None,
        };
        let sync = match args.sync {
            true => Some(network_sync::run(args).await?),
            false => None,
        };
        let report = NetworkReport {
            rate: args.rate,
            seconds: args.seconds,
            accounts: args.accounts,
            network,
            single,
            abuse,
            faults,
            sync,
        };
        let mut bad: Vec<String> = report
            .network
            .iter()
            .chain(report.single.as_ref())
            .filter(|r| !r.consistent || r.lost > 0)
            .map(|r| {
                format!(
                    "{} validator(s): {} at height {}, {} accepted transactions not finalized \
                     (accepted by node i, still pending there: {:?})",
                    r.validators,
                    match r.consistent {
                        true => "nodes agree",
                        false => "nodes DISAGREE",
                    },
                    r.common_height,
                    r.lost,
                    r.lost_by_node
                )
            })
            .collect();
        if let Some(f) = &report.faults {
            bad.extend(f.problems.iter().map(|p| format!("fault phase: {p}")));
        }
        if let Some(s) = &report.sync {
            if !s.consistent {
                bad.push(format!(
                    "sync phase: the synced node disagrees with the validator at height {}",
                    s.checked_height
                ));
            }
            if s.holds_block_1 {
                bad.push("sync phase: the synced node holds block 1 (it replayed)".into());
            }
        }
        if !bad.is_empty() {
            eprint!("{report}");
            return Err(Error::Invalid {
                what: "network consistency".into(),
                why: bad.join("; "),
            });
        }
        Ok(report)
    })
}

/// Starts a network of `validators`, puts it under the load, optionally abuses its mempool,
/// and checks it.
async fn run_network(
    args: &NetworkBenchArgs,
    validators: usize,
    abuse: bool,
) -> Result<(LoadRun, Option<AbuseRun>)> {
    eprintln!("network bench: starting {validators} validator(s)");
    let mut net = Net::start(validators, args.accounts, args.epoch_length)?;
    net.wait_ready(2, Duration::from_secs(120)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_mb: Vec<f64> = net.pids().iter().map(|p| rss_mb(*p)).collect();
    let chain_id = net.clients[0].status().await?.chain_id;
    let home0 = Home(net.homes[0].clone());
    let ks = Keystore::new(home0.keys_dir());
    let keys: Vec<PrivateKey> = (0..args.accounts)
        .map(|i| ks.load(&format!("dev{i}"))?.private_key())
        .collect::<Result<_>>()?;
    eprintln!(
        "network bench: {validators} validator(s) up; {} tx/s for {} s from {} accounts",
        args.rate, args.seconds, args.accounts
    );
    let plan = Plan {
        rate: args.rate,
        seconds: args.seconds,
        drain: args.drain,
        epoch_length: args.epoch_length,
    };
    let (mut run, mut unseen) = load(&net.clients, net.pids(), &keys, &chain_id, &plan).await?;
    run.idle_rss_mb = idle_rss_mb;
    let abuse_run = match abuse {
        true => {
            let (a, extra) = abuse_phase(&net, &keys, &chain_id, args.abuse_txs).await?;
            unseen.extend(extra);
            Some(a)
        }
        false => None,
    };
    // Nothing may be lost: what the tracker did not see must be finalized now.
    let mut lost_by_node = vec![(0, 0); net.clients.len()];
    for (h, node) in &unseen {
        let status = request(net.clients[*node].tx(h)).await.map(|s| s.status);
        match status.as_deref() {
            Ok("finalized") => {}
            Ok("pending") => {
                lost_by_node[*node].0 += 1;
                lost_by_node[*node].1 += 1;
            }
            _ => lost_by_node[*node].0 += 1,
        }
    }
    run.lost = lost_by_node.iter().map(|(l, _)| l).sum();
    let lost = run.lost;
    run.lost_by_node = lost_by_node;
    let (height, consistent) = net.consistency().await?;
    run.common_height = height;
    run.consistent = consistent;
    // MYCEL_BENCH_KEEP keeps the homes (and the nodes' logs) of a passing run too.
    if consistent && lost == 0 && std::env::var_os("MYCEL_BENCH_KEEP").is_none() {
        net.keep = false;
    }
    Ok((run, abuse_run))
}

/// What the block tracker saw: when each height and each transaction was first seen finalized.
#[derive(Default)]
struct Seen {
    txs: HashMap<Hash, Instant>,
    /// Height → (first seen, transactions).
    blocks: BTreeMap<u64, (Instant, usize)>,
}

/// A block as far as the tracker reads it.
#[derive(serde::Deserialize)]
struct BlockTxs {
    hash: Hash,
    state_root: Hash,
    txs: Vec<TxHash>,
}

#[derive(serde::Deserialize)]
struct TxHash {
    hash: Hash,
}

/// The offered load: `rate` tx/s for `seconds`, then up to `drain` seconds for finality.
struct Plan {
    rate: u64,
    seconds: u64,
    drain: u64,
    /// Blocks per epoch of the chain under load (height `h` opens an epoch when
    /// `h % epoch_length == 0`).
    epoch_length: u64,
}

/// Runs the offered load on the nodes behind `clients` (whose processes are `pids`); the run's
/// figures and the accepted transactions the tracker did not see finalized, each with the node
/// it went to.
async fn load(
    clients: &[Client],
    pids: Vec<u32>,
    keys: &[PrivateKey],
    chain_id: &str,
    plan: &Plan,
) -> Result<(LoadRun, Vec<(Hash, usize)>)> {
    let mut nonces = Vec::with_capacity(keys.len());
    for (k, key) in keys.iter().enumerate() {
        let a = Address::from_public_key(&key.public_key());
        nonces.push(request(clients[k % clients.len()].account(&a)).await?.nonce);
    }
    let head = head(clients).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tracker = tokio::spawn(track(
        clients.to_vec(),
        head + 1,
        seen.clone(),
        stop.clone(),
    ));
    let sampler = tokio::spawn(sample_rss(pids.clone(), stop.clone()));

    let total = (plan.rate * plan.seconds) as usize;
    let start = Instant::now() + Duration::from_millis(100);
    let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_s(&p.to_string())).collect();
    let wait_before: Vec<_> = pids.iter().map(|p| run_delay_ns(*p)).collect();
    let client_before = cpu_s("self");
    let window_end = start + Duration::from_secs(plan.seconds);
    let give_up = window_end + Duration::from_secs(15);
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| {
            let node = k % clients.len();
            tokio::spawn(send_account(Sender {
                client: clients[node].clone(),
                key: key.clone(),
                chain_id: chain_id.to_string(),
                nonce: nonces[k],
                first: k,
                step: keys.len(),
                total,
                rate: plan.rate as f64,
                start,
                give_up,
            }))
        })
        .collect();
    let mut sent = 0;
    let mut accepted: Vec<(Hash, Instant, usize)> = Vec::new();
    let mut submit_errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_send = start;
    for (k, t) in tasks.into_iter().enumerate() {
        let out = t.await.map_err(|e| Error::Invalid {
            what: "load task".into(),
            why: e.to_string(),
        })?;
        sent += out.sent;
        last_send = last_send.max(out.last_send);
        accepted.extend(
            out.accepted
                .into_iter()
                .map(|(h, t)| (h, t, k % clients.len())),
        );
        for c in out.errors {
            *submit_errors.entry(c).or_default() += 1;
        }
    }
    eprintln!(
        "network bench: sent {sent}, accepted {}; waiting for finality",
        accepted.len()
    );
    let drain_end = Instant::now() + Duration::from_secs(plan.drain);
    loop {
        let missing = {
            let s = seen.lock().unwrap_or_else(PoisonError::into_inner);
            accepted
                .iter()
                .filter(|(h, _, _)| !s.txs.contains_key(h))
                .count()
        };
        if missing == 0 || Instant::now() > drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let span_s = start.elapsed().as_secs_f64();
    let validator_cpu_s = pids
        .iter()
        .zip(&cpu_before)
        .map(|(p, b)| cpu_s(&p.to_string()) - b)
        .collect();
    let client_cpu_s = cpu_s("self") - client_before;
    let validator_wait_s = pids
        .iter()
        .zip(&wait_before)
        .map(|(p, before)| {
            run_delay_ns(*p)
                .into_iter()
                .map(|(tid, ns)| ns.saturating_sub(before.get(&tid).copied().unwrap_or(0)))
                .sum::<u64>()
        })
        .sum::<u64>() as f64
        / 1e9;
    stop.store(true, Ordering::Relaxed);
    let _ = tracker.await;
    let load_rss_mb = sampler.await.unwrap_or_else(|_| vec![0.0; pids.len()]);

    let s = seen.lock().unwrap_or_else(PoisonError::into_inner);
    let mut lat = Vec::with_capacity(accepted.len());
    let mut by_node = vec![Vec::new(); clients.len()];
    let mut in_window = 0;
    let mut last_final = start;
    for (h, t0, node) in &accepted {
        if let Some(t) = s.txs.get(h) {
            let ms = t.saturating_duration_since(*t0).as_secs_f64() * 1e3;
            lat.push(ms);
            by_node[*node].push(ms);
            if *t <= window_end {
                in_window += 1;
            }
            last_final = last_final.max(*t);
        }
    }
    let blocks: Vec<usize> = s
        .blocks
        .values()
        .filter(|(t, _)| *t <= last_final)
        .map(|(_, n)| *n)
        .collect();
    let (mut at_start, mut within) = (Vec::new(), Vec::new());
    for ((_, (before, _)), (h, (t, _))) in s.blocks.iter().zip(s.blocks.iter().skip(1)) {
        if *t > last_final {
            break;
        }
        let ms = t.saturating_duration_since(*before).as_secs_f64() * 1e3;
        if h % plan.epoch_length.max(1) == 0 {
            at_start.push(ms);
        } else {
            within.push(ms);
        }
    }
    let run = LoadRun {
        validators: clients.len(),
        offered: total,
        sent,
        sent_per_s: sent as f64 / last_send.duration_since(start).as_secs_f64().max(1e-3),
        accepted: accepted.len(),
        submit_errors,
        finalized: lat.len(),
        sustained_tps: in_window as f64 / plan.seconds as f64,
        latency: Latency::of(lat),
        latency_by_node: by_node.into_iter().map(Latency::of).collect(),
        blocks: blocks.len(),
        max_block_txs: blocks.iter().copied().max().unwrap_or(0),
        idle_rss_mb: Vec::new(),
        load_rss_mb,
        validator_cpu_s,
        client_cpu_s,
        validator_wait_s,
        span_s,
        common_height: 0,
        consistent: false,
        lost: 0,
        lost_by_node: Vec::new(),
        interval_epoch_start: Latency::of(at_start),
        interval_within_epoch: Latency::of(within),
    };
    let unseen = accepted
        .into_iter()
        .filter(|(h, _, _)| !s.txs.contains_key(h))
        .map(|(h, _, n)| (h, n))
        .collect();
    Ok((run, unseen))
}

/// One sending account's share of the load: transaction `first + j·step` of the schedule falls
/// due `index / rate` seconds after `start`.
struct Sender {
    client: Client,
    key: PrivateKey,
    chain_id: String,
    nonce: u64,
    first: usize,
    step: usize,
    total: usize,
    rate: f64,
    start: Instant,
    give_up: Instant,
}

/// What one sending account did.
struct Sent {
    sent: usize,
    accepted: Vec<(Hash, Instant)>,
    errors: Vec<String>,
    last_send: Instant,
}

async fn send_account(s: Sender) -> Sent {
    let mut out = Sent {
        sent: 0,
        accepted: Vec::new(),
        errors: Vec::new(),
        last_send: s.start,
    };
    let mut nonce = s.nonce;
    let to = Address([(s.first % 251) as u8; 20]);
    let mut i = s.first;
    while i < s.total {
        let due = s.start + Duration::from_secs_f64(i as f64 / s.rate);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        if Instant::now() > s.give_up {
            break;
        }
        let tx = transfer(&s.key, &s.chain_id, nonce, to, 1, FEE);
        let t0 = Instant::now();
        out.sent += 1;
        out.last_send = t0;
        match request(s.client.submit(&tx)).await {
            Ok(h) => {
                out.accepted.push((h, t0));
                nonce += 1;
            }
            Err(e) => {
                let code = error_code(&e);
                // A request that timed out, or whose node died before answering, may still have
                // been admitted; a resubmission of it then comes back as a duplicate or, once
                // it is finalized, as a stale nonce.
                let unsure = !matches!(&e, Error::Api { code, .. }
                    if !matches!(code.as_str(), "timeout" | "duplicate_tx" | "nonce_too_low"));
                let admitted = unsure && request(s.client.tx(&tx.hash())).await.is_ok();
                if admitted {
                    out.accepted.push((tx.hash(), t0));
                    nonce += 1;
                } else {
                    out.errors.push(code);
                }
            }
        }
        i += s.step;
    }
    out
}

/// Follows every node's finalized height; fetches each newly finalized block once (from the
/// node that reported it first) and notes when its transactions were first seen finalized.
///
/// Each node is followed by a long poll (`GET /api/v1/status?after=H`), which the node answers
/// as soon as it commits a block above `H`: a block is seen one local round trip after its
/// commit on the first node, rather than up to a polling period later, and the validators
/// serve one waiting request each instead of a hundred status reads a second.
async fn track(clients: Vec<Client>, mut next: u64, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    let (report, mut reports) = tokio::sync::mpsc::unbounded_channel::<(usize, u64, Instant)>();
    let followers: Vec<_> = clients
        .iter()
        .cloned()
        .enumerate()
        .map(|(node, c)| {
            let report = report.clone();
            let mut after = next.saturating_sub(1);
            tokio::spawn(async move {
                loop {
                    match request(c.status_after(after, FOLLOW_WAIT)).await {
                        Ok(s) if s.height > after => {
                            after = s.height;
                            if report.send((node, s.height, Instant::now())).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        // Down (the fault runs kill nodes): ask again shortly.
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();
    drop(report);
    let mut detected: BTreeMap<u64, Instant> = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some((node, height, at))) =
            tokio::time::timeout(Duration::from_millis(100), reports.recv()).await
        else {
            continue;
        };
        for h in next..=height {
            detected.entry(h).or_insert(at);
        }
        while next <= height {
            let path = format!("/api/v1/blocks/{next}");
            let Ok(b) = request(clients[node].get::<BlockTxs>(&path)).await else {
                break;
            };
            let at = detected.remove(&next).unwrap_or(at);
            let mut s = seen.lock().unwrap_or_else(PoisonError::into_inner);
            for t in &b.txs {
                s.txs.entry(t.hash).or_insert(at);
            }
            s.blocks.insert(next, (at, b.txs.len()));
            next += 1;
        }
    }
    for f in followers {
        f.abort();
    }
}

/// Each pid's largest resident memory (MB) sampled every 250 ms until `stop`.
async fn sample_rss(pids: Vec<u32>, stop: Arc<AtomicBool>) -> Vec<f64> {
    let mut max = vec![0f64; pids.len()];
    loop {
        for (m, p) in max.iter_mut().zip(&pids) {
            *m = m.max(rss_mb(*p));
        }
        if stop.load(Ordering::Relaxed) {
            return max;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The mempool-abuse phase; its figures and the hashes it got admitted (with their node).
async fn abuse_phase(
    net: &Net,
    keys: &[PrivateKey],
    chain_id: &str,
    n: usize,
) -> Result<(AbuseRun, Vec<(Hash, usize)>)> {
    let c0 = &net.clients[0];
    let mut admitted = Vec::new();
    let funder = &keys[0];
    let abuser = dev_key("bench-network-abuser", rand::random::<u32>() as usize);
    let abuser_addr = Address::from_public_key(&abuser.public_key());
    let funded = 3 * (FEE.0 + 1);
    let nonce = request(c0.account(&Address::from_public_key(&funder.public_key())))
        .await?
        .nonce;
    let fund = transfer(funder, chain_id, nonce, abuser_addr, funded, FEE);
    let h = request(c0.submit(&fund)).await?;
    admitted.push((h, 0));
    let st = c0.wait(&h, Duration::from_secs(60)).await?;
    if st.status != "finalized" {
        return Err(Error::NotFinalized { hash: h, secs: 60 });
    }
    // The honest sender: another funded account, with its nonce read now.
    let honest_key = &keys[keys.len().min(2) - 1];
    let honest_node = 1 % net.clients.len();
    let honest_nonce = request(
        net.clients[honest_node].account(&Address::from_public_key(&honest_key.public_key())),
    )
    .await?
    .nonce;
    eprintln!("network bench: abuser funded with {funded} base units; signing {n} transactions");
    let (ab, cid) = (abuser.clone(), chain_id.to_string());
    let spam: Vec<Tx> = tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|i| {
                // Three it can pay for, then ones it cannot: the next nonce with ever larger
                // amounts (insufficient balance) and far-future nonces (gaps), alternately.
                let (nonce, amount) = match i {
                    0..3 => (i as u64, 1),
                    _ if i % 2 == 0 => (3, 1 + i as u128),
                    _ => (3 + i as u64, 1),
                };
                transfer(&ab, &cid, nonce, Address([7; 20]), amount, FEE)
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Invalid {
        what: "signing".into(),
        why: e.to_string(),
    })?;
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for tx in spam.iter().take(3) {
        match request(c0.submit(tx)).await {
            Ok(h) => admitted.push((h, 0)),
            Err(e) => *refused.entry(error_code(&e)).or_default() += 1,
        }
    }
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let flood = {
        use futures::StreamExt as _;
        let done = done.clone();
        let clients = &net.clients;
        let spam = &spam[spam.len().min(3)..];
        async move {
            futures::stream::iter(spam.iter().enumerate())
                .map(|(i, tx)| {
                    let c = clients[i % clients.len()].clone();
                    let done = done.clone();
                    async move {
                        let r = request(c.submit(tx)).await;
                        done.fetch_add(1, Ordering::Relaxed);
                        (r, i % clients.len())
                    }
                })
                .buffer_unordered(64)
                .collect::<Vec<_>>()
                .await
        }
    };
    let honest = async {
        let flood_len = n.saturating_sub(3);
        while done.load(Ordering::Relaxed) < flood_len / 4 && t.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let head = net.head().await;
        let tx = transfer(honest_key, chain_id, honest_nonce, Address([8; 20]), 1, FEE);
        let t0 = Instant::now();
        let c = &net.clients[honest_node];
        let h = request(c.submit(&tx)).await?;
        let st = c.wait(&h, Duration::from_secs(60)).await?;
        let latency = t0.elapsed().as_secs_f64() * 1e3;
        match (st.status.as_str(), st.height) {
            ("finalized", Some(height)) => Ok((h, head, height, latency)),
            _ => Err(Error::NotFinalized { hash: h, secs: 60 }),
        }
    };
    let (results, honest) = tokio::time::timeout(Duration::from_secs(180), async {
        tokio::join!(flood, honest)
    })
    .await
    .map_err(|_| Error::Invalid {
        what: "abuse phase".into(),
        why: "did not finish within 180 s".into(),
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let (honest_hash, honest_head, honest_height, honest_latency_ms) = honest?;
    admitted.push((honest_hash, honest_node));
    for (r, node) in results {
        match r {
            Ok(h) => admitted.push((h, node)),
            Err(e) => *refused.entry(error_code(&e)).or_default() += 1,
        }
    }
    let mempool_after = futures::future::join_all(net.clients.iter().map(|c| request(c.status())))
        .await
        .into_iter()
        .filter_map(|s| s.ok().map(|s| s.mempool_size))
        .max()
        .unwrap_or(0);
    // The honest transfer and the one funding the abuser are not the abuser's.
    let accepted = admitted.len() - 2;
    Ok((
        AbuseRun {
            funded,
            submitted: n,
            accepted,
            refused,
            seconds,
            mempool_after,
            honest_head,
            honest_height,
            honest_blocks_waited: blocks_waited(honest_head, honest_height),
            honest_latency_ms,
        },
        admitted,
    ))
}

/// Blocks finalized after a submission at finalized height `head` that did not include it,
/// given the height that did.
fn blocks_waited(head: u64, included: u64) -> u64 {
    included.saturating_sub(head).saturating_sub(1)
}

/// A signed transfer of `amount` base units.
fn transfer(
    key: &PrivateKey,
    chain_id: &str,
    nonce: u64,
    to: Address,
    amount: u128,
    fee: Amount,
) -> Tx {
    TxBody {
        chain_id: chain_id.into(),
        sender: key.public_key(),
        nonce,
        fee,
        messages: vec![Message::Bank(bank::Msg::Transfer {
            to,
            amount: Amount(amount),
        })],
        memo: String::new(),
    }
    .sign(key)
}

/// An HTTP request bounded by [`REQUEST_TIMEOUT`].
async fn request<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Api {
                code: "timeout".into(),
                message: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            })
        })
}

/// The stable code of a failed submission.
fn error_code(e: &Error) -> String {
    match e {
        Error::Api { code, .. } => code.clone(),
        Error::Unreachable { .. } => "unreachable".into(),
        _ => "other".into(),
    }
}

/// CPU time (user + system) a process has used, seconds, from `/proc/<pid>/stat` (`pid` may
/// be `self`); 0 when unreadable.
fn cpu_s(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11) // state … cmajflt; utime and stime follow
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    // Linux reports these in clock ticks of USER_HZ, 100 on every architecture it supports.
    ticks / 100.0
}

/// How long each thread of `pid` has waited runnable for a core, nanoseconds, by thread id
/// (the second field of Linux's `/proc/<pid>/task/<tid>/schedstat`); empty when unreadable.
fn run_delay_ns(pid: u32) -> BTreeMap<u64, u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return BTreeMap::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("schedstat")).ok()?;
        Some((tid, stat.split_whitespace().nth(1)?.parse().ok()?))
    })
    .collect()
}

/// A process's resident memory (Linux `VmRSS`), MB; 0 when unreadable.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The highest finalized height over the nodes behind `clients` (0 if none answers).
async fn head(clients: &[Client]) -> u64 {
    futures::future::join_all(clients.iter().map(|c| request(c.status())))
        .await
        .into_iter()
        .filter_map(|s| s.ok().map(|s| s.height))
        .max()
        .unwrap_or(0)
}

/// A base port with `n` free ports from it on 127.0.0.1.
fn free_port_range(n: u16) -> Result<u16> {
    for _ in 0..64 {
        let base = free_port()?;
        let Some(end) = base.checked_add(n) else {
            continue;
        };
        if (base..end).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return Ok(base);
        }
    }
    Err(Error::Invalid {
        what: "ports".into(),
        why: format!("found no {n} consecutive free ports on 127.0.0.1"),
    })
}

/// A running network of node processes; dropping it kills and reaps them, and removes the
/// homes unless `keep` (then their logs stay for a look).
struct Net {
    dir: PathBuf,
    homes: Vec<PathBuf>,
    children: Vec<Child>,
    clients: Vec<Client>,
    /// Extra arguments of each node's `node` command (kept for restarts).
    node_args: Vec<Vec<String>>,
    exe: PathBuf,
    keep: bool,
}

impl Net {
    /// Creates the homes of `validators` sharing `accounts` funded keys and starts each node.
    fn start(validators: usize, accounts: usize, epoch_length: u64) -> Result<Net> {
        let mut net = Net::init(validators, 0, accounts, epoch_length)?;
        net.start_all()?;
        Ok(net)
    }

    /// Creates the homes of `validators` genesis validators and `full_nodes` other nodes sharing
    /// `accounts` funded keys, without starting them.
    fn init(
        validators: usize,
        full_nodes: usize,
        accounts: usize,
        epoch_length: u64,
    ) -> Result<Net> {
        let dir = tempdir()?;
        let ports = u16::try_from(2 * (validators + full_nodes)).map_err(|_| Error::Invalid {
            what: "validators".into(),
            why: "too many".into(),
        })?;
        let base = free_port_range(ports)?;
        let opts = InitOptions {
            chain_id: "mycel-bench-network-1".into(),
            accounts,
            epoch_length,
            force: true,
            ..Default::default()
        };
        let t = init_testnet(&dir, validators, full_nodes, base, &opts)?;
        let exe = std::env::current_exe().map_err(io(Path::new("current exe")))?;
        Ok(Net {
            dir,
            homes: t.homes.clone(),
            children: Vec::new(),
            clients: t
                .apis
                .iter()
                .map(|a| Client::new(&format!("http://{a}")))
                .collect(),
            node_args: vec![Vec::new(); t.homes.len()],
            exe,
            keep: true,
        })
    }

    /// Starts every node.
    fn start_all(&mut self) -> Result<()> {
        for i in 0..self.homes.len() {
            let child = self.spawn(i)?;
            self.children.push(child);
        }
        Ok(())
    }

    /// Starts node `i`'s process, its output appended to `node.log` in its home.
    fn spawn(&self, i: usize) -> Result<Child> {
        use std::io::Write as _;
        let h = &self.homes[i];
        let log = h.join("node.log");
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io(&log))?;
        if i < self.children.len() {
            writeln!(out, "=== mycel bench network: node {i} restarted ===").map_err(io(&log))?;
        }
        let err = out.try_clone().map_err(io(&log))?;
        Command::new(&self.exe)
            .arg("--home")
            .arg(h)
            .arg("node")
            .args(&self.node_args[i])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(&self.exe))
    }

    /// Kills node `i` with SIGKILL and reaps it.
    fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }

    /// Starts node `i` again (after [`Net::kill`]).
    fn restart(&mut self, i: usize) -> Result<()> {
        self.children[i] = self.spawn(i)?;
        Ok(())
    }

    /// Whether node `i`'s process has exited (and how), without waiting.
    fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        self.children[i].try_wait().ok().flatten()
    }

    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Waits until every node answers at height `min_height` or more.
    async fn wait_ready(&mut self, min_height: u64, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            for (i, c) in self.children.iter_mut().enumerate() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(Error::Invalid {
                        what: format!("node {i}"),
                        why: format!(
                            "exited ({status}); see {}",
                            self.homes[i].join("node.log").display()
                        ),
                    });
                }
            }
            let heights =
                futures::future::join_all(self.clients.iter().map(|c| request(c.status()))).await;
            if heights
                .iter()
                .all(|s| s.as_ref().is_ok_and(|s| s.height >= min_height))
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::Unreachable {
                    url: self.clients[0].base().to_string(),
                    why: format!(
                        "the network did not reach height {min_height} within {} s; logs in {}",
                        timeout.as_secs(),
                        self.dir.display()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The highest finalized height over the nodes.
    async fn head(&self) -> u64 {
        head(&self.clients).await
    }

    /// The height every node has passed, and whether all nodes have the same block hash and
    /// state root there.
    async fn consistency(&self) -> Result<(u64, bool)> {
        consistency(&self.clients).await
    }
}

/// The height every node behind `clients` has passed, and whether all of them have the same
/// block hash and state root there.
async fn consistency(clients: &[Client]) -> Result<(u64, bool)> {
    let mut heights = Vec::with_capacity(clients.len());
    for c in clients {
        heights.push(request(c.status()).await?.height);
    }
    let common = heights.iter().copied().min().unwrap_or(0);
    let path = format!("/api/v1/blocks/{common}");
    let mut seen: Option<(Hash, Hash)> = None;
    let mut consistent = true;
    for (i, c) in clients.iter().enumerate() {
        let b = request(c.get::<BlockTxs>(&path)).await?;
        match seen {
            None => seen = Some((b.hash, b.state_root)),
            Some(s) if s == (b.hash, b.state_root) => {}
            Some((h, r)) => {
                eprintln!(
                    "network bench: node {i} has block {} root {} at height {common}, node 0 \
                     has {h} root {r}",
                    b.hash, b.state_root
                );
                consistent = false;
            }
        }
    }
    Ok((common, consistent))
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.keep {
            eprintln!(
                "network bench: node homes and logs kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl fmt::Display for NetworkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.network {
            self.fmt_load(n, f)?;
        }
        if let Some(faults) = &self.faults {
            write!(f, "{faults}")?;
        }
        if let Some(sync) = &self.sync {
            write!(f, "{sync}")?;
        }
        Ok(())
    }
}

impl NetworkReport {
    /// The load and abuse phases' table.
    fn fmt_load(&self, n: &LoadRun, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = |b: bool| if b { "met" } else { "NOT met" };
        let s = self.single.as_ref();
        writeln!(
            f,
            "network: {} tx/s offered for {} s from {} accounts over HTTP on loopback, {} \
             validator processes beside 1 validator in the same run",
            self.rate, self.seconds, self.accounts, n.validators
        )?;
        writeln!(
            f,
            "targets: p50 <= 100 ms, p99 <= 250 ms at 1,000 tx/s (issue 15); validator RSS \
             idle <= 200 MB, under load <= 500 MB"
        )?;
        let vals = format!("{} validators", n.validators);
        writeln!(
            f,
            "{:<50} {:>14} {:>14} {:>18}",
            "figure", vals, "1 validator", "target"
        )?;
        let col = |g: &dyn Fn(&LoadRun) -> String| (g(n), s.map_or_else(|| "-".to_string(), g));
        let max = |v: &[f64]| v.iter().copied().fold(0f64, f64::max);
        let mut rows: Vec<(String, (String, String), String)> = vec![
            (
                "offered (rate x seconds) / sent".into(),
                col(&|r| format!("{} / {}", r.offered, r.sent)),
                String::new(),
            ),
            (
                "submitted per second (held)".into(),
                col(&|r| format!("{:.0}", r.sent_per_s)),
                format!("{}", self.rate),
            ),
            (
                "accepted".into(),
                col(&|r| r.accepted.to_string()),
                String::new(),
            ),
            (
                "submit errors".into(),
                col(&|r| r.submit_errors.values().sum::<usize>().to_string()),
                String::new(),
            ),
        ];
        let codes: std::collections::BTreeSet<&String> = n
            .submit_errors
            .keys()
            .chain(s.into_iter().flat_map(|r| r.submit_errors.keys()))
            .collect();
        for code in codes {
            rows.push((
                format!("  {code}"),
                col(&|r| r.submit_errors.get(code).copied().unwrap_or(0).to_string()),
                String::new(),
            ));
        }
        let lat_ok = |r: &LoadRun| r.latency.n > 0;
        rows.extend([
            (
                "accepted and finalized".into(),
                col(&|r| r.finalized.to_string()),
                String::new(),
            ),
            (
                "sustained: finalized in the load window, tx/s".into(),
                col(&|r| format!("{:.0}", r.sustained_tps)),
                format!("{}", self.rate),
            ),
            (
                "submit -> finalized p50 (ms)".into(),
                col(&|r| format!("{:.0}", r.latency.p50)),
                format!(
                    "<= 100 ({})",
                    ok(lat_ok(n) && n.latency.p50 <= TARGET_P50_MS)
                ),
            ),
            (
                "submit -> finalized p99 (ms)".into(),
                col(&|r| format!("{:.0}", r.latency.p99)),
                format!(
                    "<= 250 ({})",
                    ok(lat_ok(n) && n.latency.p99 <= TARGET_P99_MS)
                ),
            ),
            (
                "submit -> finalized max (ms)".into(),
                col(&|r| format!("{:.0}", r.latency.max)),
                String::new(),
            ),
            (
                "blocks finalized, most txs in one".into(),
                col(&|r| format!("{}, {}", r.blocks, r.max_block_txs)),
                String::new(),
            ),
            (
                "block interval p50 / p99 (ms): within an epoch".into(),
                col(&|r| {
                    let l = &r.interval_within_epoch;
                    format!("{:.0} / {:.0}", l.p50, l.p99)
                }),
                String::new(),
            ),
            (
                "  into a new epoch (Simplex instance)".into(),
                col(&|r| {
                    let l = &r.interval_epoch_start;
                    format!("{:.0} / {:.0} (n={})", l.p50, l.p99, l.n)
                }),
                String::new(),
            ),
            (
                "validator RSS idle, max over validators (MB)".into(),
                col(&|r| format!("{:.0}", max(&r.idle_rss_mb))),
                format!("<= 200 ({})", ok(max(&n.idle_rss_mb) <= TARGET_IDLE_MB)),
            ),
            (
                "validator RSS under load, max over validators (MB)".into(),
                col(&|r| format!("{:.0}", max(&r.load_rss_mb))),
                format!("<= 500 ({})", ok(max(&n.load_rss_mb) <= TARGET_LOAD_MB)),
            ),
            (
                "CPU: validators / load generator, cores busy".into(),
                col(&|r| {
                    let span = r.span_s.max(1e-3);
                    format!(
                        "{:.2} / {:.2}",
                        r.validator_cpu_s.iter().sum::<f64>() / span,
                        r.client_cpu_s / span
                    )
                }),
                format!(
                    "{} cores",
                    std::thread::available_parallelism().map_or(0, |n| n.get())
                ),
            ),
            (
                "validator threads waiting for a core (s per s)".into(),
                col(&|r| format!("{:.1}", r.validator_wait_s / r.span_s.max(1e-3))),
                String::new(),
            ),
            (
                "CPU per finalized tx, each validator (us)".into(),
                col(&|r| {
                    let per = r.validator_cpu_s.iter().sum::<f64>()
                        / (r.validator_cpu_s.len().max(1) * r.finalized.max(1)) as f64;
                    format!("{:.0}", per * 1e6)
                }),
                String::new(),
            ),
            (
                "height checked on every node".into(),
                col(&|r| r.common_height.to_string()),
                String::new(),
            ),
            (
                "same block and state root on every node".into(),
                col(&|r| if r.consistent { "yes" } else { "NO" }.to_string()),
                "yes".into(),
            ),
            (
                "accepted but not finalized (lost)".into(),
                col(&|r| r.lost.to_string()),
                "0".into(),
            ),
        ]);
        for (name, (a, b), t) in rows {
            writeln!(f, "{name:<50} {a:>14} {b:>14} {t:>18}")?;
        }
        if let Some(a) = &self.abuse {
            writeln!(
                f,
                "mempool abuse on {} validators: an account funded with {} base units (three \
                 fees) submits {} transactions it cannot pay for; an honest account submits one \
                 transfer during the flood",
                n.validators, a.funded, a.submitted
            )?;
            let mut rows: Vec<(String, String, String)> = vec![
                (
                    "abuser transactions submitted / admitted".into(),
                    format!("{} / {}", a.submitted, a.accepted),
                    String::new(),
                ),
                (
                    "flood duration (s), submissions/s".into(),
                    format!(
                        "{:.1}, {:.0}",
                        a.seconds,
                        a.submitted as f64 / a.seconds.max(1e-3)
                    ),
                    String::new(),
                ),
            ];
            for (code, k) in &a.refused {
                rows.push((format!("  refused: {code}"), k.to_string(), String::new()));
            }
            rows.extend([
                (
                    "largest mempool after the flood".into(),
                    a.mempool_after.to_string(),
                    String::new(),
                ),
                (
                    "honest transfer: head at submit -> included at".into(),
                    format!("{} -> {}", a.honest_head, a.honest_height),
                    String::new(),
                ),
                (
                    "honest transfer: blocks finalized without it".into(),
                    a.honest_blocks_waited.to_string(),
                    format!("<= 1 ({})", ok(a.honest_blocks_waited <= 1)),
                ),
                (
                    "honest transfer: submit -> finalized (ms)".into(),
                    format!("{:.0}", a.honest_latency_ms),
                    String::new(),
                ),
            ]);
            for (name, v, t) in rows {
                writeln!(f, "{name:<50} {v:>14} {t:>33}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary() {
        assert_eq!(Latency::of(Vec::new()), Latency::default());
        let l = Latency::of((1..=100).rev().map(f64::from).collect());
        assert_eq!(l.n, 100);
        assert_eq!(l.p50, 51.0);
        assert_eq!(l.p99, 99.0);
        assert_eq!(l.max, 100.0);
        let one = Latency::of(vec![7.0]);
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn run_delay_reads_every_thread_of_a_process() {
        let pid = std::process::id();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel::<u64>();
        let other = std::thread::spawn(move || {
            // `/proc/thread-self` links to `<pid>/task/<tid>`.
            let link = std::fs::read_link("/proc/thread-self").expect("procfs");
            let tid = link.file_name().and_then(|n| n.to_str()?.parse().ok());
            tid_tx.send(tid.expect("a thread id")).expect("receiver");
            rx.recv()
        });
        let tid = tid_rx.recv().expect("the thread's id");
        let waits = run_delay_ns(pid);
        // The main thread's id is the process id, and the thread just started is counted too.
        assert!(waits.contains_key(&u64::from(pid)), "{waits:?}");
        assert!(waits.contains_key(&tid), "{tid} not in {waits:?}");
        let _ = tx.send(());
        let _ = other.join();
        assert!(run_delay_ns(u32::MAX).is_empty());
    }

    #[test]
    fn blocks_waited_counts_blocks_without_the_tx() {
        assert_eq!(blocks_waited(10, 11), 0);
        assert_eq!(blocks_waited(10, 12), 1);
        assert_eq!(blocks_waited(10, 15), 4);
        assert_eq!(blocks_waited(10, 10), 0);
    }

    #[test]
    fn error_codes() {
        let api = Error::Api {
            code: "nonce_gap".into(),
            message: String::new(),
        };
        assert_eq!(error_code(&api), "nonce_gap");
        let down = Error::Unreachable {
            url: String::new(),
            why: String::new(),
        };
        assert_eq!(error_code(&down), "unreachable");
    }
}
