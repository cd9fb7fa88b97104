//! The signed transaction envelope.

use crate::{TxError, modules::Message};
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey, PublicKey, Signature,
    codec::{Encode, MAX_MESSAGES_PER_TX, MAX_STRING_BYTES, MAX_TX_BYTES},
    hash::{Domain, hash},
    keys::{self, SignedMessage},
};

/// Signature namespace of transactions: a tx signature can never be replayed as a consensus
/// vote or any other signed object.
pub const TX_NAMESPACE: &[u8] = b"_MYCEL_TX";

/// What the sender signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBody {
    /// The chain this transaction is valid on.
    pub chain_id: String,
    /// The sender's public key; the sender address is derived from it.
    pub sender: PublicKey,
    /// The sender account's next nonce.
    pub nonce: u64,
    /// Fee paid whether or not the messages succeed.
    pub fee: Amount,
    /// Actions, applied in order, all or nothing.
    pub messages: Vec<Message>,
    /// Free text.
    pub memo: String,
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tx {
    /// The signed content.
    pub body: TxBody,
    /// ed25519 signature over the encoded body under [`TX_NAMESPACE`].
    pub signature: Signature,
}

impl TxBody {
    /// Signs the body.
    pub fn sign(self, key: &PrivateKey) -> Tx {
        let signature = keys::sign(key, TX_NAMESPACE, &self.encode());
        Tx {
            body: self,
            signature,
        }
    }

    /// The sender's address.
    pub fn sender_address(&self) -> Address {
        Address::from_public_key(&self.sender)
    }
}

impl Tx {
    /// Decodes a transaction from untrusted bytes, enforcing the size limit first.
    pub fn decode_bytes(bytes: &[u8]) -> Result<Tx, TxError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxError::TooLarge {
                size: bytes.len(),
                max: MAX_TX_BYTES,
            });
        }
        mycel_primitives::codec::decode::<Tx>(bytes).map_err(|e| match e {
            mycel_primitives::codec::CodecError::Wrapped("message", inner) => {
                match inner.downcast::<crate::modules::UnknownMessage>() {
                    Ok(u) => TxError::UnknownMessage {
                        module: u.module,
                        kind: u.kind,
                    },
                    Err(other) => TxError::Malformed(other.to_string()),
                }
            }
            e => TxError::Malformed(e.to_string()),
        })
    }

    /// The transaction's ID: the domain hash of its full encoding.
    pub fn hash(&self) -> Hash {
        hash(Domain::Tx, &self.encode())
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        self.body.sender_address()
    }

    /// Verifies the signature alone.
    pub fn verify_signature(&self) -> Result<(), TxError> {
        if keys::verify(
            &self.body.sender,
            TX_NAMESPACE,
            &self.body.encode(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(TxError::BadSignature)
        }
    }
}

/// Verifies the signatures of many transactions in one batch; on failure, finds the first bad one.
pub fn verify_signatures(txs: &[Tx]) -> Result<(), (usize, TxError)> {
    verify_signatures_of(&txs.iter().collect::<Vec<_>>())
}

/// [`verify_signatures`] over borrowed transactions.
pub fn verify_signatures_of(txs: &[&Tx]) -> Result<(), (usize, TxError)> {
    let bodies: Vec<_> = txs.iter().map(|t| t.body.encode()).collect();
    let items: Vec<SignedMessage> = txs
        .iter()
        .zip(&bodies)
        .map(|(t, b)| SignedMessage {
            public_key: &t.body.sender,
            message: b,
            signature: &t.signature,
        })
        .collect();
    if keys::verify_batch(TX_NAMESPACE, &items) {
        return Ok(());
    }
    for (i, t) in txs.iter().enumerate() {
        t.verify_signature().map_err(|e| (i, e))?;
    }
    Ok(())
}

mycel_primitives::impl_codec!(TxBody {
    chain_id: string(64),
    sender,
    nonce,
    fee,
    messages: vec(1..=MAX_MESSAGES_PER_TX),
    memo: string(MAX_STRING_BYTES),
});

mycel_primitives::impl_codec!(Tx { body, signature });

/// A JSON view of a transaction for the API and CLI.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TxView {
    /// Hash.
    pub hash: Hash,
    /// Chain.
    pub chain_id: String,
    /// Sender address.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Fee.
    pub fee: Amount,
    /// Messages.
    pub messages: Vec<Message>,
    /// Memo.
    pub memo: String,
}

impl From<&Tx> for TxView {
    fn from(t: &Tx) -> Self {
        TxView {
            hash: t.hash(),
            chain_id: t.body.chain_id.clone(),
            sender: t.sender(),
            nonce: t.body.nonce,
            fee: t.body.fee,
            messages: t.body.messages.clone(),
            memo: t.body.memo.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::bank;
    use commonware_cryptography::Signer;
    use mycel_primitives::keys::private_key_from_seed;

    fn sample(nonce: u64) -> (PrivateKey, Tx) {
        let k = private_key_from_seed(b"alice");
        let body = TxBody {
            chain_id: "test".into(),
            sender: k.public_key(),
            nonce,
            fee: Amount(1000),
            messages: vec![Message::Bank(bank::Msg::Transfer {
                to: Address([9; 20]),
                amount: Amount(5),
            })],
            memo: "hi".into(),
        };
        (k.clone(), body.sign(&k))
    }

    #[test]
    fn round_trip_and_signature() {
        let (_, tx) = sample(3);
        let bytes = tx.encode();
        let back = Tx::decode_bytes(&bytes).unwrap();
        assert_eq!(back, tx);
        back.verify_signature().unwrap();
        assert_eq!(back.hash(), tx.hash());
    }

    #[test]
    fn tampering_breaks_signature() {
        let (_, mut tx) = sample(3);
        tx.body.nonce = 4;
        assert_eq!(tx.verify_signature(), Err(TxError::BadSignature));
        let (_, a) = sample(1);
        let (_, b) = sample(2);
        let mut bad = b.clone();
        bad.signature = a.signature.clone();
        assert_eq!(verify_signatures(&[a.clone(), b.clone()]), Ok(()));
        assert_eq!(verify_signatures(&[a, bad]).unwrap_err().0, 1);
    }

    #[test]
    fn malformed_bytes_are_typed_errors() {
        let (_, tx) = sample(0);
        let bytes = tx.encode().to_vec();
        assert!(matches!(
            Tx::decode_bytes(&bytes[..bytes.len() - 1]),
            Err(TxError::Malformed(_))
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(
            Tx::decode_bytes(&extra),
            Err(TxError::Malformed(_))
        ));
        assert!(matches!(
            Tx::decode_bytes(&vec![0u8; MAX_TX_BYTES + 1]),
            Err(TxError::TooLarge { .. })
        ));
        assert!(matches!(
            Tx::decode_bytes(b"garbage"),
            Err(TxError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_message_type_is_reported() {
        let (_, tx) = sample(0);
        let mut bytes = tx.encode().to_vec();
        // The module tag follows chain id (1+4), key (32), nonce (8), fee (16), count (1).
        let at = 1 + 4 + 32 + 8 + 16 + 1;
        bytes[at] = 200;
        assert_eq!(
            Tx::decode_bytes(&bytes),
            Err(TxError::UnknownMessage {
                module: 200,
                kind: bytes[at + 1]
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Tx::decode_bytes(&data);
        }

        #[test]
        fn encode_round_trip(nonce in 0u64.., fee in 0u128..u64::MAX as u128, amount in 0u128.., memo in "[a-z]{0,40}") {
            let k = private_key_from_seed(b"p");
            let tx = TxBody {
                chain_id: "c".into(), sender: k.public_key(), nonce, fee: Amount(fee),
                messages: vec![Message::Bank(bank::Msg::Transfer { to: Address([1; 20]), amount: Amount(amount) })],
                memo,
            }.sign(&k);
            proptest::prop_assert_eq!(Tx::decode_bytes(&tx.encode()).unwrap(), tx);
        }
    }
}
