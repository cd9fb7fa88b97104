//! Execution of `market::session` messages and the module's block hooks.

use super::{msg::*, query::*, state::*};
use crate::earnings;
use crate::modules::market::{JobKind, MarketError, REP, escrow, events, offer, reputation};
use crate::{
    ExecResult, Result, TxError,
    events::attr,
    modules::{Ctx, agent, bank, staking},
    state::key,
};
use mycel_primitives::{
    Address, Amount, Hash, Signature,
    codec::EncodeSize,
    keys::{self, public_key_from_bytes},
};
use mycel_store::StateRead;

fn load<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, id: u64) -> ExecResult<Session> {
    session(ctx.state, id)?.ok_or_else(|| MarketError::UnknownSession { session: id }.into())
}

/// Refunds `amount` of a proven or unanswered dispute to the client out of the worker's stake.
fn penalise<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    s: &mut Session,
    amount: Amount,
    why: &str,
) -> Result<()> {
    let take = match agent::session_entry(ctx, &s.model)? {
        // A tool's bond answers for its sessions.
        Some(e) => agent::take_bond(ctx, e, amount, &s.client)?,
        None => {
            let stake = staking::stake(ctx.state, &s.worker, staking::Role::Worker)?;
            let take = amount.min(stake);
            staking::take_stake(ctx, &s.worker, staking::Role::Worker, take, &s.client)?;
            take
        }
    };
    s.refunded = s
        .refunded
        .checked_add(take)
        .map_err(|_| crate::Error::Overflow("session refund"))?;
    let rep = reputation(ctx.state, &s.worker)?;
    ctx.state.put(
        key(REP, &[&s.worker.0]),
        &rep.saturating_sub(ctx.params.market.missed_deadline_reputation),
    );
    let epoch = ctx.epoch();
    earnings::record(ctx.state, epoch, &s.worker, earnings::Reason::Slashed, take)?;
    ctx.emit(
        events::SESSION_PENALTY,
        &[
            (attr::SESSION, s.id.to_string()),
            (attr::WORKER, s.worker.to_string()),
            (attr::REFUND, take.0.to_string()),
            (attr::REASON, why.into()),
        ],
    );
    Ok(())
}

/// Applies one session message.
pub fn execute<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    msg: &SessionMsg,
) -> ExecResult {
    match msg {
        SessionMsg::Open {
            worker,
            model,
            deposit,
            duration_blocks,
        } => {
            if deposit.is_zero() {
                return Err(TxError::ZeroAmount.into());
            }
            if *duration_blocks == 0 || *duration_blocks > MAX_DURATION {
                return Err(MarketError::BadDuration {
                    blocks: *duration_blocks,
                }
                .into());
            }
            // A tool's current manifest: a session with its provider at its price per call.
            let tool = agent::open_session(ctx, model, worker)?;
            let price = match &tool {
                Some(e) => e.price,
                None => {
                    let o = offer(ctx.state, worker)?
                        .ok_or(MarketError::NoOffer { worker: *worker })?;
                    // Sessions serve generation and embeddings.
                    let interactive = (1 << JobKind::Generate as u8) | (1 << JobKind::Embed as u8);
                    if o.kinds & interactive == 0 || !o.models.contains(model) {
                        return Err(MarketError::NotServed {
                            worker: *worker,
                            model: *model,
                        }
                        .into());
                    }
                    crate::modules::model::may_use(ctx.state, model, &sender)??;
                    if let Some(v) = crate::modules::model::version(ctx.state, model)?
                        && !crate::modules::model::accepts(&o.licenses, &v.registration.license)
                    {
                        return Err(crate::modules::model::ModelError::LicenseNotAccepted {
                            id: *model,
                            license: v.registration.license,
                        }
                        .into());
                    }
                    o.price_per_unit
                }
            };
            let id = ctx.state.get::<u64>(NEXT)?.unwrap_or(0);
            ctx.state.put(NEXT.to_vec(), &(id + 1));
            bank::transfer(ctx, &sender, &escrow(), *deposit)?;
            let s = Session {
                id,
                client: sender,
                worker: *worker,
                model: *model,
                deposit: *deposit,
                price_per_token: price,
                expires: ctx.env.height + duration_blocks,
                receipts_root: Hash::ZERO,
                count: 0,
                total: Amount::ZERO,
                refunded: Amount::ZERO,
                closed: false,
            };
            ctx.state.put(session_key(id), &s);
            // The worker's stake (a tool's bond) answers for this session's receipts until they
            // can no longer be disputed.
            if tool.is_none() {
                staking::hold(ctx, worker, staking::Role::Worker, true)?;
            }
            ctx.emit(
                events::SESSION_OPENED,
                &[
                    (attr::SESSION, id.to_string()),
                    (attr::CLIENT, sender.to_string()),
                    (attr::WORKER, worker.to_string()),
                ],
            );
        }
        SessionMsg::Settle {
            session: id,
            receipts_root,
            count,
            total,
            last,
            proof,
        } => {
            let mut s = load(ctx, *id)?;
            if s.worker != sender {
                return Err(MarketError::NotSessionWorkerSettle.into());
            }
            if s.closed {
                return Err(MarketError::SessionClosed.into());
            }
            if *count <= s.count || *total < s.total {
                return Err(MarketError::SettlementMustExtend {
                    count: s.count,
                    total: s.total,
                }
                .into());
            }
            if *total > s.deposit {
                return Err(MarketError::TotalExceedsDeposit {
                    total: *total,
                    deposit: s.deposit,
                }
                .into());
            }
            // The settled total is the one the last settled receipt carries: a worker cannot
            // claim more than the receipts it signed add up to, and every receipt it signed
            // is one the client holds and can dispute.
            if last.session != *id || last.seq + 1 != *count || last.cumulative != *total {
                return Err(MarketError::SettlementNotLastReceipt.into());
            }
            if proof.index != last.seq || proof.size != *count {
                return Err(MarketError::ProofPosition.into());
            }
            proof
                .verify(&last.leaf(), receipts_root)
                .map_err(|e| MarketError::BadProof { why: e.to_string() })?;
            let delta = total.checked_sub(s.total)?;
            let burned = delta.mul_div(ctx.params.market.protocol_fee_bps as u128, 10_000)?;
            let pay = delta.checked_sub(burned)?;
            bank::transfer(ctx, &escrow(), &sender, pay)?;
            bank::burn(ctx, &escrow(), burned)?;
            let epoch = ctx.epoch();
            earnings::record(ctx.state, epoch, &sender, earnings::Reason::JobFee, pay)?;
            earnings::record(
                ctx.state,
                epoch,
                &s.client,
                earnings::Reason::JobPaid,
                delta,
            )?;
            let tool = agent::session_entry(ctx, &s.model)?;
            if let Some(e) = tool.clone() {
                // Tool calls earn fees and reputation, not compute emissions.
                agent::record_settled(ctx, e, count - s.count, pay)?;
            } else if !s.price_per_token.is_zero() {
                let units = (delta.0 / s.price_per_token.0) as u64;
                let k = key(
                    crate::modules::market::UNITS,
                    &[&epoch.to_be_bytes(), &sender.0],
                );
                let cur = ctx.state.get::<u64>(&k)?.unwrap_or(0);
                ctx.state.put(k, &cur.saturating_add(units));
            }
            // A session is one use of its model, as a job is: its data contributors are credited
            // at its first settlement, however often the worker settles.
            if s.count == 0 && tool.is_none() {
                super::super::exec::credit_lineage(ctx, &s.model, &s.client)?;
            }
            s.receipts_root = *receipts_root;
            s.count = *count;
            s.total = *total;
            ctx.state.put(session_key(*id), &s);
            ctx.emit(
                events::SESSION_SETTLED,
                &[
                    (attr::SESSION, id.to_string()),
                    (attr::COUNT, count.to_string()),
                    (attr::TOTAL, total.0.to_string()),
                ],
            );
        }
        SessionMsg::Dispute {
            receipt,
            worker_key,
            signature,
        } => {
            let mut s = load(ctx, receipt.session)?;
            if s.client != sender {
                return Err(MarketError::NotSessionClient.into());
            }
            disputable(ctx, &s)?;
            worker_signed(&s, worker_key, receipt, signature)?;
            // Each receipt is disputed at most once, whatever the outcome.
            mark_disputed(ctx, s.id, receipt.seq)?;
            if !fairly_priced(&s, receipt) {
                // Proven at once by the worker's own signature.
                penalise(ctx, &mut s, receipt.amount, "overcharge")?;
                ctx.state.put(session_key(s.id), &s);
                return Ok(());
            }
            if receipt.seq >= s.count {
                return Err(MarketError::ReceiptNotSettled.into());
            }
            let mut record = Vec::with_capacity(8 + receipt.encode_size());
            record.extend_from_slice(&open_dispute(ctx, &s, receipt.seq).to_be_bytes());
            record.extend_from_slice(&receipt.bytes());
            ctx.state.put_raw(dispute_key(s.id, receipt.seq), record);
        }
        SessionMsg::Unrequested { session: id, seq } => {
            let s = load(ctx, *id)?;
            if s.client != sender {
                return Err(MarketError::NotSessionClient.into());
            }
            disputable(ctx, &s)?;
            if *seq >= s.count {
                return Err(MarketError::ReceiptNotSettled.into());
            }
            mark_disputed(ctx, s.id, *seq)?;
            let due = open_dispute(ctx, &s, *seq);
            ctx.state
                .put_raw(dispute_key(s.id, *seq), due.to_be_bytes().to_vec());
        }
        SessionMsg::Answer {
            receipt,
            proof,
            client_key,
            request_signature,
        } => {
            let s = load(ctx, receipt.session)?;
            if s.worker != sender {
                return Err(MarketError::NotSessionWorkerAnswer.into());
            }
            let dk = dispute_key(s.id, receipt.seq);
            let Some(record) = ctx.state.get_raw(&dk)? else {
                return Err(MarketError::NoOpenDispute.into());
            };
            if record.len() > 8 && record[8..] != receipt.bytes()[..] {
                return Err(MarketError::NotDisputedReceipt.into());
            }
            if proof.index != receipt.seq || proof.size != s.count {
                return Err(MarketError::ProofPosition.into());
            }
            proof
                .verify(&receipt.leaf(), &s.receipts_root)
                .map_err(|e| MarketError::BadProof { why: e.to_string() })?;
            // The settled receipt answered a request the client signed.
            let pk = public_key_from_bytes(client_key)
                .map_err(|e| MarketError::BadWorkerKey { why: e.to_string() })?;
            if Address::from_public_key(&pk) != s.client {
                return Err(MarketError::KeyNotSessionClient.into());
            }
            let sig: Signature = mycel_primitives::codec::decode(request_signature)
                .map_err(|e| MarketError::BadSignatureBytes { why: e.to_string() })?;
            let signed = request_bytes(s.id, receipt.seq, &receipt.input_hash);
            if !keys::verify(&pk, REQUEST_NAMESPACE, &signed, &sig) {
                return Err(TxError::BadSignature.into());
            }
            let due = u64::from_be_bytes(record[..8].try_into().expect("8 bytes"));
            ctx.state.delete(dk);
            ctx.state.delete(due_key(due, s.id, receipt.seq));
            ctx.emit(
                events::SESSION_ANSWERED,
                &[
                    (attr::SESSION, s.id.to_string()),
                    (attr::SEQ, receipt.seq.to_string()),
                ],
            );
        }
        SessionMsg::Jump {
            previous,
            previous_signature,
            receipt,
            signature,
            worker_key,
        } => {
            let mut s = load(ctx, receipt.session)?;
            if s.client != sender {
                return Err(MarketError::NotSessionClient.into());
            }
            disputable(ctx, &s)?;
            if previous.session != s.id || previous.seq + 1 != receipt.seq {
                return Err(MarketError::NotConsecutive.into());
            }
            worker_signed(&s, worker_key, previous, previous_signature)?;
            worker_signed(&s, worker_key, receipt, signature)?;
            let due = previous.cumulative.0.saturating_add(receipt.amount.0);
            if receipt.cumulative.0 <= due {
                return Err(MarketError::TotalsAddUp.into());
            }
            mark_disputed(ctx, s.id, receipt.seq)?;
            // Proven by the worker's own two signatures: it pays back the jump.
            penalise(
                ctx,
                &mut s,
                Amount(receipt.cumulative.0 - due),
                "running total jumped",
            )?;
            ctx.state.put(session_key(s.id), &s);
        }
        SessionMsg::TopUp {
            session: id,
            amount,
            extend_blocks,
        } => {
            let mut s = load(ctx, *id)?;
            if s.client != sender {
                return Err(MarketError::NotSessionClient.into());
            }
            if s.closed {
                return Err(MarketError::SessionClosed.into());
            }
            if *extend_blocks > MAX_DURATION {
                return Err(MarketError::BadDuration {
                    blocks: *extend_blocks,
                }
                .into());
            }
            if amount.is_zero() && *extend_blocks == 0 {
                return Err(TxError::ZeroAmount.into());
            }
            // A revoked grant cannot be outlived by topping the session up.
            crate::modules::model::may_use(ctx.state, &s.model, &sender)??;
            bank::transfer(ctx, &sender, &escrow(), *amount)?;
            s.deposit = s
                .deposit
                .checked_add(*amount)
                .map_err(|_| crate::Error::Overflow("session deposit"))?;
            s.expires = s.expires.max(ctx.env.height + extend_blocks);
            ctx.state.put(session_key(*id), &s);
            ctx.emit(
                events::SESSION_TOPPED_UP,
                &[
                    (attr::SESSION, id.to_string()),
                    (attr::AMOUNT, amount.0.to_string()),
                ],
            );
        }
        SessionMsg::Close { session: id } => {
            let mut s = load(ctx, *id)?;
            if s.closed {
                return Err(MarketError::SessionAlreadyClosed.into());
            }
            let client_may = sender == s.client && ctx.env.height >= s.expires + SETTLE_GRACE;
            if sender != s.worker && !client_may {
                return Err(MarketError::CloseNotAllowed.into());
            }
            let refund = s.deposit.checked_sub(s.total)?;
            bank::transfer(ctx, &escrow(), &s.client, refund)?;
            s.closed = true;
            ctx.state.put(session_key(*id), &s);
            // Receipts stay disputable for a window after closing, and the worker's stake stays
            // bonded until any dispute filed in it has been answered or has run out.
            let last = ctx.env.height + DISPUTE_WINDOW;
            ctx.state.put(key(RELEASE, &[&id.to_be_bytes()]), &last);
            ctx.state.put_raw(
                key(
                    RELEASE_DUE,
                    &[
                        &(last + DISPUTE_WINDOW + 1).to_be_bytes(),
                        &id.to_be_bytes(),
                    ],
                ),
                Vec::new(),
            );
            ctx.emit(
                events::SESSION_CLOSED,
                &[
                    (attr::SESSION, id.to_string()),
                    (attr::REFUND, refund.0.to_string()),
                ],
            );
        }
    }
    Ok(())
}

/// Refuses a dispute of a session closed more than [`DISPUTE_WINDOW`] blocks ago.
fn disputable<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, s: &Session) -> ExecResult {
    if !s.closed {
        return Ok(());
    }
    let last = ctx
        .state
        .get::<u64>(&key(RELEASE, &[&s.id.to_be_bytes()]))?
        .unwrap_or(0);
    if ctx.env.height > last {
        return Err(MarketError::DisputeWindowOver { last }.into());
    }
    Ok(())
}

/// True when the receipt is priced as the session says: its model, price and amount.
fn fairly_priced(s: &Session, r: &Receipt) -> bool {
    r.model == s.model
        && r.price == s.price_per_token
        && r.amount.0 == s.price_per_token.0.saturating_mul(r.tokens as u128)
        && r.cumulative >= r.amount
        && (r.seq > 0 || r.cumulative == r.amount)
}

/// The worker key of a dispute, checked to be the session's worker, and `sig` of `r` by it.
fn worker_signed(s: &Session, worker_key: &[u8], r: &Receipt, sig: &[u8]) -> ExecResult {
    let pk = public_key_from_bytes(worker_key)
        .map_err(|e| MarketError::BadWorkerKey { why: e.to_string() })?;
    if Address::from_public_key(&pk) != s.worker {
        return Err(MarketError::KeyNotSessionWorker.into());
    }
    let sig: Signature = mycel_primitives::codec::decode(sig)
        .map_err(|e| MarketError::BadSignatureBytes { why: e.to_string() })?;
    if !keys::verify(&pk, RECEIPT_NAMESPACE, &r.bytes(), &sig) {
        return Err(TxError::BadSignature.into());
    }
    Ok(())
}

/// Refuses a second dispute of the same receipt; records this one.
fn mark_disputed<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: u64, seq: u64) -> ExecResult {
    let k = key(DISPUTED, &[&id.to_be_bytes(), &seq.to_be_bytes()]);
    if ctx.state.get_raw(&k)?.is_some() {
        return Err(MarketError::AlreadyDisputed.into());
    }
    ctx.state.put_raw(k, Vec::new());
    Ok(())
}

fn due_key(due: u64, id: u64, seq: u64) -> Vec<u8> {
    key(
        DISPUTE_DUE,
        &[&due.to_be_bytes(), &id.to_be_bytes(), &seq.to_be_bytes()],
    )
}

/// Schedules the answer deadline of a dispute of `seq` and announces it; returns the deadline.
fn open_dispute<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, s: &Session, seq: u64) -> u64 {
    let due = ctx.env.height + DISPUTE_WINDOW;
    ctx.state.put_raw(due_key(due, s.id, seq), Vec::new());
    ctx.emit(
        events::SESSION_DISPUTED,
        &[
            (attr::SESSION, s.id.to_string()),
            (attr::SEQ, seq.to_string()),
            (attr::ANSWER_BY, due.to_string()),
        ],
    );
    due
}

/// Penalises the workers whose dispute answer is due at this height, and releases the stake
/// held for sessions whose dispute window has passed.
pub fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
    let due = key(RELEASE_DUE, &[&ctx.env.height.to_be_bytes()]);
    for (k, _) in ctx.state.scan_prefix(&due)? {
        ctx.state.delete(k.clone());
        let id = k[due.len()..]
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| crate::state::corrupt(&k, "bad key"))?;
        if let Some(s) = session(ctx.state, id)? {
            match agent::session_entry(ctx, &s.model)? {
                Some(e) => agent::session_released(ctx, e)?,
                None => staking::hold(ctx, &s.worker, staking::Role::Worker, false)?,
            }
        }
    }
    let prefix = key(DISPUTE_DUE, &[&ctx.env.height.to_be_bytes()]);
    for (k, _) in ctx.state.scan_prefix(&prefix)? {
        ctx.state.delete(k.clone());
        let rest = &k[prefix.len()..];
        let id = u64::from_be_bytes(
            rest[..8]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad key"))?,
        );
        let seq = u64::from_be_bytes(
            rest[8..16]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad key"))?,
        );
        let dk = dispute_key(id, seq);
        let Some(record) = ctx.state.get_raw(&dk)? else {
            continue;
        };
        ctx.state.delete(dk);
        let Some(mut s) = session(ctx.state, id)? else {
            continue;
        };
        // An unanswered dispute forfeits what the client paid beyond the receipt it holds
        // (at least the receipt's amount); for a request the client says it never made, all
        // it paid. Never more in total than the client paid.
        let (owed, why) = if record.len() > 8 {
            let receipt: Receipt = mycel_primitives::codec::decode(&record[8..])
                .map_err(|e| crate::state::corrupt(&k, e))?;
            let beyond = s.total.0.saturating_sub(receipt.cumulative.0);
            (Amount(beyond.max(receipt.amount.0)), "unanswered dispute")
        } else {
            (s.total, "unanswered unrequested")
        };
        let owed = owed.min(Amount(s.total.0.saturating_sub(s.refunded.0)));
        penalise(ctx, &mut s, owed, why)?;
        ctx.state.put(session_key(id), &s);
    }
    Ok(())
}
