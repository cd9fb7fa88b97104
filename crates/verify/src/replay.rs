//! Audit replay: re-execute a worker's job on the pinned model and compare it bit for bit with
//! what the worker committed.
//!
//! A generation claim is the prompt ids, every token the worker's sampler picked, the sampling
//! parameters (seed included) and the execution trace (`mycel_ml::generate::TraceRecorder` lays it
//! out). The replay runs the model on the claimed tokens and checks two things: that the trace is
//! the one the model gives (wrong weights, a skipped layer or a cut context change the activations),
//! and that each claimed token is what the seeded sampler picks from the replayed logits (a response
//! invented elsewhere and then run through the honest model has the honest trace, but not the
//! honest picks). Either finding names its first unit, which is where a dispute starts bisecting.
//!
//! Exactness: the replay is bitwise only against the same model ID (weights and execution mode) on
//! the same CPU family; the thread count does not matter (tested in `mycel-ml` in child processes).

use crate::Result;
use mycel_ml::{
    embed::{Embedder, trace_leaves},
    generate::{Generation, ReplayMode, TextGenerator, trace_leaf_at, trace_root},
    sampling::SamplingParams,
};
use mycel_primitives::Hash;

/// What a worker committed to for a generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationClaim {
    /// Prompt token ids.
    pub prompt_ids: Vec<u32>,
    /// Every token the sampler picked, end-of-sequence included ([`Generation::sampled_ids`]).
    pub sampled_ids: Vec<u32>,
    /// The request's sampling parameters.
    pub params: SamplingParams,
    /// The committed trace.
    pub trace: TraceClaim,
    /// The committed logits hash, if any.
    pub logits_hash: Option<String>,
}

impl GenerationClaim {
    /// The claim of a generation as the worker reports it, with every trace leaf.
    pub fn of(g: &Generation, params: &SamplingParams) -> Self {
        Self {
            prompt_ids: g.prompt_ids.clone(),
            sampled_ids: g.sampled_ids(),
            params: params.clone(),
            trace: TraceClaim::Leaves(g.trace.clone()),
            logits_hash: Some(g.logits_hash.clone()),
        }
    }
}

/// A committed trace: the root alone (what the chain holds) or every leaf (revealed to an auditor or
/// in a dispute), which lets the replay name the first leaf that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceClaim {
    /// The Merkle root (`mycel_ml::generate::trace_root`).
    Root(Hash),
    /// The leaves.
    Leaves(Vec<Hash>),
}

/// What a unit count is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Trace leaves.
    Leaves,
    /// Embedded items.
    Items,
}

/// One way a replay disagrees with a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The claimed pick at generated position `index` is not the seeded sampler's.
    OutputMismatch {
        /// Generated position (0 = the first pick).
        index: usize,
        /// The claimed token.
        claimed: u32,
        /// The token the replay picks.
        replayed: u32,
    },
    /// The traces differ; `leaf` is the first differing leaf when the leaves were claimed.
    TraceMismatch {
        /// First differing leaf.
        leaf: Option<usize>,
        /// Its chunk and block (`None` for a sampled-token leaf), for generation traces.
        at: Option<(usize, Option<usize>)>,
    },
    /// The logits hash differs (the trace does not cover the final norm and output layer).
    LogitsMismatch,
    /// Tokens claimed after the generation had to stop: after an end-of-sequence pick, or past
    /// `max_tokens`. `index` is the first such token. (Stop sequences cut text, not tokens, and
    /// are checked on the text.)
    PastEnd {
        /// First token past the end.
        index: usize,
    },
    /// The claim has a different number of units than the replay.
    UnitsMismatch {
        /// What is counted.
        unit: Unit,
        /// Claimed count.
        claimed: usize,
        /// Replayed count.
        replayed: usize,
    },
}

/// The outcome of a replay: no findings means the claim is reproduced bit for bit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Every disagreement found, output before trace.
    pub findings: Vec<Finding>,
    /// The trace root the replay computed.
    pub replayed_root: Hash,
}

impl Verdict {
    /// Whether the replay reproduced the claim.
    pub fn is_match(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first generated position whose pick differs, if any.
    pub fn first_output_mismatch(&self) -> Option<usize> {
        self.findings.iter().find_map(|f| match f {
            Finding::OutputMismatch { index, .. } => Some(*index),
            _ => None,
        })
    }

    /// The first differing trace leaf, if the leaves were claimed and one differs.
    pub fn first_divergent_leaf(&self) -> Option<usize> {
        self.findings.iter().find_map(|f| match f {
            Finding::TraceMismatch { leaf, .. } => *leaf,
            _ => None,
        })
    }
}

/// The first index where two leaf sequences differ; a strict prefix differs at its length.
pub fn first_divergent_leaf(a: &[Hash], b: &[Hash]) -> Option<usize> {
    let n = a.len().min(b.len());
    (0..n)
        .find(|&i| a[i] != b[i])
        .or((a.len() != b.len()).then_some(n))
}

fn trace_findings(
    claimed: &TraceClaim,
    replayed: &[Hash],
    layers: Option<usize>,
    unit: Unit,
) -> Vec<Finding> {
    match claimed {
        TraceClaim::Root(root) if *root == trace_root(replayed) => vec![],
        TraceClaim::Root(_) => vec![Finding::TraceMismatch {
            leaf: None,
            at: None,
        }],
        TraceClaim::Leaves(leaves) => {
            let mut out = Vec::new();
            if leaves.len() != replayed.len() {
                out.push(Finding::UnitsMismatch {
                    unit,
                    claimed: leaves.len(),
                    replayed: replayed.len(),
                });
            }
            if let Some(i) = first_divergent_leaf(leaves, replayed) {
                out.push(Finding::TraceMismatch {
                    leaf: Some(i),
                    at: layers.map(|l| trace_leaf_at(i, l)),
                });
            }
            out
        }
    }
}

/// Re-executes a generation claim on `model` (which must be the job's model ID) and compares.
/// [`ReplayMode::Prefill`] is the fast exact path in quantized mode; errors are claims the model
/// cannot run at all (bad parameters, no tokens, longer than the context).
pub fn replay_generation(
    model: &TextGenerator,
    claim: &GenerationClaim,
    mode: ReplayMode,
) -> Result<Verdict> {
    let r = model.replay(&claim.prompt_ids, &claim.sampled_ids, &claim.params, mode)?;
    let mut findings = Vec::new();
    let eos = &model.tokenizer().eos;
    let ids = &claim.sampled_ids;
    // The last pick may be the end-of-sequence token, which `max_tokens` does not count.
    let after_eos = ids.iter().position(|t| eos.contains(t)).map(|i| i + 1);
    let past_max = ids
        .iter()
        .enumerate()
        .filter(|(_, t)| !eos.contains(t))
        .nth(claim.params.max_tokens)
        .map(|(i, _)| i);
    if let Some(index) = after_eos
        .filter(|&i| i < ids.len())
        .into_iter()
        .chain(past_max)
        .min()
    {
        findings.push(Finding::PastEnd { index });
    }
    if let Some(i) = r.first_token_mismatch(&claim.sampled_ids) {
        // `replay` returns one pick per claimed token, so both exist.
        findings.push(Finding::OutputMismatch {
            index: i,
            claimed: claim.sampled_ids[i],
            replayed: r.sampled[i],
        });
    }
    findings.extend(trace_findings(
        &claim.trace,
        &r.trace,
        Some(model.model().config().layers),
        Unit::Leaves,
    ));
    if claim
        .logits_hash
        .as_ref()
        .is_some_and(|h| *h != r.logits_hash)
    {
        findings.push(Finding::LogitsMismatch);
    }
    Ok(Verdict {
        findings,
        replayed_root: trace_root(&r.trace),
    })
}

/// Re-embeds `texts` (in the worker's order, so batches pad alike) and compares with the claimed
/// per-item leaves (`mycel_ml::embed::trace_leaves`).
pub fn replay_embeddings<S: AsRef<str>>(
    model: &Embedder,
    texts: &[S],
    claim: &TraceClaim,
) -> Result<Verdict> {
    let leaves = trace_leaves(&model.embed(texts)?);
    let findings = trace_findings(claim, &leaves, None, Unit::Items);
    Ok(Verdict {
        findings,
        replayed_root: trace_root(&leaves),
    })
}

/// Dishonest and broken workers, for tests and `mycel bench verify`: each fault class produces a
/// [`GenerationClaim`] the way such a worker would. Not for serving.
#[doc(hidden)]
pub mod faults {
    use super::{GenerationClaim, TraceClaim};
    use crate::Result;
    use mycel_ml::{
        generate::{
            GenerateRequest, Prompt, TextGenerator, TraceRecorder,
            faults::{self, GgmlDType},
        },
        llama::{Attention, KvCache, LogitsAt},
        registry::ExecMode,
        text::ChatMessage,
    };

    /// A way a worker's result can be wrong.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FaultClass {
        /// One bit of one Q4_1 weight block flipped (the low bit of a 4-bit weight).
        FlippedWeightBit,
        /// One layer's weights re-quantized to a coarser format (Q4_1 → Q4_0).
        LowerPrecision,
        /// One transformer block skipped.
        SkippedLayer,
        /// Sampled with another seed than the request's (temperature > 0).
        WrongSeed,
        /// The first prompt token dropped.
        TruncatedContext,
        /// A response generated under another system prompt, then run through the honest model
        /// to forge a matching trace.
        OtherModel,
    }

    impl FaultClass {
        /// Every class.
        pub const ALL: [FaultClass; 6] = [
            Self::FlippedWeightBit,
            Self::LowerPrecision,
            Self::SkippedLayer,
            Self::WrongSeed,
            Self::TruncatedContext,
            Self::OtherModel,
        ];

        /// A short name.
        pub fn name(self) -> &'static str {
            match self {
                Self::FlippedWeightBit => "flipped weight bit",
                Self::LowerPrecision => "lower precision (q4_0 layer)",
                Self::SkippedLayer => "skipped layer",
                Self::WrongSeed => "wrong seed",
                Self::TruncatedContext => "truncated context",
                Self::OtherModel => "other model's response",
            }
        }
    }

    /// The faulty models, built once from the honest GGUF file.
    #[derive(Debug)]
    pub struct FaultyWorkers {
        flipped: TextGenerator,
        coarse: TextGenerator,
        skipped: TextGenerator,
    }

    impl FaultyWorkers {
        /// Builds the faulty models from the honest `gguf` file, in quantized mode.
        pub fn new(gguf: &[u8]) -> Result<Self> {
            // Block 0 of the middle layer's MLP down-projection: bit 32 is the low bit of its
            // first 4-bit weight (after the f16 scale and minimum).
            let flipped = faults::flip_tensor_bit(gguf, "blk.15.ffn_down.weight", 32)?;
            let coarse =
                faults::requantize_tensor(gguf, "blk.15.ffn_down.weight", GgmlDType::Q4_0)?;
            let mut skipped = TextGenerator::from_gguf_bytes(gguf, ExecMode::Quantized)?;
            skipped.model_mut().inject_skip_layer(Some(15));
            Ok(Self {
                flipped: TextGenerator::from_gguf_bytes(&flipped, ExecMode::Quantized)?,
                coarse: TextGenerator::from_gguf_bytes(&coarse, ExecMode::Quantized)?,
                skipped,
            })
        }

        /// What a worker with fault `class` claims for `req`; `honest` is the job's model.
        pub fn claim(
            &self,
            class: FaultClass,
            honest: &TextGenerator,
            req: &GenerateRequest,
        ) -> Result<GenerationClaim> {
            let run = |g: &TextGenerator, prompt: Vec<u32>, seed: u64| -> Result<_> {
                let mut params = req.params.clone();
                params.seed = seed;
                Ok(g.stream_ids(prompt, &params)?.finish()?)
            };
            let prompt = honest.encode_prompt(&req.prompt)?;
            let seed = req.params.seed;
            let out = match class {
                FaultClass::FlippedWeightBit => run(&self.flipped, prompt.clone(), seed)?,
                FaultClass::LowerPrecision => run(&self.coarse, prompt.clone(), seed)?,
                FaultClass::SkippedLayer => run(&self.skipped, prompt.clone(), seed)?,
                FaultClass::WrongSeed => run(honest, prompt.clone(), seed.wrapping_add(1))?,
                FaultClass::TruncatedContext => run(honest, prompt[1..].to_vec(), seed)?,
                FaultClass::OtherModel => {
                    let Prompt::Chat(msgs) = &req.prompt else {
                        return Err(
                            mycel_ml::Error::InvalidInput("needs a chat prompt".into()).into()
                        );
                    };
                    let mut other = vec![ChatMessage {
                        role: "system".into(),
                        content: "You are a pirate. Answer like a pirate would.".into(),
                    }];
                    other.extend(msgs.iter().cloned());
                    let other = honest.encode_prompt(&Prompt::Chat(other))?;
                    let invented = run(honest, other, seed)?.sampled_ids();
                    return Ok(GenerationClaim {
                        trace: TraceClaim::Leaves(forge_trace(honest, &prompt, &invented)?),
                        prompt_ids: prompt,
                        sampled_ids: invented,
                        params: req.params.clone(),
                        logits_hash: None,
                    });
                }
            };
            Ok(GenerationClaim {
                prompt_ids: prompt,
                sampled_ids: out.sampled_ids(),
                params: req.params.clone(),
                trace: TraceClaim::Leaves(out.trace),
                logits_hash: Some(out.logits_hash),
            })
        }
    }

    /// The trace an honest model gives for `prompt` followed by `tokens`, with `tokens` written as
    /// the picks: what a worker that invents a response and prefills it can commit to.
    pub fn forge_trace(
        honest: &TextGenerator,
        prompt: &[u32],
        tokens: &[u32],
    ) -> Result<Vec<mycel_primitives::Hash>> {
        let m = honest.model();
        let cfg = m.config();
        let mut trace = TraceRecorder::new(cfg.layers, cfg.hidden);
        let mut cache = KvCache::default();
        let p = m.forward_traced(prompt, &mut cache, Attention::Batched, LogitsAt::Last)?;
        trace.push_positions(&p.layers);
        let Some((&first, rest)) = tokens.split_first() else {
            return Ok(trace.finish());
        };
        trace.push_token(first);
        if rest.is_empty() {
            return Ok(trace.finish());
        }
        let fed = &tokens[..tokens.len() - 1];
        let pass = m.forward_traced(fed, &mut cache, Attention::PerPosition, LogitsAt::Last)?;
        for (i, &tok) in rest.iter().enumerate() {
            let rows: Vec<Vec<f32>> = pass
                .layers
                .iter()
                .map(|l| l[i * cfg.hidden..(i + 1) * cfg.hidden].to_vec())
                .collect();
            trace.push_positions(&rows);
            trace.push_token(tok);
        }
        Ok(trace.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycel_ml::{
        generate::{GenerateRequest, Prompt},
        registry::ExecMode,
    };

    fn h(b: u8) -> Hash {
        Hash([b; 32])
    }

    #[test]
    fn first_divergent_leaf_finds_the_first_difference() {
        let a = [h(1), h(2), h(3)];
        assert_eq!(first_divergent_leaf(&a, &a), None);
        assert_eq!(first_divergent_leaf(&a, &[h(1), h(9), h(3)]), Some(1));
        assert_eq!(first_divergent_leaf(&a, &a[..2]), Some(2));
        assert_eq!(first_divergent_leaf(&[], &a), Some(0));
    }

    fn claim(g: &TextGenerator, seed: u64) -> (GenerationClaim, GenerateRequest) {
        let req = GenerateRequest {
            prompt: Prompt::user("hello there"),
            params: SamplingParams {
                temperature: 0.8,
                top_p: 0.95,
                top_k: 40,
                seed,
                max_tokens: 40,
                stop: vec![],
            },
        };
        let out = g.generate(&req, |_| {}).unwrap();
        (GenerationClaim::of(&out, &req.params), req)
    }

    #[test]
    fn honest_claims_match_and_tampered_ones_are_named() {
        let g = TextGenerator::tiny_random(3, ExecMode::Quantized).unwrap();
        let (honest, _) = claim(&g, 1);
        for mode in [ReplayMode::Decode, ReplayMode::Prefill] {
            let v = replay_generation(&g, &honest, mode).unwrap();
            assert!(v.is_match(), "{mode:?}: {v:?}");
            let TraceClaim::Leaves(leaves) = &honest.trace else {
                unreachable!()
            };
            assert_eq!(v.replayed_root, trace_root(leaves));
            let root_only = GenerationClaim {
                trace: TraceClaim::Root(trace_root(leaves)),
                ..honest.clone()
            };
            assert!(replay_generation(&g, &root_only, mode).unwrap().is_match());
        }
        // A changed pick: an output mismatch at that token.
        let mut bad = honest.clone();
        bad.sampled_ids[7] = (bad.sampled_ids[7] + 1) % 200;
        let v = replay_generation(&g, &bad, ReplayMode::Prefill).unwrap();
        assert_eq!(v.first_output_mismatch(), Some(7));
        // A changed leaf: a trace mismatch at that leaf, with its chunk and block.
        let mut bad = honest.clone();
        let TraceClaim::Leaves(leaves) = &mut bad.trace else {
            unreachable!()
        };
        leaves[3] = h(0);
        let v = replay_generation(&g, &bad, ReplayMode::Prefill).unwrap();
        let layers = g.model().config().layers;
        assert_eq!(
            v.findings,
            vec![Finding::TraceMismatch {
                leaf: Some(3),
                at: Some(trace_leaf_at(3, layers))
            }]
        );
        // A dropped leaf: units mismatch.
        let mut bad = honest.clone();
        let TraceClaim::Leaves(leaves) = &mut bad.trace else {
            unreachable!()
        };
        leaves.pop();
        let v = replay_generation(&g, &bad, ReplayMode::Prefill).unwrap();
        assert!(matches!(
            v.findings[0],
            Finding::UnitsMismatch {
                unit: Unit::Leaves,
                ..
            }
        ));
        // More tokens than asked for.
        let eos = &g.tokenizer().eos;
        let n = honest
            .sampled_ids
            .iter()
            .filter(|t| !eos.contains(t))
            .count();
        assert!(n >= 2);
        let mut long = honest.clone();
        long.params.max_tokens = n - 1;
        let v = replay_generation(&g, &long, ReplayMode::Prefill).unwrap();
        assert!(
            v.findings.contains(&Finding::PastEnd { index: n - 1 }),
            "{v:?}"
        );
        // Tokens after an end-of-sequence pick.
        let mut after = honest.clone();
        after.sampled_ids.insert(1, eos[0]);
        let v = replay_generation(&g, &after, ReplayMode::Prefill).unwrap();
        assert_eq!(v.findings[0], Finding::PastEnd { index: 2 });
        // Another seed's honest run: the claim fails on its picks.
        let (other, _) = claim(&g, 2);
        let wrong_seed = GenerationClaim {
            params: honest.params.clone(),
            ..other
        };
        let v = replay_generation(&g, &wrong_seed, ReplayMode::Prefill).unwrap();
        assert!(v.first_output_mismatch().is_some(), "{v:?}");
    }

    #[test]
    fn embeddings_replay_per_item() {
        let e = Embedder::tiny_random(5).unwrap();
        let texts = ["a cat", "a dog on a mat", "hello"];
        let leaves = trace_leaves(&e.embed(&texts).unwrap());
        let v = replay_embeddings(&e, &texts, &TraceClaim::Leaves(leaves.clone())).unwrap();
        assert!(v.is_match());
        let mut bad = leaves.clone();
        bad[2] = h(7);
        let v = replay_embeddings(&e, &texts, &TraceClaim::Leaves(bad)).unwrap();
        assert_eq!(v.first_divergent_leaf(), Some(2));
        let v = replay_embeddings(&e, &texts, &TraceClaim::Leaves(leaves[..2].to_vec())).unwrap();
        assert!(matches!(
            v.findings[0],
            Finding::UnitsMismatch {
                unit: Unit::Items,
                claimed: 2,
                replayed: 3
            }
        ));
        let other = Embedder::tiny_random(6).unwrap();
        let v = replay_embeddings(&other, &texts, &TraceClaim::Root(trace_root(&leaves))).unwrap();
        assert_eq!(
            v.findings,
            vec![Finding::TraceMismatch {
                leaf: None,
                at: None
            }]
        );
    }
}
