//! Why a `device` message fails.

use mycel_primitives::{Address, Amount};

/// Why a `device` message fails. [`DeviceError::code`] is the stable API code (`invalid_device`
/// or `unauthorized`); [`DeviceError::reason`] a finer stable code per variant. Every refusal
/// leaves the state as it was.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    /// The device key's signature over the registration does not verify, or the key is not an
    /// ed25519 key.
    #[error("the device key's signature over this registration does not verify")]
    BadSignature,
    /// The device key is registered already (by this owner or another).
    #[error("device {device} is registered already (owner {owner})")]
    Taken {
        /// The device.
        device: Address,
        /// Its owner.
        owner: Address,
    },
    /// An owner registering its own account as a device.
    #[error("a device key must not be its owner's key")]
    OwnerIsDevice,
    /// A bond below the minimum.
    #[error("bond {got} below the minimum {min}")]
    BondTooLow {
        /// Minimum.
        min: Amount,
        /// Offered.
        got: Amount,
    },
    /// No such device.
    #[error("no device {device}")]
    Unknown {
        /// The address.
        device: Address,
    },
    /// The sender is neither the device nor its owner.
    #[error("{sender} may not act for device {device}")]
    NotYours {
        /// The device.
        device: Address,
        /// The sender.
        sender: Address,
    },
    /// A device that left.
    #[error("device {device} has left")]
    Left {
        /// The device.
        device: Address,
    },
    /// `Resume` from a device that is not offline.
    #[error("device {device} is not offline")]
    NotOffline {
        /// The device.
        device: Address,
    },
    /// No probe for this device in this round (never issued, or the round closed).
    #[error("no open probe for {device} in round {round}")]
    NoProbe {
        /// Round.
        round: u64,
        /// Device.
        device: Address,
    },
    /// A message outside its window (a seal after the deadline, a reveal before the checks are
    /// sealed or after the round).
    #[error(
        "{what} for round {round} is outside its window ({from_ms}..={until_ms} ms; block time {now_ms} ms)"
    )]
    OutOfWindow {
        /// What was sent.
        what: &'static str,
        /// Round.
        round: u64,
        /// Window start (exclusive).
        from_ms: u64,
        /// Window end (inclusive).
        until_ms: u64,
        /// The block's time.
        now_ms: u64,
    },
    /// A second seal, or a second reveal.
    #[error("{what} for round {round} was sent already")]
    Already {
        /// What.
        what: &'static str,
        /// Round.
        round: u64,
    },
    /// The sender is not the checker drawn for this probe.
    #[error("{sender} is not the checker of {device}'s probe in round {round}")]
    NotChecker {
        /// Round.
        round: u64,
        /// Device.
        device: Address,
        /// Sender.
        sender: Address,
    },
    /// A reveal whose answer and salt do not open the seal.
    #[error("the reveal does not open the seal")]
    SealMismatch,
    /// An answer of the wrong shape (not one embedding of equal width per record).
    #[error(
        "the answer is {bytes} bytes for {records} records: expected records × dim, dim 1..={max_dim}"
    )]
    BadAnswer {
        /// Answer length.
        bytes: usize,
        /// Records in the probe.
        records: u32,
        /// Widest embedding.
        max_dim: usize,
    },
    /// An edge job that cannot run.
    #[error("bad edge job: {why}")]
    BadJob {
        /// What is wrong.
        why: String,
    },
}

impl DeviceError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::BadSignature
            | DeviceError::Taken { .. }
            | DeviceError::NotYours { .. }
            | DeviceError::NotChecker { .. } => "unauthorized",
            _ => "invalid_device",
        }
    }

    /// What the receipt text starts with (the code's wording).
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid device message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceError::BadSignature => "bad_device_signature",
            DeviceError::Taken { .. } => "device_taken",
            DeviceError::OwnerIsDevice => "owner_is_device",
            DeviceError::BondTooLow { .. } => "bond_too_low",
            DeviceError::Unknown { .. } => "unknown_device",
            DeviceError::NotYours { .. } => "not_yours",
            DeviceError::Left { .. } => "device_left",
            DeviceError::NotOffline { .. } => "not_offline",
            DeviceError::NoProbe { .. } => "no_probe",
            DeviceError::OutOfWindow { .. } => "out_of_window",
            DeviceError::Already { .. } => "already_sent",
            DeviceError::NotChecker { .. } => "not_checker",
            DeviceError::SealMismatch => "seal_mismatch",
            DeviceError::BadAnswer { .. } => "bad_answer",
            DeviceError::BadJob { .. } => "bad_job",
        }
    }
}
