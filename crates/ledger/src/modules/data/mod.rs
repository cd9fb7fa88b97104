//! `data`: dataset registration, consent, novelty challenges and contributor attribution.
//!
//! A dataset is known on chain by its *root*: the RFC 6962 root over its records sorted by ID,
//! built off-chain by `mycel-data`. Registering it records who contributed it, its counts, its
//! dedup profile, the root of its MinHash signatures, its manifest hash, licence and consent, its
//! parents, and the contributor's *novelty claim*: the root over the IDs of the records that the
//! contributor's node found new (`novel_root`), with their count and bytes. The claim is backed by
//! a bond held for `challenge_window` blocks.
//!
//! Anyone holding an earlier dataset can challenge a false claim with two inclusion proofs: the
//! record is in the new dataset's novel set, and the same record ID is in a dataset registered at
//! a lower height. A successful challenge forfeits the dataset's novelty credit (its
//! `novel_bytes` no longer count for rewards) and, while the bond is locked, pays
//! `challenge_reward_bps` of the bond to the challenger and burns the rest.
//!
//! Leaves: a leaf preimage starts with the 32-byte record ID (what follows is up to the data
//! engine's leaf format); the ledger hashes it with [`mycel_primitives::merkle::leaf_hash`].
//!
//! State: `data/ds/<root>` → [`Dataset`]; `data/by/<contributor><root>` → () (attribution);
//! `data/bond/<release height BE><root>` → () (bond queue).

use super::{Ctx, Module, bank, rewards};
use crate::{Result, TxError, state::key};
use mycel_primitives::{
    Address, Amount, Hash,
    codec::{
        CodecError, EncodeSize, RangeCfg, Read, Write, read_string, string_size, write_string,
    },
    merkle::{InclusionProof, leaf_hash},
};
use mycel_store::StateRead;

/// The data module.
pub struct Data;

const DS: &[u8] = b"data/ds/";
const BY: &[u8] = b"data/by/";
const BOND: &[u8] = b"data/bond/";

/// Most parents a dataset may name.
pub const MAX_PARENTS: usize = 16;
/// Longest Merkle path accepted (2^64 leaves).
const MAX_PATH: usize = 64;

/// Consent flag: the data may be used for training.
pub const CONSENT_TRAIN: u8 = 1;
/// Consent flag: commercial use is allowed.
pub const CONSENT_COMMERCIAL: u8 = 2;
/// Consent flag: the data may be redistributed.
pub const CONSENT_REDISTRIBUTE: u8 = 4;

/// The account that holds novelty bonds.
pub fn escrow() -> Address {
    Address::module("data")
}

/// Data parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Smallest bond behind a novelty claim.
    pub min_bond: Amount,
    /// Blocks during which the bond can be taken by a challenger.
    pub challenge_window: u64,
    /// Challenger's share of a forfeited bond, basis points (the rest is burned).
    pub challenge_reward_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_bond: Amount::from_myc(10),
            challenge_window: 1_000,
            challenge_reward_bps: 5_000,
        }
    }
}

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

/// A registered dataset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dataset {
    /// The registration.
    pub registration: Registration,
    /// Contributor.
    pub contributor: Address,
    /// Height of registration.
    pub height: u64,
    /// True once a novelty challenge succeeded: the novelty credit is forfeited.
    pub challenged: bool,
    /// True while the bond is held.
    pub bond_locked: bool,
}

impl Dataset {
    /// Novel bytes that count for rewards.
    pub fn credited_novel_bytes(&self) -> u64 {
        if self.challenged {
            0
        } else {
            self.registration.novel_bytes
        }
    }
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
}

fn write_proof(p: &InclusionProof, buf: &mut impl bytes::BufMut) {
    p.index.write(buf);
    p.size.write(buf);
    p.path.write(buf);
}

fn proof_size(p: &InclusionProof) -> usize {
    16 + p.path.encode_size()
}

fn read_proof(
    buf: &mut impl mycel_primitives::codec::Buf,
) -> std::result::Result<InclusionProof, CodecError> {
    Ok(InclusionProof {
        index: u64::read_cfg(buf, &())?,
        size: u64::read_cfg(buf, &())?,
        path: Vec::<Hash>::read_cfg(buf, &(RangeCfg::new(0..=MAX_PATH), ()))?,
    })
}

const MAX_LEAF: usize = 1024;

impl Write for Registration {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.root.write(buf);
        self.records.write(buf);
        self.bytes.write(buf);
        write_string(&self.profile, buf);
        self.minhash_root.write(buf);
        self.manifest.write(buf);
        write_string(&self.license, buf);
        self.consent.write(buf);
        self.parents.write(buf);
        self.novel_root.write(buf);
        self.novel_records.write(buf);
        self.novel_bytes.write(buf);
        self.bond.write(buf);
    }
}

impl EncodeSize for Registration {
    fn encode_size(&self) -> usize {
        32 + 8
            + 8
            + string_size(&self.profile)
            + 32
            + 32
            + string_size(&self.license)
            + 1
            + self.parents.encode_size()
            + 32
            + 8
            + 8
            + 16
    }
}

impl Read for Registration {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        Ok(Registration {
            root: Hash::read_cfg(buf, &())?,
            records: u64::read_cfg(buf, &())?,
            bytes: u64::read_cfg(buf, &())?,
            profile: read_string(buf, 64)?,
            minhash_root: Hash::read_cfg(buf, &())?,
            manifest: Hash::read_cfg(buf, &())?,
            license: read_string(buf, 128)?,
            consent: u8::read_cfg(buf, &())?,
            parents: Vec::<Hash>::read_cfg(buf, &(RangeCfg::new(0..=MAX_PARENTS), ()))?,
            novel_root: Hash::read_cfg(buf, &())?,
            novel_records: u64::read_cfg(buf, &())?,
            novel_bytes: u64::read_cfg(buf, &())?,
            bond: Amount::read_cfg(buf, &())?,
        })
    }
}

impl Write for Dataset {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.registration.write(buf);
        self.contributor.write(buf);
        self.height.write(buf);
        self.challenged.write(buf);
        self.bond_locked.write(buf);
    }
}

impl EncodeSize for Dataset {
    fn encode_size(&self) -> usize {
        self.registration.encode_size() + 20 + 8 + 1 + 1
    }
}

impl Read for Dataset {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        Ok(Dataset {
            registration: Registration::read_cfg(buf, &())?,
            contributor: Address::read_cfg(buf, &())?,
            height: u64::read_cfg(buf, &())?,
            challenged: bool::read_cfg(buf, &())?,
            bond_locked: bool::read_cfg(buf, &())?,
        })
    }
}

impl Write for Msg {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Msg::RegisterDataset(r) => {
                0u8.write(buf);
                r.write(buf);
            }
            Msg::UpdateConsent { dataset, consent } => {
                1u8.write(buf);
                dataset.write(buf);
                consent.write(buf);
            }
            Msg::ChallengeNovelty {
                dataset,
                leaf,
                novel_proof,
                earlier,
                earlier_leaf,
                earlier_proof,
            } => {
                2u8.write(buf);
                dataset.write(buf);
                leaf.write(buf);
                write_proof(novel_proof, buf);
                earlier.write(buf);
                earlier_leaf.write(buf);
                write_proof(earlier_proof, buf);
            }
        }
    }
}

impl EncodeSize for Msg {
    fn encode_size(&self) -> usize {
        1 + match self {
            Msg::RegisterDataset(r) => r.encode_size(),
            Msg::UpdateConsent { .. } => 32 + 1,
            Msg::ChallengeNovelty {
                leaf,
                novel_proof,
                earlier_leaf,
                earlier_proof,
                ..
            } => {
                32 + leaf.encode_size()
                    + proof_size(novel_proof)
                    + 32
                    + earlier_leaf.encode_size()
                    + proof_size(earlier_proof)
            }
        }
    }
}

impl Read for Msg {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(Msg::RegisterDataset(Box::new(Registration::read_cfg(
                buf,
                &(),
            )?))),
            1 => Ok(Msg::UpdateConsent {
                dataset: Hash::read_cfg(buf, &())?,
                consent: u8::read_cfg(buf, &())?,
            }),
            2 => Ok(Msg::ChallengeNovelty {
                dataset: Hash::read_cfg(buf, &())?,
                leaf: Vec::<u8>::read_cfg(buf, &(RangeCfg::new(32..=MAX_LEAF), ()))?,
                novel_proof: read_proof(buf)?,
                earlier: Hash::read_cfg(buf, &())?,
                earlier_leaf: Vec::<u8>::read_cfg(buf, &(RangeCfg::new(32..=MAX_LEAF), ()))?,
                earlier_proof: read_proof(buf)?,
            }),
            k => Err(super::unknown(Data::ID, k)),
        }
    }
}

fn err(e: crate::Error) -> TxError {
    TxError::Malformed(e.to_string())
}

fn ds_key(root: &Hash) -> Vec<u8> {
    key(DS, &[&root.0])
}

/// A registered dataset.
pub fn dataset(state: &(impl StateRead + ?Sized), root: &Hash) -> Result<Option<Dataset>> {
    crate::state::read::<Dataset>(state, &ds_key(root))
}

/// The `limit` most recently registered datasets, newest first (ties by root). Scans every
/// dataset: for dashboards and operators, not for the state machine.
pub fn recent_datasets(state: &(impl StateRead + ?Sized), limit: usize) -> Result<Vec<Dataset>> {
    let mut all = state
        .scan_prefix(DS)?
        .into_iter()
        .map(|(k, v)| {
            mycel_primitives::codec::decode::<Dataset>(&v).map_err(|e| crate::state::corrupt(&k, e))
        })
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| {
        b.height
            .cmp(&a.height)
            .then(a.registration.root.cmp(&b.registration.root))
    });
    all.truncate(limit);
    Ok(all)
}

/// The roots of the datasets `contributor` registered, in root order.
pub fn datasets_of(state: &(impl StateRead + ?Sized), contributor: &Address) -> Result<Vec<Hash>> {
    let prefix = key(BY, &[&contributor.0]);
    state
        .scan_prefix(&prefix)?
        .into_iter()
        .map(|(k, _)| {
            k[prefix.len()..]
                .try_into()
                .map(Hash)
                .map_err(|_| crate::state::corrupt(&k, "bad attribution key"))
        })
        .collect()
}

impl Module for Data {
    const NAME: &'static str = "data";
    const ID: u8 = 4;
    type Msg = Msg;

    fn execute<S: StateRead + ?Sized>(
        ctx: &mut Ctx<'_, '_, S>,
        sender: Address,
        msg: &Msg,
    ) -> std::result::Result<(), TxError> {
        let p = ctx.params.data.clone();
        match msg {
            Msg::RegisterDataset(r) => {
                let bad = |why: &str| TxError::InvalidData(why.to_string());
                if ctx.state.get_raw(&ds_key(&r.root)).map_err(err)?.is_some() {
                    return Err(TxError::InvalidData(format!(
                        "dataset {} is already registered",
                        r.root
                    )));
                }
                if r.records == 0 {
                    return Err(bad("a dataset needs at least one record"));
                }
                if r.novel_records > r.records || r.novel_bytes > r.bytes {
                    return Err(bad("the novelty claim exceeds the dataset"));
                }
                if (r.novel_records == 0) != (r.novel_bytes == 0) {
                    return Err(bad(
                        "novel records and novel bytes must both be zero or both positive",
                    ));
                }
                if r.novel_records > 0 && r.bond < p.min_bond {
                    return Err(bad(&format!(
                        "a novelty claim needs a bond of at least {}",
                        p.min_bond
                    )));
                }
                if r.profile.is_empty() || r.license.is_empty() {
                    return Err(bad("profile and license are required"));
                }
                if r.consent & !(CONSENT_TRAIN | CONSENT_COMMERCIAL | CONSENT_REDISTRIBUTE) != 0 {
                    return Err(bad("unknown consent flags"));
                }
                for parent in &r.parents {
                    if ctx.state.get_raw(&ds_key(parent)).map_err(err)?.is_none() {
                        return Err(TxError::InvalidData(format!(
                            "unknown parent dataset {parent}"
                        )));
                    }
                }
                if !r.bond.is_zero() {
                    bank::transfer(ctx, &sender, &escrow(), r.bond)?;
                    let release = ctx.env.height + p.challenge_window;
                    ctx.state
                        .put_raw(key(BOND, &[&release.to_be_bytes(), &r.root.0]), Vec::new());
                }
                let ds = Dataset {
                    registration: (**r).clone(),
                    contributor: sender,
                    height: ctx.env.height,
                    challenged: false,
                    bond_locked: !r.bond.is_zero(),
                };
                ctx.state.put(ds_key(&r.root), &ds);
                ctx.state
                    .put_raw(key(BY, &[&sender.0, &r.root.0]), Vec::new());
                ctx.emit(
                    "data.register",
                    &[
                        ("dataset", r.root.to_hex()),
                        ("contributor", sender.to_string()),
                        ("records", r.records.to_string()),
                        ("novel_bytes", r.novel_bytes.to_string()),
                    ],
                );
            }
            Msg::UpdateConsent {
                dataset: root,
                consent,
            } => {
                let mut ds = dataset(ctx.state, root)
                    .map_err(err)?
                    .ok_or_else(|| TxError::InvalidData(format!("unknown dataset {root}")))?;
                if ds.contributor != sender {
                    return Err(TxError::Unauthorized(
                        "only the contributor can change consent".into(),
                    ));
                }
                if consent & !(CONSENT_TRAIN | CONSENT_COMMERCIAL | CONSENT_REDISTRIBUTE) != 0 {
                    return Err(TxError::InvalidData("unknown consent flags".into()));
                }
                ds.registration.consent = *consent;
                ctx.state.put(ds_key(root), &ds);
                ctx.emit(
                    "data.consent",
                    &[("dataset", root.to_hex()), ("consent", consent.to_string())],
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
                let mut ds = dataset(ctx.state, root)
                    .map_err(err)?
                    .ok_or_else(|| TxError::InvalidData(format!("unknown dataset {root}")))?;
                let old = dataset(ctx.state, earlier)
                    .map_err(err)?
                    .ok_or_else(|| TxError::InvalidData(format!("unknown dataset {earlier}")))?;
                if ds.challenged {
                    return Err(TxError::InvalidData(
                        "this dataset's novelty claim was already defeated".into(),
                    ));
                }
                if old.height >= ds.height {
                    return Err(TxError::InvalidData(
                        "the earlier dataset was not registered before".into(),
                    ));
                }
                if leaf.len() < 32 || earlier_leaf.len() < 32 || leaf[..32] != earlier_leaf[..32] {
                    return Err(TxError::InvalidData(
                        "the two leaves are not the same record".into(),
                    ));
                }
                novel_proof
                    .verify(&leaf_hash(leaf), &ds.registration.novel_root)
                    .map_err(|e| TxError::InvalidData(format!("novel-set proof: {e}")))?;
                earlier_proof
                    .verify(&leaf_hash(earlier_leaf), &old.registration.root)
                    .map_err(|e| TxError::InvalidData(format!("earlier-dataset proof: {e}")))?;
                ds.challenged = true;
                let epoch = rewards::epoch_of(ctx.params, ctx.env.height);
                let mut paid = Amount::ZERO;
                if ds.bond_locked {
                    let bond = ds.registration.bond;
                    paid = bond.mul_div(p.challenge_reward_bps as u128, 10_000)?;
                    bank::transfer(ctx, &escrow(), &sender, paid)?;
                    bank::burn(ctx, &escrow(), bond.checked_sub(paid)?)?;
                    ds.bond_locked = false;
                    rewards::record(
                        ctx.state,
                        epoch,
                        &ds.contributor,
                        rewards::Reason::NoveltyForfeited,
                        bond,
                    )
                    .map_err(err)?;
                    rewards::record(
                        ctx.state,
                        epoch,
                        &sender,
                        rewards::Reason::ChallengeReward,
                        paid,
                    )
                    .map_err(err)?;
                    // The bond-queue entry is left in place; its release finds the bond unlocked.
                }
                ctx.state.put(ds_key(root), &ds);
                ctx.emit(
                    "data.novelty_challenged",
                    &[
                        ("dataset", root.to_hex()),
                        ("earlier", earlier.to_hex()),
                        ("challenger", sender.to_string()),
                        ("reward", paid.0.to_string()),
                    ],
                );
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
                .map_err(|_| crate::Error::Overflow("bond release"))?;
            ctx.state.put(ds_key(&root), &ds);
            ctx.emit(
                "data.bond_released",
                &[
                    ("dataset", root.to_hex()),
                    ("contributor", ds.contributor.to_string()),
                ],
            );
        }
        Ok(())
    }
}
