//! `mycel auditor`, `mycel audit` and `mycel dispute`: run the auditor role, see where a job's
//! verification stands, follow and open disputes.

use crate::{
    chain_cmd::TxOpts,
    glue::{client, print_json},
};
use anyhow::Result;
use clap::{Args, Subcommand};
use mycel_node::{
    Home,
    http::verify::JobVerification,
    roles::auditor::{self, AuditorOptions},
    services::accounts,
    types::{Amount, Hash, Message, attr, verify},
};

/// Arguments of `mycel auditor`.
#[derive(Args, Debug, Clone)]
pub struct AuditorArgs {
    /// Key that bonds auditor stake and signs verdicts.
    #[arg(long, default_value = "auditor")]
    pub from: String,
    /// Also vote on disputed steps with this validator key (a validator's node).
    #[arg(long)]
    pub validator_key: Option<String>,
    /// Replay on the tiny random-weight models (smoke runs against `--tiny` workers).
    #[arg(long)]
    pub tiny: bool,
    /// Threads per replay.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Runs the auditor until the process stops.
pub async fn run(home: &Home, api: &str, a: &AuditorArgs) -> Result<()> {
    let o = AuditorOptions {
        key: a.from.clone(),
        validator_key: a.validator_key.clone(),
        tiny: a.tiny,
        threads: a.threads,
    };
    Ok(auditor::run(home, api, &o).await?)
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCmd {
    /// Where a job's verification stands: its audits (canaries included) and disputes.
    Status {
        /// Job ID.
        job: u64,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum DisputeCmd {
    /// Open disputes.
    List,
    /// One dispute.
    Show {
        /// Dispute ID.
        id: u64,
    },
    /// Challenge a committed result with a bond and your own trace root (from replaying it).
    Challenge {
        #[command(flatten)]
        opts: TxOpts,
        /// Job ID.
        #[arg(long)]
        job: u64,
        /// Your trace root (hex).
        #[arg(long)]
        trace_root: String,
        /// Bond, forfeited if the result stands.
        #[arg(long, default_value = "1")]
        bond: Amount,
    },
}

pub(crate) async fn audit(home: &Home, api: Option<&str>, cmd: AuditCmd, json: bool) -> Result<()> {
    let c = client(home, api)?;
    let AuditCmd::Status { job } = cmd;
    let v: JobVerification = c.get(&format!("/api/v1/jobs/{job}/verification")).await?;
    if json {
        print_json(&v);
        return Ok(());
    }
    println!("job {}: {:?}, {}", v.job, v.status, v.state);
    for a in &v.audits {
        println!(
            "  audit {} by {}: {:?} (assigned at {}, due {})",
            a.id, a.auditor, a.stage, a.assigned, a.due
        );
    }
    for d in &v.disputes {
        print_dispute(d);
    }
    Ok(())
}

fn print_dispute(d: &verify::Dispute) {
    println!(
        "  dispute {} on job {} by {}: {:?}, round {}, leaves {}..{}, {:?} due at {}{}",
        d.id,
        d.job,
        d.challenger,
        d.outcome,
        d.rounds,
        d.offset,
        d.offset + d.size,
        d.turn,
        d.due,
        if d.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", d.reason)
        }
    );
}

pub(crate) async fn dispute(
    home: &Home,
    api: Option<&str>,
    cmd: DisputeCmd,
    json: bool,
) -> Result<()> {
    let c = client(home, api)?;
    match cmd {
        DisputeCmd::List => {
            let v: Vec<verify::Dispute> = c.get("/api/v1/disputes").await?;
            if json {
                print_json(&v);
            } else if v.is_empty() {
                println!("no open disputes");
            } else {
                v.iter().for_each(print_dispute);
            }
        }
        DisputeCmd::Show { id } => {
            let d: verify::Dispute = c.get(&format!("/api/v1/disputes/{id}")).await?;
            if json {
                print_json(&d);
            } else {
                print_dispute(&d);
            }
        }
        DisputeCmd::Challenge {
            opts,
            job,
            trace_root,
            bond,
        } => {
            let key = accounts::key(home, &opts.from)?;
            let msg = Message::Verify(verify::Msg::Challenge {
                job,
                trace_root: Hash::from_hex(&trace_root)?,
                bond,
            });
            let sent = c.send(&key, msg, &opts.send_options()).await?;
            let id = sent
                .receipt
                .attr(verify::events::DISPUTE_OPENED, attr::DISPUTE)
                .unwrap_or_default()
                .to_string();
            if json {
                print_json(
                    &serde_json::json!({"dispute": id, "tx": sent.hash, "height": sent.height}),
                );
            } else {
                println!("dispute {id} opened at height {}", sent.height);
            }
        }
    }
    Ok(())
}
