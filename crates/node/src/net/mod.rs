//! Node-to-node transport of blobs, by hash, over the nodes' HTTP APIs.
//!
//! A node that lacks a blob someone asks it for fetches it from its blob peers, then from the
//! holders the chain names ([`holders`]: workers' offers publish endpoints that serve their
//! node's blobs) ([`BlobSource`]), checks it against its BLAKE3 hash and keeps it; a transfer cut half-way is
//! resumed (an HTTP `Range` request for the rest) from the next peer. An upload a node accepts
//! is pushed to some of its peers with the uploader's own signature, so a registered manifest or
//! a job input survives the node that took it.
//!
//! HTTP rather than iroh-blobs (DESIGN's choice): uploads are already signed and charged to an
//! account at this endpoint, and a peer checks a pushed upload exactly like a user's; one
//! transport and one port for people and nodes; BLAKE3 verification and resumption (by
//! `Range`) cover what iroh-blobs' verified streaming would give here, without its build
//! (≈3.5 min on 2 cores) or a second identity. Blobs are at most 64 MiB each.

pub mod gc;

use crate::{Error, Result};
use mycel_ledger::modules::market;
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;
use mycel_store::blob_hash;
use std::time::Duration;

/// Header marking an upload pushed by a node to its peers (they do not push it further).
pub const REPLICA_HEADER: &str = "x-mycel-replica";
/// Query that asks a node for its own copy only (a peer fetching must not trigger a fetch).
pub const LOCAL_ONLY: &str = "local=1";

/// At most this many holders of one blob are taken from the chain.
pub const MAX_CHAIN_HOLDERS: usize = 8;
/// How many of the newest jobs are searched for the worker that holds a blob.
const JOBS_SEARCHED: u64 = 4_096;

/// Where the chain says blob `hash` may be: the endpoints of the workers of recent jobs whose
/// input or output it is, then those of the other published offers (a worker's endpoint serves
/// its node's copy of a blob), at most [`MAX_CHAIN_HOLDERS`]. Offers are staked, so filling this
/// list with dead endpoints costs a worker's stake each, and only slows a fetch that the
/// configured peers could not answer.
pub fn holders(state: &(impl StateRead + ?Sized), hash: &Hash) -> Result<Vec<String>> {
    let offers = market::offers(state)?;
    let endpoint = |worker: &Address| {
        offers
            .iter()
            .find(|(a, o)| a == worker && !o.endpoint.is_empty())
            .map(|(_, o)| crate::roles::gateway::route::url(&o.endpoint))
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |u: String| {
        if out.len() < MAX_CHAIN_HOLDERS && !out.contains(&u) {
            out.push(u);
        }
    };
    for j in market::recent_jobs(state, JOBS_SEARCHED)? {
        if (j.input == *hash || j.output == *hash)
            && let Some(u) = endpoint(&j.worker)
        {
            push(u);
        }
    }
    for (w, _) in &offers {
        if let Some(u) = endpoint(w) {
            push(u);
        }
    }
    Ok(out)
}

/// Where a node gets blobs it does not hold.
pub trait BlobSource: Send + Sync {
    /// The blob `hash`, checked against it.
    fn fetch(&self, hash: &Hash) -> impl std::future::Future<Output = Result<Vec<u8>>> + Send;
}

/// The node's blob peers: other nodes' APIs, tried in order.
#[derive(Clone, Debug)]
pub struct Peers {
    urls: Vec<String>,
    http: reqwest::Client,
}

impl Peers {
    /// Peers at `urls` (`http://host:port`).
    pub fn new(urls: Vec<String>) -> Peers {
        crate::client::install_crypto();
        Peers {
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// The peers' APIs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Those of `more` that are not among these peers (sharing their HTTP client).
    pub fn others(&self, more: Vec<String>) -> Peers {
        let mut urls: Vec<String> = Vec::new();
        for u in more {
            let u = u.trim_end_matches('/').to_string();
            if !self.urls.contains(&u) && !urls.contains(&u) {
                urls.push(u);
            }
        }
        Peers {
            urls,
            http: self.http.clone(),
        }
    }

    /// Pushes an accepted upload (its bytes and the uploader's signature headers) to up to
    /// `copies` peers; returns how many took it. Best effort: a peer that is down or refuses
    /// (its own quota for the uploader) is skipped.
    pub async fn replicate(
        &self,
        bytes: &[u8],
        headers: &[(String, String)],
        copies: usize,
    ) -> usize {
        let mut took = 0;
        for url in &self.urls {
            if took == copies {
                break;
            }
            let mut req = self
                .http
                .post(format!("{url}/api/v1/blobs"))
                .header(REPLICA_HEADER, "1")
                .body(bytes.to_vec());
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => took += 1,
                Ok(r) => {
                    tracing::debug!(target: "mycel::net", peer = %url, status = %r.status(), "peer refused a replica")
                }
                Err(e) => {
                    tracing::debug!(target: "mycel::net", peer = %url, error = %e, "peer unreachable")
                }
            }
        }
        took
    }
}

impl BlobSource for Peers {
    async fn fetch(&self, hash: &Hash) -> Result<Vec<u8>> {
        let mut got: Vec<u8> = Vec::new();
        let mut last = String::from("no blob peers configured");
        for url in &self.urls {
            let mut req = self
                .http
                .get(format!("{url}/api/v1/blobs/{hash}?{LOCAL_ONLY}"));
            // Resume where the previous peer's transfer broke off.
            if !got.is_empty() {
                req = req.header("range", format!("bytes={}-", got.len()));
            }
            let mut resp = match req.send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => {
                    last = format!("{url}: {}", r.status());
                    continue;
                }
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            if resp.status().as_u16() != 206 {
                got.clear(); // the whole blob, not the rest of it
            }
            let mut cut = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) if got.len() + c.len() <= crate::http::blobs::MAX_BLOB_BYTES => {
                        got.extend_from_slice(&c)
                    }
                    Ok(Some(_)) => {
                        last = format!("{url}: more than a blob may hold");
                        got.clear();
                        break;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        last = format!("{url}: cut after {} bytes: {e}", got.len());
                        cut = true;
                        break;
                    }
                }
            }
            if cut {
                continue; // the next peer sends the rest
            }
            if !got.is_empty() && blob_hash(&got) == *hash {
                return Ok(got);
            }
            if !got.is_empty() {
                last = format!("{url}: the bytes do not hash to {hash}");
                got.clear();
            }
        }
        Err(Error::Unreachable {
            url: format!("blob {hash}"),
            why: last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};

    /// Serves `answer` for every blob request on a free loopback port; its URL.
    async fn peer(answer: fn(Option<String>) -> axum::response::Response) -> String {
        let app = Router::new().route(
            "/api/v1/blobs/{hash}",
            get(move |h: axum::http::HeaderMap| async move {
                answer(
                    h.get("range")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                )
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        url
    }

    const BODY: &[u8] = b"a blob that moves between nodes, verified by its hash";

    #[tokio::test]
    async fn a_lying_peer_is_skipped_and_a_cut_transfer_resumes_elsewhere() {
        let liar = peer(|_| b"not the blob".to_vec().into_response()).await;
        let down = peer(|_| StatusCode::NOT_FOUND.into_response()).await;
        // Promises the whole blob, sends 10 bytes and closes the connection.
        let cut = {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", l.local_addr().unwrap());
            tokio::spawn(async move {
                while let Ok((mut c, _)) = l.accept().await {
                    let mut buf = [0u8; 4096];
                    let _ = c.read(&mut buf).await;
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", BODY.len());
                    let _ = c.write_all(head.as_bytes()).await;
                    let _ = c.write_all(&BODY[..10]).await;
                    let _ = c.shutdown().await;
                }
            });
            url
        };
        // Answers a range request with the rest.
        let rest = peer(|range| match range.as_deref() {
            Some("bytes=10-") => (StatusCode::PARTIAL_CONTENT, BODY[10..].to_vec()).into_response(),
            _ => BODY.to_vec().into_response(),
        })
        .await;
        let h = blob_hash(BODY);
        // The liar's bytes fail the hash; the next peer's are taken.
        let got = Peers::new(vec![liar.clone(), down.clone(), rest.clone()])
            .fetch(&h)
            .await
            .unwrap();
        assert_eq!(got, BODY);
        // A transfer cut after 10 bytes is resumed from the next peer, which serves only the
        // rest (so a restart from byte 0 would fail).
        let only_rest = peer(|range| match range.as_deref() {
            Some("bytes=10-") => (StatusCode::PARTIAL_CONTENT, BODY[10..].to_vec()).into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        })
        .await;
        let got = Peers::new(vec![cut, only_rest]).fetch(&h).await.unwrap();
        assert_eq!(got, BODY);
        // Only liars and empty peers: a clear error.
        let e = Peers::new(vec![liar, down]).fetch(&h).await.unwrap_err();
        assert!(e.to_string().contains("404"), "{e}");
        let e = Peers::new(vec![]).fetch(&h).await.unwrap_err();
        assert!(e.to_string().contains("no blob peers"), "{e}");
    }
}
