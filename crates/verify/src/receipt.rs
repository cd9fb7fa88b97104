//! The worker-signed receipt a client gets for every session response: the ledger's
//! [`Receipt`] (session, seq, input and output hashes, tokens, amount), the worker's key and its
//! signature, all checkable offline.

use commonware_cryptography::Signer as _;
use mycel_ledger::modules::market::{RECEIPT_NAMESPACE, Receipt};
use mycel_primitives::{
    PrivateKey,
    codec::{Encode, decode},
    keys::{self, public_key_from_bytes},
};
use serde::{Deserialize, Serialize};

/// A receipt with the worker's signature, as returned to the client.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// The worker's public key, hex.
    pub worker_key: String,
    /// Signature over the receipt, hex.
    pub signature: String,
}

impl SignedReceipt {
    /// Signs `receipt` with the worker's `key`.
    pub fn sign(receipt: Receipt, key: &PrivateKey) -> SignedReceipt {
        let signature = receipt.sign(key);
        SignedReceipt {
            receipt,
            worker_key: hex::encode(key.public_key().as_ref()),
            signature: hex::encode(signature.encode()),
        }
    }

    /// Checks the signature offline.
    pub fn verify(&self) -> bool {
        let (Ok(pk), Ok(sig)) = (hex::decode(&self.worker_key), hex::decode(&self.signature))
        else {
            return false;
        };
        let (Ok(pk), Ok(sig)) = (
            public_key_from_bytes(&pk),
            decode::<mycel_primitives::Signature>(&sig),
        ) else {
            return false;
        };
        keys::verify(&pk, RECEIPT_NAMESPACE, &self.receipt.bytes(), &sig)
    }

    /// The address of the key that signed it (compare with the session's worker: a valid
    /// signature by anyone else is worth nothing).
    pub fn signer(&self) -> Option<mycel_primitives::Address> {
        let pk = public_key_from_bytes(&hex::decode(&self.worker_key).ok()?).ok()?;
        Some(mycel_primitives::Address::from_public_key(&pk))
    }

    /// True when the receipt is for request `seq` of `session` and its output hash is that of
    /// `reply`, and the signature holds: what a client checks before trusting a reply.
    pub fn matches(&self, session: u64, seq: u64, reply: &[u8]) -> bool {
        self.verify()
            && self.receipt.session == session
            && self.receipt.seq == seq
            && self.receipt.output_hash == mycel_store::blob_hash(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycel_primitives::Amount;
    use mycel_store::blob_hash;

    fn receipt() -> Receipt {
        Receipt {
            session: 4,
            seq: 2,
            model: mycel_primitives::Hash([1; 32]),
            input_hash: blob_hash(b"request"),
            output_hash: blob_hash(b"reply"),
            tokens: 17,
            price: Amount(1_000),
            amount: Amount(17_000),
            cumulative: Amount(40_000),
        }
    }

    #[test]
    fn a_signed_receipt_verifies_and_any_change_breaks_it() {
        let key = keys::private_key_from_seed(b"receipt-test");
        let signed = SignedReceipt::sign(receipt(), &key);
        assert!(signed.verify());
        assert!(signed.matches(4, 2, b"reply"));
        assert!(!signed.matches(4, 3, b"reply"));
        assert!(!signed.matches(4, 2, b"another reply"));

        let mut inflated = signed.clone();
        inflated.receipt.tokens = 1_000;
        assert!(!inflated.verify(), "a client cannot inflate a receipt");
        let mut other_key = signed.clone();
        other_key.worker_key =
            hex::encode(keys::private_key_from_seed(b"other").public_key().as_ref());
        assert!(!other_key.verify());
        let mut garbage = signed;
        garbage.signature = "zz".into();
        assert!(!garbage.verify());
    }
}
