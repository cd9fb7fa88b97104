//! Fuzzes `Tx::decode_bytes`, the entry point of transactions from the API, mempool and blocks.
#![no_main]

use mycel_ledger::Tx;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Tx::decode_bytes(data) {
        mycel_fuzz::check_reencoding(data, &tx, |b| Tx::decode_bytes(b).ok());
        // The ID is a function of the bytes: equal transactions have equal hashes.
        assert_eq!(tx.hash(), Tx::decode_bytes(data).unwrap().hash());
        let _ = tx.verify_signature();
    }
});
