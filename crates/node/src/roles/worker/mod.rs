//! The worker role: publishes an offer, watches the chain for jobs assigned to it, fetches their
//! inputs by hash, runs them, stores the outputs as blobs and commits the results.
//!
//! A job's input is a blob, or a registered dataset: then the worker fetches the dataset's signed
//! manifest by the address its registration records, checks it against the registered root, and
//! reassembles every record from its chunks (each checked against its hash) into JSONL lines
//! `{"id", "text"}`, the form the engines read.
//!
//! The chain is the worker's only memory: on start (and after a crash) it asks for the jobs
//! assigned to it that still wait for a result and runs them. A result can be committed only
//! once, so a restart never charges twice; a job the worker cannot finish before its deadline is
//! reassigned by the ledger.

pub mod runners;
pub mod sessions;
pub mod start;

use crate::{
    Error, Result,
    client::{Client, SendOptions},
};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message,
    modules::{
        market::{self, Job, JobKind, JobStatus, Offer},
        staking::{self, Role},
    },
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use std::{collections::BTreeSet, time::Duration};
use tracing::{info, warn};

/// What running a job produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutput {
    /// The output bytes (stored as a blob).
    pub bytes: Vec<u8>,
    /// Work units done (what the job is billed for).
    pub units: u64,
    /// Hashes of the individual results (one per item), whose Merkle root is committed so that a
    /// verifier can check any single item.
    pub items: Vec<Hash>,
}

/// Runs jobs of some kinds and models: the seam between the market and the engines.
pub trait JobRunner: Send + Sync {
    /// The job kinds this runner serves.
    fn kinds(&self) -> Vec<JobKind>;
    /// The model IDs this runner serves.
    fn models(&self) -> Vec<Hash>;
    /// Runs `job` on its input bytes.
    fn run(&self, job: &Job, input: &[u8]) -> Result<JobOutput>;
}

impl<T: JobRunner> JobRunner for std::sync::Arc<T> {
    fn kinds(&self) -> Vec<JobKind> {
        (**self).kinds()
    }
    fn models(&self) -> Vec<Hash> {
        (**self).models()
    }
    fn run(&self, job: &Job, input: &[u8]) -> Result<JobOutput> {
        (**self).run(job, input)
    }
}

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Price per work unit.
    pub price_per_unit: Amount,
    /// Stake to bond as a worker if the account has less than the chain minimum.
    pub stake: Amount,
    /// Endpoint published in the offer.
    pub endpoint: String,
    /// How often to look for new jobs.
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            price_per_unit: Amount(1_000),
            stake: Amount::from_myc(100),
            endpoint: String::new(),
            poll: Duration::from_millis(500),
        }
    }
}

/// A worker bound to one key and one node API.
pub struct Worker<R: JobRunner> {
    client: Client,
    key: PrivateKey,
    runner: R,
    cfg: WorkerConfig,
    done: BTreeSet<u64>,
}

impl<R: JobRunner> Worker<R> {
    /// A worker signing with `key`, talking to the node behind `client`.
    pub fn new(client: Client, key: PrivateKey, runner: R, cfg: WorkerConfig) -> Self {
        Worker {
            client,
            key,
            runner,
            cfg,
            done: BTreeSet::new(),
        }
    }

    /// The worker's address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    async fn send(&self, msg: Message) -> Result<()> {
        self.client
            .send(&self.key, msg, &SendOptions::default())
            .await
            .map(|_| ())
    }

    /// Bonds worker stake if needed and publishes the offer.
    pub async fn register(&self) -> Result<()> {
        let staked = self
            .client
            .account(&self.address())
            .await?
            .stake(Role::Worker);
        if staked < self.cfg.stake {
            let need = Amount(self.cfg.stake.0 - staked.0);
            info!(target: "mycel::worker", amount = %need, "bonding worker stake");
            self.send(Message::Staking(staking::Msg::Bond {
                role: Role::Worker,
                amount: need,
            }))
            .await?;
        }
        let kinds = self
            .runner
            .kinds()
            .iter()
            .fold(0u8, |acc, k| acc | (1 << (*k as u8)));
        let offer = Offer {
            kinds,
            models: self.runner.models(),
            hardware: format!(
                "cpu-{}c",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            price_per_unit: self.cfg.price_per_unit,
            endpoint: self.cfg.endpoint.clone(),
        };
        self.send(Message::Market(market::Msg::Offer(Box::new(offer))))
            .await?;
        info!(target: "mycel::worker", address = %self.address(), "offer published");
        Ok(())
    }

    /// Runs every job currently assigned to this worker that waits for a result; returns how
    /// many were committed.
    pub async fn step(&mut self) -> Result<usize> {
        let jobs: Vec<Job> = self
            .client
            .get(&format!("/api/v1/workers/{}/jobs", self.address()))
            .await?;
        let mut committed = 0;
        let waiting: Vec<Job> = jobs
            .into_iter()
            .filter(|j| j.status == JobStatus::Assigned && !self.done.contains(&j.id))
            .collect();
        for job in waiting {
            match self.run_one(&job).await {
                Ok(()) => {
                    committed += 1;
                    self.done.insert(job.id);
                }
                Err(e) => {
                    warn!(target: "mycel::worker", job = job.id, error = %e, "job failed; the deadline will reassign it")
                }
            }
        }
        Ok(committed)
    }

    /// The input bytes of `job`: its blob, or the records of the registered dataset it names.
    async fn input_of(&self, job: &Job) -> Result<Vec<u8>> {
        let registered: Option<mycel_ledger::modules::data::Dataset> = self
            .client
            .get(&format!("/api/v1/datasets/{}", job.input))
            .await
            .ok();
        let Some(ds) = registered else {
            return self.client.get_blob(&job.input).await;
        };
        let invalid = |why: String| Error::Invalid {
            what: format!("dataset {}", job.input),
            why,
        };
        let bytes = self.client.get_blob(&ds.registration.manifest).await?;
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
                record.extend(self.client.get_blob(&c.hash).await?);
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

    async fn run_one(&self, job: &Job) -> Result<()> {
        let input = self.input_of(job).await?;
        info!(target: "mycel::worker", job = job.id, kind = ?job.kind, input = %job.input, "running job");
        let runner_out = tokio::task::block_in_place(|| self.runner.run(job, &input))?;
        let output = self.client.put_blob(runner_out.bytes.clone()).await?;
        let trace_root = mycel_verify::result_commitment(&runner_out.items);
        self.send(Message::Market(market::Msg::CommitResult {
            job: job.id,
            output,
            units: runner_out.units.max(1),
            trace_root,
            trace_len: runner_out.items.len().max(1) as u64,
        }))
        .await?;
        info!(target: "mycel::worker", job = job.id, units = runner_out.units, %output, "result committed");
        Ok(())
    }

    /// Registers, then runs jobs until the process stops.
    pub async fn run(mut self) -> Result<()> {
        self.register().await?;
        loop {
            if let Err(e) = self.step().await {
                warn!(target: "mycel::worker", error = %e, "poll failed; retrying");
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}
