//! Session request signatures: the client signs session ‖ seq ‖ BLAKE3(body), so a worker can
//! prove each billed response answered a request the client made, and a captured request cannot
//! be replayed (the sequence number is the worker's next receipt number).

pub use mycel_ledger::modules::market::REQUEST_NAMESPACE;
use mycel_primitives::{PrivateKey, PublicKey, Signature, keys};
use mycel_store::blob_hash;

/// What the client signs: session ‖ seq ‖ BLAKE3 of the request body (the ledger checks the
/// same bytes when a worker answers a dispute).
pub fn request_bytes(session: u64, seq: u64, body: &[u8]) -> Vec<u8> {
    mycel_ledger::modules::market::request_bytes(session, seq, &blob_hash(body))
}

/// Signs request `seq` of `session` with body `body`.
pub fn sign_request(key: &PrivateKey, session: u64, seq: u64, body: &[u8]) -> Signature {
    keys::sign(key, REQUEST_NAMESPACE, &request_bytes(session, seq, body))
}

/// True when `sig` by `key` signs request `seq` of `session` with body `body`.
pub fn verify_request(
    key: &PublicKey,
    session: u64,
    seq: u64,
    body: &[u8],
    sig: &Signature,
) -> bool {
    keys::verify(
        key,
        REQUEST_NAMESPACE,
        &request_bytes(session, seq, body),
        sig,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;

    #[test]
    fn a_signature_binds_session_seq_and_body() {
        let key = keys::private_key_from_seed(b"request-test-7");
        let pk = key.public_key();
        let sig = sign_request(&key, 3, 9, b"{\"messages\":[]}");
        assert!(verify_request(&pk, 3, 9, b"{\"messages\":[]}", &sig));
        assert!(!verify_request(&pk, 4, 9, b"{\"messages\":[]}", &sig));
        assert!(!verify_request(&pk, 3, 10, b"{\"messages\":[]}", &sig));
        assert!(!verify_request(&pk, 3, 9, b"{\"messages\":[1]}", &sig));
        let other = keys::private_key_from_seed(b"request-test-8").public_key();
        assert!(!verify_request(&other, 3, 9, b"{\"messages\":[]}", &sig));
    }
}
