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

#[test]
fn per_position_pass_gives_decode_bits_in_quantized_mode() {
    let ids = [3u32, 17, 42, 5, 77, 9, 64, 1];
    for mode in [ExecMode::Quantized, ExecMode::F32] {
        let m = Llama::random(LlamaConfig::tiny(96), 2, mode).unwrap();
        let mut dec = KvCache::default();
        let mut decoded = m
            .forward_traced(&ids[..3], &mut dec, Attention::Batched, LogitsAt::Last)
            .unwrap();
        for &t in &ids[3..] {
            let p = m
                .forward_traced(&[t], &mut dec, Attention::Batched, LogitsAt::Last)
                .unwrap();
            decoded.logits.extend(p.logits);
            for (a, b) in decoded.layers.iter_mut().zip(p.layers) {
                a.extend(b);
            }
        }
        let mut one = KvCache::default();
        let mut pass = m
            .forward_traced(&ids[..3], &mut one, Attention::Batched, LogitsAt::Last)
            .unwrap();
        let rest = m
            .forward_traced(&ids[3..], &mut one, Attention::PerPosition, LogitsAt::All)
            .unwrap();
        pass.logits.extend(rest.logits);
        for (a, b) in pass.layers.iter_mut().zip(rest.layers) {
            a.extend(b);
        }
        assert_eq!(pass.logits.len(), ids.len() - 2);
        assert_eq!(decoded.layers.len(), m.config().layers);
        let bits =
            |v: &[Vec<f32>]| -> Vec<u32> { v.iter().flatten().map(|x| x.to_bits()).collect() };
        if mode == ExecMode::Quantized {
            assert_eq!(bits(&pass.logits), bits(&decoded.logits));
            assert_eq!(bits(&pass.layers), bits(&decoded.layers));
        }
        let diff = pass
            .logits
            .iter()
            .flatten()
            .zip(decoded.logits.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-4, "{mode:?}: {diff}");
    }
}

#[test]
fn a_skipped_layer_passes_its_input_through() {
    let mut m = Llama::random(LlamaConfig::tiny(96), 2, ExecMode::Quantized).unwrap();
    let ids = [3u32, 17, 42];
    let run = |m: &Llama| {
        m.forward_traced(
            &ids,
            &mut KvCache::default(),
            Attention::Batched,
            LogitsAt::Last,
        )
        .unwrap()
    };
    let honest = run(&m);
    m.inject_skip_layer(Some(1));
    let skipped = run(&m);
    assert_eq!(skipped.layers[0], honest.layers[0]);
    assert_eq!(skipped.layers[1], skipped.layers[0]);
    assert_ne!(skipped.logits, honest.logits);
}
