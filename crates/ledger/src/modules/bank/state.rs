//! Stored types and state keys of the `bank` module.

use crate::state::key;
use mycel_primitives::Address;

pub(super) const BAL: &[u8] = b"bank/bal/";

pub(super) const SUPPLY: &[u8] = b"bank/supply";

pub(super) const BURNED: &[u8] = b"bank/burned";

/// Account that collects the non-burned part of fees until the epoch's rewards pay it out.
pub fn fee_collector() -> Address {
    Address::module("fee_collector")
}

pub(super) fn bal_key(a: &Address) -> Vec<u8> {
    key(BAL, &[&a.0])
}
