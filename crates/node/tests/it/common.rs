//! The harness: an in-process node on free ports, and transactions sent to it.

use mycel_ledger::{Message, Receipt};
use mycel_node::{
    Home,
    client::Client,
    init::{InitOptions, init},
    roles::validator::{RunOptions, run},
};
use mycel_primitives::{Hash, PrivateKey};
use std::{sync::mpsc, time::Duration};

/// The model every test double claims to serve.
pub const MODEL: Hash = Hash([7; 32]);

/// Offers generation of [`MODEL`]; never given a batch job.
pub struct GenRunner;

impl mycel_node::roles::worker::JobRunner for GenRunner {
    fn kinds(&self) -> Vec<mycel_ledger::modules::market::JobKind> {
        vec![mycel_ledger::modules::market::JobKind::Generate]
    }
    fn models(&self) -> Vec<Hash> {
        vec![MODEL]
    }
    fn run(
        &self,
        _: &mycel_ledger::modules::market::Job,
        _: &[u8],
    ) -> mycel_node::Result<mycel_node::roles::worker::JobOutput> {
        unreachable!("no batch jobs for this runner")
    }
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Initializes a home under `dir` and runs a node on it in a thread; returns once its API is up.
pub async fn start_node(dir: &std::path::Path) -> (Home, Client) {
    start_node_with(dir, false).await
}

/// [`start_node`], with the OpenAI-compatible gateway on its port when `gateway`.
pub async fn start_node_with(dir: &std::path::Path, gateway: bool) -> (Home, Client) {
    start_node_configured(dir, gateway, |_| {}).await
}

/// [`start_node_with`], with `config.toml` changed by `configure`.
pub async fn start_node_configured(
    dir: &std::path::Path,
    gateway: bool,
    configure: impl FnOnce(&mut mycel_node::config::NodeConfig),
) -> (Home, Client) {
    let home = Home(dir.join("home"));
    let mut opts = InitOptions::default();
    opts.config.api_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    opts.config.p2p_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    configure(&mut opts.config);
    init(&home, &opts).unwrap();
    let client = run_in_thread(&home, gateway).await;
    (home, client)
}

/// Runs the node in `home` on a thread of its own; its client once its API is up.
async fn run_in_thread(home: &Home, gateway: bool) -> Client {
    let (tx, rx) = mpsc::channel();
    let node_home = home.clone();
    std::thread::spawn(move || {
        let on_ready = std::sync::Arc::new(move |a| {
            let _ = tx.send(a);
        });
        run(
            &node_home,
            RunOptions {
                on_ready: Some(on_ready),
                gateway,
                ..Default::default()
            },
        )
        .unwrap();
    });
    let api =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
    Client::new(&format!("http://{api}"))
}

/// Signs, submits and waits for one message; its receipt.
pub async fn send_tx(client: &Client, key: &PrivateKey, msg: Message) -> Receipt {
    let tx = client.sign(key, vec![msg], None, "").await.unwrap();
    let h = client.submit(&tx).await.unwrap();
    client
        .wait(&h, Duration::from_secs(30))
        .await
        .unwrap()
        .receipt
        .unwrap()
}

/// Asserts the bank invariant (supply = sum of balances) through the audit endpoint.
pub async fn assert_supply_consistent(client: &Client) {
    let audit: serde_json::Value = client.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true, "{audit}");
}

/// A full node of a validator's chain, prepared before the validator starts (the validator
/// must list it as a peer), started later.
pub struct FullNode {
    /// Its home.
    pub home: Home,
    /// Its p2p address.
    pub p2p: std::net::SocketAddr,
    /// Its API address.
    pub api: std::net::SocketAddr,
    public_key: String,
}

impl FullNode {
    /// A home under `dir` with its own key and ports.
    pub fn prepare(dir: &std::path::Path) -> FullNode {
        let home = Home(dir.join("full"));
        std::fs::create_dir_all(home.keys_dir()).unwrap();
        let key = mycel_node::keystore::Keystore::new(home.keys_dir())
            .generate("validator")
            .unwrap();
        FullNode {
            home,
            p2p: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            api: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
            public_key: key.public_key,
        }
    }

    /// The validator's config entry for it.
    pub fn peer(&self) -> mycel_node::config::Peer {
        mycel_node::config::Peer {
            public_key: self.public_key.clone(),
            address: self.p2p,
        }
    }

    /// Starts it on `validator`'s chain (same genesis, peered with it), `configure` applied to
    /// its config; its client once its API is up.
    pub async fn start(
        &self,
        validator: &Home,
        configure: impl FnOnce(&mut mycel_node::config::NodeConfig),
    ) -> Client {
        std::fs::copy(validator.genesis_path(), self.home.genesis_path()).unwrap();
        let v = validator.config().unwrap();
        let mut cfg = mycel_node::config::NodeConfig {
            role: mycel_node::config::Role::Full,
            api_addr: self.api,
            p2p_addr: self.p2p,
            peers: vec![mycel_node::config::Peer {
                public_key: mycel_node::keystore::Keystore::new(validator.keys_dir())
                    .load("validator")
                    .unwrap()
                    .public_key,
                address: v.p2p_addr,
            }],
            ..Default::default()
        };
        configure(&mut cfg);
        self.home.write_config(&cfg).unwrap();
        run_in_thread(&self.home, false).await
    }
}
