//! Dataset manifests and the fields a `RegisterDataset` ledger message needs.

use crate::{
    Error, Result,
    error::io,
    id::{ChunkRef, RecordId, raw_id_from_chunks},
    tree::DatasetTree,
};
use mycel_primitives::{
    Hash,
    hash::{Domain, hash},
    merkle,
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
    /// Records claimed novel (not in the node's exact index nor exact/near-dup of an earlier record
    /// of this dataset).
    pub novel_records: u64,
    /// Bytes claimed novel.
    pub novel_bytes: u64,
    /// SPDX licence expression.
    pub license: Option<String>,
    /// Consent / TDM flags as declared by the contributor.
    pub consent: Option<String>,
}

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
    /// Records claimed novel.
    pub novel_records: u64,
    /// Bytes claimed novel.
    pub novel_bytes: u64,
    /// SPDX licence.
    pub license: Option<String>,
    /// Consent flags.
    pub consent: Option<String>,
    /// Records, sorted by raw ID, distinct.
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Hash of the canonical JSON encoding.
    pub fn hash(&self) -> Hash {
        hash(
            Domain::DataManifest,
            &serde_json::to_vec(self).expect("serializable"),
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
            novel_records: self.novel_records,
            novel_bytes: self.novel_bytes,
            license: self.license.clone(),
            consent: self.consent.clone(),
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
        Ok(())
    }

    /// Writes the manifest atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = crate::jsonl::temp_path(path);
        let bytes = serde_json::to_vec_pretty(self).expect("serializable");
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// Reads a manifest.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
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
