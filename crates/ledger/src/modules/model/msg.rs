//! Messages of the `model` module and their wire format.

use super::Model;
use crate::modules::Module;
use mycel_primitives::{Address, Hash};

/// Most parents a version may name.
pub const MAX_PARENTS: usize = 8;

/// Most datasets a version may declare.
pub const MAX_DATASETS: usize = 16;

/// Largest model card (bytes of its markdown); the card itself is a blob, the chain keeps its
/// hash and size.
pub const MAX_CARD_BYTES: u32 = 64 * 1024;

/// How a version relates to its parents (Hugging Face's `base_model_relation`, plus `base`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A model with no parent on chain.
    Base = 0,
    /// All weights trained further.
    Finetune = 1,
    /// A LoRA adapter applied on its parent.
    Adapter = 2,
    /// A merge of its parents.
    Merge = 3,
    /// A quantization of its parent.
    Quantized = 4,
}

impl ModelKind {
    const ALL: [ModelKind; 5] = [
        ModelKind::Base,
        ModelKind::Finetune,
        ModelKind::Adapter,
        ModelKind::Merge,
        ModelKind::Quantized,
    ];
    fn from_u8(v: u8) -> Option<ModelKind> {
        ModelKind::ALL.get(v as usize).copied()
    }
    /// The name, as in the JSON and Hugging Face's `base_model_relation`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Base => "base",
            ModelKind::Finetune => "finetune",
            ModelKind::Adapter => "adapter",
            ModelKind::Merge => "merge",
            ModelKind::Quantized => "quantized",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<ModelKind, String> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown model kind {s:?} (base, finetune, adapter, merge, quantized)")
            })
    }
}

/// Who may use a model in jobs and sessions.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone.
    Public = 0,
    /// The owner and the accounts it granted.
    Gated = 1,
}

impl Access {
    fn from_u8(v: u8) -> Option<Access> {
        [Access::Public, Access::Gated].get(v as usize).copied()
    }
}

impl std::str::FromStr for Access {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Access, String> {
        match s {
            "public" => Ok(Access::Public),
            "gated" => Ok(Access::Gated),
            _ => Err(format!("unknown access policy {s:?} (public, gated)")),
        }
    }
}

/// What `Register` carries.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// The model ID, computed from the files by the registrant's node (the worker computes the
    /// same when it loads them, so a mismatching ID is never served under this one).
    pub id: Hash,
    /// Display name, e.g. `SmolLM2-135M-Instruct`.
    pub name: String,
    /// Relation to the parents.
    pub kind: ModelKind,
    /// Parent versions (none for a base model).
    pub parents: Vec<Hash>,
    /// Datasets it was trained on (each must consent to training).
    pub datasets: Vec<Hash>,
    /// Blob address of the model's files (the GGUF, or a manifest; the adapter file for an
    /// adapter), so a worker can fetch them by hash.
    pub files: Hash,
    /// SPDX licence identifier or expression, or `LicenseRef-<name>` for a custom one.
    pub license: String,
    /// Blob address of a custom licence's text (zero for an SPDX licence).
    pub license_text: Hash,
    /// Access policy.
    pub access: Access,
    /// Blob address of the model card (markdown), zero if none.
    pub card: Hash,
    /// Size of the model card in bytes.
    pub card_bytes: u32,
}

/// Model messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Registers a model version owned by the sender.
    Register(Box<Registration>),
    /// Lets `grantee` use the sender's gated model.
    Grant {
        /// Model ID.
        model: Hash,
        /// The account granted.
        grantee: Address,
    },
    /// Takes a grant back: the grantee's new jobs and sessions on the model are refused.
    Revoke {
        /// Model ID.
        model: Hash,
        /// The account.
        grantee: Address,
    },
    /// Changes the access policy of the sender's model.
    SetAccess {
        /// Model ID.
        model: Hash,
        /// The new policy.
        access: Access,
    },
}

mycel_primitives::impl_codec!(ModelKind as u8, from = ModelKind::from_u8);
mycel_primitives::impl_codec!(Access as u8, from = Access::from_u8);

mycel_primitives::impl_codec!(Registration {
    id,
    name: string(64),
    kind,
    parents: vec(0..=MAX_PARENTS),
    datasets: vec(0..=MAX_DATASETS),
    files,
    license: string(128),
    license_text,
    access,
    card,
    card_bytes,
});

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Model::ID, k), {
    0 => Register(registration: boxed),
    1 => Grant { model, grantee },
    2 => Revoke { model, grantee },
    3 => SetAccess { model, access },
});

/// True for an SPDX-style licence: an identifier or an expression of identifiers joined by
/// `AND`/`OR`/`WITH` and parentheses (`Apache-2.0`, `MIT OR Apache-2.0`,
/// `LicenseRef-acme-research`). The chain does not keep the SPDX list; it keeps the syntax, so
/// offers and datasets can name the same strings.
pub fn valid_license(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split([' ', '(', ')']).filter(|t| !t.is_empty()).all(|t| {
            matches!(t, "AND" | "OR" | "WITH")
                || t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'+')
        })
        && s.bytes().any(|b| b.is_ascii_alphanumeric())
}

/// True when a licence expression forbids derivative works (Creative Commons "NoDerivatives"),
/// so a model may not be trained on data under it.
pub fn license_forbids_training(s: &str) -> bool {
    s.split([' ', '(', ')'])
        .any(|t| t.split('-').any(|part| part.eq_ignore_ascii_case("ND")))
}

/// True when an offer's accepted licences (comma-separated, as in
/// [`crate::modules::market::Offer::licenses`]) include `license` exactly, or `*`.
pub fn accepts(offer_licenses: &str, license: &str) -> bool {
    offer_licenses
        .split(',')
        .map(str::trim)
        .any(|l| l == "*" || l == license)
}
