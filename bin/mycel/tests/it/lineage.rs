//! Model lineage end to end on `mycel devnet` with the real pinned models, through the CLI and
//! the HTTP API as a user drives them: the base SmolLM2 registered from its file; a dataset with
//! training consent (and one without, whose fine-tune is refused); a fine-tune on it settles and
//! the network registers the adapter as the base's child; the devnet's worker starts serving the
//! adapter and a chat through the gateway is answered by it; `model tree` shows base → adapter →
//! dataset → contributor; the lineage proof verifies offline (a tampered one does not); the
//! adapter exports as a PEFT folder that the `safetensors` package reads, and imports back to the
//! same ID.

use crate::common::{
    Devnet, assert_supply_consistent, chromium, chromium_dom, keep_screenshot, pinned_models,
};
use mycel_ml::registry::{FileRole, MINILM, SMOLLM2};
use std::{
    process::Command,
    time::{Duration, Instant},
};

const TRAIN: &str = "{\"text\": \"Mycel networks share compute. Mycel networks share data.\"}\n\
{\"text\": \"A ledger records who trained which model on which data.\"}\n\
{\"text\": \"Receipts let anyone check what a worker did.\"}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_lineage_from_contributor_to_served_adapter() {
    let Some(models) = pinned_models(&[&SMOLLM2, &MINILM]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::fresh();
    let (devnet, c) = net.start_real(&models).await;
    let log = || std::fs::read_to_string(net.log()).unwrap_or_default();
    let worker = net.address("worker").to_string();
    let offer = || async {
        c.get::<serde_json::Value>(&format!("/api/v1/workers/{worker}/offer"))
            .await
            .ok()
    };

    // The base model, registered from its pinned file with a card; its ID is the one the worker
    // computed from the same file and offers. A wrong expected ID stops the registration.
    let gguf = models.path_of(&SMOLLM2, SMOLLM2.file(FileRole::Weights).unwrap());
    let gguf = gguf.to_str().unwrap();
    let card = dir.path().join("README.md");
    std::fs::write(&card, "# SmolLM2-135M-Instruct\n\nThe pinned base model.\n").unwrap();
    let reg: Vec<&str> = vec![
        "model",
        "register",
        gguf,
        "--from",
        "dev0",
        "--name",
        "SmolLM2-135M-Instruct",
        "--license",
        "Apache-2.0",
        "--card",
        card.to_str().unwrap(),
    ];
    let zero = "00".repeat(32);
    let err = net.cli_fails(&[&reg[..], &["--id", &zero]].concat());
    assert!(err.contains("model ID mismatch"), "{err}");
    let base = net.cli_json(&reg)["model"].as_str().unwrap().to_string();
    let offered = offer().await.unwrap();
    assert_eq!(offered["models"][0], base.as_str(), "{offered}");
    let err = net.cli_fails(&reg);
    assert!(err.contains("already registered"), "{err}");
    // The embedding model by its pinned name (its three files in the store) gets the ID the
    // worker offers for it too.
    let minilm = net.cli_json(&[
        "model",
        "register",
        "minilm",
        "--from",
        "dev1",
        "--name",
        "all-MiniLM-L6-v2",
        "--license",
        "Apache-2.0",
    ]);
    assert_eq!(minilm["model"], offered["models"][1], "{offered}");

    // Data: one dataset consenting to training, one not.
    let train = dir.path().join("train.jsonl");
    std::fs::write(&train, TRAIN).unwrap();
    let add = |file: &std::path::Path, from: &str, consent: &[&str]| {
        let v = net.cli_json(
            &[
                &[
                    "data",
                    "add",
                    file.to_str().unwrap(),
                    "--license",
                    "CC-BY-4.0",
                    "--from",
                    from,
                ][..],
                consent,
            ]
            .concat(),
        );
        v["registered"]["root"].as_str().unwrap().to_string()
    };
    let root = add(&train, "dev2", &["--consent", "train"]);
    let private = dir.path().join("private.jsonl");
    std::fs::write(&private, "{\"text\": \"not for training, please\"}\n").unwrap();
    let no_consent = add(&private, "dev3", &[]);
    let post = |input: &str| -> Vec<String> {
        [
            "job",
            "post",
            "--from",
            "dev0",
            "--kind",
            "finetune",
            "--model",
            &base,
            "--input",
            input,
            "--max-fee",
            "5",
            "--deadline",
            "200",
            "--params",
            "{\"rank\": 2, \"steps\": 2}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = post(&no_consent);
    let err = net.cli_fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("does not allow training"), "{err}");
    let args = post(&root);
    let job = net.cli_json(&args.iter().map(String::as_str).collect::<Vec<_>>())["job"]
        .as_str()
        .unwrap()
        .to_string();
    net.wait_settled(&job, Instant::now() + Duration::from_secs(300))
        .await;

    // The network wrote the adapter as the base's child; nobody declared it.
    let shown = net.cli_json(&["model", "show", &base]);
    let adapter = shown["children"][0].as_str().unwrap().to_string();
    let v = net.cli_json(&["model", "show", &adapter]);
    assert_eq!(v["version"]["registration"]["kind"], "adapter", "{v}");
    assert_eq!(v["version"]["registration"]["parents"][0], base.as_str());
    assert_eq!(v["version"]["registration"]["datasets"][0], root.as_str());
    assert_eq!(v["version"]["job"].to_string(), job);
    assert_eq!(v["version"]["attested"], true);

    // The devnet's worker starts serving it, and the gateway routes a chat to it.
    let start = Instant::now();
    loop {
        let o = offer().await.unwrap();
        if o["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == adapter.as_str())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never offered the adapter: {o}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let key = loop {
        let text = std::fs::read_to_string(net.home.join("gateway").join("devnet-api-key"))
            .unwrap_or_default();
        if let Some(k) = text.lines().next().filter(|k| !k.trim().is_empty()) {
            break k.trim().to_string();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", net.api))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            // By its registered name: the gateway resolves a unique one.
            "model": format!("SmolLM2-135M-Instruct-ft{job}"),
            "messages": [{"role": "user", "content": "What does a ledger record?"}],
            "max_tokens": 12,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("x-mycel-receipt"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{body}"
    );
    assert_eq!(body["mycel_receipt"]["receipt"]["model"], adapter.as_str());
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/v1/models/{adapter}", net.api))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["mycel_kind"], "adapter", "{listed}");
    assert_eq!(listed["license"], "Apache-2.0", "{listed}");
    assert_eq!(listed["mycel_parents"][0], base.as_str(), "{listed}");

    // The tree: base → adapter → dataset → contributor, with the job that made it.
    let tree = net.cli(&["model", "tree", &adapter]);
    let contributor = net.address("dev2").to_string();
    for want in [
        "SmolLM2-135M-Instruct [base]",
        &format!("[adapter] {adapter}"),
        "written by the network",
        &format!("made by job {job}"),
        &format!("trained on {root} (CC-BY-4.0)"),
        &format!("contributed by {contributor}"),
        "◀",
    ] {
        assert!(tree.contains(want), "{want:?} not in:\n{tree}");
    }
    eprintln!("{tree}");
    let history = net.cli(&["model", "history", &adapter]);
    assert_eq!(history.lines().count(), 2, "{history}");

    // A lineage proof, checked offline against the devnet's genesis; a tampered copy fails.
    let proof = dir.path().join("lineage.json");
    net.cli(&["model", "prove", &adapter, "--out", proof.to_str().unwrap()]);
    let ok = net.cli(&["model", "verify", proof.to_str().unwrap()]);
    assert!(!ok.contains("FAIL"), "{ok}");
    assert!(ok.contains("state root finalized"), "{ok}");
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let v = p["entries"][0]["value"].as_str().unwrap().to_string();
    // Flip the last byte of the adapter's stored version (its attribution).
    let flipped = format!(
        "{}{}",
        &v[..v.len() - 2],
        if v.ends_with("00") { "01" } else { "00" }
    );
    p["entries"][0]["value"] = flipped.into();
    std::fs::write(&proof, p.to_string()).unwrap();
    let err = net.cli_fails(&["model", "verify", proof.to_str().unwrap()]);
    assert!(err.contains("does not verify"), "{err}");

    // Hugging Face conventions: a PEFT folder out, the same ID back in.
    let out = dir.path().join("peft");
    net.cli(&["model", "export", &adapter, out.to_str().unwrap()]);
    for f in [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "mycel_lineage.json",
    ] {
        assert!(out.join(f).is_file(), "{f} not exported");
    }
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    for want in [
        "base_model: SmolLM2-135M-Instruct",
        "base_model_relation: adapter",
        "license: apache-2.0",
        &format!("mycel-dataset:{root}"),
    ] {
        assert!(
            readme.contains(want),
            "{want:?} not in README.md:\n{readme}"
        );
    }
    let back = net.cli_json(&[
        "model",
        "import",
        out.to_str().unwrap(),
        "--from",
        "dev1",
        "--dry-run",
    ]);
    assert_eq!(back["model"], adapter.as_str(), "{back}");
    check_with_safetensors(&out);

    // A PEFT folder from elsewhere (here: the export with its LoRA-B halved, as another trainer
    // would produce other weights) registers as a declared adapter on the base its card names.
    let base_id = mycel_primitives::Hash::from_hex(&base).unwrap();
    let (_, cfg) = mycel_node::models::pinned_decoder_config(&models, &base_id)
        .unwrap()
        .unwrap();
    let mut other =
        mycel_ml::hf::import_adapter(&out, &cfg, mycel_ml::registry::ModelId(base_id.0)).unwrap();
    for (name, t) in other.tensors.iter_mut() {
        if name.ends_with("lora_b") {
            *t = (t.clone() * 0.5).unwrap();
        }
    }
    let elsewhere = dir.path().join("elsewhere");
    let card = mycel_ml::hf::ModelCard::parse(&readme).unwrap();
    mycel_ml::hf::export_adapter(
        &other,
        &cfg,
        "SmolLM2-135M-Instruct",
        Some(&card),
        &elsewhere,
    )
    .unwrap();
    let imported = net.cli_json(&[
        "model",
        "import",
        elsewhere.to_str().unwrap(),
        "--from",
        "dev1",
        "--name",
        "community-adapter",
    ]);
    let imported = imported["model"].as_str().unwrap().to_string();
    assert_ne!(imported, adapter);
    let v = net.cli_json(&["model", "show", &imported]);
    assert_eq!(v["version"]["registration"]["kind"], "adapter", "{v}");
    assert_eq!(v["version"]["registration"]["parents"][0], base.as_str());
    assert_eq!(
        v["version"]["attested"], false,
        "declared, not written by the network"
    );
    assert_eq!(
        v["version"]["owner"],
        net.address("dev1").to_string().as_str()
    );
    // Its card must name a registered base: one naming an unknown model is refused.
    let stray = dir.path().join("stray");
    let mut card = card;
    card.tags.retain(|t| !t.starts_with("mycel-base:"));
    card.base_model = vec!["NoSuchOrg/NoSuchModel".into()];
    mycel_ml::hf::export_adapter(&other, &cfg, "NoSuchOrg/NoSuchModel", Some(&card), &stray)
        .unwrap();
    let err = net.cli_fails(&["model", "import", stray.to_str().unwrap(), "--from", "dev1"]);
    assert!(err.contains("is not a registered model version"), "{err}");
    lineage_page_renders(&net, &adapter, &base, &root);
    assert_supply_consistent(&c).await;
    devnet.kill();
}

/// Runs `tests/py/check_hf_export.py` (the `safetensors` package: PEFT's key names and shapes,
/// the card's fields) in the venv `scripts/setup-py-sdk.sh` builds (`MYCEL_OPENAI_PY`).
fn check_with_safetensors(dir: &std::path::Path) {
    let python = match std::env::var("MYCEL_OPENAI_PY") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(
                std::env::var("MYCEL_REQUIRE_MODELS").as_deref() != Ok("1"),
                "MYCEL_REQUIRE_MODELS=1 and MYCEL_OPENAI_PY is not set (scripts/setup-py-sdk.sh)"
            );
            eprintln!("SKIP safetensors check: MYCEL_OPENAI_PY not set");
            return;
        }
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/check_hf_export.py");
    let out = Command::new(python).arg(script).arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "check_hf_export.py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("\"ok\": true"), "{summary}");
}

/// The adapter's page as a browser renders it (headless Chromium, the page's own scripts run):
/// the lineage graph drawn with the base, the adapter, the dataset and its contributor as linked
/// nodes. Saves a screenshot for a person to look at.
fn lineage_page_renders(net: &Devnet, adapter: &str, base: &str, root: &str) {
    let Some(_) = chromium() else {
        return;
    };
    let url = format!("http://{}/#/model/{adapter}", net.api);
    let profile = net.home.join("chromium-profile");
    let dom = chromium_dom(&profile, &url);
    for want in [
        format!("data-id=\"model:{base}\""),
        format!("data-id=\"model:{adapter}\""),
        format!("data-id=\"dataset:{root}\""),
        "data-kind=\"contributor\"".to_string(),
        "data-kind=\"job\"".to_string(),
        format!("href=\"#/model/{base}\""),
    ] {
        assert!(
            dom.contains(&want),
            "{want} not in the rendered page:\n{dom:.3000}"
        );
    }
    keep_screenshot(net, &url, "lineage.png");
}
