//! `mycel bench verify` (dispute part): a Tier D dispute on IntLm, end to end in-process, against
//! the verification targets (T4: zero false positives, every fault class detected; T5: rounds,
//! bytes per round, referee time and share of the job, whole game under 1 s).

use mycel_node::{Error, Result};
use mycel_primitives::{Domain, Hash, hash::hash};
use mycel_referee::{Arch, Faults, IntLm, Run, prompt_bytes, recompute_leaf, trace_leaf};
use mycel_verify::{
    game::{self, ChallengerSide, Job, Party, WorkerSide},
    trace::max_rounds,
};
use std::{
    fmt,
    time::{Duration, Instant},
};

/// Seed of the job's model in every shape.
const MODEL_SEED: u64 = 0x006d_7963_656c;
/// T5's round ceiling for 4 layers × 64 chunks.
const T5_ROUNDS: u32 = 12;

/// Options of the dispute benchmark.
#[derive(Debug, Clone)]
pub struct DisputeArgs {
    /// Honest replays compared for false positives (half on one thread, half on two).
    pub replays: usize,
    /// Cheating runs per fault class.
    pub trials: usize,
}

impl Default for DisputeArgs {
    fn default() -> Self {
        Self {
            replays: 10_000,
            trials: 8,
        }
    }
}

/// One model and job size, disputed end to end.
#[derive(Debug, Clone)]
pub struct ShapeRow {
    /// What the shape stands for.
    pub name: &'static str,
    /// The model.
    pub arch: Arch,
    /// Prompt tokens.
    pub prompt: usize,
    /// Generated tokens.
    pub generated: u32,
    /// Trace leaves.
    pub n: u64,
    /// One honest run (the job).
    pub job: Duration,
    /// The whole game against a cheater whose middle leaf is altered (bisection + referee).
    pub game: Duration,
    /// Rounds that game took.
    pub rounds: u32,
    /// Bytes posted per round.
    pub bytes_per_round: u64,
    /// Referee time on the disputed leaf.
    pub referee: Duration,
    /// Slowest referee time over the leaves sampled (each the best of three).
    pub referee_max: Duration,
    /// Mean referee time.
    pub referee_mean: Duration,
    /// Leaves sampled for referee times.
    pub sampled: usize,
    /// Largest witness over the sample.
    pub witness_max: usize,
    /// Multiply-adds of the largest step.
    pub step_macs: u64,
    /// Multiply-adds of the job.
    pub job_macs: u64,
}

/// Detection of one fault class.
#[derive(Debug, Clone)]
pub struct FaultRow {
    /// The fault.
    pub name: &'static str,
    /// Trials the challenger won.
    pub detected: usize,
    /// Trials.
    pub trials: usize,
    /// Leaf (or output token) the first trial's dispute ended at.
    pub leaf: Option<u64>,
    /// How the first trial ended.
    pub how: String,
    /// Slowest game over the trials.
    pub slowest: Duration,
}

/// The dispute benchmark's figures.
#[derive(Debug, Clone)]
pub struct DisputeReport {
    /// Disputes per shape.
    pub shapes: Vec<ShapeRow>,
    /// Honest replays compared.
    pub replays: usize,
    /// Replays whose trace root differed from the reference.
    pub mismatches: usize,
    /// Time the replays took.
    pub replay_time: Duration,
    /// Fault classes.
    pub faults: Vec<FaultRow>,
}

fn invalid(e: impl fmt::Display) -> Error {
    Error::Invalid {
        what: "dispute bench".into(),
        why: e.to_string(),
    }
}

fn seed(i: u64) -> Hash {
    hash(Domain::Randomness, &i.to_be_bytes())
}

fn job(arch: &Arch, i: u64, prompt: usize, max_tokens: u32, temperature: u32) -> Job {
    Job {
        prompt: (0..prompt as u64)
            .map(|k| ((k * 2_654_435_761 + i * 40_503) % arch.vocab as u64) as u32)
            .collect(),
        max_tokens,
        temperature,
        seed: seed(i),
    }
}

/// Temperature on the order of the logits' spread, so sampling noise matters.
fn temperature(arch: &Arch) -> u32 {
    (arch.dim as u32) * 128 * 64
}

fn job_macs(arch: &Arch, prompt: usize, n: u64) -> (u64, u64) {
    let ops = arch.ops_per_position() as u64;
    let (mut total, mut max) = (0, 0);
    for i in 0..n {
        let (pos, op) = (i / ops, (i % ops) as u32);
        let m = arch.step_macs(arch.op(op), pos + 1 >= prompt as u64);
        total += m;
        max = max.max(m);
    }
    (max, total)
}

/// A cheater whose state at `j` is altered; its later states follow honestly.
fn altered(run: &Run, j: usize) -> Run {
    let mut c = run.clone();
    let last = c.states[j].len() - 1;
    c.states[j][last] ^= 0x40;
    c.leaves[j] = trace_leaf(j as u64, &c.states[j]);
    c
}

fn shape(name: &'static str, arch: Arch, prompt: usize, generated: u32) -> Result<ShapeRow> {
    let m = IntLm::random(arch, MODEL_SEED).map_err(invalid)?;
    let j = job(&arch, 1, prompt, generated, temperature(&arch));
    let t = Instant::now();
    let run = j.run(&m).map_err(invalid)?;
    let job_time = t.elapsed();
    let n = run.leaves.len() as u64;
    let cheat = altered(&run, (n / 2) as usize);
    let t = Instant::now();
    let o = game::play(&m, &j, &WorkerSide::of(&cheat), &ChallengerSide::of(&run));
    let game_time = t.elapsed();
    if o.winner != Party::Challenger || o.leaf != Some(n / 2) {
        return Err(invalid(format!("{name}: cheater not caught: {o:?}")));
    }
    // Referee time over every step of the first generated position and an even sample of the rest.
    let ops = arch.ops_per_position() as u64;
    let first_gen = (prompt as u64 - 1) * ops;
    let stride = (n / 400).max(1);
    let mut sample: Vec<u64> = (first_gen..first_gen + ops)
        .chain((0..n).step_by(stride as usize))
        .collect();
    sample.sort_unstable();
    sample.dedup();
    let ctx = j.context(&m, run.trace_root(), n);
    let pb = prompt_bytes(&j.prompt);
    let (mut max, mut sum, mut witness_max) = (Duration::ZERO, Duration::ZERO, 0);
    for &i in &sample {
        let w = m.witness(&run, &pb, i).map_err(invalid)?;
        witness_max = witness_max.max(w.len());
        // Best of three: the referee's cost, not the scheduler's (other work shares the cores).
        let mut d = Duration::MAX;
        let mut leaf = Hash::ZERO;
        for _ in 0..3 {
            let t = Instant::now();
            leaf = recompute_leaf(&ctx, i, &w).map_err(invalid)?;
            d = d.min(t.elapsed());
        }
        if leaf != run.leaves[i as usize] {
            return Err(invalid(format!("{name}: honest leaf {i} not recomputed")));
        }
        max = max.max(d);
        sum += d;
    }
    let (step_macs, job_macs) = job_macs(&arch, prompt, n);
    Ok(ShapeRow {
        name,
        arch,
        prompt,
        generated,
        n,
        job: job_time,
        game: game_time,
        rounds: o.rounds,
        bytes_per_round: o.bytes_posted / o.rounds.max(1) as u64,
        referee: o.referee,
        referee_max: max,
        referee_mean: sum / sample.len() as u32,
        sampled: sample.len(),
        witness_max,
        step_macs,
        job_macs,
    })
}

/// Honest replays with a fresh model each, compared by trace root with a reference run: half
/// on this thread, half split over two threads.
fn replays(arch: Arch, count: usize) -> Result<(usize, Duration)> {
    const JOBS: u64 = 50;
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| {
            // Half the jobs sample at temperature 0, half with noise.
            let temp = if i % 2 == 0 { 0 } else { temperature(&arch) };
            job(
                &arch,
                100 + i,
                5 + (i % 7) as usize,
                16 + (i % 5) as u32,
                temp,
            )
        })
        .collect();
    let reference = IntLm::random(arch, MODEL_SEED).map_err(invalid)?;
    let roots: Vec<Hash> = jobs
        .iter()
        .map(|j| j.run(&reference).map(|r| r.trace_root()))
        .collect::<mycel_referee::Result<_>>()
        .map_err(invalid)?;
    let replay = |range: std::ops::Range<usize>| -> usize {
        range
            .filter(|&r| {
                let k = r % JOBS as usize;
                let root = IntLm::random(arch, MODEL_SEED)
                    .and_then(|m| jobs[k].run(&m))
                    .map(|run| run.trace_root());
                root.ok() != Some(roots[k])
            })
            .count()
    };
    let t = Instant::now();
    let half = count / 2;
    let quarter = half + (count - half) / 2;
    let mut mismatches = replay(0..half);
    std::thread::scope(|s| {
        let a = s.spawn(|| replay(half..quarter));
        let b = s.spawn(|| replay(quarter..count));
        for h in [a, b] {
            // A panicking replay thread counts as a mismatch.
            mismatches += h.join().unwrap_or(1);
        }
    });
    Ok((mismatches, t.elapsed()))
}

/// splitmix64 for choosing fault positions.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn faults(arch: Arch, prompt: usize, generated: u32, trials: usize) -> Result<Vec<FaultRow>> {
    let m = IntLm::random(arch, MODEL_SEED).map_err(invalid)?;
    let d = arch.dim as usize;
    let classes: [&'static str; 9] = [
        "flipped weight LSB",
        "int4 substitution",
        "skipped layer",
        "wrong seed",
        "truncated context",
        "other model's response prefilled",
        "inflated units (+4 tokens)",
        "altered output only",
        "output hash with no data",
    ];
    let mut rows = Vec::new();
    for (c, name) in classes.into_iter().enumerate() {
        let mut row = FaultRow {
            name,
            detected: 0,
            trials,
            leaf: None,
            how: String::new(),
            slowest: Duration::ZERO,
        };
        for t in 0..trials as u64 {
            let r = mix(c as u64 * 1000 + t);
            let mut j = job(
                &arch,
                10_000 + c as u64 * 100 + t,
                prompt,
                generated,
                temperature(&arch),
            );
            let honest = j.run(&m).map_err(invalid)?;
            let mut challenger = honest.clone();
            let run_of = |model: &IntLm, j: &Job, f: Faults| {
                model
                    .run_with(&j.prompt, j.max_tokens, j.temperature, &j.seed, &f)
                    .map_err(invalid)
            };
            let tweaked = |f: &dyn Fn(&mut mycel_referee::Weights)| -> Result<IntLm> {
                let mut w = m.weights().clone();
                f(&mut w);
                IntLm::new(arch, w).map_err(invalid)
            };
            let mut output = None;
            let mut no_data = false;
            let cheat: Run = match c {
                0 => {
                    let l = (r % arch.layers as u64) as usize;
                    let k = ((r >> 8) % (d * d) as u64) as usize;
                    let bad = tweaked(&|w| w.layers[l].w[k] ^= 1)?;
                    run_of(&bad, &j, Faults::default())?
                }
                1 => {
                    let bad = tweaked(&|w| {
                        w.layers
                            .iter_mut()
                            .for_each(|l| l.w.iter_mut().for_each(|v| *v = (*v >> 4) << 4))
                    })?;
                    run_of(&bad, &j, Faults::default())?
                }
                2 => run_of(
                    &m,
                    &j,
                    Faults {
                        skip_layer: Some((r % arch.layers as u64) as u8),
                        ..Faults::default()
                    },
                )?,
                3 => run_of(
                    &m,
                    &Job {
                        seed: seed(r),
                        ..j.clone()
                    },
                    Faults::default(),
                )?,
                4 => run_of(
                    &m,
                    &Job {
                        prompt: j.prompt[1..].to_vec(),
                        ..j.clone()
                    },
                    Faults::default(),
                )?,
                5 => {
                    let other = IntLm::random(arch, r).map_err(invalid)?;
                    let theirs = run_of(&other, &j, Faults::default())?.tokens;
                    run_of(
                        &m,
                        &j,
                        Faults {
                            forced: Some(theirs),
                            ..Faults::default()
                        },
                    )?
                }
                6 => {
                    // The job allows 4 more tokens than the worker ran; it pads trace and output.
                    j.max_tokens += 4;
                    challenger = j.run(&m).map_err(invalid)?;
                    let mut pad = honest.clone();
                    let last = pad.states.last().cloned().unwrap_or_default();
                    let n = arch.trace_len(j.prompt.len() as u64, j.max_tokens as u64);
                    for i in pad.leaves.len() as u64..n {
                        pad.leaves.push(trace_leaf(i, &last));
                        pad.states.push(last.clone());
                    }
                    let fill = pad.tokens.last().copied().unwrap_or(0);
                    pad.tokens.extend([fill; 4]);
                    pad
                }
                7 => {
                    let mut out = honest.tokens.clone();
                    let g = (r % out.len() as u64) as usize;
                    out[g] = (out[g] + 1) % arch.vocab as u32;
                    output = Some(out);
                    honest.clone()
                }
                _ => {
                    no_data = true;
                    honest.clone()
                }
            };
            let out = output.unwrap_or_else(|| cheat.tokens.clone());
            let mut w = WorkerSide::of(&cheat);
            w.output = &out;
            if no_data {
                w.run = None;
                w.trace_root = seed(r);
            }
            let t0 = Instant::now();
            let o = game::play(&m, &j, &w, &ChallengerSide::of(&challenger));
            row.slowest = row.slowest.max(t0.elapsed());
            if o.winner == Party::Challenger {
                row.detected += 1;
            }
            if t == 0 {
                row.leaf = o.leaf;
                row.how = format!("{:?}, {} rounds", o.reason, o.rounds);
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Runs the dispute benchmark.
pub fn run(args: &DisputeArgs) -> Result<DisputeReport> {
    let small = Arch {
        vocab: 512,
        dim: 64,
        layers: 4,
        shift: 9,
    };
    let large = Arch {
        vocab: 4096,
        dim: 256,
        layers: 4,
        shift: 11,
    };
    let shapes = vec![
        // 36 positions × 7 steps = 252 leaves: the 4 layers × 64 chunks of T5, counted in leaves.
        shape("4 layers, n≈256", small, 10, 27)?,
        // 2047 positions: 64 chunks of 32 tokens, one leaf per (token, step).
        shape("4 layers, 64×32 tokens", small, 32, 2016)?,
        // Largest arch: two row blocks per layer, 32 head blocks.
        shape("vocab 4096, dim 256", large, 16, 48)?,
    ];
    let (mismatches, replay_time) = replays(small, args.replays)?;
    let faults = faults(small, 10, 27, args.trials)?;
    Ok(DisputeReport {
        shapes,
        replays: args.replays,
        mismatches,
        replay_time,
        faults,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl fmt::Display for DisputeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Tier D dispute (IntLm, in-process)")?;
        for s in &self.shapes {
            let a = s.arch;
            writeln!(
                f,
                "  {}: vocab {} dim {} layers {}; prompt {} + {} tokens; n = {} leaves ({} per position)",
                s.name,
                a.vocab,
                a.dim,
                a.layers,
                s.prompt,
                s.generated,
                s.n,
                a.ops_per_position()
            )?;
            let bound = max_rounds(s.n);
            writeln!(
                f,
                "    game {:.2} ms (target ≤ 1000); job {:.1} ms; rounds {} (⌈log₂ n⌉ = {}, target ≤ {}, T5 ≤ {T5_ROUNDS}); {} B/round (64 B hashes + choice; target ≤ 100)",
                ms(s.game),
                ms(s.job),
                s.rounds,
                bound,
                bound + 3,
                s.bytes_per_round
            )?;
            writeln!(
                f,
                "    referee: disputed leaf {:.3} ms, max {:.3} ms, mean {:.3} ms over {} leaves (target < 10); witness ≤ {} B",
                ms(s.referee),
                ms(s.referee_max),
                ms(s.referee_mean),
                s.sampled,
                s.witness_max
            )?;
            let (target, chunks) = s.share_target();
            writeln!(
                f,
                "    referee share of the job: time 1/{:.0} (mean leaf), MACs 1/{:.0} (largest step {} of {}); target ≤ 1/{} (8·L·{chunks} chunks)",
                s.job.as_secs_f64() / s.referee_mean.as_secs_f64().max(1e-12),
                s.job_macs as f64 / s.step_macs.max(1) as f64,
                s.step_macs,
                s.job_macs,
                target
            )?;
        }
        writeln!(
            f,
            "  false positives: {} of {} honest replays (fresh model each; half on 1 thread, half on 2), {:.1} s",
            self.mismatches,
            self.replays,
            self.replay_time.as_secs_f64()
        )?;
        writeln!(f, "  fault detection (4 layers, n = 252):")?;
        for r in &self.faults {
            let at = r.leaf.map_or("-".to_string(), |l| l.to_string());
            writeln!(
                f,
                "    {:<34} detected {}/{}  first trial at {}: {} (slowest game {:.2} ms)",
                r.name,
                r.detected,
                r.trials,
                at,
                r.how,
                ms(r.slowest)
            )?;
        }
        Ok(())
    }
}

impl ShapeRow {
    /// T5's referee share, `8·L·chunks` (chunks of 32 tokens of this job), and the chunk count.
    pub fn share_target(&self) -> (u64, u64) {
        let chunks = (self.prompt as u64 + self.generated as u64).div_ceil(32);
        (8 * self.arch.layers as u64 * chunks, chunks)
    }
}

impl DisputeReport {
    /// Whether every gate passes: zero false positives, every fault found, and per shape the
    /// game under 1 s, rounds ≤ ⌈log₂ n⌉ + 3, ≤ 100 B per round, the referee under 10 ms and
    /// its largest step within T5's share of the job (T5's 12 rounds is reported, not gated).
    pub fn passes(&self) -> bool {
        self.mismatches == 0
            && self.faults.iter().all(|r| r.detected == r.trials)
            && self.shapes.iter().all(|s| {
                s.game < Duration::from_secs(1)
                    && s.rounds <= max_rounds(s.n) + 3
                    && s.bytes_per_round <= 100
                    && s.referee_max < Duration::from_millis(10)
                    && s.job_macs >= s.step_macs * s.share_target().0
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_detects_every_fault() {
        let arch = Arch {
            vocab: 97,
            dim: 16,
            layers: 2,
            shift: 8,
        };
        let rows = faults(arch, 6, 8, 2).unwrap();
        for r in &rows {
            assert_eq!(r.detected, r.trials, "{}: {}", r.name, r.how);
        }
        assert_eq!(replays(arch, 40).unwrap().0, 0);
    }

    /// The full report: `cargo test -p mycel-bench --release dispute::tests::full -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn full() {
        let r = run(&DisputeArgs::default()).unwrap();
        println!("{r}");
        assert!(r.passes());
    }
}
