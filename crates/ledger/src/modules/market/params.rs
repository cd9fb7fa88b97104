//! Parameters of the `market` module (the `market` section of the genesis `params`).

/// Market parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// Blocks between a result commitment and settlement.
    pub challenge_window: u64,
    /// Share of each job fee that is burned, basis points.
    pub protocol_fee_bps: u16,
    /// Share of the worker stake slashed for a missed deadline, basis points.
    pub missed_deadline_bps: u16,
    /// Reputation lost per missed deadline.
    pub missed_deadline_reputation: u64,
    /// Most times a job is reassigned before the poster is refunded.
    pub max_attempts: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            challenge_window: 10,
            protocol_fee_bps: 500,
            missed_deadline_bps: 100,
            missed_deadline_reputation: 20,
            max_attempts: 3,
        }
    }
}
