//! Command-line definitions and their dispatch to `mycel-node`.

use anyhow::{Context as _, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand};
use mycel_node::{
    Home,
    client::{Client, SendOptions, Sent},
    devnet::{DevnetInfo, DevnetOptions},
    init::{InitOptions, init},
    keystore::Keystore,
    roles::validator::{RunOptions, run as run_node},
    services::{self, accounts},
    types::{Address, Amount, Hash, JobKind, Message, attr, bank, market, staking},
};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// mycel: one node binary for a ledger of data, compute, models and receipts.
#[derive(Parser, Debug)]
#[command(name = "mycel", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Node home (default: $MYCEL_HOME, else ~/.mycel).
    #[arg(long, global = true, env = "MYCEL_HOME")]
    home: Option<PathBuf>,
    /// API of the node to talk to (default: the home's configured API address).
    #[arg(long, global = true, env = "MYCEL_API")]
    api: Option<String>,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a home: validator key, funded dev accounts, genesis, config.
    Init(InitArgs),
    /// Run the node in the home.
    Node(NodeArgs),
    /// Initialise a throwaway (or the named) home and run a single-validator devnet.
    Devnet(DevnetArgs),
    /// Create homes for a local multi-validator network (run each with `mycel --home DIR/nodeI node`).
    Testnet(TestnetArgs),
    /// Manage local keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(TxCmd),
    /// Read chain state.
    #[command(subcommand)]
    Query(QueryCmd),
    /// Print shell completions.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run a model locally: generate, embed, finetune.
    #[command(subcommand)]
    Run(crate::ml_cmd::RunCmd),
    /// The pinned models: fetch, list, show.
    #[command(subcommand)]
    Models(crate::ml_cmd::ModelsCmd),
    /// Datasets: dedup, add, show, prove, verify, bench.
    #[command(subcommand)]
    Data(crate::data_cmd::DataCmd),
    /// Post and follow compute jobs.
    #[command(subcommand)]
    Job(JobCmd),
    /// Run the worker role: bond, offer, run assigned jobs, serve sessions.
    Worker(crate::worker_cmd::WorkerArgs),
    /// Interactive sessions with a worker: open, chat, close.
    #[command(subcommand)]
    Session(crate::session_cmd::SessionCmd),
    /// Explain a node's earnings per epoch, with a reason for every figure.
    Earnings {
        /// The node's address or key name.
        #[arg(long = "node")]
        who: String,
        /// Only this epoch (default: the current and the previous one).
        #[arg(long)]
        epoch: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
enum JobCmd {
    /// Post a job with its maximum fee in escrow; it is assigned at once.
    Post {
        #[command(flatten)]
        opts: TxOpts,
        /// Kind: generate, embed, finetune, dedup.
        #[arg(long)]
        kind: JobKind,
        /// Model ID (hex) or pinned name (`smollm2`, `minilm`).
        #[arg(long)]
        model: String,
        /// Input: a blob hash or dataset root (hex), or a file, uploaded to the node's blob store.
        #[arg(long)]
        input: String,
        /// Maximum fee, escrowed.
        #[arg(long)]
        max_fee: Amount,
        /// Blocks the worker has to deliver.
        #[arg(long, default_value_t = 30)]
        deadline: u64,
        /// Kind-specific parameters (JSON).
        #[arg(long, default_value = "{}")]
        params: String,
    },
    /// A job's status.
    Status {
        /// Job ID.
        id: u64,
    },
    /// A job's result (output hash, units, commitment, fee); `--out` also fetches the output.
    Result {
        /// Job ID.
        id: u64,
        /// Write the output blob (checked against its hash) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Chain id.
    #[arg(long, default_value = "mycel-devnet-1")]
    chain_id: String,
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 4)]
    accounts: usize,
    /// Blocks per epoch.
    #[arg(long, default_value_t = 20)]
    epoch_length: u64,
    /// Overwrite an existing home.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    addrs: AddrArgs,
}

#[derive(Args, Debug, Clone)]
struct AddrArgs {
    /// HTTP API listen address.
    #[arg(long = "api.addr")]
    api_addr: Option<SocketAddr>,
    /// p2p listen address.
    #[arg(long = "p2p.addr")]
    p2p_addr: Option<SocketAddr>,
}

#[derive(Args, Debug)]
struct NodeArgs {
    #[command(flatten)]
    addrs: AddrArgs,
}

#[derive(Args, Debug)]
struct DevnetArgs {
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 4)]
    accounts: usize,
    #[command(flatten)]
    addrs: AddrArgs,
    /// Do not start the worker that serves the pinned models.
    #[arg(long)]
    no_worker: bool,
    /// Where the devnet worker's session server listens.
    #[arg(long = "worker.listen", default_value = "127.0.0.1:7702")]
    worker_listen: SocketAddr,
}

#[derive(Args, Debug)]
struct TestnetArgs {
    /// Directory that receives node0, node1, …
    #[arg(long)]
    dir: PathBuf,
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Node i listens on base-port + 2i (API) and base-port + 2i + 1 (p2p).
    #[arg(long, default_value_t = 7710)]
    base_port: u16,
    /// Number of funded dev accounts (shared by every home).
    #[arg(long, default_value_t = 4)]
    accounts: usize,
    /// Chain id.
    #[arg(long, default_value = "mycel-testnet-1")]
    chain_id: String,
    /// Overwrite existing homes.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Create a key with a new 24-word mnemonic.
    New {
        /// Name.
        name: String,
    },
    /// List keys.
    List,
    /// Show a key.
    Show {
        /// Name.
        name: String,
        /// Also print the mnemonic.
        #[arg(long)]
        mnemonic: bool,
    },
    /// Import a key from its mnemonic (read from stdin unless --mnemonic is given).
    Import {
        /// Name.
        name: String,
        /// The phrase.
        #[arg(long)]
        mnemonic: Option<String>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct TxOpts {
    /// Name of the signing key.
    #[arg(long)]
    from: String,
    /// Fee (default: the chain minimum), e.g. `0.001` (MYC) or `10000u` (base units).
    #[arg(long)]
    fee: Option<Amount>,
    /// Memo.
    #[arg(long, default_value = "")]
    memo: String,
    /// Return after submission instead of waiting for finality.
    #[arg(long)]
    no_wait: bool,
}

impl TxOpts {
    /// How the client sends it.
    pub(crate) fn send_options(&self) -> SendOptions {
        SendOptions {
            fee: self.fee,
            memo: self.memo.clone(),
            ..Default::default()
        }
    }
}

#[derive(Subcommand, Debug)]
enum TxCmd {
    /// Transfer MYC.
    Transfer {
        #[command(flatten)]
        opts: TxOpts,
        /// Recipient address or key name.
        #[arg(long)]
        to: String,
        /// Amount, e.g. `1.5` (MYC) or `1500u` (base units).
        #[arg(long)]
        amount: Amount,
    },
    /// Bond stake for a role (validator, worker, auditor, edge).
    Bond {
        #[command(flatten)]
        opts: TxOpts,
        /// Role.
        #[arg(long)]
        role: staking::Role,
        /// Amount.
        #[arg(long)]
        amount: Amount,
    },
    /// Publish or replace this worker's offer (needs worker stake).
    Offer {
        #[command(flatten)]
        opts: TxOpts,
        /// Job kinds served, comma-separated: generate, embed, finetune, dedup.
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<JobKind>,
        /// Model IDs served (hex), comma-separated.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Price per work unit.
        #[arg(long)]
        price: Amount,
        /// Hardware class.
        #[arg(long, default_value = "cpu")]
        hardware: String,
        /// Endpoint clients reach the worker at.
        #[arg(long, default_value = "")]
        endpoint: String,
    },
    /// Commit a job result as its assigned worker.
    CommitResult {
        #[command(flatten)]
        opts: TxOpts,
        /// Job ID.
        #[arg(long)]
        job: u64,
        /// Output blob hash (hex).
        #[arg(long)]
        output: String,
        /// Work units done.
        #[arg(long)]
        units: u64,
        /// Result-commitment root (hex).
        #[arg(long)]
        commitment: String,
    },
    /// Start unbonding stake.
    Unbond {
        #[command(flatten)]
        opts: TxOpts,
        /// Role.
        #[arg(long)]
        role: staking::Role,
        /// Amount.
        #[arg(long)]
        amount: Amount,
    },
}

#[derive(Subcommand, Debug)]
enum QueryCmd {
    /// An account (address or key name).
    Account {
        /// Address or key name.
        who: String,
    },
    /// A block (height or `latest`).
    Block {
        /// Height.
        #[arg(default_value = "latest")]
        height: String,
    },
    /// A transaction by hash.
    Tx {
        /// Hash.
        hash: String,
    },
    /// Node status.
    Status,
    /// Events over a range of blocks.
    Events {
        /// First height.
        #[arg(long)]
        from: Option<u64>,
        /// Last height.
        #[arg(long)]
        to: Option<u64>,
        /// Only this kind, e.g. `bank.transfer`.
        #[arg(long)]
        kind: Option<String>,
    },
    /// Rewards records of an epoch.
    Rewards {
        /// Epoch.
        epoch: u64,
        /// Only this address or key name.
        #[arg(long)]
        address: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Ledger throughput, the ed25519 ceiling, and HTTP-to-finality latency on a devnet.
    Ledger(mycel_bench::LedgerBenchArgs),
    /// Generation, embedding and LoRA speed on the pinned models, with the peers.
    Ml(crate::ml_cmd::BenchMlArgs),
    /// Ledger cost of a batch job and job-lifecycle throughput.
    Market(mycel_bench::MarketBenchArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let home = Home::resolve(cli.global.home.clone());
    match cli.command {
        Command::Init(a) => {
            let mut opts = InitOptions {
                chain_id: a.chain_id,
                accounts: a.accounts,
                epoch_length: a.epoch_length,
                force: a.force,
                ..Default::default()
            };
            apply_addrs(&mut opts.config, &a.addrs);
            let out = init(&home, &opts)?;
            if cli.global.json {
                print_json(&serde_json::json!({
                    "home": home.path(),
                    "chain_id": out.genesis.chain_id,
                    "validator": out.validator.address,
                    "accounts": out.accounts.iter().map(|k| serde_json::json!({"name": k.name, "address": k.address})).collect::<Vec<_>>(),
                }));
            } else {
                println!(
                    "initialised {} (chain {})",
                    home.path().display(),
                    out.genesis.chain_id
                );
                println!("validator  {}", out.validator.address);
                for k in &out.accounts {
                    println!("{:<10} {}  {}", k.name, k.address, opts.balance);
                }
            }
            Ok(())
        }
        Command::Node(a) => run_node(
            &home,
            RunOptions {
                api_addr: a.addrs.api_addr,
                p2p_addr: a.addrs.p2p_addr,
                on_ready: None,
            },
        )
        .map_err(Into::into),
        Command::Devnet(a) => devnet(cli.global.home.clone(), a),
        Command::Testnet(a) => {
            let opts = InitOptions {
                chain_id: a.chain_id,
                accounts: a.accounts,
                force: a.force,
                ..Default::default()
            };
            let t = mycel_node::init::init_testnet(&a.dir, a.validators, a.base_port, &opts)?;
            if cli.global.json {
                print_json(&t);
            } else {
                for (h, api) in t.homes.iter().zip(&t.apis) {
                    println!("mycel --home {} node    # api http://{api}", h.display());
                }
            }
            Ok(())
        }
        Command::Keys(k) => keys(&home, k, cli.global.json),
        Command::Tx(t) => block_on(tx(&home, cli.global.api.as_deref(), t, cli.global.json)),
        Command::Query(q) => block_on(query(&home, cli.global.api.as_deref(), q, cli.global.json)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mycel", &mut std::io::stdout());
            Ok(())
        }
        Command::Bench(BenchCmd::Ledger(a)) => mycel_bench::ledger(&a).map_err(Into::into),
        Command::Bench(BenchCmd::Ml(a)) => crate::ml_cmd::bench(&a, cli.global.json),
        Command::Run(r) => crate::ml_cmd::run(r, cli.global.json),
        Command::Models(m) => crate::ml_cmd::models(m, cli.global.json),
        Command::Bench(BenchCmd::Market(a)) => mycel_bench::market(&a).map_err(Into::into),
        Command::Data(d) => {
            crate::data_cmd::run(&home, cli.global.api.as_deref(), d, cli.global.json)
        }
        Command::Worker(a) => {
            let api = match cli.global.api.clone() {
                Some(u) => u,
                None => format!("http://{}", home.config()?.api_addr),
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(crate::worker_cmd::run(&home, &api, &a))
        }
        Command::Session(cmd) => {
            let c = client(&home, cli.global.api.as_deref())?;
            block_on(crate::session_cmd::run(&home, &c, cmd, cli.global.json))
        }
        Command::Job(j) => block_on(job(&home, cli.global.api.as_deref(), j, cli.global.json)),
        Command::Earnings { who, epoch } => block_on(earnings(
            &home,
            cli.global.api.as_deref(),
            &who,
            epoch,
            cli.global.json,
        )),
    }
}

fn apply_addrs(cfg: &mut mycel_node::NodeConfig, a: &AddrArgs) {
    if let Some(x) = a.api_addr {
        cfg.api_addr = x;
    }
    if let Some(x) = a.p2p_addr {
        cfg.p2p_addr = x;
    }
}

pub(crate) fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn devnet(home_flag: Option<PathBuf>, a: DevnetArgs) -> Result<()> {
    let opts = DevnetOptions {
        home: home_flag,
        accounts: a.accounts,
        api_addr: a.addrs.api_addr,
        p2p_addr: a.addrs.p2p_addr,
        no_worker: a.no_worker,
        worker_listen: a.worker_listen,
    };
    mycel_node::devnet::run(opts, print_devnet)?;
    Ok(())
}

fn print_devnet(d: &DevnetInfo) {
    let home = d.home.display();
    if let Some(why) = d.no_worker.as_deref().filter(|w| *w != "--no-worker") {
        eprintln!("warning: no worker ({why})");
    }
    println!("mycel devnet is running");
    println!("  chain id   {}", d.chain_id);
    println!("  home       {home}");
    println!("  http api   http://{}/api/v1/status", d.api);
    println!("  metrics    http://{}/metrics", d.api);
    println!("  p2p        {}", d.p2p);
    println!("funded accounts (keys in {home}/keys):");
    for k in &d.accounts {
        let bal = k
            .balance
            .map_or_else(|| "validator".to_string(), |b| b.to_string());
        println!("  {:<10} {}  {}", k.name, k.address, bal);
    }
    println!("try: mycel --home {home} tx transfer --from dev0 --to dev1 --amount 1.5");
    println!("     mycel --home {home} earnings --node worker");
}

fn keys(home: &Home, cmd: KeysCmd, json: bool) -> Result<()> {
    let ks = Keystore::new(home.keys_dir());
    let show = |k: &mycel_node::keystore::KeyFile, mnemonic: bool| {
        if json {
            let mut v = serde_json::json!({"name": k.name, "address": k.address, "public_key": k.public_key});
            if mnemonic {
                v["mnemonic"] = serde_json::Value::String(k.mnemonic.clone());
            }
            print_json(&v);
        } else {
            println!("{:<12} {}  {}", k.name, k.address, k.public_key);
            if mnemonic {
                println!("mnemonic: {}", k.mnemonic);
            }
        }
    };
    match cmd {
        KeysCmd::New { name } => {
            let k = ks.generate(&name)?;
            show(&k, true);
            if !json {
                eprintln!(
                    "write the mnemonic down: it is the only way to restore this key elsewhere"
                );
            }
        }
        KeysCmd::List => {
            let all = ks.list()?;
            if json {
                print_json(&all.iter().map(|k| serde_json::json!({"name": k.name, "address": k.address, "public_key": k.public_key})).collect::<Vec<_>>());
            } else {
                for k in &all {
                    show(k, false);
                }
            }
        }
        KeysCmd::Show { name, mnemonic } => show(&ks.load(&name)?, mnemonic),
        KeysCmd::Import { name, mnemonic } => {
            let phrase = match mnemonic {
                Some(p) => p,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_line(&mut s)?;
                    s
                }
            };
            show(&ks.import(&name, &phrase)?, false);
        }
    }
    Ok(())
}

pub(crate) fn client(home: &Home, node: Option<&str>) -> Result<Client> {
    let url = match node {
        Some(u) => u.to_string(),
        None => format!("http://{}", home.config()?.api_addr),
    };
    Ok(Client::new(&url))
}

fn resolve_address(home: &Home, who: &str) -> Result<Address> {
    Ok(accounts::address(home, who)?)
}

async fn tx(home: &Home, node: Option<&str>, cmd: TxCmd, json: bool) -> Result<()> {
    let c = client(home, node)?;
    let (opts, msg) = match cmd {
        TxCmd::Transfer { opts, to, amount } => {
            let to = resolve_address(home, &to)?;
            (opts, Message::Bank(bank::Msg::Transfer { to, amount }))
        }
        TxCmd::Bond { opts, role, amount } => {
            (opts, Message::Staking(staking::Msg::Bond { role, amount }))
        }
        TxCmd::Unbond { opts, role, amount } => (
            opts,
            Message::Staking(staking::Msg::Unbond { role, amount }),
        ),
        TxCmd::Offer {
            opts,
            kinds,
            models,
            price,
            hardware,
            endpoint,
        } => {
            let models = models
                .iter()
                .map(|m| Hash::from_hex(m))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let kinds = kinds.iter().fold(0u8, |acc, k| acc | (1 << (*k as u8)));
            let offer = market::Offer {
                kinds,
                models,
                hardware,
                price_per_unit: price,
                endpoint,
            };
            (opts, Message::Market(market::Msg::Offer(Box::new(offer))))
        }
        TxCmd::CommitResult {
            opts,
            job,
            output,
            units,
            commitment,
        } => {
            let msg = market::Msg::CommitResult {
                job,
                output: Hash::from_hex(&output)?,
                units,
                commitment: Hash::from_hex(&commitment)?,
            };
            (opts, Message::Market(msg))
        }
    };
    let key = accounts::key(home, &opts.from)?;
    let tx = c.sign(&key, vec![msg], opts.fee, &opts.memo).await?;
    let hash = c.submit(&tx).await?;
    if opts.no_wait {
        if json {
            print_json(&serde_json::json!({"hash": hash, "status": "pending"}));
        } else {
            println!("submitted {hash}");
        }
        return Ok(());
    }
    match c.finality(hash, Duration::from_secs(60)).await {
        Ok(sent) => {
            if json {
                print_json(&c.tx(&hash).await?);
            } else {
                println!(
                    "finalized {hash} at height {} (fee {})",
                    sent.height, sent.receipt.fee
                );
            }
            Ok(())
        }
        Err(mycel_node::Error::TxFailed {
            height,
            code,
            message,
            ..
        }) => {
            if json {
                print_json(&c.tx(&hash).await?);
            } else {
                println!("finalized {hash} at height {height} but failed: {message} ({code})");
            }
            bail!("transaction failed: {message}")
        }
        Err(e) => {
            if !json {
                println!("{hash} is still pending");
            }
            Err(e.into())
        }
    }
}

async fn query(home: &Home, node: Option<&str>, cmd: QueryCmd, json: bool) -> Result<()> {
    let c = client(home, node)?;
    match cmd {
        QueryCmd::Account { who } => {
            let a = resolve_address(home, &who)?;
            let v = c.account(&a).await?;
            if json {
                print_json(&v);
            } else {
                println!("address  {a}\nbalance  {}\nnonce    {}", v.balance, v.nonce);
                for (role, amount) in &v.stakes {
                    println!(
                        "staked   {amount} as {}",
                        format!("{role:?}").to_lowercase()
                    );
                }
            }
        }
        QueryCmd::Block { height } => {
            let v = c.block(&height).await?;
            if json {
                print_json(&v);
            } else {
                println!(
                    "height {}  hash {}\nparent {}\nproposer {}  state_root {}\n{} transactions",
                    v["height"],
                    v["hash"].as_str().unwrap_or(""),
                    v["parent"].as_str().unwrap_or(""),
                    v["proposer"].as_str().unwrap_or(""),
                    v["state_root"].as_str().unwrap_or(""),
                    v["txs"].as_array().map_or(0, |t| t.len())
                );
            }
        }
        QueryCmd::Tx { hash } => {
            let h = Hash::from_hex(&hash)?;
            let st = c.tx(&h).await?;
            if json {
                print_json(&st);
            } else {
                println!("{} {} height {:?}", st.hash, st.status, st.height);
                if let Some(r) = st.receipt {
                    println!("success {} fee {} {}", r.success, r.fee, r.error);
                    for e in r.events {
                        println!("  {} {:?}", e.kind, e.attrs);
                    }
                }
            }
        }
        QueryCmd::Status => {
            let s = c.status().await?;
            if json {
                print_json(&s);
            } else {
                println!(
                    "chain {}  height {}  epoch {}\nstate_root {}\nmempool {}  supply {}",
                    s.chain_id, s.height, s.epoch, s.state_root, s.mempool_size, s.supply
                );
            }
        }
        QueryCmd::Events { from, to, kind } => {
            let ev = c.events(from, to, kind.as_deref()).await?;
            if json {
                print_json(&ev);
            } else {
                for b in ev {
                    for e in b.events {
                        println!("{:>8} {} {:?}", b.height, e.event.kind, e.event.attrs);
                    }
                }
            }
        }
        QueryCmd::Rewards { epoch, address } => {
            let path = match address {
                Some(a) => format!(
                    "/api/v1/rewards/{epoch}?address={}",
                    resolve_address(home, &a)?
                ),
                None => format!("/api/v1/rewards/{epoch}"),
            };
            let v: serde_json::Value = c.get(&path).await?;
            print_json(&v);
        }
    }
    Ok(())
}

/// Signs, submits and waits for one transaction; prints where it finalized.
pub(crate) async fn send(
    c: &Client,
    key: &mycel_node::types::PrivateKey,
    msg: Message,
    opts: &TxOpts,
    json: bool,
) -> Result<Sent> {
    let sent = c.send(key, msg, &opts.send_options()).await?;
    if !json {
        println!("finalized {} at height {}", sent.hash, sent.height);
    }
    Ok(sent)
}

async fn job(home: &Home, api: Option<&str>, cmd: JobCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        JobCmd::Post {
            opts,
            kind,
            model,
            input,
            max_fee,
            deadline,
            params,
        } => {
            serde_json::from_str::<serde_json::Value>(&params).context("--params must be JSON")?;
            let key = accounts::key(home, &opts.from)?;
            let model = services::models::resolve(&crate::ml_cmd::store(), &model)?;
            let input = match Hash::from_hex(&input) {
                Ok(h) => h,
                Err(_) => {
                    let bytes = std::fs::read(&input).with_context(|| {
                        format!("--input {input:?} is neither a hash nor a readable file")
                    })?;
                    c.put_blob(bytes).await?
                }
            };
            let msg = Message::Market(market::Msg::PostJob {
                kind,
                model,
                input,
                params: params.into_bytes(),
                max_fee,
                deadline_blocks: deadline,
            });
            let sent = send(&c, &key, msg, &opts, json).await?;
            let id = sent
                .receipt
                .attr(market::events::JOB_POSTED, attr::JOB)
                .unwrap_or_default();
            let worker = sent
                .receipt
                .attr(market::events::ASSIGNED, attr::WORKER)
                .unwrap_or_default();
            if json {
                print_json(&serde_json::json!({"job": id, "worker": worker, "tx": sent.hash}));
            } else {
                println!("job {id} assigned to {worker}");
            }
        }
        JobCmd::Status { id } | JobCmd::Result { id, out: None } => {
            let v: serde_json::Value = c.get(&format!("/api/v1/jobs/{id}")).await?;
            print_json(&v);
        }
        JobCmd::Result {
            id,
            out: Some(path),
        } => {
            let job: market::Job = c.get(&format!("/api/v1/jobs/{id}")).await?;
            if job.output == Hash::ZERO {
                bail!("job {id} has no result yet ({:?})", job.status);
            }
            let bytes = c.get_blob(&job.output).await?;
            std::fs::write(&path, &bytes).with_context(|| format!("{}", path.display()))?;
            if json {
                print_json(
                    &serde_json::json!({"job": id, "output": job.output, "bytes": bytes.len(), "path": path}),
                );
            } else {
                println!(
                    "wrote {} bytes ({}) to {}",
                    bytes.len(),
                    job.output,
                    path.display()
                );
            }
        }
    }
    Ok(())
}

async fn earnings(
    home: &Home,
    api: Option<&str>,
    who: &str,
    epoch: Option<u64>,
    json: bool,
) -> Result<()> {
    let c = client(home, api)?;
    let addr = resolve_address(home, who)?;
    let path = match epoch {
        Some(e) => format!("/api/v1/earnings/{addr}?epoch={e}"),
        None => format!("/api/v1/earnings/{addr}"),
    };
    let e: mycel_node::http::Earnings = c.get(&path).await?;
    if json {
        print_json(&e);
        return Ok(());
    }
    println!("earnings of {} at height {}", e.address, e.height);
    for (role, amount) in &e.stakes {
        println!("  staked {amount} as {role}");
    }
    println!("  worker reputation {}", e.reputation);
    if e.blockers.is_empty() {
        println!("  nothing blocks this node from being assigned work");
    } else {
        for b in &e.blockers {
            println!("  not eligible for jobs: {b}");
        }
    }
    for j in &e.jobs {
        println!("  job {}: {}", j["id"], j["reason"].as_str().unwrap_or(""));
    }
    for ep in &e.epochs {
        println!(
            "epoch {} (heights {}..={}){}: {} work units, credits {}, debits {}",
            ep.epoch,
            ep.heights.0,
            ep.heights.1,
            if ep.ended { "" } else { " [in progress]" },
            ep.work_units,
            ep.credits,
            ep.debits
        );
        if ep.records.is_empty() {
            println!("    no credits or debits");
        }
        for r in &ep.records {
            let amount: u128 = r["amount"].as_str().unwrap_or("0").parse().unwrap_or(0);
            println!(
                "    {} {:>24}  {:<20} {}",
                if r["debit"] == true { "-" } else { "+" },
                Amount(amount).to_string(),
                r["reason"].as_str().unwrap_or(""),
                r["explanation"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
