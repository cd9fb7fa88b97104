//! Stored types and state keys of the `device` module.

use super::msg::Class;
use crate::state::key;
use mycel_primitives::{Address, Amount, Hash};

pub(super) const DEVICE: &[u8] = b"device/dev/";
pub(super) const OWNER: &[u8] = b"device/owner/";
pub(super) const LIVE: &[u8] = b"device/live/";
pub(super) const ROUND: &[u8] = b"device/round/";
pub(super) const OPEN_ROUND: &[u8] = b"device/open/";
pub(super) const PROBE: &[u8] = b"device/probe/";
pub(super) const CREDIT: &[u8] = b"device/credit/";
pub(super) const CHECKS: &[u8] = b"device/checks/";
pub(super) const JOB: &[u8] = b"device/job/";
pub(super) const OPEN_JOB: &[u8] = b"device/openjob/";
pub(super) const UNIT: &[u8] = b"device/unit/";
pub(super) const RELEASE: &[u8] = b"device/release/";
pub(super) const REOPEN: &[u8] = b"device/reopen/";
pub(super) const LAST_ROUND: &[u8] = b"device/last_round";
pub(super) const NEXT_JOB: &[u8] = b"device/next_job";

/// Reputation of a new device.
pub const START_REPUTATION: u64 = 100;
/// Highest reputation.
pub const MAX_REPUTATION: u64 = 200;
/// Reputation a failed check costs.
pub const FAIL_REPUTATION: u64 = 20;

/// Where a device stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Gets probes, every one checked, until one passes (the capability challenge).
    Probation = 0,
    /// Passed a checked probe; probes are checked at `check_bps`.
    Active = 1,
    /// Missed `max_misses` rounds in a row: no probes until it resumes.
    Offline = 2,
    /// Left the network; its bond returns after `release_blocks`.
    Left = 3,
}

impl Status {
    fn from_u8(v: u8) -> Option<Status> {
        [
            Status::Probation,
            Status::Active,
            Status::Offline,
            Status::Left,
        ]
        .get(v as usize)
        .copied()
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Probation => "probation",
            Status::Active => "active",
            Status::Offline => "offline",
            Status::Left => "left",
        }
    }
}

/// A registered edge device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceEntry {
    /// The address of the device key (the device's ID).
    pub address: Address,
    /// The device's public key.
    pub key: Vec<u8>,
    /// Who registered it and is paid for its work.
    pub owner: Address,
    /// Declared hardware class.
    pub class: Class,
    /// The embedding model it runs.
    pub model: Hash,
    /// Bond held.
    pub bond: Amount,
    /// Status.
    pub status: Status,
    /// Height of registration.
    pub registered: u64,
    /// Probes issued to it.
    pub probes: u64,
    /// Probes answered on time.
    pub answered: u64,
    /// Probes missed (no seal, or no matching reveal).
    pub missed: u64,
    /// Checked probes that matched the checker's reference.
    pub passed: u64,
    /// Checked probes that did not.
    pub failed: u64,
    /// Misses in a row.
    pub misses_in_row: u32,
    /// Reputation: +1 per answered probe, −1 per miss, −[`FAIL_REPUTATION`] per failure.
    pub reputation: u64,
    /// Job fees earned (uptime rewards are in the earnings records).
    pub earned: Amount,
    /// Records embedded and credited.
    pub records: u64,
    /// Probes issued and not yet closed (the bond answers for them).
    pub open_probes: u32,
}

/// A probe round.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Round {
    /// Round number (block time / `round_ms`).
    pub id: u64,
    /// Seed of the canary texts (from the digest of the block before the round started).
    pub seed: Hash,
    /// Block time the round started.
    pub start_ms: u64,
    /// Seed of the check draw, taken after the seal deadline (zero until then).
    pub check_seed: Hash,
    /// Probes issued.
    pub probes: u32,
}

impl Round {
    /// End of the seal window.
    pub fn seal_end(&self, p: &super::Params) -> u64 {
        self.start_ms.saturating_add(p.seal_ms)
    }
    /// End of the checkers' seal window.
    pub fn check_end(&self, p: &super::Params) -> u64 {
        self.seal_end(p).saturating_add(p.check_ms)
    }
    /// End of the reveal window: the round closes after it.
    pub fn reveal_end(&self, p: &super::Params) -> u64 {
        self.check_end(p).saturating_add(p.reveal_ms)
    }
}

/// One device's probe in one round: a unit of an edge job, or (with no job waiting) a canary
/// whose texts come from the round seed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// Round.
    pub round: u64,
    /// Device.
    pub device: Address,
    /// Records to embed.
    pub records: u32,
    /// Edge job (0: a canary).
    pub job: u64,
    /// Unit of the job.
    pub unit: u64,
    /// The device's seal (zero: none).
    pub sealed: Hash,
    /// The device's revealed answer (empty: none).
    pub answer: Vec<u8>,
    /// Whether the probe is checked (drawn after the seal deadline).
    pub checked: bool,
    /// The drawn checker (zero address: none).
    pub checker: Address,
    /// The checker's seal (zero: none).
    pub check_sealed: Hash,
    /// The checker's revealed reference (empty: none).
    pub reference: Vec<u8>,
}

/// An edge job: records embedded unit by unit by devices.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeJob {
    /// Job ID.
    pub id: u64,
    /// Who pays.
    pub poster: Address,
    /// Model ID.
    pub model: Hash,
    /// Input blob.
    pub input: Hash,
    /// Records.
    pub records: u64,
    /// Records per unit.
    pub unit_records: u32,
    /// Price per record.
    pub price_per_record: Amount,
    /// Escrow left.
    pub escrow: Amount,
    /// Units done.
    pub done: u64,
    /// Next unit never leased (units lost by a device wait in a separate index).
    pub next_unit: u64,
    /// Height it was posted.
    pub posted: u64,
    /// Height it completed (0: open).
    pub completed: u64,
}

impl EdgeJob {
    /// Number of units.
    pub fn units(&self) -> u64 {
        self.records.div_ceil(self.unit_records.max(1) as u64)
    }

    /// Records of unit `u`.
    pub fn unit_len(&self, u: u64) -> u32 {
        let start = u * self.unit_records as u64;
        (self.records - start).min(self.unit_records as u64) as u32
    }
}

/// One unit of an edge job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// Open, leased to a device's probe, or done.
    pub state: UnitState,
    /// The device holding or having done it (zero: none).
    pub device: Address,
    /// The round of the lease.
    pub round: u64,
    /// Leases so far (a lease is lost when its device misses or fails the round).
    pub leases: u32,
    /// The accepted answer's hash (zero until done).
    pub output: Hash,
}

/// Where a unit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Waiting for a device.
    Open = 0,
    /// In a device's probe.
    Leased = 1,
    /// Answered and accepted; paid once.
    Done = 2,
}

impl UnitState {
    fn from_u8(v: u8) -> Option<UnitState> {
        [UnitState::Open, UnitState::Leased, UnitState::Done]
            .get(v as usize)
            .copied()
    }
}

mycel_primitives::impl_codec!(Status as u8, from = Status::from_u8);
mycel_primitives::impl_codec!(UnitState as u8, from = UnitState::from_u8);

mycel_primitives::impl_codec!(DeviceEntry {
    address,
    key: vec(32..=32),
    owner,
    class,
    model,
    bond,
    status,
    registered,
    probes,
    answered,
    missed,
    passed,
    failed,
    misses_in_row,
    reputation,
    earned,
    records,
    open_probes,
});

mycel_primitives::impl_codec!(Round {
    id,
    seed,
    start_ms,
    check_seed,
    probes
});

mycel_primitives::impl_codec!(Probe {
    round,
    device,
    records,
    job,
    unit,
    sealed,
    answer: vec(0..=super::MAX_ANSWER_BYTES),
    checked,
    checker,
    check_sealed,
    reference: vec(0..=super::MAX_ANSWER_BYTES),
});

mycel_primitives::impl_codec!(EdgeJob {
    id,
    poster,
    model,
    input,
    records,
    unit_records,
    price_per_record,
    escrow,
    done,
    next_unit,
    posted,
    completed,
});

mycel_primitives::impl_codec!(Unit {
    state,
    device,
    round,
    leases,
    output
});

/// The account that holds device bonds and edge-job escrows.
pub fn escrow() -> Address {
    Address::module("device")
}

pub(super) fn device_key(a: &Address) -> Vec<u8> {
    key(DEVICE, &[&a.0])
}
pub(super) fn round_key(r: u64) -> Vec<u8> {
    key(ROUND, &[&r.to_be_bytes()])
}
pub(super) fn probe_key(r: u64, d: &Address) -> Vec<u8> {
    key(PROBE, &[&r.to_be_bytes(), &d.0])
}
pub(super) fn job_key(id: u64) -> Vec<u8> {
    key(JOB, &[&id.to_be_bytes()])
}
pub(super) fn unit_key(job: u64, u: u64) -> Vec<u8> {
    key(UNIT, &[&job.to_be_bytes(), &u.to_be_bytes()])
}
pub(super) fn credit_key(epoch: u64, d: &Address) -> Vec<u8> {
    key(CREDIT, &[&epoch.to_be_bytes(), &d.0])
}
pub(super) fn checks_key(epoch: u64, c: &Address) -> Vec<u8> {
    key(CHECKS, &[&epoch.to_be_bytes(), &c.0])
}
