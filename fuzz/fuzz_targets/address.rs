//! Fuzzes the `Address` decoder (`mycel_primitives::Address`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_primitives::Address>(data);
});
