//! Fuzzes the `EpochSummary` decoder (`mycel_ledger::modules::rewards::EpochSummary`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::rewards::EpochSummary>(data);
});
