//! Parameters of the `verify` module (the `verify` section of the genesis `params`).

use mycel_primitives::Amount;

/// Verification parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Params {
    /// Lowest audit probability, basis points.
    pub audit_floor_bps: u16,
    /// Verified results that halve a worker's audit probability (a new worker starts at 100 %).
    pub audit_halving_jobs: u64,
    /// Safety factor on the stake-backed audit rate (`p ≥ safety · exposure / (exposure +
    /// slashable)`): a margin over break-even, and room for an auditor colluding with the worker
    /// that holds less than `1 − 1/safety` of the auditor stake.
    pub audit_safety: u16,
    /// Blocks an auditor has to seal its verdict.
    pub seal_blocks: u64,
    /// Blocks it then has to reveal it.
    pub reveal_blocks: u64,
    /// Auditors drawn for one result before it settles unaudited.
    pub max_auditors: u32,
    /// Blocks per bisection round (and for the final witness).
    pub round_blocks: u64,
    /// Blocks the validator set has to vote on a step the referee cannot recompute.
    pub panel_blocks: u64,
    /// What the poster pays the auditor of a matching audit, basis points of the job's fee, out
    /// of its unused escrow (a replay costs about as much as the work: see BENCHMARKS.md).
    pub audit_fee_bps: u16,
    /// Share of a losing worker's (or auditing challenger's) stake slashed, basis points.
    pub fraud_slash_bps: u16,
    /// Share of a forfeit paid to the winner, basis points; the rest is burned.
    pub winner_bps: u16,
    /// Share of an auditor's stake slashed for a missed deadline, a failed canary or approving
    /// a result later proven wrong, basis points.
    pub lazy_slash_bps: u16,
    /// Canary audits per audit, basis points.
    pub canary_bps: u16,
    /// Smallest bond of a challenge by someone other than the auditor.
    pub min_challenge_bond: Amount,
    /// Reputation a worker loses with a rejected result.
    pub reputation_penalty: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            audit_floor_bps: 100,
            audit_halving_jobs: 4,
            audit_safety: 3,
            seal_blocks: 20,
            reveal_blocks: 10,
            max_auditors: 3,
            round_blocks: 10,
            panel_blocks: 30,
            audit_fee_bps: 6_000,
            fraud_slash_bps: 5_000,
            winner_bps: 5_000,
            lazy_slash_bps: 5_000,
            canary_bps: 1_000,
            min_challenge_bond: Amount::from_myc(1),
            reputation_penalty: 50,
        }
    }
}
