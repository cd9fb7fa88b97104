//! Fuzzes the `SessionMsg` decoder (`mycel_ledger::modules::market::SessionMsg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::market::SessionMsg>(data);
});
