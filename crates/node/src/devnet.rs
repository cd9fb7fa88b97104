//! A single-validator network with a worker and an auditor, in one process: what `mycel devnet`
//! runs. The worker and the auditor share one set of loaded engines; the validator key also votes
//! on disputed steps the referee cannot recompute.

use crate::{
    Home, Result,
    init::{InitOptions, init},
    keystore::Keystore,
    roles::{
        auditor::{self, AuditorOptions},
        edge,
        validator::{RunOptions, run as run_node},
        worker::start::{self as worker, WorkerOptions},
    },
};
use mycel_ml::registry::ModelStore;
use mycel_primitives::{Address, Amount};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

/// How to run a devnet.
#[derive(Clone, Debug)]
pub struct DevnetOptions {
    /// Home (default: a new folder under the system's temporary directory).
    pub home: Option<PathBuf>,
    /// Funded accounts created on first start.
    pub accounts: usize,
    /// HTTP API address (overrides the home's config).
    pub api_addr: Option<SocketAddr>,
    /// p2p address (overrides the home's config).
    pub p2p_addr: Option<SocketAddr>,
    /// Run without a worker.
    pub no_worker: bool,
    /// Where the worker's session server listens.
    pub worker_listen: SocketAddr,
}

/// One key of the devnet home.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DevnetAccount {
    /// Key name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Genesis balance (`None` for the validator key).
    pub balance: Option<Amount>,
}

/// What a running devnet tells its user.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DevnetInfo {
    /// Chain id.
    pub chain_id: String,
    /// The home.
    pub home: PathBuf,
    /// Where the HTTP API listens.
    pub api: SocketAddr,
    /// Where consensus listens.
    pub p2p: SocketAddr,
    /// The keys of the home.
    pub accounts: Vec<DevnetAccount>,
    /// Why there is no worker, if there is none.
    pub no_worker: Option<String>,
    /// An API key of the gateway for the first funded account (`None` without one).
    pub api_key: Option<String>,
}

/// The devnet's ready API key: created once for `dev0` and kept in `gateway/devnet-api-key`, so
/// a restarted devnet prints the same key.
pub fn devnet_api_key(home: &Home) -> Result<Option<String>> {
    let path = home.gateway_dir().join("devnet-api-key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(Some(s.trim().to_string()));
    }
    let ks = Keystore::new(home.keys_dir());
    let Ok(dev0) = ks.load("dev0") else {
        return Ok(None);
    };
    let keys = crate::roles::gateway::ApiKeys::open(home.gateway_dir())?;
    let (secret, _) = keys.create("devnet", "dev0", dev0.address, None, None)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{secret}\n")).map_err(crate::error::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(crate::error::io(&path))?;
    Ok(Some(secret))
}

/// The home a devnet uses: the given one, else a throwaway folder named after the process.
pub fn home(flag: Option<PathBuf>) -> Home {
    match flag {
        Some(p) => Home(p),
        None => Home(std::env::temp_dir().join(format!("mycel-devnet-{}", std::process::id()))),
    }
}

/// Initialises the home if needed and runs the validator and (unless disabled or the models
/// cannot be had) a worker, calling `on_ready` once the API listens. Runs until the process stops.
pub fn run(o: DevnetOptions, on_ready: impl Fn(&DevnetInfo) + Send + Sync + 'static) -> Result<()> {
    let home = home(o.home.clone());
    if !home.is_initialised() {
        let mut opts = InitOptions {
            accounts: o.accounts,
            ..Default::default()
        };
        if let Some(a) = o.api_addr {
            opts.config.api_addr = a;
        }
        if let Some(a) = o.p2p_addr {
            opts.config.p2p_addr = a;
        }
        init(&home, &opts)?;
    }
    let genesis = home.genesis()?;
    let api_key = devnet_api_key(&home)?;
    let keys = Keystore::new(home.keys_dir()).list()?;
    let cfg = home.config()?;
    let p2p = o.p2p_addr.unwrap_or(cfg.p2p_addr);
    // The worker needs the pinned models; fetch them on first start. Without them the devnet
    // still runs, without a worker.
    let (worker, no_worker) = if o.no_worker {
        (None, Some("--no-worker".to_string()))
    } else {
        match mycel_ml::fetch::ensure_pinned(&ModelStore::from_env()) {
            Ok(()) => (
                Some(WorkerOptions {
                    key: "worker".into(),
                    price: Amount(1_000),
                    listen: o.worker_listen,
                    tiny: false,
                    threads: 1,
                    licenses: crate::roles::worker::DEFAULT_LICENSES.into(),
                    builtin_tools: true,
                }),
                None,
            ),
            Err(e) => (
                None,
                Some(format!(
                    "models unavailable: {e}; run `mycel models fetch` and restart"
                )),
            ),
        }
    };
    let accounts = keys
        .iter()
        .map(|k| DevnetAccount {
            name: k.name.clone(),
            address: k.address,
            balance: genesis
                .accounts
                .iter()
                .find(|x| x.address == k.address)
                .map(|x| x.balance),
        })
        .collect();
    let info = DevnetInfo {
        chain_id: genesis.chain_id.clone(),
        home: home.path().to_path_buf(),
        api: o.api_addr.unwrap_or(cfg.api_addr),
        p2p,
        accounts,
        no_worker,
        api_key,
    };
    let worker_home = home.clone();
    let ready = Arc::new(move |api: SocketAddr| {
        if let Some(w) = worker.clone() {
            let home = worker_home.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => {
                        let api = format!("http://{api}");
                        let a = AuditorOptions {
                            key: "auditor".into(),
                            validator_key: Some("validator".into()),
                            tiny: w.tiny,
                            threads: w.threads,
                        };
                        // Each role stops on its own error; the other keeps running.
                        rt.block_on(async {
                            let runner = match worker::load_runner(w.tiny, w.threads).await {
                                Ok(r) => r,
                                Err(e) => {
                                    tracing::error!(target: "mycel::worker", error = %e, "engines not loaded");
                                    return;
                                }
                            };
                            let (wr, ar, cr) = tokio::join!(
                                worker::run_with(&home, &api, &w, runner.clone()),
                                auditor::run_with(&home, &api, &a, runner.clone()),
                                edge::check_with(&home, &api, &a.key, runner),
                            );
                            if let Err(e) = cr {
                                tracing::error!(target: "mycel::edge", error = %e, "device checker stopped");
                            }
                            if let Err(e) = wr {
                                tracing::error!(target: "mycel::worker", error = %e, "worker stopped");
                            }
                            if let Err(e) = ar {
                                tracing::error!(target: "mycel::auditor", error = %e, "auditor stopped");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::error!(target: "mycel::worker", error = %e, "worker not started")
                    }
                }
            });
        }
        on_ready(&DevnetInfo {
            api,
            ..info.clone()
        });
    });
    run_node(
        &home,
        RunOptions {
            api_addr: o.api_addr,
            p2p_addr: o.p2p_addr,
            on_ready: Some(ready),
            role: None,
            state_sync: None,
            gateway: true,
        },
    )
}
