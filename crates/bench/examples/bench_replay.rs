//! `cargo run -p mycel-bench --example bench_replay [--release] [honest] [per_fault]`: the replay
//! benchmark on the pinned SmolLM2 (`scripts/fetch-models.sh`), printed as `mycel bench verify`
//! will print it.

use mycel_bench::replay::{ReplayBenchOptions, run};
use mycel_ml::registry::ModelStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut opts = ReplayBenchOptions::default();
    if let Some(n) = args.next() {
        opts.honest = n.parse()?;
    }
    if let Some(n) = args.next() {
        opts.per_fault = n.parse()?;
    }
    let report = run(&ModelStore::from_env(), &opts, &mut |l| eprintln!("{l}"))?;
    print!("{report}");
    Ok(())
}
