//! The model registry on a real in-process node with the tiny random-weight models: a fine-tune
//! settles and the network registers its adapter as a child of the base; the worker then serves
//! the adapter (LoRA attached at load) by its ID; the lineage proof verifies offline and a
//! tampered one does not; the gateway refuses a gated model to an account without a grant.

use crate::common::{GenRunner, MODEL, send_tx, start_node, start_node_with};
use mycel_ledger::{
    Message,
    modules::{
        market::{self, Job, JobKind, JobStatus, Offer},
        model::{self, Access, ModelKind, Registration},
    },
};
use mycel_ml::registry::ModelStore;
use mycel_node::{
    client::Client,
    http::model::ModelView,
    keystore::Keystore,
    roles::{
        gateway::ApiKeys,
        worker::{Worker, WorkerConfig, runners::MlRunner},
    },
    services::models::{Lineage, LineageProof, verify_lineage},
};
use mycel_primitives::{Amount, Hash, PrivateKey};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

fn registration(id: Hash, name: &str, access: Access) -> Registration {
    Registration {
        id,
        name: name.into(),
        kind: ModelKind::Base,
        parents: vec![],
        datasets: vec![],
        files: Hash([0xf1; 32]),
        license: "Apache-2.0".into(),
        license_text: Hash::ZERO,
        access,
        card: Hash::ZERO,
        card_bytes: 0,
    }
}

fn base(id: Hash, name: &str, access: Access) -> Message {
    Message::Model(model::Msg::Register(Box::new(registration(
        id, name, access,
    ))))
}

fn post(kind: JobKind, model: Hash, input: Hash, params: &str) -> Message {
    Message::Market(market::Msg::PostJob {
        kind,
        model,
        input,
        params: params.as_bytes().to_vec(),
        max_fee: Amount::from_myc(1),
        deadline_blocks: 200,
    })
}

async fn job(c: &Client, id: u64) -> Job {
    c.get(&format!("/api/v1/jobs/{id}")).await.unwrap()
}

/// Runs the worker until job `id` is committed, then waits for it to settle.
async fn run_to_settlement(c: &Client, w: &mut Worker<Arc<MlRunner>>, id: u64) -> Job {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        w.step().await.unwrap();
        let j = job(c, id).await;
        match j.status {
            JobStatus::Settled => return j,
            JobStatus::Failed | JobStatus::Rejected => panic!("job {id}: {:?}", j.status),
            _ if Instant::now() > deadline => panic!("job {id} not settled: {:?}", j.status),
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

fn key(home: &mycel_node::Home, name: &str) -> PrivateKey {
    Keystore::new(home.keys_dir())
        .load(name)
        .unwrap()
        .private_key()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_finetune_becomes_a_served_adapter_with_a_verifiable_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let (home, c) = start_node(dir.path()).await;
    let (owner, worker_key) = (key(&home, "dev0"), key(&home, "dev1"));
    let runner = Arc::new(
        MlRunner::load(
            ModelStore::new(dir.path().join("models")),
            1,
            "tiny-llama",
            "tiny-bert",
        )
        .unwrap(),
    );
    let base_id = runner.generator_id();
    let r = send_tx(&c, &owner, base(base_id, "tiny-llama", Access::Public)).await;
    assert!(r.success, "{}", r.error);
    let mut w = Worker::new(
        c.clone(),
        worker_key.clone(),
        runner.clone(),
        WorkerConfig::default(),
    );
    w.register().await.unwrap();

    // A fine-tune on the base: when it settles, the chain registers its adapter as a child.
    let data = c
        .put_blob(
            &owner,
            b"{\"text\": \"zq zq zq zq zq zq zq zq zq zq\"}\n".to_vec(),
        )
        .await
        .unwrap();
    let r = send_tx(
        &c,
        &owner,
        post(JobKind::Finetune, base_id, data, r#"{"steps":4,"lr":0.05}"#),
    )
    .await;
    assert!(r.success, "{}", r.error);
    let ft = run_to_settlement(&c, &mut w, 0).await;
    let adapter = mycel_primitives::hash::adapter_model_id(&base_id, &ft.output);
    let v: ModelView = c.get(&format!("/api/v1/models/{adapter}")).await.unwrap();
    assert_eq!(v.version.registration.kind, ModelKind::Adapter);
    assert_eq!(v.version.registration.parents, vec![base_id]);
    assert_eq!((v.version.job, v.version.attested), (Some(0), true));
    assert_eq!(
        v.version.owner,
        mycel_primitives::Address::from_public_key(&commonware_cryptography::Signer::public_key(
            &owner
        ))
    );
    let b: ModelView = c.get(&format!("/api/v1/models/{base_id}")).await.unwrap();
    assert_eq!(b.children, vec![adapter]);
    let lineage: Lineage = c
        .get(&format!("/api/v1/models/{adapter}/lineage"))
        .await
        .unwrap();
    assert!(
        lineage
            .edges
            .iter()
            .any(|e| e.from == format!("model:{base_id}")
                && e.to == format!("model:{adapter}")
                && e.relation == "adapter")
    );
    assert!(
        lineage
            .edges
            .iter()
            .any(|e| e.from == "job:0" && e.relation == "produced")
    );
    let text = reqwest::get(format!(
        "{}/api/v1/models/{adapter}/lineage?format=text",
        c.base()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(text.contains("made by job 0"), "{text}");

    // The worker picks the adapter up, offers it, and runs jobs on it with the LoRA applied.
    assert_eq!(w.sync_adapters().await.unwrap(), 1);
    assert_eq!(w.sync_adapters().await.unwrap(), 0, "adopted once");
    let offer: Offer = c
        .get(&format!("/api/v1/workers/{}/offer", w.address()))
        .await
        .unwrap();
    assert!(offer.models.contains(&adapter));
    let prompts = c
        .put_blob(&owner, b"{\"prompt\": \"zq\"}\n".to_vec())
        .await
        .unwrap();
    let params = r#"{"max_tokens":8}"#;
    for m in [base_id, adapter] {
        let r = send_tx(&c, &owner, post(JobKind::Generate, m, prompts, params)).await;
        assert!(r.success, "{}", r.error);
    }
    let on_base = run_to_settlement(&c, &mut w, 1).await;
    let on_adapter = run_to_settlement(&c, &mut w, 2).await;
    let line = |h: &Hash| {
        let c = c.clone();
        let h = *h;
        async move {
            let bytes = c.get_blob(&h).await.unwrap();
            let v: serde_json::Value =
                serde_json::from_slice(bytes.split(|b| *b == b'\n').next().unwrap()).unwrap();
            v["logits_hash"].as_str().unwrap().to_string()
        }
    };
    assert_ne!(
        line(&on_base.output).await,
        line(&on_adapter.output).await,
        "the adapter's generation must differ from the base's"
    );

    // The lineage proof verifies offline against the genesis validators; a tampered one fails.
    let proof: LineageProof = c
        .get(&format!("/api/v1/models/{adapter}/proof"))
        .await
        .unwrap();
    let validators = home.genesis().unwrap().validator_keys().unwrap();
    let (checks, versions) = verify_lineage(&proof, Some(&validators));
    assert!(checks.iter().all(|c| c.ok == Some(true)), "{checks:?}");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].registration.id, adapter);
    let mut forged = proof.clone();
    // Claim the adapter was declared by its owner, not written by the network.
    let mut v = versions[0].clone();
    v.attested = false;
    forged.entries[0].value = hex::encode(mycel_primitives::codec::Encode::encode(&v));
    let (checks, _) = verify_lineage(&forged, Some(&validators));
    assert!(checks.iter().any(|c| c.ok == Some(false)), "{checks:?}");
    // Dropping the base's entry breaks the ancestry.
    let mut partial = proof.clone();
    partial.entries.truncate(1);
    let (checks, _) = verify_lineage(&partial, Some(&validators));
    assert!(
        checks
            .iter()
            .any(|c| c.check == "ancestors" && c.ok == Some(false)),
        "{checks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_a_gated_model_without_a_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (home, c) = start_node_with(dir.path(), true).await;
    let owner = key(&home, "dev2");
    Worker::new(
        c.clone(),
        key(&home, "dev1"),
        GenRunner,
        WorkerConfig {
            endpoint: "http://127.0.0.1:9".into(),
            ..Default::default()
        },
    )
    .register()
    .await
    .unwrap();
    let r = send_tx(&c, &owner, base(MODEL, "gated-model", Access::Gated)).await;
    assert!(r.success, "{}", r.error);
    let keys = ApiKeys::open(home.gateway_dir()).unwrap();
    let dev0 = Keystore::new(home.keys_dir()).load("dev0").unwrap();
    let (secret, _) = keys
        .create("test", "dev0", dev0.address, None, None)
        .unwrap();
    let body = format!(
        r#"{{"model":"{}","messages":[{{"role":"user","content":"hi"}}],"max_tokens":4}}"#,
        MODEL.to_hex()
    );
    let chat = || {
        reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", c.base()))
            .bearer_auth(&secret)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let r = chat().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_access_denied", "{v}");
    assert_eq!(v["error"]["param"], "model");
    assert!(v["error"]["message"].as_str().unwrap().contains("no grant"));
    // A public model derived from the gated one is refused too: the grant is the base's.
    let derived = Hash([0xde; 32]);
    let r = send_tx(
        &c,
        &owner,
        Message::Model(model::Msg::Register(Box::new(Registration {
            kind: ModelKind::Finetune,
            parents: vec![MODEL],
            ..registration(derived, "derived-model", Access::Public)
        }))),
    )
    .await;
    assert!(r.success, "{}", r.error);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", c.base()))
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .body(body.replace(&MODEL.to_hex(), &derived.to_hex()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let access: serde_json::Value = c
        .get(&format!("/api/v1/models/{derived}/access/{}", dev0.address))
        .await
        .unwrap();
    assert_eq!(access["allowed"], false, "{access}");
    assert!(
        access["reason"].as_str().unwrap().contains(&MODEL.to_hex()),
        "{access}"
    );
    // No session was opened for the refused account.
    assert!(
        c.get::<market::Session>("/api/v1/sessions/0")
            .await
            .is_err(),
        "a session was opened"
    );
    // Granted, the same key gets past the policy (to the worker, which is not listening here).
    let r = send_tx(
        &c,
        &owner,
        Message::Model(model::Msg::Grant {
            model: MODEL,
            grantee: dev0.address,
        }),
    )
    .await;
    assert!(r.success, "{}", r.error);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = chat().await.unwrap();
    assert_ne!(r.status().as_u16(), 403, "{:?}", r.text().await);

    // Bad lookups get the one error shape.
    for (path, status, code) in [
        ("/api/v1/models/zz".to_string(), 400, "bad_request"),
        (
            format!("/api/v1/models/{}", "00".repeat(32)),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/models/{}/lineage", "11".repeat(32)),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/models/{MODEL}/lineage?format=svg"),
            400,
            "bad_request",
        ),
        (
            format!("/api/v1/models/{}/proof", "11".repeat(32)),
            404,
            "not_found",
        ),
        (
            "/api/v1/models?owner=nobody".to_string(),
            400,
            "bad_request",
        ),
    ] {
        let r = reqwest::get(format!("{}{path}", c.base())).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{path}: {v}");
    }
}
