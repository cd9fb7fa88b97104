//! Property tests of the block codec: blocks round-trip with their digest, announce their size
//! exactly and reject trailing and missing bytes.

use crate::strategies::{address, hash, tx};
use mycel_consensus::{
    Block, Digest,
    block::{Certificate, decode, encode},
};
use mycel_primitives::codec::EncodeSize;
use proptest::{collection::vec, prelude::*};

/// Any block of up to a few transactions, with or without a certificate (the golden one,
/// relabelled to any height).
pub fn block() -> impl Strategy<Value = Block> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        address(),
        hash(),
        proptest::option::of(any::<u64>()),
        vec(tx(), 0..4),
    )
        .prop_map(
            |(parent, height, ts, proposer, state_root, certified, txs)| {
                let certificate = certified.map(|h| Certificate {
                    height: h,
                    ..crate::golden::golden_certificate()
                });
                Block::with_certificate(
                    Digest(parent),
                    height,
                    ts,
                    proposer,
                    state_root,
                    certificate,
                    txs,
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn block_round_trips(b in block(), cut in 0.0..1.0) {
        let bytes = encode(&b);
        prop_assert_eq!(bytes.len(), b.encode_size());
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(back.hash(), b.hash());
        prop_assert_eq!(&back, &b);
        let mut extra = bytes.clone();
        extra.push(0);
        prop_assert!(decode(&extra).is_err());
        let short = ((bytes.len() as f64) * cut) as usize;
        prop_assert!(decode(&bytes[..short]).is_err());
    }
}
