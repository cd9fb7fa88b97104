//! Fuzzes the `Msg` decoder (`mycel_ledger::modules::agent::Msg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::modules::agent::Msg>(data);
});
