//! Fuzzes `events::decode_events`, the decoder of a block's stored events.
#![no_main]

use mycel_ledger::events::{decode_events, encode_events};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(events) = decode_events(data) {
        let bytes = encode_events(&events);
        assert_eq!(bytes, data, "non-canonical events accepted");
        assert_eq!(decode_events(&bytes).unwrap(), events);
    }
});
