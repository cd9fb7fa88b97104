//! Parameters of the `bank` module (the `bank` section of the genesis `params`).

use mycel_primitives::Amount;

/// Bank parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Flat minimum fee per transaction.
    pub min_fee: Amount,
    /// Additional minimum fee per encoded byte.
    pub fee_per_byte: Amount,
    /// Share of every fee that is burned, in basis points.
    pub fee_burn_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_fee: Amount(10_000),
            fee_per_byte: Amount(10),
            fee_burn_bps: 5_000,
        }
    }
}

/// The minimum fee for a transaction of `size` encoded bytes.
pub fn min_fee(p: &Params, size: usize) -> Amount {
    Amount(
        p.min_fee
            .0
            .saturating_add(p.fee_per_byte.0.saturating_mul(size as u128)),
    )
}
