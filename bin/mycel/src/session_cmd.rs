//! `mycel session`: open, chat in and close interactive sessions with a worker.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use mycel_ledger::{
    Message,
    events::attr,
    modules::market::{self, SessionMsg},
};
use mycel_node::{
    Home,
    client::Client,
    keystore::Keystore,
    serve::{ChatMessage, ChatRequest, SignedReceipt, send_chat},
};
use mycel_primitives::{Address, Amount};
use std::{io::Write, time::Duration};

/// Session commands.
#[derive(Subcommand, Debug)]
pub enum SessionCmd {
    /// Open a session with a worker and escrow a deposit.
    Open {
        /// Signing key (the client).
        #[arg(long)]
        from: String,
        /// The worker's address.
        #[arg(long)]
        worker: Address,
        /// Model ID (hex) or pinned name (`smollm2`) the worker serves.
        #[arg(long)]
        model: String,
        /// Deposit.
        #[arg(long)]
        deposit: Amount,
        /// Blocks before the client may close it.
        #[arg(long, default_value_t = 600)]
        blocks: u64,
    },
    /// Send one chat message in a session; prints the reply and keeps the signed receipt.
    Chat(ChatArgs),
    /// Close a session and get the unspent deposit back.
    Close {
        /// Signing key.
        #[arg(long)]
        from: String,
        /// Session ID.
        #[arg(long)]
        session: u64,
    },
    /// List and verify the receipts kept for a session.
    Receipts {
        /// Session ID.
        #[arg(long)]
        session: u64,
    },
}

/// Arguments of `mycel session chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Signing key (the session's client).
    #[arg(long)]
    from: String,
    /// Session ID.
    #[arg(long)]
    session: u64,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The message.
    prompt: Vec<String>,
}

fn receipts_path(home: &Home, session: u64) -> std::path::PathBuf {
    home.path()
        .join("client-sessions")
        .join(format!("{session}.jsonl"))
}

fn load_receipts(home: &Home, session: u64) -> Result<Vec<SignedReceipt>> {
    let p = receipts_path(home, session);
    if !p.exists() {
        return Ok(Vec::new());
    }
    std::fs::read_to_string(&p)?
        .lines()
        .map(|l| serde_json::from_str(l).context("corrupt receipt file"))
        .collect()
}

async fn send(c: &Client, home: &Home, from: &str, msg: Message) -> Result<mycel_ledger::Receipt> {
    let key = Keystore::new(home.keys_dir()).load(from)?.private_key()?;
    let tx = c.sign(&key, vec![msg], None, "").await?;
    let h = c.submit(&tx).await?;
    let st = c.wait(&h, Duration::from_secs(60)).await?;
    match st.receipt {
        Some(r) if r.success => Ok(r),
        Some(r) => bail!("transaction {h} failed: {} ({})", r.error, r.code),
        None => bail!("transaction {h} not finalized within 60 s"),
    }
}

/// Runs a session command.
pub async fn run(home: &Home, c: &Client, cmd: SessionCmd, json: bool) -> Result<()> {
    match cmd {
        SessionCmd::Open {
            from,
            worker,
            model,
            deposit,
            blocks,
        } => {
            let msg = Message::Market(market::Msg::Session(SessionMsg::Open {
                worker,
                model: crate::ml_cmd::model_id_arg(&model)?,
                deposit,
                duration_blocks: blocks,
            }));
            let r = send(c, home, &from, msg).await?;
            let id = r
                .attr(market::events::SESSION_OPENED, attr::SESSION)
                .context("no session id in the receipt")?;
            if json {
                println!("{}", serde_json::json!({"session": id}));
            } else {
                println!("session {id} opened with {worker}");
            }
        }
        SessionCmd::Chat(a) => {
            let session: market::Session =
                c.get(&format!("/api/v1/sessions/{}", a.session)).await?;
            let offer: market::Offer = c
                .get(&format!("/api/v1/workers/{}/offer", session.worker))
                .await?;
            if offer.endpoint.is_empty() {
                bail!("worker {} publishes no endpoint", session.worker);
            }
            let url = if offer.endpoint.starts_with("http") {
                offer.endpoint.clone()
            } else {
                format!("http://{}", offer.endpoint)
            };
            let key = Keystore::new(home.keys_dir())
                .load(&a.from)?
                .private_key()?;
            let held = load_receipts(home, a.session)?;
            let req = ChatRequest {
                model: session.model.to_hex(),
                messages: vec![ChatMessage {
                    role: "user".into(),
                    content: a.prompt.join(" "),
                }],
                max_tokens: a.max_tokens,
                stream: true,
                seed: a.seed,
            };
            let (text, receipt) = send_chat(&url, a.session, held.len() as u64, &key, &req).await?;
            let p = receipts_path(home, a.session);
            std::fs::create_dir_all(p.parent().expect("has a parent"))?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)?;
            writeln!(f, "{}", serde_json::to_string(&receipt)?)?;
            f.sync_data()?;
            if json {
                println!("{}", serde_json::json!({"reply": text, "receipt": receipt}));
            } else {
                println!("{text}");
                eprintln!(
                    "receipt #{}: {} tokens, {}",
                    receipt.receipt.seq, receipt.receipt.tokens, receipt.receipt.amount
                );
            }
        }
        SessionCmd::Close { from, session } => {
            let r = send(
                c,
                home,
                &from,
                Message::Market(market::Msg::Session(SessionMsg::Close { session })),
            )
            .await?;
            let refund = r
                .attr(market::events::SESSION_CLOSED, attr::REFUND)
                .unwrap_or_default();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"session": session, "refund": refund})
                );
            } else {
                println!("session {session} closed; refund {} base units", refund);
            }
        }
        SessionCmd::Receipts { session } => {
            let held = load_receipts(home, session)?;
            let on_chain: Option<market::Session> =
                c.get(&format!("/api/v1/sessions/{session}")).await.ok();
            for r in &held {
                let settled = on_chain.as_ref().is_some_and(|s| r.receipt.seq < s.count);
                println!(
                    "#{:<4} {:>6} tokens {:>20}  signature {}  {}",
                    r.receipt.seq,
                    r.receipt.tokens,
                    r.receipt.amount.to_string(),
                    if r.verify() { "ok" } else { "BAD" },
                    if settled {
                        "settled"
                    } else {
                        "not settled yet"
                    }
                );
            }
        }
    }
    Ok(())
}
