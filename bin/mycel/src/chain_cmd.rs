//! `mycel init|node|devnet|testnet|keys|tx|query`: the chain commands.

use crate::glue::{client, print_json};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use mycel_node::{
    Home,
    client::SendOptions,
    devnet::{DevnetInfo, DevnetOptions},
    keystore::Keystore,
    services::accounts,
    types::{Address, Amount, Hash, JobKind, Message, bank, market, staking},
};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    /// Chain id.
    #[arg(long, default_value = "mycel-devnet-1")]
    pub(crate) chain_id: String,
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 4)]
    pub(crate) accounts: usize,
    /// Blocks per epoch.
    #[arg(long, default_value_t = 20)]
    pub(crate) epoch_length: u64,
    /// Overwrite an existing home.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) addrs: AddrArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct AddrArgs {
    /// HTTP API listen address.
    #[arg(long = "api.addr")]
    pub(crate) api_addr: Option<SocketAddr>,
    /// p2p listen address.
    #[arg(long = "p2p.addr")]
    pub(crate) p2p_addr: Option<SocketAddr>,
}

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    pub(crate) addrs: AddrArgs,
    /// Override the home's role: `validator` (votes) or `full` (follows the chain, serves the API).
    #[arg(long, value_parser = parse_role)]
    pub(crate) role: Option<mycel_node::config::Role>,
    /// When the store is empty, start from this peer's state snapshot (its API,
    /// `http://host:port`), checked against a finality proof, instead of executing every block.
    #[arg(long = "state-sync")]
    pub(crate) state_sync: Option<String>,
}

fn parse_role(s: &str) -> Result<mycel_node::config::Role, String> {
    match s {
        "validator" => Ok(mycel_node::config::Role::Validator),
        "full" => Ok(mycel_node::config::Role::Full),
        _ => Err(format!("{s:?}: `validator` or `full`")),
    }
}

#[derive(Args, Debug)]
pub(crate) struct DevnetArgs {
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 4)]
    pub(crate) accounts: usize,
    #[command(flatten)]
    pub(crate) addrs: AddrArgs,
    /// Do not start the worker that serves the pinned models.
    #[arg(long)]
    pub(crate) no_worker: bool,
    /// Where the devnet worker's session server listens.
    #[arg(long = "worker.listen", default_value = "127.0.0.1:7702")]
    pub(crate) worker_listen: SocketAddr,
}

#[derive(Args, Debug)]
pub(crate) struct TestnetArgs {
    /// Directory that receives node0, node1, …
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    pub(crate) validators: usize,
    /// Number of full nodes (after the validators: node<validators>, …).
    #[arg(long, default_value_t = 0)]
    pub(crate) full_nodes: usize,
    /// Node i listens on base-port + 2i (API) and base-port + 2i + 1 (p2p).
    #[arg(long, default_value_t = 7710)]
    pub(crate) base_port: u16,
    /// Number of funded dev accounts (shared by every home).
    #[arg(long, default_value_t = 4)]
    pub(crate) accounts: usize,
    /// Chain id.
    #[arg(long, default_value = "mycel-testnet-1")]
    pub(crate) chain_id: String,
    /// Overwrite existing homes.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum KeysCmd {
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
    /// API keys of this node's OpenAI-compatible gateway, each bound to one of the keys here.
    #[command(subcommand)]
    ApiKey(ApiKeyCmd),
}

#[derive(Subcommand, Debug)]
pub(crate) enum ApiKeyCmd {
    /// Create an API key paid from ACCOUNT's balance; prints the secret once.
    Create {
        /// The key (in this home's keystore) whose account pays.
        #[arg(long)]
        account: String,
        /// A label.
        #[arg(long, default_value = "default")]
        name: String,
        /// Most the key may spend in total (MYC, e.g. `2.5`).
        #[arg(long)]
        spend_limit: Option<Amount>,
        /// Most requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
    },
    /// List the API keys with what each has spent.
    List,
    /// Revoke an API key (by id or label).
    Revoke {
        /// Its id or label.
        key: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct TxOpts {
    /// Name of the signing key.
    #[arg(long)]
    pub(crate) from: String,
    /// Fee (default: the chain minimum), e.g. `0.001` (MYC) or `10000u` (base units).
    #[arg(long)]
    pub(crate) fee: Option<Amount>,
    /// Memo.
    #[arg(long, default_value = "")]
    pub(crate) memo: String,
    /// Return after submission instead of waiting for finality.
    #[arg(long)]
    pub(crate) no_wait: bool,
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
pub(crate) enum TxCmd {
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
        /// Licences accepted for registered models, comma-separated (`*` for any).
        #[arg(long, default_value = mycel_node::roles::worker::DEFAULT_LICENSES)]
        licenses: String,
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
        /// Trace root (hex): the Merkle root over the execution trace's leaves.
        #[arg(long)]
        trace_root: String,
        /// Number of trace leaves.
        #[arg(long, default_value_t = 1)]
        trace_len: u64,
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
pub(crate) enum QueryCmd {
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

pub(crate) fn apply_addrs(cfg: &mut mycel_node::NodeConfig, a: &AddrArgs) {
    if let Some(x) = a.api_addr {
        cfg.api_addr = x;
    }
    if let Some(x) = a.p2p_addr {
        cfg.p2p_addr = x;
    }
}

pub(crate) fn devnet(home_flag: Option<PathBuf>, a: DevnetArgs) -> Result<()> {
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

pub(crate) fn print_devnet(d: &DevnetInfo) {
    let home = d.home.display();
    if let Some(why) = d.no_worker.as_deref().filter(|w| *w != "--no-worker") {
        eprintln!("warning: no worker ({why})");
    }
    println!("mycel devnet is running");
    println!("  chain id   {}", d.chain_id);
    println!("  home       {home}");
    println!("  http api   http://{}/api/v1/status", d.api);
    println!("  metrics    http://{}/metrics", d.api);
    println!("  openai     http://{}/v1", d.api);
    if let Some(k) = &d.api_key {
        println!("  api key    {k}");
    }
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

pub(crate) fn keys(home: &Home, cmd: KeysCmd, json: bool) -> Result<()> {
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
        KeysCmd::ApiKey(cmd) => api_key(home, &ks, cmd, json)?,
    }
    Ok(())
}

fn api_key(home: &Home, ks: &Keystore, cmd: ApiKeyCmd, json: bool) -> Result<()> {
    let keys = mycel_node::roles::gateway::ApiKeys::open(home.gateway_dir())?;
    match cmd {
        ApiKeyCmd::Create {
            account,
            name,
            spend_limit,
            rpm,
        } => {
            let addr = ks.load(&account)?.address;
            let (secret, k) = keys.create(&name, &account, addr, spend_limit, rpm)?;
            if json {
                print_json(
                    &serde_json::json!({"key": secret, "id": k.id, "name": k.name, "account": k.account, "address": k.address}),
                );
            } else {
                println!("{secret}");
                eprintln!(
                    "API key {} for {account} ({addr}); the secret is shown only now",
                    k.id
                );
            }
        }
        ApiKeyCmd::List => {
            let all = keys.list()?;
            if json {
                print_json(&all);
            } else {
                for u in &all {
                    let limit = u.key.spend_limit.map_or("none".into(), |l| l.to_string());
                    let rpm = u.key.rpm.map_or("none".into(), |r| r.to_string());
                    println!(
                        "{}  {:<12} {:<10} spent {} of {limit} in {} requests, rpm {rpm}{}",
                        u.key.id,
                        u.key.name,
                        u.key.account,
                        u.spent,
                        u.requests,
                        if u.key.revoked { "  REVOKED" } else { "" }
                    );
                }
            }
        }
        ApiKeyCmd::Revoke { key } => {
            let k = keys.revoke(&key)?;
            if json {
                print_json(&k);
            } else {
                println!("revoked API key {} ({})", k.id, k.name);
            }
        }
    }
    Ok(())
}

pub(crate) fn resolve_address(home: &Home, who: &str) -> Result<Address> {
    Ok(accounts::address(home, who)?)
}

pub(crate) async fn tx(home: &Home, node: Option<&str>, cmd: TxCmd, json: bool) -> Result<()> {
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
            licenses,
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
                licenses,
            };
            (opts, Message::Market(market::Msg::Offer(Box::new(offer))))
        }
        TxCmd::CommitResult {
            opts,
            job,
            output,
            units,
            trace_root,
            trace_len,
        } => {
            let msg = market::Msg::CommitResult {
                job,
                output: Hash::from_hex(&output)?,
                units,
                trace_root: Hash::from_hex(&trace_root)?,
                trace_len,
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

pub(crate) async fn query(
    home: &Home,
    node: Option<&str>,
    cmd: QueryCmd,
    json: bool,
) -> Result<()> {
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
