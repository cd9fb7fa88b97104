//! Why a `model` message (or a use of a model) fails.

use mycel_primitives::{Address, Hash};

/// Why a `model` message fails, or why `market` refuses a job or session on a model.
/// [`ModelError::code`] is the stable API code (`invalid_model` or `unauthorized`);
/// [`ModelError::reason`] a finer stable code per variant.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// The ID is already registered.
    #[error("model {id} is already registered")]
    AlreadyRegistered {
        /// Model ID.
        id: Hash,
    },
    /// The all-zero ID.
    #[error("a model ID cannot be zero")]
    ZeroId,
    /// Name empty or with characters outside `[A-Za-z0-9._/-]`.
    #[error("model name {name:?} must be 1..=64 characters of [A-Za-z0-9._/-]")]
    BadName {
        /// The name given.
        name: String,
    },
    /// A licence that is empty or not an SPDX-style identifier.
    #[error("licence {license:?} is not an SPDX identifier or expression, nor LicenseRef-<name>")]
    BadLicense {
        /// The licence given.
        license: String,
    },
    /// A custom licence (`LicenseRef-…`) without the hash of its text.
    #[error("custom licence {license} needs the hash of its text")]
    LicenseTextMissing {
        /// The licence.
        license: String,
    },
    /// A parent that is not registered.
    #[error("unknown parent model {parent}")]
    UnknownParent {
        /// The parent ID.
        parent: Hash,
    },
    /// A model named as its own parent, or a parent named twice.
    #[error("model {id} cannot be its own parent or name a parent twice")]
    Cycle {
        /// The model ID.
        id: Hash,
    },
    /// A base model with parents, or a derived one without.
    #[error("a {kind} model {}", if *.kind == "base" { "has no parents" } else { "needs at least one parent" })]
    ParentsForKind {
        /// The kind.
        kind: &'static str,
    },
    /// A declared dataset that is not registered.
    #[error("unknown dataset {dataset}")]
    UnknownDataset {
        /// Dataset root.
        dataset: Hash,
    },
    /// Training on a dataset that does not consent to it, or whose licence forbids derivatives.
    #[error("dataset {dataset} does not allow training: {why}")]
    NoTrainingConsent {
        /// Dataset root.
        dataset: Hash,
        /// Which rule.
        why: &'static str,
    },
    /// A model card over the limit, or a size without a card.
    #[error("model card of {bytes} bytes (at most {max}; a size needs a card hash)")]
    BadCard {
        /// Declared size.
        bytes: u32,
        /// Limit.
        max: u32,
    },
    /// A model that is not registered.
    #[error("unknown model {id}")]
    UnknownModel {
        /// Model ID.
        id: Hash,
    },
    /// Someone other than the owner grants, revokes or changes the policy.
    #[error("only the owner {owner} can change model {id}")]
    NotOwner {
        /// Model ID.
        id: Hash,
        /// The owner.
        owner: Address,
    },
    /// A gated model used by an account without a grant.
    #[error("model {id} is gated: {account} has no grant from its owner")]
    NotGranted {
        /// Model ID.
        id: Hash,
        /// The account.
        account: Address,
    },
    /// Revoking a grant that does not exist.
    #[error("{grantee} has no grant on model {id}")]
    NoSuchGrant {
        /// Model ID.
        id: Hash,
        /// The grantee.
        grantee: Address,
    },
    /// A lineage too large to check the access policies of.
    #[error("model {id} has more than {max} versions in its lineage to check")]
    LineageTooDeep {
        /// Model ID.
        id: Hash,
        /// The bound.
        max: usize,
    },
    /// No eligible worker accepts the model's licence.
    #[error("no worker serving model {id} accepts its licence {license}")]
    LicenseNotAccepted {
        /// Model ID.
        id: Hash,
        /// The licence.
        license: String,
    },
}

impl ModelError {
    /// The stable API code: `unauthorized` for permission failures, otherwise `invalid_model`.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::NotOwner { .. } | ModelError::NotGranted { .. } => "unauthorized",
            _ => "invalid_model",
        }
    }

    /// What the receipt text starts with (the code's wording).
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid model message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            ModelError::AlreadyRegistered { .. } => "already_registered",
            ModelError::ZeroId => "zero_id",
            ModelError::BadName { .. } => "bad_name",
            ModelError::BadLicense { .. } => "bad_license",
            ModelError::LicenseTextMissing { .. } => "license_text_missing",
            ModelError::UnknownParent { .. } => "unknown_parent",
            ModelError::Cycle { .. } => "cycle",
            ModelError::ParentsForKind { .. } => "parents_for_kind",
            ModelError::UnknownDataset { .. } => "unknown_dataset",
            ModelError::NoTrainingConsent { .. } => "no_training_consent",
            ModelError::BadCard { .. } => "bad_card",
            ModelError::UnknownModel { .. } => "unknown_model",
            ModelError::NotOwner { .. } => "not_owner",
            ModelError::NotGranted { .. } => "not_granted",
            ModelError::NoSuchGrant { .. } => "no_such_grant",
            ModelError::LicenseNotAccepted { .. } => "license_not_accepted",
            ModelError::LineageTooDeep { .. } => "lineage_too_deep",
        }
    }
}
