//! Dataset manifests and the fields a `RegisterDataset` ledger message needs.

use crate::{
    Error, Result,
    error::io,
    id::{ChunkRef, RecordId, raw_id_from_chunks},
    tree::DatasetTree,
};
use mycel_primitives::{
    Hash, PrivateKey, PublicKey, Signature,
    codec::{Encode as _, decode},
    hash::{Domain, hash},
    keys, merkle,
};
use std::path::Path;

/// Manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// One record of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Raw ID.
    pub id: RecordId,
    /// Normalised-text ID under the manifest's profile (text records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_id: Option<RecordId>,
    /// Source name (file name, JSONL/Parquet id, or row).
    pub name: String,
    /// Length in bytes.
    pub len: u64,
    /// Chunks, in order.
    pub chunks: Vec<ChunkRef>,
    /// Claimed novel: neither in the node's exact index nor an exact or near duplicate of a record
    /// registered earlier or of an earlier record of this dataset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub novel: bool,
}

/// What `RegisterDataset` carries on-chain (about 200 bytes plus licence strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// RFC 6962 root over the sorted distinct raw IDs.
    pub root: Hash,
    /// Distinct records.
    pub records: u64,
    /// Bytes of the distinct records.
    pub bytes: u64,
    /// Dedup profile ID (normalisation, shingling, seeds, banding).
    pub profile_id: Hash,
    /// RFC 6962 root over `leaf(raw_id ‖ signature)` of text records sorted by raw ID, so others
    /// can challenge a novelty claim with a signature.
    pub signature_root: Hash,
    /// Hash of the manifest (`Domain::DataManifest` over its canonical JSON).
    pub manifest_hash: Hash,
    /// RFC 6962 root over the sorted raw IDs of the records claimed novel: what a novelty
    /// challenge proves a record against.
    pub novel_root: Hash,
    /// Records claimed novel (see [`Entry::novel`]).
    pub novel_records: u64,
    /// Bytes claimed novel.
    pub novel_bytes: u64,
    /// SPDX licence expression.
    pub license: Option<String>,
    /// Consent / TDM flags as declared by the contributor.
    pub consent: Option<String>,
    /// Datasets this one derives from.
    pub parents: Vec<Hash>,
}

/// The contributor's signature over a manifest's hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestSignature {
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Signature of [`Manifest::hash`] under [`MANIFEST_NAMESPACE`], hex.
    pub signature: String,
}

/// Signature namespace of manifests.
pub const MANIFEST_NAMESPACE: &[u8] = b"mycel/data/manifest";

/// A dataset manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Profile name.
    pub profile: String,
    /// Profile ID.
    pub profile_id: Hash,
    /// Dataset root.
    pub root: Hash,
    /// Signature root (see [`Registration::signature_root`]).
    pub signature_root: Hash,
    /// Root over the novel records' IDs (see [`Registration::novel_root`]).
    #[serde(default)]
    pub novel_root: Hash,
    /// Records claimed novel.
    pub novel_records: u64,
    /// Bytes claimed novel.
    pub novel_bytes: u64,
    /// SPDX licence.
    pub license: Option<String>,
    /// Consent flags.
    pub consent: Option<String>,
    /// Parent datasets (roots).
    #[serde(default)]
    pub parents: Vec<Hash>,
    /// Records, sorted by raw ID, distinct.
    pub entries: Vec<Entry>,
    /// The contributor's signature; not part of [`Manifest::hash`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<ManifestSignature>,
}

impl Manifest {
    /// Hash of the canonical JSON encoding, without the signature.
    pub fn hash(&self) -> Hash {
        let unsigned = Manifest {
            signed_by: None,
            ..self.clone()
        };
        hash(
            Domain::DataManifest,
            &serde_json::to_vec(&unsigned).expect("serializable"),
        )
    }

    /// Signs the manifest as its contributor.
    pub fn sign(&mut self, key: &PrivateKey) {
        let sig = keys::sign(key, MANIFEST_NAMESPACE, self.hash().as_bytes());
        self.signed_by = Some(ManifestSignature {
            public_key: hex::encode(keys::public_key(key).encode()),
            signature: hex::encode(sig.encode()),
        });
    }

    /// The contributor's public key, if the manifest is signed and the signature verifies.
    pub fn verify_signature(&self) -> Result<Option<PublicKey>> {
        let Some(s) = &self.signed_by else {
            return Ok(None);
        };
        let bad = |why: &str| Error::Verify(format!("manifest signature: {why}"));
        let pk = hex::decode(&s.public_key)
            .ok()
            .and_then(|b| keys::public_key_from_bytes(&b).ok())
            .ok_or_else(|| bad("malformed public key"))?;
        let sig = hex::decode(&s.signature)
            .ok()
            .and_then(|b| decode::<Signature>(&b).ok())
            .ok_or_else(|| bad("malformed signature"))?;
        if !keys::verify(&pk, MANIFEST_NAMESPACE, self.hash().as_bytes(), &sig) {
            return Err(bad("does not verify"));
        }
        Ok(Some(pk))
    }

    /// The tree of the records claimed novel.
    pub fn novel_tree(&self) -> DatasetTree {
        DatasetTree::new(
            self.entries
                .iter()
                .filter(|e| e.novel)
                .map(|e| e.id)
                .collect(),
        )
    }

    /// The dataset tree of the entries.
    pub fn tree(&self) -> DatasetTree {
        DatasetTree::new(self.entries.iter().map(|e| e.id).collect())
    }

    /// The ledger registration derived from this manifest.
    pub fn registration(&self) -> Registration {
        Registration {
            root: self.root,
            records: self.entries.len() as u64,
            bytes: self.entries.iter().map(|e| e.len).sum(),
            profile_id: self.profile_id,
            signature_root: self.signature_root,
            manifest_hash: self.hash(),
            novel_root: self.novel_root,
            novel_records: self.novel_records,
            novel_bytes: self.novel_bytes,
            license: self.license.clone(),
            consent: self.consent.clone(),
            parents: self.parents.clone(),
        }
    }

    /// Checks the manifest's internal consistency offline: entries sorted and distinct, every
    /// entry's ID recomputed from its chunk list, chunk offsets contiguous, and the root.
    pub fn verify(&self) -> Result<()> {
        if self.version != MANIFEST_VERSION {
            return Err(Error::Verify(format!(
                "unknown manifest version {}",
                self.version
            )));
        }
        if self.entries.windows(2).any(|w| w[0].id >= w[1].id) {
            return Err(Error::Verify("entries are not sorted and distinct".into()));
        }
        for e in &self.entries {
            let mut end = 0u64;
            for c in &e.chunks {
                if c.offset != end {
                    return Err(Error::Verify(format!(
                        "{}: chunks are not contiguous",
                        e.id
                    )));
                }
                end += u64::from(c.len);
            }
            if end != e.len {
                return Err(Error::Verify(format!(
                    "{}: chunk lengths do not sum to the record",
                    e.id
                )));
            }
            if raw_id_from_chunks(e.len, &e.chunks) != e.id {
                return Err(Error::Verify(format!(
                    "{}: id does not match its chunks",
                    e.id
                )));
            }
        }
        if self.tree().root() != self.root {
            return Err(Error::Verify(
                "dataset root does not match the entries".into(),
            ));
        }
        let novel = self.entries.iter().filter(|e| e.novel);
        let (records, bytes) = novel.fold((0, 0), |(r, b), e| (r + 1, b + e.len));
        if (records, bytes) != (self.novel_records, self.novel_bytes) {
            return Err(Error::Verify(
                "novel record and byte counts do not match the entries".into(),
            ));
        }
        if self.novel_tree().root() != self.novel_root {
            return Err(Error::Verify(
                "novel root does not match the entries".into(),
            ));
        }
        self.verify_signature()?;
        Ok(())
    }

    /// Writes the manifest atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = crate::jsonl::temp_path(path);
        std::fs::write(&tmp, self.to_bytes()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// The file form, signature included: what is saved, and what is published as a blob whose
    /// address the ledger's registration records.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("serializable")
    }

    /// Parses the file form; `source` names where the bytes came from in errors.
    pub fn from_bytes(bytes: &[u8], source: &Path) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::Decode {
            path: source.to_path_buf(),
            why: e.to_string(),
        })
    }

    /// Reads a manifest.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        Self::from_bytes(&bytes, path)
    }
}

/// Signature root over `(raw_id, signature)` pairs (sorted here by ID).
pub fn signature_root(mut sigs: Vec<(RecordId, Vec<u8>)>) -> Hash {
    sigs.sort_by_key(|s| s.0);
    sigs.dedup_by(|a, b| a.0 == b.0);
    let leaves: Vec<Hash> = sigs
        .iter()
        .map(|(id, s)| {
            let mut buf = id.0.0.to_vec();
            buf.extend_from_slice(s);
            merkle::leaf_hash(&buf)
        })
        .collect();
    merkle::root(&leaves)
}
