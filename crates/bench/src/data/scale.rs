//! `mycel bench data`: the dedup engine beside rensa and datasketch in one run, on the same input
//! files, each on one thread; the `mycel_data` wheel beside the CLI; quality of every engine
//! against a ground truth computed for the corpus (labelled synthetic, and one we did not make);
//! what connected components would give on the same data; and the two-core scaling of what runs
//! in parallel (the staged pipeline's processes, signing threads, rensa's Rayon pool).
//!
//! Throughput is input MB (10⁶ bytes of the JSONL file every engine reads) per second of dedup
//! work. mycel is timed in process over the file ([`mycel_data::jsonl::dedup_jsonl`]: read, parse,
//! normalise, sign, band, verify, write the clusters), and also as the `mycel data dedup` process.
//! The Python engines are timed inside their child process, from the texts in memory to the
//! clusters (tokenising included for the peers, reading the JSONL not), and as the whole process.

use super::{
    corpus::{self, Records},
    peers::{self, Engine, PyRun},
    truth::{self, Scores, Truth},
};
use mycel_data::{
    Error, Result,
    dedup::Tier,
    error::io,
    jsonl::{JsonlOptions, dedup_jsonl},
    minhash::{K, Signer},
    normalize::normalize_into,
    profile::Profile,
    synth,
};
use std::{
    fmt,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// The threshold of every engine (tier D).
pub const THRESHOLD: f64 = 0.8;

/// Options of `mycel bench data`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataBenchArgs {
    /// Records of the labelled synthetic corpus: a third sources, a third their edited variants,
    /// a third unrelated documents, ~500 words each.
    #[arg(long, default_value_t = 15_000)]
    pub records: usize,
    /// Thread counts (comma-separated): every engine is measured on one thread; 2 adds the
    /// two-core scaling of what runs in parallel.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// A corpus we did not make (repeatable): a folder of text files (e.g. the crate sources
    /// under `~/.cargo/registry/src/<index>`), or `apt` (the package descriptions of
    /// `apt-cache dumpavail`).
    #[arg(long)]
    pub real: Vec<String>,
    /// Cap on each real corpus, MB of text.
    #[arg(long, default_value_t = 32)]
    pub real_mb: u64,
    /// Timed runs of each engine on each corpus; the fastest is reported.
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Python of the peers' venv (default: target/py-data-peers/bin/python, made by
    /// `scripts/fetch-peers.sh`).
    #[arg(long, env = "MYCEL_DATA_PEERS_PYTHON")]
    pub peers_python: Option<PathBuf>,
    /// Python with the `mycel_data` wheel (default: target/py-data/bin/python, made by
    /// `scripts/build-py.sh`).
    #[arg(long, env = "MYCEL_PY_DATA_PYTHON")]
    pub wheel_python: Option<PathBuf>,
    /// Seed of the synthetic corpus.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl Default for DataBenchArgs {
    fn default() -> Self {
        DataBenchArgs {
            records: 15_000,
            threads: vec![1, 2],
            real: Vec::new(),
            real_mb: 32,
            repeats: 2,
            peers_python: None,
            wheel_python: None,
            seed: 7,
        }
    }
}

/// One engine on one corpus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineFigure {
    /// Engine and version.
    pub engine: String,
    /// What was run.
    pub what: String,
    /// Threads.
    pub threads: usize,
    /// Seconds of the dedup work (fastest run).
    pub seconds: f64,
    /// Input MB/s of the dedup work.
    pub mb_s: f64,
    /// Input MB/s without the peer's tokenising in Python.
    pub mb_s_without_tokens: Option<f64>,
    /// Seconds of the whole process (child processes only).
    pub process_s: Option<f64>,
    /// mycel's in-process MB/s over this engine's.
    pub mycel_ratio: f64,
    /// Against the ground truth.
    pub scores: Scores,
    /// Recall of the labelled pairs at J ≥ 0.8 (synthetic corpus).
    pub labelled_recall: Option<f64>,
}

/// One corpus: its ground truth and every engine on it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CorpusReport {
    /// What the corpus is.
    pub name: String,
    /// Records.
    pub records: usize,
    /// Distinct normalised texts.
    pub uniques: usize,
    /// Bytes of the JSONL file.
    pub file_bytes: u64,
    /// Bytes of text.
    pub text_bytes: u64,
    /// Candidate pairs of the truth banding (after the size filter), all checked exactly.
    pub truth_candidates: u64,
    /// Pairs of distinct texts at exact J ≥ 0.8.
    pub truth_pairs: usize,
    /// Seconds to compute the truth.
    pub truth_s: f64,
    /// Engines measured.
    pub engines: Vec<EngineFigure>,
    /// Engines not measured, and why.
    pub missing: Vec<String>,
    /// Connected components over the truth pairs.
    pub components: Scores,
    /// The representative rule on the complete truth (mycel's rule without a missed candidate).
    pub greedy: Scores,
    /// The wheel's MB/s over the CLI process's (target ≥ 0.9).
    pub wheel_vs_cli: Option<f64>,
}

/// A two-core scaling figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scaling {
    /// What runs in parallel.
    pub what: String,
    /// Seconds on one core.
    pub one_s: f64,
    /// Seconds on two.
    pub two_s: f64,
    /// `one_s / two_s`.
    pub speedup: f64,
    /// A remark (what was checked).
    pub note: String,
}

/// The report of `mycel bench data`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataReport {
    /// Cores available to this process.
    pub cores: usize,
    /// Miss probability of the truth banding at J = 0.8.
    pub truth_miss_at_threshold: f64,
    /// Detection probability of mycel's tier-D banding (16 × 8) at J = 0.8.
    pub mycel_detection_at_threshold: f64,
    /// The corpora.
    pub corpora: Vec<CorpusReport>,
    /// Two-core scaling.
    pub scaling: Vec<Scaling>,
    /// Scaling figures not measured, and why.
    pub scaling_missing: Vec<String>,
}

fn log(s: &str) {
    eprintln!("bench data: {s}");
}

fn mb_s(bytes: u64, s: f64) -> f64 {
    bytes as f64 / 1e6 / s.max(1e-9)
}

/// Representatives from a `{"id": <record index>, "cluster": <record index>}` clusters file.
fn read_reps(path: &Path, n: usize) -> Result<Vec<u32>> {
    let body = std::fs::read_to_string(path).map_err(io(path))?;
    let mut reps: Vec<u32> = (0..n as u32).collect();
    for line in body.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::BadInput {
            path: path.into(),
            why: e.to_string(),
        })?;
        let get = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        if let (Some(i), Some(c)) = (get("id"), get("cluster"))
            && (i as usize) < n
        {
            reps[i as usize] = c as u32;
        }
    }
    Ok(reps)
}

/// The `mycel` binary this process is, if it is one (not a test binary).
fn mycel_exe() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .filter(|p| p.file_stem().is_some_and(|s| s == "mycel"))
}

fn run_cmd(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(io(Path::new("mycel")))?;
    if !out.status.success() {
        return Err(Error::BadInput {
            path: "mycel".into(),
            why: format!(
                "{cmd:?} exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Labelled synthetic pairs: (source, variant, exact J).
type Labels = Vec<(usize, usize, f64)>;

fn labelled_recall(labels: &Labels, reps: &[u32]) -> f64 {
    let sel: Vec<_> = labels.iter().filter(|p| p.2 >= THRESHOLD).collect();
    let hit = sel.iter().filter(|p| reps[p.0] == reps[p.1]).count();
    if sel.is_empty() {
        1.0
    } else {
        hit as f64 / sel.len() as f64
    }
}

struct Ctx<'a> {
    args: &'a DataBenchArgs,
    profile: Profile,
    work: PathBuf,
    peers_python: Option<PathBuf>,
    wheel_python: Option<PathBuf>,
}

impl Ctx<'_> {
    /// Every engine on one corpus, one thread each.
    fn corpus(&self, recs: &Records, labels: Option<&Labels>, tag: &str) -> Result<CorpusReport> {
        let input = self.work.join(format!("{tag}.jsonl"));
        let file_bytes = recs.write_jsonl(&input, None)?;
        let n = recs.texts.len();
        log(&format!(
            "{tag}: {n} records, {:.1} MB; ground truth…",
            file_bytes as f64 / 1e6
        ));
        let truth = Truth::build(&self.profile, &recs.texts, THRESHOLD);
        log(&format!(
            "{tag}: truth: {} candidates, {} pairs at J >= {THRESHOLD} ({:.1} s)",
            truth.candidates,
            truth.truth_pairs(),
            truth.seconds
        ));
        let mut engines = Vec::new();
        let mut missing = Vec::new();

        // mycel, in process over the file.
        let out = self.work.join(format!("{tag}.clusters.jsonl"));
        let mut best = f64::MAX;
        for _ in 0..self.args.repeats.max(1) {
            let t = Instant::now();
            dedup_jsonl(
                &input,
                &out,
                &JsonlOptions::default(),
                &self.profile,
                Tier::D,
                THRESHOLD,
                &mut |_| {},
            )?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let reps = read_reps(&out, n)?;
        let mycel = mb_s(file_bytes, best);
        let figure = |engine: String,
                      what: String,
                      seconds: f64,
                      tok: Option<f64>,
                      process_s: Option<f64>,
                      reps: &[u32]| EngineFigure {
            engine,
            what,
            threads: 1,
            seconds,
            mb_s: mb_s(file_bytes, seconds),
            mb_s_without_tokens: tok.map(|t| mb_s(file_bytes, seconds - t)),
            process_s,
            mycel_ratio: mycel / mb_s(file_bytes, seconds),
            scores: truth.score(reps),
            labelled_recall: labels.map(|l| labelled_recall(l, reps)),
        };
        engines.push(figure(
            format!("mycel {}", env!("CARGO_PKG_VERSION")),
            "dedup_jsonl in process: read, parse, normalise, sign 128, LSH 16x8, 8-bit prefilter, exact verify, write".into(),
            best,
            None,
            None,
            &reps,
        ));

        // mycel, the CLI process.
        let mut cli_mb_s = None;
        match mycel_exe() {
            Some(exe) => {
                let mut best = f64::MAX;
                for _ in 0..self.args.repeats.max(1) {
                    let t = Instant::now();
                    run_cmd(
                        Command::new(&exe)
                            .args(["data", "dedup"])
                            .arg(&input)
                            .arg("--clusters")
                            .arg(&out),
                    )?;
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let reps = read_reps(&out, n)?;
                cli_mb_s = Some(mb_s(file_bytes, best));
                engines.push(figure(
                    "mycel data dedup (process)".into(),
                    "the CLI: process start, the same work, exit".into(),
                    best,
                    None,
                    Some(best),
                    &reps,
                ));
            }
            None => {
                missing.push("mycel data dedup (process): not run from the mycel binary".into())
            }
        }
        let _ = std::fs::remove_file(&out);

        // The Python engines.
        let mut wheel_vs_cli = None;
        for engine in [Engine::Rensa, Engine::Datasketch, Engine::Wheel] {
            let python = match engine {
                Engine::Wheel => self.wheel_python.as_deref(),
                _ => self.peers_python.as_deref(),
            };
            let Some(python) = python else {
                missing.push(match engine {
                    Engine::Wheel => "wheel: not installed (scripts/build-py.sh)".into(),
                    e => format!("{}: not installed (scripts/fetch-peers.sh)", e.name()),
                });
                continue;
            };
            log(&format!("{tag}: {}…", engine.name()));
            let mut best: Option<PyRun> = None;
            for _ in 0..self.args.repeats.max(1) {
                let r = peers::run(python, engine, &input, &self.work, 1)?;
                if best.as_ref().is_none_or(|b| r.dedup_s < b.dedup_s) {
                    best = Some(r);
                }
            }
            let r = best.expect("one run");
            if r.reps.len() != n {
                return Err(Error::BadInput {
                    path: python.into(),
                    why: format!(
                        "{} gave {} representatives for {n} records",
                        engine.name(),
                        r.reps.len()
                    ),
                });
            }
            let f = figure(
                match engine {
                    Engine::Wheel => format!("mycel_data wheel {}", r.version),
                    e => format!("{} {}", e.name(), r.version),
                },
                r.what.clone(),
                r.dedup_s,
                (engine != Engine::Wheel).then_some(r.tokenize_s),
                Some(r.process_s),
                &r.reps,
            );
            if engine == Engine::Wheel {
                wheel_vs_cli = cli_mb_s.map(|c| f.mb_s / c);
            }
            engines.push(f);
        }
        Ok(CorpusReport {
            name: recs.name.clone(),
            records: n,
            uniques: truth.uniques(),
            file_bytes,
            text_bytes: recs.text_bytes(),
            truth_candidates: truth.candidates,
            truth_pairs: truth.truth_pairs(),
            truth_s: truth.seconds,
            engines,
            missing,
            components: truth.components(),
            greedy: truth.greedy(),
            wheel_vs_cli,
        })
    }

    /// Two-core scaling on the synthetic corpus.
    fn scaling(&self, recs: &Records, out: &mut Vec<Scaling>, missing: &mut Vec<String>) {
        // Signing (normalise + shingle + 128 MinHash) of two halves on two threads, in process.
        let texts = &recs.texts;
        let bytes = recs.text_bytes();
        let sign_all = |part: &[String]| {
            let mut s = Signer::new(&self.profile);
            let (mut norm, mut sig, mut x) = (String::new(), [0u32; K], 0u32);
            for t in part {
                normalize_into(t, &mut norm);
                s.sign(&norm, &mut sig);
                x ^= sig[0];
            }
            x
        };
        let t = Instant::now();
        std::hint::black_box(sign_all(texts));
        let one = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (a, b) = texts.split_at(texts.len() / 2);
        std::thread::scope(|s| {
            let h = s.spawn(|| sign_all(a));
            std::hint::black_box(sign_all(b));
            std::hint::black_box(h.join().expect("signing thread"));
        });
        let two = t.elapsed().as_secs_f64();
        out.push(Scaling {
            what: "signing threads in process (normalise + 5-gram shingles + 128 MinHash; halves)"
                .into(),
            one_s: one,
            two_s: two,
            speedup: one / two,
            note: format!(
                "{:.1} → {:.1} MB/s of text",
                mb_s(bytes, one),
                mb_s(bytes, two)
            ),
        });

        // The staged pipeline: each stage as one process, then as two processes at once.
        match mycel_exe() {
            Some(exe) => match self.staged(&exe, recs) {
                Ok(mut v) => out.append(&mut v),
                Err(e) => missing.push(format!("staged pipeline (mycel data stage): {e}")),
            },
            None => missing.push("staged pipeline: not run from the mycel binary".into()),
        }

        // rensa's Rayon pool.
        if let Some(py) = self.peers_python.as_deref() {
            let input = self.work.join("synthetic.jsonl");
            let best = |threads| -> Result<PyRun> {
                let mut best: Option<PyRun> = None;
                for _ in 0..self.args.repeats.max(1) {
                    let r = peers::run(py, Engine::Rensa, &input, &self.work, threads)?;
                    if best.as_ref().is_none_or(|b| r.dedup_s < b.dedup_s) {
                        best = Some(r);
                    }
                }
                Ok(best.expect("one run"))
            };
            match (best(1), best(2)) {
                (Ok(a), Ok(b)) => out.push(Scaling {
                    what: "rensa with RAYON_NUM_THREADS=2 (tokens in Python stay on one thread)"
                        .into(),
                    one_s: a.dedup_s,
                    two_s: b.dedup_s,
                    speedup: a.dedup_s / b.dedup_s,
                    note: format!(
                        "without tokenising: {:.2} → {:.2} s",
                        a.dedup_s - a.tokenize_s,
                        b.dedup_s - b.tokenize_s
                    ),
                }),
                (Err(e), _) | (_, Err(e)) => missing.push(format!("rensa at 2 threads: {e}")),
            }
        }
    }

    /// `mycel data stage` sign / candidates / verify / cluster over the corpus in two JSONL
    /// files: each stage once with one process (`0/1`), once with two at once (`0/2`, `1/2`).
    fn staged(&self, exe: &Path, recs: &Records) -> Result<Vec<Scaling>> {
        let (ha, hb) = (
            self.work.join("half-a.jsonl"),
            self.work.join("half-b.jsonl"),
        );
        recs.write_jsonl(&self.work.join("whole.jsonl"), Some((&ha, &hb)))?;
        let _ = std::fs::remove_file(self.work.join("whole.jsonl"));
        let inputs = [ha.as_path(), hb.as_path()];
        let mut walls = Vec::new();
        let mut clusters = Vec::new();
        for n in [1usize, 2] {
            let d = self.work.join(format!("staged-{n}"));
            let (sigs, cand, ver) = (d.join("sigs"), d.join("cand"), d.join("ver"));
            let stage = |args: &dyn Fn(usize) -> Command| -> Result<f64> {
                let t = Instant::now();
                let mut children = Vec::new();
                for i in 0..n {
                    let mut c = args(i);
                    c.stdout(std::process::Stdio::null());
                    c.stderr(std::process::Stdio::piped());
                    children.push(c.spawn().map_err(io(exe))?);
                }
                for c in children {
                    let o = c.wait_with_output().map_err(io(exe))?;
                    if !o.status.success() {
                        return Err(Error::BadInput {
                            path: exe.into(),
                            why: String::from_utf8_lossy(&o.stderr).trim().to_string(),
                        });
                    }
                }
                Ok(t.elapsed().as_secs_f64())
            };
            let shard = |i: usize| format!("{i}/{n}");
            let sign = stage(&|i| {
                let mut c = Command::new(exe);
                c.args(["data", "stage", "sign"])
                    .args(inputs)
                    .args(["--shard", &shard(i), "--out"])
                    .arg(&sigs);
                c
            })?;
            let candidates = stage(&|i| {
                let mut c = Command::new(exe);
                c.args(["data", "stage", "candidates", "--sigs"])
                    .arg(&sigs)
                    .args(["--bands", &shard(i), "--out"])
                    .arg(&cand);
                c
            })?;
            let verify = stage(&|i| {
                let mut c = Command::new(exe);
                c.args(["data", "stage", "verify", "--candidates"])
                    .arg(&cand)
                    .arg("--inputs")
                    .args(inputs)
                    .args(["--shard", &shard(i), "--out"])
                    .arg(&ver);
                c
            })?;
            let t = Instant::now();
            let json = run_cmd(
                Command::new(exe)
                    .args(["--json", "data", "stage", "cluster", "--sigs"])
                    .arg(&sigs)
                    .arg("--verified")
                    .arg(&ver)
                    .arg("--out")
                    .arg(d.join("clusters.parquet")),
            )?;
            let cluster = t.elapsed().as_secs_f64();
            clusters.push(
                serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v.get("clusters").and_then(serde_json::Value::as_u64)),
            );
            walls.push([sign, candidates, verify, cluster]);
            let _ = std::fs::remove_dir_all(&d);
        }
        let _ = std::fs::remove_file(&ha);
        let _ = std::fs::remove_file(&hb);
        let names = [
            "stage sign (2 shards: one JSONL file each)",
            "stage candidates (2 band groups)",
            "stage verify (2 shares of the candidates)",
            "stage cluster (one process both times)",
        ];
        let same = clusters[0] == clusters[1];
        let mut v: Vec<Scaling> = names
            .iter()
            .enumerate()
            .map(|(i, name)| Scaling {
                what: format!("staged pipeline, {name}"),
                one_s: walls[0][i],
                two_s: walls[1][i],
                speedup: walls[0][i] / walls[1][i],
                note: "separate processes (process start included)".into(),
            })
            .collect();
        let (a, b): (f64, f64) = (walls[0].iter().sum(), walls[1].iter().sum());
        v.push(Scaling {
            what: "staged pipeline end to end (sum of the stages)".into(),
            one_s: a,
            two_s: b,
            speedup: a / b,
            note: format!(
                "clusters {} (1 process) / {} (2): {}",
                clusters[0].map_or("?".into(), |c| c.to_string()),
                clusters[1].map_or("?".into(), |c| c.to_string()),
                if same { "same" } else { "DIFFERENT" }
            ),
        });
        Ok(v)
    }
}

/// Runs `mycel bench data`.
pub fn run(args: &DataBenchArgs) -> Result<DataReport> {
    let profile = Profile::text_v1();
    let work = std::env::temp_dir().join(format!("mycel-bench-data-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    let ctx = Ctx {
        args,
        profile: profile.clone(),
        work: work.clone(),
        peers_python: peers::find_python(
            args.peers_python.as_deref(),
            "py-data-peers",
            Engine::Rensa,
        )
        .filter(|p| peers::find_python(Some(p), "py-data-peers", Engine::Datasketch).is_some()),
        wheel_python: peers::find_python(args.wheel_python.as_deref(), "py-data", Engine::Wheel),
    };
    let result = (|| -> Result<DataReport> {
        let sources = (args.records / 3).max(1);
        let c = synth::corpus(
            &profile,
            sources,
            args.records.saturating_sub(2 * sources),
            500,
            args.seed,
        );
        let labels: Labels = c
            .pairs
            .iter()
            .map(|p| (p.source, p.variant, p.jaccard))
            .collect();
        let text_mb = c.docs.iter().map(|d| d.len() as f64).sum::<f64>() / 1e6;
        let synth = Records {
            name: format!(
                "synthetic (mycel_data::synth, seed {}): {sources} sources + their edited variants + {} unrelated, ~500 words, {text_mb:.1} MB",
                args.seed,
                c.docs.len() - 2 * sources
            ),
            ids: (0..c.docs.len()).map(|i| i.to_string()).collect(),
            texts: c.docs,
        };
        let mut corpora = vec![ctx.corpus(&synth, Some(&labels), "synthetic")?];
        let (mut scaling, mut scaling_missing) = (Vec::new(), Vec::new());
        if args.threads.iter().any(|&t| t >= 2) {
            log("two-core scaling…");
            ctx.scaling(&synth, &mut scaling, &mut scaling_missing);
        }
        drop(synth);
        for (i, spec) in args.real.iter().enumerate() {
            let recs = corpus::real(spec, args.real_mb * 1_000_000)?;
            corpora.push(ctx.corpus(&recs, None, &format!("real-{i}"))?);
        }
        Ok(DataReport {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            truth_miss_at_threshold: truth::miss_probability(THRESHOLD),
            mycel_detection_at_threshold: profile.tier_d.detection_probability(THRESHOLD),
            corpora,
            scaling,
            scaling_missing,
        })
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

impl fmt::Display for DataReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mycel bench data: tier D at J >= {THRESHOLD}, every engine on one thread over the same JSONL file; {} cores",
            self.cores
        )?;
        writeln!(
            f,
            "MB/s = MB of the input file / s of dedup work (Python engines: timed inside the child, texts in memory → clusters, tokens included)"
        )?;
        writeln!(
            f,
            "quality over distinct normalised texts: truth = every pair sharing a band of {}x{} over the same signatures (size-filtered), checked on the exact word-5-gram Jaccard; a J >= {THRESHOLD} pair escapes it with p = {:.1e}",
            truth::TRUTH_BANDS,
            truth::TRUTH_ROWS,
            self.truth_miss_at_threshold
        )?;
        writeln!(
            f,
            "pair P/R: pairs of texts in one cluster against the truth pairs; clust P: members at J >= {THRESHOLD} with their representative; label R: labelled synthetic pairs at J >= {THRESHOLD} together"
        )?;
        writeln!(
            f,
            "a partition cannot follow a similarity that is not transitive: \"rule on the full truth\" is mycel's rule without a missed candidate (its ceiling); mycel's 16x8 banding finds a pair at exactly J = {THRESHOLD} with p = {:.3}",
            self.mycel_detection_at_threshold
        )?;
        for c in &self.corpora {
            writeln!(f)?;
            writeln!(f, "corpus: {}", c.name)?;
            writeln!(
                f,
                "  {} records, {} distinct texts, {:.1} MB file ({:.1} MB text); truth: {} candidates checked, {} pairs at J >= {THRESHOLD} ({:.1} s)",
                c.records,
                c.uniques,
                c.file_bytes as f64 / 1e6,
                c.text_bytes as f64 / 1e6,
                c.truth_candidates,
                c.truth_pairs,
                c.truth_s
            )?;
            writeln!(
                f,
                "  {:<30} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
                "engine (1 thread)",
                "MB/s",
                "mycel/x",
                "no-token",
                "process",
                "pair P",
                "pair R",
                "clust P",
                "label R"
            )?;
            for e in &c.engines {
                writeln!(
                    f,
                    "  {:<30} {:>8.2} {:>7.2}x {:>9} {:>9} {:>8.4} {:>8.4} {:>8.4} {:>8}",
                    e.engine,
                    e.mb_s,
                    e.mycel_ratio,
                    e.mb_s_without_tokens
                        .map_or("-".into(), |v| format!("{v:.2}")),
                    e.process_s.map_or("-".into(), |v| format!("{v:.2} s")),
                    e.scores.pair_precision,
                    e.scores.pair_recall,
                    e.scores.cluster_precision,
                    e.labelled_recall.map_or("-".into(), |v| format!("{v:.4}")),
                )?;
            }
            let (cc, g) = (&c.components, &c.greedy);
            for (name, s) in [
                ("rule on the full truth", g),
                ("connected components (truth)", cc),
            ] {
                writeln!(
                    f,
                    "  {:<30} {:>8} {:>8} {:>9} {:>9} {:>8.4} {:>8.4} {:>8.4} {:>8}",
                    name,
                    "-",
                    "-",
                    "-",
                    "-",
                    s.pair_precision,
                    s.pair_recall,
                    s.cluster_precision,
                    "-"
                )?;
            }
            for e in &c.engines {
                let s = &e.scores;
                writeln!(
                    f,
                    "    {}: {} — {} clusters, {} of {} predicted pairs true, {} of {} truth pairs found, {} of {} members at J >= {THRESHOLD} with their representative (lowest {:.3}), {} left alone beside an earlier representative at J >= {THRESHOLD}, {} records apart from a copy identical after mycel's normalisation",
                    e.engine,
                    e.what,
                    s.clusters,
                    s.correct_pairs,
                    s.predicted_pairs,
                    s.correct_pairs,
                    s.truth_pairs,
                    s.members_ok,
                    s.members,
                    s.min_member_jaccard,
                    s.missed_joins,
                    s.copies_split
                )?;
            }
            writeln!(
                f,
                "    rule on the full truth (each text joins the earliest representative it has a truth pair with): {} clusters, {} of {} predicted pairs true, {} of {} truth pairs found",
                g.clusters, g.correct_pairs, g.predicted_pairs, g.correct_pairs, g.truth_pairs
            )?;
            writeln!(
                f,
                "    connected components: {} clusters, {} of {} implied pairs true, {} of {} members at J >= {THRESHOLD} with the component's earliest text (lowest {:.3})",
                cc.clusters,
                cc.correct_pairs,
                cc.predicted_pairs,
                cc.members_ok,
                cc.members,
                cc.min_member_jaccard
            )?;
            if let Some(r) = c.wheel_vs_cli {
                writeln!(
                    f,
                    "  wheel / CLI process throughput: {r:.2} (target >= 0.90: {})",
                    if r >= 0.9 { "met" } else { "not met" }
                )?;
            }
            for m in &c.missing {
                writeln!(f, "  {m}")?;
            }
        }
        if !self.scaling.is_empty() || !self.scaling_missing.is_empty() {
            writeln!(f)?;
            writeln!(f, "two cores (synthetic corpus):")?;
            for s in &self.scaling {
                writeln!(
                    f,
                    "  {:<78} {:>7.2} s → {:>6.2} s  x{:.2}  {}",
                    s.what, s.one_s, s.two_s, s.speedup, s.note
                )?;
            }
            for m in &self.scaling_missing {
                writeln!(f, "  {m}")?;
            }
        }
        Ok(())
    }
}
