//! Fuzzes the ed25519 public-key decoder (`mycel_primitives::PublicKey`): transaction senders and
//! worker keys in session disputes come from untrusted bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mycel_fuzz::canonical::<mycel_primitives::PublicKey>(data);
});
