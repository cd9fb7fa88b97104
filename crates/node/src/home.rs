//! The node home (`$MYCEL_HOME`, default `~/.mycel`): the one owner of every path in it.
//!
//! ```text
//! config.toml          addresses, peers, timing        (crate::config::NodeConfig)
//! genesis.toml         the chain's genesis
//! keys/<name>.json     the keystore (BIP39 mnemonics; `validator` is the node key)
//! data/state.redb      the ledger store
//! data/consensus/      the consensus journals
//! blobs/               content-addressed blobs (job inputs and outputs, dataset chunks)
//! datasets/            signed dataset manifests written by `mycel data add`
//! data-index/          the data engine's index of registered records (exact filter, signatures)
//! worker-sessions/     the worker's signed session receipts, one log per session
//! client-sessions/     the receipts a client holds, one log per session
//! ```
//! Models are not in the home: they are one cache per machine (`mycel_ml::registry::ModelStore`).

use crate::{Error, Result, config::NodeConfig, error::io};
use std::path::{Path, PathBuf};

/// A node's home directory.
#[derive(Clone, Debug)]
pub struct Home(pub PathBuf);

impl Home {
    /// `--home`, else `$MYCEL_HOME`, else `~/.mycel`.
    pub fn resolve(flag: Option<PathBuf>) -> Home {
        if let Some(p) = flag {
            return Home(p);
        }
        if let Some(p) = std::env::var_os("MYCEL_HOME") {
            return Home(PathBuf::from(p));
        }
        let base = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        Home(base.join(".mycel"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.0.join("config.toml")
    }

    /// `genesis.toml`.
    pub fn genesis_path(&self) -> PathBuf {
        self.0.join("genesis.toml")
    }

    /// `keys/`.
    pub fn keys_dir(&self) -> PathBuf {
        self.0.join("keys")
    }

    /// `data/`.
    pub fn data_dir(&self) -> PathBuf {
        self.0.join("data")
    }

    /// `data/state.redb`: the ledger store.
    pub fn state_db(&self) -> PathBuf {
        self.data_dir().join("state.redb")
    }

    /// `data/consensus/`: the consensus journals.
    pub fn consensus_dir(&self) -> PathBuf {
        self.data_dir().join("consensus")
    }

    /// `blobs/`: the content-addressed blob store (shared with the data engine).
    pub fn blobs_dir(&self) -> PathBuf {
        mycel_data::ingest::blobs_dir(&self.0)
    }

    /// `datasets/`: signed dataset manifests, named `<root hex>.json`.
    pub fn datasets_dir(&self) -> PathBuf {
        mycel_data::ingest::datasets_dir(&self.0)
    }

    /// `data-index/`: the data engine's index of registered records.
    pub fn data_index_dir(&self) -> PathBuf {
        mycel_data::ingest::index_dir(&self.0)
    }

    /// `worker-sessions/`: the worker's receipt logs.
    pub fn worker_sessions_dir(&self) -> PathBuf {
        self.0.join("worker-sessions")
    }

    /// `tool-sessions/<provider>`: the receipts a tool provider signed (the devnet's built-in
    /// tools under `builtin`, `mycel tool serve` under the tool's name).
    pub fn tool_sessions_dir(&self, provider: &str) -> PathBuf {
        self.0.join("tool-sessions").join(provider)
    }

    /// `gateway/`: the gateway's API keys and the receipts it holds for its users.
    pub fn gateway_dir(&self) -> PathBuf {
        self.0.join("gateway")
    }

    /// `client-sessions/`: the receipt logs of this home's clients.
    pub fn client_sessions_dir(&self) -> PathBuf {
        self.0.join("client-sessions")
    }

    /// True when `init` has run here.
    pub fn is_initialised(&self) -> bool {
        self.config_path().exists() && self.genesis_path().exists()
    }

    /// Reads `config.toml` (defaults if absent).
    pub fn config(&self) -> Result<NodeConfig> {
        let p = self.config_path();
        if !p.exists() {
            return Ok(NodeConfig::default());
        }
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        toml::from_str(&text).map_err(|e| Error::Invalid {
            what: p.display().to_string(),
            why: e.to_string(),
        })
    }

    /// Writes `config.toml`.
    pub fn write_config(&self, c: &NodeConfig) -> Result<()> {
        let p = self.config_path();
        std::fs::write(&p, toml::to_string_pretty(c).expect("config serializes")).map_err(io(&p))
    }

    /// Reads the genesis.
    pub fn genesis(&self) -> Result<mycel_ledger::genesis::Genesis> {
        if !self.is_initialised() {
            return Err(Error::NotInitialised(self.0.display().to_string()));
        }
        Ok(mycel_ledger::genesis::Genesis::load(&self.genesis_path())?)
    }
}
