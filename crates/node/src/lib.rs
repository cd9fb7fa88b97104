//! Assembles mycel roles and serves the HTTP API, metrics and dashboard.
//!
//! A node home (`$MYCEL_HOME`, default `~/.mycel`) holds:
//! - `config.toml`: API and p2p addresses, peers, timing ([`config::NodeConfig`]);
//! - `genesis.toml`: the chain's genesis;
//! - `keys/<name>.json`: the local keystore (BIP39 mnemonics; `validator` is the node key);
//! - `data/state.redb`: the ledger store; `data/consensus/`: the consensus journals.
//!
//! [`node::run`] starts a validator (commonware Simplex over authenticated TCP on 127.0.0.1 by
//! default) and the HTTP API ([`api`]); [`client::Client`] is the API's Rust client, used by the
//! CLI.

pub mod api;
pub mod bench;
pub mod client;
pub mod config;
pub mod error;
pub mod init;
pub mod keystore;
pub mod node;
pub mod runners;
pub mod serve;
pub mod worker;

pub use config::{Home, NodeConfig};
pub use error::{Error, Result};
