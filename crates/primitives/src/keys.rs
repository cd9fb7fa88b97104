//! ed25519 keys and signatures (commonware-cryptography's ZIP-215 implementation, the same one
//! the consensus engine uses) with deterministic batch verification.

use crate::codec::decode;
use crate::{
    Error, Result,
    hash::{Domain, hash, hash_parts},
};
use commonware_codec::Encode;
pub use commonware_cryptography::ed25519::{PrivateKey, PublicKey, Signature};
use commonware_cryptography::{BatchEntry, BatchVerifier, Signer, Verifier};
use rand::{SeedableRng, rngs::StdRng};

/// Derives a signing key from seed material (e.g. a BIP39 seed) with a domain-separated BLAKE3
/// key derivation. The same seed always gives the same key.
pub fn private_key_from_seed(seed: &[u8]) -> PrivateKey {
    let secret = hash(Domain::KeyDerivation, seed);
    decode::<PrivateKey>(&secret.0[..]).expect("every 32-byte string is an ed25519 secret key")
}

/// Decodes a 32-byte secret key.
pub fn private_key_from_bytes(bytes: &[u8]) -> Result<PrivateKey> {
    decode::<PrivateKey>(bytes).map_err(|e| Error::InvalidKey(e.to_string()))
}

/// The 32 secret bytes of a key (for the local keystore only).
pub fn private_key_bytes(key: &PrivateKey) -> [u8; 32] {
    let enc = key.encode();
    let mut out = [0u8; 32];
    out.copy_from_slice(&enc);
    out
}

/// Decodes a 32-byte public key, rejecting points that are not valid keys.
pub fn public_key_from_bytes(bytes: &[u8]) -> Result<PublicKey> {
    decode::<PublicKey>(bytes).map_err(|e| Error::InvalidKey(e.to_string()))
}

/// Decodes a 64-byte signature.
pub fn signature_from_bytes(bytes: &[u8]) -> Result<Signature> {
    decode::<Signature>(bytes).map_err(|e| Error::InvalidKey(e.to_string()))
}

/// The public key of a signing key.
pub fn public_key(key: &PrivateKey) -> PublicKey {
    key.public_key()
}

/// Signs `msg` under `namespace`.
pub fn sign(key: &PrivateKey, namespace: &[u8], msg: &[u8]) -> Signature {
    key.sign(namespace, msg)
}

/// Verifies one signature of `msg` under `namespace`.
pub fn verify(key: &PublicKey, namespace: &[u8], msg: &[u8], sig: &Signature) -> bool {
    key.verify(namespace, msg, sig)
}

/// One item of a batch verification.
pub struct SignedMessage<'a> {
    /// The signer.
    pub public_key: &'a PublicKey,
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Verifies many signatures at once (all under `namespace`). Returns `true` only if every
/// signature is valid; an empty batch is valid.
///
/// The batch's random coefficients come from a hash of the whole batch rather than the OS, so
/// every validator gets the same answer for the same block while an attacker, who must fix the
/// signatures before the coefficients are known, cannot cancel out a bad signature.
pub fn verify_batch(namespace: &[u8], items: &[SignedMessage<'_>]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut h = Domain::Randomness.hasher();
    h.update(b"ed25519 batch");
    for it in items {
        h.update(it.public_key.as_ref());
        h.update(it.signature.as_ref());
        h.update(hash_parts(Domain::Randomness, &[it.message]).as_bytes());
    }
    let mut rng = StdRng::from_seed(*h.finalize().as_bytes());
    PublicKey::verify_batch(
        &mut rng,
        items,
        |_, it| BatchEntry {
            namespace,
            message: it.message,
            public_key: it.public_key,
            signature: it.signature,
        },
        &commonware_parallel::Sequential,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_batch() {
        let keys: Vec<PrivateKey> = (0..8u8).map(|i| private_key_from_seed(&[i; 16])).collect();
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 40]).collect();
        let sigs: Vec<Signature> = keys
            .iter()
            .zip(&msgs)
            .map(|(k, m)| sign(k, b"ns", m))
            .collect();
        let pks: Vec<PublicKey> = keys.iter().map(|k| k.public_key()).collect();
        assert!(verify(&pks[0], b"ns", &msgs[0], &sigs[0]));
        assert!(!verify(&pks[0], b"other", &msgs[0], &sigs[0]));
        let items: Vec<SignedMessage> = (0..8)
            .map(|i| SignedMessage {
                public_key: &pks[i],
                message: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        assert!(verify_batch(b"ns", &items));
        // One swapped signature fails the whole batch.
        let mut bad: Vec<SignedMessage> = (0..8)
            .map(|i| SignedMessage {
                public_key: &pks[i],
                message: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        bad[3].signature = &sigs[4];
        assert!(!verify_batch(b"ns", &bad));
    }

    #[test]
    fn seed_derivation_is_stable() {
        let a = private_key_from_seed(b"seed");
        let b = private_key_from_seed(b"seed");
        assert_eq!(a.public_key(), b.public_key());
        let round = private_key_from_bytes(&private_key_bytes(&a)).unwrap();
        assert_eq!(round.public_key(), a.public_key());
        assert!(public_key_from_bytes(&[1u8; 5]).is_err());
    }
}
