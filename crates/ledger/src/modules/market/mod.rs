//! `market`: worker offers and batch jobs with escrow, deterministic assignment, result
//! commitment, a challenge window, settlement, deadlines and reassignment.
//!
//! Flow of a batch job:
//! 1. `PostJob` escrows `max_fee` from the poster and assigns the job at once to one eligible
//!    worker, drawn with ledger randomness (parent block digest ‖ job id) weighted by stake ×
//!    reputation among the offers that serve the job's kind and model.
//! 2. The assigned worker runs it off-chain and sends `CommitResult` (output hash, work units,
//!    result-commitment root) before `deadline` blocks have passed.
//! 3. After `challenge_window` blocks the job settles: the worker is paid
//!    `min(units × price, max_fee)` less the protocol fee (burned), the poster gets the unused
//!    escrow back, and the work units are recorded for the epoch's worker rewards (and, when the
//!    input is a registered dataset, its novel bytes for the contributor's data rewards).
//! 4. A worker that misses its deadline loses reputation and `missed_deadline_bps` of its worker
//!    stake, and the job is reassigned to another eligible worker; with none left the poster is
//!    refunded. Escrow is never lost or created: every path moves it to the worker, the poster or
//!    the burn.
//!
//! State: `market/offer/<addr>` → [`Offer`]; `market/job/<id BE>` → [`Job`];
//! `market/next` → next job id; `market/due/<height BE><id BE>` → () (deadlines and settlements);
//! `market/rep/<addr>` → reputation (u64, starts at [`START_REPUTATION`]);
//! `market/units/<epoch BE><addr>` → settled work units; `market/used/<epoch BE><addr>` → novel
//! bytes of the contributor's datasets used by settled jobs.

mod session;

pub use session::{RECEIPT_NAMESPACE, Receipt, Session, SessionMsg, recent_sessions, session};

use super::{Ctx, Module, bank, data, rewards, staking};
use crate::{Result, TxError, state::key};
use mycel_primitives::{
    Address, Amount, Hash,
    codec::{
        CodecError, EncodeSize, RangeCfg, Read, Write, read_string, string_size, write_string,
    },
    hash::{Domain, hash_parts},
};
use mycel_store::StateRead;

/// The market module.
pub struct Market;

const OFFER: &[u8] = b"market/offer/";
const JOB: &[u8] = b"market/job/";
const NEXT: &[u8] = b"market/next";
const DUE: &[u8] = b"market/due/";
const REP: &[u8] = b"market/rep/";
const UNITS: &[u8] = b"market/units/";
const USED: &[u8] = b"market/used/";
const BY_WORKER: &[u8] = b"market/worker/";

/// Reputation of a new worker; missed deadlines lower it, settled jobs raise it (capped).
pub const START_REPUTATION: u64 = 100;
const MAX_REPUTATION: u64 = 200;
const MAX_MODELS: usize = 32;
const MAX_PARAMS: usize = 4 * 1024;

/// The account that holds job escrow.
pub fn escrow() -> Address {
    Address::module("market")
}

/// Market parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks between a result commitment and settlement.
    pub challenge_window: u64,
    /// Share of each job fee that is burned, basis points.
    pub protocol_fee_bps: u16,
    /// Share of the worker stake slashed for a missed deadline, basis points.
    pub missed_deadline_bps: u16,
    /// Reputation lost per missed deadline.
    pub missed_deadline_reputation: u64,
    /// Most times a job is reassigned before the poster is refunded.
    pub max_attempts: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            challenge_window: 10,
            protocol_fee_bps: 500,
            missed_deadline_bps: 100,
            missed_deadline_reputation: 20,
            max_attempts: 3,
        }
    }
}

/// What a job asks for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Text generation over a prompt set.
    Generate = 0,
    /// Embeddings of a dataset.
    Embed = 1,
    /// LoRA fine-tuning on a dataset.
    Finetune = 2,
    /// Deduplication of a dataset.
    Dedup = 3,
}

impl JobKind {
    const ALL: [JobKind; 4] = [
        JobKind::Generate,
        JobKind::Embed,
        JobKind::Finetune,
        JobKind::Dedup,
    ];
    fn from_u8(v: u8) -> Option<JobKind> {
        JobKind::ALL.get(v as usize).copied()
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<JobKind, String> {
        match s {
            "generate" => Ok(JobKind::Generate),
            "embed" => Ok(JobKind::Embed),
            "finetune" => Ok(JobKind::Finetune),
            "dedup" => Ok(JobKind::Dedup),
            _ => Err(format!(
                "unknown job kind {s:?} (generate, embed, finetune, dedup)"
            )),
        }
    }
}

/// A worker's standing offer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    /// Job kinds served, a bit per [`JobKind`].
    pub kinds: u8,
    /// Model IDs served.
    pub models: Vec<Hash>,
    /// Hardware class, free text (e.g. `cpu-2c`).
    pub hardware: String,
    /// Price per work unit.
    pub price_per_unit: Amount,
    /// Where clients and the blob exchange reach the worker.
    pub endpoint: String,
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for the assigned worker's result.
    Assigned = 0,
    /// Result committed; settles when the challenge window ends.
    Committed = 1,
    /// Paid out.
    Settled = 2,
    /// No worker delivered; the poster was refunded.
    Failed = 3,
}

impl JobStatus {
    fn from_u8(v: u8) -> Option<JobStatus> {
        [
            JobStatus::Assigned,
            JobStatus::Committed,
            JobStatus::Settled,
            JobStatus::Failed,
        ]
        .get(v as usize)
        .copied()
    }
}

/// A batch job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// Job ID.
    pub id: u64,
    /// Who pays.
    pub poster: Address,
    /// Kind.
    pub kind: JobKind,
    /// Model ID.
    pub model: Hash,
    /// Input blob hash or dataset root.
    pub input: Hash,
    /// Kind-specific parameters (canonical JSON).
    pub params: Vec<u8>,
    /// Escrowed ceiling of the fee.
    pub max_fee: Amount,
    /// Blocks a worker has to deliver.
    pub deadline_blocks: u64,
    /// State.
    pub status: JobStatus,
    /// Assigned worker.
    pub worker: Address,
    /// The worker's price per unit when assigned.
    pub price_per_unit: Amount,
    /// Height by which the result is due (while assigned) or at which the job settles.
    pub due: u64,
    /// Assignments so far.
    pub attempts: u32,
    /// Committed output hash.
    pub output: Hash,
    /// Committed work units.
    pub units: u64,
    /// Committed result-commitment root.
    pub commitment: Hash,
    /// Fee paid to the worker (after settlement).
    pub fee: Amount,
}

/// Market messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Publishes or replaces the sender's offer (requires worker stake).
    Offer(Box<Offer>),
    /// Withdraws the sender's offer.
    CloseOffer,
    /// Posts a job with `max_fee` in escrow.
    PostJob {
        /// Kind.
        kind: JobKind,
        /// Model ID.
        model: Hash,
        /// Input blob hash or dataset root.
        input: Hash,
        /// Kind-specific parameters (canonical JSON, at most 4 KiB).
        params: Vec<u8>,
        /// Fee ceiling, escrowed.
        max_fee: Amount,
        /// Blocks the worker has to deliver.
        deadline_blocks: u64,
    },
    /// The assigned worker's result.
    CommitResult {
        /// Job ID.
        job: u64,
        /// Output blob hash.
        output: Hash,
        /// Work units done.
        units: u64,
        /// Root of the result commitments (per-item hashes, trace).
        commitment: Hash,
    },
    /// Interactive-session messages.
    Session(SessionMsg),
}

impl Write for Offer {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.kinds.write(buf);
        self.models.write(buf);
        write_string(&self.hardware, buf);
        self.price_per_unit.write(buf);
        write_string(&self.endpoint, buf);
    }
}

impl EncodeSize for Offer {
    fn encode_size(&self) -> usize {
        1 + self.models.encode_size()
            + string_size(&self.hardware)
            + 16
            + string_size(&self.endpoint)
    }
}

impl Read for Offer {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        Ok(Offer {
            kinds: u8::read_cfg(buf, &())?,
            models: Vec::<Hash>::read_cfg(buf, &(RangeCfg::new(0..=MAX_MODELS), ()))?,
            hardware: read_string(buf, 64)?,
            price_per_unit: Amount::read_cfg(buf, &())?,
            endpoint: read_string(buf, 256)?,
        })
    }
}

impl Write for Job {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.id.write(buf);
        self.poster.write(buf);
        (self.kind as u8).write(buf);
        self.model.write(buf);
        self.input.write(buf);
        self.params.write(buf);
        self.max_fee.write(buf);
        self.deadline_blocks.write(buf);
        (self.status as u8).write(buf);
        self.worker.write(buf);
        self.price_per_unit.write(buf);
        self.due.write(buf);
        self.attempts.write(buf);
        self.output.write(buf);
        self.units.write(buf);
        self.commitment.write(buf);
        self.fee.write(buf);
    }
}

impl EncodeSize for Job {
    fn encode_size(&self) -> usize {
        8 + 20
            + 1
            + 32
            + 32
            + self.params.encode_size()
            + 16
            + 8
            + 1
            + 20
            + 16
            + 8
            + 4
            + 32
            + 8
            + 32
            + 16
    }
}

impl Read for Job {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        let id = u64::read_cfg(buf, &())?;
        let poster = Address::read_cfg(buf, &())?;
        let k = u8::read_cfg(buf, &())?;
        let kind = JobKind::from_u8(k).ok_or(CodecError::InvalidEnum(k))?;
        let model = Hash::read_cfg(buf, &())?;
        let input = Hash::read_cfg(buf, &())?;
        let params = Vec::<u8>::read_cfg(buf, &(RangeCfg::new(0..=MAX_PARAMS), ()))?;
        let max_fee = Amount::read_cfg(buf, &())?;
        let deadline_blocks = u64::read_cfg(buf, &())?;
        let s = u8::read_cfg(buf, &())?;
        Ok(Job {
            id,
            poster,
            kind,
            model,
            input,
            params,
            max_fee,
            deadline_blocks,
            status: JobStatus::from_u8(s).ok_or(CodecError::InvalidEnum(s))?,
            worker: Address::read_cfg(buf, &())?,
            price_per_unit: Amount::read_cfg(buf, &())?,
            due: u64::read_cfg(buf, &())?,
            attempts: u32::read_cfg(buf, &())?,
            output: Hash::read_cfg(buf, &())?,
            units: u64::read_cfg(buf, &())?,
            commitment: Hash::read_cfg(buf, &())?,
            fee: Amount::read_cfg(buf, &())?,
        })
    }
}

impl Write for Msg {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Msg::Offer(o) => {
                0u8.write(buf);
                o.write(buf);
            }
            Msg::CloseOffer => 1u8.write(buf),
            Msg::PostJob {
                kind,
                model,
                input,
                params,
                max_fee,
                deadline_blocks,
            } => {
                2u8.write(buf);
                (*kind as u8).write(buf);
                model.write(buf);
                input.write(buf);
                params.write(buf);
                max_fee.write(buf);
                deadline_blocks.write(buf);
            }
            Msg::CommitResult {
                job,
                output,
                units,
                commitment,
            } => {
                3u8.write(buf);
                job.write(buf);
                output.write(buf);
                units.write(buf);
                commitment.write(buf);
            }
            Msg::Session(m) => {
                4u8.write(buf);
                m.write(buf);
            }
        }
    }
}

impl EncodeSize for Msg {
    fn encode_size(&self) -> usize {
        1 + match self {
            Msg::Offer(o) => o.encode_size(),
            Msg::CloseOffer => 0,
            Msg::PostJob { params, .. } => 1 + 32 + 32 + params.encode_size() + 16 + 8,
            Msg::CommitResult { .. } => 8 + 32 + 8 + 32,
            Msg::Session(m) => m.encode_size(),
        }
    }
}

impl Read for Msg {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Msg::Offer(Box::new(Offer::read_cfg(buf, &())?))),
            1 => Ok(Msg::CloseOffer),
            2 => {
                let k = u8::read_cfg(buf, &())?;
                Ok(Msg::PostJob {
                    kind: JobKind::from_u8(k).ok_or(CodecError::InvalidEnum(k))?,
                    model: Hash::read_cfg(buf, &())?,
                    input: Hash::read_cfg(buf, &())?,
                    params: Vec::<u8>::read_cfg(buf, &(RangeCfg::new(0..=MAX_PARAMS), ()))?,
                    max_fee: Amount::read_cfg(buf, &())?,
                    deadline_blocks: u64::read_cfg(buf, &())?,
                })
            }
            3 => Ok(Msg::CommitResult {
                job: u64::read_cfg(buf, &())?,
                output: Hash::read_cfg(buf, &())?,
                units: u64::read_cfg(buf, &())?,
                commitment: Hash::read_cfg(buf, &())?,
            }),
            4 => Ok(Msg::Session(SessionMsg::read_cfg(buf, &())?)),
            k => Err(super::unknown(Market::ID, k)),
        }
    }
}

fn err(e: crate::Error) -> TxError {
    TxError::Malformed(e.to_string())
}

fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &[&id.to_be_bytes()])
}

fn due_key(height: u64, id: u64) -> Vec<u8> {
    key(DUE, &[&height.to_be_bytes(), &id.to_be_bytes()])
}

/// A worker's offer.
pub fn offer(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<Option<Offer>> {
    crate::state::read::<Offer>(state, &key(OFFER, &[&worker.0]))
}

/// A job.
pub fn job(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Job>> {
    crate::state::read::<Job>(state, &job_key(id))
}

/// The `limit` most recent jobs, newest first.
pub fn recent_jobs(state: &(impl StateRead + ?Sized), limit: u64) -> Result<Vec<Job>> {
    newest(state, NEXT, limit, |id| job(state, id))
}

/// The items numbered below the counter at `next_key`, the `limit` highest first.
pub(super) fn newest<T>(
    state: &(impl StateRead + ?Sized),
    next_key: &[u8],
    limit: u64,
    get: impl Fn(u64) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let next = crate::state::read::<u64>(state, next_key)?.unwrap_or(0);
    (next.saturating_sub(limit)..next)
        .rev()
        .filter_map(|id| get(id).transpose())
        .collect()
}

/// Every published offer, by worker address.
pub fn offers(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Offer)>> {
    by_address(state, OFFER)
}

/// Every `(address, value)` stored under `prefix ‖ address`.
fn by_address<T: mycel_primitives::codec::Read<Cfg = ()>>(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
) -> Result<Vec<(Address, T)>> {
    state
        .scan_prefix(prefix)?
        .into_iter()
        .map(|(k, v)| {
            let a = Address(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad address key"))?,
            );
            let t = mycel_primitives::codec::decode::<T>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?;
            Ok((a, t))
        })
        .collect()
}

/// A worker's reputation.
pub fn reputation(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, &key(REP, &[&worker.0]))?.unwrap_or(START_REPUTATION))
}

/// IDs of the jobs ever assigned to `worker`, ascending.
pub fn jobs_of(state: &(impl StateRead + ?Sized), worker: &Address) -> Result<Vec<u64>> {
    let p = key(BY_WORKER, &[&worker.0]);
    state
        .scan_prefix(&p)?
        .into_iter()
        .map(|(k, _)| {
            Ok(u64::from_be_bytes(
                k[p.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad key"))?,
            ))
        })
        .collect()
}

/// Why a worker can or cannot be assigned jobs right now, in plain words (the earnings
/// debugger shows these). Empty when it is eligible for every job its offer names.
pub fn blockers(
    state: &(impl StateRead + ?Sized),
    params: &crate::genesis::Params,
    height: u64,
    worker: &Address,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let min = params.staking.min_stake[staking::Role::Worker as usize];
    let stake = staking::stake(state, worker, staking::Role::Worker)?;
    if stake < min {
        out.push(format!(
            "below minimum stake: {stake} bonded as worker, {min} required"
        ));
    }
    if let Some(until) = staking::jailed_until(state, worker)?.filter(|u| *u > height) {
        out.push(format!("jailed until height {until}"));
    }
    let unbonding: Vec<_> = staking::unbonding(state, worker)?
        .into_iter()
        .filter(|(_, r, _)| *r == staking::Role::Worker)
        .collect();
    for (h, _, a) in unbonding {
        out.push(format!(
            "unbonding {a} of worker stake (released at height {h})"
        ));
    }
    match offer(state, worker)? {
        None => out.push("no offer published: publish one with `mycel tx offer`".into()),
        Some(o) if o.models.is_empty() => out.push("the offer serves no model".into()),
        Some(_) => {}
    }
    let rep = reputation(state, worker)?;
    if rep < START_REPUTATION {
        out.push(format!("reputation {rep} below the starting {START_REPUTATION} after missed deadlines: fewer assignments"));
    }
    Ok(out)
}

/// Work units settled by each worker in `epoch`, in address order.
pub fn units(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Vec<(Address, u64)>> {
    per_epoch(state, UNITS, epoch)
}

/// Novel bytes of each contributor's datasets used by jobs settled in `epoch`.
pub fn data_used(state: &(impl StateRead + ?Sized), epoch: u64) -> Result<Vec<(Address, u64)>> {
    per_epoch(state, USED, epoch)
}

fn per_epoch(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
    epoch: u64,
) -> Result<Vec<(Address, u64)>> {
    by_address(state, &key(prefix, &[&epoch.to_be_bytes()]))
}

fn add_u64<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, k: Vec<u8>, n: u64) -> Result<()> {
    let cur = ctx.state.get::<u64>(&k)?.unwrap_or(0);
    ctx.state.put(k, &cur.saturating_add(n));
    Ok(())
}

/// Eligible workers for a job, with their weights (stake × reputation), in address order.
fn eligible<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    kind: JobKind,
    model: &Hash,
    exclude: &[Address],
) -> Result<Vec<(Address, Offer, u128)>> {
    let min = ctx.params.staking.min_stake[staking::Role::Worker as usize];
    let mut out = Vec::new();
    for (k, v) in ctx.state.scan_prefix(OFFER)? {
        let worker = Address(
            k[OFFER.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad offer key"))?,
        );
        let offer = mycel_primitives::codec::decode::<Offer>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        if exclude.contains(&worker)
            || offer.kinds & kind.bit() == 0
            || !offer.models.contains(model)
        {
            continue;
        }
        let stake = staking::stake(ctx.state, &worker, staking::Role::Worker)?;
        if stake < min
            || staking::jailed_until(ctx.state, &worker)?.is_some_and(|u| u > ctx.env.height)
        {
            continue;
        }
        let weight = stake
            .0
            .saturating_mul(reputation(ctx.state, &worker)? as u128);
        if weight > 0 {
            out.push((worker, offer, weight));
        }
    }
    Ok(out)
}

/// Draws a worker with probability proportional to weight, from ledger randomness.
fn draw(candidates: &[(Address, Offer, u128)], seed: &Hash) -> Option<usize> {
    let total: u128 = candidates.iter().map(|c| c.2).sum();
    if total == 0 {
        return None;
    }
    let r = u128::from_be_bytes(seed.0[..16].try_into().expect("16 bytes")) % total;
    let mut acc = 0u128;
    candidates.iter().position(|c| {
        acc += c.2;
        r < acc
    })
}

/// Assigns `job` to a worker not in `exclude`; returns false if nobody can take it.
fn assign<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    job: &mut Job,
    exclude: &[Address],
) -> Result<bool> {
    let candidates = eligible(ctx, job.kind, &job.model, exclude)?;
    let seed = hash_parts(
        Domain::Randomness,
        &[
            b"market.assign",
            &ctx.env.parent.0,
            &job.id.to_be_bytes(),
            &job.attempts.to_be_bytes(),
        ],
    );
    let Some(i) = draw(&candidates, &seed) else {
        return Ok(false);
    };
    let (worker, offer, _) = &candidates[i];
    job.worker = *worker;
    job.price_per_unit = offer.price_per_unit;
    job.status = JobStatus::Assigned;
    job.attempts += 1;
    job.due = ctx.env.height + job.deadline_blocks;
    ctx.state.put_raw(due_key(job.due, job.id), Vec::new());
    ctx.state.put_raw(
        key(BY_WORKER, &[&worker.0, &job.id.to_be_bytes()]),
        Vec::new(),
    );
    ctx.emit(
        "market.assigned",
        &[
            ("job", job.id.to_string()),
            ("worker", worker.to_string()),
            ("due", job.due.to_string()),
        ],
    );
    Ok(true)
}

impl Module for Market {
    const NAME: &'static str = "market";
    const ID: u8 = 5;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> std::result::Result<(), TxError> {
        match msg {
            Msg::Session(m) => return session::execute(ctx, sender, m),
            Msg::Offer(o) => {
                let min = ctx.params.staking.min_stake[staking::Role::Worker as usize];
                let stake =
                    staking::stake(ctx.state, &sender, staking::Role::Worker).map_err(err)?;
                if stake < min {
                    return Err(TxError::BelowMinStake {
                        role: "worker".into(),
                        min,
                        got: stake,
                    });
                }
                if o.kinds == 0 || o.kinds >> JobKind::ALL.len() != 0 || o.models.is_empty() {
                    return Err(TxError::InvalidMarket(
                        "an offer needs known job kinds and at least one model".into(),
                    ));
                }
                ctx.state.put(key(OFFER, &[&sender.0]), o.as_ref());
                ctx.emit(
                    "market.offer",
                    &[
                        ("worker", sender.to_string()),
                        ("price", o.price_per_unit.0.to_string()),
                    ],
                );
            }
            Msg::CloseOffer => {
                let k = key(OFFER, &[&sender.0]);
                if ctx.state.get_raw(&k).map_err(err)?.is_none() {
                    return Err(TxError::InvalidMarket("no offer to close".into()));
                }
                ctx.state.delete(k);
                ctx.emit("market.offer_closed", &[("worker", sender.to_string())]);
            }
            Msg::PostJob {
                kind,
                model,
                input,
                params,
                max_fee,
                deadline_blocks,
            } => {
                if max_fee.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                if *deadline_blocks == 0 || *deadline_blocks > 100_000 {
                    return Err(TxError::InvalidMarket(
                        "deadline must be 1..=100000 blocks".into(),
                    ));
                }
                if !params.is_empty()
                    && serde_json::from_slice::<serde_json::Value>(params).is_err()
                {
                    return Err(TxError::InvalidMarket("params must be JSON".into()));
                }
                let id = ctx.state.get::<u64>(NEXT).map_err(err)?.unwrap_or(0);
                ctx.state.put(NEXT.to_vec(), &(id + 1));
                let mut job = Job {
                    id,
                    poster: sender,
                    kind: *kind,
                    model: *model,
                    input: *input,
                    params: params.clone(),
                    max_fee: *max_fee,
                    deadline_blocks: *deadline_blocks,
                    status: JobStatus::Assigned,
                    worker: Address::default(),
                    price_per_unit: Amount::ZERO,
                    due: 0,
                    attempts: 0,
                    output: Hash::ZERO,
                    units: 0,
                    commitment: Hash::ZERO,
                    fee: Amount::ZERO,
                };
                if !assign(ctx, &mut job, &[]).map_err(err)? {
                    return Err(TxError::InvalidMarket(format!(
                        "no worker serves {kind:?} jobs for model {model}"
                    )));
                }
                bank::transfer(ctx, &sender, &escrow(), *max_fee)?;
                ctx.state.put(job_key(id), &job);
                ctx.emit(
                    "market.job_posted",
                    &[
                        ("job", id.to_string()),
                        ("poster", sender.to_string()),
                        ("max_fee", max_fee.0.to_string()),
                    ],
                );
            }
            Msg::CommitResult {
                job: id,
                output,
                units,
                commitment,
            } => {
                let mut job = job(ctx.state, *id)
                    .map_err(err)?
                    .ok_or_else(|| TxError::InvalidMarket(format!("unknown job {id}")))?;
                if job.status != JobStatus::Assigned {
                    return Err(TxError::InvalidMarket(format!(
                        "job {id} is not waiting for a result"
                    )));
                }
                if job.worker != sender {
                    return Err(TxError::Unauthorized(format!(
                        "job {id} is assigned to {}",
                        job.worker
                    )));
                }
                if *units == 0 {
                    return Err(TxError::InvalidMarket(
                        "a result must report work units".into(),
                    ));
                }
                ctx.state.delete(due_key(job.due, job.id));
                job.status = JobStatus::Committed;
                job.output = *output;
                job.units = *units;
                job.commitment = *commitment;
                job.due = ctx.env.height + ctx.params.market.challenge_window;
                ctx.state.put_raw(due_key(job.due, job.id), Vec::new());
                ctx.state.put(job_key(job.id), &job);
                ctx.emit(
                    "market.result",
                    &[
                        ("job", id.to_string()),
                        ("worker", sender.to_string()),
                        ("output", output.to_hex()),
                        ("units", units.to_string()),
                    ],
                );
            }
        }
        Ok(())
    }

    /// Settles jobs whose challenge window ended and handles missed deadlines.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        session::end_block(ctx)?;
        let prefix = key(DUE, &[&ctx.env.height.to_be_bytes()]);
        let p = ctx.params.market.clone();
        let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
        let overflow = |_| crate::Error::Overflow("market");
        for (k, _) in ctx.state.scan_prefix(&prefix)? {
            ctx.state.delete(k.clone());
            let id = u64::from_be_bytes(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad due key"))?,
            );
            let Some(mut job) = job(ctx.state, id)? else {
                continue;
            };
            match job.status {
                JobStatus::Committed => {
                    let cost = Amount(job.price_per_unit.0.saturating_mul(job.units as u128))
                        .min(job.max_fee);
                    let burned = cost
                        .mul_div(p.protocol_fee_bps as u128, 10_000)
                        .map_err(overflow)?;
                    let pay = cost.checked_sub(burned).map_err(overflow)?;
                    let refund = job.max_fee.checked_sub(cost).map_err(overflow)?;
                    bank::transfer(ctx, &escrow(), &job.worker, pay)
                        .map_err(|_| crate::Error::Overflow("job payment"))?;
                    bank::burn(ctx, &escrow(), burned)
                        .map_err(|_| crate::Error::Overflow("protocol fee"))?;
                    bank::transfer(ctx, &escrow(), &job.poster, refund)
                        .map_err(|_| crate::Error::Overflow("refund"))?;
                    rewards::record(ctx.state, epoch, &job.worker, rewards::Reason::JobFee, pay)?;
                    rewards::record(
                        ctx.state,
                        epoch,
                        &job.poster,
                        rewards::Reason::JobPaid,
                        cost,
                    )?;
                    add_u64(
                        ctx,
                        key(UNITS, &[&epoch.to_be_bytes(), &job.worker.0]),
                        job.units,
                    )?;
                    if let Some(ds) = data::dataset(ctx.state, &job.input)? {
                        let credited = ds.credited_novel_bytes();
                        if credited > 0 {
                            add_u64(
                                ctx,
                                key(USED, &[&epoch.to_be_bytes(), &ds.contributor.0]),
                                credited,
                            )?;
                        }
                    }
                    let rep = reputation(ctx.state, &job.worker)?;
                    ctx.state
                        .put(key(REP, &[&job.worker.0]), &(rep + 1).min(MAX_REPUTATION));
                    job.status = JobStatus::Settled;
                    job.fee = pay;
                    ctx.state.put(job_key(id), &job);
                    ctx.emit(
                        "market.settled",
                        &[
                            ("job", id.to_string()),
                            ("worker", job.worker.to_string()),
                            ("fee", pay.0.to_string()),
                            ("refund", refund.0.to_string()),
                        ],
                    );
                }
                JobStatus::Assigned => {
                    let late = job.worker;
                    let rep = reputation(ctx.state, &late)?;
                    ctx.state.put(
                        key(REP, &[&late.0]),
                        &rep.saturating_sub(p.missed_deadline_reputation),
                    );
                    staking::slash(
                        ctx,
                        &late,
                        staking::Role::Worker,
                        p.missed_deadline_bps,
                        "missed deadline",
                    )?;
                    ctx.emit(
                        "market.deadline_missed",
                        &[("job", id.to_string()), ("worker", late.to_string())],
                    );
                    if job.attempts >= p.max_attempts || !assign(ctx, &mut job, &[late])? {
                        bank::transfer(ctx, &escrow(), &job.poster, job.max_fee)
                            .map_err(|_| crate::Error::Overflow("refund"))?;
                        job.status = JobStatus::Failed;
                        ctx.emit(
                            "market.failed",
                            &[
                                ("job", id.to_string()),
                                ("refund", job.max_fee.0.to_string()),
                            ],
                        );
                    }
                    ctx.state.put(job_key(id), &job);
                }
                JobStatus::Settled | JobStatus::Failed => {}
            }
        }
        Ok(())
    }
}
