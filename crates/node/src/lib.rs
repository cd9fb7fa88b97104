//! Assembles mycel roles and serves the HTTP API, metrics and dashboard.
//!
//! The rooms:
//! - [`home`]: the node home and every path in it; [`config`]: `config.toml`; [`keystore`];
//!   [`init`]: creating homes.
//! - [`http`]: the HTTP surface, one file per surface, one error shape.
//! - [`roles`]: what a process does — [`roles::validator`] (consensus, store, API),
//!   [`roles::worker`] (jobs, runners, the session server), [`roles::auditor`] and
//!   [`roles::gateway`] (the OpenAI-compatible API). The edge role goes here.
//! - [`client`]: the Rust client of the API (typed answers, one sign → submit → wait path) and
//!   of a worker's session server.
//! - [`models`]: the one mapping from a model name to its on-chain ID, for posters and workers.
//! - [`services`]: the bridges between the engines (data, ML) and the ledger that a CLI command
//!   calls: dataset registration and challenges, sessions, accounts.
//! - [`net`]: blobs between nodes: fetched by hash from peers (checked, resumed), uploads
//!   pushed to peers.
//! - [`devnet`]: a single-validator network with a worker, in one process.
//!
//! Receipts, request signatures and result commitments are in `mycel-verify`.

pub mod client;
pub mod config;
pub mod devnet;
pub mod error;
pub mod home;
pub mod http;
pub mod init;
pub mod keystore;
pub mod models;
pub mod net;
pub mod roles;
pub mod services;
pub mod types;

pub use config::NodeConfig;
pub use error::{Error, Result};
pub use home::Home;
