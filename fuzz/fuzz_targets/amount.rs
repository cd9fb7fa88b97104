//! Fuzzes the `Amount` decoder (`mycel_primitives::Amount`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_primitives::Amount>(data);
});
