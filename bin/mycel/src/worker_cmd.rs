//! `mycel worker`: run the worker role (batch jobs and interactive sessions) against a node.

use anyhow::Result;
use clap::Args;
use mycel_node::{
    Home,
    roles::worker::start::{self, WorkerOptions},
    types::Amount,
};
use std::net::SocketAddr;

/// Arguments of `mycel worker`.
#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Key that bonds, offers and signs results and receipts.
    #[arg(long, default_value = "worker")]
    pub from: String,
    /// Price per work unit (token, text or step).
    #[arg(long, default_value = "1000u")]
    pub price: Amount,
    /// Where the session server listens (published in the offer).
    #[arg(long = "listen", default_value = "127.0.0.1:7702")]
    pub listen: SocketAddr,
    /// Serve the tiny random-weight models instead of the pinned ones (smoke runs, no download).
    #[arg(long)]
    pub tiny: bool,
    /// Threads per job.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Licences accepted for registered models, comma-separated SPDX identifiers (`*`: any).
    /// Only models under one of them are served (fine-tuned adapters included).
    #[arg(long, default_value = mycel_node::roles::worker::DEFAULT_LICENSES)]
    pub licenses: String,
    /// Also serve mycel's own capabilities as paid tools (embed, generate, dedup, dataset and
    /// lineage lookups), registered on chain under this worker's key.
    #[arg(long)]
    pub builtin_tools: bool,
}

impl WorkerArgs {
    /// The worker role's options.
    pub fn options(&self) -> WorkerOptions {
        WorkerOptions {
            key: self.from.clone(),
            price: self.price,
            listen: self.listen,
            tiny: self.tiny,
            threads: self.threads,
            licenses: self.licenses.clone(),
            builtin_tools: self.builtin_tools,
        }
    }
}

/// Runs the worker until the process stops.
pub async fn run(home: &Home, api: &str, a: &WorkerArgs) -> Result<()> {
    Ok(start::run(home, api, &a.options()).await?)
}
