//! Execution of `data` messages and the module's block hooks.

use super::events;
use super::{Data, DataError};
use super::{msg::*, query::*, state::*};
use crate::earnings;
use crate::modules::{Ctx, Module, bank};
use crate::{ExecResult, Result, events::attr, state::key};
use mycel_primitives::{Address, Amount, Hash, merkle::leaf_hash, record::single_chunk_record_id};
use mycel_store::StateRead;

impl Module for Data {
    const NAME: &'static str = "data";
    const ID: u8 = 4;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> ExecResult {
        let p = ctx.params.data.clone();
        match msg {
            Msg::RegisterDataset(r) => {
                if ctx.state.get_raw(&dataset_key(&r.root))?.is_some() {
                    return Err(DataError::AlreadyRegistered { root: r.root }.into());
                }
                if r.records == 0 {
                    return Err(DataError::NoRecords.into());
                }
                if r.novel_records > r.records || r.novel_bytes > r.bytes {
                    return Err(DataError::ClaimExceedsDataset.into());
                }
                if (r.novel_records == 0) != (r.novel_bytes == 0) {
                    return Err(DataError::InconsistentClaim.into());
                }
                if r.novel_records > 0 && r.bond < p.min_bond {
                    return Err(DataError::BondTooSmall { min: p.min_bond }.into());
                }
                if r.profile.is_empty() || r.license.is_empty() {
                    return Err(DataError::MissingProfileOrLicense.into());
                }
                // A claim under a profile the ledger cannot recompute could never be challenged.
                if mycel_text::profile(&r.profile).is_none() {
                    return Err(DataError::UnknownProfile {
                        profile: r.profile.clone(),
                    }
                    .into());
                }
                if r.consent & !(CONSENT_TRAIN | CONSENT_COMMERCIAL | CONSENT_REDISTRIBUTE) != 0 {
                    return Err(DataError::UnknownConsentFlags { consent: r.consent }.into());
                }
                for parent in &r.parents {
                    if ctx.state.get_raw(&dataset_key(parent))?.is_none() {
                        return Err(DataError::UnknownParent { parent: *parent }.into());
                    }
                }
                if !r.bond.is_zero() {
                    bank::transfer(ctx, &sender, &escrow(), r.bond)?;
                    let release = ctx.env.height + p.challenge_window;
                    ctx.state
                        .put_raw(key(BOND, &[&release.to_be_bytes(), &r.root.0]), Vec::new());
                }
                let seq = ctx
                    .state
                    .get_raw(SEQ)?
                    .map(|b| {
                        b.try_into()
                            .map(u64::from_be_bytes)
                            .map_err(|_| crate::state::corrupt(SEQ, "bad dataset counter"))
                    })
                    .transpose()?
                    .unwrap_or(0);
                ctx.state
                    .put_raw(SEQ.to_vec(), (seq + 1).to_be_bytes().to_vec());
                ctx.state
                    .put_raw(key(ORDER, &[&seq.to_be_bytes()]), r.root.0.to_vec());
                let ds = Dataset {
                    registration: (**r).clone(),
                    contributor: sender,
                    height: ctx.env.height,
                    seq,
                    challenged: false,
                    bond_locked: !r.bond.is_zero(),
                };
                ctx.state.put(dataset_key(&r.root), &ds);
                ctx.state
                    .put_raw(key(BY, &[&sender.0, &r.root.0]), Vec::new());
                ctx.emit(
                    events::REGISTER,
                    &[
                        (attr::DATASET, r.root.to_hex()),
                        (attr::CONTRIBUTOR, sender.to_string()),
                        (attr::RECORDS, r.records.to_string()),
                        (attr::NOVEL_BYTES, r.novel_bytes.to_string()),
                    ],
                );
            }
            Msg::UpdateConsent {
                dataset: root,
                consent,
            } => {
                let mut ds =
                    dataset(ctx.state, root)?.ok_or(DataError::UnknownDataset { root: *root })?;
                if ds.contributor != sender {
                    return Err(DataError::NotContributor.into());
                }
                if consent & !(CONSENT_TRAIN | CONSENT_COMMERCIAL | CONSENT_REDISTRIBUTE) != 0 {
                    return Err(DataError::UnknownConsentFlags { consent: *consent }.into());
                }
                ds.registration.consent = *consent;
                ctx.state.put(dataset_key(root), &ds);
                ctx.emit(
                    events::CONSENT,
                    &[
                        (attr::DATASET, root.to_hex()),
                        (attr::CONSENT, consent.to_string()),
                    ],
                );
            }
            Msg::ChallengeNovelty {
                dataset: root,
                leaf,
                novel_proof,
                earlier,
                earlier_leaf,
                earlier_proof,
            } => {
                let (ds, old) = challenged_pair(ctx, root, earlier)?;
                if *earlier == *root {
                    return Err(DataError::EarlierNotBefore.into());
                }
                if leaf.len() < 32 || earlier_leaf.len() < 32 || leaf[..32] != earlier_leaf[..32] {
                    return Err(DataError::LeavesDiffer.into());
                }
                novel_proof
                    .verify(&leaf_hash(leaf), &ds.registration.novel_root)
                    .map_err(|e| DataError::NovelProof { why: e.to_string() })?;
                earlier_proof
                    .verify(&leaf_hash(earlier_leaf), &old.registration.root)
                    .map_err(|e| DataError::EarlierProof { why: e.to_string() })?;
                forfeit(ctx, sender, root, earlier, ds)?;
            }
            Msg::ChallengeNearDuplicate {
                dataset: root,
                record,
                novel_proof,
                earlier,
                earlier_record,
                earlier_proof,
            } => {
                let (ds, old) = challenged_pair(ctx, root, earlier)?;
                if ds.registration.profile != old.registration.profile {
                    return Err(DataError::ProfileMismatch.into());
                }
                let profile = mycel_text::profile(&ds.registration.profile).ok_or_else(|| {
                    DataError::UnknownProfile {
                        profile: ds.registration.profile.clone(),
                    }
                })?;
                let (Ok(text), Ok(earlier_text)) = (
                    std::str::from_utf8(record),
                    std::str::from_utf8(earlier_record),
                ) else {
                    return Err(DataError::NotText.into());
                };
                // Both fit one chunk (the message caps them well below it).
                let id = single_chunk_record_id(record).ok_or(DataError::NotText)?;
                let earlier_id =
                    single_chunk_record_id(earlier_record).ok_or(DataError::NotText)?;
                if id == earlier_id {
                    return Err(DataError::SameRecord.into());
                }
                novel_proof
                    .verify(&leaf_hash(id.as_bytes()), &ds.registration.novel_root)
                    .map_err(|e| DataError::NovelProof { why: e.to_string() })?;
                // Within one dataset, both records must be claimed novel: only one can be.
                let earlier_root = if *earlier == *root {
                    &old.registration.novel_root
                } else {
                    &old.registration.root
                };
                earlier_proof
                    .verify(&leaf_hash(earlier_id.as_bytes()), earlier_root)
                    .map_err(|e| DataError::EarlierProof { why: e.to_string() })?;
                let sim = mycel_text::similarity(&profile.shingling, text, earlier_text);
                if !sim.reaches(profile.near_dup_milli) {
                    return Err(DataError::NotSimilar {
                        inter: sim.inter,
                        union: sim.union,
                        threshold_milli: profile.near_dup_milli,
                    }
                    .into());
                }
                forfeit(ctx, sender, root, earlier, ds)?;
            }
        }
        Ok(())
    }

    /// Returns the bonds whose challenge window ends at this height.
    fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
        let prefix = key(BOND, &[&ctx.env.height.to_be_bytes()]);
        for (k, _) in ctx.state.scan_prefix(&prefix)? {
            let root = Hash(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| crate::state::corrupt(&k, "bad bond key"))?,
            );
            ctx.state.delete(k);
            let Some(mut ds) = dataset(ctx.state, &root)? else {
                continue;
            };
            if !ds.bond_locked {
                continue;
            }
            ds.bond_locked = false;
            bank::transfer(ctx, &escrow(), &ds.contributor, ds.registration.bond)
                .map_err(|e| e.into_fatal("bond release"))?;
            ctx.state.put(dataset_key(&root), &ds);
            ctx.emit(
                events::BOND_RELEASED,
                &[
                    (attr::DATASET, root.to_hex()),
                    (attr::CONTRIBUTOR, ds.contributor.to_string()),
                ],
            );
        }
        Ok(())
    }
}

/// The challenged dataset (claim not yet defeated) and the earlier one (registered before it,
/// or the same dataset).
fn challenged_pair<S: StateRead + ?Sized>(
    ctx: &Ctx<'_, '_, S>,
    root: &Hash,
    earlier: &Hash,
) -> ExecResult<(Dataset, Dataset)> {
    let ds = dataset(ctx.state, root)?.ok_or(DataError::UnknownDataset { root: *root })?;
    let old = dataset(ctx.state, earlier)?.ok_or(DataError::UnknownDataset { root: *earlier })?;
    if ds.challenged {
        return Err(DataError::AlreadyChallenged.into());
    }
    if old.seq > ds.seq {
        return Err(DataError::EarlierNotBefore.into());
    }
    Ok((ds, old))
}

/// A successful challenge: the claim's credit is forfeited for good and its bond, while held,
/// goes to the challenger (`challenge_reward_bps`) and the fire.
fn forfeit<S: StateRead + ?Sized>(
    ctx: &mut Ctx<'_, '_, S>,
    sender: Address,
    root: &Hash,
    earlier: &Hash,
    mut ds: Dataset,
) -> ExecResult {
    let p = ctx.params.data.clone();
    ds.challenged = true;
    let epoch = ctx.epoch();
    let mut paid = Amount::ZERO;
    if ds.bond_locked {
        let bond = ds.registration.bond;
        paid = bond.mul_div(p.challenge_reward_bps as u128, 10_000)?;
        bank::transfer(ctx, &escrow(), &sender, paid)?;
        bank::burn(ctx, &escrow(), bond.checked_sub(paid)?)?;
        ds.bond_locked = false;
        earnings::record(
            ctx.state,
            epoch,
            &ds.contributor,
            earnings::Reason::NoveltyForfeited,
            bond,
        )?;
        earnings::record(
            ctx.state,
            epoch,
            &sender,
            earnings::Reason::ChallengeReward,
            paid,
        )?;
        // The bond-queue entry is left in place; its release finds the bond unlocked.
    }
    ctx.state.put(dataset_key(root), &ds);
    ctx.emit(
        events::NOVELTY_CHALLENGED,
        &[
            (attr::DATASET, root.to_hex()),
            (attr::EARLIER, earlier.to_hex()),
            (attr::CHALLENGER, sender.to_string()),
            (attr::REWARD, paid.0.to_string()),
        ],
    );
    Ok(())
}
