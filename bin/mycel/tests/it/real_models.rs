//! The market on the real pinned models (`real_*`: skipped when the models are absent, failed
//! instead with `MYCEL_REQUIRE_MODELS=1`).

use crate::common::{
    Devnet, Process, assert_supply_consistent, balance, free_port, pinned_models, read_jsonl,
};
use mycel_ml::registry::{MINILM, SMOLLM2};
use std::time::{Duration, Instant};

/// A two-example fine-tuning set.
const TRAIN_JSONL: &str = "{\"prompt\": \"Say hi.\", \"completion\": \"Hi!\"}\n{\"prompt\": \"Say bye.\", \"completion\": \"Bye!\"}\n";

/// The `embedding` array of a line of an embed job's output.
fn embedding(line: &serde_json::Value) -> Vec<f64> {
    line["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The README's path on real models: `mycel devnet` starts its worker on the pinned models; the
/// CLI posts an `embed` and a `finetune` job (inputs uploaded from files), both are assigned,
/// executed, committed and settled, and their outputs fetched by hash; a chat session gets two
/// real replies with receipts that the worker settles on chain; supply stays conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_devnet_settles_embed_finetune_dedup_and_dataset_jobs_and_a_session() {
    let Some(models) = pinned_models(&[&SMOLLM2, &MINILM]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::fresh();
    let (devnet, c) = net.start_real(&models).await;
    let worker = net.address("worker").to_string();
    let texts = dir.path().join("texts.jsonl");
    std::fs::write(
        &texts,
        "{\"text\": \"The cat sat on the mat.\"}\n{\"text\": \"A kitten rested on the rug.\"}\n{\"text\": \"Quarterly revenue grew by four percent.\"}\n",
    )
    .unwrap();
    let train = dir.path().join("train.jsonl");
    std::fs::write(&train, TRAIN_JSONL).unwrap();
    let post =
        |kind: &str, model: &str, input: &str, params: &[&str]| -> (u64, serde_json::Value) {
            let args = [
                "job",
                "post",
                "--from",
                "dev0",
                "--kind",
                kind,
                "--model",
                model,
                "--input",
                input,
                "--max-fee",
                "5",
                "--deadline",
                "120",
            ];
            let v = net.cli_json(&[&args[..], params].concat());
            (v["job"].as_str().unwrap().parse().unwrap(), v)
        };
    let post_file = |kind: &str, model: &str, input: &std::path::Path, params: &str| -> u64 {
        let (id, v) = post(kind, model, input.to_str().unwrap(), &["--params", params]);
        assert_eq!(v["worker"], worker.as_str(), "{v}");
        id
    };
    let embed = post_file("embed", "minilm", &texts, "{}");
    // A dedup job on the data engine: two copies differing in case and spacing, one other record.
    let records = dir.path().join("records.jsonl");
    std::fs::write(
        &records,
        "{\"id\": \"r1\", \"text\": \"the quick brown fox jumps over the lazy dog again\"}\n{\"id\": \"r2\", \"text\": \"The  Quick brown fox jumps over the lazy dog AGAIN\"}\n{\"id\": \"r3\", \"text\": \"an entirely different sentence about ledgers\"}\n",
    )
    .unwrap();
    let dedup = post_file("dedup", "mycel-text/v1", &records, "{\"tier\": \"d\"}");
    // A job over a registered dataset: the worker reassembles its records from the published
    // manifest and the chunks, and the contributor's novel bytes count as used.
    let added = net.cli_json(&[
        "data",
        "add",
        texts.to_str().unwrap(),
        "--license",
        "CC0-1.0",
        "--from",
        "dev2",
    ]);
    let root = added["registered"]["root"].as_str().unwrap();
    let (on_dataset, _) = post("embed", "minilm", root, &[]);
    let finetune = post_file(
        "finetune",
        "smollm2",
        &train,
        "{\"rank\": 2, \"steps\": 2, \"seed\": 7}",
    );

    // A session with two real chat replies while the jobs run.
    let opened = net.cli_json(&[
        "session",
        "open",
        "--from",
        "dev1",
        "--worker",
        &worker,
        "--model",
        "smollm2",
        "--deposit",
        "1",
        "--blocks",
        "20",
    ]);
    let session = opened["session"].as_str().unwrap().to_string();
    let mut tokens = 0;
    for q in ["What is the capital of France?", "Name a primary colour."] {
        let r = net.cli_json(&[
            "session",
            "chat",
            "--from",
            "dev1",
            "--session",
            &session,
            "--max-tokens",
            "12",
            q,
        ]);
        assert!(!r["reply"].as_str().unwrap().trim().is_empty(), "{r}");
        tokens += r["receipt"]["receipt"]["tokens"].as_u64().unwrap();
    }
    assert!(tokens > 0);

    // Both jobs settle; their outputs are fetched by hash and are what the kinds promise.
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in [embed, finetune, dedup, on_dataset] {
        net.wait_settled(&id.to_string(), deadline).await;
    }
    let result = |id: u64, file: &str| {
        let out = dir.path().join(file);
        net.cli(&[
            "job",
            "result",
            &id.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let lines = read_jsonl(&result(embed, "embeddings.jsonl"));
    assert_eq!(lines.len(), 3);
    let v: Vec<Vec<f64>> = lines.iter().map(embedding).collect();
    assert_eq!(v[0].len(), 384);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(
        dot(&v[0], &v[1]) > dot(&v[0], &v[2]),
        "cat/kitten should be closer than cat/revenue"
    );
    let bytes = std::fs::read(result(finetune, "adapter.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("lora")),
        "{header}"
    );
    let embedded = read_jsonl(&result(on_dataset, "dataset-embeddings.jsonl"));
    assert_eq!(embedded.len(), 3);
    // The same texts give the same vectors, whichever way they came in (records are in ID order).
    for e in &embedded {
        assert!(v.contains(&embedding(e)));
    }
    assert_eq!(
        std::fs::read_to_string(result(dedup, "clusters.jsonl")).unwrap(),
        "{\"id\":\"r1\",\"cluster\":\"r1\"}\n{\"id\":\"r2\",\"cluster\":\"r1\"}\n{\"id\":\"r3\",\"cluster\":\"r3\"}\n"
    );
    let units: Vec<serde_json::Value> = [embed, finetune, dedup]
        .iter()
        .map(|id| net.cli_json(&["job", "status", &id.to_string()])["units"].clone())
        .collect();
    assert_eq!(units, [3, 2, 3]);
    // The list endpoints the dashboard reads.
    let listed: Vec<serde_json::Value> = c.get("/api/v1/jobs?limit=10").await.unwrap();
    let ids: Vec<u64> = listed.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![finetune, on_dataset, dedup, embed]);
    let workers: Vec<serde_json::Value> = c.get("/api/v1/workers").await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0]["address"], worker.as_str());
    assert_eq!(workers[0]["offer"]["kinds"], 15);

    // The worker settles the session's receipts (every few seconds).
    let start = Instant::now();
    loop {
        let s: serde_json::Value = c.get(&format!("/api/v1/sessions/{session}")).await.unwrap();
        if s["count"] == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never settled: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let sessions: Vec<serde_json::Value> = c.get("/api/v1/sessions").await.unwrap();
    assert_eq!(sessions[0]["id"].to_string(), session);
    let receipts = net.cli(&["session", "receipts", "--session", &session]);
    assert_eq!(receipts.lines().count(), 2, "{receipts}");
    assert!(!receipts.contains("not settled"), "{receipts}");
    assert!(!receipts.contains("BAD"), "{receipts}");
    let text = net.cli(&["earnings", "--node", "worker"]);
    assert!(text.contains("job_fee"), "{text}");
    assert_supply_consistent(&c).await;
    devnet.kill();
}

/// A worker process killed with SIGKILL in the middle of a real fine-tuning job, then restarted
/// with the same key: the job is run again and committed once, settled once, the poster pays
/// exactly the settled fee and its transaction fees, and supply stays conserved throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_worker_killed_mid_job_resumes_and_is_paid_once() {
    let Some(models) = pinned_models(&[&SMOLLM2, &MINILM]) else {
        return;
    };
    let net = Devnet::init();
    let (node, c) = net.start_and_wait().await;
    let worker_log = net.home.join("worker.log");
    let start_worker = || {
        let mut cmd = net.mycel();
        cmd.args(["worker", "--from", "worker"])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .env("MYCEL_MODELS", models.root());
        Process::spawn(cmd, &worker_log)
    };
    let log_has = |needle: &str| {
        std::fs::read_to_string(&worker_log)
            .unwrap_or_default()
            .matches(needle)
            .count()
    };
    let worker = start_worker();
    let worker_addr = net.address("worker");
    let start = Instant::now();
    while log_has("offer published") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "worker never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let poster = net.address("dev0");
    let before = balance(&c.account(&poster).await.unwrap());
    let train = net.home.join("train.jsonl");
    std::fs::write(&train, TRAIN_JSONL).unwrap();
    let posted = net.cli_json(&[
        "job",
        "post",
        "--from",
        "dev0",
        "--kind",
        "finetune",
        "--model",
        "smollm2",
        "--input",
        train.to_str().unwrap(),
        "--max-fee",
        "5",
        "--deadline",
        "200",
        "--params",
        "{\"rank\": 2, \"steps\": 3, \"seed\": 1}",
    ]);
    assert_eq!(posted["worker"], worker_addr.to_string().as_str());
    let id = posted["job"].as_str().unwrap().to_string();
    // Kill it while the job runs.
    let start = Instant::now();
    while log_has("running job") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.kill();
    assert_eq!(
        log_has("result committed"),
        0,
        "the job finished before the kill"
    );
    let j: serde_json::Value = c.get(&format!("/api/v1/jobs/{id}")).await.unwrap();
    assert_eq!(j["status"], "assigned", "{j}");
    assert_supply_consistent(&c).await;

    // Restarted, it finds the job still assigned to it, runs it again and commits it once.
    let worker = start_worker();
    let start = Instant::now();
    let job = loop {
        let j: serde_json::Value = c.get(&format!("/api/v1/jobs/{id}")).await.unwrap();
        if j["status"] == "settled" {
            break j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "never settled: {j}\n{}",
            std::fs::read_to_string(&worker_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(log_has("result committed"), 1);
    assert_eq!(job["units"], 3);
    // The poster paid the settled fee (its share, before the protocol cut, is units × price)
    // and the fees of its one transaction; the rest of the escrow came back.
    let offer: serde_json::Value = c
        .get(&format!("/api/v1/workers/{worker_addr}/offer"))
        .await
        .unwrap();
    let price: u128 = offer["price_per_unit"].as_str().unwrap().parse().unwrap();
    let tx: serde_json::Value = c
        .get(&format!("/api/v1/txs/{}", posted["tx"].as_str().unwrap()))
        .await
        .unwrap();
    let tx_fee: u128 = tx["receipt"]["fee"].as_str().unwrap().parse().unwrap();
    let after = balance(&c.account(&poster).await.unwrap());
    assert_eq!(before - after, 3 * price + tx_fee);
    assert_supply_consistent(&c).await;
    worker.kill();
    node.kill();
}
