//! Fuzzes the `TxBody` decoder (`mycel_ledger::TxBody`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::TxBody>(data);
});
