use crate::models::pinned_models;
use mycel_ml::{
    embed::{Embedder, cosine},
    registry::MINILM,
    runtime::with_threads,
};

#[test]
fn real_minilm_golden_cosine_and_thread_independence() {
    let Some(store) = pinned_models(&[&MINILM]) else {
        return;
    };
    let e = Embedder::load(&store, &MINILM).unwrap();
    assert_eq!(e.dim(), 384);
    let texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
    ];
    let v = e.embed(&texts).unwrap();
    let food_bread = cosine(&v[0], &v[1]);
    assert!((food_bread - 0.7553).abs() < 1e-4, "{food_bread}");
    let food_movie = cosine(&v[0], &v[2]);
    assert!((food_movie - -0.0461).abs() < 1e-3, "{food_movie}");
    // One at a time gives the same vectors as the padded batch (to float noise).
    let single = e.embed(&texts[1..2]).unwrap();
    assert!(cosine(&single[0], &v[1]) > 0.99999);
    let one = with_threads(1, || e.embed(&texts)).unwrap().unwrap();
    let two = with_threads(2, || e.embed(&texts)).unwrap().unwrap();
    assert_eq!(one, two);
}
