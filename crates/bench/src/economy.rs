//! `mycel bench verify` (economy part): a Monte-Carlo of the verification economy played on the
//! real ledger state machine, to check that every dishonest strategy loses money at the default
//! parameters and that honest work pays.
//!
//! Each strategy gets a fresh chain (`Genesis::dev`, default `Params`, nothing shortened) driven
//! block by block through [`execute_block`] over an in-memory [`MemState`]. Agents read the
//! events of each block and answer in the next one, the way nodes would: the worker commits Tier
//! D traces of `mycel_referee::IntLm` (honest, or with a skipped layer), auditors seal and reveal
//! verdicts, disputes are bisected to one leaf and resolved by the referee witness, a
//! third-party challenger replays a share of results and challenges wrong ones.
//!
//! **Profit** of an agent = change of balance + bonded stake, less the compute it spent: honest
//! work costs [`COMPUTE_BPS`] of the job's fee, a replay (audit or challenge) the same, a wrong
//! trace nothing. Block fees, slashes, forfeits, emissions (worker, auditor) and refunds all come
//! from the ledger itself. Stakes slashed below the minimum are topped up (worth-neutral) so that
//! the agent keeps playing.
//!
//! Terms: `R` the fee a caught cheater is not paid, `S` the stake it forfeits
//! (`fraud_slash_bps` of its worker stake), `C` the compute cheating saves, `p` the audit
//! probability ([`verify::audit_rate_bps`]). Honesty dominates when `p·(R+S) ≥ C`.
//!
//! A seasoned cheater is audited rarely (≈6 % for a 1 MYC job at minimum stake), too rarely for
//! a run of a few hundred jobs to measure its expectation, so its rows also carry the closed
//! form from the ledger's own rate, fee burn, emission cap and slash ("expected"), and the
//! verdict uses it. A colluding pair's measured gain also includes the auditor emission its
//! approvals earn.
//!
//! What this run found at the first parameters, and what the ledger changed: `p = fee/(fee+S)`
//! left a seasoned cheater at break-even, so (1) committing many wrong results at once paid
//! (each catch took a share of the stake left while the gain grew with the count) — the rate is
//! now taken over the fees of all the worker's open results, with a safety factor of 3, and a
//! caught worker has every other open result audited; (2) an auditor approving its partner's
//! results lowered the catch rate to `p·(1 − its share of auditor stake)`, which paid from any
//! share — the safety factor now covers a colluder holding less than 2/3 of the auditor stake;
//! (3) a lazy auditor earned more in emission than canaries took — canaries now slash half the
//! auditor stake, and auditors are paid an audit fee by the poster for a matching replay.
//!
//! What remains ([`FINDINGS`]): a colluder holding most of the auditor stake (90 % here) still
//! profits. That is the auditor-majority assumption (like the validators' two thirds); open
//! challenges by anyone replaying a share of results are the backstop (the "vs challenger" row).

use commonware_cryptography::Signer;
use mycel_ledger::{
    Event, Message, Tx, TxBody,
    events::attr,
    execute::{BlockEnv, BlockOutput, execute_block, execute_genesis},
    genesis::{Genesis, Params, dev_key},
    modules::{
        bank,
        market::{self, JobKind, Offer},
        staking::{self, Role},
        verify::{self, History, Outcome, Turn},
    },
};
use mycel_node::{Error, Result};
use mycel_primitives::{Address, Amount, Hash, PrivateKey, codec::EncodeSize, merkle};
use mycel_referee::{Arch, Faults, IntLm, Run, input_hash, prompt_bytes};
use mycel_store::MemState;
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    time::{Duration, Instant},
};

/// Honest compute cost of a job (and of one replay), as a share of its fee, basis points: a
/// worker's margin of 50 %. Cheating saves all of it.
pub const COMPUTE_BPS: u128 = 5_000;
/// Price per unit the simulated worker offers: 0.1 MYC.
const PRICE: Amount = Amount(100_000_000);
/// Prompt tokens of every job.
const PROMPT_LEN: usize = 4;
/// Tokens generated per job: prompt + generated = 10 units = 1 MYC at [`PRICE`].
const MAX_TOKENS: u32 = 6;
/// Escrow of every job: exactly its fee.
const MAX_FEE: Amount = Amount::from_myc(1);
/// Jobs posted per block in the open market (the market's volume, which sets how far the
/// emission pools are spread).
const PER_BLOCK: usize = 20;
/// Seed of the Tier D model.
const MODEL_SEED: u64 = 42;
/// Chain ID of the simulated chains.
const CHAIN: &str = "economy";

/// Accounts of `Genesis::dev` and the part each plays.
const POSTER: usize = 0;
const WORKER: usize = 1;
const SYBIL: usize = 2;
const AUDITORS: [usize; 3] = [3, 4, 5];
const WATCHER: usize = 6;
const ACCOUNTS: usize = 8;

/// What the worker commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkerPlay {
    /// The true trace.
    Honest,
    /// A wrong trace (a skipped layer) on every job.
    Cheat,
    /// Honest until its audit rate is down to the stake floor, then cheats on `burst` jobs at
    /// a time until caught; then honest again.
    Seasoned { burst: usize },
}

/// How an auditor answers an audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuditorPlay {
    /// Replays and reveals what it got.
    Honest,
    /// Reveals the claim it was shown without replaying.
    Lazy,
    /// Reveals its partner's (the worker's) claim without replaying: approves its wrong
    /// results, and spots canaries since it knows what the partner committed.
    Colluding,
}

/// What a scenario runs until.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The worker took this many jobs.
    Jobs(usize),
    /// Auditor `AUDITORS[i]` was assigned this many audits.
    Audits(usize, usize),
}

#[derive(Clone, Debug)]
struct Scenario {
    worker: WorkerPlay,
    /// Jobs are posted by the worker's own second account.
    self_dealing: bool,
    /// Play and bonded stake (MYC) of each auditor.
    auditors: [(AuditorPlay, u64); 3],
    /// Share of results the third-party challenger replays, basis points.
    watch_bps: u64,
    target: Target,
}

/// What one agent did and got in a scenario.
#[derive(Clone, Debug, Default)]
struct Book {
    worth0: i128,
    worth1: i128,
    compute: i128,
    jobs: u64,
    audits: u64,
    caught: u64,
}

/// A seeded SplitMix64 (the simulation's own randomness: who posts what, who defends).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        for c in h.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_be_bytes());
        }
        Hash(h)
    }
}

/// A job the simulation follows until it settles or is rejected.
struct JobRec {
    prompt: Vec<u32>,
    /// Committed by the worker (set when it commits).
    committed: Option<Run>,
    /// What an honest replay gives (computed on first need).
    honest: Option<Run>,
    /// Waiting for the worker's commit.
    to_commit: bool,
    /// The worker defends its result in a dispute (false: it stays silent and loses).
    defend: bool,
}

struct AuditRec {
    auditor: usize,
    job: u64,
    sealed: Option<(Hash, Hash, Hash)>,
}

fn invalid(e: impl fmt::Display) -> Error {
    Error::Invalid {
        what: "economy bench".into(),
        why: e.to_string(),
    }
}

fn attr_of<'e>(e: &'e Event, name: &str) -> Option<&'e str> {
    e.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn id_of(e: &Event, name: &str) -> Option<u64> {
    attr_of(e, name).and_then(|v| v.parse().ok())
}

fn output_of(run: &Run) -> Hash {
    mycel_store::blob_hash(&prompt_bytes(&run.tokens))
}

fn units_of(prompt: &[u32], run: &Run) -> u64 {
    (prompt.len() + run.tokens.len()) as u64
}

/// What a poster escrows for a 1 MYC job: the fee plus the audit fee the ledger keeps back.
fn escrow_of(p: &Params) -> Amount {
    Amount(MAX_FEE.0 * (10_000 + p.verify.audit_fee_bps as u128) / 10_000)
}

fn fee_of(units: u64) -> Amount {
    Amount(PRICE.0.saturating_mul(units as u128)).min(MAX_FEE)
}

fn compute_cost(fee: Amount) -> i128 {
    (fee.0 * COMPUTE_BPS / 10_000) as i128
}

/// The model every worker serves.
fn model() -> Result<IntLm> {
    IntLm::random(
        Arch {
            vocab: 64,
            dim: 16,
            layers: 2,
            shift: 7,
        },
        MODEL_SEED,
    )
    .map_err(invalid)
}

/// One chain and the agents playing on it.
struct Sim {
    sc: Scenario,
    params: Params,
    state: MemState,
    height: u64,
    keys: Vec<PrivateKey>,
    addrs: Vec<Address>,
    proposer: Address,
    model: IntLm,
    model_id: Hash,
    rng: Rng,
    jobs: BTreeMap<u64, JobRec>,
    audits: BTreeMap<u64, AuditRec>,
    disputes: BTreeSet<u64>,
    challenges: Vec<u64>,
    books: Vec<Book>,
    /// The worker commits wrong traces now.
    cheating: bool,
    /// A result of the worker was rejected since this was last cleared.
    caught: bool,
    /// Nobody can take a job any more (the worker's reputation is gone).
    expelled: bool,
    posted: usize,
    last_resolved: u64,
    /// Refused transactions, by code (diagnostics: a refusal costs its sender the fee).
    refused: BTreeMap<String, u64>,
    /// Height at which the scenario stops whatever happened.
    cap: u64,
}

impl Sim {
    fn new(sc: Scenario, seed: u64) -> Result<Sim> {
        let genesis = Genesis::dev(CHAIN, 1);
        let params = genesis.params.clone();
        let out = execute_genesis(&genesis)?;
        let mut state = MemState::default();
        state.apply(&out.writes);
        let keys: Vec<PrivateKey> = (0..ACCOUNTS).map(|i| dev_key("account", i)).collect();
        let addrs = keys
            .iter()
            .map(|k| Address::from_public_key(&k.public_key()))
            .collect();
        let model = model()?;
        let model_id = model.model_id();
        let mut sim = Sim {
            sc,
            params,
            state,
            height: 0,
            keys,
            addrs,
            proposer: Address::from_public_key(&dev_key("validator", 0).public_key()),
            model,
            model_id,
            rng: Rng(seed),
            jobs: BTreeMap::new(),
            audits: BTreeMap::new(),
            disputes: BTreeSet::new(),
            challenges: Vec::new(),
            books: vec![Book::default(); ACCOUNTS],
            cheating: false,
            caught: false,
            expelled: false,
            posted: 0,
            last_resolved: 0,
            refused: BTreeMap::new(),
            cap: 100_000,
        };
        sim.setup()?;
        Ok(sim)
    }

    fn min_stake(&self, role: Role) -> Amount {
        self.params.staking.min_stake[role as usize]
    }

    fn stake(&self, i: usize, role: Role) -> Result<Amount> {
        Ok(staking::stake(&self.state, &self.addrs[i], role)?)
    }

    fn worth(&self, i: usize) -> Result<i128> {
        let mut w = bank::balance(&self.state, &self.addrs[i])?.0;
        for role in Role::ALL {
            w += self.stake(i, role)?.0;
        }
        Ok(w as i128)
    }

    fn snapshot(&mut self) -> Result<()> {
        for i in 0..ACCOUNTS {
            self.books[i].worth0 = self.worth(i)?;
        }
        Ok(())
    }

    fn close_books(&mut self) -> Result<()> {
        for i in 0..ACCOUNTS {
            self.books[i].worth1 = self.worth(i)?;
        }
        Ok(())
    }

    /// Signs `msgs` as consecutive transactions of account `i`, paying the minimum fee.
    fn sign(&self, nonces: &mut BTreeMap<usize, u64>, i: usize, msg: Message) -> Result<Tx> {
        let k = &self.keys[i];
        let nonce = match nonces.get(&i) {
            Some(n) => *n,
            None => mycel_ledger::execute::nonce(&self.state, &self.addrs[i])?,
        };
        nonces.insert(i, nonce + 1);
        let body = TxBody {
            chain_id: CHAIN.into(),
            sender: k.public_key(),
            nonce,
            fee: Amount::ZERO,
            messages: vec![msg],
            memo: String::new(),
        };
        // The fee is fixed-width, so the size without it is the size with it; a few bytes of
        // margin keep that true whatever the encoding.
        let size = body.clone().sign(k).encode_size() + 16;
        let fee = bank::min_fee(&self.params.bank, size);
        Ok(TxBody { fee, ..body }.sign(k))
    }

    fn block(&mut self, txs: &[Tx]) -> Result<BlockOutput> {
        self.height += 1;
        let env = BlockEnv {
            height: self.height,
            proposer: self.proposer,
            parent: self.rng.hash(),
            time_ms: self.height * 100,
            // No consensus here: validator liveness is not what this simulation measures.
            certified: None,
            equivocations: Vec::new(),
        };
        let out = execute_block(&self.state, &env, txs)?;
        self.state.apply(&out.writes);
        Ok(out)
    }

    fn setup(&mut self) -> Result<()> {
        let mut n = BTreeMap::new();
        let mut txs = vec![self.sign(
            &mut n,
            WORKER,
            Message::Staking(staking::Msg::Bond {
                role: Role::Worker,
                amount: self.min_stake(Role::Worker),
            }),
        )?];
        for (j, &(_, stake)) in self.sc.auditors.clone().iter().enumerate() {
            txs.push(self.sign(
                &mut n,
                AUDITORS[j],
                Message::Staking(staking::Msg::Bond {
                    role: Role::Auditor,
                    amount: Amount::from_myc(stake),
                }),
            )?);
        }
        let out = self.block(&txs)?;
        if let Some(r) = out.receipts.iter().find(|r| !r.success) {
            return Err(invalid(format!("setup: {}: {}", r.code, r.error)));
        }
        let offer = Message::Market(market::Msg::Offer(Box::new(Offer {
            kinds: 0b1111,
            models: vec![self.model_id],
            hardware: "cpu".into(),
            price_per_unit: PRICE,
            endpoint: "127.0.0.1:1".into(),
            licenses: "*".into(),
        })));
        let tx = self.sign(&mut BTreeMap::new(), WORKER, offer)?;
        let out = self.block(&[tx])?;
        if let Some(r) = out.receipts.iter().find(|r| !r.success) {
            return Err(invalid(format!("offer: {}: {}", r.code, r.error)));
        }
        self.snapshot()
    }

    fn job_state(&self, id: u64) -> Result<market::Job> {
        market::job(&self.state, id)?.ok_or_else(|| invalid(format!("job {id} vanished")))
    }

    fn honest_run(&mut self, id: u64) -> Result<Run> {
        let seed = self.job_state(id)?.seed;
        let rec = self
            .jobs
            .get_mut(&id)
            .ok_or_else(|| invalid(format!("job {id} not followed")))?;
        if rec.honest.is_none() {
            rec.honest = Some(
                self.model
                    .run(&rec.prompt, MAX_TOKENS, 0, &seed)
                    .map_err(invalid)?,
            );
        }
        Ok(rec.honest.clone().expect("just set"))
    }

    /// One block: every agent acts on what it saw, `post` new jobs are posted.
    fn step(&mut self, post: usize) -> Result<()> {
        let mut n = BTreeMap::new();
        let mut txs = Vec::new();
        // Stakes slashed below what the agent plays with are topped up.
        let want = self.min_stake(Role::Worker);
        let have = self.stake(WORKER, Role::Worker)?;
        if have < want {
            txs.push(self.sign(
                &mut n,
                WORKER,
                Message::Staking(staking::Msg::Bond {
                    role: Role::Worker,
                    amount: Amount(want.0 - have.0),
                }),
            )?);
        }
        for (j, &(_, stake)) in self.sc.auditors.clone().iter().enumerate() {
            let want = Amount::from_myc(stake);
            let have = self.stake(AUDITORS[j], Role::Auditor)?;
            if have < want {
                txs.push(self.sign(
                    &mut n,
                    AUDITORS[j],
                    Message::Staking(staking::Msg::Bond {
                        role: Role::Auditor,
                        amount: Amount(want.0 - have.0),
                    }),
                )?);
            }
        }
        self.commits(&mut n, &mut txs)?;
        self.auditing(&mut n, &mut txs)?;
        self.disputing(&mut n, &mut txs)?;
        self.challenging(&mut n, &mut txs)?;
        let poster = if self.sc.self_dealing { SYBIL } else { POSTER };
        let mut prompts = Vec::new();
        if !self.expelled {
            for _ in 0..post {
                let prompt: Vec<u32> = (0..PROMPT_LEN).map(|_| self.rng.below(64) as u32).collect();
                let params = format!(r#"{{"max_tokens":{MAX_TOKENS},"temperature":0}}"#);
                txs.push(self.sign(
                    &mut n,
                    poster,
                    Message::Market(market::Msg::PostJob {
                        kind: JobKind::Generate,
                        model: self.model_id,
                        input: input_hash(&prompt),
                        params: params.into_bytes(),
                        max_fee: escrow_of(&self.params),
                        deadline_blocks: 20,
                    }),
                )?);
                prompts.push((txs.len() - 1, prompt));
            }
        }
        let out = self.block(&txs)?;
        for (i, prompt) in prompts {
            let r = &out.receipts[i];
            if !r.success {
                // Nobody eligible: the worker's reputation (or stake) is gone.
                if r.error.contains("no worker serves") {
                    self.expelled = true;
                }
                continue;
            }
            let id = r
                .events
                .iter()
                .find(|e| e.kind == market::events::JOB_POSTED)
                .and_then(|e| id_of(e, attr::JOB))
                .ok_or_else(|| invalid("job posted without an ID"))?;
            self.posted += 1;
            self.jobs.insert(
                id,
                JobRec {
                    prompt,
                    committed: None,
                    honest: None,
                    to_commit: false,
                    defend: true,
                },
            );
        }
        for r in &out.receipts {
            if !r.success {
                *self.refused.entry(r.code.clone()).or_default() += 1;
            }
        }
        let events: Vec<Event> = out
            .receipts
            .iter()
            .flat_map(|r| r.events.iter().cloned())
            .chain(out.events.iter().cloned())
            .collect();
        for e in &events {
            self.observe(e)?;
        }
        Ok(())
    }

    fn who(&self, a: &str) -> Option<usize> {
        self.addrs.iter().position(|x| x.to_string() == a)
    }

    fn observe(&mut self, e: &Event) -> Result<()> {
        let job = id_of(e, attr::JOB);
        match e.kind.as_str() {
            market::events::ASSIGNED => {
                if let Some(rec) = job.and_then(|j| self.jobs.get_mut(&j)) {
                    rec.to_commit = true;
                }
            }
            market::events::RESULT => {
                let Some(j) = job else { return Ok(()) };
                if self.sc.watch_bps > 0 && self.rng.below(10_000) < self.sc.watch_bps {
                    let honest = self.honest_run(j)?;
                    let fee = fee_of(units_of(&self.jobs[&j].prompt, &honest));
                    self.books[WATCHER].compute += compute_cost(fee);
                    self.books[WATCHER].jobs += 1;
                    if self.job_state(j)?.trace_root != honest.trace_root() {
                        self.challenges.push(j);
                    }
                }
            }
            market::events::SETTLED | market::events::REJECTED | market::events::FAILED => {
                let Some(j) = job else { return Ok(()) };
                if self.jobs.remove(&j).is_some() {
                    self.last_resolved = self.height;
                }
                if e.kind == market::events::REJECTED {
                    self.books[WORKER].caught += 1;
                    self.caught = true;
                }
            }
            verify::events::AUDIT_ASSIGNED => {
                let (Some(id), Some(j)) = (id_of(e, attr::AUDIT), job) else {
                    return Ok(());
                };
                let Some(i) = attr_of(e, attr::AUDITOR).and_then(|a| self.who(a)) else {
                    return Ok(());
                };
                self.books[i].audits += 1;
                self.audits.insert(
                    id,
                    AuditRec {
                        auditor: i,
                        job: j,
                        sealed: None,
                    },
                );
            }
            verify::events::VERDICT => {
                if attr_of(e, attr::VERDICT) == Some("canary_passed")
                    && let Some(i) = attr_of(e, attr::AUDITOR).and_then(|a| self.who(a))
                {
                    self.books[i].caught += 1;
                }
            }
            verify::events::DISPUTE_OPENED => {
                if let Some(d) = id_of(e, attr::DISPUTE) {
                    self.disputes.insert(d);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn commits(&mut self, n: &mut BTreeMap<usize, u64>, txs: &mut Vec<Tx>) -> Result<()> {
        let due: Vec<u64> = self
            .jobs
            .iter()
            .filter(|(_, r)| r.to_commit)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let job = self.job_state(id)?;
            let cheat = match self.sc.worker {
                WorkerPlay::Honest => false,
                WorkerPlay::Cheat => true,
                WorkerPlay::Seasoned { .. } => self.cheating,
            };
            let defend = !cheat || self.rng.below(2) == 0;
            let prompt = self.jobs[&id].prompt.clone();
            let run = if cheat {
                self.model
                    .run_with(
                        &prompt,
                        MAX_TOKENS,
                        0,
                        &job.seed,
                        &Faults {
                            skip_layer: Some(1),
                            ..Default::default()
                        },
                    )
                    .map_err(invalid)?
            } else {
                self.honest_run(id)?
            };
            let units = units_of(&prompt, &run);
            if !cheat {
                self.books[WORKER].compute += compute_cost(fee_of(units));
            }
            self.books[WORKER].jobs += 1;
            txs.push(self.sign(
                n,
                WORKER,
                Message::Market(market::Msg::CommitResult {
                    job: id,
                    output: output_of(&run),
                    units,
                    trace_root: run.trace_root(),
                    trace_len: run.leaves.len() as u64,
                }),
            )?);
            let rec = self.jobs.get_mut(&id).expect("listed above");
            rec.to_commit = false;
            rec.committed = Some(run);
            rec.defend = defend;
        }
        Ok(())
    }

    fn auditing(&mut self, n: &mut BTreeMap<usize, u64>, txs: &mut Vec<Tx>) -> Result<()> {
        let ids: Vec<u64> = self.audits.keys().copied().collect();
        for id in ids {
            let (auditor, j, sealed) = {
                let a = &self.audits[&id];
                (a.auditor, a.job, a.sealed)
            };
            let addr = self.addrs[auditor];
            if let Some((digest, root, salt)) = sealed {
                txs.push(self.sign(
                    n,
                    auditor,
                    Message::Verify(verify::Msg::Reveal {
                        audit: id,
                        digest,
                        trace_root: root,
                        salt,
                    }),
                )?);
                self.audits.remove(&id);
                continue;
            }
            let audit = verify::audit(&self.state, id)?
                .ok_or_else(|| invalid(format!("audit {id} vanished")))?;
            let job = self.job_state(j)?;
            let play = AUDITORS
                .iter()
                .position(|&a| a == auditor)
                .map(|k| self.sc.auditors[k].0)
                .unwrap_or(AuditorPlay::Honest);
            let (digest, root) = match play {
                AuditorPlay::Lazy => (audit.claim, job.trace_root),
                AuditorPlay::Colluding if job.worker == self.addrs[WORKER] => (
                    verify::claim_digest(&job.output, job.units, &job.trace_root, job.trace_len),
                    job.trace_root,
                ),
                _ => {
                    if !self.jobs.contains_key(&j) {
                        // Already settled or rejected: nothing to replay, the verdict is moot.
                        (audit.claim, job.trace_root)
                    } else {
                        let r = self.honest_run(j)?;
                        let units = units_of(&self.jobs[&j].prompt, &r);
                        self.books[auditor].compute += compute_cost(fee_of(units));
                        (
                            verify::claim_digest(
                                &output_of(&r),
                                units,
                                &r.trace_root(),
                                r.leaves.len() as u64,
                            ),
                            r.trace_root(),
                        )
                    }
                }
            };
            let salt = self.rng.hash();
            let sealed = verify::seal(id, &addr, &digest, &root, &salt);
            txs.push(self.sign(
                n,
                auditor,
                Message::Verify(verify::Msg::Seal { audit: id, sealed }),
            )?);
            if let Some(a) = self.audits.get_mut(&id) {
                a.sealed = Some((digest, root, salt));
            }
        }
        Ok(())
    }

    fn disputing(&mut self, n: &mut BTreeMap<usize, u64>, txs: &mut Vec<Tx>) -> Result<()> {
        let ids: Vec<u64> = self.disputes.iter().copied().collect();
        for id in ids {
            let d = verify::dispute(&self.state, id)?
                .ok_or_else(|| invalid(format!("dispute {id} vanished")))?;
            if d.outcome != Outcome::Open || !self.jobs.contains_key(&d.job) {
                self.disputes.remove(&id);
                continue;
            }
            let (o, size) = (d.offset as usize, d.size as usize);
            match d.turn {
                Turn::Split => {
                    let rec = &self.jobs[&d.job];
                    let Some(run) = rec.committed.as_ref().filter(|_| rec.defend) else {
                        continue;
                    };
                    let k = mycel_primitives::merkle::split(size as u64) as usize;
                    let (left, right) = (
                        merkle::root(&run.leaves[o..o + k]),
                        merkle::root(&run.leaves[o + k..o + size]),
                    );
                    txs.push(self.sign(
                        n,
                        WORKER,
                        Message::Verify(verify::Msg::Split {
                            dispute: id,
                            left,
                            right,
                        }),
                    )?);
                }
                Turn::Pick => {
                    let Some(c) = self.who(&d.challenger.to_string()) else {
                        continue;
                    };
                    let honest = self.honest_run(d.job)?;
                    let k = mycel_primitives::merkle::split(size as u64) as usize;
                    let right = merkle::root(&honest.leaves[o..o + k]) == d.left;
                    txs.push(self.sign(
                        n,
                        c,
                        Message::Verify(verify::Msg::Pick { dispute: id, right }),
                    )?);
                }
                Turn::Resolve => {
                    let rec = &self.jobs[&d.job];
                    let Some(run) = rec.committed.as_ref().filter(|_| rec.defend) else {
                        continue;
                    };
                    let witness = self
                        .model
                        .witness(run, &prompt_bytes(&rec.prompt), d.offset)
                        .map_err(invalid)?;
                    txs.push(self.sign(
                        n,
                        WORKER,
                        Message::Verify(verify::Msg::Resolve {
                            dispute: id,
                            witness,
                        }),
                    )?);
                }
                Turn::Vote | Turn::Done => {}
            }
        }
        Ok(())
    }

    fn challenging(&mut self, n: &mut BTreeMap<usize, u64>, txs: &mut Vec<Tx>) -> Result<()> {
        for j in std::mem::take(&mut self.challenges) {
            let job = self.job_state(j)?;
            let open = verify::disputes_of(&self.state, j)?
                .iter()
                .any(|d| d.outcome == Outcome::Open);
            if job.status != market::JobStatus::Committed || open {
                continue;
            }
            let root = self.honest_run(j)?.trace_root();
            txs.push(self.sign(
                n,
                WATCHER,
                Message::Verify(verify::Msg::Challenge {
                    job: j,
                    trace_root: root,
                    bond: self.params.verify.min_challenge_bond,
                }),
            )?);
        }
        Ok(())
    }

    fn busy(&self) -> bool {
        !self.jobs.is_empty() || !self.audits.is_empty() || !self.disputes.is_empty()
    }

    /// Runs until every job is resolved and the epoch of the last resolution has paid its
    /// emissions.
    fn drain(&mut self, cap: u64) -> Result<()> {
        while self.busy() && self.height < cap {
            self.step(0)?;
        }
        let len = self.params.rewards.epoch_length.max(1);
        let end = (self.last_resolved.max(self.height) / len + 1) * len;
        while self.height < end && self.height < cap {
            self.step(0)?;
        }
        Ok(())
    }

    /// Worth of the worker and of any auditor colluding with it.
    fn team_worth(&self) -> Result<i128> {
        let mut w = self.worth(WORKER)?;
        for (k, &(play, _)) in self.sc.auditors.iter().enumerate() {
            if play == AuditorPlay::Colluding {
                w += self.worth(AUDITORS[k])?;
            }
        }
        Ok(w)
    }

    /// True once the worker's audit rate is down to what its stake alone sets.
    fn seasoned(&self) -> Result<bool> {
        let p = &self.params.verify;
        let slashable = self
            .stake(WORKER, Role::Worker)?
            .mul_div(p.fraud_slash_bps as u128, 10_000)
            .map_err(invalid)?;
        let hist = verify::history(&self.state, &self.addrs[WORKER])?;
        let seasoned = History {
            verified: u64::MAX,
            strikes: 0,
        };
        Ok(verify::audit_rate_bps(p, &hist, MAX_FEE, slashable)
            == verify::audit_rate_bps(p, &seasoned, MAX_FEE, slashable))
    }

    fn play(&mut self) -> Result<()> {
        let cap = self.cap;
        match (self.sc.worker, self.sc.target) {
            (WorkerPlay::Seasoned { burst }, Target::Jobs(jobs)) => {
                // Only the cheating phases are booked (for the worker and a colluding auditor):
                // the seasoning (honest jobs, their compute and pay) is left out, and each phase
                // starts and ends on an epoch boundary with nothing in flight, so the emissions
                // it sees are its own.
                let mut book = Book::default();
                while book.jobs < jobs as u64 && !self.expelled && self.height < cap {
                    self.cheating = false;
                    while !self.seasoned()? && !self.expelled && self.height < cap {
                        self.step(PER_BLOCK)?;
                    }
                    self.drain(cap)?;
                    if self.expelled {
                        break;
                    }
                    let w0 = self.team_worth()?;
                    let (j0, c0) = (self.books[WORKER].jobs, self.books[WORKER].caught);
                    self.cheating = true;
                    self.caught = false;
                    while !self.caught
                        && book.jobs + self.books[WORKER].jobs - j0 < jobs as u64
                        && !self.expelled
                        && self.height < cap
                    {
                        let left = jobs as u64 - (book.jobs + self.books[WORKER].jobs - j0);
                        self.step(burst.min(left as usize))?;
                        while self.busy() && self.height < cap {
                            self.step(0)?;
                        }
                    }
                    self.drain(cap)?;
                    book.worth1 += self.team_worth()? - w0;
                    book.jobs += self.books[WORKER].jobs - j0;
                    book.caught += self.books[WORKER].caught - c0;
                    self.cheating = false;
                }
                self.close_books()?;
                self.books[WORKER] = book;
                for (k, &(play, _)) in self.sc.auditors.iter().enumerate() {
                    if play == AuditorPlay::Colluding {
                        self.books[AUDITORS[k]] = Book::default();
                    }
                }
            }
            (_, target) => {
                let goal = |s: &Sim| match target {
                    Target::Jobs(n) => s.posted >= n,
                    Target::Audits(k, n) => {
                        s.books[AUDITORS[k]].audits >= n as u64 || s.posted >= n * 400
                    }
                };
                while !goal(self) && !self.expelled && self.height < cap {
                    let post = match target {
                        Target::Jobs(n) => PER_BLOCK.min(n - self.posted),
                        Target::Audits(..) => PER_BLOCK,
                    };
                    self.step(post)?;
                }
                self.drain(cap)?;
                self.close_books()?;
            }
        }
        Ok(())
    }
}

/// One strategy's result.
#[derive(Clone, Debug)]
pub struct Row {
    /// The strategy.
    pub strategy: String,
    /// Jobs it took (workers) or audits it was assigned (auditors), or results it replayed
    /// (third-party challenger).
    pub jobs: u64,
    /// Results rejected (workers), canaries failed (auditors).
    pub caught: u64,
    /// Change of balance + stake per job, base units.
    pub gross_per_job: i128,
    /// Compute spent per job, base units.
    pub compute_per_job: i128,
    /// Profit per job (gross less compute), base units.
    pub profit_per_job: i128,
    /// Expected profit per job in closed form, base units, where a catch is too rare for a run
    /// of this length to estimate it (a seasoned cheater is audited ~2 % of the time): the
    /// ledger's own `audit_rate_bps`, fee, burn, emission cap and slash. The verdict uses it.
    pub expected_per_job: Option<i128>,
    /// Profit per job less that of the honest agent in the same role, base units.
    pub vs_honest: Option<i128>,
    /// Is it a dishonest strategy.
    pub dishonest: bool,
    /// Blocks the scenario ran.
    pub blocks: u64,
}

/// The PoSP check `p·(R+S) ≥ C` for one job kind at default parameters.
#[derive(Clone, Debug)]
pub struct PospRow {
    /// Job kind.
    pub kind: &'static str,
    /// What a unit is for this kind.
    pub unit: &'static str,
    /// Units of a representative job.
    pub units: u64,
    /// R: its fee (units × the node's default price).
    pub fee: Amount,
    /// S: `fraud_slash_bps` of the minimum worker stake.
    pub slash: Amount,
    /// The audit floor, bps.
    pub p_floor: u16,
    /// `audit_rate_bps` for a seasoned worker at minimum stake, bps.
    pub p_seasoned: u16,
    /// `p_floor·(R+S) ≥ C` with C = R.
    pub floor_holds: bool,
    /// `p_seasoned·(R+S) ≥ C` with C = R.
    pub holds: bool,
}

/// What [`run`] measured.
#[derive(Clone, Debug)]
pub struct EconomyReport {
    /// Jobs per strategy asked for.
    pub jobs_per_strategy: usize,
    /// Seed.
    pub seed: u64,
    /// One row per strategy.
    pub rows: Vec<Row>,
    /// The PoSP check per job kind.
    pub posp: Vec<PospRow>,
    /// Largest fee the audit floor alone covers (above it the stake term of the rate does).
    pub floor_fee_limit: Amount,
    /// Expected profit of a seasoned cheater's burst of `n` concurrent wrong results, base
    /// units, for a few `n` (the closed form of the burst rows).
    pub burst_expectation: Vec<(u64, i128)>,
    /// Refused transactions over the whole run, by code.
    pub refused: BTreeMap<String, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl EconomyReport {
    /// The row of `strategy` (rows whose name starts with it).
    pub fn row(&self, strategy: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.strategy.starts_with(strategy))
    }
}

impl Row {
    /// Expected profit per job: the closed form where there is one, else the measured one.
    pub fn expected(&self) -> i128 {
        self.expected_per_job.unwrap_or(self.profit_per_job)
    }
}

fn per(v: i128, n: u64) -> i128 {
    if n == 0 { 0 } else { v / n as i128 }
}

/// A row over `books` (one agent, or a pair playing together), per `jobs`.
fn row(strategy: &str, books: &[&Book], jobs: u64, blocks: u64, dishonest: bool) -> Row {
    let gross: i128 = books.iter().map(|b| b.worth1 - b.worth0).sum();
    let compute: i128 = books.iter().map(|b| b.compute).sum();
    Row {
        strategy: strategy.into(),
        jobs,
        caught: books.iter().map(|b| b.caught).sum(),
        gross_per_job: per(gross, jobs),
        compute_per_job: per(compute, jobs),
        profit_per_job: per(gross - compute, jobs),
        expected_per_job: None,
        vs_honest: None,
        dishonest,
        blocks,
    }
}

/// Names of the strategies, as the rows and the test use them.
pub mod strategy {
    /// Honest worker.
    pub const HONEST_WORKER: &str = "honest worker";
    /// Honest auditor.
    pub const HONEST_AUDITOR: &str = "honest auditor";
    /// Wrong trace on every job.
    pub const CHEATER: &str = "cheating worker (every job)";
    /// Seasoned, then one wrong result at a time.
    pub const SEASONED: &str = "seasoned cheater, 1 job in flight";
    /// Seasoned, then bursts of concurrent wrong results.
    pub const BURST: &str = "seasoned cheater, burst";
    /// Worker + sybil poster.
    pub const SELF_DEALING: &str = "self-dealing worker + sybil";
    /// Lazy auditor.
    pub const LAZY: &str = "lazy auditor";
    /// An auditor approving its partner's wrong results, the partner cheating on every job.
    pub const COLLUDING: &str = "colluding auditor + cheating worker";
    /// The same auditor (1/3 of auditor stake), the partner cheating once seasoned.
    pub const COLLUDING_SEASONED: &str = "colluding auditor (1/3 stake) + seasoned cheater";
    /// The same with 90 % of auditor stake.
    pub const COLLUDING_RICH: &str = "colluding auditor (90% stake) + seasoned cheater";
    /// 1/3 of auditor stake, against a challenger replaying 10 % of results.
    pub const COLLUDING_WATCHED: &str = "colluding (1/3) + seasoned, vs 10% challenger";
    /// Third-party challenger.
    pub const THIRD_PARTY: &str = "third-party challenger (replays 10%)";
}

fn scenario(worker: WorkerPlay, target: Target) -> Scenario {
    Scenario {
        worker,
        self_dealing: false,
        auditors: [(AuditorPlay::Honest, 100); 3],
        watch_bps: 0,
        target,
    }
}

/// Plays every strategy over `jobs_per_strategy` jobs (audits for auditors) on fresh chains.
pub fn run(jobs_per_strategy: usize, seed: u64) -> Result<EconomyReport> {
    run_with(jobs_per_strategy, (jobs_per_strategy / 4).max(2), seed)
}

/// [`run`] with the seasoned cheater's burst size.
fn run_with(jobs_per_strategy: usize, burst: usize, seed: u64) -> Result<EconomyReport> {
    use strategy::*;
    let t = Instant::now();
    let n = jobs_per_strategy.max(1);
    let params = Params::default();
    let mut rows = Vec::new();
    let mut refused = BTreeMap::new();
    let mut play = |sc: Scenario, k: u64| -> Result<Sim> {
        let mut sim = Sim::new(sc, seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15))?;
        sim.play()?;
        for (c, v) in &sim.refused {
            *refused.entry(c.clone()).or_insert(0) += v;
        }
        Ok(sim)
    };
    let worker_row = |name: &str, s: &Sim, with: Option<usize>| {
        let mut books = vec![&s.books[WORKER]];
        books.extend(with.map(|i| &s.books[i]));
        row(name, &books, s.books[WORKER].jobs, s.height, true)
    };

    let s = play(scenario(WorkerPlay::Honest, Target::Jobs(n)), 1)?;
    let mut honest_worker = worker_row(HONEST_WORKER, &s, None);
    honest_worker.dishonest = false;
    let auditors: Vec<&Book> = AUDITORS.iter().map(|&a| &s.books[a]).collect();
    let audits = auditors.iter().map(|b| b.audits).sum();
    let honest_auditor = row(HONEST_AUDITOR, &auditors, audits, s.height, false);

    let s = play(scenario(WorkerPlay::Cheat, Target::Jobs(n)), 2)?;
    rows.push(worker_row(CHEATER, &s, None));

    let s = play(
        scenario(WorkerPlay::Seasoned { burst: 1 }, Target::Jobs(n)),
        3,
    )?;
    let mut r = worker_row(SEASONED, &s, None);
    r.expected_per_job = Some(burst_expectation(&params, 1));
    rows.push(r);

    let s = play(scenario(WorkerPlay::Seasoned { burst }, Target::Jobs(n)), 4)?;
    let mut r = worker_row(&format!("{BURST} of {burst}"), &s, None);
    r.expected_per_job = Some(burst_expectation(&params, burst as u64) / burst as i128);
    rows.push(r);

    let mut sc = scenario(WorkerPlay::Honest, Target::Jobs(n));
    sc.self_dealing = true;
    let s = play(sc, 5)?;
    rows.push(worker_row(SELF_DEALING, &s, Some(SYBIL)));

    let mut sc = scenario(WorkerPlay::Honest, Target::Audits(0, n / 4 + 1));
    sc.auditors[0].0 = AuditorPlay::Lazy;
    let s = play(sc, 6)?;
    let lazy_book = &s.books[AUDITORS[0]];
    let mut lazy = row(LAZY, &[lazy_book], lazy_book.audits, s.height, true);
    // Against the honest auditors of the same market (same emission per audit).
    let peers = [&s.books[AUDITORS[1]], &s.books[AUDITORS[2]]];
    let peer_audits = peers.iter().map(|b| b.audits).sum();
    let peers = row(HONEST_AUDITOR, &peers, peer_audits, s.height, false);
    // A canary is rare (`canary_bps` of audits, a third of them shown to this auditor among
    // three of equal stake: one per ten of its own audits), so its expectation replaces the
    // draw: what the honest peers earned per audit (emission, canary credits included, so
    // this flatters the lazy one) less the expected slash.
    let canary_slash = Amount::from_myc(100)
        .mul_div(params.verify.lazy_slash_bps as u128, 10_000)
        .map_err(invalid)?
        .mul_div(params.verify.canary_bps as u128, 10_000)
        .map_err(invalid)?;
    lazy.expected_per_job = Some(peers.gross_per_job - canary_slash.0 as i128);
    lazy.vs_honest = Some(lazy.expected() - peers.profit_per_job);
    rows.push(lazy);

    let mut sc = scenario(WorkerPlay::Cheat, Target::Jobs(n));
    sc.auditors[0].0 = AuditorPlay::Colluding;
    let s = play(sc, 7)?;
    rows.push(worker_row(COLLUDING, &s, Some(AUDITORS[0])));

    // The colluding auditor only lowers the chance that a wrong result meets an honest
    // auditor, to `p·(1 − its share of auditor stake)`; a challenger replaying a share `q` of
    // results raises it to `1 − (1 − that)(1 − q)`.
    let p = seasoned_rate(&params);
    for (k, (name, stake, watch)) in [
        (COLLUDING_SEASONED, 100u64, 0u64),
        (COLLUDING_RICH, 1_800, 0),
        (COLLUDING_WATCHED, 100, 1_000),
    ]
    .into_iter()
    .enumerate()
    {
        let mut sc = scenario(WorkerPlay::Seasoned { burst: 1 }, Target::Jobs(n));
        sc.auditors[0] = (AuditorPlay::Colluding, stake);
        sc.watch_bps = watch;
        let s = play(sc, 8 + k as u64)?;
        let share = stake as f64 / (stake + 200) as f64;
        let caught = 1.0 - (1.0 - p * (1.0 - share)) * (1.0 - watch as f64 / 1e4);
        let mut r = worker_row(name, &s, Some(AUDITORS[0]));
        r.expected_per_job = Some(expectation(&params, 1, caught));
        rows.push(r);
        if watch > 0 {
            let w = &s.books[WATCHER];
            rows.push(row(THIRD_PARTY, &[w], w.jobs, s.height, false));
        }
    }

    for r in &mut rows {
        if r.vs_honest.is_none() && r.dishonest {
            r.vs_honest = Some(r.expected() - honest_worker.profit_per_job);
        }
    }
    let mut all = vec![honest_worker, honest_auditor];
    all.extend(rows);

    Ok(EconomyReport {
        jobs_per_strategy: n,
        seed,
        rows: all,
        posp: posp(&params),
        floor_fee_limit: floor_fee_limit(&params),
        burst_expectation: [1u64, 5, 10, 50, 200, 1_000]
            .into_iter()
            .map(|b| (b, burst_expectation(&params, b)))
            .collect(),
        refused,
        elapsed: t.elapsed(),
    })
}

fn slash_at_min(p: &Params) -> Amount {
    p.staking.min_stake[Role::Worker as usize]
        .mul_div(p.verify.fraud_slash_bps as u128, 10_000)
        .unwrap_or_default()
}

/// Largest fee `F` with `floor·(F+S) ≥ F`, i.e. `F ≤ floor·S/(1−floor)`.
fn floor_fee_limit(p: &Params) -> Amount {
    let f = p.verify.audit_floor_bps as u128;
    Amount(slash_at_min(p).0 * f / (10_000 - f).max(1))
}

/// The audit rate of a seasoned worker at minimum stake for a 1 MYC job, as a probability.
fn seasoned_rate(params: &Params) -> f64 {
    let seasoned = History {
        verified: u64::MAX,
        strikes: 0,
    };
    verify::audit_rate_bps(&params.verify, &seasoned, MAX_FEE, slash_at_min(params)) as f64 / 1e4
}

/// Expected profit of `b` wrong 1 MYC results committed at once by a worker at minimum stake,
/// each caught with probability `p`: each caught one takes `fraud_slash_bps` of what stake is
/// left, so the stake left is `stake·E[(1−f)^k]` = `stake·(1 − p·f)^b`; each uncaught one pays
/// the fee less the burn, plus the capped emission.
fn expectation(params: &Params, b: u64, p: f64) -> i128 {
    let stake = params.staking.min_stake[Role::Worker as usize].0 as f64;
    let f = params.verify.fraud_slash_bps as f64 / 1e4;
    let keep = 1.0 - params.market.protocol_fee_bps as f64 / 1e4
        + params.rewards.worker_emission_per_fee_bps as f64 / 1e4;
    let gain = b as f64 * (1.0 - p) * keep * MAX_FEE.0 as f64;
    let loss = stake * (1.0 - (1.0 - p * f).powf(b as f64));
    (gain - loss) as i128
}

/// Expected profit of a seasoned worker at minimum stake committing `b` wrong 1 MYC results at
/// once, audited only by honest auditors. The ledger draws the `i`-th with the rate of `i` open
/// results (its exposure is `i` fees), and the first catch has every other open result audited,
/// so either none is caught (all `b` pay) or all are (no fee, `b` slashes of `fraud_slash_bps`
/// of what stake is left).
fn burst_expectation(params: &Params, b: u64) -> i128 {
    let seasoned = History {
        verified: u64::MAX,
        strikes: 0,
    };
    let none_caught: f64 = (1..=b)
        .map(|i| {
            let exposure = Amount(MAX_FEE.0 * i as u128);
            1.0 - verify::audit_rate_bps(&params.verify, &seasoned, exposure, slash_at_min(params))
                as f64
                / 1e4
        })
        .product();
    let stake = params.staking.min_stake[Role::Worker as usize].0 as f64;
    let f = params.verify.fraud_slash_bps as f64 / 1e4;
    let keep = 1.0 - params.market.protocol_fee_bps as f64 / 1e4
        + params.rewards.worker_emission_per_fee_bps as f64 / 1e4;
    let gain = b as f64 * keep * MAX_FEE.0 as f64;
    let loss = stake * (1.0 - (1.0 - f).powf(b as f64));
    (none_caught * gain - (1.0 - none_caught) * loss) as i128
}

/// The PoSP check per job kind. The ledger does not know what a kind costs to run: a job's fee
/// is `units × price_per_unit` whatever its kind (tokens for generate, texts for embed, steps
/// for finetune, records for dedup, as the node's runners count them), and the audit rate,
/// slash and floor are the same for all kinds. So the kind only moves the fee `R`, and with it
/// `C ≤ R`; the rows use representative unit counts at the node's default price.
fn posp(p: &Params) -> Vec<PospRow> {
    let price = Amount(1_000);
    let s = slash_at_min(p);
    let seasoned = History {
        verified: u64::MAX,
        strikes: 0,
    };
    [
        ("generate", "tokens", 4_096u64),
        ("embed", "texts", 100_000),
        ("finetune", "steps", 2_000),
        ("dedup", "records", 1_000_000),
    ]
    .into_iter()
    .map(|(kind, unit, units)| {
        let fee = Amount(price.0 * units as u128);
        let p_seasoned = verify::audit_rate_bps(&p.verify, &seasoned, fee, s);
        let holds = |bps: u16| (bps as u128) * (fee.0 + s.0) >= 10_000 * fee.0;
        PospRow {
            kind,
            unit,
            units,
            fee,
            slash: s,
            p_floor: p.verify.audit_floor_bps,
            p_seasoned,
            floor_holds: holds(p.verify.audit_floor_bps),
            holds: holds(p_seasoned),
        }
    })
    .collect()
}

fn myc(v: i128) -> String {
    format!("{:.4}", v as f64 / 1e9)
}

impl fmt::Display for EconomyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mycel bench verify (economy): {} jobs per strategy (audits for auditors), seed {}; \
             Genesis::dev + default Params (nothing shortened); 1 MYC jobs, {PER_BLOCK} jobs/block; \
             honest compute and each replay = {}% of the fee, a wrong trace 0",
            self.jobs_per_strategy,
            self.seed,
            COMPUTE_BPS / 100
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<52} {:>5} {:>6} {:>9} {:>8} {:>9} {:>15} {:>9} {:>4} {:>9} {:>6}",
            "strategy (MYC per job unless said)",
            "jobs",
            "caught",
            "gross",
            "compute",
            "measured",
            "expected (base)",
            "expected",
            "+?",
            "vs honest",
            "blocks"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<52} {:>5} {:>6} {:>9} {:>8} {:>9} {:>15} {:>9} {:>4} {:>9} {:>6}",
                r.strategy,
                r.jobs,
                r.caught,
                myc(r.gross_per_job),
                myc(r.compute_per_job),
                myc(r.profit_per_job),
                r.expected(),
                myc(r.expected()),
                if r.expected() > 0 { "yes" } else { "no" },
                r.vs_honest.map(myc).unwrap_or_else(|| "-".into()),
                r.blocks
            )?;
        }
        let bad: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.dishonest && r.expected() > 0)
            .collect();
        writeln!(f)?;
        if bad.is_empty() {
            writeln!(f, "every dishonest strategy lost money")?;
        } else {
            for r in bad {
                writeln!(
                    f,
                    "PROFITABLE dishonest strategy: {} (+{} MYC per job expected, {} measured over \
                     {} jobs)",
                    r.strategy,
                    myc(r.expected()),
                    myc(r.profit_per_job),
                    r.jobs
                )?;
            }
        }
        writeln!(
            f,
            "burst closed form (seasoned worker, min stake, 1 MYC jobs): {}",
            self.burst_expectation
                .iter()
                .map(|(b, v)| format!("{b} jobs → {} MYC", myc(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "PoSP p·(R+S) ≥ C per job kind (C = R, S = fraud_slash × min worker stake, price \
             0.000001 MYC/unit; the kind only sets units × price)"
        )?;
        writeln!(
            f,
            "{:<9} {:>18} {:>12} {:>10} {:>8} {:>6} {:>10} {:>6}",
            "kind", "units", "R (MYC)", "S (MYC)", "p_floor", "holds", "p_seasoned", "holds"
        )?;
        for r in &self.posp {
            writeln!(
                f,
                "{:<9} {:>18} {:>12} {:>10} {:>7}% {:>6} {:>9}% {:>6}",
                r.kind,
                format!("{} {}", r.units, r.unit),
                r.fee.to_string(),
                r.slash.to_string(),
                r.p_floor as f64 / 100.0,
                r.floor_holds,
                r.p_seasoned as f64 / 100.0,
                r.holds
            )?;
        }
        writeln!(
            f,
            "the floor alone covers fees up to {}; above that the stake term of the rate does",
            self.floor_fee_limit
        )?;
        if !self.refused.is_empty() {
            writeln!(f, "refused transactions: {:?}", self.refused)?;
        }
        write!(f, "ran in {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// Dishonest strategies that pay at the default parameters, outside the protocol's trust
/// assumptions (see the module docs): an auditor cartel holding most of the auditor stake.
pub const FINDINGS: [&str; 1] = [strategy::COLLUDING_RICH];

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(r: &Row) -> bool {
        FINDINGS.iter().any(|f| r.strategy.starts_with(f))
    }

    #[test]
    fn economy_dishonest_strategies_lose_and_honest_work_pays() {
        let r = run(12, 7).unwrap();
        println!("{r}");
        for name in [strategy::HONEST_WORKER, strategy::HONEST_AUDITOR] {
            let honest = r.row(name).unwrap();
            assert!(honest.jobs > 0 && honest.profit_per_job > 0, "{honest:?}");
        }
        for row in r.rows.iter().filter(|r| r.dishonest) {
            assert!(row.jobs > 0, "{row:?}");
            if !finding(row) {
                assert!(row.expected() < 0, "{} pays: {row:?}", row.strategy);
            }
            // Whatever it makes, a lazy auditor makes less than an honest one.
            if row.strategy == strategy::LAZY {
                assert!(row.vs_honest.unwrap() < 0, "{row:?}");
            }
        }
        // A cheater caught on every job loses far more than the fee.
        let cheater = r.row(strategy::CHEATER).unwrap();
        assert_eq!(cheater.caught, cheater.jobs);
        assert!(cheater.profit_per_job < -(MAX_FEE.0 as i128));
    }

    /// The PoSP condition holds for every kind at the ledger's seasoned audit rate.
    #[test]
    fn economy_posp_holds_for_every_job_kind() {
        for row in posp(&Params::default()) {
            assert!(row.holds, "{row:?}");
        }
    }

    /// Every dishonest strategy within the trust assumptions loses, with bursts of 50.
    #[test]
    fn economy_every_dishonest_strategy_loses() {
        let r = run_with(12, 50, 7).unwrap();
        println!("{r}");
        let paying: Vec<_> = r
            .rows
            .iter()
            .filter(|r| r.dishonest && !finding(r) && r.expected() >= 0)
            .map(|r| r.strategy.clone())
            .collect();
        assert!(paying.is_empty(), "{paying:?}");
    }

    /// The figures of the report: `cargo test --release -p mycel-bench economy_report --
    /// --ignored --nocapture` (well under a minute).
    #[test]
    #[ignore = "the full run; prints the report"]
    fn economy_report() {
        let r = run(200, 1).unwrap();
        println!("{r}");
    }
}
