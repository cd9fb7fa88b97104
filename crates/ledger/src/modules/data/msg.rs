//! Messages of the `data` module and their wire format.

use super::Data;
use crate::modules::Module;
use mycel_primitives::{Amount, Hash, merkle::InclusionProof};

/// Most parents a dataset may name.
pub const MAX_PARENTS: usize = 16;

/// Consent flag: the data may be used for training.
pub const CONSENT_TRAIN: u8 = 1;

/// Consent flag: commercial use is allowed.
pub const CONSENT_COMMERCIAL: u8 = 2;

/// Consent flag: the data may be redistributed.
pub const CONSENT_REDISTRIBUTE: u8 = 4;

/// What `RegisterDataset` carries.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// Root over the records sorted by ID (the dataset's ID).
    pub root: Hash,
    /// Number of records.
    pub records: u64,
    /// Total record bytes.
    pub bytes: u64,
    /// Dedup profile name and version, e.g. `text-v1`.
    pub profile: String,
    /// Root over the records' MinHash signatures.
    pub minhash_root: Hash,
    /// Blob address (plain BLAKE3) of the signature table whose root is `minhash_root`, published
    /// so any node can rebuild the near-dup index of everything registered.
    pub signatures: Hash,
    /// Blob address (plain BLAKE3) of the contributor-signed manifest, published on the node.
    pub manifest: Hash,
    /// SPDX licence expression.
    pub license: String,
    /// Consent flags (`CONSENT_*`).
    pub consent: u8,
    /// Datasets this one derives from.
    pub parents: Vec<Hash>,
    /// Root over the IDs of the records claimed novel.
    pub novel_root: Hash,
    /// Number of records claimed novel.
    pub novel_records: u64,
    /// Bytes of the records claimed novel.
    pub novel_bytes: u64,
    /// Bond behind the claim.
    pub bond: Amount,
}

/// Data messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Registers a dataset.
    RegisterDataset(Box<Registration>),
    /// Changes the consent flags of one's dataset.
    UpdateConsent {
        /// Dataset root.
        dataset: Hash,
        /// New flags.
        consent: u8,
    },
    /// Challenges a novelty claim.
    ChallengeNovelty {
        /// The dataset whose claim is false.
        dataset: Hash,
        /// Leaf preimage of the record in `dataset`'s novel set (starts with the record ID).
        leaf: Vec<u8>,
        /// Proof against `dataset`'s `novel_root`.
        novel_proof: InclusionProof,
        /// An earlier dataset holding the same record.
        earlier: Hash,
        /// Leaf preimage of the record in `earlier` (starts with the same record ID).
        earlier_leaf: Vec<u8>,
        /// Proof against `earlier`'s root.
        earlier_proof: InclusionProof,
    },
    /// Challenges a novelty claim with a near duplicate: the ledger recomputes the two revealed
    /// records' IDs and their normalised shingle similarity under the datasets' profile.
    ChallengeNearDuplicate {
        /// The dataset whose claim is false.
        dataset: Hash,
        /// The full bytes of a record `dataset` claims novel (UTF-8 text, one chunk).
        record: Vec<u8>,
        /// Proof of the record's ID against `dataset`'s `novel_root`.
        novel_proof: InclusionProof,
        /// A dataset registered earlier, or `dataset` itself (two near-duplicate records both
        /// claimed novel).
        earlier: Hash,
        /// The full bytes of a record of `earlier`.
        earlier_record: Vec<u8>,
        /// Proof of its ID against `earlier`'s root (its `novel_root` when `earlier == dataset`).
        earlier_proof: InclusionProof,
    },
}

const MAX_LEAF: usize = 1024;

/// Largest revealed record of a near-duplicate challenge (two of them fit one transaction).
pub const MAX_CHALLENGE_RECORD: usize = 30 * 1024;

mycel_primitives::impl_codec!(Registration {
    root,
    records,
    bytes,
    profile: string(64),
    minhash_root,
    signatures,
    manifest,
    license: string(128),
    consent,
    parents: vec(0..=MAX_PARENTS),
    novel_root,
    novel_records,
    novel_bytes,
    bond,
});

// Merkle proofs use their own codec (`mycel_primitives::merkle`): index, size, a path of at most
// 64 hashes.
mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Data::ID, k), {
    0 => RegisterDataset(registration: boxed),
    1 => UpdateConsent { dataset, consent },
    2 => ChallengeNovelty {
        dataset,
        leaf: vec(32..=MAX_LEAF),
        novel_proof,
        earlier,
        earlier_leaf: vec(32..=MAX_LEAF),
        earlier_proof,
    },
    3 => ChallengeNearDuplicate {
        dataset,
        record: vec(0..=MAX_CHALLENGE_RECORD),
        novel_proof,
        earlier,
        earlier_record: vec(0..=MAX_CHALLENGE_RECORD),
        earlier_proof,
    },
});
