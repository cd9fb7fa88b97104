//! `mycel worker`: run the worker role (batch jobs and interactive sessions) against a node.

use anyhow::{Context as _, Result};
use clap::Args;
use mycel_ml::registry::{MINILM, SMOLLM2};
use mycel_node::{
    Home,
    client::Client,
    keystore::Keystore,
    runners::MlRunner,
    serve::SessionServer,
    worker::{Worker, WorkerConfig},
};
use mycel_primitives::Amount;
use std::{net::SocketAddr, sync::Arc, time::Duration};

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
}

/// Makes sure the pinned models are in the machine's model cache, fetching them if needed.
pub fn ensure_models() -> Result<()> {
    let store = crate::ml_cmd::store();
    if store.is_present(&SMOLLM2) && store.is_present(&MINILM) {
        return Ok(());
    }
    eprintln!(
        "fetching the pinned models into {} (first start only)",
        store.root().display()
    );
    crate::ml_cmd::models(crate::ml_cmd::ModelsCmd::Fetch, false)
}

/// Runs the worker until the process stops.
pub async fn run(home: &Home, api: &str, a: &WorkerArgs) -> Result<()> {
    let key = Keystore::new(home.keys_dir())
        .load(&a.from)?
        .private_key()?;
    if !a.tiny {
        ensure_models()?;
    }
    let (store, threads, tiny) = (crate::ml_cmd::store(), a.threads, a.tiny);
    let runner = tokio::task::spawn_blocking(move || {
        let (g, e) = if tiny {
            ("tiny-llama", "tiny-bert")
        } else {
            (SMOLLM2.name, MINILM.name)
        };
        MlRunner::load(store, threads, g, e)
    })
    .await?
    .context("loading the models (run `mycel models fetch`, or pass --tiny)")?;
    let runner = Arc::new(runner);
    let client = Client::new(api);
    let server = SessionServer::open(
        runner.clone(),
        key.clone(),
        client.clone(),
        home.path().join("worker-sessions"),
    )?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let app = server.router();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(target: "mycel::worker", error = %e, "session server stopped");
        }
    });
    let settler = server.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Err(e) = settler.settle_all().await {
                tracing::warn!(target: "mycel::worker", error = %e, "session settlement failed; retrying");
            }
        }
    });
    eprintln!(
        "worker {} serving generation model {} and embedding model {}; sessions at {endpoint}",
        server.address(),
        runner.generator_id(),
        runner.embedder_id()
    );
    let cfg = WorkerConfig {
        price_per_unit: a.price,
        endpoint,
        ..Default::default()
    };
    Worker::new(client, key, runner, cfg).run().await?;
    Ok(())
}
