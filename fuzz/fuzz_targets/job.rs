//! Fuzzes the `Job` decoder (`mycel_ledger::modules::market::Job`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::market::Job>(data);
});
