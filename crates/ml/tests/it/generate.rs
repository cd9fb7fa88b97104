use crate::models::pinned_models;
use mycel_ml::{
    Error,
    generate::{
        FinishReason, GenerateRequest, Prompt, SMOLLM2_GOLDEN_STORY_LOGITS, TextGenerator,
        golden_story_request,
    },
    registry::{ExecMode, SMOLLM2},
    runtime::with_threads,
    sampling::SamplingParams,
};

fn capital_request(max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::user("What is the capital of France?"),
        params: SamplingParams::greedy(max_tokens),
    }
}

/// `<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n`.
const CAPITAL_PROMPT_IDS: [u32; 16] = [
    1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198,
];
/// "The capital of France is Paris." (then `<|im_end|>`).
const CAPITAL_ANSWER_IDS: [u32; 7] = [504, 3575, 282, 4649, 314, 7042, 30];

#[test]
fn real_smollm2_greedy_capital_of_france() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let g = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
    let mut streamed = String::new();
    let out = g
        .generate(&capital_request(32), |t| streamed.push_str(t))
        .unwrap();
    assert_eq!(out.prompt_ids, CAPITAL_PROMPT_IDS);
    assert_eq!(out.token_ids, CAPITAL_ANSWER_IDS);
    assert_eq!(out.text, "The capital of France is Paris.");
    assert_eq!(streamed, out.text);
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert_eq!(out.usage.prompt_tokens, 16);
    assert_eq!(out.usage.completion_tokens, 7);
}

#[test]
fn real_smollm2_f32_mode_answers_and_has_its_own_model_id() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let q = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
    let f = TextGenerator::load(&store, &SMOLLM2, ExecMode::F32).unwrap();
    assert_ne!(q.model_id(), f.model_id());
    let out = f.generate(&capital_request(32), |_| {}).unwrap();
    assert!(out.text.contains("Paris"), "{:?}", out.text);
    // Max tokens and stop sequences.
    let mut r = capital_request(3);
    let short = f.generate(&r, |_| {}).unwrap();
    assert_eq!(short.finish_reason, FinishReason::Length);
    assert_eq!(short.token_ids.len(), 3);
    r.params.max_tokens = 32;
    r.params.stop = vec![" is".into()];
    assert_eq!(
        f.generate(&r, |_| {}).unwrap().text,
        "The capital of France"
    );
}

#[test]
fn real_smollm2_same_tokens_and_logits_at_1_and_2_threads() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    for mode in [ExecMode::Quantized, ExecMode::F32] {
        let g = TextGenerator::load(&store, &SMOLLM2, mode).unwrap();
        let req = golden_story_request();
        let one = with_threads(1, || g.generate(&req, |_| {}))
            .unwrap()
            .unwrap();
        let two = with_threads(2, || g.generate(&req, |_| {}))
            .unwrap()
            .unwrap();
        assert_eq!(one.token_ids, two.token_ids, "{mode:?}");
        assert_eq!(one.logits_hash, two.logits_hash, "{mode:?}");
        assert_eq!(one.token_ids.len(), 40);
        // Fingerprints after the prompt and after 32 generated tokens, bitwise equal.
        assert_eq!(one.fingerprints, two.fingerprints, "{mode:?}");
        let p = one.usage.prompt_tokens;
        let at: Vec<usize> = one.fingerprints.iter().map(|f| f.position).collect();
        assert_eq!(at, vec![p, p + 32], "{mode:?}");
    }
}

/// History of [`SMOLLM2_GOLDEN_STORY_LOGITS`], one value per llama kernel version:
/// - 0 (candle's decode attention over a concatenated cache): `ac86667c…4102fc`;
/// - 1 (in-place KV cache, fixed-order decode attention): the current value.
#[test]
fn real_smollm2_logits_golden_across_kernels_and_threads() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let req = golden_story_request();
    for portable in [false, true] {
        mycel_ml::runtime::force_portable_kernels(portable);
        let kernels = mycel_ml::runtime::quantized_kernels();
        let g = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
        for threads in [1, 2] {
            let out = with_threads(threads, || g.generate(&req, |_| {}))
                .unwrap()
                .unwrap();
            eprintln!(
                "GOLDEN story {} ({kernels}, {threads} threads)",
                out.logits_hash
            );
            assert_eq!(
                out.logits_hash.to_string(),
                SMOLLM2_GOLDEN_STORY_LOGITS,
                "{kernels} kernels, {threads} threads"
            );
        }
    }
    mycel_ml::runtime::force_portable_kernels(false);
}

#[test]
fn real_smollm2_rejects_prompt_longer_than_context() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let g = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
    let req = GenerateRequest {
        prompt: Prompt::Raw("7 ".repeat(4100)),
        params: SamplingParams::greedy(16),
    };
    assert!(matches!(
        g.stream(&req),
        Err(Error::ContextOverflow { context: 8192, .. })
    ));
}

/// Bad model files and empty prompts are typed errors, never panics: a GGUF whose tensor has a type
/// code no runtime knows, a truncated file.
#[test]
fn real_smollm2_bad_gguf_and_empty_prompt_are_typed_errors() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let bytes = store
        .read_verified(&SMOLLM2, mycel_ml::registry::FileRole::Weights)
        .unwrap();
    // A tensor info: u64 name length, name, u32 dims, u64 per dim, u32 type code.
    let name = b"blk.0.attn_q.weight";
    let mut key = (name.len() as u64).to_le_bytes().to_vec();
    key.extend_from_slice(name);
    let at = bytes
        .windows(key.len())
        .position(|w| w == key.as_slice())
        .expect("tensor info of blk.0.attn_q.weight");
    let dims_at = at + key.len();
    let n_dims = u32::from_le_bytes(bytes[dims_at..dims_at + 4].try_into().unwrap()) as usize;
    let type_at = dims_at + 4 + 8 * n_dims;
    for code in [99u32, u32::MAX] {
        let mut bad = bytes.clone();
        bad[type_at..type_at + 4].copy_from_slice(&code.to_le_bytes());
        for mode in [ExecMode::Quantized, ExecMode::F32] {
            match TextGenerator::from_gguf_bytes(&bad, mode) {
                Err(Error::InvalidModel { what, reason }) => {
                    eprintln!("type {code}, {mode:?}: {what}: {reason}")
                }
                other => panic!("type {code}, {mode:?}: {:?}", other.map(|_| ())),
            }
        }
    }
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(
        TextGenerator::from_gguf_bytes(truncated, ExecMode::Quantized),
        Err(Error::InvalidModel { .. })
    ));
    // An empty prompt has no tokens to run.
    let g = TextGenerator::load(&store, &SMOLLM2, ExecMode::Quantized).unwrap();
    let req = GenerateRequest {
        prompt: Prompt::Raw(String::new()),
        params: SamplingParams::greedy(4),
    };
    assert!(matches!(
        g.generate(&req, |_| {}),
        Err(Error::InvalidInput(_))
    ));
}
