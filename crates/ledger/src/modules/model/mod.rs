//! `model`: model versions, their lineage, licences and access grants.
//!
//! A model is known on chain by its ID: [`mycel_primitives::hash::model_id`] over its files and
//! runtime, the same function the worker uses when it loads them. A version records its kind,
//! its parents, the datasets it learned from, the training job that produced it, its licence
//! and its access policy, and who owns it (the transaction's signer).
//!
//! Two ways in:
//! - **declared** ([`Msg::Register`]): an owner registers a base model, or a derived one whose
//!   parents are already registered (so the lineage is a DAG by construction: a parent is always
//!   older than its child). Declared datasets must exist and consent to training.
//! - **written by the network**: when a `finetune` job settles (after its audit, when it was
//!   drawn), `market` calls [`register_adapter`]: the adapter file the worker committed becomes
//!   a child of the base with the job, the dataset and its contributor — nobody declares it.
//!   Such a version is `attested`.
//!
//! Enforcement, read by `market`: a `gated` model is used (jobs, sessions) only by its owner
//! and its grantees ([`may_use`]); a worker is eligible for a registered model only if its offer
//! accepts the model's licence ([`accepts`]); a derived model of a gated parent needs a grant to
//! that parent.
//!
//! Attribution: a version carries the datasets of its whole ancestry (`attribution`, bounded),
//! so serving it credits the contributors of every dataset it learned from.
//!
//! State: `model/v/<id>` → [`Version`]; `model/child/<parent><child>` → (); `model/owner/<owner><id>`
//! → (); `model/name/<name>\0<id>` → (); `model/grant/<id><grantee>` → (); `model/count` → u64.

mod error;
pub use error::ModelError;
pub mod events;
mod exec;
mod msg;
mod query;
mod state;

pub(crate) use exec::check_training_consent;
pub use exec::register_adapter;
pub use msg::*;
pub use query::*;
pub use state::*;

/// The model module.
pub struct Model;
