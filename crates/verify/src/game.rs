//! An in-process Tier D dispute: node-descent bisection to one leaf, then the chain's referee.
//!
//! Used by tests and `mycel bench verify` to check that the honest side always wins, that a
//! cheater's first bad leaf is the one the game lands on, and what a dispute costs in rounds,
//! bytes posted and referee time. The ledger plays the same moves through [`Bisection`].

use crate::trace::{Bisection, challenger_choice, children, subtree_root};
use mycel_primitives::Hash;
use mycel_referee::{
    DisputeContext, IntLm, RefereeError, Run, input_hash, output_token, prompt_bytes,
    recompute_leaf,
};
use std::time::{Duration, Instant};

/// Bytes the worker posts per round: the two revealed child hashes.
pub const REVEAL_BYTES: u64 = 64;
/// Bytes the challenger posts per round: which child it disputes.
pub const CHOICE_BYTES: u64 = 1;

/// A Tier D job as posted on chain (the model is passed beside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Prompt tokens (the input blob).
    pub prompt: Vec<u32>,
    /// Tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: u32,
    /// Sampling seed from the ledger.
    pub seed: Hash,
}

impl Job {
    /// The referee's view of this job under a worker's commitment.
    pub fn context(&self, model: &IntLm, trace_root: Hash, trace_len: u64) -> DisputeContext {
        DisputeContext {
            model: model.model_id(),
            input: input_hash(&self.prompt),
            seed: self.seed,
            trace_root,
            trace_len,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }

    /// The honest run of this job.
    pub fn run(&self, model: &IntLm) -> mycel_referee::Result<Run> {
        model.run(&self.prompt, self.max_tokens, self.temperature, &self.seed)
    }
}

/// A side of the dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The worker who committed the result (the defender).
    Worker,
    /// The challenger.
    Challenger,
}

/// Why the game ended as it did.
#[derive(Debug)]
pub enum Reason {
    /// The challenger's trace and output agree with the worker's: no dispute.
    Agreed,
    /// The referee recomputed the worker's leaf from the agreed predecessor.
    LeafRecomputed,
    /// The referee's leaf differs from the worker's.
    LeafDiffers,
    /// The referee rejected the worker's witness.
    WitnessRejected(RefereeError),
    /// The worker did not answer in time (no reveal, no witness, no opening).
    WorkerTimedOut,
    /// The worker revealed children that do not hash to the disputed node.
    BadReveal,
    /// The challenger agreed with both children: it had no dispute to pursue.
    ChallengerTimedOut,
    /// The trace commits another token than the posted output.
    OutputDiffers,
    /// The trace commits the posted output token.
    OutputCommitted,
}

/// How a dispute ended and what it cost.
#[derive(Debug)]
pub struct Outcome {
    /// Who won.
    pub winner: Party,
    /// Why.
    pub reason: Reason,
    /// The leaf the bisection reached (or the output token disputed).
    pub leaf: Option<u64>,
    /// Rounds played.
    pub rounds: u32,
    /// Bytes both parties posted over all rounds.
    pub bytes_posted: u64,
    /// Time the referee's recomputation took.
    pub referee: Duration,
}

impl Outcome {
    fn end(winner: Party, reason: Reason) -> Self {
        Self {
            winner,
            reason,
            leaf: None,
            rounds: 0,
            bytes_posted: 0,
            referee: Duration::ZERO,
        }
    }
}

/// What the worker committed and what it can show.
#[derive(Clone, Copy, Debug)]
pub struct WorkerSide<'a> {
    /// The committed trace root.
    pub trace_root: Hash,
    /// The committed trace length.
    pub trace_len: u64,
    /// The posted output tokens.
    pub output: &'a [u32],
    /// The trace it can reveal; `None` when it posted hashes with no data behind them.
    pub run: Option<&'a Run>,
}

impl<'a> WorkerSide<'a> {
    /// A worker that commits and posts exactly `run`.
    pub fn of(run: &'a Run) -> Self {
        Self {
            trace_root: run.trace_root(),
            trace_len: run.leaves.len() as u64,
            output: &run.tokens,
            run: Some(run),
        }
    }
}

/// What the challenger computed.
#[derive(Clone, Copy, Debug)]
pub struct ChallengerSide<'a> {
    /// Its trace leaves.
    pub leaves: &'a [Hash],
    /// Its generated tokens.
    pub tokens: &'a [u32],
}

impl<'a> ChallengerSide<'a> {
    /// A challenger that replayed `run`.
    pub fn of(run: &'a Run) -> Self {
        Self {
            leaves: &run.leaves,
            tokens: &run.tokens,
        }
    }
}

/// Plays a dispute over `job` on `model` between `worker` and `challenger`.
///
/// The challenger disputes the trace when its root differs, else the output when a posted
/// token differs from its own. The worker defends with the best evidence it has: the witness
/// of the job's model over its own run (a cheater can do no better).
pub fn play(
    model: &IntLm,
    job: &Job,
    worker: &WorkerSide<'_>,
    challenger: &ChallengerSide<'_>,
) -> Outcome {
    let ctx = job.context(model, worker.trace_root, worker.trace_len);
    let own_root = subtree_root(challenger.leaves, 0, worker.trace_len);
    if worker.trace_len > 0 && own_root != worker.trace_root {
        return trace_dispute(model, job, &ctx, worker, challenger);
    }
    let differs = (0..worker.output.len().max(challenger.tokens.len()))
        .find(|&g| worker.output.get(g) != challenger.tokens.get(g));
    match differs {
        None if worker.trace_len as usize == challenger.leaves.len() => {
            Outcome::end(Party::Worker, Reason::Agreed)
        }
        // Same root over a different length: the challenger pads with zeros, so this needs a
        // forged tree; treat it like an output dispute on the first token.
        None => output_dispute(model, job, &ctx, worker, 0),
        Some(g) => output_dispute(model, job, &ctx, worker, g as u32),
    }
}

fn trace_dispute(
    model: &IntLm,
    job: &Job,
    ctx: &DisputeContext,
    worker: &WorkerSide<'_>,
    challenger: &ChallengerSide<'_>,
) -> Outcome {
    let Some(run) = worker.run else {
        return Outcome {
            rounds: 1,
            ..Outcome::end(Party::Challenger, Reason::WorkerTimedOut)
        };
    };
    let Ok(mut b) = Bisection::new(worker.trace_root, worker.trace_len) else {
        return Outcome::end(Party::Challenger, Reason::WorkerTimedOut);
    };
    let mut bytes = 0;
    while !b.at_leaf() {
        let (l, r) = children(&run.leaves, b.offset, b.size);
        if b.reveal(l, r).is_err() {
            return Outcome {
                rounds: b.round + 1,
                bytes_posted: bytes,
                ..Outcome::end(Party::Challenger, Reason::BadReveal)
            };
        }
        bytes += REVEAL_BYTES;
        let Some(right) = challenger_choice(challenger.leaves, b.offset, b.size, &l, &r) else {
            return Outcome {
                rounds: b.round + 1,
                bytes_posted: bytes,
                ..Outcome::end(Party::Worker, Reason::ChallengerTimedOut)
            };
        };
        // `choose` only fails out of turn, and a reveal was just accepted.
        let _ = b.choose(right);
        bytes += CHOICE_BYTES;
    }
    let leaf = b.offset;
    let done = |winner, reason, referee| Outcome {
        winner,
        reason,
        leaf: Some(leaf),
        rounds: b.round,
        bytes_posted: bytes,
        referee,
    };
    let Ok(witness) = model.witness(run, &prompt_bytes(&job.prompt), leaf) else {
        return done(Party::Challenger, Reason::WorkerTimedOut, Duration::ZERO);
    };
    let t = Instant::now();
    let got = recompute_leaf(ctx, leaf, &witness);
    let referee = t.elapsed();
    match got {
        Ok(h) if h == b.node => done(Party::Worker, Reason::LeafRecomputed, referee),
        Ok(_) => done(Party::Challenger, Reason::LeafDiffers, referee),
        Err(e) => done(Party::Challenger, Reason::WitnessRejected(e), referee),
    }
}

fn output_dispute(
    model: &IntLm,
    job: &Job,
    ctx: &DisputeContext,
    worker: &WorkerSide<'_>,
    generated: u32,
) -> Outcome {
    let opening = worker.run.and_then(|run| {
        model
            .open_output(run, job.prompt.len() as u32, generated)
            .ok()
    });
    let done = |winner, reason, referee| Outcome {
        winner,
        reason,
        leaf: Some(generated as u64),
        rounds: 1,
        bytes_posted: 0,
        referee,
    };
    let Some(opening) = opening else {
        return done(Party::Challenger, Reason::WorkerTimedOut, Duration::ZERO);
    };
    let t = Instant::now();
    let got = output_token(ctx, generated, &opening);
    let referee = t.elapsed();
    match got {
        Ok(tok) if Some(&tok) == worker.output.get(generated as usize) => {
            done(Party::Worker, Reason::OutputCommitted, referee)
        }
        Ok(_) => done(Party::Challenger, Reason::OutputDiffers, referee),
        Err(e) => done(Party::Challenger, Reason::WitnessRejected(e), referee),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{depth, max_rounds};
    use mycel_referee::{Arch, trace_leaf};

    /// 4 steps per position, 16 positions: a 64-leaf trace.
    fn setup() -> (IntLm, Job, Run) {
        let arch = Arch {
            vocab: 97,
            dim: 16,
            layers: 2,
            shift: 8,
        };
        let m = IntLm::random(arch, 11).unwrap();
        let job = Job {
            prompt: vec![3, 1, 4, 1, 5, 9],
            max_tokens: 11,
            temperature: 1 << 22,
            seed: Hash([5; 32]),
        };
        let run = job.run(&m).unwrap();
        assert_eq!(run.leaves.len(), 64);
        (m, job, run)
    }

    /// A cheater whose state `j` is altered (and whose later steps follow honestly from it).
    fn altered(run: &Run, j: usize) -> Run {
        let mut c = run.clone();
        let k = c.states[j].len() - 1;
        c.states[j][k] ^= 0x40;
        c.states[j][40] ^= 0x01;
        c.leaves[j] = trace_leaf(j as u64, &c.states[j]);
        c
    }

    #[test]
    fn honest_parties_agree() {
        let (m, job, run) = setup();
        let o = play(&m, &job, &WorkerSide::of(&run), &ChallengerSide::of(&run));
        assert_eq!(o.winner, Party::Worker);
        assert!(matches!(o.reason, Reason::Agreed));
    }

    #[test]
    fn every_altered_leaf_is_found_and_lost() {
        let (m, job, run) = setup();
        let n = run.leaves.len() as u64;
        for j in 0..n {
            let cheat = altered(&run, j as usize);
            let o = play(&m, &job, &WorkerSide::of(&cheat), &ChallengerSide::of(&run));
            assert_eq!(o.winner, Party::Challenger, "j {j}: {:?}", o.reason);
            assert!(matches!(o.reason, Reason::LeafDiffers), "j {j}");
            assert_eq!(o.leaf, Some(j));
            assert_eq!(o.rounds, max_rounds(n));
            assert_eq!(o.rounds, depth(j, n));
            assert_eq!(
                o.bytes_posted,
                o.rounds as u64 * (REVEAL_BYTES + CHOICE_BYTES)
            );
        }
    }

    #[test]
    fn a_lying_challenger_always_loses() {
        let (m, job, run) = setup();
        for k in 0..run.leaves.len() {
            let mut lie = run.leaves.clone();
            lie[k] = Hash([0xab; 32]);
            let o = play(
                &m,
                &job,
                &WorkerSide::of(&run),
                &ChallengerSide {
                    leaves: &lie,
                    tokens: &run.tokens,
                },
            );
            assert_eq!(o.winner, Party::Worker, "k {k}: {:?}", o.reason);
            assert!(matches!(o.reason, Reason::LeafRecomputed));
            assert_eq!(o.leaf, Some(k as u64));
        }
        // Disputing a correct output token.
        let mut lie = run.tokens.clone();
        lie[3] ^= 1;
        let o = play(
            &m,
            &job,
            &WorkerSide::of(&run),
            &ChallengerSide {
                leaves: &run.leaves,
                tokens: &lie,
            },
        );
        assert_eq!(o.winner, Party::Worker);
        assert!(matches!(o.reason, Reason::OutputCommitted));
    }

    #[test]
    fn an_altered_output_only_is_lost() {
        let (m, job, run) = setup();
        for g in 0..run.tokens.len() {
            let mut out = run.tokens.clone();
            out[g] = (out[g] + 1) % 97;
            let w = WorkerSide {
                output: &out,
                ..WorkerSide::of(&run)
            };
            let o = play(&m, &job, &w, &ChallengerSide::of(&run));
            assert_eq!(o.winner, Party::Challenger);
            assert!(matches!(o.reason, Reason::OutputDiffers));
            assert_eq!(o.leaf, Some(g as u64));
        }
    }

    #[test]
    fn a_worker_without_data_times_out() {
        let (m, job, run) = setup();
        let w = WorkerSide {
            trace_root: Hash([1; 32]),
            run: None,
            ..WorkerSide::of(&run)
        };
        let o = play(&m, &job, &w, &ChallengerSide::of(&run));
        assert_eq!(o.winner, Party::Challenger);
        assert!(matches!(o.reason, Reason::WorkerTimedOut));
    }

    #[test]
    fn a_wrong_seed_is_found_at_the_first_sampling_step() {
        let (m, job, run) = setup();
        let cheat = Job {
            seed: Hash([6; 32]),
            ..job.clone()
        }
        .run(&m)
        .unwrap();
        let o = play(&m, &job, &WorkerSide::of(&cheat), &ChallengerSide::of(&run));
        assert_eq!(o.winner, Party::Challenger);
        // Position 5 (the last prompt token), head step 3: the first one that samples.
        assert_eq!(o.leaf, Some(5 * 4 + 3));
    }
}
