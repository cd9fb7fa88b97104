//! Interactive sessions from the client's side: open one on chain, chat with its worker (each
//! request signed, each receipt checked and logged durably before the reply is shown), close it,
//! and compare the receipts held with what the worker settled.

use crate::{
    Error, Home, Result,
    client::{Client, SendOptions, Sent, send_chat},
    http::openai::{ChatMessage, ChatRequest},
};
use mycel_ledger::{
    Message,
    events::attr,
    modules::market::{self, SessionMsg},
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use mycel_verify::{ReceiptLog, SignedReceipt};

/// The receipts this home's clients hold, per session.
pub fn receipt_log(home: &Home) -> ReceiptLog<SignedReceipt> {
    ReceiptLog::new(home.client_sessions_dir())
}

/// Opens a session with `worker` for `model`, escrowing `deposit`; returns its ID.
pub async fn open(
    c: &Client,
    key: &PrivateKey,
    worker: Address,
    model: Hash,
    deposit: Amount,
    duration_blocks: u64,
) -> Result<u64> {
    let msg = Message::Market(market::Msg::Session(SessionMsg::Open {
        worker,
        model,
        deposit,
        duration_blocks,
    }));
    let sent = c.send(key, msg, &SendOptions::default()).await?;
    sent.receipt
        .attr(market::events::SESSION_OPENED, attr::SESSION)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Invalid {
            what: format!("receipt of {}", sent.hash),
            why: "no session id".into(),
        })
}

/// One turn of a chat.
#[derive(Clone, Debug)]
pub struct Turn {
    /// The reply.
    pub reply: String,
    /// The worker-signed receipt, checked and logged.
    pub receipt: SignedReceipt,
}

/// Sends `prompt` in `session` to its worker (found through its on-chain offer), checks the
/// receipt and appends it to the home's log before returning.
pub async fn chat(
    home: &Home,
    c: &Client,
    key: &PrivateKey,
    session: u64,
    prompt: String,
    max_tokens: usize,
    seed: u64,
) -> Result<Turn> {
    let s: market::Session = c.get(&format!("/api/v1/sessions/{session}")).await?;
    let offer: market::Offer = c
        .get(&format!("/api/v1/workers/{}/offer", s.worker))
        .await?;
    if offer.endpoint.is_empty() {
        return Err(Error::Invalid {
            what: format!("worker {}", s.worker),
            why: "it publishes no endpoint".into(),
        });
    }
    let url = if offer.endpoint.starts_with("http") {
        offer.endpoint.clone()
    } else {
        format!("http://{}", offer.endpoint)
    };
    let log = receipt_log(home);
    let held = log.load(session)?;
    let mut req = ChatRequest::chat(
        vec![ChatMessage {
            role: "user".into(),
            content: prompt,
        }],
        max_tokens as u64,
    );
    req.model = s.model.to_hex();
    req.stream = true;
    req.seed = seed;
    let (reply, receipt) =
        send_chat(&url, &s.worker, session, held.len() as u64, key, &req).await?;
    log.append(session, &receipt)?;
    Ok(Turn { reply, receipt })
}

/// Closes `session`; returns the refund in base units as the ledger reported it.
pub async fn close(c: &Client, key: &PrivateKey, session: u64) -> Result<(Sent, String)> {
    let msg = Message::Market(market::Msg::Session(SessionMsg::Close { session }));
    let sent = c.send(key, msg, &SendOptions::default()).await?;
    let refund = sent
        .receipt
        .attr(market::events::SESSION_CLOSED, attr::REFUND)
        .unwrap_or_default()
        .to_string();
    Ok((sent, refund))
}

/// One receipt held by the client, checked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeldReceipt {
    /// The receipt.
    pub receipt: SignedReceipt,
    /// Its signature verifies.
    pub signature_ok: bool,
    /// The worker's on-chain settlement covers it.
    pub settled: bool,
}

/// The receipts held for `session`, checked offline and against the on-chain settlement.
pub async fn receipts(home: &Home, c: &Client, session: u64) -> Result<Vec<HeldReceipt>> {
    let held = receipt_log(home).load(session)?;
    let on_chain: Option<market::Session> =
        c.get(&format!("/api/v1/sessions/{session}")).await.ok();
    Ok(held
        .into_iter()
        .map(|r| HeldReceipt {
            signature_ok: r.verify()
                && on_chain
                    .as_ref()
                    .is_none_or(|s| r.signer() == Some(s.worker)),
            settled: on_chain.as_ref().is_some_and(|s| r.receipt.seq < s.count),
            receipt: r,
        })
        .collect())
}
