//! Messages of the `verify` module and their wire format.

use super::Verify;
use crate::modules::Module;
use mycel_primitives::{Amount, Hash};

/// Largest referee witness a `Resolve` may carry (it must fit a transaction).
pub const MAX_WITNESS: usize = 56 * 1024;

/// Verify messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// The auditor's sealed verdict: [`seal`](super::seal)`(audit, auditor, digest, root, salt)`.
    Seal {
        /// Audit ID.
        audit: u64,
        /// The seal.
        sealed: Hash,
    },
    /// The auditor opens its seal: the claim digest and trace root it recomputed.
    Reveal {
        /// Audit ID.
        audit: u64,
        /// [`claim_digest`](super::claim_digest) of what the auditor's replay produced.
        digest: Hash,
        /// The auditor's trace root (the challenger's tree if a dispute follows).
        trace_root: Hash,
        /// The salt of the seal.
        salt: Hash,
    },
    /// Anyone challenges a committed result with a bond and its own trace root.
    Challenge {
        /// Job ID.
        job: u64,
        /// The challenger's trace root.
        trace_root: Hash,
        /// Bond, escrowed; forfeited if the challenge fails.
        bond: Amount,
    },
    /// The worker reveals the two children of the disputed node.
    Split {
        /// Dispute ID.
        dispute: u64,
        /// Left child.
        left: Hash,
        /// Right child.
        right: Hash,
    },
    /// The challenger picks the child it disputes.
    Pick {
        /// Dispute ID.
        dispute: u64,
        /// `true` for the right child.
        right: bool,
    },
    /// The worker's witness for the one disputed step (empty: the step is not one the
    /// referee can recompute, so the validator set votes).
    Resolve {
        /// Dispute ID.
        dispute: u64,
        /// Canonical `mycel-referee` witness.
        witness: Vec<u8>,
    },
    /// A validator's vote on a step put to the validator set.
    Vote {
        /// Dispute ID.
        dispute: u64,
        /// `true` if the worker's step is right.
        worker_right: bool,
    },
}

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Verify::ID, k), {
    0 => Seal { audit, sealed },
    1 => Reveal { audit, digest, trace_root, salt },
    2 => Challenge { job, trace_root, bond },
    3 => Split { dispute, left, right },
    4 => Pick { dispute, right },
    5 => Resolve { dispute, witness: vec(0..=MAX_WITNESS) },
    6 => Vote { dispute, worker_right },
});
