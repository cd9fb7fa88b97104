//! Fuzzes the `Msg` decoder (`mycel_ledger::modules::model::Msg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::model::Msg>(data);
});
