//! Fuzzes the chain's manifest check (`mycel_ledger::modules::agent::manifest::check`) on
//! arbitrary bytes, as a tool and as an agent card: it must answer (accept or a typed error),
//! never panic or recurse without bound; an accepted manifest is its own canonical form.
#![no_main]

use mycel_ledger::modules::agent::{Kind, manifest};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for kind in [Kind::Tool, Kind::Agent] {
        if manifest::check(kind, data).is_ok() {
            let v: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
            assert_eq!(manifest::canonical(&v), data);
        }
    }
});
