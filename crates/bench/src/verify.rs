//! `mycel bench verify`: the verification targets of the protocol, each printed beside its
//! reference in one run — false positives over honest replays, detection per fault class, the
//! dispute game's rounds, bytes and referee time ([`crate::dispute`], Tier D), audit replay on
//! the pinned SmolLM2 against the original generation ([`crate::replay`]), and the economy
//! Monte-Carlo over the real ledger ([`crate::economy`]).

use crate::{dispute, economy, replay};
use mycel_node::{Error, Result};

/// Options of `mycel bench verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyBenchArgs {
    /// Honest Tier D replays compared for false positives.
    #[arg(long, default_value_t = 10_000)]
    pub replays: usize,
    /// Cheating runs per fault class (Tier D).
    #[arg(long, default_value_t = 8)]
    pub trials: usize,
    /// Honest replays on the real SmolLM2 (0 skips the real-model part).
    #[arg(long, default_value_t = 200)]
    pub real_replays: usize,
    /// Faulty claims per fault class on the real model.
    #[arg(long, default_value_t = 5)]
    pub real_faults: usize,
    /// Jobs per strategy in the economy Monte-Carlo.
    #[arg(long, default_value_t = 200)]
    pub economy_jobs: usize,
}

/// Runs every part and prints its report.
pub fn verify(args: &VerifyBenchArgs) -> Result<()> {
    println!("== Tier D dispute game (mycel-referee), honest replays and fault classes ==");
    let d = dispute::run(&dispute::DisputeArgs {
        replays: args.replays,
        trials: args.trials,
    })?;
    print!("{d}");
    if args.real_replays > 0 {
        println!("\n== Audit replay on the pinned SmolLM2 ==");
        let opts = replay::ReplayBenchOptions {
            honest: args.real_replays,
            per_fault: args.real_faults,
            ..Default::default()
        };
        let store = mycel_ml::registry::ModelStore::from_env();
        let r =
            replay::run(&store, &opts, &mut |l| eprintln!("{l}")).map_err(|e| Error::Invalid {
                what: "replay benchmark".into(),
                why: format!("{e} (fetch the pinned models with `mycel models fetch`)"),
            })?;
        print!("{r}");
    }
    if args.economy_jobs > 0 {
        println!("\n== Economy Monte-Carlo over the real ledger ==");
        print!("{}", economy::run(args.economy_jobs, 1)?);
    }
    Ok(())
}
