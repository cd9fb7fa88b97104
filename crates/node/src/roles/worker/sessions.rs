//! Serving interactive sessions: an OpenAI-compatible `/v1/chat/completions` on the worker that
//! bills each response to an on-chain session, signs a receipt for it, keeps the receipts durably
//! and settles them on chain as a Merkle root.
//!
//! A request names its session (`x-mycel-session`), the sequence number it expects
//! (`x-mycel-seq`, the worker's next receipt number, so a captured request cannot be replayed),
//! and is signed by the session's client (`x-mycel-client-key`, `x-mycel-signature` over
//! [`mycel_verify::request_bytes`]). The response (JSON, or server-sent events with `"stream": true`) carries the
//! worker-signed [`Receipt`] in `mycel_receipt`. Receipts are appended to a
//! [`ReceiptLog`] (`<dir>/<session>.jsonl`) and synced before the response is sent, so a crash never loses a
//! receipt the client holds; [`SessionServer::settle_all`] settles every session whose receipts
//! run ahead of its last settlement (also after a restart).

use crate::{
    Error, Result,
    client::{Client, SendOptions},
    http::{ApiError, error::status_code_name, with_error_shape},
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
    routing::{get, post},
};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message,
    modules::market::{self, Receipt, Session, SessionMsg},
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, keys::public_key_from_bytes, merkle};
use mycel_store::blob_hash;
use mycel_verify::{ReceiptLog, SignedReceipt, verify_request};
use parking_lot::Mutex;
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

/// Generates text for a chat: the seam to the ML engine.
pub trait ChatEngine: Send + Sync + 'static {
    /// The model ID this engine serves.
    fn model(&self) -> Hash;
    /// Generates a reply to `messages`, calling `on_text` with each piece as it is produced;
    /// returns the number of tokens billed (prompt + completion).
    fn chat(
        &self,
        messages: &[ChatMessage],
        max_tokens: usize,
        seed: u64,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<u64>;
}

impl<T: ChatEngine> ChatEngine for Arc<T> {
    fn model(&self) -> Hash {
        (**self).model()
    }
    fn chat(
        &self,
        messages: &[ChatMessage],
        max_tokens: usize,
        seed: u64,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<u64> {
        (**self).chat(messages, max_tokens, seed, on_text)
    }
}

pub use crate::http::openai::{ChatMessage, ChatRequest};

struct Local {
    receipts: Vec<Receipt>,
    total: Amount,
}

/// The worker's session server.
pub struct SessionServer<E: ChatEngine> {
    engine: E,
    key: PrivateKey,
    chain: Client,
    log: ReceiptLog<Receipt>,
    sessions: Mutex<BTreeMap<u64, Local>>,
    // Serialises generation: one CPU engine, one request at a time.
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl<E: ChatEngine> SessionServer<E> {
    /// A server signing with `key`, checking sessions through `chain`, keeping receipts in `dir`.
    pub fn open(engine: E, key: PrivateKey, chain: Client, dir: PathBuf) -> Result<Arc<Self>> {
        let log = ReceiptLog::new(dir);
        let mut sessions = BTreeMap::new();
        for id in log.sessions()? {
            let receipts: Vec<Receipt> = log.load(id)?;
            let total = Amount(receipts.iter().map(|r| r.amount.0).sum());
            sessions.insert(id, Local { receipts, total });
        }
        Ok(Arc::new(SessionServer {
            engine,
            key,
            chain,
            log,
            sessions: Mutex::new(sessions),
            busy: Arc::new(tokio::sync::Mutex::new(())),
        }))
    }

    /// The worker's address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        let router = Router::new()
            .route("/v1/chat/completions", post(chat::<E>))
            .route("/v1/models", get(models::<E>))
            .with_state(self.clone());
        with_error_shape(router)
    }

    /// Settles every session whose durable receipts run ahead of its on-chain settlement.
    pub async fn settle_all(&self) -> Result<usize> {
        let pending: Vec<(u64, Hash, u64, Amount)> = {
            let sessions = self.sessions.lock();
            sessions
                .iter()
                .filter(|(_, l)| !l.receipts.is_empty())
                .map(|(id, l)| {
                    let leaves: Vec<Hash> = l.receipts.iter().map(Receipt::leaf).collect();
                    (*id, merkle::root(&leaves), l.receipts.len() as u64, l.total)
                })
                .collect()
        };
        let mut settled = 0;
        for (id, root, count, total) in pending {
            let on_chain: Session = self.chain.get(&format!("/api/v1/sessions/{id}")).await?;
            if on_chain.closed || on_chain.count >= count {
                continue;
            }
            let msg = Message::Market(market::Msg::Session(SessionMsg::Settle {
                session: id,
                receipts_root: root,
                count,
                total,
            }));
            self.chain
                .send(&self.key, msg, &SendOptions::default())
                .await?;
            settled += 1;
        }
        Ok(settled)
    }

    /// Checks the request against the session and returns (session, seq).
    async fn authorise(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<(Session, u64), (StatusCode, String)> {
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
        let sig = h("x-mycel-signature")
            .and_then(|v| hex::decode(v).ok())
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
        let next = self
            .sessions
            .lock()
            .get(&id)
            .map_or(0, |l| l.receipts.len() as u64);
        if seq != next {
            return Err((StatusCode::CONFLICT, format!("expected x-mycel-seq {next}")));
        }
        Ok((session, seq))
    }

    /// Records and signs the receipt of a served response.
    fn bill(
        &self,
        session: &Session,
        seq: u64,
        body: &[u8],
        output: &str,
        tokens: u64,
    ) -> std::result::Result<SignedReceipt, (StatusCode, String)> {
        let amount = Amount(session.price_per_token.0.saturating_mul(tokens as u128));
        let receipt = Receipt {
            session: session.id,
            seq,
            input_hash: blob_hash(body),
            output_hash: blob_hash(output.as_bytes()),
            tokens,
            amount,
        };
        let mut sessions = self.sessions.lock();
        let local = sessions.entry(session.id).or_insert(Local {
            receipts: Vec::new(),
            total: Amount::ZERO,
        });
        if local.receipts.len() as u64 != seq {
            return Err((
                StatusCode::CONFLICT,
                "a concurrent request took this sequence number".into(),
            ));
        }
        let total = local
            .total
            .checked_add(amount)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        if total > session.deposit {
            return Err((
                StatusCode::PAYMENT_REQUIRED,
                format!("the deposit {} is used up", session.deposit),
            ));
        }
        self.log
            .append(receipt.session, &receipt)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        local.receipts.push(receipt.clone());
        local.total = total;
        Ok(SignedReceipt::sign(receipt, &self.key))
    }
}

/// An error in the node's one error shape, its code named after the status.
fn error(status: StatusCode, message: String) -> Response {
    ApiError::from_status(status, message).into_response()
}

async fn models<E: ChatEngine>(State(s): State<Arc<SessionServer<E>>>) -> Json<serde_json::Value> {
    Json(
        serde_json::json!({"object": "list", "data": [{"id": s.engine.model().to_hex(), "object": "model", "owned_by": s.address().to_string()}]}),
    )
}

async fn chat<E: ChatEngine>(
    State(s): State<Arc<SessionServer<E>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
    };
    let (session, seq) = match s.authorise(&headers, &body).await {
        Ok(x) => x,
        Err((st, m)) => return error(st, m),
    };
    if session.model != s.engine.model() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("session {} is for model {}", session.id, session.model),
        );
    }
    let turn = s.busy.clone().lock_owned().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let engine_server = s.clone();
    let messages = req.messages.clone();
    let (max_tokens, seed) = (req.max_tokens, req.seed);
    let generation = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        let tokens = engine_server
            .engine
            .chat(&messages, max_tokens, seed, &mut |piece| {
                out.push_str(piece);
                let _ = tx.send(piece.to_string());
            })?;
        Ok::<_, Error>((out, tokens))
    });
    if req.stream {
        let (etx, erx) = tokio::sync::mpsc::unbounded_channel::<
            std::result::Result<Event, std::convert::Infallible>,
        >();
        let id = format!("chatcmpl-{}-{seq}", session.id);
        tokio::spawn(async move {
            while let Some(piece) = rx.recv().await {
                let chunk = serde_json::json!({"id": id, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]});
                let _ = etx.send(Ok(Event::default().data(chunk.to_string())));
            }
            let result = match generation.await {
                Ok(Ok((out, tokens))) => s
                    .bill(&session, seq, &body, &out, tokens)
                    .map(|r| (r, tokens)),
                Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
                Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            };
            let last = match result {
                Ok((receipt, tokens)) => {
                    serde_json::json!({"id": id, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"total_tokens": tokens}, "mycel_receipt": receipt})
                }
                Err((st, m)) => {
                    serde_json::json!({"error": {"code": status_code_name(st), "message": m}})
                }
            };
            let _ = etx.send(Ok(Event::default().data(last.to_string())));
            let _ = etx.send(Ok(Event::default().data("[DONE]")));
            drop(turn);
        });
        return Sse::new(tokio_stream_from(erx)).into_response();
    }
    while rx.recv().await.is_some() {}
    match generation.await {
        Ok(Ok((out, tokens))) => match s.bill(&session, seq, &body, &out, tokens) {
            Ok(receipt) => Json(serde_json::json!({
                "id": format!("chatcmpl-{}-{seq}", session.id),
                "object": "chat.completion",
                "model": session.model.to_hex(),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": out}, "finish_reason": "stop"}],
                "usage": {"total_tokens": tokens},
                "mycel_receipt": receipt,
            }))
            .into_response(),
            Err((st, m)) => error(st, m),
        },
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Adapts an unbounded receiver to a stream without an extra dependency.
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}
