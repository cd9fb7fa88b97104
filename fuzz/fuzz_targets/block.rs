//! Fuzzes `block::decode`, the decoder of blocks from peers and the store.
#![no_main]

use mycel_consensus::block::{decode, encode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(block) = decode(data) {
        let bytes = encode(&block);
        assert_eq!(bytes, data, "non-canonical block accepted");
        let again = decode(&bytes).expect("a re-encoding decodes");
        assert_eq!(again, block);
        assert_eq!(again.hash(), block.hash());
    }
});
