//! Replay on the real SmolLM2: honest claims always match, every fault class is caught and its
//! first divergent token or leaf is named.

use crate::models::pinned_models;
use mycel_ml::{
    generate::{GenerateRequest, Prompt, ReplayMode, TextGenerator},
    registry::{ExecMode, FileRole, SMOLLM2},
    sampling::SamplingParams,
};
use mycel_verify::{
    GenerationClaim,
    replay::faults::{FaultClass, FaultyWorkers},
    replay_generation,
};

fn request(text: &str, seed: u64) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::user(text),
        params: SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 50,
            seed,
            max_tokens: 40,
            stop: vec![],
        },
    }
}

#[test]
fn real_smollm2_replay_catches_every_fault_class() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let gguf = store.read_verified(&SMOLLM2, FileRole::Weights).unwrap();
    let honest = TextGenerator::from_gguf_bytes(&gguf, ExecMode::Quantized).unwrap();
    let workers = FaultyWorkers::new(&gguf).unwrap();
    let req = request("Name three things a lighthouse keeper does.", 11);
    let out = honest.generate(&req, |_| {}).unwrap();
    let v = replay_generation(
        &honest,
        &GenerationClaim::of(&out, &req.params),
        ReplayMode::Prefill,
    )
    .unwrap();
    assert!(v.is_match(), "honest: {v:?}");
    for class in FaultClass::ALL {
        let claim = workers.claim(class, &honest, &req).unwrap();
        let v = replay_generation(&honest, &claim, ReplayMode::Prefill).unwrap();
        eprintln!(
            "{}: first token {:?}, first leaf {:?}, {:?}",
            class.name(),
            v.first_output_mismatch(),
            v.first_divergent_leaf(),
            v.findings.first()
        );
        assert!(!v.is_match(), "{} not detected", class.name());
        assert!(
            v.first_output_mismatch().is_some() || v.first_divergent_leaf().is_some(),
            "{}: {v:?}",
            class.name()
        );
        match class {
            // The forged trace is the honest model's over the invented tokens: only the picks differ.
            FaultClass::OtherModel | FaultClass::WrongSeed => {
                assert!(v.first_output_mismatch().is_some(), "{v:?}")
            }
            // The activations differ from the first chunk on: leaf 0 is block 0 of chunk 0.
            FaultClass::TruncatedContext => assert_eq!(v.first_divergent_leaf(), Some(0)),
            FaultClass::SkippedLayer => assert_eq!(v.first_divergent_leaf(), Some(15)),
            _ => {}
        }
    }
}
