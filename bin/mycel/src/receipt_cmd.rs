//! `mycel receipt`: fetch a receipt bundle from a gateway, and verify a receipt offline.

use crate::glue::print_json;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mycel_node::{
    Home,
    services::receipts::{ReceiptBundle, fetch, validators_of, verify},
};
use std::path::PathBuf;

/// Receipt commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ReceiptCmd {
    /// Check a receipt offline: its signature, that its key is the session's worker, the
    /// session in a finalized state root, and its inclusion in the settled root. FILE is a
    /// bundle (`mycel receipt get`) or a bare receipt (a response's `mycel_receipt`).
    Verify {
        /// The receipt or bundle (JSON).
        file: PathBuf,
        /// The genesis whose validators the finality check trusts (default: the home's, if
        /// it has one).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Fetch the bundle of a receipt from a gateway (`GET /v1/receipts/{session}/{seq}`).
    Get {
        /// Session.
        session: u64,
        /// Sequence number.
        seq: u64,
        /// The API key the receipt was paid with.
        #[arg(long, env = "MYCEL_API_KEY")]
        api_key: String,
        /// Write it here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) async fn run(home: &Home, api: &str, cmd: ReceiptCmd, json: bool) -> Result<()> {
    match cmd {
        ReceiptCmd::Verify { file, genesis } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let bundle = ReceiptBundle::from_json(&text).map_err(anyhow::Error::msg)?;
            let genesis_path = genesis.or_else(|| {
                let p = home.genesis_path();
                p.exists().then_some(p)
            });
            let validators = match &genesis_path {
                Some(p) => Some(
                    validators_of(p).with_context(|| format!("reading genesis {}", p.display()))?,
                ),
                None => None,
            };
            let checks = verify(&bundle, validators.as_deref());
            let failed = checks.iter().any(|c| c.ok == Some(false));
            if json {
                print_json(&serde_json::json!({"valid": !failed, "checks": checks}));
            } else {
                if let Some(p) = &genesis_path {
                    println!("validators from {}", p.display());
                }
                for c in &checks {
                    let mark = match c.ok {
                        Some(true) => "ok  ",
                        Some(false) => "FAIL",
                        None => "--  ",
                    };
                    println!("{mark} {:<22} {}", c.check, c.detail);
                }
            }
            if failed {
                bail!("the receipt does not verify");
            }
        }
        ReceiptCmd::Get {
            session,
            seq,
            api_key,
            out,
        } => {
            let text = fetch(api, session, seq, &api_key).await?;
            match out {
                Some(p) => {
                    std::fs::write(&p, &text).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{text}"),
            }
        }
    }
    Ok(())
}
