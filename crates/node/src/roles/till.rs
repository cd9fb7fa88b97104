//! The provider's till: what every seller of per-request work keeps, whatever it sells
//! (generation and embeddings on a worker, calls of a tool).
//!
//! A request names an on-chain session (`x-mycel-session`), the sequence number it expects
//! (`x-mycel-seq`) and carries the session client's signature over the body
//! (`x-mycel-client-key`, `x-mycel-signature`). [`Till::authorise`] checks all of it against the
//! chain; [`Till::bill`] signs the receipt of the response after appending it, with the client's
//! request signature, to a synced [`ReceiptLog`], so a crash never loses a receipt a client
//! holds; [`Till::settle_all`] settles every session whose receipts run ahead of the chain, as
//! few transactions as the message limit allows; [`Till::answer_disputes`] answers each open
//! dispute from the log.

use crate::{
    Error, Result,
    client::{Client, SendOptions},
};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use commonware_cryptography::Signer;
use mycel_ledger::modules::market::{self, Receipt, Session, SessionDispute, SessionMsg};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey, PublicKey, codec::MAX_MESSAGES_PER_TX,
    keys::public_key_from_bytes, merkle,
};
use mycel_store::blob_hash;
use mycel_verify::{ReceiptLog, SignedReceipt, verify_request};
use parking_lot::Mutex;
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

/// Blocks before expiry from which a session gets no new requests: its last receipts still have
/// time to settle.
pub const EXPIRY_MARGIN: u64 = 2;

/// One served response as the worker keeps it: the receipt and the client's signature of the
/// request it answered (what a dispute answer needs).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Served {
    /// The receipt.
    pub receipt: Receipt,
    /// The client's public key, hex.
    pub client_key: String,
    /// The client's request signature, hex.
    pub request_signature: String,
}

struct Local {
    served: Vec<Served>,
    total: Amount,
}

/// The till of one account: its sessions' receipts, durable, and their settlement.
pub struct Till {
    key: PrivateKey,
    chain: Client,
    log: ReceiptLog<Served>,
    sessions: Mutex<BTreeMap<u64, Local>>,
    // One request at a time per session: its sequence and deposit checks hold until it is
    // billed. (Sessions run side by side.)
    turns: Mutex<BTreeMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

/// An authorised request: its session, sequence number and the client's key and signature.
pub struct Authorised {
    /// The session, as the chain has it.
    pub session: Session,
    /// The request's sequence number.
    pub seq: u64,
    /// The client's key.
    pub client_key: PublicKey,
    /// The client's request signature, hex.
    pub signature: String,
    /// BLAKE3 of the request body (the receipt's `input_hash`).
    pub input_hash: Hash,
}

/// Why a request is refused: the status and the message.
pub type Refusal = (StatusCode, String);

impl Till {
    /// A till signing with `key`, checking sessions through `chain`, keeping receipts in `dir`
    /// (reloaded: a restarted till knows every receipt it signed).
    pub fn open(key: PrivateKey, chain: Client, dir: PathBuf) -> Result<Till> {
        let log = ReceiptLog::new(dir);
        let mut sessions = BTreeMap::new();
        for id in log.sessions()? {
            let served: Vec<Served> = log.load(id)?;
            let total = served.last().map_or(Amount::ZERO, |s| s.receipt.cumulative);
            sessions.insert(id, Local { served, total });
        }
        Ok(Till {
            key,
            chain,
            log,
            sessions: Mutex::new(sessions),
            turns: Mutex::new(BTreeMap::new()),
        })
    }

    /// The signing key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The chain client.
    pub fn chain(&self) -> &Client {
        &self.chain
    }

    /// The turn of the session a request names (waited for before it is checked).
    pub async fn turn(&self, headers: &HeaderMap) -> tokio::sync::OwnedMutexGuard<()> {
        let id = headers
            .get("x-mycel-session")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        let lock = self.turns.lock().entry(id).or_default().clone();
        lock.lock_owned().await
    }

    /// The worker's address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    /// The receipts served in `session`, in order.
    pub fn served(&self, session: u64) -> Vec<Served> {
        self.sessions
            .lock()
            .get(&session)
            .map(|l| l.served.clone())
            .unwrap_or_default()
    }

    /// Settles every session whose durable receipts run ahead of its on-chain settlement: the
    /// root over all of them, their count, and the last one with its proof (which carries the
    /// total).
    pub async fn settle_all(&self) -> Result<usize> {
        let pending: Vec<(u64, Vec<Receipt>)> = {
            let sessions = self.sessions.lock();
            sessions
                .iter()
                .filter(|(_, l)| !l.served.is_empty())
                .map(|(id, l)| (*id, l.served.iter().map(|s| s.receipt.clone()).collect()))
                .collect()
        };
        let mut msgs = Vec::new();
        for (id, receipts) in pending {
            let count = receipts.len() as u64;
            let on_chain: Session = self.chain.get(&format!("/api/v1/sessions/{id}")).await?;
            if on_chain.closed || on_chain.count >= count {
                continue;
            }
            let leaves: Vec<Hash> = receipts.iter().map(Receipt::leaf).collect();
            let last = receipts.last().expect("not empty").clone();
            msgs.push(mycel_ledger::Message::Market(market::Msg::Session(
                SessionMsg::Settle {
                    session: id,
                    receipts_root: merkle::root(&leaves),
                    count,
                    total: last.cumulative,
                    proof: merkle::prove(&leaves, leaves.len() - 1).expect("the last leaf exists"),
                    last,
                },
            )));
        }
        // One transaction settles up to the most messages a transaction may carry (each session
        // settles whatever number of receipts it has with one message).
        let settled = msgs.len();
        for batch in msgs.chunks(MAX_MESSAGES_PER_TX) {
            self.chain
                .send_all(&self.key, batch.to_vec(), &SendOptions::default())
                .await?;
        }
        Ok(settled)
    }

    /// Answers every open dispute of this worker's sessions from the receipt log: the settled
    /// receipt at the disputed position, its proof against the settled root and the client's
    /// request signature. Returns how many were answered.
    pub async fn answer_disputes(&self) -> Result<usize> {
        let open: Vec<SessionDispute> = self
            .chain
            .get(&format!(
                "/api/v1/workers/{}/session-disputes",
                self.address()
            ))
            .await?;
        let mut answered = 0;
        for d in open {
            let on_chain: Session = self
                .chain
                .get(&format!("/api/v1/sessions/{}", d.session))
                .await?;
            let served = self.served(d.session);
            if served.is_empty() {
                // Another till of this account (its tools, or its models) served it.
                continue;
            }
            let settled = on_chain.count as usize;
            let Some(entry) = served
                .get(d.seq as usize)
                .filter(|_| served.len() >= settled)
            else {
                tracing::warn!(target: "mycel::worker", session = d.session, seq = d.seq, "disputed receipt not in the log");
                continue;
            };
            if d.receipt.as_ref().is_some_and(|r| *r != entry.receipt) {
                // Not a receipt this worker signed at that position: nothing to show.
                tracing::warn!(target: "mycel::worker", session = d.session, seq = d.seq, "disputed receipt differs from the log");
                continue;
            }
            let leaves: Vec<Hash> = served[..settled].iter().map(|s| s.receipt.leaf()).collect();
            let bad = |why: String| Error::Invalid {
                what: format!("receipt log of session {}", d.session),
                why,
            };
            let msg = mycel_ledger::Message::Market(market::Msg::Session(SessionMsg::Answer {
                receipt: entry.receipt.clone(),
                proof: merkle::prove(&leaves, d.seq as usize)
                    .ok_or_else(|| bad(format!("no receipt {} among {settled}", d.seq)))?,
                client_key: hex::decode(&entry.client_key).map_err(|e| bad(e.to_string()))?,
                request_signature: hex::decode(&entry.request_signature)
                    .map_err(|e| bad(e.to_string()))?,
            }));
            self.chain
                .send(&self.key, msg, &SendOptions::default())
                .await?;
            answered += 1;
        }
        Ok(answered)
    }

    /// Checks the request's signature and its session: this worker's, the signer's, open, not
    /// about to expire, and `seq` the next receipt number.
    pub async fn authorise(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<Authorised, Refusal> {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let bad = |m: String| (StatusCode::UNAUTHORIZED, m);
        let id: u64 = h("x-mycel-session")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("x-mycel-session is required".into()))?;
        let seq: u64 = h("x-mycel-seq")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("x-mycel-seq is required".into()))?;
        let pk = h("x-mycel-client-key")
            .and_then(|v| hex::decode(v).ok())
            .and_then(|b| public_key_from_bytes(&b).ok())
            .ok_or_else(|| bad("x-mycel-client-key is missing or invalid".into()))?;
        let signature = h("x-mycel-signature").unwrap_or_default();
        let sig = hex::decode(&signature)
            .ok()
            .and_then(|b| mycel_primitives::codec::decode::<mycel_primitives::Signature>(&b).ok())
            .ok_or_else(|| bad("x-mycel-signature is missing or invalid".into()))?;
        if !verify_request(&pk, id, seq, body, &sig) {
            return Err(bad("bad request signature".into()));
        }
        let session: Session = self
            .chain
            .get(&format!("/api/v1/sessions/{id}"))
            .await
            .map_err(|e| (StatusCode::NOT_FOUND, e.to_string()))?;
        if session.worker != self.address() {
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                format!("session {id} is served by {}", session.worker),
            ));
        }
        if session.client != Address::from_public_key(&pk) {
            return Err(bad("the key is not the session's client".into()));
        }
        if session.closed {
            return Err((StatusCode::GONE, format!("session {id} is closed")));
        }
        let height = self
            .chain
            .status()
            .await
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .height;
        if height + EXPIRY_MARGIN >= session.expires {
            return Err((
                StatusCode::GONE,
                format!(
                    "session {id} expires at height {} (now {height})",
                    session.expires
                ),
            ));
        }
        let next = self
            .sessions
            .lock()
            .get(&id)
            .map_or(0, |l| l.served.len() as u64);
        if seq != next {
            return Err((StatusCode::CONFLICT, format!("expected x-mycel-seq {next}")));
        }
        Ok(Authorised {
            session,
            seq,
            client_key: pk,
            signature,
            input_hash: blob_hash(body),
        })
    }

    /// What the session's deposit still covers.
    pub fn remaining(&self, s: &Session) -> Amount {
        let spent = self
            .sessions
            .lock()
            .get(&s.id)
            .map_or(Amount::ZERO, |l| l.total);
        Amount(s.deposit.0.saturating_sub(spent.0))
    }

    /// Records (synced) and signs the receipt of a served response.
    pub fn bill(
        &self,
        a: &Authorised,
        output: &[u8],
        tokens: u64,
    ) -> std::result::Result<SignedReceipt, Refusal> {
        let s = &a.session;
        let amount = Amount(s.price_per_token.0.saturating_mul(tokens as u128));
        let mut sessions = self.sessions.lock();
        let local = sessions.entry(s.id).or_insert(Local {
            served: Vec::new(),
            total: Amount::ZERO,
        });
        if local.served.len() as u64 != a.seq {
            return Err((
                StatusCode::CONFLICT,
                "a concurrent request took this sequence number".into(),
            ));
        }
        let cumulative = local
            .total
            .checked_add(amount)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        if cumulative > s.deposit {
            // Checked before generating; reaching this is a bug, never a charge.
            return Err((
                StatusCode::PAYMENT_REQUIRED,
                format!("the deposit {} is used up", s.deposit),
            ));
        }
        let receipt = Receipt {
            session: s.id,
            seq: a.seq,
            model: s.model,
            input_hash: a.input_hash,
            output_hash: blob_hash(output),
            tokens,
            price: s.price_per_token,
            amount,
            cumulative,
        };
        let served = Served {
            receipt: receipt.clone(),
            client_key: hex::encode(a.client_key.as_ref()),
            request_signature: a.signature.clone(),
        };
        self.log
            .append(s.id, &served)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        local.served.push(served);
        local.total = cumulative;
        Ok(SignedReceipt::sign(receipt, &self.key))
    }

    /// The signed receipt `seq` of session `id`, when this till signed it.
    pub fn receipt(&self, id: u64, seq: u64) -> Option<SignedReceipt> {
        let entry = self
            .sessions
            .lock()
            .get(&id)
            .and_then(|l| l.served.get(seq as usize).cloned())?;
        Some(SignedReceipt::sign(entry.receipt, &self.key))
    }
}

/// The answer to `GET /v1/sessions/{id}/receipts/{seq}`: the signed receipt, or 404.
pub fn receipt_response(r: Option<SignedReceipt>, id: u64, seq: u64) -> Response {
    match r {
        Some(r) => Json(r).into_response(),
        None => crate::http::ApiError::not_found(format!("no receipt {seq} in session {id}"))
            .into_response(),
    }
}

/// `GET /v1/sessions/{id}/receipts/{seq}`: a receipt this till signed, for a client that lost
/// the response it came with (a cut stream, a lost answer): the same signed receipt.
pub async fn receipt_route<T: AsRef<Till> + Send + Sync + 'static>(
    State(s): State<Arc<T>>,
    axum::extract::Path((id, seq)): axum::extract::Path<(u64, u64)>,
) -> Response {
    receipt_response(s.as_ref().as_ref().receipt(id, seq), id, seq)
}

/// `GET /api/v1/blobs/{hash}` on a worker's endpoint: the blob as the worker's node holds it
/// (its own copy, checked against the hash). A worker's offer publishes this endpoint, so a node
/// missing a job's input or output finds a holder from the chain.
pub async fn blob_route<T: AsRef<Till> + Send + Sync + 'static>(
    State(s): State<Arc<T>>,
    axum::extract::Path(hash): axum::extract::Path<String>,
) -> Response {
    let h = match Hash::from_hex(&hash) {
        Ok(h) => h,
        Err(e) => return crate::http::ApiError::bad_request(e.to_string()).into_response(),
    };
    match s.as_ref().as_ref().chain.get_blob_local(&h).await {
        Ok(bytes) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Err(e) => {
            crate::http::ApiError::not_found(format!("no blob {h} here ({e})")).into_response()
        }
    }
}
