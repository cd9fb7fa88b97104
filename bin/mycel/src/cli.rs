//! Command-line definitions and their dispatch to `mycel-node`.

use crate::{
    chain_cmd::*,
    glue::{block_on, client, print_json},
    market_cmd::*,
};
use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};
use mycel_node::{
    Home,
    init::{InitOptions, init},
    roles::validator::{RunOptions, run as run_node},
};
use std::path::PathBuf;

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
    /// The model registry: register versions, lineage trees, grants, proofs, Hugging Face
    /// export and import.
    #[command(subcommand)]
    Model(crate::model_cmd::ModelCmd),
    /// MCP tools on the network: register, serve, list, show, call, challenge a rug pull.
    #[command(subcommand)]
    Tool(crate::tool_cmd::ToolCmd),
    /// A2A agents on the network: register, find by skill, signed cards.
    #[command(subcommand)]
    Agent(crate::tool_cmd::AgentCmd),
    /// Edge devices: consent, register, run a light device, status, leave, edge jobs.
    #[command(subcommand)]
    Edge(crate::edge_cmd::EdgeCmd),
    /// Datasets: dedup, add, show, prove, verify, bench.
    #[command(subcommand)]
    Data(crate::data_cmd::DataCmd),
    /// Post and follow compute jobs.
    #[command(subcommand)]
    Job(JobCmd),
    /// Run the worker role: bond, offer, run assigned jobs, serve sessions.
    Worker(crate::worker_cmd::WorkerArgs),
    /// Run the auditor role: bond, replay assigned results, seal and reveal verdicts, dispute.
    Auditor(crate::verify_cmd::AuditorArgs),
    /// Where a job's verification stands.
    #[command(subcommand)]
    Audit(crate::verify_cmd::AuditCmd),
    /// Bisection disputes over committed results: list, show, challenge.
    #[command(subcommand)]
    Dispute(crate::verify_cmd::DisputeCmd),
    /// Interactive sessions with a worker: open, chat, close.
    #[command(subcommand)]
    Session(crate::session_cmd::SessionCmd),
    /// Receipts: fetch a receipt's bundle from a gateway, verify one offline.
    #[command(subcommand)]
    Receipt(crate::receipt_cmd::ReceiptCmd),
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
enum BenchCmd {
    /// Ledger throughput, the ed25519 ceiling, and HTTP-to-finality latency on a devnet.
    Ledger(mycel_bench::LedgerBenchArgs),
    /// Generation, embedding and LoRA speed on the pinned models, with the peers.
    Ml(crate::ml_cmd::BenchMlArgs),
    /// Ledger cost of a batch job and job-lifecycle throughput.
    Market(mycel_bench::MarketBenchArgs),
    /// Verification: false positives, fault detection, replay and dispute cost, economy.
    Verify(mycel_bench::VerifyBenchArgs),
    /// The OpenAI-compatible gateway's overhead over calling a worker directly.
    Gateway(mycel_bench::GatewayBenchArgs),
    /// Lineage query latency (graph and ASCII tree) on a chain with thousands of model versions.
    Model(mycel_bench::ModelBenchArgs),
    /// Per-call overhead of paid MCP tool calls over calling the tool directly; 10,000 calls
    /// settled in one transaction.
    Tools(mycel_bench::ToolsBenchArgs),
    /// Edge devices: a real job over lossy links with devices killed, cold start, memory,
    /// cheaters caught (real processes, the pinned MiniLM).
    Edge(mycel_bench::EdgeBenchArgs),
    /// Dedup beside rensa, datasketch and the Python wheel on the same input, quality against a
    /// computed ground truth (also on a corpus we did not make: `--real DIR|apt`), two-core scaling.
    Data(mycel_bench::DataBenchArgs),
    /// Submit → finality latency, throughput and memory of a 4-validator network of real
    /// processes at a fixed offered load, beside one validator; mempool abuse; consistency.
    Network(mycel_bench::NetworkBenchArgs),
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
                role: a.role,
                state_sync: a.state_sync,
                on_ready: None,
                gateway: true,
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
            let t = mycel_node::init::init_testnet(
                &a.dir,
                a.validators,
                a.full_nodes,
                a.base_port,
                &opts,
            )?;
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
        Command::Bench(BenchCmd::Verify(a)) => mycel_bench::verify(&a).map_err(Into::into),
        Command::Bench(BenchCmd::Gateway(a)) => mycel_bench::gateway(&a).map_err(Into::into),
        Command::Bench(BenchCmd::Model(a)) => mycel_bench::model(&a).map_err(Into::into),
        Command::Bench(BenchCmd::Edge(a)) => {
            let report = mycel_bench::edge(&a)?;
            if cli.global.json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Bench(BenchCmd::Data(a)) => {
            let report = mycel_bench::data::scale::run(&a)?;
            if cli.global.json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Bench(BenchCmd::Network(a)) => {
            let report = mycel_bench::network(&a)?;
            if cli.global.json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Bench(BenchCmd::Tools(a)) => {
            let report = mycel_bench::tools(&a)?;
            if cli.global.json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            Ok(())
        }
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
        Command::Auditor(a) => {
            let api = match cli.global.api.clone() {
                Some(u) => u,
                None => format!("http://{}", home.config()?.api_addr),
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(crate::verify_cmd::run(&home, &api, &a))
        }
        Command::Model(cmd) => block_on(crate::model_cmd::run(
            &home,
            cli.global.api.as_deref(),
            cmd,
            cli.global.json,
        )),
        Command::Tool(cmd) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(crate::tool_cmd::run(
                &home,
                cli.global.api.as_deref(),
                cmd,
                cli.global.json,
            )),
        Command::Edge(cmd) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(crate::edge_cmd::run(
                &home,
                cli.global.api.as_deref(),
                cmd,
                cli.global.json,
            )),
        Command::Agent(cmd) => block_on(crate::tool_cmd::agent(
            &home,
            cli.global.api.as_deref(),
            cmd,
            cli.global.json,
        )),
        Command::Audit(cmd) => block_on(crate::verify_cmd::audit(
            &home,
            cli.global.api.as_deref(),
            cmd,
            cli.global.json,
        )),
        Command::Dispute(cmd) => block_on(crate::verify_cmd::dispute(
            &home,
            cli.global.api.as_deref(),
            cmd,
            cli.global.json,
        )),
        Command::Session(cmd) => {
            let c = client(&home, cli.global.api.as_deref())?;
            block_on(crate::session_cmd::run(&home, &c, cmd, cli.global.json))
        }
        Command::Receipt(cmd) => {
            // Verifying needs no node; fetching names the node's base URL.
            let base = match &cmd {
                crate::receipt_cmd::ReceiptCmd::Get { .. } => {
                    client(&home, cli.global.api.as_deref())?.base().to_string()
                }
                crate::receipt_cmd::ReceiptCmd::Verify { .. } => String::new(),
            };
            block_on(crate::receipt_cmd::run(&home, &base, cmd, cli.global.json))
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
