use super::*;

#[test]
fn cached_decoding_matches_full_forward() {
    for mode in [ExecMode::F32, ExecMode::Quantized] {
        let m = Llama::random(LlamaConfig::tiny(96), 1, mode).unwrap();
        let ids = [3u32, 17, 42, 5, 77];
        let mut full = KvCache::default();
        let a = m.forward_last(&ids, &mut full).unwrap();
        let mut inc = KvCache::default();
        m.forward_last(&ids[..3], &mut inc).unwrap();
        m.forward_last(&ids[3..4], &mut inc).unwrap();
        let b = m.forward_last(&ids[4..], &mut inc).unwrap();
        assert_eq!(inc.len(), 5);
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-4, "{mode:?}: {diff}");
        // The training path computes the same function.
        if mode == ExecMode::F32 {
            let t = Tensor::new(&ids, m.device()).unwrap().unsqueeze(0).unwrap();
            let all = m.forward_train(&t).unwrap();
            let last: Vec<f32> = all.i((0, 4)).unwrap().to_vec1().unwrap();
            let diff = a
                .iter()
                .zip(&last)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-4, "train path: {diff}");
        }
    }
}

#[test]
fn context_overflow_is_typed() {
    let m = Llama::random(LlamaConfig::tiny(96), 1, ExecMode::F32).unwrap();
    let ids = vec![1u32; 257];
    assert!(matches!(
        m.forward_last(&ids, &mut KvCache::default()),
        Err(Error::ContextOverflow { .. })
    ));
}
