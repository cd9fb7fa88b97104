//! Execution of `model` messages, and the lineage the network writes for settled fine-tunes.

use super::events;
use super::{Model, ModelError};
use super::{msg::*, query::*, state::*};
use crate::modules::{Ctx, Module, data, market::Job};
use crate::{ExecResult, Result, events::attr, state::key};
use mycel_primitives::{Address, Hash};
use mycel_store::StateRead;

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

/// Refuses training on `dataset` unless it is registered, consents to training, and its licence
/// allows derivatives. `market` calls it at `PostJob` for fine-tunes, so a consent withdrawal
/// stops new jobs at once.
pub(crate) fn check_training_consent<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    dataset: &Hash,
) -> ExecResult {
    let ds = data::dataset(ctx.state, dataset)?
        .ok_or(ModelError::UnknownDataset { dataset: *dataset })?;
    if ds.registration.consent & data::CONSENT_TRAIN == 0 {
        return Err(ModelError::NoTrainingConsent {
            dataset: *dataset,
            why: "its contributor has not given (or has withdrawn) the train consent",
        }
        .into());
    }
    if license_forbids_training(&ds.registration.license) {
        return Err(ModelError::NoTrainingConsent {
            dataset: *dataset,
            why: "its licence forbids derivative works",
        }
        .into());
    }
    Ok(())
}

/// Stores a new version with its indexes and its attribution (own datasets plus the parents').
fn insert<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    registration: Registration,
    owner: Address,
    job: Option<u64>,
) -> Result<()> {
    let mut attribution = registration.datasets.clone();
    for p in &registration.parents {
        if let Some(v) = version(ctx.state, p)? {
            attribution.extend(v.attribution);
        }
    }
    attribution.sort();
    attribution.dedup();
    // The newest lineage is kept whole; beyond the bound the oldest ancestors' data is dropped
    // deterministically (by root order), which only thins attribution, never payment.
    attribution.truncate(MAX_ATTRIBUTION);
    let id = registration.id;
    for p in &registration.parents {
        ctx.state.put_raw(key(CHILD, &[&p.0, &id.0]), Vec::new());
    }
    ctx.state
        .put_raw(key(OWNER, &[&owner.0, &id.0]), Vec::new());
    let mut by_name = name_prefix(&registration.name);
    by_name.extend_from_slice(&id.0);
    ctx.state.put_raw(by_name, Vec::new());
    let n = count(ctx.state)?;
    ctx.state.put(COUNT.to_vec(), &(n + 1));
    let kind = registration.kind;
    let v = Version {
        registration,
        owner,
        height: ctx.env.height,
        job,
        attested: job.is_some(),
        attribution,
    };
    ctx.state.put(version_key(&id), &v);
    let mut attrs = vec![
        (attr::MODEL, id.to_hex()),
        (attr::OWNER, owner.to_string()),
        (attr::KIND, kind.as_str().to_string()),
    ];
    if let Some(j) = job {
        attrs.push((attr::JOB, j.to_string()));
    }
    ctx.emit(events::REGISTER, &attrs);
    Ok(())
}

fn owned<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    id: &Hash,
    sender: &Address,
) -> ExecResult<Version> {
    let v = version(ctx.state, id)?.ok_or(ModelError::UnknownModel { id: *id })?;
    if v.owner != *sender {
        return Err(ModelError::NotOwner {
            id: *id,
            owner: v.owner,
        }
        .into());
    }
    Ok(v)
}

impl Module for Model {
    const NAME: &'static str = "model";
    const ID: u8 = 7;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Register(r) => {
                if r.id == Hash::ZERO {
                    return Err(ModelError::ZeroId.into());
                }
                if ctx.state.get_raw(&version_key(&r.id))?.is_some() {
                    return Err(ModelError::AlreadyRegistered { id: r.id }.into());
                }
                if !valid_name(&r.name) {
                    return Err(ModelError::BadName {
                        name: r.name.clone(),
                    }
                    .into());
                }
                if !valid_license(&r.license) {
                    return Err(ModelError::BadLicense {
                        license: r.license.clone(),
                    }
                    .into());
                }
                if r.license.contains("LicenseRef-") && r.license_text == Hash::ZERO {
                    return Err(ModelError::LicenseTextMissing {
                        license: r.license.clone(),
                    }
                    .into());
                }
                if r.card_bytes > MAX_CARD_BYTES || (r.card == Hash::ZERO) != (r.card_bytes == 0) {
                    return Err(ModelError::BadCard {
                        bytes: r.card_bytes,
                        max: MAX_CARD_BYTES,
                    }
                    .into());
                }
                if (r.kind == ModelKind::Base) != r.parents.is_empty() {
                    return Err(ModelError::ParentsForKind {
                        kind: r.kind.as_str(),
                    }
                    .into());
                }
                let mut seen = r.parents.clone();
                seen.sort();
                seen.dedup();
                if seen.len() != r.parents.len() || seen.contains(&r.id) {
                    return Err(ModelError::Cycle { id: r.id }.into());
                }
                // Parents must already exist, so every edge points to an older version and the
                // lineage cannot loop.
                for p in &r.parents {
                    if version(ctx.state, p)?.is_none() {
                        return Err(ModelError::UnknownParent { parent: *p }.into());
                    }
                    // Deriving from a gated model is a use of it.
                    may_use(ctx.state, p, &sender)??;
                }
                for d in &r.datasets {
                    check_training_consent(ctx, d)?;
                }
                insert(ctx, (**r).clone(), sender, None)?;
            }
            Msg::Grant { model, grantee } => {
                owned(ctx, model, &sender)?;
                ctx.state.put_raw(grant_key(model, grantee), Vec::new());
                ctx.emit(
                    events::GRANT,
                    &[
                        (attr::MODEL, model.to_hex()),
                        (attr::ADDRESS, grantee.to_string()),
                    ],
                );
            }
            Msg::Revoke { model, grantee } => {
                owned(ctx, model, &sender)?;
                if !granted(ctx.state, model, grantee)? {
                    return Err(ModelError::NoSuchGrant {
                        id: *model,
                        grantee: *grantee,
                    }
                    .into());
                }
                ctx.state.delete(grant_key(model, grantee));
                ctx.emit(
                    events::REVOKE,
                    &[
                        (attr::MODEL, model.to_hex()),
                        (attr::ADDRESS, grantee.to_string()),
                    ],
                );
            }
            Msg::SetAccess { model, access } => {
                let mut v = owned(ctx, model, &sender)?;
                v.registration.access = *access;
                ctx.state.put(version_key(model), &v);
                ctx.emit(
                    events::ACCESS,
                    &[
                        (attr::MODEL, model.to_hex()),
                        (
                            attr::KIND,
                            match access {
                                Access::Public => "public",
                                Access::Gated => "gated",
                            }
                            .into(),
                        ),
                    ],
                );
            }
        }
        Ok(())
    }
}

/// Writes the lineage of a settled `finetune` job: the adapter file the worker committed
/// (`job.output`) becomes a version of kind `adapter`, child of the job's model, trained on the
/// job's dataset, owned by the poster, with the base's licence and access policy. Nothing is
/// written when the base is not registered (there is no lineage to extend) or the adapter is
/// already known.
pub fn register_adapter<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, job: &Job) -> Result<()> {
    let Some(base) = version(ctx.state, &job.model)? else {
        return Ok(());
    };
    let id = mycel_primitives::hash::adapter_model_id(&job.model, &job.output);
    if ctx.state.get_raw(&version_key(&id))?.is_some() {
        return Ok(());
    }
    let datasets = if data::dataset(ctx.state, &job.input)?.is_some() {
        vec![job.input]
    } else {
        Vec::new()
    };
    let name = format!("{}-ft{}", base.registration.name, job.id);
    let name = name[name.len().saturating_sub(64)..].to_string();
    let registration = Registration {
        id,
        name,
        kind: ModelKind::Adapter,
        parents: vec![job.model],
        datasets,
        files: job.output,
        license: base.registration.license.clone(),
        license_text: base.registration.license_text,
        access: base.registration.access,
        card: Hash::ZERO,
        card_bytes: 0,
    };
    insert(ctx, registration, job.poster, Some(job.id))
}
