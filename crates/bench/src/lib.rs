//! The benchmarks behind `mycel bench …`: each prints its figure beside the ceiling or peer
//! measured in the same run. They start real processes and real chains, so they live here, out
//! of the library crates they measure.
//!
//! - [`ledger`]: signed transfers per second against single ed25519 verifies, and HTTP submit →
//!   finality latency on a devnet.
//! - [`market`]: ledger cost and throughput of batch jobs; interactive session latency.
//! - [`network`]: submit → finality latency, throughput and memory of a 4-validator network of
//!   real processes under a fixed offered load, beside one validator; mempool abuse; consistency.
//! - [`gateway`]: what the OpenAI-compatible gateway adds over calling a worker directly, at
//!   hundreds of concurrent streams.
//! - [`tools`]: what a paid MCP tool call through the node's `/mcp` adds over calling the tool
//!   directly, and the settlement of thousands of calls in one transaction.
//! - [`ml`]: generation, embedding and LoRA speed on the pinned models, with the GEMM ceiling
//!   and the llama.cpp and ONNX Runtime peers.
//! - [`economy`]: a Monte-Carlo of the verification economy on the real ledger: profit per job
//!   of honest, cheating, self-dealing, lazy and colluding strategies at the default parameters.
//! - [`dispute`]: a Tier D dispute on the integer model: rounds, bytes, referee time, false
//!   positives over honest replays and detection of each fault class.
//! - [`replay`]: audit replay on SmolLM2: honest replays across thread counts, detection per
//!   fault class, replay against generation wall time, amortized overhead at the audit-rate floor.
//! - [`model`]: lineage query latency (JSON graph and ASCII tree) on a chain with thousands of
//!   model versions in realistic trees, beside the HTTP floor and the in-process walk.
//! - [`data`]: chunk IDs against the FastCDC + BLAKE3 ceiling, signature throughput, dedup
//!   quality per Jaccard band, index memory; and ([`data::scale`]) the dedup engine beside rensa,
//!   datasketch and its Python wheel on the same input, quality against a computed ground truth on
//!   corpora we did not make, connected components beside it, two-core scaling.
//! - [`edge`]: light edge devices (real processes) doing a real embedding job over lossy links
//!   while devices are killed; cold start, peak memory, fees paid once, output identical to one
//!   process's, and cheaters (cached answers, a slow device claiming a fast class) caught.
//! - [`netfault`]: a seeded fault-injecting TCP proxy (loss, latency, resets, link down) for
//!   tests and benches of flaky links, also runnable inside a network namespace.

pub mod data;
pub mod dispute;
pub mod economy;
pub mod edge;
pub mod gateway;
pub mod ledger;
pub mod market;
pub mod ml;
pub mod model;
pub mod netfault;
pub mod network;
pub mod replay;
pub mod tools;
pub mod verify;

pub use data::scale::{DataBenchArgs, DataReport};
pub use edge::{EdgeBenchArgs, EdgeReport, edge};
pub use gateway::{GatewayBenchArgs, gateway};
pub use ledger::{LedgerBenchArgs, ledger};
pub use market::{MarketBenchArgs, market};
pub use model::{ModelBenchArgs, model};
pub use network::{NetworkBenchArgs, network};
pub use tools::{ToolsBenchArgs, ToolsReport, tools};
pub use verify::{VerifyBenchArgs, verify};

use mycel_node::{Result, error::io};

pub(crate) fn tempdir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "mycel-bench-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).map_err(io(&d))?;
    Ok(d)
}

pub(crate) fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(io(std::path::Path::new("127.0.0.1:0")))?;
    Ok(l.local_addr()
        .map_err(io(std::path::Path::new("127.0.0.1:0")))?
        .port())
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `n` requests with `c` in flight (`c` = 1: one after another); their latencies, sorted.
pub(crate) async fn run_many<F, Fut>(n: usize, c: usize, f: F) -> Result<Vec<f64>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<f64>>,
{
    use futures::StreamExt as _;
    let mut out: Vec<f64> = futures::stream::iter((0..n).map(|_| f()))
        .buffer_unordered(c)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// This process's peak resident memory, KiB (Linux `VmHWM`).
pub fn peak_rss_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
