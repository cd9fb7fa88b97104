//! `mycel bench model`: lineage query latency on a chain with thousands of model versions,
//! beside the HTTP floor measured in the same run.
//!
//! A real `mycel devnet` (no worker, so no auditor) receives `--versions` registrations in
//! realistic shapes: `--bases` base models, each the root of a tree of fine-tunes, adapters,
//! quantizations and merges (depth up to [`MAX_DEPTH`], merges of two parents, some versions
//! declaring the datasets they learned from), the trees' sizes falling off like a power law so a
//! few bases have hundreds of descendants and most have dozens. Every dev account sends one
//! transaction of up to 64 registrations at a time, so a block carries several.
//!
//! Then, one request in flight, `GET /api/v1/models/{id}/lineage` as JSON and as the ASCII tree
//! (`?format=text`, what `mycel model tree` prints) over a seeded sample of roots, mid-tree
//! versions and leaves, interleaved with `GET /api/v1/status` (the HTTP floor). After the devnet
//! stops, the same sample runs in this process on its state (walk, JSON encoding, tree
//! rendering), so the difference is the API's own share.

use crate::{free_port, percentile, tempdir};
use mycel_ledger::{
    Message,
    modules::{
        data,
        model::{self, Access, ModelKind, Registration},
    },
};
use mycel_node::{
    Error, Home, Result,
    client::{Client, SendOptions},
    error::io,
    keystore::Keystore,
    services::models::{self as lineage_service, Lineage},
};
use mycel_primitives::{
    Amount, Hash, PrivateKey,
    codec::{EncodeSize as _, MAX_MESSAGES_PER_TX, MAX_TX_BYTES},
};
use rand::{RngExt as _, SeedableRng as _, rngs::StdRng};
use std::{
    collections::{BTreeMap, BTreeSet},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

/// Deepest version below its base.
pub const MAX_DEPTH: u8 = 8;

/// The target: the ASCII tree through the API, p50, milliseconds.
const TARGET_TREE_P50_MS: f64 = 10.0;

/// Options of `mycel bench model`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelBenchArgs {
    /// Model versions to register (bases included).
    #[arg(long, default_value_t = 10_000)]
    pub versions: usize,
    /// Base models, each the root of one tree.
    #[arg(long, default_value_t = 100)]
    pub bases: usize,
    /// Datasets registered first, which some fine-tunes and adapters declare.
    #[arg(long, default_value_t = 32)]
    pub datasets: usize,
    /// Registrations per transaction (at most 64).
    #[arg(long, default_value_t = 64)]
    pub per_tx: usize,
    /// Sending accounts (the devnet's dev0..devN), each with one transaction in flight.
    #[arg(long, default_value_t = 8)]
    pub accounts: usize,
    /// Versions sampled for the lineage queries (a third roots, a third mid-tree, a third leaves).
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// `mycel model tree ID` processes timed, if the subcommand exists (0 to skip).
    #[arg(long, default_value_t = 5)]
    pub processes: usize,
    /// Seed of the shapes and the sample.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

fn invalid(why: &str) -> Error {
    Error::Invalid {
        what: "model bench".into(),
        why: why.into(),
    }
}

/// One planned version.
struct Planned {
    reg: Registration,
    depth: u8,
    children: Vec<usize>,
}

/// Where a sampled version sits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Place {
    Root,
    Mid,
    Leaf,
}

impl Place {
    const ALL: [Place; 3] = [Place::Root, Place::Mid, Place::Leaf];
    fn name(self) -> &'static str {
        match self {
            Place::Root => "roots",
            Place::Mid => "mid-tree",
            Place::Leaf => "leaves",
        }
    }
}

/// The chain to build: datasets, then each tree's versions parents first (`trees` are their
/// ranges in `versions`, largest first).
struct Plan {
    datasets: Vec<data::Registration>,
    versions: Vec<Planned>,
    trees: Vec<std::ops::Range<usize>>,
}

fn random_hash(rng: &mut StdRng) -> Hash {
    let mut h = Hash(rng.random());
    h.0[0] |= 1;
    h
}

/// Tree sizes for `n` versions over `bases` trees, falling off as `rank^-0.7`.
fn tree_sizes(n: usize, bases: usize) -> Vec<usize> {
    let bases = bases.clamp(1, n.max(1));
    let extra = n.saturating_sub(bases);
    let w: Vec<f64> = (1..=bases).map(|i| (i as f64).powf(-0.7)).collect();
    let total: f64 = w.iter().sum();
    let mut sizes: Vec<usize> = w
        .iter()
        .map(|x| 1 + (extra as f64 * x / total).floor() as usize)
        .collect();
    let mut left = n.saturating_sub(sizes.iter().sum());
    let mut i = 0;
    while left > 0 {
        sizes[i % bases] += 1;
        left -= 1;
        i += 1;
    }
    sizes
}

fn plan(args: &ModelBenchArgs) -> Plan {
    const LICENSES: [&str; 4] = ["Apache-2.0", "MIT", "CC-BY-NC-4.0", "OpenRAIL-M"];
    let mut rng = StdRng::seed_from_u64(args.seed);
    let datasets: Vec<data::Registration> = (0..args.datasets)
        .map(|i| data::Registration {
            root: random_hash(&mut rng),
            records: 10_000 + i as u64 * 1_000,
            bytes: 5_000_000 + i as u64 * 100_000,
            profile: "mycel-text/v1".into(),
            minhash_root: random_hash(&mut rng),
            signatures: random_hash(&mut rng),
            manifest: random_hash(&mut rng),
            license: ["CC-BY-4.0", "MIT", "ODC-By-1.0"][i % 3].into(),
            consent: data::CONSENT_TRAIN,
            parents: vec![],
            novel_root: Hash::ZERO,
            novel_records: 0,
            novel_bytes: 0,
            bond: Amount::ZERO,
        })
        .collect();
    let mut versions: Vec<Planned> = Vec::with_capacity(args.versions);
    let mut trees = Vec::new();
    for (t, size) in tree_sizes(args.versions, args.bases)
        .into_iter()
        .enumerate()
    {
        let start = versions.len();
        let license = LICENSES[rng.random_range(0..LICENSES.len())].to_string();
        let base_name = format!("base-{t:03}-{}B", [1, 3, 7, 8, 13, 70][t % 6]);
        // Versions that may still be parents: not quantizations (they end a line), not at
        // MAX_DEPTH.
        let mut eligible = vec![start];
        for k in 0..size {
            let (kind, parents) = if k == 0 {
                (ModelKind::Base, Vec::new())
            } else {
                let pick = |rng: &mut StdRng| {
                    if rng.random_bool(0.5) {
                        // Recent work is what gets built on: derivatives of derivatives.
                        eligible[eligible.len() - 1 - rng.random_range(0..eligible.len().min(8))]
                    } else {
                        eligible[rng.random_range(0..eligible.len())]
                    }
                };
                let p = pick(&mut rng);
                let mut kind = match rng.random::<f64>() {
                    r if r < 0.35 => ModelKind::Finetune,
                    r if r < 0.65 => ModelKind::Adapter,
                    r if r < 0.82 => ModelKind::Quantized,
                    _ => ModelKind::Merge,
                };
                let mut parents = vec![p];
                if kind == ModelKind::Merge {
                    match (0..4).map(|_| pick(&mut rng)).find(|q| *q != p) {
                        Some(q) => parents.push(q),
                        None => kind = ModelKind::Finetune,
                    }
                }
                (kind, parents)
            };
            let depth = parents
                .iter()
                .map(|p| versions[*p].depth + 1)
                .max()
                .unwrap_or(0);
            let mut declared = Vec::new();
            if matches!(kind, ModelKind::Finetune | ModelKind::Adapter) && !datasets.is_empty() {
                let n = match rng.random::<f64>() {
                    r if r < 0.4 => 1,
                    r if r < 0.5 => 2,
                    _ => 0,
                };
                declared = (0..n)
                    .map(|_| datasets[rng.random_range(0..datasets.len())].root)
                    .collect();
                declared.sort();
                declared.dedup();
            }
            let name = match kind {
                ModelKind::Base => base_name.clone(),
                ModelKind::Finetune => format!("{base_name}-ft-{k}"),
                ModelKind::Adapter => format!("{base_name}-lora-{k}"),
                ModelKind::Quantized => format!("{base_name}-q4-{k}"),
                ModelKind::Merge => format!("{base_name}-merge-{k}"),
            };
            let (card, card_bytes) = if rng.random_bool(0.5) {
                (random_hash(&mut rng), rng.random_range(500..20_000u32))
            } else {
                (Hash::ZERO, 0)
            };
            let access = if k == 0 && rng.random_bool(0.1) {
                Access::Gated
            } else {
                Access::Public
            };
            let i = versions.len();
            for p in &parents {
                versions[*p].children.push(i);
            }
            versions.push(Planned {
                reg: Registration {
                    id: random_hash(&mut rng),
                    name,
                    kind,
                    parents: parents.iter().map(|p| versions[*p].reg.id).collect(),
                    datasets: declared,
                    files: random_hash(&mut rng),
                    license: license.clone(),
                    license_text: Hash::ZERO,
                    access,
                    card,
                    card_bytes,
                },
                depth,
                children: Vec::new(),
            });
            if k > 0 && kind != ModelKind::Quantized && depth < MAX_DEPTH {
                eligible.push(i);
            }
        }
        trees.push(start..versions.len());
    }
    Plan {
        datasets,
        versions,
        trees,
    }
}

impl Plan {
    /// Versions below `i` (each once; merges join lines).
    fn descendants(&self, i: usize) -> usize {
        let mut seen = BTreeSet::new();
        let mut stack = self.versions[i].children.clone();
        while let Some(c) = stack.pop() {
            if seen.insert(c) {
                stack.extend(&self.versions[c].children);
            }
        }
        seen.len()
    }

    fn place(&self, i: usize) -> Place {
        match (
            &self.versions[i].reg.kind,
            self.versions[i].children.is_empty(),
        ) {
            (ModelKind::Base, _) => Place::Root,
            (_, true) => Place::Leaf,
            (_, false) => Place::Mid,
        }
    }

    /// `n` versions drawn with `rng`, a third from each place, the largest tree's root first.
    fn sample(&self, n: usize, rng: &mut StdRng) -> Vec<usize> {
        let mut by: BTreeMap<Place, Vec<usize>> = BTreeMap::new();
        for i in 0..self.versions.len() {
            by.entry(self.place(i)).or_default().push(i);
        }
        let mut out = vec![0];
        let places: Vec<&Vec<usize>> = Place::ALL.iter().filter_map(|p| by.get(p)).collect();
        for k in 1..n.max(1) {
            let pool = places[k % places.len()];
            out.push(pool[rng.random_range(0..pool.len())]);
        }
        out
    }
}

/// Sends `msgs` from `keys[k]` in transactions of `per_tx`, one in flight per key; the heights
/// that finalized them.
async fn send_per_key(
    c: &Client,
    keys: &[PrivateKey],
    batches: Vec<Vec<Vec<Message>>>,
    done: &AtomicUsize,
    total: usize,
) -> Result<Vec<u64>> {
    let opts = SendOptions {
        timeout: Duration::from_secs(120),
        ..Default::default()
    };
    let start = Instant::now();
    let tenth = AtomicUsize::new(1);
    let runs = batches.into_iter().zip(keys).map(|(txs, key)| {
        let opts = opts.clone();
        let tenth = &tenth;
        async move {
            let mut heights = Vec::new();
            for msgs in txs {
                let n = msgs.len();
                heights.push(c.send_all(key, msgs, &opts).await?.height);
                let now = done.fetch_add(n, Ordering::Relaxed) + n;
                let t = tenth.load(Ordering::Relaxed);
                if total >= 1_000
                    && now * 10 >= t * total
                    && tenth.fetch_add(1, Ordering::Relaxed) == t
                {
                    eprintln!(
                        "  {now}/{total} registered, {:.1} s",
                        start.elapsed().as_secs_f64()
                    );
                }
            }
            Ok::<_, Error>(heights)
        }
    });
    Ok(futures::future::try_join_all(runs)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// Splits messages into transactions of at most `per_tx` messages and `MAX_TX_BYTES` (less room
/// for the envelope).
fn batch(msgs: Vec<Message>, per_tx: usize) -> Vec<Vec<Message>> {
    let mut out: Vec<Vec<Message>> = Vec::new();
    let mut size = 0;
    for m in msgs {
        let s = m.encode_size();
        match out.last_mut() {
            Some(b) if b.len() < per_tx && size + s <= MAX_TX_BYTES - 1_024 => {
                b.push(m);
                size += s;
            }
            _ => {
                out.push(vec![m]);
                size = s;
            }
        }
    }
    out
}

/// Latencies, sorted, and what each answer held.
#[derive(Default)]
struct Series {
    ms: Vec<f64>,
    nodes: Vec<usize>,
    bytes: Vec<usize>,
}

impl Series {
    fn push(&mut self, ms: f64, nodes: usize, bytes: usize) {
        self.ms.push(ms);
        self.nodes.push(nodes);
        self.bytes.push(bytes);
    }

    fn row(&self, name: &str) {
        if self.ms.is_empty() {
            return;
        }
        let mut ms = self.ms.clone();
        ms.sort_by(f64::total_cmp);
        let mut nodes = self.nodes.clone();
        nodes.sort();
        let mut bytes = self.bytes.clone();
        bytes.sort();
        let nodes = if nodes[nodes.len() - 1] == 0 {
            "-".to_string()
        } else {
            format!(
                "{}/{}/{}",
                nodes[0],
                nodes[nodes.len() / 2],
                nodes[nodes.len() - 1]
            )
        };
        println!(
            "{name:<40} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>15} {:>9}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.9),
            percentile(&ms, 0.99),
            ms[ms.len() - 1],
            nodes,
            bytes[bytes.len() / 2],
        );
    }

    /// The first query's latency (the sample's first version is the largest tree's root).
    fn first(&self) -> f64 {
        self.ms.first().copied().unwrap_or(f64::NAN)
    }

    fn p50(&self) -> f64 {
        let mut ms = self.ms.clone();
        ms.sort_by(f64::total_cmp);
        percentile(&ms, 0.5)
    }
}

fn header(what: &str) {
    println!(
        "{what:<40} {:>8} {:>8} {:>8} {:>8} {:>15} {:>9}",
        "p50", "p90", "p99", "max", "nodes min/med/max", "bytes med"
    );
}

async fn timed_get(http: &reqwest::Client, url: &str) -> Result<(f64, String)> {
    let t = Instant::now();
    let r = http.get(url).send().await.map_err(|e| Error::Unreachable {
        url: url.into(),
        why: e.to_string(),
    })?;
    let status = r.status();
    let body = r.text().await.map_err(|e| Error::Unreachable {
        url: url.into(),
        why: e.to_string(),
    })?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if !status.is_success() {
        return Err(invalid(&format!("{url} answered {status}: {body:.300}")));
    }
    Ok((ms, body))
}

/// Lines of an ASCII tree that name a model version.
fn tree_models(text: &str) -> usize {
    text.lines().filter(|l| l.contains(" [")).count()
}

/// What the HTTP part measured, by place.
#[derive(Default)]
struct Http {
    status: Series,
    graph: BTreeMap<Option<Place>, Series>,
    text: BTreeMap<Option<Place>, Series>,
}

/// The sample, through the API, one request in flight, the three requests interleaved.
async fn query_api(base: &str, plan: &Plan, sample: &[usize]) -> Result<Http> {
    let http = reqwest::Client::new();
    let status_url = format!("{base}/api/v1/status");
    let url = |i: usize| format!("{base}/api/v1/models/{}/lineage", plan.versions[i].reg.id);
    for &i in sample {
        timed_get(&http, &status_url).await?;
        timed_get(&http, &url(i)).await?;
        timed_get(&http, &format!("{}?format=text", url(i))).await?;
    }
    let mut out = Http::default();
    for &i in sample {
        let place = plan.place(i);
        let (ms, body) = timed_get(&http, &status_url).await?;
        out.status.push(ms, 0, body.len());
        let (ms, body) = timed_get(&http, &url(i)).await?;
        let l: Lineage = serde_json::from_str(&body).map_err(|e| invalid(&e.to_string()))?;
        for key in [None, Some(place)] {
            out.graph
                .entry(key)
                .or_default()
                .push(ms, l.nodes.len(), body.len());
        }
        let (ms, body) = timed_get(&http, &format!("{}?format=text", url(i))).await?;
        for key in [None, Some(place)] {
            out.text
                .entry(key)
                .or_default()
                .push(ms, tree_models(&body), body.len());
        }
    }
    Ok(out)
}

/// `mycel model tree ID` as whole processes, if this binary has the subcommand.
fn time_cli(exe: &std::path::Path, home: &std::path::Path, base: &str, ids: &[Hash]) {
    let has = Command::new(exe)
        .args(["model", "tree", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        println!(
            "mycel model tree (whole process): skipped, this binary has no `model tree` subcommand"
        );
        return;
    }
    let mut ms = Vec::new();
    for id in ids {
        let t = Instant::now();
        let out = Command::new(exe)
            .arg("--home")
            .arg(home)
            .args(["--api", base, "model", "tree", &id.to_hex()])
            .output();
        let elapsed = t.elapsed().as_secs_f64() * 1e3;
        match out {
            Ok(o) if o.status.success() => {
                ms.push((elapsed, tree_models(&String::from_utf8_lossy(&o.stdout))))
            }
            Ok(o) => {
                println!(
                    "mycel model tree (whole process): failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return;
            }
            Err(e) => {
                println!("mycel model tree (whole process): failed to start: {e}");
                return;
            }
        }
    }
    println!(
        "mycel model tree (whole process), {} IDs: {}",
        ms.len(),
        ms.iter()
            .map(|(t, n)| format!("{t:.1} ms ({n} versions)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The sample in this process on the stopped devnet's state: the walk, its JSON encoding, the
/// ASCII tree, and the state reads alone (each version and its children index, as the walk
/// does them).
fn in_process(home: &Home, plan: &Plan, sample: &[usize]) -> Result<()> {
    let t = Instant::now();
    let store = mycel_store::Store::open(home.state_db())?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let state = store.snapshot(&[])?;
    let describe = |j: &mycel_ledger::modules::market::Job| format!("{:?}", j.status);
    let (mut walk, mut json, mut tree, mut reads) = (
        Series::default(),
        Series::default(),
        Series::default(),
        Series::default(),
    );
    // One untimed pass first, as the API's warm-up: the store was just opened, its pages cold.
    for &i in sample {
        lineage_service::lineage(&state, &plan.versions[i].reg.id, &describe)?;
    }
    for &i in sample {
        let id = plan.versions[i].reg.id;
        let t = Instant::now();
        let l = lineage_service::lineage(&state, &id, &describe)?
            .ok_or_else(|| invalid(&format!("{id} is not registered")))?;
        walk.push(t.elapsed().as_secs_f64() * 1e3, l.nodes.len(), 0);
        let t = Instant::now();
        let body = serde_json::to_vec(&l).map_err(|e| invalid(&e.to_string()))?;
        json.push(t.elapsed().as_secs_f64() * 1e3, l.nodes.len(), body.len());
        let t = Instant::now();
        let text = lineage_service::render_tree(&l);
        tree.push(
            t.elapsed().as_secs_f64() * 1e3,
            tree_models(&text),
            text.len(),
        );
        let models: Vec<Hash> = l
            .nodes
            .iter()
            .filter_map(|n| n.id.strip_prefix("model:"))
            .filter_map(|h| Hash::from_hex(h).ok())
            .collect();
        let t = Instant::now();
        for m in &models {
            std::hint::black_box(model::version(&state, m)?);
            std::hint::black_box(model::children(&state, m)?);
        }
        reads.push(t.elapsed().as_secs_f64() * 1e3, models.len(), 0);
    }
    println!(
        "in this process, on the devnet's state after it stopped (store opened in {open_ms:.0} ms):"
    );
    header("step (ms)");
    walk.row("lineage walk (services::models::lineage)");
    reads.row("  of which state reads (version+children)");
    json.row("JSON encoding of the graph");
    tree.row("render_tree (the ASCII tree)");
    println!(
        "largest root alone ({} graph nodes): walk {:.2} ms (state reads {:.2}), JSON {:.2} ms, render_tree {:.2} ms",
        walk.nodes.first().unwrap_or(&0),
        walk.first(),
        reads.first(),
        json.first(),
        tree.first()
    );
    Ok(())
}

fn machine_line() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let profile = if cfg!(debug_assertions) {
        "dev profile (debug build; dependencies at opt-level 3)"
    } else {
        "release build"
    };
    println!(
        "machine: {cores} cores, {cpu}; {profile}; load average {}",
        crate::ml::load_average().map_or("?".into(), |l| format!("{l:.2}"))
    );
}

/// Registers `--versions` model versions on a devnet and times their lineage queries.
pub fn model(args: &ModelBenchArgs) -> Result<()> {
    let plan = plan(args);
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let sample = plan.sample(args.queries, &mut rng);
    let accounts = args.accounts.clamp(1, plan.trees.len().max(1));
    let per_tx = args.per_tx.clamp(1, MAX_MESSAGES_PER_TX);
    let home_dir = tempdir()?;
    let home = Home(home_dir.clone());
    let (api, p2p) = (free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(io(std::path::Path::new("current exe")))?;
    let mut child = Command::new(&exe)
        .args([
            "--home",
            home_dir.to_str().unwrap_or("."),
            "devnet",
            "--no-worker",
        ])
        .args(["--accounts", &accounts.to_string()])
        .args(["--api.addr", &format!("127.0.0.1:{api}")])
        .args(["--p2p.addr", &format!("127.0.0.1:{p2p}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io(std::path::Path::new("mycel devnet")))?;
    let base = format!("http://127.0.0.1:{api}");
    machine_line();
    let result = (|| -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io(std::path::Path::new("tokio")))?;
        rt.block_on(async {
            let c = Client::new(&base);
            let start = Instant::now();
            while c.status().await.is_err() {
                if start.elapsed() > Duration::from_secs(120) {
                    return Err(invalid("the devnet did not start"));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let ks = Keystore::new(home.keys_dir());
            let keys = (0..accounts)
                .map(|k| ks.load(&format!("dev{k}"))?.private_key())
                .collect::<Result<Vec<_>>>()?;
            let opts = SendOptions::default();
            for b in batch(
                plan.datasets
                    .iter()
                    .map(|d| Message::Data(data::Msg::RegisterDataset(Box::new(d.clone()))))
                    .collect(),
                per_tx,
            ) {
                c.send_all(&keys[0], b, &opts).await?;
            }
            // Each tree goes whole to the least loaded key, parents first, so a parent is
            // always in an earlier transaction of the same key or earlier in the same one.
            let mut load = vec![0usize; accounts];
            let mut per_key: Vec<Vec<Message>> = vec![Vec::new(); accounts];
            for tree in &plan.trees {
                let k = (0..accounts).min_by_key(|k| load[*k]).unwrap_or(0);
                load[k] += tree.len();
                per_key[k].extend(plan.versions[tree.clone()].iter().map(|v| {
                    Message::Model(model::Msg::Register(Box::new(v.reg.clone())))
                }));
            }
            let batches: Vec<Vec<Vec<Message>>> =
                per_key.into_iter().map(|m| batch(m, per_tx)).collect();
            let txs: usize = batches.iter().map(Vec::len).sum();
            let total = plan.versions.len();
            let depth = plan.versions.iter().map(|v| v.depth).max().unwrap_or(0);
            let merges = plan
                .versions
                .iter()
                .filter(|v| v.reg.kind == ModelKind::Merge)
                .count();
            let with_data = plan
                .versions
                .iter()
                .filter(|v| !v.reg.datasets.is_empty())
                .count();
            let biggest = plan.descendants(0);
            println!(
                "mycel bench model: {total} versions in {} trees (largest root: {biggest} descendants; depth up to {depth}; {merges} merges of two parents; {with_data} declaring datasets from {} registered), {accounts} accounts, up to {per_tx} registrations per transaction",
                plan.trees.len(),
                plan.datasets.len(),
            );
            let h0 = c.status().await?.height;
            let done = AtomicUsize::new(0);
            let t = Instant::now();
            let heights = send_per_key(&c, &keys, batches, &done, total).await?;
            let wall = t.elapsed().as_secs_f64();
            let blocks: BTreeSet<u64> = heights.iter().copied().collect();
            let h1 = c.status().await?.height;
            println!(
                "registration: {total} versions in {wall:.1} s = {:.0} versions/s; {txs} transactions in {} blocks ({:.1} transactions, {:.0} registrations per block; chain went {h0} -> {h1})",
                total as f64 / wall,
                blocks.len(),
                txs as f64 / blocks.len().max(1) as f64,
                total as f64 / blocks.len().max(1) as f64,
            );
            let out = query_api(&base, &plan, &sample).await?;
            println!(
                "lineage queries: {} versions sampled (seed {}), one request in flight; nodes: the graph's (models, datasets, contributors), the tree's lines naming a version (a merge under two parents prints twice)",
                sample.len(),
                args.seed
            );
            header("request (latency ms)");
            out.status.row("GET /api/v1/status (the HTTP floor)");
            for (key, s) in &out.graph {
                match key {
                    None => s.row("lineage graph (JSON), all"),
                    Some(p) => s.row(&format!("  {}", p.name())),
                }
            }
            for (key, s) in &out.text {
                match key {
                    None => s.row("lineage ?format=text (model tree), all"),
                    Some(p) => s.row(&format!("  {}", p.name())),
                }
            }
            let p50 = out.text.get(&None).map_or(f64::NAN, Series::p50);
            println!(
                "model tree through the API: p50 {p50:.2} ms (target <= {TARGET_TREE_P50_MS} ms): {}; HTTP floor p50 {:.2} ms",
                if p50 <= TARGET_TREE_P50_MS { "PASS" } else { "MISS" },
                out.status.p50()
            );
            println!(
                "largest root alone ({} descendants, each side cut at {}): graph {:.2} ms, text {:.2} ms",
                plan.descendants(0),
                lineage_service::MAX_LINEAGE,
                out.graph.get(&None).map_or(f64::NAN, Series::first),
                out.text.get(&None).map_or(f64::NAN, Series::first),
            );
            let mut ids: Vec<Hash> = Vec::new();
            for &i in &sample {
                let id = plan.versions[i].reg.id;
                if ids.len() < args.processes && !ids.contains(&id) {
                    ids.push(id);
                }
            }
            if !ids.is_empty() {
                time_cli(&exe, &home_dir, &base, &ids);
            }
            Ok(())
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    let result = result.and_then(|()| in_process(&home, &plan, &sample));
    let _ = std::fs::remove_dir_all(&home_dir);
    result
}
