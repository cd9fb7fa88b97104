//! Fuzzes the `Message` decoder (`mycel_ledger::Message`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_ledger::Message>(data);
});
