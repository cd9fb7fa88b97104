use crate::models::pinned_models;
use mycel_ml::{
    embed::{Embedder, cosine},
    registry::{ExecMode, MINILM},
    runtime::with_threads,
};

#[test]
fn real_minilm_golden_cosine_and_thread_independence() {
    let Some(store) = pinned_models(&[&MINILM]) else {
        return;
    };
    let texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
    ];
    // The sentence-transformers reference similarities: the f32 mode to float noise, the int8 mode
    // (what nodes serve) within two hundredths.
    for (mode, tol) in [(ExecMode::F32, 1e-4), (ExecMode::Quantized, 2e-2)] {
        let e = Embedder::load_mode(&store, &MINILM, mode).unwrap();
        assert_eq!(e.dim(), 384);
        let v = e.embed(&texts).unwrap();
        let food_bread = cosine(&v[0], &v[1]);
        eprintln!("{mode:?}: food/bread {food_bread}");
        assert!((food_bread - 0.7553).abs() < tol, "{mode:?} {food_bread}");
        let food_movie = cosine(&v[0], &v[2]);
        assert!(
            (food_movie - -0.0461).abs() < tol.max(1e-3),
            "{mode:?} {food_movie}"
        );
        let single = e.embed(&texts[1..2]).unwrap();
        if mode == ExecMode::Quantized {
            // Each text at its own length: alone or in a batch, the same bits.
            assert_eq!(single[0], v[1]);
        } else {
            // The padded batch gives the same vector to float noise.
            assert!(cosine(&single[0], &v[1]) > 0.99999);
        }
        let one = with_threads(1, || e.embed(&texts)).unwrap().unwrap();
        let two = with_threads(2, || e.embed(&texts)).unwrap().unwrap();
        assert_eq!(one, two, "{mode:?}");
    }
}
