//! What a light client checks without a node: that a state root was finalized, across
//! validator-set changes.
//!
//! A [`FinalityProof`] is the headers from the block whose state root is claimed up to a block
//! that a finalization certificate finalizes; each header names its parent's digest, and the
//! certificate's quorum of validator signatures names the last digest.
//!
//! The signatures are checked against a [`TrustedSet`]: the genesis validators (from the genesis
//! file the client trusts) moved forward by [`Handoff`]s. A hand-off is the last block of an
//! epoch, its finalization certificate (signed by the epoch's set), and a state proof of the next
//! epoch's keys (`staking/setkeys/<epoch+1>`) against that block's state root. A node serves one
//! for each epoch whose end changed the set; epochs that kept it need none, since the set the
//! client holds signs their certificates too.
//!
//! Soundness rests where a sequential walk of every epoch would rest: on a quorum of each set
//! the client held signing nothing false. Keys of a set that has since unbonded could sign a
//! fork (the long-range attack every proof-of-stake light client shares); an operator who fears
//! that anchors on a recent block digest instead (`trust_hash`).

use crate::{
    block::{Certificate, Header},
    engine::participants,
};
use commonware_consensus::{Epochable, simplex::scheme::ed25519::Scheme};
use commonware_cryptography::ed25519::PublicKey;
use commonware_parallel::Sequential;
use mycel_ledger::modules::staking;
use mycel_primitives::Hash;

/// Headers from a height up to a finalized block, and that block's certificate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FinalityProof {
    /// Consecutive headers, the first the one whose state root is claimed.
    pub headers: Vec<Header>,
    /// The encoded certificate finalizing the last header's block.
    #[serde(with = "hex_bytes")]
    pub certificate: Vec<u8>,
    /// The validator-set changes since genesis, up to the certificate's epoch, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoffs: Vec<Handoff>,
}

/// One epoch's hand-off to the next epoch's validators.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Handoff {
    /// The epoch's last block.
    pub header: Header,
    /// Its finalization certificate, signed by the epoch's validators, encoded.
    #[serde(with = "hex_bytes")]
    pub certificate: Vec<u8>,
    /// The next epoch's keys as the state holds them (see `staking::decode_set_keys`).
    #[serde(with = "hex_bytes")]
    pub keys: Vec<u8>,
    /// State proof of `staking/setkeys/<epoch+1>` → `keys` against the header's state root.
    #[serde(with = "hex_bytes")]
    pub proof: Vec<u8>,
}

impl Handoff {
    /// The epoch whose end this hand-off is (the certificate's), if the certificate decodes.
    pub fn epoch(&self) -> Option<u64> {
        decode_certificate(&self.certificate)
            .ok()
            .map(|c| c.finalization.epoch().get())
    }
}

/// The validators a light client holds: those of `epoch` and of every later epoch until a
/// hand-off says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSet {
    /// The first epoch these keys sign.
    pub epoch: u64,
    /// Their consensus keys.
    pub keys: Vec<PublicKey>,
}

/// Most hand-offs one proof may carry.
pub const MAX_HANDOFFS: usize = 4_096;

impl TrustedSet {
    /// The genesis validators (epoch 0).
    pub fn genesis(keys: &[PublicKey]) -> TrustedSet {
        TrustedSet {
            epoch: 0,
            keys: keys.to_vec(),
        }
    }

    /// Checks `certificate` (encoded) against these keys: it decodes, is of an epoch these
    /// keys sign (this one or later), and carries a quorum of their signatures.
    fn check(&self, certificate: &[u8]) -> Result<Certificate, String> {
        let cert = decode_certificate(certificate)?;
        let epoch = cert.finalization.epoch().get();
        if epoch < self.epoch {
            return Err(format!(
                "a certificate of epoch {epoch}, before the trusted set's epoch {}",
                self.epoch
            ));
        }
        let verifier = Scheme::verifier(crate::engine::NAMESPACE, participants(&self.keys));
        // Batch verification's randomness must be one a forger cannot predict.
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(rand::random());
        if !cert.finalization.verify(&mut rng, &verifier, &Sequential) {
            return Err(format!(
                "the certificate's signatures do not verify against the validators of epoch {}",
                self.epoch
            ));
        }
        Ok(cert)
    }

    /// The set after `handoff`: its certificate finalizes its header with a quorum of these
    /// keys, and its keys are the state's entry for the next epoch under the header's root.
    pub fn follow(&self, handoff: &Handoff) -> Result<TrustedSet, String> {
        let cert = self.check(&handoff.certificate)?;
        let header = &handoff.header;
        if cert.height != header.height
            || Hash(cert.finalization.proposal.payload.0) != header.digest()
        {
            return Err(format!(
                "hand-off certificate finalizes height {}, not its header's block ({})",
                cert.height, header.height
            ));
        }
        let next = cert.finalization.epoch().get() + 1;
        mycel_store::verify_state_proof(
            &header.state_root,
            &staking::set_keys_key(next),
            &handoff.keys,
            &handoff.proof,
        )
        .map_err(|e| format!("epoch {next}'s keys are not in the hand-off's state: {e}"))?;
        let keys = staking::decode_set_keys(&handoff.keys)
            .map_err(|e| format!("epoch {next}'s keys: {e}"))?;
        Ok(TrustedSet { epoch: next, keys })
    }

    /// The set after each of `handoffs`, in order.
    pub fn follow_all(&self, handoffs: &[Handoff]) -> Result<TrustedSet, String> {
        if handoffs.len() > MAX_HANDOFFS {
            return Err(format!("more than {MAX_HANDOFFS} hand-offs"));
        }
        handoffs
            .iter()
            .try_fold(self.clone(), |set, h| set.follow(h))
    }
}

fn decode_certificate(bytes: &[u8]) -> Result<Certificate, String> {
    mycel_primitives::codec::decode_cfg::<Certificate>(bytes, &())
        .map_err(|e| format!("certificate does not decode: {e}"))
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

/// Checks `proof` against the genesis validators `validators` (following its hand-offs); the
/// height and state root of its first header, now known finalized.
pub fn verify_finality(
    validators: &[PublicKey],
    proof: &FinalityProof,
) -> Result<(u64, Hash), String> {
    verify_finality_from(&TrustedSet::genesis(validators), proof)
}

/// [`verify_finality`] from a set the client already holds.
pub fn verify_finality_from(
    trusted: &TrustedSet,
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
    let set = trusted.follow_all(&proof.handoffs)?;
    let cert = set.check(&proof.certificate)?;
    if cert.height != last.height || Hash(cert.finalization.proposal.payload.0) != last.digest() {
        return Err(format!(
            "the certificate finalizes height {}, not the block of the last header ({})",
            cert.height, last.height
        ));
    }
    Ok((first.height, first.state_root))
}
