//! Fuzzes the `Dataset` decoder (`mycel_ledger::modules::data::Dataset`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::data::Dataset>(data);
});
