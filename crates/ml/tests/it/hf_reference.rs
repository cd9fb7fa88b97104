//! Inputs for the numpy reference check of a PEFT export (`scripts/hf-reference-check.sh`): an adapter
//! trained on the pinned SmolLM2, exported with [`hf::export_adapter`], and mycel's own greedy tokens with
//! and without it, which `bin/mycel/tests/py/hf_reference.py` recomputes from the GGUF and the export.

use crate::models::pinned_models;
use mycel_ml::{
    generate::{GenerateRequest, Prompt, TextGenerator},
    hf,
    lora::{Dataset, TrainConfig, apply_adapter, train},
    registry::{ExecMode, SMOLLM2},
    sampling::SamplingParams,
};

/// Where the export and `mycel_tokens.json` go; the test does nothing without it.
const DIR_VAR: &str = "MYCEL_HF_REFERENCE_DIR";
/// Greedy tokens per prompt.
const MAX_TOKENS: usize = 16;
const PROMPTS: [&str; 3] = [
    "What is mycel?",
    "What is the capital of France?",
    "Name a colour of the sky.",
];
/// Few steps at a high learning rate: enough to move every B away from zero and change greedy tokens.
const DATA: &str = "\
{\"prompt\": \"What is mycel?\", \"completion\": \"Mycel is a ledger for AI data, compute and models.\"}
{\"prompt\": \"Name a colour of the sky.\", \"completion\": \"Mycel says: blue, like a ledger.\"}
";

#[test]
#[ignore = "needs MYCEL_HF_REFERENCE_DIR and the pinned SmolLM2; run by scripts/hf-reference-check.sh"]
fn real_smollm2_peft_export_for_reference() {
    let Some(dir) = std::env::var_os(DIR_VAR).map(std::path::PathBuf::from) else {
        eprintln!("SKIP: {DIR_VAR} is not set");
        return;
    };
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let mut g = TextGenerator::load(&store, &SMOLLM2, ExecMode::F32).unwrap();
    let cfg = TrainConfig {
        rank: 4,
        alpha: 8.0,
        steps: 8,
        lr: 1e-2,
        weight_decay: 0.0,
        seed: 3,
        max_seq: 48,
    };
    let data = Dataset::from_jsonl(DATA.as_bytes()).unwrap();
    let (adapter, rec) = train(&mut g, &data, &cfg).unwrap();
    eprintln!("losses {:?} {:.0} ms/step", rec.losses, rec.ms_per_step);

    let greedy = |g: &TextGenerator| {
        PROMPTS
            .iter()
            .map(|p| {
                let req = GenerateRequest {
                    prompt: Prompt::user(*p),
                    params: SamplingParams::greedy(MAX_TOKENS),
                };
                let out = g.generate(&req, |_| {}).unwrap();
                (out.prompt_ids.clone(), out.sampled_ids(), out.text)
            })
            .collect::<Vec<_>>()
    };
    let base = greedy(&g);
    apply_adapter(&mut g, &adapter).unwrap();
    let tuned = greedy(&g);

    let mut changed = 0;
    let prompts: Vec<serde_json::Value> = PROMPTS
        .iter()
        .zip(base.iter().zip(&tuned))
        .map(|(p, ((ids, b, bt), (ids2, a, at)))| {
            assert_eq!(ids, ids2, "{p}: the adapter changed the prompt ids");
            changed += usize::from(a != b);
            eprintln!("{p:?}\n  base:    {bt:?}\n  adapter: {at:?}");
            serde_json::json!({
                "prompt": p,
                "prompt_ids": ids,
                "base_tokens": b,
                "adapter_tokens": a,
                "base_text": bt,
                "adapter_text": at,
            })
        })
        .collect();
    assert!(
        changed >= 2,
        "the adapter changed the greedy tokens of only {changed} of {} prompts",
        PROMPTS.len()
    );

    let adapter_dir = dir.join("adapter");
    std::fs::create_dir_all(&adapter_dir).unwrap();
    hf::export_adapter(
        &adapter,
        g.model().config(),
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        None,
        &adapter_dir,
    )
    .unwrap();
    let summary = serde_json::json!({
        "model": SMOLLM2.display_name,
        "mode": "f32",
        "max_tokens": MAX_TOKENS,
        "rank": adapter.rank,
        "alpha": adapter.alpha,
        "losses": rec.losses,
        "prompts": prompts,
    });
    std::fs::write(
        dir.join("mycel_tokens.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
}
