//! What a light client checks without a node: that a state root was finalized. A
//! [`FinalityProof`] is the headers from the block whose state root is claimed up to a block
//! that a finalization certificate finalizes; each header names its parent's digest, and the
//! certificate's quorum of validator signatures names the last digest. Given the validator keys
//! (from the genesis the client trusts), [`verify_finality`] returns the finalized height and
//! state root.

use crate::{
    block::{Certificate, Header},
    engine::participants,
};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_cryptography::ed25519::PublicKey;
use commonware_parallel::Sequential;
use mycel_primitives::Hash;

/// Headers from a height up to a finalized block, and that block's certificate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FinalityProof {
    /// Consecutive headers, the first the one whose state root is claimed.
    pub headers: Vec<Header>,
    /// The encoded certificate finalizing the last header's block.
    #[serde(with = "hex_bytes")]
    pub certificate: Vec<u8>,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// Most headers a proof may carry (a certificate comes within a few blocks).
pub const MAX_HEADERS: usize = 1_024;

/// Checks `proof` against the validators `validators`; the height and state root of its first
/// header, now known finalized.
pub fn verify_finality(
    validators: &[PublicKey],
    proof: &FinalityProof,
) -> Result<(u64, Hash), String> {
    let first = proof.headers.first().ok_or("no headers")?;
    if proof.headers.len() > MAX_HEADERS {
        return Err(format!("more than {MAX_HEADERS} headers"));
    }
    for pair in proof.headers.windows(2) {
        if pair[1].parent != pair[0].digest() || pair[1].height != pair[0].height + 1 {
            return Err(format!(
                "header {} does not follow header {}",
                pair[1].height, pair[0].height
            ));
        }
    }
    let last = proof.headers.last().expect("not empty");
    let cert = mycel_primitives::codec::decode_cfg::<Certificate>(&proof.certificate, &())
        .map_err(|e| format!("certificate does not decode: {e}"))?;
    if cert.height != last.height || Hash(cert.finalization.proposal.payload.0) != last.digest() {
        return Err(format!(
            "the certificate finalizes height {}, not the block of the last header ({})",
            cert.height, last.height
        ));
    }
    let verifier = Scheme::verifier(crate::engine::NAMESPACE, participants(validators));
    // Batch verification's randomness must be one a forger cannot predict.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(rand::random());
    if !cert.finalization.verify(&mut rng, &verifier, &Sequential) {
        return Err("the certificate's signatures do not verify against the validators".into());
    }
    Ok((first.height, first.state_root))
}
