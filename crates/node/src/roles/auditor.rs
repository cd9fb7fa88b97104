//! The auditor role: replays the results the ledger assigns it, seals then reveals its verdict,
//! and plays the challenger's side of the disputes its mismatches open. Given a validator key it
//! also votes on disputed steps the chain's referee cannot recompute (real-model jobs): the
//! validator replays the job and compares the one disputed leaf.
//!
//! A replay runs the job through the same [`JobRunner`] a worker uses, on the input fetched by
//! hash, with the ledger's seed, so an honest result matches bit for bit. The seal's salt is
//! derived from the auditor's own signature over the audit ID: unpredictable to others, and
//! recomputed after a restart, so a crash between seal and reveal loses nothing.

use super::worker::{
    JobRunner,
    runners::MlRunner,
    start::load_runner,
    trace::{Replay, pick, replay},
};
use crate::{
    Home, Result,
    client::{Client, SendOptions},
    keystore::Keystore,
};
use commonware_cryptography::Signer;
use mycel_ledger::{
    Message,
    modules::{
        market::{Job, JobStatus},
        staking::{self, Role},
        verify::{self, Audit, AuditStage, Dispute, Turn},
    },
};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey,
    hash::{Domain, hash},
    keys,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};
use tracing::{info, warn};

/// Signature namespace of the auditor's salt derivation.
const SALT_NAMESPACE: &[u8] = b"_MYCEL_AUDIT_SALT";

/// Auditor settings.
#[derive(Clone, Debug)]
pub struct AuditorConfig {
    /// Stake to bond as an auditor if the account has less.
    pub stake: Amount,
    /// How often to look for work.
    pub poll: Duration,
}

impl Default for AuditorConfig {
    fn default() -> Self {
        AuditorConfig {
            stake: Amount::from_myc(100),
            poll: Duration::from_millis(500),
        }
    }
}

/// An auditor bound to one key and one node API, optionally also voting as a validator.
pub struct Auditor<R: JobRunner> {
    client: Client,
    key: PrivateKey,
    validator: Option<PrivateKey>,
    runner: R,
    cfg: AuditorConfig,
    replays: BTreeMap<u64, Replay>,
    voted: BTreeSet<u64>,
}

impl<R: JobRunner> Auditor<R> {
    /// An auditor signing with `key`.
    pub fn new(client: Client, key: PrivateKey, runner: R, cfg: AuditorConfig) -> Self {
        Auditor {
            client,
            key,
            validator: None,
            runner,
            cfg,
            replays: BTreeMap::new(),
            voted: BTreeSet::new(),
        }
    }

    /// Also votes, with validator key `key`, on disputed steps put to the validator set.
    pub fn with_validator(mut self, key: PrivateKey) -> Self {
        self.validator = Some(key);
        self
    }

    /// The auditor's address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    fn salt(&self, audit: u64) -> Hash {
        let sig = keys::sign(&self.key, SALT_NAMESPACE, &audit.to_be_bytes());
        hash(Domain::Verdict, sig.as_ref())
    }

    async fn send(&self, key: &PrivateKey, msg: Message) -> Result<()> {
        self.client
            .send(key, msg, &SendOptions::default())
            .await
            .map(|_| ())
    }

    /// Bonds auditor stake if needed.
    pub async fn register(&self) -> Result<()> {
        let staked = self
            .client
            .account(&self.address())
            .await?
            .stake(Role::Auditor);
        if staked < self.cfg.stake {
            let need = Amount(self.cfg.stake.0 - staked.0);
            info!(target: "mycel::auditor", amount = %need, "bonding auditor stake");
            self.send(
                &self.key,
                Message::Staking(staking::Msg::Bond {
                    role: Role::Auditor,
                    amount: need,
                }),
            )
            .await?;
        }
        Ok(())
    }

    async fn replay_of(&mut self, job: &Job) -> Result<Replay> {
        if let Some(r) = self.replays.get(&job.id) {
            return Ok(r.clone());
        }
        // A job on a registered adapter the runner does not hold yet: load it as the worker
        // did (auditing is not serving, so no licence filter).
        if !self.runner.models().contains(&job.model) {
            match crate::roles::worker::adopt_registered(
                &self.client,
                &self.runner,
                &job.model,
                None,
            )
            .await?
            {
                Ok(_) => {}
                Err(e) => {
                    warn!(target: "mycel::auditor", job = job.id, model = %job.model, error = %e, "cannot load the job's adapter")
                }
            }
        }
        let input = self.client.job_input(job).await?;
        let r = tokio::task::block_in_place(|| replay(&self.runner, job, &input))?;
        self.replays.insert(job.id, r.clone());
        Ok(r)
    }

    /// Seals or reveals every open audit, plays its disputes and votes; returns the moves made.
    pub async fn step(&mut self) -> Result<usize> {
        let mut moves = 0;
        let audits: Vec<Audit> = self
            .client
            .get(&format!("/api/v1/auditors/{}/audits", self.address()))
            .await?;
        for a in audits {
            match self.audit(&a).await {
                Ok(()) => moves += 1,
                Err(e) => {
                    warn!(target: "mycel::auditor", audit = a.id, error = %e, "audit step failed; retrying")
                }
            }
        }
        let disputes: Vec<Dispute> = self.client.get("/api/v1/disputes").await?;
        for d in disputes {
            match self.dispute(&d).await {
                Ok(true) => moves += 1,
                Ok(false) => {}
                Err(e) => {
                    warn!(target: "mycel::auditor", dispute = d.id, error = %e, "dispute move failed; retrying")
                }
            }
        }
        Ok(moves)
    }

    async fn audit(&mut self, a: &Audit) -> Result<()> {
        let job: Job = self.client.get(&format!("/api/v1/jobs/{}", a.job)).await?;
        let r = self.replay_of(&job).await?;
        let salt = self.salt(a.id);
        let msg = match a.stage {
            AuditStage::Sealing => verify::Msg::Seal {
                audit: a.id,
                sealed: verify::seal(a.id, &self.address(), &r.digest, &r.root(), &salt),
            },
            _ => verify::Msg::Reveal {
                audit: a.id,
                digest: r.digest,
                trace_root: r.root(),
                salt,
            },
        };
        let verdict = if r.digest == a.claim {
            "match"
        } else {
            "mismatch"
        };
        self.send(&self.key, Message::Verify(msg)).await?;
        info!(target: "mycel::auditor", audit = a.id, job = a.job, stage = ?a.stage, verdict, "audit move sent");
        Ok(())
    }

    async fn dispute(&mut self, d: &Dispute) -> Result<bool> {
        if d.turn == Turn::Pick && d.challenger == self.address() {
            let job: Job = self.client.get(&format!("/api/v1/jobs/{}", d.job)).await?;
            let mine = self.replay_of(&job).await?;
            let right = pick(d, &mine.leaves);
            self.send(
                &self.key,
                Message::Verify(verify::Msg::Pick {
                    dispute: d.id,
                    right,
                }),
            )
            .await?;
            return Ok(true);
        }
        if d.turn == Turn::Vote
            && !self.voted.contains(&d.id)
            && let Some(v) = self.validator.clone()
        {
            let job: Job = self.client.get(&format!("/api/v1/jobs/{}", d.job)).await?;
            if job.status != JobStatus::Committed {
                return Ok(false);
            }
            let mine = self.replay_of(&job).await?;
            let worker_right = mine.leaves.get(d.offset as usize) == Some(&d.node);
            let sent = self
                .send(
                    &v,
                    Message::Verify(verify::Msg::Vote {
                        dispute: d.id,
                        worker_right,
                    }),
                )
                .await;
            // One vote per validator: a refused second vote is not worth retrying either.
            self.voted.insert(d.id);
            sent?;
            info!(target: "mycel::auditor", dispute = d.id, worker_right, "validator vote sent");
            return Ok(true);
        }
        Ok(false)
    }

    /// Registers, then audits until the process stops.
    pub async fn run(mut self) -> Result<()> {
        self.register().await?;
        info!(target: "mycel::auditor", address = %self.address(), "auditing");
        loop {
            if let Err(e) = self.step().await {
                warn!(target: "mycel::auditor", error = %e, "audit round failed; retrying");
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }
}

/// How to run an auditor.
#[derive(Clone, Debug)]
pub struct AuditorOptions {
    /// Key that bonds and signs verdicts.
    pub key: String,
    /// Validator key to vote with on disputed steps, if this node is a validator.
    pub validator_key: Option<String>,
    /// Replay on the tiny random-weight models (smoke runs, no download).
    pub tiny: bool,
    /// Threads per replay.
    pub threads: usize,
}

/// Runs the auditor of `home` against the node at `api` until the process stops.
pub async fn run(home: &Home, api: &str, o: &AuditorOptions) -> Result<()> {
    let runner = load_runner(o.tiny, o.threads).await?;
    run_with(home, api, o, runner).await
}

/// [`run`] on engines already loaded (the devnet shares its worker's).
pub async fn run_with(
    home: &Home,
    api: &str,
    o: &AuditorOptions,
    runner: Arc<MlRunner>,
) -> Result<()> {
    let ks = Keystore::new(home.keys_dir());
    let key = ks.load(&o.key)?.private_key()?;
    let mut auditor = Auditor::new(Client::new(api), key, runner, AuditorConfig::default());
    if let Some(v) = &o.validator_key {
        auditor = auditor.with_validator(ks.load(v)?.private_key()?);
    }
    eprintln!("auditor {} replaying assigned results", auditor.address());
    auditor.run().await
}
