//! `mycel tool` and `mycel agent`: register MCP tools and A2A agents on chain, serve a tool
//! behind the network, call one through the node's `/mcp`, prove a rug pull, read cards.

use crate::{
    chain_cmd::TxOpts,
    glue::{client, print_json},
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mycel_node::{
    Home,
    client::Client,
    http::agent::{ToolView, VersionView},
    roles::tools::{self, Advert, CommandRunner, HttpRunner, ToolRunner, ToolServer},
    services::{accounts, agents::verify_card},
    types::{
        Amount, Message,
        agent::{self, Entry, Kind},
    },
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

/// What a registration charges and bonds.
#[derive(Args, Debug, Clone, Copy)]
pub(crate) struct Terms {
    /// Price of one call, e.g. `1000u` or `0.001` (MYC).
    #[arg(long, default_value = "1000u")]
    price: Amount,
    /// Bond held while listed (at least 0.1 MYC).
    #[arg(long, default_value = "0.1")]
    bond: Amount,
}

/// Tool commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ToolCmd {
    /// Register a tool definition (MCP `name`, `description`, `inputSchema`, …), or a new
    /// version of one you own. The definition is canonicalised, signed and checked.
    Register {
        #[command(flatten)]
        opts: TxOpts,
        /// The tool definition (JSON).
        #[arg(long)]
        manifest: PathBuf,
        /// Where the provider serves calls (what `mycel tool serve` prints).
        #[arg(long)]
        endpoint: String,
        #[command(flatten)]
        terms: Terms,
    },
    /// Serve a tool: a command (`-- COMMAND…`: JSON arguments on stdin, JSON or text on
    /// stdout), an HTTP upstream (`--upstream URL`: JSON arguments posted), or a tool of an MCP
    /// server (`--upstream-mcp URL --tool NAME`: its definition is the server's). Registers the
    /// definition (or its new version) unless it is already the registered one, then checks,
    /// runs, receipts and settles every paid call; a changed definition is registered as a new
    /// version before it is served.
    Serve {
        /// Key that owns the tool and signs receipts.
        #[arg(long)]
        from: String,
        /// The tool definition (JSON); watched for changes. Not with --upstream-mcp.
        #[arg(long, required_unless_present = "upstream_mcp")]
        manifest: Option<PathBuf>,
        /// An MCP server (Streamable HTTP endpoint) whose tool --tool to serve.
        #[arg(long, conflicts_with_all = ["manifest", "upstream"], requires = "tool")]
        upstream_mcp: Option<String>,
        /// The tool's name on the MCP server.
        #[arg(long)]
        tool: Option<String>,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:7710")]
        listen: SocketAddr,
        /// The URL callers reach (default: `http://<listen>`).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        terms: Terms,
        /// An HTTP upstream to post the arguments to, instead of a command.
        #[arg(long)]
        upstream: Option<String>,
        /// Longest run of one call, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Serve without registering (the registration must already match); a changed manifest
        /// file is then not served until registered.
        #[arg(long)]
        no_register: bool,
        /// Serve a changed manifest file at once without registering it — a rug pull, for
        /// testing that callers refuse it and that the bond can be challenged.
        #[arg(long, hide = true)]
        serve_unregistered: bool,
        /// The command.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Registered tools.
    List {
        /// Only this owner's (address or key name).
        #[arg(long)]
        owner: Option<String>,
        /// Most tools.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One tool: terms, calls, reputation, its definition and every version.
    Show {
        /// Name or entry ID.
        tool: String,
    },
    /// Call a tool through the node's `/mcp`, paid from an API key's account; prints the result
    /// and its receipt.
    Call {
        /// Tool name.
        tool: String,
        /// Arguments (a JSON object).
        #[arg(long, default_value = "{}")]
        args: String,
        /// API key (`myc-sk-…`).
        #[arg(long, env = "MYCEL_API_KEY")]
        api_key: String,
    },
    /// Prove a rug pull: an advert (saved by the gateway under `gateway/evidence/`, or fetched
    /// from a provider) of a manifest that is none of the tool's registered versions.
    Challenge {
        #[command(flatten)]
        opts: TxOpts,
        /// The advert (JSON).
        #[arg(long)]
        evidence: PathBuf,
    },
    /// Retire a tool you own; its bond returns once no session on it can be disputed.
    Deregister {
        #[command(flatten)]
        opts: TxOpts,
        /// Name or entry ID.
        tool: String,
    },
}

/// Agent commands.
#[derive(Subcommand, Debug)]
pub(crate) enum AgentCmd {
    /// Register an A2A Agent Card (or a new version of one you own).
    Register {
        #[command(flatten)]
        opts: TxOpts,
        /// The Agent Card (JSON, without `signatures`).
        #[arg(long)]
        card: PathBuf,
        /// Where the agent is reached.
        #[arg(long)]
        endpoint: String,
        #[command(flatten)]
        terms: Terms,
    },
    /// Registered agents, or those with a skill (ID or tag).
    List {
        /// Skill ID or tag.
        #[arg(long)]
        skill: Option<String>,
        /// Most agents.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// An agent's card, signed by its on-chain owner; `--verify` checks the signature.
    Card {
        /// Name or entry ID.
        agent: String,
        /// Check the card's signature against the owner's on-chain key.
        #[arg(long)]
        verify: bool,
    },
}

fn read_json(path: &PathBuf) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
}

async fn register(
    home: &Home,
    c: &Client,
    opts: &TxOpts,
    kind: Kind,
    manifest: serde_json::Value,
    (endpoint, Terms { price, bond }): (&str, Terms),
    json: bool,
) -> Result<()> {
    let canonical = agent::manifest::canonical(&manifest);
    agent::manifest::check(kind, &canonical).map_err(|e| anyhow::anyhow!("{e}"))?;
    if kind == Kind::Tool {
        tools::schema::Schemas::compile(&manifest).map_err(anyhow::Error::msg)?;
    }
    let key = accounts::key(home, &opts.from)?;
    let hash = agent::manifest_hash(&canonical);
    let msg = tools::registration(&key, kind, canonical, endpoint, price, bond);
    let sent = c.send(&key, msg, &opts.send_options()).await?;
    let name = manifest["name"].as_str().unwrap_or_default();
    let id = agent::entry_id(kind, name);
    if json {
        print_json(
            &serde_json::json!({"id": id, "name": name, "manifest_hash": hash, "tx": sent.hash}),
        );
    } else {
        println!(
            "{} {name} registered: id {id}, manifest {hash}",
            kind.as_str()
        );
    }
    Ok(())
}

/// The entry a name or ID names.
async fn lookup(c: &Client, kind: Kind, who: &str) -> Result<ToolView> {
    let path = match kind {
        Kind::Tool => "tools",
        Kind::Agent => "agents",
    };
    Ok(c.get(&format!("/api/v1/{path}/{who}")).await?)
}

fn print_entries(entries: &[Entry]) {
    println!(
        "{:<28} {:>3} {:>10} {:>8} {:>4} {:<8} OWNER",
        "NAME", "V", "PRICE", "CALLS", "REP", "STATUS"
    );
    for e in entries {
        println!(
            "{:<28} {:>3} {:>10} {:>8} {:>4} {:<8} {}",
            e.name,
            e.version,
            e.price.to_string(),
            e.calls,
            e.reputation,
            format!("{:?}", e.status).to_lowercase(),
            e.owner
        );
    }
}

/// Runs a tool command.
pub(crate) async fn run(home: &Home, api: Option<&str>, cmd: ToolCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        ToolCmd::Register {
            opts,
            manifest,
            endpoint,
            terms,
        } => {
            let m = read_json(&manifest)?;
            register(home, &c, &opts, Kind::Tool, m, (&endpoint, terms), json).await
        }
        ToolCmd::Serve {
            from,
            manifest,
            upstream_mcp,
            tool,
            listen,
            endpoint,
            terms,
            upstream,
            timeout,
            no_register,
            serve_unregistered,
            command,
        } => {
            let timeout = Duration::from_secs(timeout);
            let key = accounts::key(home, &from)?;
            let (server, id, name) = match (upstream_mcp, manifest) {
                (Some(url), _) => {
                    if !command.is_empty() {
                        bail!("--upstream-mcp serves the server's tool; no COMMAND");
                    }
                    let name = tool.context("--tool NAME is required with --upstream-mcp")?;
                    let server = ToolServer::open(key, c.clone(), home.tool_sessions_dir(&name))?;
                    let id = server
                        .add_upstream(tools::McpUpstream::new(url, timeout), &name)
                        .await?;
                    (server, id, name)
                }
                (None, Some(manifest)) => {
                    let (m, _) = tools::load_manifest(
                        &std::fs::read(&manifest)
                            .with_context(|| format!("reading {}", manifest.display()))?,
                    )?;
                    let runner: Arc<dyn ToolRunner> = match (upstream, command.is_empty()) {
                        (Some(url), true) => Arc::new(HttpRunner::new(url, timeout)),
                        (None, false) => Arc::new(CommandRunner {
                            argv: command,
                            timeout,
                        }),
                        _ => bail!("give either --upstream URL or -- COMMAND…"),
                    };
                    let name = m["name"].as_str().unwrap_or_default().to_string();
                    let server = ToolServer::open(key, c.clone(), home.tool_sessions_dir(&name))?;
                    let id = server.add(m, runner, Some(manifest.clone()))?;
                    (server, id, name)
                }
                (None, None) => bail!("give --manifest FILE or --upstream-mcp URL --tool NAME"),
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let endpoint = endpoint
                .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap_or(listen)));
            if !no_register {
                let n = server
                    .register_all(&endpoint, terms.price, terms.bond)
                    .await?;
                if n > 0 {
                    eprintln!("registered {name} ({id}) at {endpoint}");
                }
                server.on_change(tools::OnChange::Register {
                    endpoint: endpoint.clone(),
                    price: terms.price,
                    bond: terms.bond,
                });
            }
            if serve_unregistered {
                server.on_change(tools::OnChange::ServeUnregistered);
            }
            let served = server.adverts().first().map(|a| a.manifest_hash);
            println!(
                "tool {name} ({id}) serving manifest {} at {endpoint}",
                served.map(|h| h.to_hex()).unwrap_or_default()
            );
            let app = server.router();
            tokio::spawn(server.clone().run_settlement(Duration::from_secs(5)));
            mycel_node::http::serve(listener, app).await?;
            Ok(())
        }
        ToolCmd::List { owner, limit } => {
            let mut q = format!("?limit={limit}");
            if let Some(o) = owner {
                q.push_str(&format!("&owner={}", accounts::address(home, &o)?));
            }
            let entries: Vec<Entry> = c.get(&format!("/api/v1/tools{q}")).await?;
            if json {
                print_json(&entries);
            } else {
                print_entries(&entries);
            }
            Ok(())
        }
        ToolCmd::Show { tool } => {
            let v = lookup(&c, Kind::Tool, &tool).await?;
            let versions: Vec<VersionView> = c
                .get(&format!("/api/v1/tools/{}/versions", v.entry.id))
                .await?;
            if json {
                print_json(&serde_json::json!({"tool": v, "versions": versions}));
            } else {
                let e = &v.entry;
                println!("{} (id {})", e.name, e.id);
                println!("  owner       {}", e.owner);
                println!("  status      {:?}", e.status);
                println!("  version     {} (manifest {})", e.version, e.manifest);
                println!("  endpoint    {}", e.endpoint);
                println!("  price       {} per call; bond {}", e.price, e.bond);
                println!("  calls       {} settled, {} earned", e.calls, e.earned);
                println!(
                    "  reputation  {} ({} disputes lost)",
                    e.reputation, e.disputes_lost
                );
                println!("  versions:");
                for x in &versions {
                    println!(
                        "    v{} at height {}: {}",
                        x.version, x.height, x.manifest_hash
                    );
                }
                println!("{}", serde_json::to_string_pretty(&v.manifest)?);
            }
            Ok(())
        }
        ToolCmd::Call {
            tool,
            args,
            api_key,
        } => {
            let arguments: serde_json::Value =
                serde_json::from_str(&args).context("--args is not JSON")?;
            let r = c
                .mcp(
                    &api_key,
                    "tools/call",
                    serde_json::json!({"name": tool, "arguments": arguments}),
                )
                .await?;
            if let Some(e) = r.get("error") {
                if json {
                    print_json(&r);
                }
                bail!(
                    "{} ({})",
                    e["message"].as_str().unwrap_or("error"),
                    e["code"]
                );
            }
            let result = &r["result"];
            if json {
                print_json(result);
            } else {
                for part in result["content"].as_array().into_iter().flatten() {
                    if let Some(t) = part["text"].as_str() {
                        println!("{t}");
                    }
                }
                let receipt = &result["_meta"]["mycel/receipt"];
                if receipt.is_object() {
                    eprintln!(
                        "receipt: session {} call {} paid {} (running total {}), manifest {}",
                        receipt["receipt"]["session"],
                        receipt["receipt"]["seq"],
                        receipt["receipt"]["amount"],
                        receipt["receipt"]["cumulative"],
                        receipt["receipt"]["model"].as_str().unwrap_or_default()
                    );
                }
            }
            if result["isError"] == true {
                bail!("the tool call failed (not charged)");
            }
            Ok(())
        }
        ToolCmd::Challenge { opts, evidence } => {
            let a: Advert = serde_json::from_value(read_json(&evidence)?)
                .context("the evidence is not an advert")?;
            let msg: Message = a
                .challenge()
                .context("the advert's key or signature is not hex")?;
            let key = accounts::key(home, &opts.from)?;
            let sent = c.send(&key, msg, &opts.send_options()).await?;
            if json {
                print_json(&serde_json::json!({"tx": sent.hash}));
            } else {
                println!(
                    "rug pull of {} proven; provider slashed (tx {})",
                    a.name, sent.hash
                );
            }
            Ok(())
        }
        ToolCmd::Deregister { opts, tool } => {
            let v = lookup(&c, Kind::Tool, &tool).await?;
            let key = accounts::key(home, &opts.from)?;
            let msg = Message::Agent(agent::Msg::Deregister { id: v.entry.id });
            c.send(&key, msg, &opts.send_options()).await?;
            println!(
                "{} retired; its bond returns when no session on it can be disputed",
                v.entry.name
            );
            Ok(())
        }
    }
}

/// Runs an agent command.
pub(crate) async fn agent(home: &Home, api: Option<&str>, cmd: AgentCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        AgentCmd::Register {
            opts,
            card,
            endpoint,
            terms,
        } => {
            let m = read_json(&card)?;
            register(home, &c, &opts, Kind::Agent, m, (&endpoint, terms), json).await
        }
        AgentCmd::List { skill, limit } => {
            let mut q = format!("?limit={limit}");
            if let Some(s) = skill {
                q.push_str(&format!("&skill={s}"));
            }
            let entries: Vec<Entry> = c.get(&format!("/api/v1/agents{q}")).await?;
            if json {
                print_json(&entries);
            } else {
                print_entries(&entries);
            }
            Ok(())
        }
        AgentCmd::Card { agent, verify } => {
            let v = lookup(&c, Kind::Agent, &agent).await?;
            let card: serde_json::Value = c
                .get(&format!("/api/v1/agents/{}/card", v.entry.id))
                .await?;
            print_json(&card);
            if verify {
                let h = verify_card(&card, &v.entry.owner_key).map_err(anyhow::Error::msg)?;
                if h != v.entry.manifest {
                    bail!(
                        "the card verifies but is version {h}, not the current {}",
                        v.entry.manifest
                    );
                }
                eprintln!(
                    "card signature verifies against {} (manifest {h})",
                    v.entry.owner
                );
            }
            Ok(())
        }
    }
}
