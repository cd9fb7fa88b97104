//! Messages of the `market::session` module and their wire format.

use mycel_primitives::{
    Address, Amount, Hash, Signature,
    codec::{CodecError, Encode},
    keys::{self},
    merkle::{InclusionProof, leaf_hash},
};

/// Signature namespace of session receipts.
pub const RECEIPT_NAMESPACE: &[u8] = b"_MYCEL_SESSION_RECEIPT";

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

mycel_primitives::impl_codec!(Receipt {
    session,
    seq,
    input_hash,
    output_hash,
    tokens,
    amount,
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

// Unlike the module messages, an unknown session-message tag is a plain invalid-enum error.
mycel_primitives::impl_codec!(enum SessionMsg, unknown = CodecError::InvalidEnum, {
    0 => Open { worker, model, deposit, duration_blocks },
    1 => Settle { session, receipts_root, count, total },
    2 => Dispute {
        receipt,
        worker_key: vec(32..=32),
        signature: vec(64..=64),
    },
    3 => Answer { receipt, proof },
    4 => Close { session },
});
