//! `config.toml`: addresses, peers and timing of a node.

use std::net::SocketAddr;

/// A known peer validator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peer {
    /// ed25519 public key, hex.
    pub public_key: String,
    /// p2p address.
    pub address: SocketAddr,
}

/// What a node does in consensus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Votes and proposes (its key must be in the validator set).
    #[default]
    Validator,
    /// Follows the chain without voting: verifies every finalized block, serves the API.
    Full,
}

/// `config.toml`. Every field has a default; flags override the file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    /// What this node does in consensus.
    pub role: Role,
    /// HTTP API listen address.
    pub api_addr: SocketAddr,
    /// p2p listen address.
    pub p2p_addr: SocketAddr,
    /// Other nodes (validators and full nodes).
    pub peers: Vec<Peer>,
    /// Idle chains get a block this often, milliseconds.
    pub heartbeat_ms: u64,
    /// Consensus leader timeout, milliseconds (greater than the heartbeat).
    pub leader_timeout_ms: u64,
    /// Largest number of transactions per block.
    pub max_block_txs: usize,
    /// Largest number of pending transactions.
    pub mempool_size: usize,
    /// Largest number of pending transactions of one sender (0: a 50th of `mempool_size`, at
    /// least 16).
    pub mempool_per_sender: usize,
    /// Largest HTTP request body, bytes.
    pub max_request_bytes: usize,
    /// Other nodes' APIs (`http://host:port`): a blob this node lacks is fetched from them, and
    /// an upload it accepts is pushed to `blob_replicas` of them.
    pub blob_peers: Vec<String>,
    /// How many blob peers an accepted upload is pushed to.
    pub blob_replicas: usize,
    /// State sync: a peer's API (`http://host:port`) to take a snapshot from when this node's
    /// store is empty, instead of executing every block since genesis.
    pub state_sync: Option<String>,
    /// The digest (hex) of a block the operator trusts, at the height the snapshot is taken
    /// (needed only once the validator set has changed since genesis).
    pub trust_hash: Option<String>,
    /// Bytes of blobs one account may upload to this node (uploads are signed by a funded
    /// account; a blob someone uploaded before costs nothing again).
    pub blob_quota_bytes: u64,
    /// Seconds an upload is kept while nothing on chain references it; then it is deleted and
    /// its bytes go back to the uploader's quota.
    pub blob_grace_secs: u64,
    /// MiB of the state database's pages kept in memory (the bound on the store's share of
    /// the node's resident memory).
    pub state_cache_mb: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            role: Role::Validator,
            api_addr: "127.0.0.1:7700".parse().expect("valid"),
            p2p_addr: "127.0.0.1:7701".parse().expect("valid"),
            peers: Vec::new(),
            heartbeat_ms: 1_000,
            leader_timeout_ms: 2_000,
            max_block_txs: 5_000,
            mempool_size: 50_000,
            mempool_per_sender: 0,
            max_request_bytes: 256 * 1024,
            blob_quota_bytes: 4 << 30,
            blob_grace_secs: 3_600,
            state_cache_mb: 64,
            state_sync: None,
            trust_hash: None,
            blob_peers: Vec::new(),
            blob_replicas: 2,
        }
    }
}
