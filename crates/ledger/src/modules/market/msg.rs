//! Messages of the `market` module and their wire format.

use super::{Market, SessionMsg};
use crate::modules::Module;
use mycel_primitives::{Amount, Hash};

const MAX_MODELS: usize = 32;

pub(super) const MAX_PARAMS: usize = 4 * 1024;

/// Most leaves a committed trace may have (bisection then takes at most 32 rounds).
pub const MAX_TRACE_LEN: u64 = 1 << 32;

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
    pub(crate) const ALL: [JobKind; 4] = [
        JobKind::Generate,
        JobKind::Embed,
        JobKind::Finetune,
        JobKind::Dedup,
    ];
    fn from_u8(v: u8) -> Option<JobKind> {
        JobKind::ALL.get(v as usize).copied()
    }
    pub(crate) fn bit(self) -> u8 {
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
    /// Licences the worker accepts for the models it serves, comma-separated SPDX identifiers
    /// or expressions (`*` accepts any): a registered model is assigned to this worker only if
    /// its licence is one of them.
    pub licenses: String,
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
    /// The assigned worker's result: what an auditor re-executes and compares.
    CommitResult {
        /// Job ID.
        job: u64,
        /// Output blob hash.
        output: Hash,
        /// Work units done (tokens, items or steps, by kind); at most [`Job::max_units`].
        units: u64,
        /// RFC 6962 root over the execution trace's leaves (per chunk and layer for
        /// `generate`, per item for `embed`, per step for `finetune`, per cluster for `dedup`).
        trace_root: Hash,
        /// Number of trace leaves (1 ..= [`MAX_TRACE_LEN`]).
        trace_len: u64,
    },
    /// Interactive-session messages.
    Session(SessionMsg),
}

mycel_primitives::impl_codec!(JobKind as u8, from = JobKind::from_u8);

mycel_primitives::impl_codec!(Offer {
    kinds,
    models: vec(0..=MAX_MODELS),
    hardware: string(64),
    price_per_unit,
    endpoint: string(256),
    licenses: string(512),
});

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Market::ID, k), {
    0 => Offer(offer: boxed),
    1 => CloseOffer {},
    2 => PostJob {
        kind,
        model,
        input,
        params: vec(0..=MAX_PARAMS),
        max_fee,
        deadline_blocks,
    },
    3 => CommitResult { job, output, units, trace_root, trace_len },
    4 => Session(msg),
});
