//! Execution of `agent` messages, and what `market` calls for sessions on tools.

use super::{Agent, AgentError, events, manifest, msg::*, query::*, state::*};
use crate::modules::{Ctx, Module, bank};
use crate::{ExecResult, Result, earnings, events::attr, state::key};
use mycel_primitives::{
    Address, Amount, Hash, Signature,
    keys::{self, public_key_from_bytes},
};
use mycel_store::StateRead;

fn load<S: StateRead + ?Sized>(ctx: &Ctx<'_, '_, S>, id: &Hash) -> ExecResult<Entry> {
    entry(ctx.state, id)?.ok_or_else(|| AgentError::Unknown { id: *id }.into())
}

fn valid_endpoint(e: &str) -> bool {
    let rest = e
        .strip_prefix("http://")
        .or_else(|| e.strip_prefix("https://"));
    rest.is_some_and(|r| {
        !r.is_empty() && r.bytes().all(|b| b.is_ascii_graphic()) && !r.starts_with('/')
    })
}

fn skill_keys(id: &Hash, skills: &[String]) -> Vec<Vec<u8>> {
    skills
        .iter()
        .map(|s| {
            let mut k = super::query::skill_prefix(s);
            k.extend_from_slice(&id.0);
            k
        })
        .collect()
}

fn register<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    r: &Registration,
) -> ExecResult {
    let checked = manifest::check(r.kind, &r.manifest)?;
    if !valid_endpoint(&r.endpoint) {
        return Err(AgentError::BadEndpoint {
            endpoint: r.endpoint.clone(),
        }
        .into());
    }
    let hash = manifest_hash(&r.manifest);
    let pk = public_key_from_bytes(&r.owner_key).map_err(|_| AgentError::BadManifestSignature)?;
    let sig: Signature = mycel_primitives::codec::decode(&r.signature)
        .map_err(|_| AgentError::BadManifestSignature)?;
    if Address::from_public_key(&pk) != sender
        || !keys::verify(
            &pk,
            MANIFEST_NAMESPACE,
            &manifest_signing_bytes(r.kind, &hash),
            &sig,
        )
    {
        return Err(AgentError::BadManifestSignature.into());
    }
    let id = entry_id(r.kind, &checked.name);
    let height = ctx.env.height;
    let old = entry(ctx.state, &id)?;
    let new_manifest = old.as_ref().is_none_or(|e| e.manifest != hash);
    if new_manifest && ctx.state.get_raw(&doc_key(&hash))?.is_some() {
        return Err(AgentError::AlreadyRegistered { hash }.into());
    }
    let min = old.as_ref().map_or(MIN_BOND, |e| e.bond.max(MIN_BOND));
    if r.bond < min {
        return Err(AgentError::BondTooLow { min, got: r.bond }.into());
    }
    let mut e = match old {
        Some(e) if e.owner != sender => {
            return Err(AgentError::NameTaken {
                kind: r.kind.as_str(),
                name: checked.name,
                owner: e.owner,
            }
            .into());
        }
        Some(e) if e.status != Status::Active => return Err(AgentError::NotActive { id }.into()),
        Some(e) => {
            if !new_manifest && e.endpoint == r.endpoint && e.price == r.price && e.bond == r.bond {
                return Err(AgentError::Unchanged.into());
            }
            e
        }
        None => {
            ctx.state
                .put_raw(key(OWNER, &[&sender.0, &id.0]), Vec::new());
            Entry {
                id,
                kind: r.kind,
                name: checked.name.clone(),
                owner: sender,
                owner_key: r.owner_key.clone(),
                manifest: Hash::ZERO,
                version: 0,
                endpoint: String::new(),
                price: Amount::ZERO,
                bond: Amount::ZERO,
                registered: height,
                updated: height,
                calls: 0,
                earned: Amount::ZERO,
                disputes_lost: 0,
                reputation: START_REPUTATION,
                sessions: 0,
                status: Status::Active,
            }
        }
    };
    bank::transfer(ctx, &sender, &bond_escrow(), r.bond.checked_sub(e.bond)?)?;
    if new_manifest {
        // Skills of the version replaced leave the index; the new version's enter it.
        if let Some(d) = doc(ctx.state, &e.manifest)?
            && let Ok(old) = manifest::check(e.kind, &d.manifest)
        {
            for k in skill_keys(&id, &old.skills) {
                ctx.state.delete(k);
            }
        }
        for k in skill_keys(&id, &checked.skills) {
            ctx.state.put_raw(k, Vec::new());
        }
        e.version += 1;
        e.manifest = hash;
        ctx.state.put(
            doc_key(&hash),
            &Doc {
                entry: id,
                version: e.version,
                height,
                manifest: r.manifest.clone(),
                signature: r.signature.clone(),
            },
        );
        ctx.state
            .put_raw(version_key(&id, e.version), hash.0.to_vec());
    }
    e.endpoint = r.endpoint.clone();
    e.price = r.price;
    e.bond = r.bond;
    e.updated = height;
    ctx.state.put(entry_key(&id), &e);
    ctx.emit(
        events::REGISTER,
        &[
            (attr::ID, id.to_hex()),
            (attr::KIND, r.kind.as_str().into()),
            (attr::NAME, e.name.clone()),
            (attr::OWNER, sender.to_string()),
            (attr::MANIFEST, hash.to_hex()),
            (attr::VERSION, e.version.to_string()),
        ],
    );
    Ok(())
}

/// Schedules the bond's return `RETIRE_DELAY` blocks from now.
fn schedule_release<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>, id: &Hash) {
    let at = ctx.env.height + RETIRE_DELAY;
    ctx.state
        .put_raw(key(RELEASE, &[&at.to_be_bytes(), &id.0]), Vec::new());
}

impl Module for Agent {
    const NAME: &'static str = "agent";
    const ID: u8 = 8;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        match msg {
            Msg::Register(r) => register(ctx, sender, r),
            Msg::Deregister { id } => {
                let mut e = load(ctx, id)?;
                if e.owner != sender {
                    return Err(AgentError::NotOwner {
                        id: *id,
                        owner: e.owner,
                    }
                    .into());
                }
                if e.status != Status::Active {
                    return Err(AgentError::NotActive { id: *id }.into());
                }
                e.status = Status::Retired;
                ctx.state.put(entry_key(id), &e);
                schedule_release(ctx, id);
                ctx.emit(events::DEREGISTER, &[(attr::ID, id.to_hex())]);
                Ok(())
            }
            Msg::Challenge {
                id,
                advertised,
                provider_key,
                signature,
            } => {
                let mut e = load(ctx, id)?;
                if e.status == Status::Slashed {
                    return Err(AgentError::NotActive { id: *id }.into());
                }
                let pk = public_key_from_bytes(provider_key)
                    .map_err(|_| AgentError::BadAdvert { id: *id })?;
                let sig: Signature = mycel_primitives::codec::decode(signature)
                    .map_err(|_| AgentError::BadAdvert { id: *id })?;
                if Address::from_public_key(&pk) != e.owner
                    || !keys::verify(&pk, ADVERT_NAMESPACE, &advert_bytes(id, advertised), &sig)
                {
                    return Err(AgentError::BadAdvert { id: *id }.into());
                }
                if versions(ctx.state, id)?.contains(advertised) {
                    return Err(AgentError::NotDrift {
                        id: *id,
                        manifest: *advertised,
                    }
                    .into());
                }
                // The provider signed that it serves a definition nobody registered: half the
                // slashed share to the challenger, half burned, and the entry is unlisted.
                let slashed = e.bond.mul_div(RUG_PULL_SLASH_BPS as u128, 10_000)?;
                let reward = Amount(slashed.0 / 2);
                let burned = slashed.checked_sub(reward)?;
                bank::transfer(ctx, &bond_escrow(), &sender, reward)?;
                bank::burn(ctx, &bond_escrow(), burned)?;
                e.bond = e.bond.checked_sub(slashed)?;
                e.reputation = 0;
                let was_active = e.status == Status::Active;
                e.status = Status::Slashed;
                ctx.state.put(entry_key(id), &e);
                if was_active {
                    schedule_release(ctx, id);
                }
                let epoch = ctx.epoch();
                earnings::record(
                    ctx.state,
                    epoch,
                    &e.owner,
                    earnings::Reason::SlashedFraud,
                    slashed,
                )?;
                earnings::record(
                    ctx.state,
                    epoch,
                    &sender,
                    earnings::Reason::ChallengeReward,
                    reward,
                )?;
                ctx.emit(
                    events::SLASHED,
                    &[
                        (attr::ID, id.to_hex()),
                        (attr::MANIFEST, advertised.to_hex()),
                        (attr::AMOUNT, slashed.0.to_string()),
                        (attr::CHALLENGER, sender.to_string()),
                    ],
                );
                Ok(())
            }
        }
    }

    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        let due = key(RELEASE, &[&ctx.env.height.to_be_bytes()]);
        for (k, _) in ctx.state.scan_prefix(&due)? {
            ctx.state.delete(k.clone());
            let id = Hash(
                k[due.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad release key"))?,
            );
            let Some(mut e) = entry(ctx.state, &id)? else {
                continue;
            };
            if e.sessions > 0 {
                // Its bond still answers for open sessions: looked at again later.
                schedule_release(ctx, &id);
                continue;
            }
            let bond = e.bond;
            bank::transfer(ctx, &bond_escrow(), &e.owner, bond)
                .map_err(|err| err.into_fatal("agent bond release"))?;
            e.bond = Amount::ZERO;
            ctx.state.put(entry_key(&id), &e);
            ctx.emit(
                events::RELEASED,
                &[(attr::ID, id.to_hex()), (attr::AMOUNT, bond.0.to_string())],
            );
        }
        Ok(())
    }
}

/// The tool whose current manifest is `manifest`, checked for a new session with `worker`:
/// active, current, served by `worker`. `None` when `manifest` is no registered tool (the
/// session is then one on a model). Counts the session against the tool's bond.
pub(crate) fn open_session<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    manifest: &Hash,
    worker: &Address,
) -> ExecResult<Option<Entry>> {
    let Some((mut e, d)) = by_manifest(ctx.state, manifest)? else {
        return Ok(None);
    };
    if e.status != Status::Active {
        return Err(AgentError::NotActive { id: e.id }.into());
    }
    if e.manifest != *manifest {
        return Err(AgentError::NotCurrent {
            id: e.id,
            manifest: *manifest,
            version: d.version,
        }
        .into());
    }
    if e.owner != *worker {
        return Err(AgentError::NotProvider {
            id: e.id,
            owner: e.owner,
            worker: *worker,
        }
        .into());
    }
    e.sessions += 1;
    ctx.state.put(entry_key(&e.id), &e);
    Ok(Some(e))
}

/// The entry a session on `manifest` is with, if it is a tool session.
pub(crate) fn session_entry<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    manifest: &Hash,
) -> Result<Option<Entry>> {
    Ok(by_manifest(ctx.state, manifest)?.map(|(e, _)| e))
}

/// A settlement of `calls` more calls paying `paid` on a session with `e`.
pub(crate) fn record_settled<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    mut e: Entry,
    calls: u64,
    paid: Amount,
) -> Result<()> {
    e.calls = e.calls.saturating_add(calls);
    e.earned = Amount(e.earned.0.saturating_add(paid.0));
    e.reputation = (e.reputation + 1).min(MAX_REPUTATION);
    ctx.state.put(entry_key(&e.id), &e);
    Ok(())
}

/// Refunds up to `amount` of a lost dispute to `client` out of the bond of `e`; returns what
/// was paid.
pub(crate) fn take_bond<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    mut e: Entry,
    amount: Amount,
    client: &Address,
) -> Result<Amount> {
    let take = amount.min(e.bond);
    bank::transfer(ctx, &bond_escrow(), client, take)
        .map_err(|err| err.into_fatal("agent bond refund"))?;
    e.bond = e
        .bond
        .checked_sub(take)
        .map_err(|_| crate::Error::Overflow("agent bond"))?;
    e.disputes_lost += 1;
    e.reputation = e.reputation.saturating_sub(DISPUTE_REPUTATION);
    ctx.state.put(entry_key(&e.id), &e);
    Ok(take)
}

/// A session on `e` can no longer be disputed: it no longer holds the bond.
pub(crate) fn session_released<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    mut e: Entry,
) -> Result<()> {
    e.sessions = e.sessions.saturating_sub(1);
    ctx.state.put(entry_key(&e.id), &e);
    Ok(())
}

const _: () = assert!(Agent::ID == 8);
