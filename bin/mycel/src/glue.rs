//! What every command needs: a runtime to block on, a client of the node, JSON printing.

use anyhow::Result;
use mycel_node::{Home, client::Client};

/// Runs `f` to completion on a single-threaded runtime.
pub(crate) fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Prints `v` as pretty JSON (the `--json` output).
pub(crate) fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

/// The client of the node at `--api`, else the home's configured API address.
pub(crate) fn client(home: &Home, node: Option<&str>) -> Result<Client> {
    let url = match node {
        Some(u) => u.to_string(),
        None => format!("http://{}", home.config()?.api_addr),
    };
    Ok(Client::new(&url))
}
