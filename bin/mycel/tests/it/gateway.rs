//! The OpenAI-compatible gateway on the node's HTTP port, driven by the official `openai` Python
//! SDK, unmodified (`tests/py/openai_sdk.py`), against `mycel devnet` on the real pinned models.
//! Needs the models and the SDK's venv (`scripts/setup-py-sdk.sh`, whose python `MYCEL_OPENAI_PY`
//! names): without either it prints `SKIP` and returns, and fails instead with
//! `MYCEL_REQUIRE_MODELS=1` (as in CI).

use crate::common::{
    Devnet, assert_supply_consistent, chromium, chromium_dom, keep_screenshot, pinned_models,
};
use mycel_ml::registry::{MINILM, SMOLLM2};
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The variable naming the python of the venv that holds the SDK.
const OPENAI_PY: &str = "MYCEL_OPENAI_PY";

/// The longest the SDK's checks may run.
const SDK_TIMEOUT: Duration = Duration::from_secs(480);

/// Proxy settings the SDK's HTTP client would honour; the gateway is on 127.0.0.1.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// `mycel devnet` on the pinned models; once its worker has published its offer, the official
/// SDK lists the models, chats (plain, raw, streamed, seeded twice), completes and embeds through
/// the gateway with the devnet's API key, gets the OpenAI error classes for bad requests, an
/// unknown model and a wrong key; supply stays conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_openai_sdk_against_devnet() {
    let Some(models) = pinned_models(&[&SMOLLM2, &MINILM]) else {
        return;
    };
    let python = match std::env::var(OPENAI_PY) {
        Ok(python) if !python.is_empty() => python,
        _ => {
            assert!(
                std::env::var("MYCEL_REQUIRE_MODELS").as_deref() != Ok("1"),
                "MYCEL_REQUIRE_MODELS=1 and {OPENAI_PY} is not set (run scripts/setup-py-sdk.sh \
                 and export the python it prints as {OPENAI_PY})"
            );
            eprintln!("SKIP: {OPENAI_PY} not set (run scripts/setup-py-sdk.sh)");
            return;
        }
    };
    let net = Devnet::fresh();
    let (devnet, c) = net.start_real(&models).await;
    let log = || std::fs::read_to_string(net.log()).unwrap_or_default();
    // The devnet writes its gateway API key to a one-line file in its home.
    let key_file = net.home.join("gateway").join("devnet-api-key");
    let start = Instant::now();
    let api_key = loop {
        let text = std::fs::read_to_string(&key_file).unwrap_or_default();
        let key = text.lines().next().unwrap_or_default().trim();
        if !key.is_empty() {
            break key.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the devnet never wrote its API key to {}: {}",
            key_file.display(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The SDK's checks, with their output in files (no pipe to fill while we poll).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/openai_sdk.py");
    let base = format!("http://{}/v1", net.api);
    let out_path = net.home.join("openai_sdk.stdout");
    let err_path = net.home.join("openai_sdk.stderr");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .args([&base, &api_key])
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {OPENAI_PY}={python}: {e}"));
    let deadline = Instant::now() + SDK_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let outcome = match status {
        Some(status) if status.success() => None,
        Some(status) => Some(format!("failed ({status})")),
        None => Some(format!("timed out after {SDK_TIMEOUT:?}")),
    };
    if let Some(outcome) = outcome {
        panic!(
            "the OpenAI SDK checks {outcome}: {python} {script} {base} <key>\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}\n--- devnet log\n{}",
            log()
        );
    }
    print!("{stdout}");
    assert!(
        stdout.contains("ok: all checks passed"),
        "the SDK script exited 0 without passing every check:\n{stdout}\n{stderr}"
    );
    // The first chat's receipt, once its worker settled it, checks out offline with the CLI;
    // a tampered copy does not.
    let bundle = net.home.join("receipt-0-0.json");
    let settled = Instant::now() + Duration::from_secs(60);
    loop {
        let s: serde_json::Value = c.get("/api/v1/sessions/0").await.unwrap();
        if s["count"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < settled,
            "the worker never settled session 0: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    net.cli(&[
        "receipt",
        "get",
        "0",
        "0",
        "--api-key",
        &api_key,
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let report = net.cli(&["receipt", "verify", bundle.to_str().unwrap()]);
    for check in [
        "signature",
        "session's worker",
        "session in state",
        "state root finalized",
        "settled",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check} not verified:\n{report}"
        );
    }
    let text = std::fs::read_to_string(&bundle).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tokens = v["receipt"]["receipt"]["tokens"].as_u64().unwrap();
    v["receipt"]["receipt"]["tokens"] = (tokens + 1).into();
    let tampered = net.home.join("tampered.json");
    std::fs::write(&tampered, v.to_string()).unwrap();
    let err = net.cli_fails(&["receipt", "verify", tampered.to_str().unwrap()]);
    assert!(err.contains("does not verify"), "{err}");
    dashboard_renders_the_explorer(&net, &base).await;
    assert_supply_consistent(&c).await;
    devnet.kill();
}

/// The dashboard as a browser renders it (headless Chromium, the page's own scripts run): a
/// session's page reached by its link, every address a link to its account page, the gateway's
/// per-model usage from the SDK run, and the activity charts drawn. Also saves a screenshot
/// beside the devnet's home for a person to look at.
async fn dashboard_renders_the_explorer(net: &Devnet, base: &str) {
    if chromium().is_none() {
        return;
    }
    let root = base.trim_end_matches("/v1");
    let profile = net.home.join("chromium-profile");
    let page = format!("{root}/#/session/0");
    let dom = chromium_dom(&profile, &page);
    assert!(
        dom.contains("Session 0"),
        "the session page was not rendered:\n{dom:.2000}"
    );
    assert!(
        dom.contains("href=\"#/account/myc1"),
        "addresses are not links:\n{dom:.2000}"
    );
    assert!(dom.contains("href=\"#/block/"), "blocks are not links");
    assert!(
        dom.contains("SmolLM2-135M-Instruct"),
        "per-model gateway usage missing:\n{dom:.4000}"
    );
    assert!(dom.contains("class=\"fee\""), "the fee chart was not drawn");
    keep_screenshot(net, &page, "dashboard.png");
}
