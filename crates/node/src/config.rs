//! Node configuration and the home directory layout.

use crate::{Error, Result, error::io};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// A known peer validator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peer {
    /// ed25519 public key, hex.
    pub public_key: String,
    /// p2p address.
    pub address: SocketAddr,
}

/// `config.toml`. Every field has a default; flags override the file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    /// HTTP API listen address.
    pub api_addr: SocketAddr,
    /// p2p listen address.
    pub p2p_addr: SocketAddr,
    /// Other validators.
    pub peers: Vec<Peer>,
    /// Idle chains get a block this often, milliseconds.
    pub heartbeat_ms: u64,
    /// Consensus leader timeout, milliseconds (greater than the heartbeat).
    pub leader_timeout_ms: u64,
    /// Largest number of transactions per block.
    pub max_block_txs: usize,
    /// Largest number of pending transactions.
    pub mempool_size: usize,
    /// Largest HTTP request body, bytes.
    pub max_request_bytes: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            api_addr: "127.0.0.1:7700".parse().expect("valid"),
            p2p_addr: "127.0.0.1:7701".parse().expect("valid"),
            peers: Vec::new(),
            heartbeat_ms: 1_000,
            leader_timeout_ms: 2_000,
            max_block_txs: 5_000,
            mempool_size: 50_000,
            max_request_bytes: 256 * 1024,
        }
    }
}

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
