//! Fuzzes the `Hash` decoder (`mycel_primitives::Hash`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_primitives::Hash>(data);
});
