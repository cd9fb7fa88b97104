//! Event kinds the `device` module emits (`device.<what>`). Attribute names are in
//! [`crate::events::attr`].

/// `device.register`: a device joined under an owner.
pub const REGISTER: &str = "device.register";
/// `device.leave`: a device left; its bond returns later.
pub const LEAVE: &str = "device.leave";
/// `device.resume`: an offline device asked for probes again.
pub const RESUME: &str = "device.resume";
/// `device.round`: a probe round started.
pub const ROUND: &str = "device.round";
/// `device.probe`: the outcome of one device's probe (`reason`: `passed`, `answered`,
/// `failed`, `missed`, `unchecked` when the checker did not reveal).
pub const PROBE: &str = "device.probe";
/// `device.offline`: a device missed too many rounds in a row.
pub const OFFLINE: &str = "device.offline";
/// `device.slashed`: a failed check took part of a bond.
pub const SLASHED: &str = "device.slashed";
/// `device.job`: an edge job was posted.
pub const JOB: &str = "device.job";
/// `device.unit`: a unit of an edge job was accepted and paid.
pub const UNIT: &str = "device.unit";
/// `device.job_done`: every unit of an edge job is done.
pub const JOB_DONE: &str = "device.job_done";
/// `device.released`: a departed device's bond returned to its owner.
pub const RELEASED: &str = "device.released";
