//! Fuzzes the `Registration` decoder (`mycel_ledger::modules::data::Registration`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::data::Registration>(data);
});
