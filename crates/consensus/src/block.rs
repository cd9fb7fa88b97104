//! The block: a header committing to the parent, the proposer, the transactions, the post-state
//! root and the finalization certificate of an earlier block (the signers the ledger rewards),
//! and the transactions themselves.

use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, Write};
use commonware_consensus::{
    Epochable, Heightable, Viewable,
    simplex::{
        scheme::ed25519::Scheme,
        types::{
            Attributable, ConflictingFinalize, ConflictingNotarize, Finalization, NullifyFinalize,
        },
    },
    types::Height,
};
use commonware_cryptography::Digestible;
use mycel_ledger::Tx;
use mycel_primitives::{
    Address, Hash,
    codec::{Encode, MAX_TXS_PER_BLOCK},
    hash::{Domain, hash},
    merkle,
};

/// Block digest type used by consensus (BLAKE3, 32 bytes).
pub use commonware_cryptography::blake3::Digest;

/// Converts a consensus digest to a ledger hash.
pub fn to_hash(d: &Digest) -> Hash {
    Hash(d.0)
}

/// Largest participant set a carried certificate may name (bounds its decoding).
pub const MAX_SIGNERS: usize = 1_024;

/// The finalization certificate of an earlier block on the same chain, carried by a block as
/// evidence of which validators were live (like Cosmos' `LastCommitInfo`).
///
/// A block is valid only if `finalization` finalizes its ancestor at `height`, `height` is above
/// every height certified before on its chain, and the signatures verify against the
/// participants; a block may carry none (early blocks, a proposer that has not seen one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// Height of the finalized ancestor.
    pub height: u64,
    /// Its finalization: the proposal (round and block digest) and the signatures.
    pub finalization: Finalization<Scheme, Digest>,
}

impl Write for Certificate {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.height.write(buf);
        self.finalization.write(buf);
    }
}

impl EncodeSize for Certificate {
    fn encode_size(&self) -> usize {
        8 + self.finalization.encode_size()
    }
}

impl Read for Certificate {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let height = u64::read_cfg(buf, &())?;
        let finalization = Finalization::<Scheme, Digest>::read_cfg(buf, &MAX_SIGNERS)?;
        Ok(Certificate {
            height,
            finalization,
        })
    }
}

/// Most equivocation proofs one block carries.
pub const MAX_EVIDENCE: usize = 16;

/// Proof that a validator signed two conflicting votes in one view, as Simplex reports it: two
/// notarizes or two finalizes of different proposals, or a nullify and a finalize. Anyone can
/// check it against the participants' keys; the ledger slashes and tombstones the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Two notarizes of different proposals in one round.
    Notarize(ConflictingNotarize<Scheme, Digest>),
    /// Two finalizes of different proposals in one round.
    Finalize(ConflictingFinalize<Scheme, Digest>),
    /// A nullify and a finalize in one round.
    NullifyFinalize(NullifyFinalize<Scheme, Digest>),
}

impl Evidence {
    /// Index of the offender among the epoch's participants.
    pub fn signer(&self) -> u32 {
        match self {
            Evidence::Notarize(e) => e.signer().get(),
            Evidence::Finalize(e) => e.signer().get(),
            Evidence::NullifyFinalize(e) => e.signer().get(),
        }
    }

    /// The epoch of the votes.
    pub fn epoch(&self) -> u64 {
        match self {
            Evidence::Notarize(e) => e.epoch().get(),
            Evidence::Finalize(e) => e.epoch().get(),
            Evidence::NullifyFinalize(e) => e.epoch().get(),
        }
    }

    /// The view of the votes.
    pub fn view(&self) -> u64 {
        match self {
            Evidence::Notarize(e) => e.view().get(),
            Evidence::Finalize(e) => e.view().get(),
            Evidence::NullifyFinalize(e) => e.view().get(),
        }
    }

    /// True when both votes carry valid signatures of the offender under `verifier`.
    pub fn verify<R: rand::CryptoRng>(&self, rng: &mut R, verifier: &Scheme) -> bool {
        let s = &commonware_parallel::Sequential;
        match self {
            Evidence::Notarize(e) => e.verify(rng, verifier, s),
            Evidence::Finalize(e) => e.verify(rng, verifier, s),
            Evidence::NullifyFinalize(e) => e.verify(rng, verifier, s),
        }
    }
}

impl Write for Evidence {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Evidence::Notarize(e) => {
                0u8.write(buf);
                e.write(buf);
            }
            Evidence::Finalize(e) => {
                1u8.write(buf);
                e.write(buf);
            }
            Evidence::NullifyFinalize(e) => {
                2u8.write(buf);
                e.write(buf);
            }
        }
    }
}

impl EncodeSize for Evidence {
    fn encode_size(&self) -> usize {
        1 + match self {
            Evidence::Notarize(e) => e.encode_size(),
            Evidence::Finalize(e) => e.encode_size(),
            Evidence::NullifyFinalize(e) => e.encode_size(),
        }
    }
}

impl Read for Evidence {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        // Decoding checks the structure: same signer and round, different proposals.
        Ok(match u8::read_cfg(buf, &())? {
            0 => Evidence::Notarize(ConflictingNotarize::read_cfg(buf, &())?),
            1 => Evidence::Finalize(ConflictingFinalize::read_cfg(buf, &())?),
            2 => Evidence::NullifyFinalize(NullifyFinalize::read_cfg(buf, &())?),
            t => return Err(CodecError::InvalidEnum(t)),
        })
    }
}

/// A block header, as a light client holds it: its digest is the block's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// Digest of the parent block.
    pub parent: Hash,
    /// Height.
    pub height: u64,
    /// Proposer's clock.
    pub timestamp_ms: u64,
    /// Proposer.
    pub proposer: Address,
    /// Post-state root.
    pub state_root: Hash,
    /// Transaction root.
    pub tx_root: Hash,
    /// The encoded certificate the block carries, if any.
    #[serde(with = "hex_opt", default)]
    pub certificate: Option<Vec<u8>>,
    /// The encoded equivocation evidence the block carries, if any.
    #[serde(with = "hex_opt", default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<u8>>,
}

impl Header {
    /// The block digest.
    pub fn digest(&self) -> Hash {
        let mut h = Vec::with_capacity(32 + 8 + 8 + 20 + 32 + 32);
        h.extend_from_slice(&self.parent.0);
        h.extend_from_slice(&self.height.to_be_bytes());
        h.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        h.extend_from_slice(&self.proposer.0);
        h.extend_from_slice(&self.state_root.0);
        h.extend_from_slice(&self.tx_root.0);
        if let Some(c) = &self.certificate {
            h.extend_from_slice(c);
        }
        // After the self-delimiting certificate, a marker and the evidence's hash (blocks
        // without evidence keep their digests).
        if let Some(e) = &self.evidence {
            h.extend_from_slice(b"/evidence/");
            h.extend_from_slice(&hash(Domain::Block, e).0);
        }
        hash(Domain::Block, &h)
    }
}

mod hex_opt {
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let v: Option<String> = serde::Deserialize::deserialize(d)?;
        v.map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Digest of the parent block.
    pub parent: Digest,
    /// Height; genesis is 0.
    pub height: u64,
    /// Proposer's clock, milliseconds since the Unix epoch. Informational: the state machine
    /// never reads it.
    pub timestamp_ms: u64,
    /// The proposer's address.
    pub proposer: Address,
    /// State root after executing this block.
    pub state_root: Hash,
    /// RFC 6962 root over the transaction hashes.
    pub tx_root: Hash,
    /// The finalization certificate of an earlier block, if the proposer had one.
    pub certificate: Option<Certificate>,
    /// Transactions, in execution order.
    pub txs: Vec<Tx>,
    /// Proofs of equivocation by validators (at most [`MAX_EVIDENCE`]).
    pub evidence: Vec<Evidence>,
    digest: Digest,
}

impl Block {
    /// Builds a block without a certificate and computes its digest.
    pub fn new(
        parent: Digest,
        height: u64,
        timestamp_ms: u64,
        proposer: Address,
        state_root: Hash,
        txs: Vec<Tx>,
    ) -> Block {
        Block::with_certificate(
            parent,
            height,
            timestamp_ms,
            proposer,
            state_root,
            None,
            txs,
        )
    }

    /// Builds a block and computes its digest.
    pub fn with_certificate(
        parent: Digest,
        height: u64,
        timestamp_ms: u64,
        proposer: Address,
        state_root: Hash,
        certificate: Option<Certificate>,
        txs: Vec<Tx>,
    ) -> Block {
        let tx_root = tx_root(&txs);
        let mut b = Block {
            parent,
            height,
            timestamp_ms,
            proposer,
            state_root,
            tx_root,
            certificate,
            txs,
            evidence: Vec::new(),
            digest: Digest([0; 32]),
        };
        b.digest = Digest(b.header_hash().0);
        b
    }

    /// This block carrying `evidence` (its digest recomputed).
    pub fn with_evidence(mut self, evidence: Vec<Evidence>) -> Block {
        self.evidence = evidence;
        self.digest = Digest(self.header_hash().0);
        self
    }

    /// The header preimage: fixed fields, then the encoded certificate if there is one (so a
    /// block without one keeps the digest it had before blocks could carry certificates).
    fn header_hash(&self) -> Hash {
        self.header().digest()
    }

    /// The header: everything the digest commits to, without the transactions (which it
    /// commits to through `tx_root`).
    pub fn header(&self) -> Header {
        Header {
            parent: Hash(self.parent.0),
            height: self.height,
            timestamp_ms: self.timestamp_ms,
            proposer: self.proposer,
            state_root: self.state_root,
            tx_root: self.tx_root,
            certificate: self.certificate.as_ref().map(|c| {
                let mut v = Vec::new();
                c.write(&mut v);
                v
            }),
            evidence: (!self.evidence.is_empty()).then(|| {
                let mut v = Vec::new();
                self.evidence.write(&mut v);
                v
            }),
        }
    }

    /// The block's digest as a ledger hash.
    pub fn hash(&self) -> Hash {
        Hash(self.digest.0)
    }
}

/// The transaction root of a block.
pub fn tx_root(txs: &[Tx]) -> Hash {
    let leaves: Vec<Hash> = txs.iter().map(|t| merkle::leaf_hash(&t.hash().0)).collect();
    merkle::root(&leaves)
}

impl Write for Block {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.parent.write(buf);
        self.height.write(buf);
        self.timestamp_ms.write(buf);
        self.proposer.write(buf);
        self.state_root.write(buf);
        self.certificate.write(buf);
        self.txs.write(buf);
        // Blocks without evidence encode as they did before blocks could carry it.
        if !self.evidence.is_empty() {
            self.evidence.write(buf);
        }
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        32 + 8
            + 8
            + 20
            + 32
            + self.certificate.encode_size()
            + self.txs.encode_size()
            + match self.evidence.is_empty() {
                true => 0,
                false => self.evidence.encode_size(),
            }
    }
}

impl Read for Block {
    /// Maximum number of transactions.
    type Cfg = usize;
    fn read_cfg(buf: &mut impl Buf, max_txs: &usize) -> Result<Self, CodecError> {
        let parent = Digest::read_cfg(buf, &())?;
        let height = u64::read_cfg(buf, &())?;
        let timestamp_ms = u64::read_cfg(buf, &())?;
        let proposer = Address::read_cfg(buf, &())?;
        let state_root = Hash::read_cfg(buf, &())?;
        let certificate = Option::<Certificate>::read_cfg(buf, &())?;
        let txs = Vec::<Tx>::read_cfg(buf, &(RangeCfg::new(0..=*max_txs), ()))?;
        let evidence = match buf.has_remaining() {
            true => Vec::<Evidence>::read_cfg(buf, &(RangeCfg::new(1..=MAX_EVIDENCE), ()))?,
            false => Vec::new(),
        };
        // The digest is recomputed, never taken from the wire.
        Ok(Block::with_certificate(
            parent,
            height,
            timestamp_ms,
            proposer,
            state_root,
            certificate,
            txs,
        )
        .with_evidence(evidence))
    }
}

impl Digestible for Block {
    type Digest = Digest;
    fn digest(&self) -> Digest {
        self.digest
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        Height::new(self.height)
    }
}

impl commonware_consensus::Block for Block {
    fn parent(&self) -> Digest {
        self.parent
    }
}

/// Codec configuration of blocks.
pub const BLOCK_CFG: usize = MAX_TXS_PER_BLOCK;

/// Encodes a block for the store.
pub fn encode(b: &Block) -> Vec<u8> {
    b.encode().to_vec()
}

/// Decodes a stored block.
pub fn decode(bytes: &[u8]) -> Result<Block, CodecError> {
    mycel_primitives::codec::decode_cfg::<Block>(bytes, &BLOCK_CFG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_recomputes_digest() {
        let b = Block::new(
            Digest([1; 32]),
            7,
            99,
            Address([2; 20]),
            Hash([3; 32]),
            vec![],
        );
        let bytes = encode(&b);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.digest(), b.digest());
        let mut tampered = bytes.clone();
        tampered[40] ^= 1; // height byte
        assert_ne!(decode(&tampered).unwrap().digest(), b.digest());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
