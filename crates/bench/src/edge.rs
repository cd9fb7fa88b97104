//! `mycel bench edge`: light edge devices doing a real job over bad links, and cheaters caught.
//!
//! Everything is a real process of this binary: `mycel devnet` (validator, worker, auditor and
//! the auditor's device checker, on the pinned models) and one `mycel edge run` per device, each
//! reaching the node through its own seeded fault-injecting proxy (30 % loss by default,
//! [`crate::netfault`]). The run:
//! 1. embeds the records in this process, unit by unit, as one worker would: the reference
//!    output and the single-process throughput (one thread);
//! 2. starts one device alone and times its cold start: process start to model loaded and
//!    polling, plus the time from its first probe appearing to its answer sealed;
//! 3. posts the records as an edge job, starts the other devices, and kills one device (then
//!    restarts it) every `--kill-every` seconds until the job completes; checks every unit done
//!    once, the fees paid equal to records × price, the output byte-identical to step 1, and the
//!    bank's supply audit;
//! 4. reads each device's peak resident memory (VmHWM);
//! 5. with `--spoof`, once the job is done, registers two cheaters run in this process: one
//!    replaying a cached answer and one claiming the standard class on hardware that needs longer
//!    than the seal window, and reports when each was caught.

use crate::{free_port, netfault, tempdir};
use mycel_ledger::modules::device::{Class, DeviceEntry};
use mycel_ml::{
    engine::{EngineConfig, LocalEngine},
    registry::{MINILM, ModelStore},
};
use mycel_node::{
    Error, Result,
    client::Client,
    error::io,
    http::{
        chain::SupplyAudit,
        device::{DeviceView, EdgeJobView},
    },
    roles::edge::{EmbedFn, Prober, ProberConfig},
    services::devices::quantize,
};
use std::{
    fmt,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

/// Options of `mycel bench edge`.
#[derive(Debug, Clone, clap::Args)]
pub struct EdgeBenchArgs {
    /// Records in the job.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Edge devices (standard class).
    #[arg(long, default_value_t = 4)]
    pub devices: usize,
    /// Records per unit (at most 64).
    #[arg(long, default_value_t = 64)]
    pub unit: u32,
    /// Chunk loss on each device's link, percent.
    #[arg(long, default_value_t = 30)]
    pub loss: u8,
    /// Kill (and restart) one device every this many seconds (0: never).
    #[arg(long, default_value_t = 20)]
    pub kill_every: u64,
    /// Probe round length, milliseconds of block time (seal 60 %, check 25 %, reveal 15 %; the
    /// chain's default is 8,000). Every device and the checker share this machine: on 2 cores
    /// four standard devices need about 16 s for 64 records each plus the checks.
    #[arg(long, default_value_t = 16_000)]
    pub round_ms: u64,
    /// Records: a file with one text per line, or JSONL with `text` (default: the licence texts
    /// and installed Python package descriptions on this machine; cycled if short).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Also run the two cheaters and report when each is caught.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub spoof: bool,
    /// Proxy seed (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1_200)]
    pub timeout: u64,
}

/// When a cheater was caught.
#[derive(Debug, serde::Serialize)]
pub struct Caught {
    /// What it does.
    pub cheat: String,
    /// Rounds it was probed in until caught.
    pub rounds: u64,
    /// Seconds from its first probe to being caught.
    pub seconds: f64,
    /// Blocks from its registration to being caught, and the epoch length.
    pub blocks: u64,
    /// Blocks per epoch.
    pub epoch_blocks: u64,
    /// Its record then.
    pub device: DeviceEntry,
}

/// What `mycel bench edge` measured.
#[derive(Debug, serde::Serialize)]
pub struct EdgeReport {
    /// Records and unit size.
    pub records: usize,
    /// Records per unit.
    pub unit: u32,
    /// Devices.
    pub devices: usize,
    /// Loss on each link.
    pub loss_pct: u8,
    /// Proxy seed.
    pub seed: u64,
    /// Round length.
    pub round_ms: u64,
    /// One process embedding the records (records per second, 1 thread).
    pub single_records_per_s: f64,
    /// Device cold start: process start to model loaded and polling, ms.
    pub cold_ready_ms: u64,
    /// Its first probe: appeared to sealed, ms.
    pub first_answer_ms: u64,
    /// Seconds from posting the job to its completion.
    pub job_s: f64,
    /// Devices killed and restarted meanwhile.
    pub kills: u64,
    /// Leases given out (units re-leased after a lost lease count again).
    pub leases: u64,
    /// Units.
    pub units: u64,
    /// Units done.
    pub units_done: u64,
    /// Job fees the devices earned, base units.
    pub fees_earned: u128,
    /// Records × price.
    pub fees_expected: u128,
    /// Output identical to the single process's.
    pub output_identical: bool,
    /// Proxy counters, per device link.
    pub proxy: Vec<netfault::Stats>,
    /// Peak resident memory of each device process, MB.
    pub device_peak_rss_mb: Vec<f64>,
    /// Supply audit after the job.
    pub audit: SupplyAudit,
    /// Cheaters and when they were caught.
    pub caught: Vec<Caught>,
}

fn invalid(why: impl fmt::Display) -> Error {
    Error::Invalid {
        what: "edge bench".into(),
        why: why.to_string(),
    }
}

/// Runs `mycel ARGS` to completion; its stdout.
fn mycel(exe: &Path, home: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(exe)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .map_err(io(exe))?;
    if !out.status.success() {
        return Err(invalid(format!(
            "mycel {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The bench's records: `--input`, or text on this machine nobody wrote for the bench.
fn load_records(input: Option<&Path>, n: usize) -> Result<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    match input {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(io(p))?;
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: Option<serde_json::Value> = serde_json::from_str(l).ok();
                lines.push(match v {
                    Some(serde_json::Value::String(s)) => s,
                    Some(v) if v.get("text").is_some() => {
                        v["text"].as_str().unwrap_or_default().to_string()
                    }
                    _ => l.to_string(),
                });
            }
        }
        None => {
            let mut files: Vec<PathBuf> = Vec::new();
            for dir in ["/usr/share/common-licenses"] {
                if let Ok(rd) = std::fs::read_dir(dir) {
                    files.extend(rd.flatten().map(|e| e.path()));
                }
            }
            for root in python_site_dirs() {
                if let Ok(rd) = std::fs::read_dir(&root) {
                    for e in rd.flatten() {
                        if e.file_name().to_string_lossy().ends_with(".dist-info") {
                            files.push(e.path().join("METADATA"));
                        }
                    }
                }
            }
            files.sort();
            let mut seen = std::collections::BTreeSet::new();
            for f in files {
                let Ok(text) = std::fs::read_to_string(&f) else {
                    continue;
                };
                for l in text.lines().map(str::trim) {
                    let header = l.split_once(": ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                    if l.len() >= 30 && l.len() < 400 && !header && seen.insert(l.to_string()) {
                        lines.push(l.to_string());
                    }
                }
            }
        }
    }
    if lines.is_empty() {
        return Err(invalid("no records found (pass --input)"));
    }
    Ok(lines.iter().cycle().take(n).cloned().collect())
}

fn python_site_dirs() -> Vec<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import site,sys; print('\\n'.join(site.getsitepackages()))",
        ])
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(PathBuf::from)
            .collect()
    })
    .unwrap_or_default()
}

/// A `mycel edge run` process whose stderr lines arrive on a channel (and in its log).
struct Device {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    started: Instant,
}

fn spawn_device(exe: &Path, home: &Path, key: &str, api: &str, log: &Path) -> Result<Device> {
    let mut child = Command::new(exe)
        .arg("--home")
        .arg(home)
        .args(["--api", api, "edge", "run", "--key", key])
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(exe))?;
    let started = Instant::now();
    let err = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let log = log.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .ok();
        for l in BufReader::new(err)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some(f) = f.as_mut() {
                let _ = writeln!(f, "{l}");
            }
            let _ = tx.send((Instant::now(), l));
        }
    });
    Ok(Device {
        child,
        lines: rx,
        started,
    })
}

/// Peak resident memory of a process, MB (Linux `VmHWM`).
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The number after `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// Runs the bench.
pub fn edge(a: &EdgeBenchArgs) -> Result<EdgeReport> {
    let exe = std::env::current_exe().map_err(io(Path::new("current_exe")))?;
    let home = tempdir()?;
    let models = ModelStore::from_env();
    if !models.is_present(&MINILM) {
        return Err(invalid(format!(
            "the pinned MiniLM is not in {} (run `mycel models fetch`)",
            models.root().display()
        )));
    }
    let records = load_records(a.input.as_deref(), a.records)?;

    // 1. The reference: one process, one thread, unit by unit.
    let mut engine = LocalEngine::new(
        models.clone(),
        EngineConfig {
            threads: 1,
            mode: mycel_node::models::SERVED_MODE,
        },
    );
    engine
        .embed_counted(MINILM.name, &records[..1])
        .map_err(invalid)?;
    let t = Instant::now();
    let mut reference = Vec::with_capacity(records.len() * 384);
    for unit in records.chunks(a.unit as usize) {
        let (v, _) = engine.embed_counted(MINILM.name, unit).map_err(invalid)?;
        reference.extend(quantize(&v));
    }
    let single_records_per_s = records.len() as f64 / t.elapsed().as_secs_f64();
    eprintln!("single process: {single_records_per_s:.0} records/s");

    // The chain: faster rounds than the default so the bench takes minutes, blocks every 250 ms.
    let port = free_port()?;
    let api = format!("http://127.0.0.1:{port}");
    mycel(
        &exe,
        &home,
        &[
            "init",
            "--accounts",
            "8",
            "--epoch-length",
            "200",
            "--api.addr",
            &format!("127.0.0.1:{port}"),
            "--p2p.addr",
            &format!("127.0.0.1:{}", free_port()?),
        ],
    )?;
    let h = mycel_node::Home(home.clone());
    let mut g = h.genesis()?;
    let d = &mut g.params.device;
    d.round_ms = a.round_ms;
    // Devices and the checker share this machine's cores: most of the round is for answering.
    d.seal_ms = a.round_ms * 60 / 100;
    d.check_ms = a.round_ms * 25 / 100;
    d.reveal_ms = a.round_ms * 15 / 100;
    let gpath = h.genesis_path();
    std::fs::write(&gpath, g.to_toml()).map_err(io(&gpath))?;
    let mut cfg = h.config()?;
    cfg.heartbeat_ms = 250;
    cfg.leader_timeout_ms = 1_000;
    h.write_config(&cfg)?;
    let devnet_log = home.join("devnet.log");
    let devnet = Command::new(&exe)
        .arg("--home")
        .arg(&home)
        .args([
            "devnet",
            "--worker.listen",
            &format!("127.0.0.1:{}", free_port()?),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&devnet_log).map_err(io(&devnet_log))?)
        .spawn()
        .map_err(io(&exe))?;
    let mut children = vec![devnet];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io(Path::new("tokio")))?;
    let c = Client::new(&api);
    let out = run(
        a,
        &exe,
        &home,
        &api,
        &c,
        &rt,
        &records,
        &reference,
        single_records_per_s,
        &mut children,
    );
    for ch in children {
        kill(ch);
    }
    let _ = std::fs::remove_dir_all(&home);
    out
}

#[allow(clippy::too_many_arguments)]
fn run(
    a: &EdgeBenchArgs,
    exe: &Path,
    home: &Path,
    api: &str,
    c: &Client,
    rt: &tokio::runtime::Runtime,
    records: &[String],
    reference: &[u8],
    single_records_per_s: f64,
    children: &mut Vec<Child>,
) -> Result<EdgeReport> {
    let start = Instant::now();
    let auditor =
        mycel_node::services::accounts::address(&mycel_node::Home(home.to_path_buf()), "auditor")?;
    // Up, and the checker's auditor bonded (the devnet's roles start once the models load).
    loop {
        if let Ok(acc) = rt.block_on(c.account(&auditor))
            && !acc
                .stake(mycel_ledger::modules::staking::Role::Auditor)
                .is_zero()
        {
            break;
        }
        if start.elapsed() > Duration::from_secs(180) {
            return Err(invalid(format!(
                "the devnet's auditor never bonded: see {}",
                home.join("devnet.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let seed = a.seed.unwrap_or_else(netfault::seed);
    let mut proxies = Vec::new();
    let upstream: SocketAddr = api.trim_start_matches("http://").parse().map_err(invalid)?;
    for i in 0..a.devices {
        let key = format!("edge{i}");
        mycel(exe, home, &["keys", "new", &key])?;
        mycel(
            exe,
            home,
            &[
                "--api",
                api,
                "edge",
                "register",
                "--from",
                &format!("dev{}", i + 1),
                "--device",
                &key,
                "--class",
                "standard",
                "--bond",
                "2",
                "--fund",
                "5",
            ],
        )?;
        let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        proxies.push(
            rt.block_on(netfault::spawn(
                local,
                upstream,
                netfault::Faults::lossy(seed.wrapping_add(i as u64), a.loss),
            ))
            .map_err(io(Path::new("proxy")))?,
        );
    }
    let api_of = |i: usize| format!("http://{}", proxies[i].local_addr());
    let log_of = |i: usize| home.join(format!("edge{i}.log"));

    // 2. Cold start: one device alone.
    let first = spawn_device(exe, home, "edge0", &api_of(0), &log_of(0))?;
    let (mut ready_ms, mut first_answer_ms) = (None, None);
    while first_answer_ms.is_none() {
        let (at, line) = first
            .lines
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| invalid(format!("device 0 went quiet: see {}", log_of(0).display())))?;
        if line.contains("answering probes") {
            ready_ms = Some(at.duration_since(first.started).as_millis() as u64);
        }
        if line.contains("sealed") {
            first_answer_ms = number_after(&line, ") ");
        }
    }
    let mut devices: Vec<Option<Device>> = vec![Some(first)];

    // 3. The job, with churn.
    let input = home.join("records.jsonl");
    let body: String = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("string") + "\n")
        .collect();
    std::fs::write(&input, body).map_err(io(&input))?;
    let posted = mycel(
        exe,
        home,
        &[
            "--api",
            api,
            "--json",
            "edge",
            "job",
            "post",
            "--from",
            "dev0",
            "--input",
            input.to_str().expect("utf-8 path"),
            "--unit",
            &a.unit.to_string(),
            "--price",
            "1000u",
        ],
    )?;
    let posted: serde_json::Value = serde_json::from_str(&posted).map_err(invalid)?;
    let job: u64 = posted["job"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("no job id in {posted}")))?;
    let job_start = Instant::now();
    for i in 1..a.devices {
        devices.push(Some(spawn_device(
            exe,
            home,
            &format!("edge{i}"),
            &api_of(i),
            &log_of(i),
        )?));
    }
    let mut peak = vec![0f64; a.devices];
    let (mut kills, mut next_kill) = (0u64, Duration::from_secs(a.kill_every));
    let view = loop {
        let v: EdgeJobView = rt.block_on(c.get(&format!("/api/v1/edge/jobs/{job}")))?;
        for (i, d) in devices.iter().enumerate() {
            if let Some(d) = d
                && let Some(m) = peak_rss_mb(d.child.id())
            {
                peak[i] = peak[i].max(m);
            }
        }
        if v.job.completed != 0 {
            break v;
        }
        if a.kill_every > 0 && job_start.elapsed() >= next_kill {
            let i = kills as usize % a.devices;
            if let Some(d) = devices[i].take() {
                kill(d.child);
            }
            devices[i] = Some(spawn_device(
                exe,
                home,
                &format!("edge{i}"),
                &api_of(i),
                &log_of(i),
            )?);
            kills += 1;
            next_kill += Duration::from_secs(a.kill_every);
        }
        if job_start.elapsed() > Duration::from_secs(a.timeout) {
            return Err(invalid(format!(
                "the job did not complete in {} s: {}/{} units (logs in {})",
                a.timeout,
                v.job.done,
                v.job.units(),
                home.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let job_s = job_start.elapsed().as_secs_f64();
    for d in devices.into_iter().flatten() {
        children.push(d.child);
    }
    let out_path = home.join("out.bin");
    mycel(
        exe,
        home,
        &[
            "--api",
            api,
            "edge",
            "job",
            "show",
            &job.to_string(),
            "--output",
            out_path.to_str().expect("utf-8 path"),
        ],
    )?;
    let output = std::fs::read(&out_path).map_err(io(&out_path))?;
    let all: Vec<DeviceEntry> = rt.block_on(c.get("/api/v1/devices"))?;
    let fees_earned: u128 = all
        .iter()
        .filter(|d| d.class == Class::Standard)
        .map(|d| d.earned.0)
        .sum();
    let audit: SupplyAudit = rt.block_on(c.get("/api/v1/supply"))?;
    // 5. The cheaters, once the job is done (one auditor checks every device: on a small machine
    // it cannot also check two more during the job), beside the honest devices still running.
    let caught = if a.spoof {
        rt.block_on(spoofers(
            exe.to_path_buf(),
            home.to_path_buf(),
            api.to_string(),
        ))?
    } else {
        Vec::new()
    };
    Ok(EdgeReport {
        records: records.len(),
        unit: a.unit,
        devices: a.devices,
        loss_pct: a.loss,
        seed,
        round_ms: a.round_ms,
        single_records_per_s,
        cold_ready_ms: ready_ms.unwrap_or_default(),
        first_answer_ms: first_answer_ms.unwrap_or_default(),
        job_s,
        kills,
        leases: view.units.iter().map(|(_, u)| u.leases as u64).sum(),
        units: view.job.units(),
        units_done: view.job.done,
        fees_earned,
        fees_expected: 1_000 * records.len() as u128,
        output_identical: output == reference,
        proxy: proxies.iter().map(|p| p.stats()).collect(),
        device_peak_rss_mb: peak,
        audit,
        caught,
    })
}

/// Registers and runs the two cheaters until each is caught (or 60 rounds pass).
async fn spoofers(exe: PathBuf, home: PathBuf, api: String) -> Result<Vec<Caught>> {
    let h = mycel_node::Home(home.clone());
    let store = ModelStore::from_env();
    let engine = Arc::new(Mutex::new(LocalEngine::new(
        store,
        EngineConfig {
            threads: 1,
            mode: mycel_node::models::SERVED_MODE,
        },
    )));
    let real = {
        let engine = engine.clone();
        move |t: &[String]| -> Result<Vec<Vec<f32>>> {
            engine
                .lock()
                .expect("engine")
                .embed_counted(MINILM.name, t)
                .map(|(v, _)| v)
                .map_err(invalid)
        }
    };
    let model = {
        let mut e = engine.lock().expect("engine");
        mycel_primitives::Hash(e.embedder(MINILM.name).map_err(invalid)?.model_id().0)
    };
    // Replays the first answer it ever computed.
    let cache: Arc<Mutex<Option<Vec<Vec<f32>>>>> = Arc::default();
    let cached: EmbedFn = {
        let real = real.clone();
        Arc::new(move |t: &[String]| {
            let mut c = cache.lock().expect("cache");
            if let Some(v) = c.as_ref()
                && v.len() == t.len()
            {
                return Ok(v.clone());
            }
            let v = real(t)?;
            *c = Some(v.clone());
            Ok(v)
        })
    };
    // Real answers, but later than a standard device must give them.
    let slow: EmbedFn = {
        let real = real.clone();
        Arc::new(move |t: &[String]| {
            let v = real(t)?;
            std::thread::sleep(Duration::from_secs(5));
            Ok(v)
        })
    };
    let epoch_blocks = h.genesis()?.params.rewards.epoch_length;
    let mut tasks = Vec::new();
    for (name, owner, embed) in [
        ("spoof-cache", "dev6", cached),
        ("spoof-slow", "dev7", slow),
    ] {
        let exe = exe.clone();
        let home = home.clone();
        let api = api.clone();
        mycel_blocking(&exe, &home, &["keys", "new", name]).await?;
        mycel_blocking(
            &exe,
            &home,
            &[
                "--api", &api, "edge", "register", "--from", owner, "--device", name, "--class",
                "standard", "--bond", "2", "--fund", "5",
            ],
        )
        .await?;
        let key = mycel_node::services::accounts::key(&h, name)?;
        let c = Client::new(&api);
        let addr = mycel_node::services::accounts::address(&h, name)?;
        let cheat = name.to_string();
        tasks.push(tokio::spawn(async move {
            let mut p = Prober::new(c.clone(), key, embed, model, ProberConfig::default());
            let started = Instant::now();
            let run = tokio::spawn(async move { p.run_device().await });
            let registered = {
                let v: DeviceView = c.get(&format!("/api/v1/devices/{addr}")).await?;
                v.device.registered
            };
            let result = loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let v: DeviceView = c.get(&format!("/api/v1/devices/{addr}")).await?;
                let d = v.device;
                let caught =
                    d.failed > 0 || (cheat.ends_with("slow") && d.missed > 0 && d.answered == 0);
                if caught || d.probes > 60 {
                    let status = c.status().await?;
                    break Caught {
                        cheat: cheat.clone(),
                        rounds: d.probes,
                        seconds: started.elapsed().as_secs_f64(),
                        blocks: status.height.saturating_sub(registered),
                        epoch_blocks,
                        device: d,
                    };
                }
            };
            run.abort();
            Ok::<Caught, Error>(result)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.map_err(invalid)??);
    }
    Ok(out)
}

async fn mycel_blocking(exe: &Path, home: &Path, args: &[&str]) -> Result<String> {
    let (exe, home) = (exe.to_path_buf(), home.to_path_buf());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        mycel(&exe, &home, &a)
    })
    .await
    .map_err(invalid)?
}

impl fmt::Display for EdgeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = |b: bool| if b { "met" } else { "NOT met" };
        writeln!(
            f,
            "edge job: {} records in units of {}, {} standard devices (MiniLM), each behind a proxy with {} % loss (seed {}), rounds of {} ms, one device killed every few seconds",
            self.records, self.unit, self.devices, self.loss_pct, self.seed, self.round_ms
        )?;
        writeln!(
            f,
            "{:<58} {:>14} {:>22}",
            "figure", "mycel", "target / ceiling"
        )?;
        let rss = self.device_peak_rss_mb.iter().copied().fold(0f64, f64::max);
        let cold = self.cold_ready_ms + self.first_answer_ms;
        let rows: Vec<(String, String, String)> = vec![
            (
                "device peak RSS, MiniLM (max over devices, MB)".into(),
                format!("{rss:.0}"),
                format!("<= 300 ({})", ok(rss <= 300.0)),
            ),
            (
                "cold start: process to polling (ms)".into(),
                self.cold_ready_ms.to_string(),
                String::new(),
            ),
            (
                "  + first probe appeared to answer sealed (ms)".into(),
                self.first_answer_ms.to_string(),
                String::new(),
            ),
            (
                "cold start to first answered challenge (ms)".into(),
                cold.to_string(),
                format!("<= 5000 ({})", ok(cold <= 5_000)),
            ),
            (
                "job time (s), devices killed meanwhile".into(),
                format!("{:.0}, {}", self.job_s, self.kills),
                String::new(),
            ),
            (
                "edge throughput (records/s)".into(),
                format!("{:.0}", self.records as f64 / self.job_s),
                format!("{:.0} one process alone", self.single_records_per_s),
            ),
            (
                "units done / units (leases given)".into(),
                format!("{}/{} ({})", self.units_done, self.units, self.leases),
                ok(self.units_done == self.units).into(),
            ),
            (
                "fees earned = records x price".into(),
                format!("{} = {}", self.fees_earned, self.fees_expected),
                ok(self.fees_earned == self.fees_expected).into(),
            ),
            (
                "output identical to the single process".into(),
                self.output_identical.to_string(),
                ok(self.output_identical).into(),
            ),
            (
                "supply = sum of balances".into(),
                format!("{} at height {}", self.audit.consistent, self.audit.height),
                ok(self.audit.consistent).into(),
            ),
        ];
        for (n, v, t) in rows {
            writeln!(f, "{n:<58} {v:>14} {t:>22}")?;
        }
        for (i, p) in self.proxy.iter().enumerate() {
            writeln!(
                f,
                "link {i}: {} connections, {} chunks, {} lost, {} bytes",
                p.connections, p.chunks, p.lost, p.bytes
            )?;
        }
        for c in &self.caught {
            let caught = c.device.failed > 0 || c.device.missed > 0 && c.device.answered == 0;
            writeln!(
                f,
                "cheater {}: caught after {} probes, {:.0} s, {} blocks (epoch = {} blocks: {}); failed {}, missed {}, bond left {}, status {}",
                c.cheat,
                c.rounds,
                c.seconds,
                c.blocks,
                c.epoch_blocks,
                ok(caught && c.blocks <= c.epoch_blocks),
                c.device.failed,
                c.device.missed,
                c.device.bond,
                c.device.status.as_str()
            )?;
        }
        Ok(())
    }
}
