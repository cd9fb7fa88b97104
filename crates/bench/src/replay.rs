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
    llama::{Attention, KvCache, LogitsAt},
    registry::{ExecMode, FileRole, ModelStore, SMOLLM2},
    runtime::with_threads,
    sampling::SamplingParams,
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
    /// Plain batched prefill over prompt + output (screening only), seconds.
    pub screen_s: f64,
    /// Whether the one-pass replay's trace and logits equal the generation's.
    pub prefill_bitwise: bool,
    /// Whether the batched prefill's logits equal decode's bit for bit, at every generated position.
    pub screen_bitwise: bool,
    /// Largest |logit difference| between batched prefill and decode.
    pub screen_max_abs_diff: f32,
    /// Positions where the batched prefill's greedy pick differs from decode's.
    pub screen_argmax_flips: usize,
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
            "  verify::replay.time/tokens={}             generate {:.2} s; replay one-pass {:.2} s, by decoding {:.2} s; batched prefill {:.2} s",
            t.sampled, t.generate_s, t.replay_prefill_s, t.replay_decode_s, t.screen_s
        )?;
        writeln!(
            f,
            "  verify::replay.ratio                      replay/generate = {:.3} (T2 brief ≤ 0.2, verification.md ≤ 0.33); by decoding {:.3}; screening {:.3}",
            self.ratio(),
            t.replay_decode_s / t.generate_s.max(1e-9),
            t.screen_s / t.generate_s.max(1e-9)
        )?;
        writeln!(
            f,
            "  verify::replay.amortized/p={}           p × replay/generate = {:.4} (T1 ≤ 0.02; p = p_min floor, so an upper bound on what honest workers pay)",
            self.audit_rate,
            self.audit_rate * self.ratio()
        )?;
        writeln!(
            f,
            "  verify::replay.bitwise                    one-pass replay = decode: {}; batched prefill = decode: {} (max |Δlogit| {:e}, greedy flips {} of {})",
            t.prefill_bitwise,
            t.screen_bitwise,
            t.screen_max_abs_diff,
            t.screen_argmax_flips,
            t.sampled.saturating_sub(1)
        )
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

/// Generation against replay wall time, and whether one-pass replays give decode's bits.
fn timing(g: &TextGenerator, tokens: usize) -> Result<Timing> {
    // Greedy, so the completion runs to `tokens` only if no end-of-sequence comes; a sampled
    // story does not stop early in practice.
    let req = GenerateRequest {
        prompt: Prompt::Raw(BENCH_PROMPT.into()),
        params: SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 50,
            seed: 2026,
            max_tokens: tokens,
            stop: vec![],
        },
    };
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
    // Decode's logits at each generated position, then one batched pass over the same tokens.
    let m = g.model();
    let fed = &sampled[..sampled.len() - 1];
    let mut cache = KvCache::default();
    let mut decode = vec![
        m.forward_traced(
            &out.prompt_ids,
            &mut cache,
            Attention::Batched,
            LogitsAt::Last,
        )?
        .logits
        .remove(0),
    ];
    for &tok in fed {
        decode.push(
            m.forward_traced(&[tok], &mut cache, Attention::Batched, LogitsAt::Last)?
                .logits
                .remove(0),
        );
    }
    let all: Vec<u32> = out.prompt_ids.iter().chain(fed).copied().collect();
    let t = Instant::now();
    let screen = m.forward_traced(
        &all,
        &mut KvCache::default(),
        Attention::Batched,
        LogitsAt::All,
    )?;
    let screen_s = secs(t);
    let p = out.prompt_ids.len();
    let mut max = 0f32;
    let mut bitwise = true;
    let mut flips = 0;
    for (i, d) in decode.iter().enumerate() {
        let s = &screen.logits[p - 1 + i];
        bitwise &= s.iter().zip(d).all(|(a, b)| a.to_bits() == b.to_bits());
        max = s
            .iter()
            .zip(d)
            .map(|(a, b)| (a - b).abs())
            .fold(max, f32::max);
        flips += usize::from(mycel_ml::sampling::argmax(s) != mycel_ml::sampling::argmax(d));
    }
    Ok(Timing {
        prompt_tokens: p,
        sampled: sampled.len(),
        generate_s,
        replay_prefill_s,
        replay_decode_s,
        screen_s,
        prefill_bitwise: v.is_match() && d.is_match(),
        screen_bitwise: bitwise,
        screen_max_abs_diff: max,
        screen_argmax_flips: flips,
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
