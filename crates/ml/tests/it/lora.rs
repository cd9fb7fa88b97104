use crate::models::pinned_models;
use mycel_ml::{
    generate::TextGenerator,
    lora::{Adapter, Dataset, TrainConfig, apply_adapter, train},
    registry::{ExecMode, SMOLLM2},
};

#[test]
fn real_smollm2_lora_loss_falls_and_hash_is_reproducible() {
    let Some(store) = pinned_models(&[&SMOLLM2]) else {
        return;
    };
    let data = Dataset::from_jsonl(
        b"{\"prompt\": \"What is mycel?\", \"completion\": \"Mycel is a ledger for AI data, compute and models.\"}\n",
    )
    .unwrap();
    let cfg = TrainConfig {
        rank: 4,
        alpha: 8.0,
        steps: 4,
        lr: 5e-3,
        weight_decay: 0.0,
        seed: 1,
        max_seq: 48,
    };
    let mut g = TextGenerator::load(&store, &SMOLLM2, ExecMode::F32).unwrap();
    let (adapter, rec) = train(&mut g, &data, &cfg).unwrap();
    eprintln!("losses {:?} {:.0} ms/step", rec.losses, rec.ms_per_step);
    assert!(rec.losses[3] < rec.losses[0] * 0.8, "{:?}", rec.losses);
    assert_eq!(rec.base_model_id, g.model_id().to_hex());
    let (_, again) = train(&mut g, &data, &cfg).unwrap();
    assert_eq!(again.adapter_hash, rec.adapter_hash);
    let back = Adapter::from_bytes(&adapter.to_bytes().unwrap()).unwrap();
    apply_adapter(&mut g, &back).unwrap();
}
