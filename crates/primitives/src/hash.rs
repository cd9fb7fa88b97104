//! Domain-separated BLAKE3 hashing.
//!
//! Each hashed type has its own [`Domain`]; the domain string is used as the BLAKE3 `derive_key`
//! context, so equal bytes hashed under two domains give unrelated digests. Domain strings are part
//! of the protocol: changing one changes every ID of that type.

use crate::{Error, Result};
use commonware_codec::{FixedSize, Read, Write};
use std::fmt;

/// The protocol's hash domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// A signed transaction (its ID).
    Tx,
    /// The bytes a transaction signer signs.
    TxSignBytes,
    /// A block (its digest).
    Block,
    /// An account address derived from a public key.
    Address,
    /// A Merkle leaf (RFC 6962 leaf hashing uses BLAKE3 in this domain).
    MerkleLeaf,
    /// A Merkle interior node.
    MerkleNode,
    /// A key of the state tree.
    StateKey,
    /// A value of the state tree.
    StateValue,
    /// A mnemonic seed turned into a signing key.
    KeyDerivation,
    /// Ledger randomness derived from a block and an item ID.
    Randomness,
    /// A root over a block's transactions.
    TxRoot,
    /// A data record's raw ID (over its length and chunk-tree root; `mycel-data`).
    DataRecord,
    /// A data record's normalised-text ID (over a dedup profile ID and the normalised text).
    DataNormRecord,
    /// A dedup profile (normalisation, shingling, seeds, banding) as a versioned ID.
    DataProfile,
    /// A dataset manifest.
    DataManifest,
    /// One leaf of a job's execution trace (a state a verifier can recompute and compare).
    TraceLeaf,
    /// A sealed (committed, not yet revealed) audit or referee verdict.
    Verdict,
    /// A tool or agent manifest (an MCP tool definition or an A2A Agent Card, canonical JSON).
    AgentManifest,
    /// The ID of a registered tool or agent (over its kind and name).
    AgentEntry,
    /// The seed of an edge device's probe round (over a block digest and the round number).
    DeviceRound,
    /// A sealed probe answer of an edge device or of its checker.
    DeviceAnswer,
}

impl Domain {
    /// The BLAKE3 `derive_key` context string of this domain.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Tx => "mycel 2026 tx v1",
            Domain::TxSignBytes => "mycel 2026 tx sign bytes v1",
            Domain::Block => "mycel 2026 block v1",
            Domain::Address => "mycel 2026 address v1",
            Domain::MerkleLeaf => "mycel 2026 merkle leaf v1",
            Domain::MerkleNode => "mycel 2026 merkle node v1",
            Domain::StateKey => "mycel 2026 state key v1",
            Domain::StateValue => "mycel 2026 state value v1",
            Domain::KeyDerivation => "mycel 2026 ed25519 from seed v1",
            Domain::Randomness => "mycel 2026 ledger randomness v1",
            Domain::TxRoot => "mycel 2026 tx root v1",
            Domain::DataRecord => "mycel 2026 data record v1",
            Domain::DataNormRecord => "mycel 2026 data normalised record v1",
            Domain::DataProfile => "mycel 2026 data dedup profile v1",
            Domain::DataManifest => "mycel 2026 data manifest v1",
            Domain::TraceLeaf => "mycel 2026 trace leaf v1",
            Domain::Verdict => "mycel 2026 sealed verdict v1",
            Domain::AgentManifest => "mycel 2026 agent manifest v1",
            Domain::AgentEntry => "mycel 2026 agent entry v1",
            Domain::DeviceRound => "mycel 2026 device round v1",
            Domain::DeviceAnswer => "mycel 2026 device answer v1",
        }
    }

    /// A fresh incremental hasher for this domain.
    pub fn hasher(self) -> blake3::Hasher {
        blake3::Hasher::new_derive_key(self.context())
    }
}

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as "none" (e.g. the parent of genesis).
    pub const ZERO: Hash = Hash([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters (an optional `0x` prefix is accepted).
    pub fn from_hex(s: &str) -> Result<Self> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| Error::InvalidHex(e.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::InvalidHex("expected 32 bytes".into()))?;
        Ok(Hash(arr))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Write for Hash {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
}

impl FixedSize for Hash {
    const SIZE: usize = 32;
}

impl Read for Hash {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, commonware_codec::Error> {
        <[u8; 32]>::read_cfg(buf, &()).map(Hash)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Hashes `bytes` in `domain`.
pub fn hash(domain: Domain, bytes: &[u8]) -> Hash {
    let mut h = domain.hasher();
    h.update(bytes);
    Hash(*h.finalize().as_bytes())
}

/// Hashes the concatenation of `parts` in `domain`, each part prefixed by its length so that
/// `["ab", "c"]` and `["a", "bc"]` differ.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Hash {
    let mut h = domain.hasher();
    for p in parts {
        h.update(&(p.len() as u64).to_be_bytes());
        h.update(p);
    }
    Hash(*h.finalize().as_bytes())
}

/// The BLAKE3 key-derivation context of model IDs.
pub const MODEL_ID_CONTEXT: &str = "mycel 2026 model id v1";

/// A model ID: BLAKE3 (derive-key mode, [`MODEL_ID_CONTEXT`]) over labelled parts (e.g. `weights`,
/// `config`, `tokenizer`, `runtime`; `base` and `adapter` for an adapter on its base), each
/// label and part length-prefixed (little-endian u64). The one definition the worker (which
/// hashes the files it loads) and the ledger (which names the adapter a fine-tune produced)
/// share.
pub fn model_id(parts: &[(&str, &[u8])]) -> Hash {
    let mut h = blake3::Hasher::new_derive_key(MODEL_ID_CONTEXT);
    for (label, bytes) in parts {
        h.update(&(label.len() as u64).to_le_bytes());
        h.update(label.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    Hash(*h.finalize().as_bytes())
}

/// The ID of LoRA adapter file `adapter` (its blob address) applied on model `base`.
pub fn adapter_model_id(base: &Hash, adapter: &Hash) -> Hash {
    model_id(&[("base", &base.0), ("adapter", adapter.to_hex().as_bytes())])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden vectors: these digests are part of the protocol. If one changes, every ID of that
    /// type changes; bump the domain version instead of editing the vector.
    #[test]
    fn golden_vectors() {
        // Computed independently with the Python `blake3` package (derive_key mode).
        let cases = [
            (
                Domain::Tx,
                "4c8b991f266d01ffff178e9ee65be30df665195a8ad0b0b93c9a818b7e2e0410",
            ),
            (
                Domain::Block,
                "f61c48057e5183aef5d8043fb06bf0f0e2396c727f49712cff990d87bfca30da",
            ),
            (
                Domain::Address,
                "d4ccf13405002775af5ba63c36460f1cf3f4582b44a54eba6dbeebdfe82fd4bb",
            ),
            (
                Domain::MerkleLeaf,
                "69df0319ffa7985ebcf7f2f9b25c9ed452c743b5e62e8d40f83c05b36cc69c20",
            ),
        ];
        for (domain, expected) in cases {
            assert_eq!(hash(domain, b"mycel").to_hex(), expected, "{domain:?}");
        }
    }

    #[test]
    fn all_domains_distinct() {
        let all = [
            Domain::Tx,
            Domain::TxSignBytes,
            Domain::Block,
            Domain::Address,
            Domain::MerkleLeaf,
            Domain::MerkleNode,
            Domain::StateKey,
            Domain::StateValue,
            Domain::KeyDerivation,
            Domain::Randomness,
            Domain::TxRoot,
            Domain::DataRecord,
            Domain::DataNormRecord,
            Domain::DataProfile,
            Domain::DataManifest,
            Domain::TraceLeaf,
            Domain::Verdict,
            Domain::AgentManifest,
            Domain::AgentEntry,
            Domain::DeviceRound,
            Domain::DeviceAnswer,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for d in all {
            assert!(seen.insert(hash(d, b"x")), "{d:?} collides");
        }
    }

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(
            hash_parts(Domain::Tx, &[b"ab", b"c"]),
            hash_parts(Domain::Tx, &[b"a", b"bc"])
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = hash(Domain::Tx, b"a");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("zz").is_err());
        assert!(Hash::from_hex("00").is_err());
    }
}
