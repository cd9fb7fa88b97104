//! `mycel session`: open, chat in and close interactive sessions with a worker.

use anyhow::Result;
use clap::{Args, Subcommand};
use mycel_node::{
    Home,
    client::Client,
    services::{accounts, sessions},
    types::{Address, Amount},
};

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
            let key = accounts::key(home, &from)?;
            let model = mycel_node::models::resolve(&crate::ml_cmd::store(), &model)?;
            let id = sessions::open(c, &key, worker, model, deposit, blocks).await?;
            if json {
                println!("{}", serde_json::json!({"session": id.to_string()}));
            } else {
                println!("session {id} opened with {worker}");
            }
        }
        SessionCmd::Chat(a) => {
            let key = accounts::key(home, &a.from)?;
            let turn = sessions::chat(
                home,
                c,
                &key,
                a.session,
                a.prompt.join(" "),
                a.max_tokens,
                a.seed,
            )
            .await?;
            let receipt = &turn.receipt;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"reply": turn.reply, "receipt": receipt})
                );
            } else {
                println!("{}", turn.reply);
                eprintln!(
                    "receipt #{}: {} tokens, {}",
                    receipt.receipt.seq, receipt.receipt.tokens, receipt.receipt.amount
                );
            }
        }
        SessionCmd::Close { from, session } => {
            let key = accounts::key(home, &from)?;
            let (_, refund) = sessions::close(c, &key, session).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"session": session, "refund": refund})
                );
            } else {
                println!("session {session} closed; refund {refund} base units");
            }
        }
        SessionCmd::Receipts { session } => {
            for h in sessions::receipts(home, c, session).await? {
                let r = &h.receipt.receipt;
                println!(
                    "#{:<4} {:>6} tokens {:>20}  signature {}  {}",
                    r.seq,
                    r.tokens,
                    r.amount.to_string(),
                    if h.signature_ok { "ok" } else { "BAD" },
                    if h.settled {
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
