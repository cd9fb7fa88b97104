//! Golden vectors of the block encoding and digest.
//!
//! The literals were produced by the codec as it stood before the codec impls were generated
//! from field lists; any change to them is a wire-format change, not a refactor. The one
//! deliberate change since: blocks carry an optional finalization certificate after the state
//! root (a `00` byte when absent; the digest of a block without one is unchanged).

use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_parallel::Sequential;
use commonware_utils::iter::NonEmpty;
use mycel_consensus::{
    Block, Digest,
    block::{Certificate, decode, encode, tx_root},
    engine,
};
use mycel_ledger::{
    Message, Tx, TxBody,
    modules::{bank, market},
};
use mycel_primitives::{
    Address, Amount, Hash,
    codec::EncodeSize,
    keys::{private_key_from_seed, public_key},
};

fn tx(nonce: u64, messages: Vec<Message>) -> Tx {
    let key = private_key_from_seed(b"golden block sender");
    TxBody {
        chain_id: "mycel-golden-1".into(),
        sender: public_key(&key),
        nonce,
        fee: Amount(20_000 + nonce as u128),
        messages,
        memo: format!("tx {nonce}"),
    }
    .sign(&key)
}

fn block(txs: Vec<Tx>) -> Block {
    Block::new(
        Digest(std::array::from_fn(|i| 0xa0u8.wrapping_add(i as u8))),
        1_234,
        1_760_000_000_123,
        Address(std::array::from_fn(|i| 0x30 + i as u8)),
        Hash(std::array::from_fn(|i| 0x50 + i as u8)),
        txs,
    )
}

/// A certificate of height 1_233 signed by validators 0, 2 and 3 of a four-validator dev
/// genesis (Ed25519 signatures are deterministic).
pub fn golden_certificate() -> Certificate {
    let keys: Vec<_> = (0..4)
        .map(|i| mycel_ledger::genesis::dev_key("validator", i))
        .collect();
    let participants = engine::participants(
        &keys
            .iter()
            .map(commonware_cryptography::Signer::public_key)
            .collect::<Vec<_>>(),
    );
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(2_000)),
        View::new(1_999),
        Digest([0xa0; 32]),
    );
    let votes: Vec<Finalize<Scheme, Digest>> = [0, 2, 3]
        .iter()
        .map(|&i| {
            let s = engine::signer_scheme(participants.clone(), keys[i].clone()).unwrap();
            Finalize::sign(&s, proposal.clone()).unwrap()
        })
        .collect();
    let verifier = Scheme::verifier(engine::NAMESPACE, participants);
    Certificate {
        height: 1_233,
        finalization: Finalization::from_finalizes(
            &verifier,
            NonEmpty::try_new(votes.iter()).unwrap(),
            &Sequential,
        )
        .unwrap(),
    }
}

fn check(name: &str, b: &Block, expected: &str, expected_digest: &str, expected_tx_root: &str) {
    let bytes = encode(b);
    let (actual, digest, root) = (
        hex::encode(&bytes),
        b.hash().to_hex(),
        tx_root(&b.txs).to_hex(),
    );
    if (actual.as_str(), digest.as_str(), root.as_str())
        != (expected, expected_digest, expected_tx_root)
    {
        eprintln!("GOLDEN {name} {actual} {digest} {root}");
    }
    assert_eq!(actual, expected, "{name}: encoding changed");
    assert_eq!(digest, expected_digest, "{name}: digest changed");
    assert_eq!(root, expected_tx_root, "{name}: tx root changed");
    assert_eq!(bytes.len(), b.encode_size());
    let back = decode(&hex::decode(expected).unwrap()).unwrap();
    assert_eq!(&back, b);
    assert_eq!(back.hash(), b.hash());
}

#[test]
fn empty_block() {
    check(
        "empty_block",
        &block(vec![]),
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000004d200000199c82cc07b303132333435363738393a3b3c3d3e3f40414243505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f0000",
        "c0a29856bb3b910d0c59710d85d8b238ebe263b0078e5fbbdbf1ba76675b2caf",
        "6127a70539b8c5082da3779be004c46e7f4ab448fa0e142a40210669c25ee54f",
    );
}

#[test]
fn block_with_txs() {
    let txs = vec![
        tx(
            0,
            vec![Message::Bank(bank::Msg::Transfer {
                to: Address([0x77; 20]),
                amount: Amount(1_000_000_007),
            })],
        ),
        tx(
            1,
            vec![
                Message::Market(market::Msg::CloseOffer),
                Message::Bank(bank::Msg::Burn { amount: Amount(5) }),
            ],
        ),
    ];
    check(
        "block_with_txs",
        &block(txs),
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000004d200000199c82cc07b303132333435363738393a3b3c3d3e3f40414243505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f00020e6d7963656c2d676f6c64656e2d31f025d502d27e9e6d306db47a793ae7375cc5911b4475e0bd84cb34abf15af4b1000000000000000000000000000000000000000000004e2001010077777777777777777777777777777777777777770000000000000000000000003b9aca07047478203012dcc294f92afec774a9df0df447ba2258132cdd38e01821efcd5a7d9b4c0a223fdcd65ea074d3cbbde43db2dbe3b8f694e051cc5813c5d9465bfcf7e6d5360f0e6d7963656c2d676f6c64656e2d31f025d502d27e9e6d306db47a793ae7375cc5911b4475e0bd84cb34abf15af4b1000000000000000100000000000000000000000000004e210205010101000000000000000000000000000000050474782031a0a05639c599e8decaa6d00280a5b80bdc89891bce8b32dbe7c653ef5ac29d9596437208d07051016c1d6990f4d4167254e84d20dae22bb15be544bb1b2be90b",
        "7d10286b8b0e3cd28bfa306c21344d4fe6868ac3c7798761e5eba77f17751349",
        "b1a7845f455323189f95bfc457c2bd6fb19157f0365d96a94f3d3faca0259a71",
    );
}

#[test]
fn block_with_certificate() {
    let b = block(vec![]);
    let b = Block::with_certificate(
        b.parent,
        b.height,
        b.timestamp_ms,
        b.proposer,
        b.state_root,
        Some(golden_certificate()),
        vec![],
    );
    check(
        "block_with_certificate",
        &b,
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000004d200000199c82cc07b303132333435363738393a3b3c3d3e3f40414243505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f0100000000000004d100d00fcf0fa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a000000000000000040d03dbb4c37b50a2f255c1cef880e419780bbe779407cecd6f331f45c6222bcdb3ecabea25f2745f5b63f09c41302f9528623390cde7f192747f995b45132658ac029937f5bf0511d0de1f2bb01e616b50f986c3fb97f520d7f583193addc882ab1e686e0c3437844245a2cfea83fce5db4f725a7e96e3956e0f7161ff153bd21805085f17dd1e0ac4211bf5c875920d2fb6e1d7df1a2456b61aa80982d822bc3d782dfec7f29414cecc9cb817d2eb88175f9fd4fe8a01e66588af4babb2ec50390600",
        "af8566f35de98e5c6d708eb405a2b9fa71866bdb7a0106c0a0916a58a3823bfa",
        "6127a70539b8c5082da3779be004c46e7f4ab448fa0e142a40210669c25ee54f",
    );
}
