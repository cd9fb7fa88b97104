//! The client of a worker's session server: signs each request for its session and sequence
//! number, and checks the worker-signed receipt against the reply before trusting it.

use crate::{Error, Result, http::openai::ChatRequest};
use commonware_cryptography::Signer as _;
use mycel_primitives::{Address, PrivateKey, codec::Encode};
use mycel_verify::{SignedReceipt, sign_request};

/// The client side of a session request: signs it for `session` at `seq` and sends it to the
/// worker at `worker_url`; returns the reply text and the worker-signed receipt.
pub async fn send_chat(
    worker_url: &str,
    worker: &Address,
    session: u64,
    seq: u64,
    client_key: &PrivateKey,
    req: &ChatRequest,
) -> Result<(String, SignedReceipt)> {
    send_chat_with(
        &reqwest::Client::new(),
        worker_url,
        worker,
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
    worker: &Address,
    session: u64,
    seq: u64,
    client_key: &PrivateKey,
    req: &ChatRequest,
) -> Result<(String, SignedReceipt)> {
    let body = serde_json::to_vec(&req.openai_body()).expect("request serializes");
    let sig = sign_request(client_key, session, seq, &body);
    let url = format!("{}{}", worker_url.trim_end_matches('/'), req.path());
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
        return Err(super::api_error(text, status.as_str()));
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
                    code: v["error"]["code"].as_str().unwrap_or("internal").into(),
                    message: m.into(),
                });
            }
            if let Some(piece) = v["choices"][0]["delta"]["content"]
                .as_str()
                .or(v["choices"][0]["text"].as_str())
            {
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
            .or(v["choices"][0]["text"].as_str())
            .unwrap_or_default()
            .to_string();
        (
            content,
            serde_json::from_value(v["mycel_receipt"].clone())
                .map_err(|e| invalid(e.to_string()))?,
        )
    };
    // Check what the worker signed before trusting it: the session's worker, the right session,
    // sequence and output.
    if !receipt.matches(session, seq, content.as_bytes()) || receipt.signer() != Some(*worker) {
        return Err(invalid(
            "the receipt does not match the reply or its signature is bad".into(),
        ));
    }
    Ok((content, receipt))
}
