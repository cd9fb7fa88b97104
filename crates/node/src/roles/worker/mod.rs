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
pub mod trace;

use crate::{
    Result,
    client::{Client, SendOptions},
    http::model::ModelView,
};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message,
    modules::{
        market::{self, Job, JobKind, JobStatus, Offer},
        model,
        staking::{self, Role},
        verify::{self, Dispute, Turn},
    },
};
use mycel_primitives::{Address, Amount, Hash, PrivateKey};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};
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
    /// Finer trace leaves where the engine records them (generation: per 32-token chunk and
    /// layer, then the sampled tokens, per prompt, each prompt followed by its item): a dispute
    /// then bisects down to one chunk of one layer. Empty: the trace is the items.
    pub trace: Vec<Hash>,
}

/// Runs jobs of some kinds and models: the seam between the market and the engines.
pub trait JobRunner: Send + Sync {
    /// The job kinds this runner serves.
    fn kinds(&self) -> Vec<JobKind>;
    /// The model IDs this runner serves.
    fn models(&self) -> Vec<Hash>;
    /// Runs `job` on its input bytes.
    fn run(&self, job: &Job, input: &[u8]) -> Result<JobOutput>;
    /// Starts serving the registered adapter `id` on `base` from its file; `Ok(false)` when this
    /// runner does not serve adapters on that base (or has no room). Fails when the file does not
    /// give `id`.
    fn adopt(&self, id: &Hash, base: &Hash, file: &[u8]) -> Result<bool> {
        let _ = (id, base, file);
        Ok(false)
    }
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
    fn adopt(&self, id: &Hash, base: &Hash, file: &[u8]) -> Result<bool> {
        (**self).adopt(id, base, file)
    }
}

/// Loads registered adapter `id` into `runner` if it is an adapter on one of the runner's models
/// (and, with `licenses`, under one of them): fetches its file by the hash the chain records and
/// checks that loading it gives `id`. The outer error is the node's (retry later); the inner
/// one says why this adapter cannot be served (do not retry). `Ok(Ok(false))`: not one for this
/// runner.
pub async fn adopt_registered<R: JobRunner>(
    client: &Client,
    runner: &R,
    id: &Hash,
    licenses: Option<&str>,
) -> Result<std::result::Result<bool, crate::Error>> {
    let v: ModelView = client.get(&format!("/api/v1/models/{id}")).await?;
    let r = &v.version.registration;
    let [base] = r.parents[..] else {
        return Ok(Ok(false));
    };
    if r.kind != model::ModelKind::Adapter
        || !runner.models().contains(&base)
        || licenses.is_some_and(|l| !model::accepts(l, &r.license))
    {
        return Ok(Ok(false));
    }
    let file = client.get_blob(&r.files).await?;
    Ok(tokio::task::block_in_place(|| {
        runner.adopt(id, &base, &file)
    }))
}

/// Polls between two scans for newly registered adapters.
const ADAPTER_SCAN_POLLS: u64 = 6;

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
    /// Licences accepted for registered models, comma-separated (published in the offer).
    pub licenses: String,
}

/// The licences a worker accepts unless told otherwise: common permissive and open-weights
/// licences. A model under anything else (a custom `LicenseRef-…`, a non-commercial licence) is
/// served only by workers that list it.
pub const DEFAULT_LICENSES: &str =
    "Apache-2.0,MIT,BSD-2-Clause,BSD-3-Clause,CC0-1.0,CC-BY-4.0,CC-BY-SA-4.0";

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            price_per_unit: Amount(1_000),
            stake: Amount::from_myc(100),
            endpoint: String::new(),
            poll: Duration::from_millis(500),
            licenses: DEFAULT_LICENSES.into(),
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
    /// Trace leaves of the results this process committed (rebuilt by replay after a restart).
    traces: BTreeMap<u64, Vec<Hash>>,
    /// Adapters on this worker's models already looked at (served, refused or failed).
    adapters_seen: BTreeSet<Hash>,
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
            traces: BTreeMap::new(),
            adapters_seen: BTreeSet::new(),
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
        self.publish_offer().await
    }

    /// Publishes (or replaces) the offer: kinds, the models served now, price, licences.
    async fn publish_offer(&self) -> Result<()> {
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
            licenses: self.cfg.licenses.clone(),
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

    async fn leaves_of(&mut self, job: &Job) -> Result<Vec<Hash>> {
        if let Some(l) = self.traces.get(&job.id) {
            return Ok(l.clone());
        }
        let input = self.client.job_input(job).await?;
        let r = tokio::task::block_in_place(|| trace::replay(&self.runner, job, &input))?;
        self.traces.insert(job.id, r.leaves.clone());
        Ok(r.leaves)
    }

    /// Answers the disputes over this worker's results: reveals the children of the disputed
    /// node each round and, at the last step, puts it to the validator set (the ML engines'
    /// steps are not ones the chain's integer referee can recompute). Returns the moves made.
    pub async fn defend(&mut self) -> Result<usize> {
        let disputes: Vec<Dispute> = self.client.get("/api/v1/disputes").await?;
        let mut moves = 0;
        for d in disputes {
            if !matches!(d.turn, Turn::Split | Turn::Resolve) {
                continue;
            }
            let job: Job = self.client.get(&format!("/api/v1/jobs/{}", d.job)).await?;
            if job.worker != self.address() {
                continue;
            }
            let msg = if d.turn == Turn::Split {
                let leaves = self.leaves_of(&job).await?;
                let Some((left, right)) = trace::children(&d, &leaves) else {
                    warn!(target: "mycel::worker", dispute = d.id, "disputed node outside this worker's trace");
                    continue;
                };
                verify::Msg::Split {
                    dispute: d.id,
                    left,
                    right,
                }
            } else {
                verify::Msg::Resolve {
                    dispute: d.id,
                    witness: Vec::new(),
                }
            };
            self.send(Message::Verify(msg)).await?;
            info!(target: "mycel::worker", dispute = d.id, job = d.job, round = d.rounds, "dispute move sent");
            moves += 1;
        }
        Ok(moves)
    }

    async fn run_one(&mut self, job: &Job) -> Result<()> {
        let input = self.client.job_input(job).await?;
        info!(target: "mycel::worker", job = job.id, kind = ?job.kind, input = %job.input, "running job");
        let runner_out = tokio::task::block_in_place(|| self.runner.run(job, &input))?;
        let output = self
            .client
            .put_blob(&self.key, runner_out.bytes.clone())
            .await?;
        let leaves = trace::leaves(&runner_out);
        self.send(Message::Market(market::Msg::CommitResult {
            job: job.id,
            output,
            units: runner_out.units.max(1),
            trace_root: mycel_primitives::merkle::root(&leaves),
            trace_len: leaves.len() as u64,
        }))
        .await?;
        self.traces.insert(job.id, leaves);
        info!(target: "mycel::worker", job = job.id, units = runner_out.units, %output, "result committed");
        Ok(())
    }

    /// Starts serving the adapters registered on this worker's models whose licence the worker
    /// accepts (fine-tunes the network wrote, and imported ones), each checked against its
    /// registered ID by loading it; republishes the offer when it serves new ones. Returns how
    /// many were added.
    pub async fn sync_adapters(&mut self) -> Result<usize> {
        let mut added = 0;
        for base in self.runner.models() {
            let Ok(view) = self
                .client
                .get::<ModelView>(&format!("/api/v1/models/{base}"))
                .await
            else {
                continue;
            };
            for child in view.children {
                if self.adapters_seen.contains(&child) {
                    continue;
                }
                // A blob not reachable yet is retried at the next scan.
                match adopt_registered(&self.client, &self.runner, &child, Some(&self.cfg.licenses))
                    .await?
                {
                    Ok(true) => {
                        added += 1;
                        info!(target: "mycel::worker", model = %child, %base, "serving adapter");
                    }
                    Ok(false) => {}
                    Err(e) => {
                        warn!(target: "mycel::worker", model = %child, error = %e, "adapter refused")
                    }
                }
                self.adapters_seen.insert(child);
            }
        }
        if added > 0 {
            self.publish_offer().await?;
        }
        Ok(added)
    }

    /// Registers, then runs jobs until the process stops.
    pub async fn run(mut self) -> Result<()> {
        self.register().await?;
        let mut polls = 0u64;
        loop {
            // New adapters are looked for every few seconds, not every poll.
            if polls.is_multiple_of(ADAPTER_SCAN_POLLS)
                && let Err(e) = self.sync_adapters().await
            {
                warn!(target: "mycel::worker", error = %e, "adapter scan failed; retrying");
            }
            polls += 1;
            if let Err(e) = self.step().await {
                warn!(target: "mycel::worker", error = %e, "poll failed; retrying");
            }
            if let Err(e) = self.defend().await {
                warn!(target: "mycel::worker", error = %e, "dispute move failed; retrying");
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}
