//! Parameters of the `device` module (the `device` section of the genesis `params`).

use mycel_primitives::Amount;

/// Edge-device parameters. Windows are in milliseconds of block time (the proposer's timestamp,
/// which consensus keeps monotonic), because a device's work takes time, not blocks: blocks come
/// every few milliseconds under load and once per heartbeat when idle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Params {
    /// A probe round starts at every multiple of this much block time.
    pub round_ms: u64,
    /// Devices seal their answers within this long after the round starts.
    pub seal_ms: u64,
    /// Then checkers seal their references within this long (the checks are drawn only now,
    /// so a device cannot know whether its answer will be checked).
    pub check_ms: u64,
    /// Then both reveal within this long; the round closes after.
    pub reveal_ms: u64,
    /// Smallest device bond.
    pub min_bond: Amount,
    /// Probes checked by a drawn auditor, basis points (a device's first probe after joining or
    /// a failure is always checked: its capability challenge).
    pub check_bps: u16,
    /// Largest difference allowed between a device's and the checker's int8-quantized value of
    /// one embedding dimension (cross-CPU rounding moves a value by at most one step).
    pub max_dim_diff: u8,
    /// Share of the bond a failed check costs, basis points (half to the checker, half burned).
    pub fail_slash_bps: u16,
    /// Missed rounds in a row after which a device is set offline (it stops getting probes
    /// until it resumes).
    pub max_misses: u32,
    /// Blocks between leaving and the bond's return (the last probes must close first).
    pub release_blocks: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            // Idle chains make a block per heartbeat (a second by default): every window spans
            // a few blocks even then.
            round_ms: 8_000,
            seal_ms: 3_000,
            check_ms: 2_500,
            reveal_ms: 2_500,
            min_bond: Amount::from_myc(1),
            check_bps: 5_000,
            max_dim_diff: 2,
            fail_slash_bps: 2_000,
            max_misses: 3,
            release_blocks: 100,
        }
    }
}

impl Params {
    /// Why these parameters cannot run, if they cannot.
    pub fn invalid(&self) -> Option<&'static str> {
        if self.round_ms == 0 || self.seal_ms == 0 || self.check_ms == 0 || self.reveal_ms == 0 {
            return Some("device windows must be positive");
        }
        if self.check_bps > 10_000 || self.fail_slash_bps > 10_000 {
            return Some("device basis points above 10000");
        }
        None
    }
}
