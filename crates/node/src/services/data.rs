//! The bridge between the data engine and the ledger: registering an ingested dataset (its
//! signed manifest published as a blob, its novelty claim bonded on chain) and defeating a false
//! novelty claim with two inclusion proofs built from the manifests.

use crate::{
    Error, Home, Result,
    client::{Client, SendOptions, Sent},
};
use mycel_data::{id::RecordId, ingest, manifest::Manifest, tree::Proof};
use mycel_ledger::{Message, events::attr, modules::data};
use mycel_primitives::{Amount, Hash, PrivateKey};

fn invalid(what: impl Into<String>, why: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: what.into(),
        why: why.to_string(),
    }
}

/// A dataset root given as a CID (`b…`) or 64 hex digits.
pub fn parse_root(s: &str) -> Result<Hash> {
    match mycel_data::id::parse_cid(s) {
        Ok((_, h)) => Ok(h),
        Err(_) => Hash::from_hex(s).map_err(|e| invalid(format!("dataset root {s:?}"), e)),
    }
}

/// Parses a `--consent` list (`train,commercial`…) into the ledger's `CONSENT_*` flags.
pub fn consent_flags(s: Option<&str>) -> Result<u8> {
    let mut flags = 0;
    for w in s.unwrap_or("").split(',').map(str::trim) {
        flags |= match w {
            "" | "none" => 0,
            "train" | "tdm-allowed" => data::CONSENT_TRAIN,
            "commercial" => data::CONSENT_COMMERCIAL,
            "redistribute" => data::CONSENT_REDISTRIBUTE,
            "all" => data::CONSENT_TRAIN | data::CONSENT_COMMERCIAL | data::CONSENT_REDISTRIBUTE,
            other => {
                return Err(invalid(
                    "--consent",
                    format!(
                        "unknown consent flag {other:?} (train, tdm-allowed, commercial, redistribute, all, none)"
                    ),
                ));
            }
        };
    }
    Ok(flags)
}

/// The most parents a registration may name.
pub const MAX_PARENTS: usize = data::MAX_PARENTS;

/// The on-chain registration of a verified manifest published as the blob `manifest_blob`.
pub fn ledger_registration(
    m: &Manifest,
    manifest_blob: Hash,
    bond: Amount,
) -> Result<data::Registration> {
    let r = m.registration();
    if r.license.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(
            format!("dataset {}", m.root),
            "it has no licence; re-add it with --license SPDX",
        ));
    }
    Ok(data::Registration {
        root: r.root,
        records: r.records,
        bytes: r.bytes,
        profile: m.profile.clone(),
        minhash_root: r.signature_root,
        manifest: manifest_blob,
        license: r.license.unwrap_or_default(),
        consent: consent_flags(r.consent.as_deref())?,
        parents: r.parents,
        novel_root: r.novel_root,
        novel_records: r.novel_records,
        novel_bytes: r.novel_bytes,
        bond,
    })
}

/// Publishes the signed manifest `m` on the node (so a verifier or challenger can fetch it by the
/// address the registration records) and registers it from `key` with `bond`.
pub async fn register(
    c: &Client,
    key: &PrivateKey,
    m: &Manifest,
    bond: Amount,
    fee: Option<Amount>,
) -> Result<Sent> {
    let manifest_blob = c.put_blob(m.to_bytes()).await?;
    let msg = Message::Data(data::Msg::RegisterDataset(Box::new(ledger_registration(
        m,
        manifest_blob,
        bond,
    )?)));
    c.send(
        key,
        msg,
        &SendOptions {
            fee,
            ..Default::default()
        },
    )
    .await
}

/// A dataset's manifest: a local file or a dataset of this home, else the manifest its on-chain
/// registration points to, fetched from the node's blob store (hash-checked) and checked
/// against the registered root.
pub async fn manifest_anywhere(home: &Home, c: &Client, which: &str) -> Result<Manifest> {
    if let Ok(m) = ingest::load_manifest(home.path(), which) {
        return Ok(m);
    }
    let root = parse_root(which)?;
    let ds: data::Dataset = c
        .get(&format!("/api/v1/datasets/{root}"))
        .await
        .map_err(|e| {
            invalid(
                format!("{which:?}"),
                format!("neither a local manifest nor a registered dataset ({e})"),
            )
        })?;
    let bytes = c.get_blob(&ds.registration.manifest).await.map_err(|e| {
        invalid(
            format!("dataset {root}"),
            format!("its manifest is not published on this node ({e})"),
        )
    })?;
    let m = Manifest::from_bytes(
        &bytes,
        std::path::Path::new(&ds.registration.manifest.to_hex()),
    )
    .map_err(|e| invalid(format!("manifest of {root}"), e))?;
    if m.root != root {
        return Err(invalid(
            format!("dataset {root}"),
            format!("the manifest published for it describes {}", m.root),
        ));
    }
    Ok(m)
}

/// A defeated novelty claim.
#[derive(Clone, Debug)]
pub struct Challenged {
    /// The challenged dataset.
    pub dataset: Hash,
    /// The record it claimed novel that the earlier dataset holds.
    pub record: RecordId,
    /// The challenger's reward, base units, as the ledger reported it.
    pub reward: String,
    /// The challenge transaction.
    pub sent: Sent,
}

/// Builds a novelty challenge of `dataset` from the earlier dataset `earlier` (for `record`, or
/// the first record claimed novel that `earlier` holds) and submits it from `key`.
pub async fn challenge(
    home: &Home,
    c: &Client,
    key: &PrivateKey,
    dataset: &str,
    earlier: &str,
    record: Option<&str>,
) -> Result<Challenged> {
    let new = manifest_anywhere(home, c, dataset).await?;
    let old = manifest_anywhere(home, c, earlier).await?;
    new.verify()
        .map_err(|e| invalid("the challenged manifest", e))?;
    old.verify()
        .map_err(|e| invalid("the earlier manifest", e))?;
    let held = old.tree();
    let id = match record {
        Some(r) => RecordId::parse(r).map_err(|e| invalid(format!("record {r:?}"), e))?,
        None => new
            .entries
            .iter()
            .filter(|e| e.novel)
            .map(|e| e.id)
            .find(|id| held.ids().binary_search(id).is_ok())
            .ok_or_else(|| {
                invalid(
                    "challenge",
                    format!("no record claimed novel in {} is in {}", new.root, old.root),
                )
            })?,
    };
    let inclusion = |p: Proof, what: &str| match p {
        Proof::Inclusion(m) => Ok(m.proof),
        Proof::NonMembership { .. } => Err(invalid(
            format!("record {id}"),
            format!("it is not in {what}"),
        )),
    };
    let novel_proof = inclusion(
        new.novel_tree().prove(&id),
        "the challenged dataset's novel set",
    )?;
    let earlier_proof = inclusion(held.prove(&id), "the earlier dataset")?;
    let msg = Message::Data(data::Msg::ChallengeNovelty {
        dataset: new.root,
        leaf: id.0.0.to_vec(),
        novel_proof,
        earlier: old.root,
        earlier_leaf: id.0.0.to_vec(),
        earlier_proof,
    });
    let sent = c.send(key, msg, &SendOptions::default()).await?;
    let reward = sent
        .receipt
        .attr(data::events::NOVELTY_CHALLENGED, attr::REWARD)
        .unwrap_or_default()
        .to_string();
    Ok(Challenged {
        dataset: new.root,
        record: id,
        reward,
        sent,
    })
}
