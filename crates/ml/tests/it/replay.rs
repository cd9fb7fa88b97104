//! Execution traces and replay: a replay of an honest generation gives the worker's trace, logits
//! and tokens bit for bit, in either replay mode, at any thread count and in a fresh process.

use crate::models::pinned_models;
use mycel_ml::{
    generate::{
        GenerateRequest, Generation, Prompt, ReplayMode, TRACE_CHUNK, TextGenerator, trace_leaf_at,
        trace_root,
    },
    registry::{ExecMode, ModelStore, SMOLLM2},
    runtime::with_threads,
    sampling::SamplingParams,
};
use std::process::Command;

fn story(max_tokens: usize, seed: u64) -> GenerateRequest {
    let mut r = mycel_ml::generate::golden_story_request();
    r.params.seed = seed;
    r.params.max_tokens = max_tokens;
    r
}

fn assert_replays(g: &TextGenerator, out: &Generation, params: &SamplingParams, what: &str) {
    let sampled = out.sampled_ids();
    for mode in [ReplayMode::Decode, ReplayMode::Prefill] {
        let r = g.replay(&out.prompt_ids, &sampled, params, mode).unwrap();
        assert_eq!(r.sampled, sampled, "{what} {mode:?}");
        assert_eq!(r.logits_hash, out.logits_hash, "{what} {mode:?}");
        assert_eq!(r.trace, out.trace, "{what} {mode:?}");
        assert_eq!(r.first_token_mismatch(&sampled), None);
    }
}

#[test]
fn trace_layout_covers_every_position_and_layer() {
    let g = TextGenerator::tiny_random(3, ExecMode::Quantized).unwrap();
    let out = g.generate(&story(70, 1), |_| {}).unwrap();
    let layers = g.model().config().layers;
    // The model ran on the prompt and every pick but the last.
    let positions = out.prompt_ids.len() + out.sampled_ids().len() - 1;
    let chunks = positions.div_ceil(TRACE_CHUNK);
    assert_eq!(out.trace.len(), chunks * (layers + 1));
    assert_eq!(trace_leaf_at(layers, layers), (0, None));
    assert_eq!(trace_leaf_at(layers + 2, layers), (1, Some(1)));
    // All leaves differ (the index is bound in).
    let distinct: std::collections::BTreeSet<_> = out.trace.iter().collect();
    assert_eq!(distinct.len(), out.trace.len());
}

#[test]
fn honest_replays_match_on_the_tiny_model() {
    for mode in [ExecMode::Quantized, ExecMode::F32] {
        let g = TextGenerator::tiny_random(3, mode).unwrap();
        for (max, seed, temp) in [(70, 1, 0.7), (5, 2, 0.0), (33, 3, 1.0)] {
            let mut req = story(max, seed);
            req.params.temperature = temp;
            let out = g.generate(&req, |_| {}).unwrap();
            assert_replays(&g, &out, &req.params, &format!("{mode:?} seed {seed}"));
        }
    }
}

#[test]
fn a_wrong_pick_shows_in_the_tokens_and_in_its_chunk_leaf() {
    let g = TextGenerator::tiny_random(3, ExecMode::Quantized).unwrap();
    let req = story(40, 5);
    let out = g.generate(&req, |_| {}).unwrap();
    let mut forged = out.sampled_ids();
    let at = forged.len() / 2;
    forged[at] = (forged[at] + 1) % 200;
    let r = g
        .replay(&out.prompt_ids, &forged, &req.params, ReplayMode::Prefill)
        .unwrap();
    assert_eq!(r.first_token_mismatch(&forged), Some(at));
    assert_ne!(trace_root(&r.trace), trace_root(&out.trace));
}

/// Set in a child process: the child generates and prints its result instead of spawning.
const CHILD: &str = "MYCEL_REPLAY_CHILD";

/// The child half of [`trace_roots_agree_across_processes_and_thread_counts`]: generates with the
/// pool size in `MYCEL_REPLAY_CHILD` and prints the roots. Does nothing in an ordinary run.
#[test]
fn replay_child_prints_roots() {
    let Ok(pool) = std::env::var(CHILD) else {
        return;
    };
    let pool: usize = pool.parse().unwrap();
    let (g, what) = generator(&ModelStore::from_env());
    let req = story(40, 2026);
    let out = with_threads(pool, || g.generate(&req, |_| {}))
        .unwrap()
        .unwrap();
    let replay = with_threads(pool, || {
        g.replay(
            &out.prompt_ids,
            &out.sampled_ids(),
            &req.params,
            ReplayMode::Prefill,
        )
    })
    .unwrap()
    .unwrap();
    println!(
        "ROOTS {what} {} {} {}",
        trace_root(&out.trace),
        out.logits_hash,
        trace_root(&replay.trace)
    );
}

/// SmolLM2 when it is on disk, else the tiny model.
fn generator(store: &ModelStore) -> (TextGenerator, &'static str) {
    match TextGenerator::load(store, &SMOLLM2, ExecMode::Quantized) {
        Ok(g) => (g, "smollm2"),
        Err(_) => (
            TextGenerator::tiny_random(3, ExecMode::Quantized).unwrap(),
            "tiny",
        ),
    }
}

/// candle's f32 matmul sizes its parallelism from `RAYON_NUM_THREADS`, fixed per process, which the
/// other tests pin to 1; so the thread counts are varied in child processes: that variable at 1 and
/// 2, times the per-job pool at 1 and 2. Every child must print the same roots.
#[test]
fn trace_roots_agree_across_processes_and_thread_counts() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    // The pinned-model rule: fail if they are required and missing; else the tiny model stands in.
    let _ = pinned_models(&[&SMOLLM2]);
    let exe = std::env::current_exe().unwrap();
    let mut seen = Vec::new();
    for rayon in ["1", "2"] {
        for pool in ["1", "2"] {
            let out = Command::new(&exe)
                .args([
                    "--exact",
                    "replay::replay_child_prints_roots",
                    "--nocapture",
                ])
                .env("RAYON_NUM_THREADS", rayon)
                .env(CHILD, pool)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "child failed: {stdout}");
            let line = stdout
                .lines()
                .find(|l| l.starts_with("ROOTS "))
                .unwrap_or_else(|| panic!("no roots from the child: {stdout}"))
                .to_string();
            eprintln!("RAYON_NUM_THREADS={rayon} pool={pool}: {line}");
            seen.push(line);
        }
    }
    let parts: Vec<&str> = seen[0].split(' ').collect();
    // The replay's root is the worker's.
    assert_eq!(parts[2], parts[4], "{}", seen[0]);
    assert!(seen.iter().all(|l| *l == seen[0]), "{seen:#?}");
}

#[test]
fn real_smollm2_replays_bit_for_bit() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let g = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
    // Greedy (ends on end-of-sequence) and sampled (ends on length, crosses chunk boundaries).
    let capital = GenerateRequest {
        prompt: Prompt::user("What is the capital of France?"),
        params: SamplingParams::greedy(32),
    };
    let out = g.generate(&capital, |_| {}).unwrap();
    assert!(out.eos_token.is_some());
    assert_replays(&g, &out, &capital.params, "capital");
    let req = story(48, 7);
    let out = g.generate(&req, |_| {}).unwrap();
    assert_eq!(out.token_ids.len(), 48);
    assert_replays(&g, &out, &req.params, "story");
}
