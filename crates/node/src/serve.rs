//! Serving interactive sessions: an OpenAI-compatible `/v1/chat/completions` on the worker that
//! bills each response to an on-chain session, signs a receipt for it, keeps the receipts durably
//! and settles them on chain as a Merkle root.
//!
//! A request names its session (`x-mycel-session`), the sequence number it expects
//! (`x-mycel-seq`, the worker's next receipt number, so a captured request cannot be replayed),
//! and is signed by the session's client (`x-mycel-client-key`, `x-mycel-signature` over
//! [`request_bytes`]). The response (JSON, or server-sent events with `"stream": true`) carries the
//! worker-signed [`Receipt`] in `mycel_receipt`. Receipts are appended to
//! `<dir>/<session>.jsonl` and synced before the response is sent, so a crash never loses a
//! receipt the client holds; [`SessionServer::settle_all`] settles every session whose receipts
//! run ahead of its last settlement (also after a restart).

use crate::{Error, Result, client::Client};
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
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey,
    codec::Encode,
    keys::{self, public_key_from_bytes},
    merkle,
};
use mycel_store::blob_hash;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, io::Write, path::PathBuf, sync::Arc, time::Duration};

/// Signature namespace of session requests.
pub const REQUEST_NAMESPACE: &[u8] = b"_MYCEL_SESSION_REQUEST";

/// What the client signs: session ‖ seq ‖ BLAKE3 of the request body.
pub fn request_bytes(session: u64, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&session.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&blob_hash(body).0);
    v
}

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

/// One chat message (OpenAI shape).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// An OpenAI-compatible chat request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name or ID (informational; the session fixes the model).
    #[serde(default)]
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Sampling seed.
    #[serde(default)]
    pub seed: u64,
}

fn default_max_tokens() -> usize {
    64
}

/// A receipt with the worker's signature, as returned to the client.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// The worker's public key, hex.
    pub worker_key: String,
    /// Signature over the receipt, hex.
    pub signature: String,
}

impl SignedReceipt {
    /// Checks the signature offline.
    pub fn verify(&self) -> bool {
        let (Ok(pk), Ok(sig)) = (hex::decode(&self.worker_key), hex::decode(&self.signature))
        else {
            return false;
        };
        let (Ok(pk), Ok(sig)) = (
            public_key_from_bytes(&pk),
            mycel_primitives::codec::decode::<mycel_primitives::Signature>(&sig),
        ) else {
            return false;
        };
        keys::verify(&pk, market::RECEIPT_NAMESPACE, &self.receipt.bytes(), &sig)
    }
}

struct Local {
    receipts: Vec<Receipt>,
    total: Amount,
}

/// The worker's session server.
pub struct SessionServer<E: ChatEngine> {
    engine: E,
    key: PrivateKey,
    chain: Client,
    dir: PathBuf,
    sessions: Mutex<BTreeMap<u64, Local>>,
    // Serialises generation: one CPU engine, one request at a time.
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl<E: ChatEngine> SessionServer<E> {
    /// A server signing with `key`, checking sessions through `chain`, keeping receipts in `dir`.
    pub fn open(engine: E, key: PrivateKey, chain: Client, dir: PathBuf) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
        let mut sessions = BTreeMap::new();
        for e in std::fs::read_dir(&dir)
            .map_err(crate::error::io(&dir))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name
                .strip_suffix(".jsonl")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let text = std::fs::read_to_string(e.path()).map_err(crate::error::io(&e.path()))?;
            // A torn last line (crash mid-append) was never acknowledged: ignore it.
            let receipts: Vec<Receipt> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let total = Amount(receipts.iter().map(|r| r.amount.0).sum());
            sessions.insert(id, Local { receipts, total });
        }
        Ok(Arc::new(SessionServer {
            engine,
            key,
            chain,
            dir,
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
        Router::new()
            .route("/v1/chat/completions", post(chat::<E>))
            .route("/v1/models", get(models::<E>))
            .with_state(self.clone())
    }

    fn append(&self, r: &Receipt) -> Result<()> {
        let path = self.dir.join(format!("{}.jsonl", r.session));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(crate::error::io(&path))?;
        let mut line = serde_json::to_vec(r).expect("receipt serializes");
        line.push(b'\n');
        f.write_all(&line).map_err(crate::error::io(&path))?;
        f.sync_data().map_err(crate::error::io(&path))
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
            let tx = self.chain.sign(&self.key, vec![msg], None, "").await?;
            let h = self.chain.submit(&tx).await?;
            let st = self.chain.wait(&h, Duration::from_secs(60)).await?;
            match st.receipt {
                Some(r) if r.success => settled += 1,
                Some(r) => {
                    return Err(Error::Api {
                        code: r.code,
                        message: r.error,
                    });
                }
                None => {
                    return Err(Error::Api {
                        code: "timeout".into(),
                        message: format!("settlement {h} not finalized"),
                    });
                }
            }
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
        if !keys::verify(&pk, REQUEST_NAMESPACE, &request_bytes(id, seq, body), &sig) {
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
        self.append(&receipt)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        local.receipts.push(receipt.clone());
        local.total = total;
        let signature = receipt.sign(&self.key);
        Ok(SignedReceipt {
            receipt,
            worker_key: hex::encode(self.key.public_key().as_ref()),
            signature: hex::encode(signature.encode()),
        })
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(
            serde_json::json!({"error": {"code": status.as_u16().to_string(), "message": message}}),
        ),
    )
        .into_response()
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
                Err((_, m)) => serde_json::json!({"error": {"message": m}}),
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

/// The client side of a session request: signs it for `session` at `seq` and sends it to the
/// worker at `worker_url`; returns the reply text and the worker-signed receipt.
pub async fn send_chat(
    worker_url: &str,
    session: u64,
    seq: u64,
    client_key: &PrivateKey,
    req: &ChatRequest,
) -> Result<(String, SignedReceipt)> {
    send_chat_with(
        &reqwest::Client::new(),
        worker_url,
        session,
        seq,
        client_key,
        req,
    )
    .await
}

/// [`send_chat`] over a caller's HTTP client, whose pool keeps the connection to the worker
/// open between requests (a client is tied to the tokio runtime it first ran on).
pub async fn send_chat_with(
    http: &reqwest::Client,
    worker_url: &str,
    session: u64,
    seq: u64,
    client_key: &PrivateKey,
    req: &ChatRequest,
) -> Result<(String, SignedReceipt)> {
    let body = serde_json::to_vec(req).expect("request serializes");
    let sig = keys::sign(
        client_key,
        REQUEST_NAMESPACE,
        &request_bytes(session, seq, &body),
    );
    let url = format!("{}/v1/chat/completions", worker_url.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| Error::Unreachable {
        url: url.clone(),
        why: e.to_string(),
    };
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-mycel-session", session.to_string())
        .header("x-mycel-seq", seq.to_string())
        .header(
            "x-mycel-client-key",
            hex::encode(client_key.public_key().as_ref()),
        )
        .header("x-mycel-signature", hex::encode(sig.encode()))
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    let status = r.status();
    let text = r.text().await.map_err(unreachable)?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(Error::Api {
            code: status.as_u16().to_string(),
            message,
        });
    }
    let invalid = |why: String| Error::Invalid {
        what: "worker reply".into(),
        why,
    };
    let (content, receipt) = if req.stream {
        let mut content = String::new();
        let mut receipt = None;
        for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
            if line == "[DONE]" {
                break;
            }
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| invalid(e.to_string()))?;
            if let Some(m) = v["error"]["message"].as_str() {
                return Err(Error::Api {
                    code: "worker".into(),
                    message: m.into(),
                });
            }
            if let Some(piece) = v["choices"][0]["delta"]["content"].as_str() {
                content.push_str(piece);
            }
            if !v["mycel_receipt"].is_null() {
                receipt = Some(
                    serde_json::from_value::<SignedReceipt>(v["mycel_receipt"].clone())
                        .map_err(|e| invalid(e.to_string()))?,
                );
            }
        }
        (
            content,
            receipt.ok_or_else(|| invalid("no receipt in the stream".into()))?,
        )
    } else {
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (
            content,
            serde_json::from_value(v["mycel_receipt"].clone())
                .map_err(|e| invalid(e.to_string()))?,
        )
    };
    // Check what the worker signed before trusting it: the right session, sequence and output.
    if !receipt.verify()
        || receipt.receipt.session != session
        || receipt.receipt.seq != seq
        || receipt.receipt.output_hash != blob_hash(content.as_bytes())
    {
        return Err(invalid(
            "the receipt does not match the reply or its signature is bad".into(),
        ));
    }
    Ok((content, receipt))
}
