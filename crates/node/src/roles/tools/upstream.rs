//! An MCP server as a tool's upstream: a small Streamable HTTP client (the `initialize`
//! handshake at `2025-11-25`, the server's `Mcp-Session-Id` kept and renewed when it expires,
//! answers as JSON or as a server-sent event stream) that reads a tool's definition from the
//! server's `tools/list` and runs calls with `tools/call`.

use super::{RunFuture, ToolOutput, ToolRunner, runner::MAX_OUTPUT_BYTES};
use mycel_ledger::modules::agent::manifest;
use serde_json::{Value, json};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// The protocol version this client asks for.
const PROTOCOL: &str = "2025-11-25";

/// A connection to an upstream MCP server.
#[derive(Debug)]
pub struct McpUpstream {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
    /// The session the server assigned (`None` before `initialize`; `Some(None)` for a server
    /// that assigns none) and the protocol version it chose.
    session: tokio::sync::Mutex<Option<(Option<String>, String)>>,
    next_id: AtomicU64,
}

impl McpUpstream {
    /// A client of the MCP endpoint `url` (e.g. `http://127.0.0.1:8000/mcp`).
    pub fn new(url: String, timeout: Duration) -> Arc<McpUpstream> {
        Arc::new(McpUpstream {
            url,
            http: reqwest::Client::new(),
            timeout,
            session: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        })
    }

    /// Posts one JSON-RPC message; the answer to it (`None` for a notification).
    async fn post(
        &self,
        msg: &Value,
        session: Option<&(Option<String>, String)>,
    ) -> Result<(Option<String>, Option<Value>), (Option<u16>, String)> {
        let mut req = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .header("accept", "application/json, text/event-stream")
            .json(msg);
        if let Some((sid, version)) = session {
            if let Some(sid) = sid {
                req = req.header("mcp-session-id", sid);
            }
            req = req.header("mcp-protocol-version", version);
        }
        let r = req
            .send()
            .await
            .map_err(|e| (None, format!("upstream {}: {e}", self.url)))?;
        let status = r.status();
        let sid = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sse = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let body = r
            .bytes()
            .await
            .map_err(|e| (None, format!("upstream {}: {e}", self.url)))?;
        if body.len() > MAX_OUTPUT_BYTES + 64 * 1024 {
            return Err((
                None,
                format!("upstream {} answered more than 1 MiB", self.url),
            ));
        }
        if msg.get("id").is_none() {
            return Ok((sid, None));
        }
        let answers: Vec<Value> = if sse {
            // Events are separated by blank lines; an event's data lines join with newlines.
            String::from_utf8_lossy(&body)
                .replace("\r\n", "\n")
                .split("\n\n")
                .filter_map(|event| {
                    let data: Vec<&str> = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                        .collect();
                    serde_json::from_str(&data.join("\n")).ok()
                })
                .collect()
        } else {
            serde_json::from_slice::<Value>(&body).into_iter().collect()
        };
        let answer = answers.into_iter().find(|a| a.get("id") == msg.get("id"));
        match answer {
            Some(a) => Ok((sid, Some(a))),
            None if !status.is_success() => Err((
                Some(status.as_u16()),
                format!(
                    "upstream {} answered {status}: {}",
                    self.url,
                    String::from_utf8_lossy(&body[..body.len().min(512)])
                ),
            )),
            None => Err((None, format!("upstream {} sent no answer", self.url))),
        }
    }

    fn message(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    }

    /// The session, after the `initialize` handshake if there is none yet.
    async fn session(&self) -> Result<(Option<String>, String), String> {
        let mut s = self.session.lock().await;
        if let Some(s) = s.as_ref() {
            return Ok(s.clone());
        }
        let init = self.message(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "mycel-tool-provider", "version": env!("CARGO_PKG_VERSION")},
            }),
        );
        let (sid, answer) = self.post(&init, None).await.map_err(|(_, e)| e)?;
        let answer = answer.ok_or("no answer to initialize")?;
        if let Some(e) = answer.get("error") {
            return Err(format!("upstream refused initialize: {e}"));
        }
        let version = answer["result"]["protocolVersion"]
            .as_str()
            .unwrap_or(PROTOCOL)
            .to_string();
        let session = (sid, version);
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(&initialized, Some(&session))
            .await
            .map_err(|(_, e)| e)?;
        *s = Some(session.clone());
        Ok(session)
    }

    /// One request; its `result`. A session the server no longer knows (404) is renewed once.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, String> {
        for attempt in 0..2 {
            let session = self.session().await?;
            let msg = self.message(method, params.clone());
            match self.post(&msg, Some(&session)).await {
                Ok((_, Some(a))) => {
                    if let Some(e) = a.get("error") {
                        return Err(format!(
                            "upstream error {}: {}",
                            e["code"],
                            e["message"].as_str().unwrap_or_default()
                        ));
                    }
                    return Ok(a["result"].clone());
                }
                Ok((_, None)) => return Err("no answer".into()),
                Err((Some(404), _)) if attempt == 0 => {
                    *self.session.lock().await = None;
                }
                Err((_, e)) => return Err(e),
            }
        }
        Err("the upstream session could not be renewed".into())
    }

    /// The upstream's definition of tool `name`, cut to the fields a registration keeps.
    pub async fn definition(&self, name: &str) -> Result<Value, String> {
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page = self.request("tools/list", params).await?;
            for t in page["tools"].as_array().into_iter().flatten() {
                if t["name"] == name {
                    return Ok(kept(t));
                }
            }
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        Err(format!("upstream {} has no tool {name:?}", self.url))
    }
}

/// A tool definition cut to the fields the chain registers (icons, `_meta` and execution hints
/// are left out).
fn kept(t: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in manifest::TOOL_KEYS {
        if let Some(v) = t.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    if let Some(a) = out.get_mut("annotations").and_then(Value::as_object_mut) {
        a.retain(|k, v| {
            (k == "title" || manifest::ANNOTATION_HINTS.contains(&k.as_str())) && !v.is_null()
        });
    }
    if out
        .get("annotations")
        .is_some_and(|a| a.as_object().is_some_and(|a| a.is_empty()))
    {
        out.remove("annotations");
    }
    Value::Object(out)
}

/// Runs calls of tool `name` on an upstream MCP server.
#[derive(Clone, Debug)]
pub struct McpRunner {
    /// The upstream.
    pub upstream: Arc<McpUpstream>,
    /// The tool's name there.
    pub name: String,
}

impl ToolRunner for McpRunner {
    fn run(&self, arguments: Value) -> RunFuture {
        let up = self.upstream.clone();
        let name = self.name.clone();
        Box::pin(async move {
            let r = up
                .request("tools/call", json!({"name": name, "arguments": arguments}))
                .await?;
            let text: Vec<&str> = r["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["text"].as_str())
                .collect();
            let text = text.join("\n");
            if r["isError"] == true {
                return Err(format!("the upstream tool failed: {text}"));
            }
            let structured = r
                .get("structuredContent")
                .filter(|s| s.is_object())
                .cloned();
            Ok(ToolOutput {
                text: match &structured {
                    Some(s) if text.is_empty() => s.to_string(),
                    _ => text,
                },
                structured,
            })
        })
    }
}
