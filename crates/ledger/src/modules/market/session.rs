//! Interactive sessions: prepaid escrow, worker-signed receipts settled as a Merkle root, and
//! disputes with a receipt.
//!
//! A client opens a session with a worker for a model and escrows a deposit. Each response the
//! worker serves off-chain carries a [`Receipt`] signed with the worker's key. The worker settles
//! *cumulatively*: `SettleSession` names the RFC 6962 root over all receipts so far (in sequence
//! order), their count and their total, and is paid the increase over the last settlement (less
//! the protocol fee). Because settlements only grow, a settlement can never be charged twice.
//!
//! A client disputes with a receipt the worker signed:
//! - if the receipt overcharges (amount above tokens × the session price), the fault is proven at
//!   once;
//! - if the receipt's sequence number is already settled, the worker must show within
//!   `dispute_window` blocks that the settled root contains exactly this receipt (`AnswerDispute`).
//!
//! A proven or unanswered dispute refunds the receipt's amount to the client out of the worker's
//! bonded stake and costs the worker reputation. After expiry the client (or the worker at any
//! time) closes the session and the unspent deposit returns to the client.
//!
//! State: `market/session/<id BE>` → [`Session`]; `market/nsession` → next id;
//! `market/dispute/<id BE><seq BE>` → deadline height; `market/ddue/<height BE><id BE><seq BE>` → ().

use super::{JobKind, REP, escrow, offer, reputation};
use crate::{
    Result, TxError,
    modules::{Ctx, bank, rewards, staking},
    state::key,
};
use mycel_primitives::{
    Address, Amount, Hash, Signature,
    codec::{CodecError, Encode, EncodeSize, RangeCfg, Read, Write},
    keys::{self, public_key_from_bytes},
    merkle::{InclusionProof, leaf_hash},
};
use mycel_store::StateRead;

const SESSION: &[u8] = b"market/session/";
const NEXT: &[u8] = b"market/nsession";
const DISPUTE: &[u8] = b"market/dispute/";
const DISPUTE_DUE: &[u8] = b"market/ddue/";

/// Signature namespace of session receipts.
pub const RECEIPT_NAMESPACE: &[u8] = b"_MYCEL_SESSION_RECEIPT";

/// Blocks a worker has to answer a dispute.
pub const DISPUTE_WINDOW: u64 = 20;

/// One served response, signed by the worker.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Session ID.
    pub session: u64,
    /// Position in the session, from 0.
    pub seq: u64,
    /// Hash of the request.
    pub input_hash: Hash,
    /// Hash of the response.
    pub output_hash: Hash,
    /// Tokens billed.
    pub tokens: u64,
    /// Amount charged.
    pub amount: Amount,
}

impl Receipt {
    /// The bytes the worker signs (and the Merkle leaf preimage).
    pub fn bytes(&self) -> Vec<u8> {
        self.encode().to_vec()
    }

    /// The worker's signature over this receipt.
    pub fn sign(&self, key: &mycel_primitives::PrivateKey) -> Signature {
        keys::sign(key, RECEIPT_NAMESPACE, &self.bytes())
    }

    /// The Merkle leaf of this receipt.
    pub fn leaf(&self) -> Hash {
        leaf_hash(&self.bytes())
    }
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.session.write(buf);
        self.seq.write(buf);
        self.input_hash.write(buf);
        self.output_hash.write(buf);
        self.tokens.write(buf);
        self.amount.write(buf);
    }
}

impl EncodeSize for Receipt {
    fn encode_size(&self) -> usize {
        8 + 8 + 32 + 32 + 8 + 16
    }
}

impl Read for Receipt {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        Ok(Receipt {
            session: u64::read_cfg(buf, &())?,
            seq: u64::read_cfg(buf, &())?,
            input_hash: Hash::read_cfg(buf, &())?,
            output_hash: Hash::read_cfg(buf, &())?,
            tokens: u64::read_cfg(buf, &())?,
            amount: Amount::read_cfg(buf, &())?,
        })
    }
}

/// An interactive session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// ID.
    pub id: u64,
    /// Who pays.
    pub client: Address,
    /// Who serves.
    pub worker: Address,
    /// Model ID.
    pub model: Hash,
    /// Escrowed deposit.
    pub deposit: Amount,
    /// Price per token, fixed at opening from the worker's offer.
    pub price_per_token: Amount,
    /// Height after which the client may close it.
    pub expires: u64,
    /// Last settled receipts root.
    pub receipts_root: Hash,
    /// Receipts covered by the last settlement.
    pub count: u64,
    /// Total charged by the last settlement.
    pub total: Amount,
    /// Refunded to the client through disputes.
    pub refunded: Amount,
    /// Closed sessions accept nothing more.
    pub closed: bool,
}

impl Write for Session {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.id.write(buf);
        self.client.write(buf);
        self.worker.write(buf);
        self.model.write(buf);
        self.deposit.write(buf);
        self.price_per_token.write(buf);
        self.expires.write(buf);
        self.receipts_root.write(buf);
        self.count.write(buf);
        self.total.write(buf);
        self.refunded.write(buf);
        self.closed.write(buf);
    }
}

impl EncodeSize for Session {
    fn encode_size(&self) -> usize {
        8 + 20 + 20 + 32 + 16 + 16 + 8 + 32 + 8 + 16 + 16 + 1
    }
}

impl Read for Session {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        Ok(Session {
            id: u64::read_cfg(buf, &())?,
            client: Address::read_cfg(buf, &())?,
            worker: Address::read_cfg(buf, &())?,
            model: Hash::read_cfg(buf, &())?,
            deposit: Amount::read_cfg(buf, &())?,
            price_per_token: Amount::read_cfg(buf, &())?,
            expires: u64::read_cfg(buf, &())?,
            receipts_root: Hash::read_cfg(buf, &())?,
            count: u64::read_cfg(buf, &())?,
            total: Amount::read_cfg(buf, &())?,
            refunded: Amount::read_cfg(buf, &())?,
            closed: bool::read_cfg(buf, &())?,
        })
    }
}

/// Session messages (part of the market module).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionMsg {
    /// Opens a session and escrows `deposit`.
    Open {
        /// The worker.
        worker: Address,
        /// Model ID (the worker must serve it for generation).
        model: Hash,
        /// Deposit.
        deposit: Amount,
        /// Blocks until the client may close it.
        duration_blocks: u64,
    },
    /// The worker settles all receipts so far.
    Settle {
        /// Session.
        session: u64,
        /// Root over every receipt so far, in sequence order.
        receipts_root: Hash,
        /// Number of receipts.
        count: u64,
        /// Their total amount.
        total: Amount,
    },
    /// The client disputes with a worker-signed receipt.
    Dispute {
        /// The receipt.
        receipt: Receipt,
        /// The worker's public key (must match the session's worker).
        worker_key: Vec<u8>,
        /// The worker's signature over the receipt.
        signature: Vec<u8>,
    },
    /// The worker answers a dispute with the receipt's inclusion proof.
    Answer {
        /// The disputed receipt.
        receipt: Receipt,
        /// Proof at index `receipt.seq` against the settled root.
        proof: InclusionProof,
    },
    /// Closes the session and refunds the unspent deposit.
    Close {
        /// Session.
        session: u64,
    },
}

const MAX_PATH: usize = 64;

impl Write for SessionMsg {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            SessionMsg::Open {
                worker,
                model,
                deposit,
                duration_blocks,
            } => {
                0u8.write(buf);
                worker.write(buf);
                model.write(buf);
                deposit.write(buf);
                duration_blocks.write(buf);
            }
            SessionMsg::Settle {
                session,
                receipts_root,
                count,
                total,
            } => {
                1u8.write(buf);
                session.write(buf);
                receipts_root.write(buf);
                count.write(buf);
                total.write(buf);
            }
            SessionMsg::Dispute {
                receipt,
                worker_key,
                signature,
            } => {
                2u8.write(buf);
                receipt.write(buf);
                worker_key.write(buf);
                signature.write(buf);
            }
            SessionMsg::Answer { receipt, proof } => {
                3u8.write(buf);
                receipt.write(buf);
                proof.index.write(buf);
                proof.size.write(buf);
                proof.path.write(buf);
            }
            SessionMsg::Close { session } => {
                4u8.write(buf);
                session.write(buf);
            }
        }
    }
}

impl EncodeSize for SessionMsg {
    fn encode_size(&self) -> usize {
        1 + match self {
            SessionMsg::Open { .. } => 20 + 32 + 16 + 8,
            SessionMsg::Settle { .. } => 8 + 32 + 8 + 16,
            SessionMsg::Dispute {
                receipt,
                worker_key,
                signature,
            } => receipt.encode_size() + worker_key.encode_size() + signature.encode_size(),
            SessionMsg::Answer { receipt, proof } => {
                receipt.encode_size() + 16 + proof.path.encode_size()
            }
            SessionMsg::Close { .. } => 8,
        }
    }
}

impl Read for SessionMsg {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(SessionMsg::Open {
                worker: Address::read_cfg(buf, &())?,
                model: Hash::read_cfg(buf, &())?,
                deposit: Amount::read_cfg(buf, &())?,
                duration_blocks: u64::read_cfg(buf, &())?,
            }),
            1 => Ok(SessionMsg::Settle {
                session: u64::read_cfg(buf, &())?,
                receipts_root: Hash::read_cfg(buf, &())?,
                count: u64::read_cfg(buf, &())?,
                total: Amount::read_cfg(buf, &())?,
            }),
            2 => Ok(SessionMsg::Dispute {
                receipt: Receipt::read_cfg(buf, &())?,
                worker_key: Vec::<u8>::read_cfg(buf, &(RangeCfg::new(32..=32), ()))?,
                signature: Vec::<u8>::read_cfg(buf, &(RangeCfg::new(64..=64), ()))?,
            }),
            3 => Ok(SessionMsg::Answer {
                receipt: Receipt::read_cfg(buf, &())?,
                proof: InclusionProof {
                    index: u64::read_cfg(buf, &())?,
                    size: u64::read_cfg(buf, &())?,
                    path: Vec::<Hash>::read_cfg(buf, &(RangeCfg::new(0..=MAX_PATH), ()))?,
                },
            }),
            4 => Ok(SessionMsg::Close {
                session: u64::read_cfg(buf, &())?,
            }),
            k => Err(CodecError::InvalidEnum(k)),
        }
    }
}

fn err(e: crate::Error) -> TxError {
    TxError::Malformed(e.to_string())
}

fn session_key(id: u64) -> Vec<u8> {
    key(SESSION, &[&id.to_be_bytes()])
}

/// A session.
pub fn session(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Session>> {
    crate::state::read::<Session>(state, &session_key(id))
}

/// The `limit` most recently opened sessions, newest first.
pub fn recent_sessions(state: &(impl StateRead + ?Sized), limit: u64) -> Result<Vec<Session>> {
    super::newest(state, NEXT, limit, |id| session(state, id))
}

fn load<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    id: u64,
) -> std::result::Result<Session, TxError> {
    session(ctx.state, id)
        .map_err(err)?
        .ok_or_else(|| TxError::InvalidMarket(format!("unknown session {id}")))
}

/// Refunds `amount` of a proven or unanswered dispute to the client out of the worker's stake.
fn penalise<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    s: &mut Session,
    amount: Amount,
    why: &str,
) -> Result<()> {
    let stake = staking::stake(ctx.state, &s.worker, staking::Role::Worker)?;
    let take = amount.min(stake);
    staking::take_stake(ctx, &s.worker, staking::Role::Worker, take, &s.client)?;
    s.refunded = s
        .refunded
        .checked_add(take)
        .map_err(|_| crate::Error::Overflow("session refund"))?;
    let rep = reputation(ctx.state, &s.worker)?;
    ctx.state.put(
        key(REP, &[&s.worker.0]),
        &rep.saturating_sub(ctx.params.market.missed_deadline_reputation),
    );
    let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
    rewards::record(ctx.state, epoch, &s.worker, rewards::Reason::Slashed, take)?;
    ctx.emit(
        "market.session_penalty",
        &[
            ("session", s.id.to_string()),
            ("worker", s.worker.to_string()),
            ("refund", take.0.to_string()),
            ("reason", why.into()),
        ],
    );
    Ok(())
}

/// Applies one session message.
pub fn execute<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    msg: &SessionMsg,
) -> std::result::Result<(), TxError> {
    match msg {
        SessionMsg::Open {
            worker,
            model,
            deposit,
            duration_blocks,
        } => {
            if deposit.is_zero() {
                return Err(TxError::ZeroAmount);
            }
            if *duration_blocks == 0 || *duration_blocks > 1_000_000 {
                return Err(TxError::InvalidMarket(
                    "duration must be 1..=1000000 blocks".into(),
                ));
            }
            let o = offer(ctx.state, worker)
                .map_err(err)?
                .ok_or_else(|| TxError::InvalidMarket(format!("{worker} has no offer")))?;
            if o.kinds & (1 << JobKind::Generate as u8) == 0 || !o.models.contains(model) {
                return Err(TxError::InvalidMarket(format!(
                    "{worker} does not serve generation with model {model}"
                )));
            }
            let id = ctx.state.get::<u64>(NEXT).map_err(err)?.unwrap_or(0);
            ctx.state.put(NEXT.to_vec(), &(id + 1));
            bank::transfer(ctx, &sender, &escrow(), *deposit)?;
            let s = Session {
                id,
                client: sender,
                worker: *worker,
                model: *model,
                deposit: *deposit,
                price_per_token: o.price_per_unit,
                expires: ctx.env.height + duration_blocks,
                receipts_root: Hash::ZERO,
                count: 0,
                total: Amount::ZERO,
                refunded: Amount::ZERO,
                closed: false,
            };
            ctx.state.put(session_key(id), &s);
            ctx.emit(
                "market.session_opened",
                &[
                    ("session", id.to_string()),
                    ("client", sender.to_string()),
                    ("worker", worker.to_string()),
                ],
            );
        }
        SessionMsg::Settle {
            session: id,
            receipts_root,
            count,
            total,
        } => {
            let mut s = load(ctx, *id)?;
            if s.worker != sender {
                return Err(TxError::Unauthorized(
                    "only the session's worker settles it".into(),
                ));
            }
            if s.closed {
                return Err(TxError::InvalidMarket("session is closed".into()));
            }
            if *count <= s.count || *total < s.total {
                return Err(TxError::InvalidMarket(format!(
                    "settlement must extend the last one ({} receipts, {})",
                    s.count, s.total
                )));
            }
            if *total > s.deposit {
                return Err(TxError::InvalidMarket(format!(
                    "total {total} exceeds the deposit {}",
                    s.deposit
                )));
            }
            let delta = total.checked_sub(s.total)?;
            let burned = delta.mul_div(ctx.params.market.protocol_fee_bps as u128, 10_000)?;
            let pay = delta.checked_sub(burned)?;
            bank::transfer(ctx, &escrow(), &sender, pay)?;
            bank::burn(ctx, &escrow(), burned)?;
            let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
            rewards::record(ctx.state, epoch, &sender, rewards::Reason::JobFee, pay)
                .map_err(err)?;
            rewards::record(ctx.state, epoch, &s.client, rewards::Reason::JobPaid, delta)
                .map_err(err)?;
            if !s.price_per_token.is_zero() {
                let units = (delta.0 / s.price_per_token.0) as u64;
                let k = key(super::UNITS, &[&epoch.to_be_bytes(), &sender.0]);
                let cur = ctx.state.get::<u64>(&k).map_err(err)?.unwrap_or(0);
                ctx.state.put(k, &cur.saturating_add(units));
            }
            s.receipts_root = *receipts_root;
            s.count = *count;
            s.total = *total;
            ctx.state.put(session_key(*id), &s);
            ctx.emit(
                "market.session_settled",
                &[
                    ("session", id.to_string()),
                    ("count", count.to_string()),
                    ("total", total.0.to_string()),
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
                return Err(TxError::Unauthorized(
                    "only the session's client disputes it".into(),
                ));
            }
            let pk = public_key_from_bytes(worker_key)
                .map_err(|e| TxError::InvalidMarket(e.to_string()))?;
            if Address::from_public_key(&pk) != s.worker {
                return Err(TxError::InvalidMarket(
                    "the key is not the session's worker".into(),
                ));
            }
            let sig: Signature = mycel_primitives::codec::decode(signature)
                .map_err(|e| TxError::InvalidMarket(e.to_string()))?;
            if !keys::verify(&pk, RECEIPT_NAMESPACE, &receipt.bytes(), &sig) {
                return Err(TxError::BadSignature);
            }
            let fair = Amount(s.price_per_token.0.saturating_mul(receipt.tokens as u128));
            if receipt.amount > fair {
                penalise(ctx, &mut s, receipt.amount, "overcharge").map_err(err)?;
                ctx.state.put(session_key(s.id), &s);
                return Ok(());
            }
            if receipt.seq >= s.count {
                return Err(TxError::InvalidMarket(
                    "this receipt is not settled yet".into(),
                ));
            }
            let dk = key(DISPUTE, &[&s.id.to_be_bytes(), &receipt.seq.to_be_bytes()]);
            if ctx.state.get_raw(&dk).map_err(err)?.is_some() {
                return Err(TxError::InvalidMarket(
                    "this receipt is already disputed".into(),
                ));
            }
            let due = ctx.env.height + DISPUTE_WINDOW;
            let mut record = Vec::with_capacity(8 + receipt.encode_size());
            record.extend_from_slice(&due.to_be_bytes());
            record.extend_from_slice(&receipt.bytes());
            ctx.state.put_raw(dk, record);
            ctx.state.put_raw(
                key(
                    DISPUTE_DUE,
                    &[
                        &due.to_be_bytes(),
                        &s.id.to_be_bytes(),
                        &receipt.seq.to_be_bytes(),
                    ],
                ),
                Vec::new(),
            );
            ctx.emit(
                "market.session_disputed",
                &[
                    ("session", s.id.to_string()),
                    ("seq", receipt.seq.to_string()),
                    ("answer_by", due.to_string()),
                ],
            );
        }
        SessionMsg::Answer { receipt, proof } => {
            let s = load(ctx, receipt.session)?;
            if s.worker != sender {
                return Err(TxError::Unauthorized(
                    "only the session's worker answers".into(),
                ));
            }
            let dk = key(DISPUTE, &[&s.id.to_be_bytes(), &receipt.seq.to_be_bytes()]);
            let Some(record) = ctx.state.get_raw(&dk).map_err(err)? else {
                return Err(TxError::InvalidMarket(
                    "no open dispute for this receipt".into(),
                ));
            };
            if record[8..] != receipt.bytes()[..] {
                return Err(TxError::InvalidMarket(
                    "this is not the disputed receipt".into(),
                ));
            }
            if proof.index != receipt.seq || proof.size != s.count {
                return Err(TxError::InvalidMarket(
                    "the proof is not at the receipt's position in the settled root".into(),
                ));
            }
            proof
                .verify(&receipt.leaf(), &s.receipts_root)
                .map_err(|e| TxError::InvalidMarket(format!("proof: {e}")))?;
            let due = u64::from_be_bytes(record[..8].try_into().expect("8 bytes"));
            ctx.state.delete(dk);
            ctx.state.delete(key(
                DISPUTE_DUE,
                &[
                    &due.to_be_bytes(),
                    &s.id.to_be_bytes(),
                    &receipt.seq.to_be_bytes(),
                ],
            ));
            ctx.emit(
                "market.session_answered",
                &[
                    ("session", s.id.to_string()),
                    ("seq", receipt.seq.to_string()),
                ],
            );
        }
        SessionMsg::Close { session: id } => {
            let mut s = load(ctx, *id)?;
            if s.closed {
                return Err(TxError::InvalidMarket("session is already closed".into()));
            }
            let client_may = sender == s.client && ctx.env.height >= s.expires;
            if sender != s.worker && !client_may {
                return Err(TxError::Unauthorized(
                    "the client closes after expiry; the worker at any time".into(),
                ));
            }
            let refund = s.deposit.checked_sub(s.total)?;
            bank::transfer(ctx, &escrow(), &s.client, refund)?;
            s.closed = true;
            ctx.state.put(session_key(*id), &s);
            ctx.emit(
                "market.session_closed",
                &[
                    ("session", id.to_string()),
                    ("refund", refund.0.to_string()),
                ],
            );
        }
    }
    Ok(())
}

/// Penalises the workers whose dispute answer is due at this height.
pub fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
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
        let dk = key(DISPUTE, &[&id.to_be_bytes(), &seq.to_be_bytes()]);
        let Some(record) = ctx.state.get_raw(&dk)? else {
            continue;
        };
        ctx.state.delete(dk);
        let receipt: Receipt = mycel_primitives::codec::decode(&record[8..])
            .map_err(|e| crate::state::corrupt(&k, e))?;
        if let Some(mut s) = session(ctx.state, id)? {
            penalise(ctx, &mut s, receipt.amount, "unanswered dispute")?;
            ctx.state.put(session_key(id), &s);
        }
    }
    Ok(())
}
