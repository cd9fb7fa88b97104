//! Parameters of the `rewards` module (the `rewards` section of the genesis `params`).

use mycel_primitives::Amount;

/// Rewards parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Emission of epoch 0.
    pub initial_emission: Amount,
    /// Epochs between halvings.
    pub halving_interval: u64,
    /// Validators' share of emissions, basis points.
    pub validator_bps: u16,
    /// Workers' share, basis points.
    pub worker_bps: u16,
    /// Data contributors' share, basis points.
    pub data_bps: u16,
    /// Auditors' share, basis points.
    pub auditor_bps: u16,
    /// Edge devices' share, basis points (split by the records devices had credited).
    #[serde(default)]
    pub edge_bps: u16,
    /// Most worker emission per unit of fees paid by others, basis points. Kept below the
    /// market's `protocol_fee_bps` (the burned share of every fee) so that self-dealt jobs lose.
    pub worker_emission_per_fee_bps: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            epoch_length: 100,
            initial_emission: Amount::from_myc(1_000),
            halving_interval: 10_000,
            validator_bps: 2_000,
            worker_bps: 4_500,
            data_bps: 2_000,
            auditor_bps: 1_000,
            edge_bps: 500,
            worker_emission_per_fee_bps: 400,
        }
    }
}

/// The epoch containing `height` (kept for callers outside the ledger; modules use `Ctx::epoch`).
pub fn epoch_of(p: &crate::params::Params, height: u64) -> u64 {
    p.epoch(height)
}

/// Emission of `epoch`.
pub fn emission(p: &Params, epoch: u64) -> Amount {
    let halvings = epoch / p.halving_interval.max(1);
    if halvings >= 128 {
        Amount::ZERO
    } else {
        Amount(p.initial_emission.0 >> halvings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_schedule() {
        let p = Params {
            initial_emission: Amount(1_000),
            halving_interval: 2,
            ..Default::default()
        };
        assert_eq!(emission(&p, 0), Amount(1_000));
        assert_eq!(emission(&p, 1), Amount(1_000));
        assert_eq!(emission(&p, 2), Amount(500));
        assert_eq!(emission(&p, 5), Amount(250));
        assert_eq!(emission(&p, 2 * 200), Amount(0));
    }
}
