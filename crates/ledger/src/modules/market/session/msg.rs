//! Messages of the `market::session` module and their wire format.

use mycel_primitives::{
    Address, Amount, Hash, Signature,
    codec::{CodecError, Encode},
    keys::{self},
    merkle::{InclusionProof, leaf_hash},
};

/// Signature namespace of session receipts.
pub const RECEIPT_NAMESPACE: &[u8] = b"_MYCEL_SESSION_RECEIPT";

/// Signature namespace of session requests.
pub const REQUEST_NAMESPACE: &[u8] = b"_MYCEL_SESSION_REQUEST";

/// What a client signs for request `seq` of `session`: session ‖ seq ‖ BLAKE3 of the body (the
/// receipt's `input_hash`), so the worker can prove on chain that a billed response answered a
/// request the client made.
pub fn request_bytes(session: u64, seq: u64, input_hash: &Hash) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&session.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&input_hash.0);
    v
}

/// One served response, signed by the worker.
///
/// `cumulative` is the session's total through this receipt, so the last leaf of a settled root
/// names the settled total and the ledger can tie one to the other.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Session ID.
    pub session: u64,
    /// Position in the session, from 0.
    pub seq: u64,
    /// The model that served it.
    pub model: Hash,
    /// BLAKE3 of the request body, as the client signed it.
    pub input_hash: Hash,
    /// BLAKE3 of the response text.
    pub output_hash: Hash,
    /// Tokens billed (prompt and completion).
    pub tokens: u64,
    /// Price per token, the session's.
    pub price: Amount,
    /// Amount charged: `tokens × price`.
    pub amount: Amount,
    /// The session's total through this receipt.
    pub cumulative: Amount,
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

mycel_primitives::impl_codec!(Receipt {
    session,
    seq,
    model,
    input_hash,
    output_hash,
    tokens,
    price,
    amount,
    cumulative,
});

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
        /// Their total amount: the last receipt's `cumulative`.
        total: Amount,
        /// The last receipt (sequence `count - 1`).
        last: Receipt,
        /// Its inclusion proof at index `count - 1` of `receipts_root`.
        proof: InclusionProof,
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
    /// The worker answers a dispute with the receipt's inclusion proof and the client's
    /// signature of the request it answered.
    Answer {
        /// The disputed receipt (for [`SessionMsg::Unrequested`], the settled one at that
        /// sequence).
        receipt: Receipt,
        /// Proof at index `receipt.seq` against the settled root.
        proof: InclusionProof,
        /// The client's public key.
        client_key: Vec<u8>,
        /// The client's signature over [`request_bytes`] of the receipt.
        request_signature: Vec<u8>,
    },
    /// Closes the session and refunds the unspent deposit.
    Close {
        /// Session.
        session: u64,
    },
    /// The client says it never made request `seq`, which the worker settled: the worker must
    /// answer with the client's signature of that request.
    Unrequested {
        /// Session.
        session: u64,
        /// The settled sequence number.
        seq: u64,
    },
    /// The client shows two consecutive receipts the worker signed whose running totals do not
    /// add up (the later one's `cumulative` above the earlier one's plus its own `amount`).
    Jump {
        /// The earlier receipt.
        previous: Box<Receipt>,
        /// The worker's signature over it.
        previous_signature: Vec<u8>,
        /// The next receipt.
        receipt: Box<Receipt>,
        /// The worker's signature over it.
        signature: Vec<u8>,
        /// The worker's public key (must be the session's worker).
        worker_key: Vec<u8>,
    },
    /// The client adds to the deposit and extends the session.
    TopUp {
        /// Session.
        session: u64,
        /// Added to the deposit (may be zero to only extend).
        amount: Amount,
        /// The session then expires no earlier than this many blocks from now.
        extend_blocks: u64,
    },
}

// Unlike the module messages, an unknown session-message tag is a plain invalid-enum error.
mycel_primitives::impl_codec!(enum SessionMsg, unknown = CodecError::InvalidEnum, {
    0 => Open { worker, model, deposit, duration_blocks },
    1 => Settle { session, receipts_root, count, total, last, proof },
    2 => Dispute {
        receipt,
        worker_key: vec(32..=32),
        signature: vec(64..=64),
    },
    3 => Answer {
        receipt,
        proof,
        client_key: vec(32..=32),
        request_signature: vec(64..=64),
    },
    4 => Close { session },
    5 => Unrequested { session, seq },
    6 => TopUp { session, amount, extend_blocks },
    7 => Jump {
        previous: boxed,
        previous_signature: vec(64..=64),
        receipt: boxed,
        signature: vec(64..=64),
        worker_key: vec(32..=32),
    },
});
