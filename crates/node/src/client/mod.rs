//! The Rust client of a node's HTTP API (used by the CLI, the roles and the tests), with typed
//! answers and one sign → submit → wait path ([`Client::send`]); [`chat`] is the client of a
//! worker's session server.

mod chat;
mod send;

pub use chat::{send_chat, send_chat_with};
pub use send::{SendOptions, Sent};

use crate::{
    Error, Result,
    http::{BlockEvents, ErrorBody, Status, Submitted, TxStatus},
};
use commonware_cryptography::Signer;
use mycel_ledger::{Message, Tx, TxBody, modules::bank};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey,
    codec::{Encode, EncodeSize},
};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Installs the process-wide TLS crypto provider (ring) once, as reqwest is built without one.
pub(crate) fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `GET /api/v1/accounts/{address}`: the ledger's own account view.
pub type Account = mycel_ledger::execute::AccountView;

/// The error an answer body carries: its code and message when it is the error shape, else the
/// whole text under `fallback_code`.
pub fn api_error(text: String, fallback_code: &str) -> Error {
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => Error::Api {
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => Error::Api {
            code: fallback_code.into(),
            message: text,
        },
    }
}

/// API client.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:7700`).
    pub fn new(base: &str) -> Client {
        install_crypto();
        Client {
            // `127.0.0.1:7700` means the node's plain-HTTP API.
            base: match base.contains("://") {
                true => base.trim_end_matches('/').to_string(),
                false => format!("http://{}", base.trim_end_matches('/')),
            },
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The body of a successful answer; a failed one as the API's error.
    async fn text(
        &self,
        url: &str,
        r: std::result::Result<reqwest::Response, reqwest::Error>,
    ) -> Result<String> {
        let unreachable = |e: reqwest::Error| Error::Unreachable {
            url: url.to_string(),
            why: e.to_string(),
        };
        let r = r.map_err(unreachable)?;
        let ok = r.status().is_success();
        let text = r.text().await.map_err(unreachable)?;
        if ok {
            Ok(text)
        } else {
            Err(api_error(text, "http"))
        }
    }

    async fn parse<T: DeserializeOwned>(
        &self,
        url: &str,
        r: std::result::Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T> {
        let text = self.text(url, r).await?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: format!("answer of {url}"),
            why: e.to_string(),
        })
    }

    /// GET a JSON path.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let r = self.http.get(&url).send().await;
        self.parse(&url, r).await
    }

    /// GET a text path (e.g. a lineage tree).
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let url = format!("{}{path}", self.base);
        let r = self.http.get(&url).send().await;
        self.text(&url, r).await
    }

    /// One JSON-RPC request to the node's `/mcp`, authenticated with an API key; the whole
    /// response (`result` or `error`).
    pub async fn mcp(
        &self,
        api_key: &str,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let url = format!("{}/mcp", self.base);
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let r = self
            .http
            .post(&url)
            .bearer_auth(api_key)
            .header("accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Unreachable {
                url: url.clone(),
                why: e.to_string(),
            })?;
        r.json().await.map_err(|e| Error::Invalid {
            what: format!("answer of {url}"),
            why: e.to_string(),
        })
    }

    /// Node status.
    pub async fn status(&self) -> Result<Status> {
        self.get("/api/v1/status").await
    }

    /// The status once the node's finalized height is above `after`, or after `wait` (at most
    /// 60 s) with the height unchanged: the node holds the request until it commits a block.
    pub async fn status_after(&self, after: u64, wait: Duration) -> Result<Status> {
        self.get(&format!(
            "/api/v1/status?after={after}&wait_ms={}",
            wait.as_millis()
        ))
        .await
    }

    /// An account.
    pub async fn account(&self, a: &Address) -> Result<Account> {
        self.get(&format!("/api/v1/accounts/{a}")).await
    }

    /// A block (`latest` or a height).
    pub async fn block(&self, h: &str) -> Result<serde_json::Value> {
        self.get(&format!("/api/v1/blocks/{h}")).await
    }

    /// Events of a range of blocks.
    pub async fn events(
        &self,
        from: Option<u64>,
        to: Option<u64>,
        kind: Option<&str>,
    ) -> Result<Vec<BlockEvents>> {
        let mut q = Vec::new();
        if let Some(f) = from {
            q.push(format!("from={f}"));
        }
        if let Some(t) = to {
            q.push(format!("to={t}"));
        }
        if let Some(k) = kind {
            q.push(format!("kind={k}"));
        }
        self.get(&format!("/api/v1/events?{}", q.join("&"))).await
    }

    /// A transaction's status.
    pub async fn tx(&self, h: &Hash) -> Result<TxStatus> {
        self.get(&format!("/api/v1/txs/{h}")).await
    }

    /// Uploads a blob signed by `uploader` (a funded account; the node counts the bytes against
    /// its quota); returns its address.
    pub async fn put_blob(&self, uploader: &PrivateKey, bytes: Vec<u8>) -> Result<Hash> {
        let url = format!("{}/api/v1/blobs", self.base);
        let mut req = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream");
        for (name, value) in crate::http::blobs::upload_headers(uploader, &bytes) {
            req = req.header(name, value);
        }
        let r = req.body(bytes).send().await;
        let s: Submitted = self.parse(&url, r).await?;
        Ok(s.hash)
    }

    /// The input bytes of `job`: its blob, or the records of the registered dataset it names,
    /// reassembled from chunks checked against the dataset's signed manifest (what workers and
    /// auditors both run on).
    pub async fn job_input(&self, job: &mycel_ledger::modules::market::Job) -> Result<Vec<u8>> {
        let registered: Option<mycel_ledger::modules::data::Dataset> = self
            .get(&format!("/api/v1/datasets/{}", job.input))
            .await
            .ok();
        let Some(ds) = registered else {
            return self.get_blob(&job.input).await;
        };
        let invalid = |why: String| Error::Invalid {
            what: format!("dataset {}", job.input),
            why,
        };
        let bytes = self.get_blob(&ds.registration.manifest).await?;
        let m = mycel_data::manifest::Manifest::from_bytes(
            &bytes,
            std::path::Path::new(&ds.registration.manifest.to_hex()),
        )
        .map_err(|e| invalid(e.to_string()))?;
        if m.root != job.input {
            return Err(invalid(format!("its manifest describes {}", m.root)));
        }
        m.verify().map_err(|e| invalid(e.to_string()))?;
        let mut out = Vec::new();
        for e in &m.entries {
            let mut record = Vec::with_capacity(e.len as usize);
            for c in &e.chunks {
                record.extend(self.get_blob(&c.hash).await?);
            }
            let text = String::from_utf8(record)
                .map_err(|_| invalid(format!("record {} is not text", e.id)))?;
            out.extend(
                serde_json::to_vec(&serde_json::json!({"id": e.name, "text": text}))
                    .expect("serializes"),
            );
            out.push(b'\n');
        }
        Ok(out)
    }

    /// Downloads a blob and checks its hash (the node fetches it from its peers if it lacks it).
    pub async fn get_blob(&self, h: &Hash) -> Result<Vec<u8>> {
        self.blob_at(h, format!("{}/api/v1/blobs/{h}", self.base))
            .await
    }

    /// The node's own copy of a blob, checked against its hash (never fetched from its peers).
    pub async fn get_blob_local(&self, h: &Hash) -> Result<Vec<u8>> {
        self.blob_at(
            h,
            format!("{}/api/v1/blobs/{h}?{}", self.base, crate::net::LOCAL_ONLY),
        )
        .await
    }

    async fn blob_at(&self, h: &Hash, url: String) -> Result<Vec<u8>> {
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Error::Unreachable {
                url: url.clone(),
                why: e.to_string(),
            })?;
        if !r.status().is_success() {
            let text = r.text().await.unwrap_or_default();
            return Err(api_error(text, "http"));
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| Error::Unreachable {
                url: url.clone(),
                why: e.to_string(),
            })?
            .to_vec();
        let actual = mycel_store::blob_hash(&bytes);
        if actual != *h {
            return Err(Error::Invalid {
                what: format!("blob {h}"),
                why: format!("content hashes to {actual}"),
            });
        }
        Ok(bytes)
    }

    /// Submits a signed transaction.
    pub async fn submit(&self, tx: &Tx) -> Result<Hash> {
        let url = format!("{}/api/v1/txs", self.base);
        let r = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(tx.encode().to_vec())
            .send()
            .await;
        let s: Submitted = self.parse(&url, r).await?;
        Ok(s.hash)
    }

    /// Polls until `h` is finalized or `timeout` passes.
    pub async fn wait(&self, h: &Hash, timeout: Duration) -> Result<TxStatus> {
        let start = Instant::now();
        loop {
            // The node holds the request until the transaction is finalized (a long poll, at
            // most 20 s a request: the client's own timeout is 30 s).
            let left = timeout
                .saturating_sub(start.elapsed())
                .min(Duration::from_secs(20));
            let path = format!("/api/v1/txs/{h}?wait_ms={}", left.as_millis());
            match self.get::<TxStatus>(&path).await {
                Ok(s) if s.status == "finalized" => return Ok(s),
                Ok(_) if start.elapsed() < timeout => {}
                // Neither pending nor finalized yet (another node's mempool, say).
                Err(Error::Api { .. }) if start.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Ok(s) => return Ok(s),
                Err(e) => return Err(e),
            }
        }
    }

    /// Builds and signs a transaction from `key` with the account's next nonce and the minimum
    /// fee (or `fee`).
    pub async fn sign(
        &self,
        key: &PrivateKey,
        messages: Vec<Message>,
        fee: Option<Amount>,
        memo: &str,
    ) -> Result<Tx> {
        let status = self.status().await?;
        let addr = Address::from_public_key(&key.public_key());
        let nonce = self.account(&addr).await?.nonce;
        let mut body = TxBody {
            chain_id: status.chain_id,
            sender: key.public_key(),
            nonce,
            fee: Amount::ZERO,
            messages,
            memo: memo.to_string(),
        };
        body.fee = match fee {
            Some(f) => f,
            None => {
                // The fee field has a fixed width, so the size is known before it is set.
                let size = body.encode_size() + 64;
                bank::min_fee(
                    &bank::Params {
                        min_fee: status.min_fee,
                        fee_per_byte: status.fee_per_byte,
                        fee_burn_bps: 0,
                    },
                    size,
                )
            }
        };
        Ok(body.sign(key))
    }
}
