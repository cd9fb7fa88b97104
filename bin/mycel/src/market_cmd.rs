//! `mycel job|earnings`: batch jobs and the earnings debugger.

use crate::{
    chain_cmd::{TxOpts, resolve_address},
    glue::{client, print_json},
};
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use mycel_node::{
    Home,
    client::{Client, Sent},
    services::accounts,
    types::{Amount, Hash, JobKind, Message, attr, market},
};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(crate) enum JobCmd {
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

pub(crate) async fn job(home: &Home, api: Option<&str>, cmd: JobCmd, json: bool) -> Result<()> {
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
            let model = mycel_node::models::resolve(&crate::ml_cmd::store(), &model)?;
            let input = match Hash::from_hex(&input) {
                Ok(h) => h,
                Err(_) => {
                    let bytes = std::fs::read(&input).with_context(|| {
                        format!("--input {input:?} is neither a hash nor a readable file")
                    })?;
                    c.put_blob(&key, bytes).await?
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

pub(crate) async fn earnings(
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
