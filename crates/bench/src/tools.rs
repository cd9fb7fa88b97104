//! `mycel bench tools`: what a paid MCP tool call through the node's `/mcp` adds over calling
//! the tool directly, and what settling thousands of such calls costs on chain.
//!
//! In this process: a single-validator devnet (its gateway on, no worker), an upstream tool (a
//! tiny HTTP server counting the words of `{"text": …}`) and a tool server under the devnet's
//! `dev1` key that serves it through an [`HttpRunner`], registered on chain at a price per call.
//! One client (one connection pool, one call at a time) calls it straight at the upstream, then
//! through `/mcp` `tools/call` with `dev0`'s API key: the gateway checks the arguments against
//! the registered schema and the provider's signed advert, pays from a session it opened on the
//! first call, and checks the provider-signed receipt before passing the result on. The
//! difference of the medians is what the network adds to a call.
//!
//! Then the provider settles everything it served (every call is one receipt) and the chain is
//! checked: one transaction, the calls counted on the tool's entry, its earnings against calls ×
//! price less the protocol fee, and the bank's supply audit. Then `--settle-calls` more paid
//! calls and one more settlement.

use crate::{free_port, percentile, run_many, tempdir};
use axum::{Json, Router, routing::post};
use mycel_ledger::modules::agent;
use mycel_node::{
    Error, Home, Result,
    client::Client,
    devnet::{self, DevnetInfo, DevnetOptions},
    error::io,
    http::{agent::ToolView, chain::SupplyAudit},
    keystore::Keystore,
    roles::tools::{HttpRunner, ToolServer},
};
use mycel_primitives::{Address, Amount, Hash};
use mycel_verify::SignedReceipt;
use serde_json::{Value, json};
use std::{
    fmt,
    net::SocketAddr,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

/// Options of `mycel bench tools`.
#[derive(Debug, Clone, clap::Args)]
pub struct ToolsBenchArgs {
    /// Timed calls per path, one at a time (after the warm-up).
    #[arg(long, default_value_t = 2_000)]
    pub calls: usize,
    /// Untimed warm-up calls per path (the gateway opens its session before them).
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// Paid calls made through `/mcp` and then settled in one more settlement (0 to skip).
    #[arg(long, default_value_t = 10_000)]
    pub settle_calls: usize,
}

/// The tool's name.
const TOOL: &str = "bench_word_count";
/// What every call counts.
const TEXT: &str = "the quick brown fox jumps over the lazy dog";
/// Price of one call: 0.000001 MYC.
const PRICE: Amount = Amount(1_000);
/// The median overhead `/mcp` aims at.
const TARGET_OVERHEAD_P50_MS: f64 = 3.0;

/// Latency of one path, milliseconds, request to last byte.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(sorted: &[f64]) -> Latency {
        Latency {
            p50: percentile(sorted, 0.5),
            p90: percentile(sorted, 0.9),
            p99: percentile(sorted, 0.99),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// One settlement by the provider of the paid calls made since the previous one.
#[derive(Debug, serde::Serialize)]
pub struct Settlement {
    /// Paid calls made since the previous settlement (receipts the provider signed).
    pub calls: u64,
    /// Wall time of those calls, seconds, for a run timed as a whole.
    pub calls_s: Option<f64>,
    /// Sessions settled.
    pub sessions: usize,
    /// Transactions the provider sent to settle (its nonce after less before).
    pub transactions: u64,
    /// Wall time of the settlement, to finality, milliseconds.
    pub settle_ms: f64,
    /// Calls the tool's entry counts as settled, more than before.
    pub calls_on_chain: u64,
    /// What the tool's entry records as earned, more than before.
    pub earned: Amount,
    /// Calls × price less the protocol fee.
    pub expected: Amount,
    /// Transaction fees the provider paid (earned less the change of its balance).
    pub fees: Amount,
    /// Burned meanwhile (the protocol fee and the transaction fee).
    pub burned: Amount,
    /// Minted meanwhile (epoch rewards; supply after = before − burned + minted).
    pub minted: Amount,
    /// The bank's audit after the settlement.
    pub audit: SupplyAudit,
}

impl Settlement {
    /// Its figures as printed, in order.
    fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("paid calls (receipts)", self.calls.to_string()),
            (
                "calls per second (one at a time)",
                self.calls_s
                    .map_or_else(|| "-".into(), |t| format!("{:.0}", self.calls as f64 / t)),
            ),
            ("sessions settled", self.sessions.to_string()),
            ("transactions sent", self.transactions.to_string()),
            (
                "time to settle, to finality (ms)",
                format!("{:.0}", self.settle_ms),
            ),
            (
                "calls counted on chain (entry.calls)",
                self.calls_on_chain.to_string(),
            ),
            ("earned (entry.earned)", self.earned.to_string()),
            ("calls x price less protocol fee", self.expected.to_string()),
            ("transaction fees paid", self.fees.to_string()),
            ("burned (protocol + tx fees)", self.burned.to_string()),
            ("minted meanwhile (epoch rewards)", self.minted.to_string()),
            (
                "supply = sum of balances",
                format!("{} at height {}", self.audit.consistent, self.audit.height),
            ),
        ]
    }
}

/// What `mycel bench tools` measured.
#[derive(Debug, serde::Serialize)]
pub struct ToolsReport {
    /// The tool's entry ID.
    pub tool: Hash,
    /// Its registered manifest hash.
    pub manifest: Hash,
    /// Price of one call.
    pub price: Amount,
    /// Share of a settled payment burned, basis points.
    pub protocol_fee_bps: u16,
    /// Timed calls per path.
    pub calls: usize,
    /// Untimed warm-up calls per path.
    pub warmup: usize,
    /// The first `/mcp` call (the gateway opens and funds a session on chain), milliseconds.
    pub first_call_ms: f64,
    /// Straight to the upstream.
    pub direct: Latency,
    /// Through `/mcp` `tools/call`.
    pub mcp: Latency,
    /// `mcp.p50 − direct.p50`.
    pub overhead_p50_ms: f64,
    /// `mcp.p99 − direct.p99`.
    pub overhead_p99_ms: f64,
    /// The aim for `overhead_p50_ms`.
    pub target_overhead_p50_ms: f64,
    /// Settlement of every call above.
    pub settlement: Settlement,
    /// `--settle-calls` more paid calls, then one settlement (`None` with 0).
    pub bulk: Option<Settlement>,
}

fn invalid(why: impl fmt::Display) -> Error {
    Error::Invalid {
        what: "tools bench".into(),
        why: why.to_string(),
    }
}

fn unreachable_at(url: &str) -> impl Fn(reqwest::Error) -> Error + '_ {
    move |e| Error::Unreachable {
        url: url.to_string(),
        why: e.to_string(),
    }
}

/// The upstream tool: the word count of `text`.
async fn count_words(Json(v): Json<Value>) -> Json<Value> {
    let n = v["text"]
        .as_str()
        .map_or(0, |t| t.split_whitespace().count());
    Json(json!({ "words": n }))
}

/// The registered definition of the upstream tool.
fn manifest() -> Value {
    json!({
        "name": TOOL,
        "title": "Word count",
        "description": "Counts the whitespace-separated words of a text.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 65536}},
            "required": ["text"],
            "additionalProperties": false,
        },
        "outputSchema": {
            "type": "object",
            "properties": {"words": {"type": "integer", "minimum": 0}},
            "required": ["words"],
        },
        "annotations": {"readOnlyHint": true, "openWorldHint": false},
    })
}

/// Serves `app` on a free local port; its URL.
async fn serve_local(app: Router, mycel: bool) -> Result<String> {
    let at = Path::new("127.0.0.1:0");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io(at))?;
    let url = format!("http://{}", listener.local_addr().map_err(io(at))?);
    if mycel {
        tokio::spawn(async move { mycel_node::http::serve(listener, app).await });
    } else {
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Ok(url)
}

/// Runs `mycel devnet` (gateway on, no worker) in a thread of this process; returns once its
/// API listens. It runs until the process ends.
fn start_devnet(home: &Path) -> Result<DevnetInfo> {
    let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let opts = DevnetOptions {
        home: Some(home.to_path_buf()),
        accounts: 4,
        api_addr: Some(local(free_port()?)),
        p2p_addr: Some(local(free_port()?)),
        no_worker: true,
        worker_listen: local(0),
    };
    let (tx, rx) = std::sync::mpsc::channel::<Result<DevnetInfo>>();
    let failed = tx.clone();
    std::thread::Builder::new()
        .name("bench-devnet".into())
        .spawn(move || {
            let ready = move |i: &DevnetInfo| {
                let _ = tx.send(Ok(i.clone()));
            };
            if let Err(e) = devnet::run(opts, ready) {
                let _ = failed.send(Err(e));
            }
        })
        .map_err(io(Path::new("devnet thread")))?;
    rx.recv_timeout(Duration::from_secs(120))
        .map_err(|_| invalid("the devnet did not start"))?
}

/// What every `/mcp` answer must carry.
struct Expect {
    provider: Address,
    manifest: Hash,
    words: u64,
}

/// One call straight to the upstream.
async fn direct_once(http: &reqwest::Client, url: &str, body: &Value, words: u64) -> Result<f64> {
    let t = Instant::now();
    let r = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(unreachable_at(url))?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(unreachable_at(url))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() || v["words"] != words {
        return Err(invalid(format!(
            "the upstream answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    Ok(ms)
}

/// One paid call through `/mcp`: the result must be the tool's, with a receipt of one call of
/// the registered manifest signed by the provider.
async fn mcp_once(
    http: &reqwest::Client,
    url: &str,
    api_key: &str,
    body: &str,
    expect: &Expect,
) -> Result<f64> {
    let t = Instant::now();
    let r = http
        .post(url)
        .bearer_auth(api_key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .map_err(unreachable_at(url))?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(unreachable_at(url))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "/mcp answered {status} with no JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        ))
    })?;
    if let Some(e) = v.get("error") {
        return Err(invalid(format!("/mcp answered {status}, error {e}")));
    }
    let res = &v["result"];
    if res["isError"] != false || res["structuredContent"]["words"] != expect.words {
        return Err(invalid(format!("/mcp answered the call with {res}")));
    }
    let receipt: SignedReceipt = serde_json::from_value(res["_meta"]["mycel/receipt"].clone())
        .map_err(|e| invalid(format!("no receipt in the answer ({e}): {res}")))?;
    let x = &receipt.receipt;
    if receipt.signer() != Some(expect.provider)
        || !receipt.verify()
        || x.model != expect.manifest
        || x.tokens != 1
        || x.amount != PRICE
    {
        return Err(invalid(format!("the receipt does not check: {receipt:?}")));
    }
    Ok(ms)
}

/// Settles every call the provider served and reads back what the chain made of it.
async fn settle(
    c: &Client,
    server: &ToolServer,
    id: &Hash,
    (calls, calls_s): (u64, Option<f64>),
    fee_bps: u16,
) -> Result<Settlement> {
    let provider = server.address();
    let path = format!("/api/v1/tools/{id}");
    let account = c.account(&provider).await?;
    let entry = c.get::<ToolView>(&path).await?.entry;
    let audit: SupplyAudit = c.get("/api/v1/supply").await?;
    let t = Instant::now();
    let sessions = server.settle().await?;
    let settle_ms = t.elapsed().as_secs_f64() * 1e3;
    let account_after = c.account(&provider).await?;
    let entry_after = c.get::<ToolView>(&path).await?.entry;
    let audit_after: SupplyAudit = c.get("/api/v1/supply").await?;
    let earned = Amount(entry_after.earned.0.saturating_sub(entry.earned.0));
    let paid = calls as u128 * PRICE.0;
    let burned = Amount(audit_after.burned.0.saturating_sub(audit.burned.0));
    Ok(Settlement {
        calls,
        calls_s,
        sessions,
        transactions: account_after.nonce.saturating_sub(account.nonce),
        settle_ms,
        calls_on_chain: entry_after.calls.saturating_sub(entry.calls),
        earned,
        expected: Amount(paid - paid * fee_bps as u128 / 10_000),
        fees: Amount((earned.0 + account.balance.0).saturating_sub(account_after.balance.0)),
        burned,
        minted: Amount((audit_after.supply.0 + burned.0).saturating_sub(audit.supply.0)),
        audit: audit_after,
    })
}

async fn bench(info: &DevnetInfo, args: &ToolsBenchArgs) -> Result<ToolsReport> {
    let home = Home(info.home.clone());
    let c = Client::new(&format!("http://{}", info.api));
    let api_key = info
        .api_key
        .clone()
        .ok_or_else(|| invalid("the devnet made no API key"))?;
    let fee_bps = home.genesis()?.params.market.protocol_fee_bps;
    let provider = Keystore::new(home.keys_dir()).load("dev1")?.private_key()?;

    let upstream = serve_local(Router::new().route("/", post(count_words)), false).await?;
    let server = ToolServer::open(provider, c.clone(), home.path().join("bench-tools"))?;
    let runner = HttpRunner {
        url: upstream.clone(),
        client: reqwest::Client::new(),
        timeout: Duration::from_secs(10),
    };
    let id = server.add(manifest(), Arc::new(runner), None)?;
    let endpoint = serve_local(server.router(), true).await?;
    server
        .register_all(&endpoint, PRICE, agent::MIN_BOND)
        .await?;
    let registered = c.get::<ToolView>(&format!("/api/v1/tools/{id}")).await?;
    let expect = Expect {
        provider: server.address(),
        manifest: registered.entry.manifest,
        words: TEXT.split_whitespace().count() as u64,
    };
    let listed = c.mcp(&api_key, "tools/list", json!({})).await?;
    if !listed["result"]["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == TOOL))
    {
        return Err(invalid(format!(
            "tools/list does not list {TOOL}: {listed}"
        )));
    }
    eprintln!("{TOOL} ({id}) registered at {endpoint}, upstream {upstream}");

    // One pool for both paths, one call at a time.
    let http = reqwest::Client::new();
    let direct_body = json!({ "text": TEXT });
    let mcp_url = format!("http://{}/mcp", info.api);
    let mcp_body = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": TOOL, "arguments": {"text": TEXT}},
    })
    .to_string();
    let direct = || direct_once(&http, &upstream, &direct_body, expect.words);
    let via = || mcp_once(&http, &mcp_url, &api_key, &mcp_body, &expect);

    run_many(args.warmup, 1, direct).await?;
    let direct_ms = run_many(args.calls, 1, direct).await?;
    let first_call_ms = via().await?;
    run_many(args.warmup, 1, via).await?;
    let mcp_ms = run_many(args.calls, 1, via).await?;
    let paid = 1 + args.warmup + args.calls;
    eprintln!("{paid} paid calls made; settling");
    let settlement = settle(&c, &server, &id, (paid as u64, None), fee_bps).await?;

    let bulk = if args.settle_calls > 0 {
        eprintln!("{} more paid calls", args.settle_calls);
        let t = Instant::now();
        run_many(args.settle_calls, 1, via).await?;
        let calls_s = Some(t.elapsed().as_secs_f64());
        Some(
            settle(
                &c,
                &server,
                &id,
                (args.settle_calls as u64, calls_s),
                fee_bps,
            )
            .await?,
        )
    } else {
        None
    };
    let (direct, mcp) = (Latency::of(&direct_ms), Latency::of(&mcp_ms));
    Ok(ToolsReport {
        tool: id,
        manifest: expect.manifest,
        price: PRICE,
        protocol_fee_bps: fee_bps,
        calls: args.calls,
        warmup: args.warmup,
        first_call_ms,
        overhead_p50_ms: mcp.p50 - direct.p50,
        overhead_p99_ms: mcp.p99 - direct.p99,
        target_overhead_p50_ms: TARGET_OVERHEAD_P50_MS,
        direct,
        mcp,
        settlement,
        bulk,
    })
}

/// Paid MCP tool calls against direct calls, and their settlement: see the module docs.
pub fn tools(args: &ToolsBenchArgs) -> Result<ToolsReport> {
    if args.calls == 0 {
        return Err(invalid("--calls must be at least 1"));
    }
    let home = tempdir()?;
    let result = (|| {
        let info = start_devnet(&home)?;
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io(Path::new("tokio")))?
            .block_on(bench(&info, args))
    })();
    // The devnet thread runs on until the process ends; its files are not needed again.
    let _ = std::fs::remove_dir_all(&home);
    result
}

impl fmt::Display for ToolsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "paid MCP tool calls: `{TOOL}` (word count, an HTTP upstream on 127.0.0.1) at {} per call, protocol fee {} bps; client, devnet node with gateway, tool server and upstream in this process",
            self.price, self.protocol_fee_bps
        )?;
        writeln!(
            f,
            "{} calls per path, one at a time over one connection pool, after {} warm-up calls (the first /mcp call, which opens the session on chain: {:.0} ms)",
            self.calls, self.warmup, self.first_call_ms
        )?;
        writeln!(
            f,
            "{:<44} {:>9} {:>9} {:>9} {:>9}",
            "path (latency ms, request to last byte)", "p50", "p90", "p99", "mean"
        )?;
        for (name, l) in [
            ("direct POST to the upstream", &self.direct),
            ("/mcp tools/call (paid, receipt checked)", &self.mcp),
        ] {
            writeln!(
                f,
                "{name:<44} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.p50, l.p90, l.p99, l.mean
            )?;
        }
        writeln!(
            f,
            "{:<44} {:>9.3} {:>9} {:>9.3}   (target: p50 <= {} ms)",
            "overhead (mcp - direct)",
            self.overhead_p50_ms,
            "",
            self.overhead_p99_ms,
            self.target_overhead_p50_ms
        )?;
        let mut cols = vec![("the calls above", &self.settlement)];
        if let Some(b) = &self.bulk {
            cols.push(("bulk run", b));
        }
        write!(f, "{:<44}", "settlement by the provider")?;
        for (name, _) in &cols {
            write!(f, " {name:>22}")?;
        }
        writeln!(f)?;
        let rows: Vec<Vec<(&str, String)>> = cols.iter().map(|(_, s)| s.rows()).collect();
        for (i, (name, _)) in rows[0].iter().enumerate() {
            write!(f, "{name:<44}")?;
            for col in &rows {
                write!(f, " {:>22}", col[i].1)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every paid call is settled in one transaction, counted on chain, paid at its price less
    /// the protocol fee, and the supply audit holds — for the timed calls and the bulk run.
    #[test]
    fn tools_settle_every_call_in_one_transaction() {
        let r = tools(&ToolsBenchArgs {
            calls: 20,
            warmup: 2,
            settle_calls: 50,
        })
        .unwrap();
        assert_eq!(r.settlement.calls, 23, "first + warm-up + timed");
        // (The gateway may open a second session while its watcher checks the first
        // settlement; one transaction settles both.)
        for s in [&r.settlement, r.bulk.as_ref().unwrap()] {
            assert_eq!(s.transactions, 1);
            assert_eq!(s.calls_on_chain, s.calls);
            assert_eq!(s.earned, s.expected);
            assert!(s.audit.consistent, "{:?}", s.audit);
        }
        assert_eq!(r.bulk.as_ref().unwrap().calls, 50);
        let text = r.to_string();
        assert!(text.contains("transactions sent"), "{text}");
    }
}
