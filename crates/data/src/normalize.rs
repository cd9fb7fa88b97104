//! Canonical text normalisation of the dedup profiles, defined in `mycel-text` (the ledger
//! recomputes it to decide near-duplicate challenges).

pub use mycel_text::normalize::{normalize, normalize_into};
