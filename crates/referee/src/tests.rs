use super::*;
use mycel_primitives::{
    Hash,
    codec::{Encode, decode},
};
use proptest::prelude::*;

const SEED: Hash = Hash([7; 32]);
const TEMP: u32 = 1 << 20;

fn small() -> Arch {
    Arch {
        vocab: 97,
        dim: 16,
        layers: 3,
        shift: 8,
    }
}

/// dim 256: four blocks per layer; vocab 300: five head blocks.
fn blocked() -> Arch {
    Arch {
        vocab: 300,
        dim: 256,
        layers: 2,
        shift: 12,
    }
}

fn ctx(m: &IntLm, prompt: &[u32], run: &Run, max_tokens: u32) -> DisputeContext {
    DisputeContext {
        model: m.model_id(),
        input: input_hash(prompt),
        seed: SEED,
        trace_root: run.trace_root(),
        trace_len: run.leaves.len() as u64,
        temperature: TEMP,
        max_tokens,
    }
}

fn decoded(w: &[u8]) -> Witness {
    decode(w).unwrap()
}

#[test]
fn honest_witness_recomputes_every_leaf() {
    for arch in [small(), blocked()] {
        let m = IntLm::random(arch, 42).unwrap();
        let prompt = [1, 2, 3, 4];
        let run = m.run(&prompt, 5, TEMP, &SEED).unwrap();
        assert_eq!(run.tokens.len(), 5);
        assert_eq!(run.leaves.len() as u64, arch.trace_len(4, 5));
        let c = ctx(&m, &prompt, &run, 5);
        let pb = prompt_bytes(&prompt);
        for i in 0..run.leaves.len() as u64 {
            let w = m.witness(&run, &pb, i).unwrap();
            assert!(w.len() <= MAX_WITNESS_BYTES, "{} bytes", w.len());
            assert_eq!(
                recompute_leaf(&c, i, &w).unwrap(),
                run.leaves[i as usize],
                "leaf {i}"
            );
        }
    }
}

#[test]
fn blocked_arch_has_the_expected_layout() {
    let a = blocked();
    assert_eq!((a.layer_blocks(), a.head_blocks()), (4, 5));
    assert_eq!(a.ops_per_position(), 1 + 2 * 4 + 5);
    assert_eq!(a.op(0), Op::Embed);
    assert_eq!(a.op(4), Op::Layer { layer: 0, block: 3 });
    assert_eq!(a.op(6), Op::Layer { layer: 1, block: 1 });
    assert_eq!(a.op(9), Op::Head { block: 0 });
    assert_eq!(a.op(13), Op::Head { block: 4 });
    assert_eq!(a.rows(Op::Head { block: 4 }), 256..300);
    assert_eq!(a.rows(Op::Layer { layer: 1, block: 2 }), 128..192);
}

#[test]
fn tampered_witnesses_are_typed_errors() {
    let m = IntLm::random(small(), 5).unwrap();
    let prompt = [10, 20, 30];
    let run = m.run(&prompt, 4, TEMP, &SEED).unwrap();
    let c = ctx(&m, &prompt, &run, 4);
    let pb = prompt_bytes(&prompt);
    // Position 1, layer 1: reads a layer block.
    let i = 7;
    let good = decoded(&m.witness(&run, &pb, i).unwrap());

    // A predecessor state that is not the committed one.
    let mut w = good.clone();
    w.prev[STATE_BYTE] ^= 1;
    assert!(matches!(
        recompute_leaf(&c, i, &w.encode()),
        Err(RefereeError::Unproven { .. })
    ));

    // A weight slice of another step, with its own (valid) proof.
    let mut w = good.clone();
    let other = decoded(&m.witness(&run, &pb, i + 1).unwrap());
    w.slice = other.slice;
    w.slice_proof = other.slice_proof;
    assert!(matches!(
        recompute_leaf(&c, i, &w.encode()),
        Err(RefereeError::WrongPosition(_))
    ));

    // Altered weights under the honest proof.
    let mut w = good.clone();
    let last = w.slice.len() - 1;
    w.slice[last] ^= 1;
    assert!(matches!(
        recompute_leaf(&c, i, &w.encode()),
        Err(RefereeError::Unproven { .. })
    ));

    // Another arch.
    let mut w = good.clone();
    w.arch.shift += 1;
    assert!(matches!(
        recompute_leaf(&c, i, &w.encode()),
        Err(RefereeError::WrongModel)
    ));

    // Oversized and undecodable.
    assert!(matches!(
        recompute_leaf(&c, i, &vec![0; MAX_WITNESS_BYTES + 1]),
        Err(RefereeError::Oversized(_))
    ));
    assert!(matches!(
        recompute_leaf(&c, i, &[1, 2, 3]),
        Err(RefereeError::Codec(_))
    ));

    // Proofs against another trace root.
    let other_root = DisputeContext {
        trace_root: Hash([1; 32]),
        ..c.clone()
    };
    assert!(matches!(
        recompute_leaf(&other_root, i, &good.encode()),
        Err(RefereeError::Unproven { .. })
    ));

    // Leaf 0 with a prompt that is not the job's input, or none.
    let mut w0 = decoded(&m.witness(&run, &pb, 0).unwrap());
    w0.prompt = prompt_bytes(&[10, 20, 31]);
    assert!(matches!(
        recompute_leaf(&c, 0, &w0.encode()),
        Err(RefereeError::WrongInput)
    ));
    w0.prompt.clear();
    assert!(matches!(
        recompute_leaf(&c, 0, &w0.encode()),
        Err(RefereeError::Missing(_))
    ));

    // Beyond the trace, or past the job's token limit.
    assert!(matches!(
        recompute_leaf(&c, c.trace_len, &good.encode()),
        Err(RefereeError::IndexOutOfRange { .. })
    ));
    let short = DisputeContext {
        max_tokens: 1,
        ..c.clone()
    };
    let late = c.trace_len - 1;
    let w = m.witness(&run, &pb, late).unwrap();
    assert!(matches!(
        recompute_leaf(&short, late, &w),
        Err(RefereeError::PastMaxTokens(_))
    ));
}

/// A byte inside the state's `x` vector.
const STATE_BYTE: usize = state::STATE_HEADER + 3;

#[test]
fn an_altered_state_is_caught_at_its_leaf() {
    let m = IntLm::random(small(), 9).unwrap();
    let prompt = [4, 8, 15, 16];
    let honest = m.run(&prompt, 6, TEMP, &SEED).unwrap();
    let pb = prompt_bytes(&prompt);
    let n = honest.leaves.len();
    for j in [0, 1, 5, n / 2, n - 1] {
        let mut cheat = honest.clone();
        cheat.states[j][STATE_BYTE] ^= 0x10;
        cheat.leaves[j] = trace_leaf(j as u64, &cheat.states[j]);
        let c = ctx(&m, &prompt, &cheat, 6);
        for i in 0..n {
            let got =
                recompute_leaf(&c, i as u64, &m.witness(&cheat, &pb, i as u64).unwrap()).unwrap();
            if i < j || i > j + 1 {
                assert_eq!(got, cheat.leaves[i], "j {j} i {i}");
            } else if i == j {
                assert_ne!(got, cheat.leaves[j], "j {j}");
                assert_eq!(got, honest.leaves[j]);
            }
        }
    }
}

#[test]
fn output_opening_returns_the_committed_token() {
    let m = IntLm::random(small(), 3).unwrap();
    let prompt = [1, 2];
    let run = m.run(&prompt, 5, TEMP, &SEED).unwrap();
    let c = ctx(&m, &prompt, &run, 5);
    for g in 0..5 {
        let o = m.open_output(&run, 2, g).unwrap();
        assert_eq!(output_token(&c, g, &o).unwrap(), run.tokens[g as usize]);
    }
    let o = m.open_output(&run, 2, 1).unwrap();
    assert!(output_token(&c, 2, &o).is_err());
}

#[test]
fn argmax_ties_go_to_the_lowest_id() {
    let arch = small();
    let mut w = IntLm::random(arch, 1).unwrap().weights().clone();
    w.out.iter_mut().for_each(|v| *v = 0);
    let m = IntLm::new(arch, w).unwrap();
    let run = m.run(&[5, 6], 3, 0, &SEED).unwrap();
    assert_eq!(run.tokens, vec![0, 0, 0]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let m = IntLm::random(small(), 1).unwrap();
    assert!(matches!(
        m.run(&[], 3, 0, &SEED),
        Err(RefereeError::InvalidPrompt(_))
    ));
    assert!(matches!(
        m.run(&[97], 3, 0, &SEED),
        Err(RefereeError::TokenOutOfRange(97))
    ));
    let bad = Arch { dim: 12, ..small() };
    assert!(IntLm::random(bad, 1).is_err());
    assert!(parse_prompt(&[1, 2, 3]).is_err());
}

/// Golden vectors: a seeded model's ID, a run's trace root and tokens, and an encoded witness.
/// Every machine must produce these bytes; if one changes, the Tier D format changed.
#[test]
fn golden_vectors() {
    let m = IntLm::random(small(), 1).unwrap();
    assert_ne!(m.model_id(), IntLm::random(small(), 2).unwrap().model_id());
    let run = m.run(&[1, 2, 3], 4, TEMP, &SEED).unwrap();
    let w = m.witness(&run, &prompt_bytes(&[1, 2, 3]), 12).unwrap();
    let got = format!(
        "{} {} {:?} {}",
        m.model_id(),
        run.trace_root(),
        run.tokens,
        mycel_primitives::hash::hash(mycel_primitives::Domain::Verdict, &w)
    );
    assert_eq!(got, GOLDEN);
}

const GOLDEN: &str = "3412fb39193eba0423604f38630819d1da26820f60e3c5ed8c1f2eeeae32a28d \
d745305c0559612baffd84d860899fd84962f01e5941534fa1b9ee70e7c16c84 [27, 50, 2, 31] \
c38b96f76cc5825da56059b821ccc84380bf28f7cf9f6a1dd1a7156ef3195e75";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn run_is_deterministic(
        vocab in 1u16..=600,
        dim8 in 1u16..=32,
        layers in 1u8..=4,
        shift in 0u8..=20,
        seed in any::<u64>(),
        temp in prop_oneof![Just(0u32), any::<u32>()],
        prompt in proptest::collection::vec(any::<u32>(), 1..6),
        max_tokens in 0u32..5,
    ) {
        let arch = Arch { vocab, dim: dim8 * 8, layers, shift };
        let prompt: Vec<u32> = prompt.iter().map(|t| t % vocab as u32).collect();
        let s = Hash([seed as u8; 32]);
        let a = IntLm::random(arch, seed).unwrap().run(&prompt, max_tokens, temp, &s).unwrap();
        let b = IntLm::random(arch, seed).unwrap().run(&prompt, max_tokens, temp, &s).unwrap();
        prop_assert_eq!(a.tokens.len(), max_tokens as usize);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn witness_round_trips(index in 0u64..30, seed in any::<u64>()) {
        let m = IntLm::random(small(), seed).unwrap();
        let prompt = [1, 2, 3];
        let run = m.run(&prompt, 4, TEMP, &SEED).unwrap();
        let i = index % run.leaves.len() as u64;
        let w = m.witness(&run, &prompt_bytes(&prompt), i).unwrap();
        prop_assert_eq!(decoded(&w).encode().to_vec(), w);
    }
}
