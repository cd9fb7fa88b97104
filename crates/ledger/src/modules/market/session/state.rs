//! Stored types and state keys of the `market::session` module.

use crate::state::key;
use mycel_primitives::{Address, Amount, Hash};

pub(super) const SESSION: &[u8] = b"market/session/";

pub(super) const NEXT: &[u8] = b"market/nsession";

pub(super) const DISPUTE: &[u8] = b"market/dispute/";

pub(super) const DISPUTE_DUE: &[u8] = b"market/ddue/";

pub(super) const DISPUTED: &[u8] = b"market/disputed/";

/// `market/srelease/<id BE>` → the height until which a closed session's receipts can still be
/// disputed; `market/sreldue/<height BE><id BE>` → () (when its worker's stake is released).
pub(super) const RELEASE: &[u8] = b"market/srelease/";
pub(super) const RELEASE_DUE: &[u8] = b"market/sreldue/";

/// Blocks a worker has to answer a dispute.
pub const DISPUTE_WINDOW: u64 = 20;

/// Blocks after expiry during which only the worker may still settle and close: a client
/// closing at the first expired block cannot race the worker's last settlement.
pub const SETTLE_GRACE: u64 = 10;

/// Most blocks a session may run, from opening or a top-up.
pub const MAX_DURATION: u64 = 1_000_000;

/// An open dispute of a session receipt, as the worker reads it to answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionDispute {
    /// Session.
    pub session: u64,
    /// Disputed sequence number.
    pub seq: u64,
    /// Height by which the worker must answer.
    pub due: u64,
    /// The receipt the client showed; `None` when the client says it never made the request.
    pub receipt: Option<super::Receipt>,
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

mycel_primitives::impl_codec!(Session {
    id,
    client,
    worker,
    model,
    deposit,
    price_per_token,
    expires,
    receipts_root,
    count,
    total,
    refunded,
    closed,
});

/// The state key of session `id` (what a state proof of it names).
pub fn session_key(id: u64) -> Vec<u8> {
    key(SESSION, &[&id.to_be_bytes()])
}

pub(super) fn dispute_key(id: u64, seq: u64) -> Vec<u8> {
    key(DISPUTE, &[&id.to_be_bytes(), &seq.to_be_bytes()])
}
