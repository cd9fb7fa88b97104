//! Fuzzes the `Event` decoder (`mycel_ledger::Event`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::Event>(data);
});
