//! `mycel bench verify` (replay part): audit replay on the pinned SmolLM2. Honest replays across
//! thread counts (none may be flagged), detection of each fault class, replay against generation
//! wall time for a 128-token completion (target T2), the amortized overhead at the audit-rate
//! floor (T1), and whether a one-pass replay gives decode's bits.
//!
//! Prompts are lines of real text: the licence texts in `/usr/share/common-licenses` (on every
//! Debian machine), else the sentences of [`crate::ml::BENCH_PROMPT`].

use crate::ml::BENCH_PROMPT;
use mycel_ml::{
    generate::{GenerateRequest, Prompt, ReplayMode, TextGenerator},
    llama::{Attention, KvCache, Llama, LogitsAt},
    registry::{ExecMode, FileRole, ModelStore, SMOLLM2},
    runtime::with_threads,
    sampling::{SamplingParams, argmax},
};
use mycel_verify::{
    GenerationClaim, Result,
    replay::faults::{FaultClass, FaultyWorkers},
    replay_generation,
};
use std::{fmt, time::Instant};

/// Options of the replay benchmark.
#[derive(Debug, Clone)]
pub struct ReplayBenchOptions {
    /// Honest generate-then-replay rounds (worker and auditor each at 1 or 2 threads).
    pub honest: usize,
    /// Tokens per honest or faulty generation (kept short so hundreds fit in minutes).
    pub max_tokens: usize,
    /// Faulty claims per fault class.
    pub per_fault: usize,
    /// Tokens per faulty generation: long enough that another seed or prompt shows in the picks
    /// (a fault whose output equals the honest one is harmless and undetectable).
    pub fault_tokens: usize,
    /// Completion length for the wall-time comparison.
    pub long_tokens: usize,
    /// Audit probability for the amortized overhead (the protocol's floor `p_min`).
    pub audit_rate: f64,
    /// Also compare one-pass and decode in f32 mode (loads a second, 540 MB copy of the model).
    pub f32_mode: bool,
}

impl Default for ReplayBenchOptions {
    fn default() -> Self {
        Self {
            honest: 200,
            max_tokens: 8,
            per_fault: 5,
            fault_tokens: 32,
            long_tokens: 128,
            audit_rate: 0.01,
            f32_mode: true,
        }
    }
}

/// Detection of one fault class.
#[derive(Debug, Clone)]
pub struct FaultRow {
    /// The class.
    pub class: &'static str,
    /// Claims flagged.
    pub detected: usize,
    /// Claims made.
    pub total: usize,
    /// First divergent token and leaf of the first claim.
    pub first: (Option<usize>, Option<usize>),
}

/// Wall times of one 128-token job, generated and replayed.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Tokens the sampler picked.
    pub sampled: usize,
    /// Generation (prompt pass + decode), seconds.
    pub generate_s: f64,
    /// Exact one-pass replay ([`ReplayMode::Prefill`]), seconds.
    pub replay_prefill_s: f64,
    /// Exact replay by decoding ([`ReplayMode::Decode`]), seconds.
    pub replay_decode_s: f64,
    /// Whether both exact replays reproduced the generation (trace, picks, logits hash).
    pub prefill_bitwise: bool,
    /// One-pass against decode in quantized mode (the job's mode).
    pub quantized: OnePass,
    /// The same in f32 mode (dequantized weights), if measured.
    pub f32: Option<OnePass>,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Where the prompts came from.
    pub corpus: String,
    /// Honest replays run.
    pub honest: usize,
    /// Honest replays flagged (must be 0).
    pub honest_flagged: usize,
    /// Honest replays per (worker threads, auditor threads).
    pub honest_by_threads: Vec<((usize, usize), usize)>,
    /// Seconds for the honest rounds.
    pub honest_s: f64,
    /// Per fault class.
    pub faults: Vec<FaultRow>,
    /// The 128-token timing.
    pub timing: Timing,
    /// Audit probability used.
    pub audit_rate: f64,
}

impl ReplayReport {
    /// Replay over generation wall time (exact one-pass replay).
    pub fn ratio(&self) -> f64 {
        self.timing.replay_prefill_s / self.timing.generate_s.max(1e-9)
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.timing;
        writeln!(
            f,
            "mycel bench verify (replay): SmolLM2-135M Q4_1, quantized mode; prompts from {}",
            self.corpus
        )?;
        writeln!(
            f,
            "  verify::replay.honest/n={}                 {} flagged (target 0) in {:.1} s; by (worker, auditor) threads: {:?}",
            self.honest, self.honest_flagged, self.honest_s, self.honest_by_threads
        )?;
        for r in &self.faults {
            writeln!(
                f,
                "  verify::replay.fault/class={:<28} detected {}/{} (first claim: token {:?}, leaf {:?})",
                r.class, r.detected, r.total, r.first.0, r.first.1
            )?;
        }
        writeln!(
            f,
            "  verify::replay.time/tokens={},prompt={}  generate {:.2} s; exact replay one-pass {:.2} s, by decoding {:.2} s",
            t.sampled, t.prompt_tokens, t.generate_s, t.replay_prefill_s, t.replay_decode_s
        )?;
        writeln!(
            f,
            "  verify::replay.ratio                      replay/generate = {:.3} (target T2: brief ≤ 0.2, verification.md ≤ 0.33); by decoding {:.3}; exact: {}",
            self.ratio(),
            t.replay_decode_s / t.generate_s.max(1e-9),
            t.prefill_bitwise
        )?;
        writeln!(
            f,
            "  verify::replay.amortized/p={}           p × replay/generate = {:.4} (T1 ≤ 0.02; p = the p_min floor, the least any worker is audited)",
            self.audit_rate,
            self.audit_rate * self.ratio()
        )?;
        for (mode, o) in [("quantized", Some(&t.quantized)), ("f32", t.f32.as_ref())] {
            let Some(o) = o else { continue };
            writeln!(
                f,
                "  verify::replay.one_pass/mode={mode:<9}      decode {:.2} s; per-position pass {:.2} s, = decode bitwise: {} (max |Δlogit| {:e}); batched pass {:.2} s, = decode bitwise: {} (max |Δlogit| {:e}, greedy flips {} of {})",
                o.decode_s,
                o.per_position_s,
                o.per_position_bitwise,
                o.per_position_max_abs_diff,
                o.batched_s,
                o.batched_bitwise,
                o.batched_max_abs_diff,
                o.batched_argmax_flips,
                t.sampled
            )?;
        }
        Ok(())
    }
}
/// Real-text prompts: licence lines of 6 to 16 words, else the bench story's sentences.
pub fn prompts(n: usize) -> (Vec<String>, String) {
    let dir = std::path::Path::new("/usr/share/common-licenses");
    let mut lines = Vec::new();
    for name in [
        "GPL-3",
        "Apache-2.0",
        "LGPL-3",
        "GPL-2",
        "MPL-2.0",
        "Artistic",
    ] {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        for l in text.lines() {
            let words = l.split_whitespace().count();
            if (6..=16).contains(&words) {
                lines.push(l.trim().to_string());
            }
        }
    }
    let corpus = if lines.is_empty() {
        lines = BENCH_PROMPT
            .split('.')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        "the ml bench story (no /usr/share/common-licenses)".to_string()
    } else {
        format!("{} licence lines in {}", lines.len(), dir.display())
    };
    let out = (0..n).map(|i| lines[i % lines.len()].clone()).collect();
    (out, corpus)
}

fn request(text: &str, seed: u64, max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::user(text),
        params: SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 50,
            seed,
            max_tokens,
            stop: vec![],
        },
    }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// The bench story, sampled (it does not stop early in practice).
fn long_request(tokens: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Raw(BENCH_PROMPT.into()),
        params: SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 50,
            seed: 2026,
            max_tokens: tokens,
            stop: vec![],
        },
    }
}

/// Generation against replay wall time, and whether one-pass replays give decode's bits.
fn timing(g: &TextGenerator, tokens: usize) -> Result<Timing> {
    let req = long_request(tokens);
    let t = Instant::now();
    let out = g.generate(&req, |_| {})?;
    let generate_s = secs(t);
    let sampled = out.sampled_ids();
    let claim = GenerationClaim::of(&out, &req.params);
    let t = Instant::now();
    let v = replay_generation(g, &claim, ReplayMode::Prefill)?;
    let replay_prefill_s = secs(t);
    let t = Instant::now();
    let d = replay_generation(g, &claim, ReplayMode::Decode)?;
    let replay_decode_s = secs(t);
    let quantized = one_pass(g.model(), &out.prompt_ids, &sampled)?;
    Ok(Timing {
        prompt_tokens: out.prompt_ids.len(),
        sampled: sampled.len(),
        generate_s,
        replay_prefill_s,
        replay_decode_s,
        prefill_bitwise: v.is_match() && d.is_match(),
        quantized,
        f32: None,
    })
}

/// How one pass over a generated sequence compares with decoding it.
#[derive(Debug, Clone, Default)]
pub struct OnePass {
    /// Decoding the generated tokens one by one after the prompt pass, seconds.
    pub decode_s: f64,
    /// The prompt pass, then one pass with per-position attention, seconds.
    pub per_position_s: f64,
    /// One batched pass over prompt + output, seconds.
    pub batched_s: f64,
    /// Per-position pass logits = decode logits, bit for bit, at every generated position.
    pub per_position_bitwise: bool,
    /// Largest |logit difference| of the per-position pass.
    pub per_position_max_abs_diff: f32,
    /// Batched pass logits = decode logits, bit for bit.
    pub batched_bitwise: bool,
    /// Largest |logit difference| of the batched pass.
    pub batched_max_abs_diff: f32,
    /// Positions where the batched pass's greedy pick differs from decode's.
    pub batched_argmax_flips: usize,
}

fn compare(a: &[Vec<f32>], b: &[Vec<f32>]) -> (bool, f32, usize) {
    let mut max = 0f32;
    let mut bitwise = a.len() == b.len();
    let mut flips = 0;
    for (x, y) in a.iter().zip(b) {
        bitwise &= x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        max = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(max, f32::max);
        flips += usize::from(argmax(x) != argmax(y));
    }
    (bitwise, max, flips)
}

/// Decode, per-position and batched passes over `prompt ++ sampled[..n - 1]`, timed and compared
/// at each generated position's logits.
fn one_pass(m: &Llama, prompt: &[u32], sampled: &[u32]) -> Result<OnePass> {
    let fed = &sampled[..sampled.len() - 1];
    let p = prompt.len();
    let t = Instant::now();
    let mut cache = KvCache::default();
    let mut decode = m
        .forward_traced(prompt, &mut cache, Attention::Batched, LogitsAt::Last)?
        .logits;
    for &tok in fed {
        decode.extend(
            m.forward_traced(&[tok], &mut cache, Attention::Batched, LogitsAt::Last)?
                .logits,
        );
    }
    let decode_s = secs(t);
    let t = Instant::now();
    let mut cache = KvCache::default();
    let mut per = m
        .forward_traced(prompt, &mut cache, Attention::Batched, LogitsAt::Last)?
        .logits;
    if !fed.is_empty() {
        per.extend(
            m.forward_traced(fed, &mut cache, Attention::PerPosition, LogitsAt::All)?
                .logits,
        );
    }
    let per_position_s = secs(t);
    let all: Vec<u32> = prompt.iter().chain(fed).copied().collect();
    let t = Instant::now();
    let batched = m
        .forward_traced(
            &all,
            &mut KvCache::default(),
            Attention::Batched,
            LogitsAt::All,
        )?
        .logits;
    let batched_s = secs(t);
    let (per_position_bitwise, per_position_max_abs_diff, _) = compare(&per, &decode);
    let (batched_bitwise, batched_max_abs_diff, batched_argmax_flips) =
        compare(&batched[p - 1..], &decode);
    Ok(OnePass {
        decode_s,
        per_position_s,
        batched_s,
        per_position_bitwise,
        per_position_max_abs_diff,
        batched_bitwise,
        batched_max_abs_diff,
        batched_argmax_flips,
    })
}

/// Runs the benchmark on the pinned SmolLM2 (an error if it is not in `store`), logging progress.
pub fn run(
    store: &ModelStore,
    opts: &ReplayBenchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<ReplayReport> {
    let gguf = store.read_verified(&SMOLLM2, FileRole::Weights)?;
    let g = TextGenerator::from_gguf_bytes(&gguf, ExecMode::Quantized)?;
    let mut report = ReplayReport {
        audit_rate: opts.audit_rate,
        ..Default::default()
    };
    log(&format!("timing a {}-token completion", opts.long_tokens));
    report.timing = with_threads(1, || timing(&g, opts.long_tokens))??;
    if opts.f32_mode {
        log("the same in f32 mode");
        let f = TextGenerator::from_gguf_bytes(&gguf, ExecMode::F32)?;
        let prompt = g.encode_prompt(&Prompt::Raw(BENCH_PROMPT.into()))?;
        let tokens = with_threads(1, || {
            g.generate(&long_request(opts.long_tokens), |_| {})
                .map(|o| o.sampled_ids())
        })??;
        report.timing.f32 = Some(with_threads(1, || one_pass(f.model(), &prompt, &tokens))??);
    }

    let (texts, corpus) = prompts(opts.honest.max(opts.per_fault));
    report.corpus = corpus;
    log(&format!("{} honest replays", opts.honest));
    let mut by = std::collections::BTreeMap::new();
    let start = Instant::now();
    for (i, text) in texts.iter().take(opts.honest).enumerate() {
        let (worker, auditor) = (1 + i % 2, 1 + (i / 2) % 2);
        let req = request(text, i as u64, opts.max_tokens);
        let out = with_threads(worker, || g.generate(&req, |_| {}))??;
        let claim = GenerationClaim::of(&out, &req.params);
        let v = with_threads(auditor, || {
            replay_generation(&g, &claim, ReplayMode::Prefill)
        })??;
        report.honest += 1;
        report.honest_flagged += usize::from(!v.is_match());
        *by.entry((worker, auditor)).or_insert(0) += 1;
        if (i + 1) % 50 == 0 {
            log(&format!(
                "  {} honest replays, {} flagged",
                i + 1,
                report.honest_flagged
            ));
        }
    }
    report.honest_s = start.elapsed().as_secs_f64();
    report.honest_by_threads = by.into_iter().collect();

    log("building faulty workers");
    let workers = FaultyWorkers::new(&gguf)?;
    for class in FaultClass::ALL {
        let mut row = FaultRow {
            class: class.name(),
            detected: 0,
            total: 0,
            first: (None, None),
        };
        for (i, text) in texts.iter().take(opts.per_fault).enumerate() {
            let req = request(text, 1000 + i as u64, opts.fault_tokens);
            let claim = with_threads(1, || workers.claim(class, &g, &req))??;
            let v = with_threads(1, || replay_generation(&g, &claim, ReplayMode::Prefill))??;
            if i == 0 {
                row.first = (v.first_output_mismatch(), v.first_divergent_leaf());
            }
            row.total += 1;
            row.detected += usize::from(!v.is_match());
        }
        log(&format!("  {}: {}/{}", row.class, row.detected, row.total));
        report.faults.push(row);
    }
    Ok(report)
}
