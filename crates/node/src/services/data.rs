//! The bridge between the data engine and the ledger: registering an ingested dataset (its
//! signed manifest published as a blob, its novelty claim bonded on chain) and defeating a false
//! novelty claim with two inclusion proofs built from the manifests.

use crate::{
    Error, Home, Result,
    client::{Client, SendOptions, Sent},
};
use mycel_data::{
    blobs::BlobStore,
    id::{RecordId, raw_id},
    ingest,
    manifest::{Entry, Manifest},
    minhash::{K, Signer, band_keys, estimate},
    normalize::normalize,
    profile::Profile,
    sigtable::{SignatureTable, table_path},
    tree::Proof,
};
use mycel_ledger::{Message, events::attr, modules::data};
use mycel_primitives::{Amount, Hash, PrivateKey};
use std::collections::HashMap;

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
    signatures_blob: Hash,
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
        signatures: signatures_blob,
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

/// Publishes on the node what the claim of manifest `m` (a dataset of `home`) rests on, so that
/// anyone can check it or challenge it: the bytes of every record it claims novel, its signature
/// table and the signed manifest; then registers it from `key` with `bond`.
pub async fn register(
    home: &Home,
    c: &Client,
    key: &PrivateKey,
    m: &Manifest,
    bond: Amount,
    fee: Option<Amount>,
) -> Result<Sent> {
    let table = SignatureTable::load(
        &table_path(home.path(), &m.root),
        &m.profile_id,
        &m.signature_root,
    )
    .map_err(|e| {
        invalid(
            format!("dataset {}", m.root),
            format!("{e}; re-add it with `mycel data add` to rebuild its signature table"),
        )
    })?;
    let store = BlobStore::open(ingest::blobs_dir(home.path()))?;
    for e in m.entries.iter().filter(|e| e.novel) {
        for chunk in &e.chunks {
            let bytes = store
                .get(&chunk.hash)
                .map_err(|err| invalid(format!("record {} of {}", e.id, m.root), err))?;
            c.put_blob(key, bytes).await?;
        }
    }
    let signatures_blob = c.put_blob(key, table.to_bytes()).await?;
    let manifest_blob = c.put_blob(key, m.to_bytes()).await?;
    let msg = Message::Data(data::Msg::RegisterDataset(Box::new(ledger_registration(
        m,
        manifest_blob,
        signatures_blob,
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

/// Registered datasets in registration order (all of them, paged from the node).
pub async fn registered(c: &Client) -> Result<Vec<data::Dataset>> {
    const PAGE: u64 = 200;
    let mut out: Vec<data::Dataset> = Vec::new();
    loop {
        let page: Vec<data::Dataset> = c
            .get(&format!("/api/v1/datasets?from={}&limit={PAGE}", out.len()))
            .await?;
        let done = (page.len() as u64) < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// The published signature table of a registered dataset, checked against its on-chain root.
pub async fn signature_table(
    c: &Client,
    ds: &data::Dataset,
    profile: &Profile,
) -> Result<SignatureTable> {
    let r = &ds.registration;
    let bytes = c.get_blob(&r.signatures).await?;
    SignatureTable::from_bytes(&bytes, &profile.id(), &r.minhash_root)
        .map_err(|e| invalid(format!("dataset {}", r.root), e))
}

/// The near-dup memory of the whole network: the signatures of every dataset registered under
/// `profile`, each table checked against its on-chain root. A table that is missing or fails
/// its check is left out and reported in `skipped` (its records cannot be checked against).
#[derive(Debug, Default)]
pub struct NetworkSignatures {
    /// `(raw ID, signature)` of every record of every checked table.
    pub rows: Vec<(RecordId, [u32; K])>,
    /// Datasets whose tables were read.
    pub datasets: usize,
    /// Datasets left out, with why.
    pub skipped: Vec<(Hash, String)>,
}

/// Fetches [`NetworkSignatures`] from the node.
pub async fn network_signatures(c: &Client, profile: &Profile) -> Result<NetworkSignatures> {
    let mut out = NetworkSignatures::default();
    for ds in registered(c).await? {
        if ds.registration.profile != profile.name {
            continue;
        }
        match signature_table(c, &ds, profile).await {
            Ok(t) => {
                out.rows.extend(t.rows);
                out.datasets += 1;
            }
            Err(e) => out.skipped.push((ds.registration.root, e.to_string())),
        }
    }
    Ok(out)
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
    let novel_proof = inclusion(
        new.novel_tree().prove(&id),
        &id,
        "the challenged dataset's novel set",
    )?;
    let earlier_proof = inclusion(held.prove(&id), &id, "the earlier dataset")?;
    let msg = Message::Data(data::Msg::ChallengeNovelty {
        dataset: new.root,
        leaf: id.0.0.to_vec(),
        novel_proof,
        earlier: old.root,
        earlier_leaf: id.0.0.to_vec(),
        earlier_proof,
    });
    send_challenge(c, key, msg, new.root, id).await
}

/// The inclusion proof of `id` in `p`, or why there is none (`what`: the set it is not in).
fn inclusion(
    p: Proof,
    id: &RecordId,
    what: &str,
) -> Result<mycel_primitives::merkle::InclusionProof> {
    match p {
        Proof::Inclusion(m) => Ok(m.proof),
        Proof::NonMembership { .. } => Err(invalid(
            format!("record {id}"),
            format!("it is not in {what}"),
        )),
    }
}

/// Submits a novelty challenge of `dataset` (over `record`) and reads the challenger's reward
/// from its receipt.
async fn send_challenge(
    c: &Client,
    key: &PrivateKey,
    msg: Message,
    dataset: Hash,
    record: RecordId,
) -> Result<Challenged> {
    let sent = c.send(key, msg, &SendOptions::default()).await?;
    let reward = sent
        .receipt
        .attr(data::events::NOVELTY_CHALLENGED, attr::REWARD)
        .unwrap_or_default()
        .to_string();
    Ok(Challenged {
        dataset,
        record,
        reward,
        sent,
    })
}

/// The bytes of record `e`, from this home's blob store or else the node's (each chunk
/// hash-checked there), checked against the record's ID.
async fn record_bytes(store: &BlobStore, c: &Client, e: &Entry) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(e.len as usize);
    for chunk in &e.chunks {
        let bytes = match store.get(&chunk.hash) {
            Ok(b) => b,
            Err(_) => c.get_blob(&chunk.hash).await.map_err(|err| {
                invalid(
                    format!("record {}", e.id),
                    format!("its chunk {} is not published ({err})", chunk.hash),
                )
            })?,
        };
        out.extend_from_slice(&bytes);
    }
    if raw_id(&out) != e.id {
        return Err(invalid(
            format!("record {}", e.id),
            "its chunks do not rebuild it",
        ));
    }
    Ok(out)
}

/// The text of record `e`, or `None` when its bytes are withheld or are not UTF-8 (such a
/// record cannot be revealed in a near-duplicate challenge).
async fn record_text(store: &BlobStore, c: &Client, e: &Entry) -> Option<String> {
    String::from_utf8(record_bytes(store, c, e).await.ok()?).ok()
}

/// A registered dataset with its manifest.
struct Registered {
    ds: data::Dataset,
    manifest: Manifest,
}

async fn registered_dataset(home: &Home, c: &Client, which: &str) -> Result<Registered> {
    let manifest = manifest_anywhere(home, c, which).await?;
    manifest
        .verify()
        .map_err(|e| invalid(format!("manifest of {}", manifest.root), e))?;
    let ds: data::Dataset = c
        .get(&format!("/api/v1/datasets/{}", manifest.root))
        .await
        .map_err(|e| {
            invalid(
                format!("dataset {}", manifest.root),
                format!("not registered ({e})"),
            )
        })?;
    Ok(Registered { ds, manifest })
}

/// Evidence that a novelty claim is false: a record the dataset claims novel and a near
/// duplicate registered before it (or claimed novel in the same dataset), with the challenge
/// message that proves it on chain.
#[derive(Debug, Clone)]
pub struct NearDuplicate {
    /// The dataset whose claim is false.
    pub dataset: Hash,
    /// Its record.
    pub record: RecordId,
    /// The dataset holding the near duplicate.
    pub earlier: Hash,
    /// The near duplicate.
    pub earlier_record: RecordId,
    /// Their normalised shingle similarity, as the ledger will recompute it.
    pub similarity: mycel_text::Similarity,
    /// The `ChallengeNearDuplicate` message.
    pub msg: Message,
}

/// Builds a near-duplicate challenge of `dataset` and submits it from `key` (see
/// [`find_near_duplicate`]).
pub async fn challenge_near(
    home: &Home,
    c: &Client,
    key: &PrivateKey,
    dataset: &str,
    earlier: Option<&str>,
) -> Result<Challenged> {
    let Some(found) = find_near_duplicate(home, c, dataset, earlier).await? else {
        return Err(invalid(
            "challenge",
            format!(
                "no record claimed novel in {dataset} is a near duplicate of an earlier record"
            ),
        ));
    };
    send_challenge(c, key, found.msg, found.dataset, found.record).await
}

/// Checks the novelty claim of `dataset` against `earlier` (or, without it, every dataset
/// registered before it, itself included): the first record it claims novel whose normalised
/// shingle similarity to an earlier record reaches the profile's threshold. The challenged
/// records' signatures are recomputed from their bytes, not taken from the contributor's table;
/// the earlier datasets' published tables find the candidates, and every candidate is checked
/// exactly, as the ledger will. `None`: the claim holds against everything checked.
pub async fn find_near_duplicate(
    home: &Home,
    c: &Client,
    dataset: &str,
    earlier: Option<&str>,
) -> Result<Option<NearDuplicate>> {
    let new = registered_dataset(home, c, dataset).await?;
    if new.ds.challenged {
        return Err(invalid(
            format!("dataset {}", new.manifest.root),
            "its novelty claim was already defeated",
        ));
    }
    let profile = Profile::by_name(&new.ds.registration.profile)
        .map_err(|e| invalid(format!("dataset {}", new.manifest.root), e))?;
    let text_profile = mycel_text::profile(&profile.name)
        .ok_or_else(|| invalid("profile", format!("{} is not a text profile", profile.name)))?;
    let store = BlobStore::open(ingest::blobs_dir(home.path()))?;
    // The challenged side: every record claimed novel that fits a challenge, signed from its text.
    let mut signer = Signer::new(&profile);
    let mut claimed: Vec<(Entry, String, [u32; K])> = Vec::new();
    for e in new.manifest.entries.iter().filter(|e| e.novel) {
        if e.len as usize > data::MAX_CHALLENGE_RECORD {
            continue;
        }
        // A record whose bytes are withheld (or not text) cannot be revealed: the others can.
        let Some(text) = record_text(&store, c, e).await else {
            continue;
        };
        let mut sig = [0u32; K];
        signer.sign(&normalize(&text), &mut sig);
        claimed.push((e.clone(), text, sig));
    }
    let earlier_sets = match earlier {
        Some(w) => vec![registered_dataset(home, c, w).await?],
        None => {
            let mut v = Vec::new();
            for ds in registered(c).await? {
                if ds.seq > new.ds.seq || ds.registration.profile != profile.name {
                    continue;
                }
                let root = ds.registration.root.to_hex();
                // An earlier dataset whose manifest is not published is skipped, not fatal: a
                // registrant who withholds one must not block the checks of later claims.
                if let Ok(r) = registered_dataset(home, c, &root).await {
                    v.push(r);
                }
            }
            v
        }
    };
    let banding = profile.tier_d;
    let min_estimate = (f64::from(profile.tier_d_threshold_milli)
        - f64::from(profile.verify_slack_milli))
        / 1000.0;
    let mut keys = Vec::new();
    for old in &earlier_sets {
        if old.ds.seq > new.ds.seq {
            return Err(invalid(
                format!("dataset {}", old.manifest.root),
                "it was registered after the challenged dataset",
            ));
        }
        let same = old.manifest.root == new.manifest.root;
        // Candidates by LSH band over the earlier side's signatures.
        let rows: Vec<(RecordId, [u32; K])> = if same {
            claimed.iter().map(|(e, _, s)| (e.id, *s)).collect()
        } else {
            match signature_table(c, &old.ds, &profile).await {
                Ok(t) => t.rows,
                // Missing or failing its root: that dataset cannot be searched.
                Err(_) if earlier.is_none() => continue,
                Err(e) => return Err(e),
            }
        };
        let mut bands: HashMap<(usize, u32), Vec<usize>> = HashMap::new();
        for (i, (_, sig)) in rows.iter().enumerate() {
            band_keys(sig, banding.bands, banding.rows, &mut keys);
            for (b, k) in keys.iter().enumerate() {
                bands.entry((b, *k)).or_default().push(i);
            }
        }
        let entries: HashMap<RecordId, &Entry> =
            old.manifest.entries.iter().map(|e| (e.id, e)).collect();
        for (e, text, sig) in &claimed {
            band_keys(sig, banding.bands, banding.rows, &mut keys);
            let mut cands: Vec<usize> = keys
                .iter()
                .enumerate()
                .filter_map(|(b, k)| bands.get(&(b, *k)))
                .flatten()
                .copied()
                .collect();
            cands.sort_unstable();
            cands.dedup();
            for i in cands {
                let (oid, osig) = &rows[i];
                if *oid == e.id || estimate(sig, osig) < min_estimate {
                    continue;
                }
                let Some(oe) = entries.get(oid) else { continue };
                if oe.len as usize > data::MAX_CHALLENGE_RECORD || (same && !oe.novel) {
                    continue;
                }
                let Some(otext) = record_text(&store, c, oe).await else {
                    continue;
                };
                let sim = mycel_text::similarity(&text_profile.shingling, text, &otext);
                if !sim.reaches(text_profile.near_dup_milli) {
                    continue;
                }
                return near_dup_message(&new.manifest, e, text, &old.manifest, oe, &otext, same)
                    .map(|msg| {
                        Some(NearDuplicate {
                            dataset: new.manifest.root,
                            record: e.id,
                            earlier: old.manifest.root,
                            earlier_record: oe.id,
                            similarity: sim,
                            msg,
                        })
                    });
            }
        }
    }
    Ok(None)
}

fn near_dup_message(
    new: &Manifest,
    e: &Entry,
    text: &str,
    old: &Manifest,
    oe: &Entry,
    otext: &str,
    same: bool,
) -> Result<Message> {
    let novel_proof = inclusion(new.novel_tree().prove(&e.id), &e.id, "its dataset")?;
    let earlier_tree = if same { old.novel_tree() } else { old.tree() };
    let earlier_proof = inclusion(earlier_tree.prove(&oe.id), &oe.id, "its dataset")?;
    Ok(Message::Data(data::Msg::ChallengeNearDuplicate {
        dataset: new.root,
        record: text.as_bytes().to_vec(),
        novel_proof,
        earlier: old.root,
        earlier_record: otext.as_bytes().to_vec(),
        earlier_proof,
    }))
}
