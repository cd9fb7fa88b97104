//! The worker role against a real in-process node.

use mycel_ledger::{
    Message,
    modules::market::{self, Job, JobKind, JobStatus},
};
use mycel_node::{
    Home,
    client::Client,
    init::{InitOptions, init},
    keystore::Keystore,
    node::{RunOptions, run},
    worker::{JobOutput, JobRunner, Worker, WorkerConfig},
};
use mycel_primitives::{Amount, Hash};
use std::{sync::mpsc, time::Duration};

/// Test double: upper-cases the input, one unit per byte, one item per line.
struct UppercaseRunner;

const MODEL: Hash = Hash([7; 32]);

impl JobRunner for UppercaseRunner {
    fn kinds(&self) -> Vec<JobKind> {
        vec![JobKind::Dedup]
    }
    fn models(&self) -> Vec<Hash> {
        vec![MODEL]
    }
    fn run(&self, _job: &Job, input: &[u8]) -> mycel_node::Result<JobOutput> {
        let out = input.to_ascii_uppercase();
        let items = out
            .split(|b| *b == b'\n')
            .map(mycel_store::blob_hash)
            .collect();
        Ok(JobOutput {
            units: input.len() as u64,
            items,
            bytes: out,
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_an_assigned_job_once_and_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let home = Home(dir.path().join("home"));
    let mut opts = InitOptions::default();
    opts.config.api_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    opts.config.p2p_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    init(&home, &opts).unwrap();
    let (tx, rx) = mpsc::channel();
    let node_home = home.clone();
    std::thread::spawn(move || {
        let on_ready = std::sync::Arc::new(move |a| {
            let _ = tx.send(a);
        });
        run(
            &node_home,
            RunOptions {
                on_ready: Some(on_ready),
                ..Default::default()
            },
        )
        .unwrap();
    });
    let api =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
    let client = Client::new(&format!("http://{api}"));
    let ks = Keystore::new(home.keys_dir());
    let worker_key = ks.load("dev1").unwrap().private_key().unwrap();
    let poster = ks.load("dev0").unwrap().private_key().unwrap();

    let mut worker = Worker::new(
        client.clone(),
        worker_key.clone(),
        UppercaseRunner,
        WorkerConfig::default(),
    );
    worker.register().await.unwrap();
    // Nothing assigned yet.
    assert_eq!(worker.step().await.unwrap(), 0);

    let input = client.put_blob(b"hello\nworld".to_vec()).await.unwrap();
    let post = Message::Market(market::Msg::PostJob {
        kind: JobKind::Dedup,
        model: MODEL,
        input,
        params: b"{}".to_vec(),
        max_fee: Amount::from_myc(1),
        deadline_blocks: 60,
    });
    let tx = client.sign(&poster, vec![post], None, "").await.unwrap();
    let h = client.submit(&tx).await.unwrap();
    assert_eq!(
        client
            .wait(&h, Duration::from_secs(30))
            .await
            .unwrap()
            .status,
        "finalized"
    );

    assert_eq!(worker.step().await.unwrap(), 1);
    let job: Job = client.get("/api/v1/jobs/0").await.unwrap();
    assert_eq!(job.status, JobStatus::Committed);
    assert_eq!(client.get_blob(&job.output).await.unwrap(), b"HELLO\nWORLD");
    assert_eq!(job.units, 11);
    // A restarted worker (fresh process state) finds nothing left to do: no double commit.
    let mut restarted = Worker::new(
        client.clone(),
        worker_key,
        UppercaseRunner,
        WorkerConfig::default(),
    );
    assert_eq!(restarted.step().await.unwrap(), 0);
    // Settlement after the challenge window pays the worker.
    let start = std::time::Instant::now();
    loop {
        let job: Job = client.get("/api/v1/jobs/0").await.unwrap();
        if job.status == JobStatus::Settled {
            assert_eq!(job.fee.0, 11 * 1_000 - 11 * 1_000 * 500 / 10_000);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let audit: serde_json::Value = client.get("/api/v1/supply").await.unwrap();
    assert_eq!(audit["consistent"], true);
}
