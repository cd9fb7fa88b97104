//! Batch jobs: a worker runs an assigned job once and is paid at settlement.

use crate::common::{MODEL, assert_supply_consistent, start_node};
use mycel_ledger::{
    Message,
    modules::market::{self, Job, JobKind, JobStatus},
};
use mycel_node::{
    keystore::Keystore,
    roles::worker::{JobOutput, JobRunner, Worker, WorkerConfig},
};
use mycel_primitives::{Amount, Hash};
use std::time::Duration;

/// Test double: upper-cases the input, one unit per byte, one item per line.
struct UppercaseRunner;

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
            trace: Vec::new(),
        })
    }
}

/// A worker registers, runs the job assigned to it, commits the output once (a restarted
/// worker finds nothing left to do) and is paid the fee, less the protocol cut, at settlement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_an_assigned_job_once_and_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let (home, client) = start_node(dir.path()).await;
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

    let input = client
        .put_blob(&poster, b"hello\nworld".to_vec())
        .await
        .unwrap();
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
    assert_supply_consistent(&client).await;
}
