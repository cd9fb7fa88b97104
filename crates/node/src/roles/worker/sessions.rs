//! Serving interactive sessions: OpenAI-compatible `/v1/chat/completions`, `/v1/completions`
//! and `/v1/embeddings` on the worker, each response billed to an on-chain session, receipted,
//! kept durably and settled on chain as a Merkle root; disputes answered from the same log.
//!
//! A request names its session (`x-mycel-session`), the sequence number it expects
//! (`x-mycel-seq`, the worker's next receipt number, so a captured request cannot be replayed),
//! and is signed by the session's client (`x-mycel-client-key`, `x-mycel-signature` over
//! [`mycel_verify::request_bytes`]). Before anything is generated the worker checks that the
//! session is open and unexpired and that its deposit covers the prompt and at least one token;
//! generation is capped by what the deposit still covers, the context window,
//! [`MAX_COMPLETION_TOKENS`] and [`MAX_REQUEST_TIME`], and stops when the client goes away (a cut
//! stream is billed for what was generated until then). The response (JSON, or server-sent
//! events with `"stream": true`) carries the worker-signed receipt in `mycel_receipt`.
//!
//! The accounting is the [`Till`]'s (the server derefs to it): receipts appended with the
//! client's request signature to a synced log before the response ends, settled as a Merkle root
//! ([`Till::settle_all`], also after a restart), disputes answered from the same log
//! ([`Till::answer_disputes`]).

pub use crate::roles::till::{Authorised, EXPIRY_MARGIN, Served, Till};
use crate::roles::{
    till::{blob_route, receipt_response, receipt_route},
    tools::ToolServer,
};
use crate::{
    Error, Result,
    client::Client,
    http::{
        ApiError,
        openai::{
            EmbedRequest, MAX_COMPLETION_TOKENS, Prompt, Usage, base64_f32, invalid, parse_chat,
            parse_completion, parse_embed,
        },
        with_error_shape,
    },
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
use mycel_ledger::modules::market::Session;
use mycel_primitives::{Hash, PrivateKey};
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

pub use crate::http::openai::{ChatMessage, ChatRequest};

/// Longest one request may generate for: bounds how long a request holds the worker, so batch
/// jobs keep their deadlines under interactive load.
pub const MAX_REQUEST_TIME: Duration = Duration::from_secs(120);

/// Why generation ended (`None` in [`Generated::finish`]: stopped by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// End of sequence or a stop sequence.
    Stop,
    /// The token limit.
    Length,
}

/// What one generation produced.
#[derive(Clone, Copy, Debug)]
pub struct Generated {
    /// Tokens used.
    pub usage: Usage,
    /// Why it ended; `None` when `on_text` stopped it.
    pub finish: Option<Finish>,
}

/// Generates text and embeddings for sessions: the seam to the ML engine.
pub trait ChatEngine: Send + Sync + 'static {
    /// The generation models served (a base and the adapters loaded on it).
    fn models(&self) -> Vec<Hash>;
    /// The embedding model's ID, if this engine embeds.
    fn embed_model(&self) -> Option<Hash> {
        None
    }
    /// The prompt's length in tokens and the context window.
    fn prompt_tokens(&self, model: &Hash, prompt: &Prompt) -> Result<(u64, u64)>;
    /// Generates at most `max_tokens` tokens for `req` with `model` (one of [`Self::models`]),
    /// calling `on_text` with each piece of text; stops early when it returns `false`.
    fn generate(
        &self,
        model: &Hash,
        req: &ChatRequest,
        max_tokens: u64,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Generated>;
    /// The tokens embedding `input` reads (what it is billed), counted before running it.
    fn embed_tokens(&self, input: &[String]) -> Result<u64> {
        let _ = input;
        Ok(0)
    }
    /// Embeds `input`; returns the vectors and the tokens read.
    fn embed(&self, input: &[String]) -> Result<(Vec<Vec<f32>>, u64)> {
        let _ = input;
        Err(Error::Invalid {
            what: "embeddings".into(),
            why: "this worker does not embed".into(),
        })
    }
}

impl<T: ChatEngine> ChatEngine for Arc<T> {
    fn models(&self) -> Vec<Hash> {
        (**self).models()
    }
    fn embed_model(&self) -> Option<Hash> {
        (**self).embed_model()
    }
    fn prompt_tokens(&self, model: &Hash, prompt: &Prompt) -> Result<(u64, u64)> {
        (**self).prompt_tokens(model, prompt)
    }
    fn generate(
        &self,
        model: &Hash,
        req: &ChatRequest,
        max_tokens: u64,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Generated> {
        (**self).generate(model, req, max_tokens, on_text)
    }
    fn embed_tokens(&self, input: &[String]) -> Result<u64> {
        (**self).embed_tokens(input)
    }
    fn embed(&self, input: &[String]) -> Result<(Vec<Vec<f32>>, u64)> {
        (**self).embed(input)
    }
}

/// The worker's session server: the engine behind a [`Till`].
pub struct SessionServer<E: ChatEngine> {
    engine: E,
    till: Till,
}

impl<E: ChatEngine> std::ops::Deref for SessionServer<E> {
    type Target = Till;
    fn deref(&self) -> &Till {
        &self.till
    }
}

impl<E: ChatEngine> AsRef<Till> for SessionServer<E> {
    fn as_ref(&self) -> &Till {
        &self.till
    }
}

impl<E: ChatEngine> SessionServer<E> {
    /// A server signing with `key`, checking sessions through `chain`, keeping receipts in `dir`.
    pub fn open(engine: E, key: PrivateKey, chain: Client, dir: PathBuf) -> Result<Arc<Self>> {
        Ok(Arc::new(SessionServer {
            engine,
            till: Till::open(key, chain, dir)?,
        }))
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        self.router_with(None)
    }

    /// The HTTP routes, with a tool server's beside them (its receipts served from the same
    /// receipts route: a session is one or the other's).
    pub fn router_with(self: &Arc<Self>, tools: Option<Arc<ToolServer>>) -> Router {
        let router = Router::new()
            .route("/v1/chat/completions", post(chat::<E>))
            .route("/v1/completions", post(completion::<E>))
            .route("/v1/embeddings", post(embeddings::<E>))
            .route("/v1/models", get(models::<E>))
            .route("/api/v1/blobs/{hash}", get(blob_route::<Self>));
        let router = match tools {
            None => router
                .route(
                    "/v1/sessions/{id}/receipts/{seq}",
                    get(receipt_route::<Self>),
                )
                .with_state(self.clone()),
            Some(t) => {
                let s = self.clone();
                let tt = t.clone();
                router
                    .route(
                        "/v1/sessions/{id}/receipts/{seq}",
                        get(
                            move |axum::extract::Path((id, seq)): axum::extract::Path<(
                                u64,
                                u64,
                            )>| async move {
                                let r = s.receipt(id, seq).or_else(|| tt.till().receipt(id, seq));
                                receipt_response(r, id, seq)
                            },
                        ),
                    )
                    .with_state(self.clone())
                    .merge(t.tool_routes())
            }
        };
        with_error_shape(router)
    }

    /// The most tokens this request may generate: what it asked for, within the context, the
    /// deposit and the per-request cap. Refused when the deposit does not cover the prompt and
    /// one token.
    fn budget(
        &self,
        a: &Authorised,
        req: &ChatRequest,
    ) -> std::result::Result<(u64, u64), ApiError> {
        let (prompt, context) = self
            .engine
            .prompt_tokens(&a.session.model, &req.prompt)
            .map_err(|e| invalid("messages", e.to_string()))?;
        let room = context.saturating_sub(prompt);
        if room == 0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "context_length_exceeded",
                format!("the prompt is {prompt} tokens; the model's context is {context}"),
            )
            .with_param("messages"));
        }
        if let Some(n) = req.max_tokens
            && n > room
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "context_length_exceeded",
                format!(
                    "the prompt ({prompt} tokens) and max_tokens ({n}) exceed the model's context of {context} tokens"
                ),
            )
            .with_param("max_tokens"));
        }
        let price = a.session.price_per_token.0;
        let affordable = match price {
            0 => u64::MAX,
            p => u64::try_from(self.remaining(&a.session).0 / p).unwrap_or(u64::MAX),
        };
        if affordable <= prompt {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "deposit_exhausted",
                format!(
                    "session {} has {} left; the prompt alone costs {prompt} tokens at {}",
                    a.session.id,
                    self.remaining(&a.session),
                    a.session.price_per_token
                ),
            ));
        }
        let max = req
            .max_tokens
            .unwrap_or(MAX_COMPLETION_TOKENS)
            .min(MAX_COMPLETION_TOKENS)
            .min(room)
            .min(affordable - prompt);
        Ok((prompt, max))
    }
}

/// A request on an endpoint whose model is not the session's.
fn wrong_model(s: &Session, endpoint_does: &str) -> Response {
    invalid(
        "model",
        format!(
            "session {} is for model {}, which this endpoint does not {endpoint_does}",
            s.id, s.model
        ),
    )
    .into_response()
}

/// An error in the node's one error shape, its code named after the status.
fn error(status: StatusCode, message: String) -> Response {
    ApiError::from_status(status, message).into_response()
}

async fn models<E: ChatEngine>(State(s): State<Arc<SessionServer<E>>>) -> Json<serde_json::Value> {
    let mut data: Vec<serde_json::Value> = s
        .engine
        .models()
        .iter()
        .map(|m| serde_json::json!({"id": m.to_hex(), "object": "model", "owned_by": s.address().to_string()}))
        .collect();
    if let Some(e) = s.engine.embed_model() {
        data.push(serde_json::json!({"id": e.to_hex(), "object": "model", "owned_by": s.address().to_string()}));
    }
    Json(serde_json::json!({"object": "list", "data": data}))
}

async fn chat<E: ChatEngine>(
    State(s): State<Arc<SessionServer<E>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match parse_chat(&body) {
        Ok(req) => generate(s, headers, body, req, true).await,
        Err(e) => e.into_response(),
    }
}

async fn completion<E: ChatEngine>(
    State(s): State<Arc<SessionServer<E>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match parse_completion(&body) {
        Ok(req) => generate(s, headers, body, req, false).await,
        Err(e) => e.into_response(),
    }
}

/// One OpenAI chunk or response body for chat (`chat`) or text completions. Its `created` is
/// the wall clock (off the ledger: OpenAI's field, nothing is billed or verified on it).
#[allow(clippy::disallowed_methods)]
fn body_json(
    chat: bool,
    id: &str,
    model: &str,
    text: Option<&str>,
    finish: Option<&str>,
    stream: bool,
) -> serde_json::Value {
    let object = match (chat, stream) {
        (true, true) => "chat.completion.chunk",
        (true, false) => "chat.completion",
        (false, _) => "text_completion",
    };
    let choice = match (chat, stream) {
        (true, true) => {
            serde_json::json!({"index": 0, "delta": text.map_or(serde_json::json!({}), |t| serde_json::json!({"role": "assistant", "content": t})), "finish_reason": finish, "logprobs": null})
        }
        (true, false) => {
            serde_json::json!({"index": 0, "message": {"role": "assistant", "content": text.unwrap_or_default()}, "finish_reason": finish, "logprobs": null})
        }
        (false, _) => {
            serde_json::json!({"index": 0, "text": text.unwrap_or_default(), "finish_reason": finish, "logprobs": null})
        }
    };
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::json!({"id": id, "object": object, "created": created, "model": model, "choices": [choice]})
}

fn finish_name(f: Option<Finish>) -> &'static str {
    match f {
        Some(Finish::Stop) => "stop",
        // A cut stream or a deadline ends like a limit.
        Some(Finish::Length) | None => "length",
    }
}

async fn generate<E: ChatEngine>(
    s: Arc<SessionServer<E>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
    req: ChatRequest,
    chat: bool,
) -> Response {
    // One request at a time per session: the deposit and sequence checks below hold until it
    // is billed.
    let turn = s.turn(&headers).await;
    let a = match s.authorise(&headers, &body).await {
        Ok(a) => a,
        Err((st, m)) => return error(st, m),
    };
    if !s.engine.models().contains(&a.session.model) {
        return wrong_model(&a.session, "generate with");
    }
    let (_, max_tokens) = match s.budget(&a, &req) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let engine_server = s.clone();
    let gen_req = req.clone();
    let model = a.session.model;
    let generation = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + MAX_REQUEST_TIME;
        let mut out = String::new();
        let g = engine_server
            .engine
            .generate(&model, &gen_req, max_tokens, &mut |piece| {
                out.push_str(piece);
                // A client gone (its receiver dropped) or the time up stops generation.
                tx.send(piece.to_string()).is_ok() && Instant::now() < deadline
            })?;
        Ok::<_, Error>((out, g))
    });
    let id = format!("chatcmpl-{}-{}", a.session.id, a.seq);
    let model = req.model.clone();
    if req.stream {
        let (etx, erx) = tokio::sync::mpsc::unbounded_channel::<
            std::result::Result<Event, std::convert::Infallible>,
        >();
        tokio::spawn(async move {
            while let Some(piece) = rx.recv().await {
                let chunk = body_json(chat, &id, &model, Some(&piece), None, true);
                if etx
                    .send(Ok(Event::default().data(chunk.to_string())))
                    .is_err()
                {
                    // The client went away: stop reading, so the engine sees it and stops.
                    break;
                }
            }
            drop(rx);
            let outcome = match generation.await {
                Ok(Ok((out, g))) => s.bill(&a, out.as_bytes(), g.usage.total()).map(|r| (r, g)),
                Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
                Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            };
            drop(turn);
            let events = match outcome {
                Ok((receipt, g)) => {
                    let mut last =
                        body_json(chat, &id, &model, None, Some(finish_name(g.finish)), true);
                    last["mycel_receipt"] = serde_json::to_value(&receipt).unwrap_or_default();
                    // The split the receipt's total came from, for whoever relays it.
                    last["mycel_usage"] = g.usage.json();
                    let mut events = vec![last];
                    if req.include_usage {
                        let mut u = body_json(chat, &id, &model, None, None, true);
                        u["choices"] = serde_json::json!([]);
                        u["usage"] = g.usage.json();
                        events.push(u);
                    }
                    events
                }
                Err((st, m)) => vec![ApiError::from_status(st, m).to_json()],
            };
            for e in events {
                let _ = etx.send(Ok(Event::default().data(e.to_string())));
            }
            let _ = etx.send(Ok(Event::default().data("[DONE]")));
        });
        return Sse::new(tokio_stream_from(erx)).into_response();
    }
    while rx.recv().await.is_some() {}
    let result = match generation.await {
        Ok(Ok((out, g))) => s
            .bill(&a, out.as_bytes(), g.usage.total())
            .map(|r| (out, r, g)),
        Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    drop(turn);
    match result {
        Ok((out, receipt, g)) => {
            let mut v = body_json(
                chat,
                &id,
                &model,
                Some(&out),
                Some(finish_name(g.finish)),
                false,
            );
            v["usage"] = g.usage.json();
            v["mycel_receipt"] = serde_json::to_value(&receipt).unwrap_or_default();
            Json(v).into_response()
        }
        Err((st, m)) => error(st, m),
    }
}

/// The bytes an embeddings receipt's output hash covers: every vector's f32s, little-endian,
/// in order.
pub fn embedding_bytes(vectors: &[Vec<f32>]) -> Vec<u8> {
    vectors
        .iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect()
}

async fn embeddings<E: ChatEngine>(
    State(s): State<Arc<SessionServer<E>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let req: EmbedRequest = match parse_embed(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let turn = s.turn(&headers).await;
    let a = match s.authorise(&headers, &body).await {
        Ok(a) => a,
        Err((st, m)) => return error(st, m),
    };
    if Some(a.session.model) != s.engine.embed_model() {
        return wrong_model(&a.session, "embed with");
    }
    // Billed by input tokens, checked against the deposit before running.
    let tokens = match s.engine.embed_tokens(&req.input) {
        Ok(t) => t,
        Err(e) => return invalid("input", e.to_string()).into_response(),
    };
    let cost = a.session.price_per_token.0.saturating_mul(tokens as u128);
    if cost > s.remaining(&a.session).0 {
        return ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "deposit_exhausted",
            format!(
                "session {} has {} left; this input costs {tokens} tokens at {}",
                a.session.id,
                s.remaining(&a.session),
                a.session.price_per_token
            ),
        )
        .into_response();
    }
    let engine = s.clone();
    let input = req.input.clone();
    let ran = tokio::task::spawn_blocking(move || engine.engine.embed(&input)).await;
    let (vectors, tokens) = match ran {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return invalid("input", e.to_string()).into_response(),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let receipt = match s.bill(&a, &embedding_bytes(&vectors), tokens) {
        Ok(r) => r,
        Err((st, m)) => return error(st, m),
    };
    drop(turn);
    let data: Vec<serde_json::Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if req.base64 {
                serde_json::Value::String(base64_f32(v))
            } else {
                serde_json::json!(v)
            };
            serde_json::json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Json(serde_json::json!({
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "mycel_receipt": receipt,
    }))
    .into_response()
}

/// Adapts an unbounded receiver to a stream without an extra dependency.
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

/// An engine that answers at once with a fixed reply and counts one token per byte of prompt
/// text: isolates what the session protocol (and the gateway in front of it) costs from what
/// generation costs, in benches and tests. Not a model.
pub struct InstantEngine {
    /// The model ID it claims to serve.
    pub model: Hash,
    /// What it answers, a word at a time.
    pub reply: String,
    /// A pause before each word (zero: instant), so a stream can be cut half way.
    pub pause: Duration,
}

impl ChatEngine for InstantEngine {
    fn models(&self) -> Vec<Hash> {
        vec![self.model]
    }
    fn prompt_tokens(&self, _: &Hash, prompt: &Prompt) -> Result<(u64, u64)> {
        let n = match prompt {
            Prompt::Chat(m) => m.iter().map(|m| m.content.len()).sum::<usize>(),
            Prompt::Text(t) => t.len(),
        };
        Ok((n as u64, 8_192))
    }
    fn generate(
        &self,
        model: &Hash,
        req: &ChatRequest,
        max_tokens: u64,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Generated> {
        let (prompt, _) = self.prompt_tokens(model, &req.prompt)?;
        let mut completion = 0;
        for piece in self.reply.split_inclusive(' ') {
            if completion == max_tokens {
                break;
            }
            completion += 1;
            if !self.pause.is_zero() {
                std::thread::sleep(self.pause);
            }
            if !on_text(piece) {
                break;
            }
        }
        Ok(Generated {
            usage: Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
            },
            finish: Some(if completion == max_tokens {
                Finish::Length
            } else {
                Finish::Stop
            }),
        })
    }
}
