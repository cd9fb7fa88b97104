//! Fuzzes the `Receipt` decoder (`mycel_ledger::modules::market::Receipt`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::market::Receipt>(data);
});
