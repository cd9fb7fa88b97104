//! The harness: free ports, the real binary started as a child process, a one-validator
//! devnet, the CLI, and the pinned models.

use commonware_cryptography::Signer as _;
use mycel_ledger::{Message, Tx, TxBody, modules::bank};
use mycel_node::{client::Client, keystore::Keystore};
use mycel_primitives::{Address, Amount, PrivateKey};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The `mycel` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mycel");

// The skip-or-fail rule for the `real_*` tests is mycel-ml's, shared by path so that the two test
// binaries cannot drift apart.
#[path = "../../../../crates/ml/tests/it/models.rs"]
mod models;
pub use models::pinned_models;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Finds `n` consecutive free ports on 127.0.0.1.
pub fn free_port_range(n: u16) -> u16 {
    let mut base = 20_000 + (std::process::id() as u16 % 20_000);
    loop {
        let ok = (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
        base = base.wrapping_add(n + 7).max(20_000);
    }
}

/// A child process that is killed when dropped, so a failing test leaves no node behind.
pub struct Process(Option<Child>);

impl Process {
    /// Starts `cmd` with stdout discarded and stderr appended to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Process(Some(cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap()))
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let mut child = self.0.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A node home with its API and P2P addresses on free ports.
pub struct Devnet {
    /// The node's home directory (keys, config, `node.log`).
    pub home: PathBuf,
    /// The API address, `127.0.0.1:PORT`.
    pub api: String,
    /// The P2P address, `127.0.0.1:PORT`.
    pub p2p: String,
    _dir: tempfile::TempDir,
}

impl Devnet {
    /// A fresh, empty home (for `mycel devnet`, which initializes it itself).
    pub fn fresh() -> Devnet {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Devnet {
            home,
            api: format!("127.0.0.1:{}", free_port()),
            p2p: format!("127.0.0.1:{}", free_port()),
            _dir: dir,
        }
    }

    /// Starts `mycel devnet` on this (fresh) home, its worker on the pinned models in `models`;
    /// returns once the API is up and the worker has published its offer.
    pub async fn start_real(&self, models: &mycel_ml::registry::ModelStore) -> (Process, Client) {
        let mut cmd = Command::new(BIN);
        cmd.args(["--home", self.home.to_str().unwrap(), "devnet"])
            .args(["--api.addr", &self.api, "--p2p.addr", &self.p2p])
            .args(["--worker.listen", &format!("127.0.0.1:{}", free_port())])
            .env("MYCEL_MODELS", models.root());
        let devnet = Process::spawn(cmd, &self.log());
        let c = self.client();
        wait_up(&c, &self.home).await;
        let worker = self.address("worker").to_string();
        // The worker bonds and publishes its offer once its models are loaded.
        let start = Instant::now();
        while c
            .get::<serde_json::Value>(&format!("/api/v1/workers/{worker}/offer"))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the devnet worker never published an offer: {}",
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (devnet, c)
    }

    /// A home initialized by `mycel init` with the funded `dev*` and `worker` keys.
    pub fn init() -> Devnet {
        let net = Devnet::fresh();
        let out = Command::new(BIN)
            .args(["--home", net.home.to_str().unwrap(), "init"])
            .args(["--api.addr", &net.api, "--p2p.addr", &net.p2p])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        net
    }

    /// Starts `mycel node` on this home, logging to `node.log`.
    pub fn start(&self) -> Process {
        let mut cmd = Command::new(BIN);
        cmd.args(["--home", self.home.to_str().unwrap(), "node"]);
        Process::spawn(cmd, &self.log())
    }

    /// Starts a node and waits until its API answers.
    pub async fn start_and_wait(&self) -> (Process, Client) {
        let node = self.start();
        let c = self.client();
        wait_up(&c, &self.home).await;
        (node, c)
    }

    /// The node's log.
    pub fn log(&self) -> PathBuf {
        self.home.join("node.log")
    }

    /// An API client.
    pub fn client(&self) -> Client {
        Client::new(&format!("http://{}", self.api))
    }

    /// The private key named `name` in the home's keystore.
    pub fn key(&self, name: &str) -> PrivateKey {
        key_at(&self.home, name)
    }

    /// The address of the key named `name`.
    pub fn address(&self, name: &str) -> Address {
        Keystore::new(self.home.join("keys"))
            .load(name)
            .unwrap()
            .address
    }

    /// `mycel --home HOME --api URL`, ready for more arguments.
    pub fn mycel(&self) -> Command {
        mycel_at(&self.home, &self.api)
    }

    /// Runs the CLI and returns its stdout; panics if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.mycel().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "mycel {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the CLI with `--json` and parses its stdout.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let args: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        serde_json::from_str(&self.cli(&args)).unwrap()
    }

    /// Runs the CLI, which must fail, and returns its stderr.
    pub fn cli_fails(&self, args: &[&str]) -> String {
        let out = self.mycel().args(args).output().unwrap();
        assert!(!out.status.success(), "mycel {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Polls `mycel job status ID` until the job is settled and returns it; panics with the job
    /// and the node's log once `deadline` has passed.
    pub async fn wait_settled(&self, id: &str, deadline: Instant) -> serde_json::Value {
        loop {
            let j = self.cli_json(&["job", "status", id]);
            if j["status"] == "settled" {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never settled: {j}\n{}",
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// `mycel --home HOME --api http://API`, ready for more arguments.
pub fn mycel_at(home: &Path, api: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--home", home.to_str().unwrap()])
        .args(["--api", &format!("http://{api}")]);
    cmd
}

/// The private key named `name` in the keystore of `home`.
pub fn key_at(home: &Path, name: &str) -> PrivateKey {
    Keystore::new(home.join("keys"))
        .load(name)
        .unwrap()
        .private_key()
        .unwrap()
}

/// Waits up to a minute for the node's API to answer; panics with its log if it does not.
pub async fn wait_up(c: &Client, home: &Path) {
    let start = Instant::now();
    while c.status().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "node did not start: {}",
            std::fs::read_to_string(home.join("node.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the bank invariant (supply = sum of balances) through the audit endpoint.
pub async fn assert_supply_consistent(c: &Client) {
    let audit: serde_json::Value = c.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true, "{audit}");
}

/// The balance of an account as the API returns it.
pub fn balance(account: &mycel_node::client::Account) -> u128 {
    account.balance.0
}

/// A devnet transfer of `1_000 + nonce` base units with a 1 MYC fee.
pub fn transfer(key: &PrivateKey, nonce: u64, to: Address) -> Tx {
    TxBody {
        chain_id: "mycel-devnet-1".into(),
        sender: key.public_key(),
        nonce,
        fee: Amount::from_myc(1),
        messages: vec![Message::Bank(bank::Msg::Transfer {
            to,
            amount: Amount(1_000 + nonce as u128),
        })],
        memo: String::new(),
    }
    .sign(key)
}

/// The variable naming the Chromium (or Chrome) binary that renders the dashboard.
pub const CHROMIUM: &str = "MYCEL_CHROMIUM";

/// Flags for every headless Chromium run: no network of its own beyond the page, a fixed window,
/// and virtual time long enough for the dashboard's scripts to fetch and draw.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=8000",
    "--window-size=1400,1800",
];

/// The headless Chromium to drive, from `MYCEL_CHROMIUM`. Without it, prints `SKIP` and returns
/// `None`, and panics instead with `MYCEL_REQUIRE_MODELS=1` (as in CI, where `.ci/run` installs
/// Chromium and sets it).
pub fn chromium() -> Option<String> {
    match std::env::var(CHROMIUM) {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("MYCEL_REQUIRE_MODELS").as_deref() == Ok("1") => {
            panic!("{CHROMIUM} is not set: .ci/run installs Chromium and sets it")
        }
        _ => {
            eprintln!("SKIP dashboard check: {CHROMIUM} not set");
            None
        }
    }
}

/// Runs headless Chromium (see [`chromium`]) on `url` with the profile in `profile_dir` and
/// `args`, and returns its stdout; panics if it fails.
fn chromium_run(profile_dir: &Path, url: &str, args: &[String]) -> String {
    let chromium = std::env::var(CHROMIUM)
        .unwrap_or_else(|_| panic!("{CHROMIUM} is not set: check chromium() first"));
    let out = Command::new(&chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {chromium}: {e}"));
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DOM of `url` once its scripts have run (`--dump-dom`), as headless Chromium serializes it.
pub fn chromium_dom(profile_dir: &Path, url: &str) -> String {
    chromium_run(profile_dir, url, &["--dump-dom".into()])
}

/// Saves a PNG screenshot of `url` (1400×1800) to `out`.
pub fn chromium_screenshot(profile_dir: &Path, url: &str, out: &Path) {
    chromium_run(
        profile_dir,
        url,
        &[format!("--screenshot={}", out.display())],
    );
}

/// Screenshots `url` into the devnet's home as `name`, checks it holds a picture, and keeps a copy
/// in the temporary folder for a person to look at (its path is printed).
pub fn keep_screenshot(net: &Devnet, url: &str, name: &str) {
    let shot = net.home.join(name);
    chromium_screenshot(&net.home.join("chromium-profile"), url, &shot);
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot of {url}"
    );
    let keep = std::env::temp_dir().join(format!("mycel-{name}"));
    let _ = std::fs::copy(&shot, &keep);
    eprintln!("screenshot of {url}: {}", keep.display());
}

/// Writes `(id, text)` records as JSON lines.
pub fn write_jsonl(path: &Path, docs: &[(String, String)]) {
    let body: String = docs
        .iter()
        .map(|(id, t)| format!("{}\n", serde_json::json!({"id": id, "text": t})))
        .collect();
    std::fs::write(path, body).unwrap();
}

/// Reads a JSON-lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
