//! Assembling the worker role: load the models, open the session server, publish the offer,
//! settle sessions in the background and run jobs until the process stops.

use super::{Worker, WorkerConfig, runners::MlRunner, sessions::SessionServer};
use crate::roles::tools::{ToolServer, builtin};
use crate::{Error, Home, Result, client::Client, http, keystore::Keystore};
use mycel_ledger::modules::agent;
use mycel_ml::registry::{MINILM, ModelStore, SMOLLM2};
use mycel_primitives::Amount;
use std::{net::SocketAddr, sync::Arc, time::Duration};

/// How to run a worker.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Key that bonds, offers and signs results and receipts.
    pub key: String,
    /// Price per work unit.
    pub price: Amount,
    /// Where the session server listens (published in the offer).
    pub listen: SocketAddr,
    /// Serve the tiny random-weight models (smoke runs, no download).
    pub tiny: bool,
    /// Threads per job.
    pub threads: usize,
    /// Licences accepted for registered models, comma-separated (published in the offer).
    pub licenses: String,
    /// Also serve mycel's own capabilities as tools (embed, generate, dedup, dataset and
    /// lineage lookups), registered on chain under this worker's key.
    pub builtin_tools: bool,
}

/// Price of one call of a built-in tool.
pub const BUILTIN_TOOL_PRICE: Amount = Amount(1_000);

/// Loads the engines a worker or an auditor runs jobs on: the pinned models (fetched if missing),
/// or the tiny random-weight ones.
pub async fn load_runner(tiny: bool, threads: usize) -> Result<Arc<MlRunner>> {
    let store = ModelStore::from_env();
    if !tiny {
        mycel_ml::fetch::ensure_pinned(&store).map_err(model_error)?;
    }
    let runner = tokio::task::spawn_blocking(move || {
        let (g, e) = if tiny {
            ("tiny-llama", "tiny-bert")
        } else {
            (SMOLLM2.name, MINILM.name)
        };
        MlRunner::load(store, threads, g, e)
    })
    .await
    .map_err(|e| model_error(format!("loader panicked: {e}")))?
    .map_err(|e| model_error(format!("{e} (run `mycel models fetch`, or pass --tiny)")))?;
    Ok(Arc::new(runner))
}

/// Runs the worker of `home` against the node at `api` until the process stops.
pub async fn run(home: &Home, api: &str, o: &WorkerOptions) -> Result<()> {
    let runner = load_runner(o.tiny, o.threads).await?;
    run_with(home, api, o, runner).await
}

/// [`run`] on engines already loaded (the devnet shares them with its auditor).
pub async fn run_with(
    home: &Home,
    api: &str,
    o: &WorkerOptions,
    runner: Arc<MlRunner>,
) -> Result<()> {
    let key = Keystore::new(home.keys_dir()).load(&o.key)?.private_key()?;
    let client = Client::new(api);
    let server = SessionServer::open(
        runner.clone(),
        key.clone(),
        client.clone(),
        home.worker_sessions_dir(),
    )?;
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .map_err(crate::error::io(std::path::Path::new(
            &o.listen.to_string(),
        )))?;
    let endpoint = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(crate::error::io(std::path::Path::new("session listener")))?
    );
    let tools = if o.builtin_tools {
        let t = ToolServer::open(
            key.clone(),
            client.clone(),
            home.tool_sessions_dir("builtin"),
        )?;
        for (manifest, run) in builtin::tools(runner.clone(), client.clone()) {
            t.add(manifest, run, None)?;
        }
        Some(t)
    } else {
        None
    };
    let app = server.router_with(tools.clone());
    tokio::spawn(async move {
        if let Err(e) = http::serve(listener, app).await {
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
            if let Err(e) = settler.answer_disputes().await {
                tracing::warn!(target: "mycel::worker", error = %e, "answering session disputes failed; retrying");
            }
        }
    });
    if let Some(t) = tools {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            // Registered (or updated to this build's definitions) once the account can pay.
            loop {
                match t
                    .register_all(&endpoint, BUILTIN_TOOL_PRICE, agent::MIN_BOND)
                    .await
                {
                    Ok(n) => {
                        if n > 0 {
                            eprintln!("built-in tools registered at {endpoint}");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::info!(target: "mycel::tools", error = %e, "built-in tools not registered yet; retrying");
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                }
            }
            t.run_settlement(Duration::from_secs(5)).await;
        });
    }
    eprintln!(
        "worker {} serving generation model {} and embedding model {}; sessions at {endpoint}",
        server.address(),
        runner.generator_id(),
        runner.embedder_id()
    );
    let cfg = WorkerConfig {
        price_per_unit: o.price,
        endpoint,
        licenses: o.licenses.clone(),
        ..Default::default()
    };
    Worker::new(client, key, runner, cfg).run().await
}

fn model_error(e: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: "models".into(),
        why: e.to_string(),
    }
}
