//! The mycel node and command-line interface: clap definitions and printing. Everything a
//! command does lives in `mycel-node` (chain, roles, services), `mycel-bench` (benchmarks), or,
//! for the chain-free local commands (`data dedup|show|prove|verify|bench|versioned`, `run`,
//! `models`), in the engines `mycel-data` and `mycel-ml`.

mod chain_cmd;
mod cli;
mod data_cmd;
mod edge_cmd;
mod glue;
mod market_cmd;
mod ml_cmd;
mod model_cmd;
mod receipt_cmd;
mod session_cmd;
mod tool_cmd;
mod verify_cmd;
mod worker_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,commonware=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: redirected logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = cli::run(cli);
    if std::env::var_os("MYCEL_REPORT_PEAK_RSS").is_some() {
        // For `mycel bench ml`, which cannot read a child's own peak from outside: wait4's maxrss
        // starts at the parent's size at fork.
        if let Some(kb) = mycel_bench::peak_rss_kb() {
            eprintln!("mycel-peak-rss-kb {kb}");
        }
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
