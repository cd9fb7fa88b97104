//! Why a `data` message fails.

use mycel_primitives::{Amount, Hash};

/// Why a `data` message fails. [`DataError::code`] is the stable API code (`invalid_data` or
/// `unauthorized`); [`DataError::reason`] a finer stable code per variant.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DataError {
    /// The root is already registered.
    #[error("dataset {root} is already registered")]
    AlreadyRegistered {
        /// Dataset root.
        root: Hash,
    },
    /// A dataset with no records.
    #[error("a dataset needs at least one record")]
    NoRecords,
    /// More novel records or bytes than the dataset has.
    #[error("the novelty claim exceeds the dataset")]
    ClaimExceedsDataset,
    /// Novel records and novel bytes disagree about whether anything is novel.
    #[error("novel records and novel bytes must both be zero or both positive")]
    InconsistentClaim,
    /// A novelty claim with too small a bond.
    #[error("a novelty claim needs a bond of at least {min}")]
    BondTooSmall {
        /// Smallest bond.
        min: Amount,
    },
    /// Profile or licence left empty.
    #[error("profile and license are required")]
    MissingProfileOrLicense,
    /// Consent bits outside `CONSENT_*`.
    #[error("unknown consent flags")]
    UnknownConsentFlags {
        /// The flags given.
        consent: u8,
    },
    /// A parent dataset that is not registered.
    #[error("unknown parent dataset {parent}")]
    UnknownParent {
        /// The parent root.
        parent: Hash,
    },
    /// A dataset that is not registered.
    #[error("unknown dataset {root}")]
    UnknownDataset {
        /// Dataset root.
        root: Hash,
    },
    /// Someone other than the contributor changes consent.
    #[error("only the contributor can change consent")]
    NotContributor,
    /// The novelty claim was already defeated.
    #[error("this dataset's novelty claim was already defeated")]
    AlreadyChallenged,
    /// The "earlier" dataset was registered at the same height or later.
    #[error("the earlier dataset was not registered before")]
    EarlierNotBefore,
    /// The two leaves do not start with the same record ID.
    #[error("the two leaves are not the same record")]
    LeavesDiffer,
    /// The proof against the novel set does not verify.
    #[error("novel-set proof: {why}")]
    NovelProof {
        /// Why the proof failed.
        why: String,
    },
    /// The proof against the earlier dataset does not verify.
    #[error("earlier-dataset proof: {why}")]
    EarlierProof {
        /// Why the proof failed.
        why: String,
    },
    /// A registration under a dedup profile the ledger cannot recompute.
    #[error("unknown dedup profile {profile:?}")]
    UnknownProfile {
        /// The profile given.
        profile: String,
    },
    /// The two datasets use different dedup profiles.
    #[error("the two datasets use different dedup profiles")]
    ProfileMismatch,
    /// A revealed record is not UTF-8 text.
    #[error("a revealed record is not UTF-8 text")]
    NotText,
    /// The two revealed records are the same record.
    #[error("the two revealed records are the same record (use an earlier dataset)")]
    SameRecord,
    /// The revealed records are not near duplicates under the profile.
    #[error(
        "not near duplicates: {inter} of {union} shingles shared, below {threshold_milli}/1000"
    )]
    NotSimilar {
        /// Shared shingles.
        inter: u64,
        /// Shingles in either record.
        union: u64,
        /// The profile's threshold, thousandths.
        threshold_milli: u32,
    },
}

impl DataError {
    /// The stable API code: `unauthorized` for permission failures, otherwise `invalid_data`.
    pub fn code(&self) -> &'static str {
        match self {
            DataError::NotContributor => "unauthorized",
            _ => "invalid_data",
        }
    }

    /// What the receipt text starts with (the code's wording).
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid data message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            DataError::AlreadyRegistered { .. } => "already_registered",
            DataError::NoRecords => "no_records",
            DataError::ClaimExceedsDataset => "claim_exceeds_dataset",
            DataError::InconsistentClaim => "inconsistent_claim",
            DataError::BondTooSmall { .. } => "bond_too_small",
            DataError::MissingProfileOrLicense => "missing_profile_or_license",
            DataError::UnknownConsentFlags { .. } => "unknown_consent_flags",
            DataError::UnknownParent { .. } => "unknown_parent",
            DataError::UnknownDataset { .. } => "unknown_dataset",
            DataError::NotContributor => "not_contributor",
            DataError::AlreadyChallenged => "already_challenged",
            DataError::EarlierNotBefore => "earlier_not_before",
            DataError::LeavesDiffer => "leaves_differ",
            DataError::NovelProof { .. } => "bad_novel_proof",
            DataError::EarlierProof { .. } => "bad_earlier_proof",
            DataError::UnknownProfile { .. } => "unknown_profile",
            DataError::ProfileMismatch => "profile_mismatch",
            DataError::NotText => "not_text",
            DataError::SameRecord => "same_record",
            DataError::NotSimilar { .. } => "not_similar",
        }
    }
}
