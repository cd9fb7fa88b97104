//! Golden vectors of the block encoding and digest.
//!
//! The literals were produced by the codec as it stood before the codec impls were generated
//! from field lists; any change to them is a wire-format change, not a refactor.

use mycel_consensus::{
    Block, Digest,
    block::{decode, encode, tx_root},
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
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000004d200000199c82cc07b303132333435363738393a3b3c3d3e3f40414243505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f00",
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
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000004d200000199c82cc07b303132333435363738393a3b3c3d3e3f40414243505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f020e6d7963656c2d676f6c64656e2d31f025d502d27e9e6d306db47a793ae7375cc5911b4475e0bd84cb34abf15af4b1000000000000000000000000000000000000000000004e2001010077777777777777777777777777777777777777770000000000000000000000003b9aca07047478203012dcc294f92afec774a9df0df447ba2258132cdd38e01821efcd5a7d9b4c0a223fdcd65ea074d3cbbde43db2dbe3b8f694e051cc5813c5d9465bfcf7e6d5360f0e6d7963656c2d676f6c64656e2d31f025d502d27e9e6d306db47a793ae7375cc5911b4475e0bd84cb34abf15af4b1000000000000000100000000000000000000000000004e210205010101000000000000000000000000000000050474782031a0a05639c599e8decaa6d00280a5b80bdc89891bce8b32dbe7c653ef5ac29d9596437208d07051016c1d6990f4d4167254e84d20dae22bb15be544bb1b2be90b",
        "7d10286b8b0e3cd28bfa306c21344d4fe6868ac3c7798761e5eba77f17751349",
        "b1a7845f455323189f95bfc457c2bd6fb19157f0365d96a94f3d3faca0259a71",
    );
}
