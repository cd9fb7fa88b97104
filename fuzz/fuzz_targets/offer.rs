//! Fuzzes the `Offer` decoder (`mycel_ledger::modules::market::Offer`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::market::Offer>(data);
});
