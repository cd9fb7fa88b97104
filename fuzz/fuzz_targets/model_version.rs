//! Fuzzes the `Version` decoder (`mycel_ledger::modules::model::Version`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::model::Version>(data);
});
