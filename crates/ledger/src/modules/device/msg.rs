//! Messages of the `device` module and their wire format.

use super::Device;
use crate::modules::Module;
use mycel_primitives::{
    Address, Amount, Hash,
    hash::{Domain, hash_parts},
};

/// Signature namespace of a device key's consent to be registered by an owner.
pub const REGISTER_NAMESPACE: &[u8] = b"_MYCEL_DEVICE_REGISTER";

/// Largest answer: 64 records of a 384-dimension model is 24 KiB; this leaves room for wider
/// models while keeping a reveal well inside one transaction.
pub const MAX_ANSWER_BYTES: usize = 48 * 1024;

/// Widest embedding a probe answer may carry.
pub const MAX_DIM: usize = 1_024;

/// Most records one edge job may hold.
pub const MAX_JOB_RECORDS: u64 = 1 << 24;

/// A declared hardware class: how many records a device embeds per probe round. A faster class
/// earns more per round and is held to it: its probes are larger with the same deadline.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A microcontroller-class board or an old phone: 4 records a round.
    Micro = 0,
    /// A single-board computer (a Raspberry Pi 4 or 5): 16 records a round.
    Small = 1,
    /// A laptop or a mini PC: 64 records a round.
    Standard = 2,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 3] = [Class::Micro, Class::Small, Class::Standard];

    fn from_u8(v: u8) -> Option<Class> {
        Class::ALL.get(v as usize).copied()
    }

    /// Records in one probe of this class.
    pub fn records(self) -> u32 {
        match self {
            Class::Micro => 4,
            Class::Small => 16,
            Class::Standard => 64,
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Micro => "micro",
            Class::Small => "small",
            Class::Standard => "standard",
        }
    }
}

impl std::str::FromStr for Class {
    type Err = String;
    fn from_str(s: &str) -> Result<Class, String> {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown device class {s:?} (micro, small, standard)"))
    }
}

/// A device's registration, sent by its owner.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// The device's ed25519 public key (32 bytes); the device sends its answers from the
    /// address of this key.
    pub key: Vec<u8>,
    /// Declared hardware class.
    pub class: Class,
    /// The embedding model the device runs (its ID).
    pub model: Hash,
    /// Bond, escrowed; failed checks take a share of it.
    pub bond: Amount,
    /// The device key's signature over [`register_bytes`] (64 bytes): only the holder of the
    /// device key can put the device under an owner.
    pub signature: Vec<u8>,
}

/// Device messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Registers a device under the sender (its owner).
    Register(Box<Registration>),
    /// Retires a device (sent by its owner or the device); its bond returns later.
    Leave {
        /// The device's address.
        device: Address,
    },
    /// An offline device asks for probes again (sent by the device).
    Resume,
    /// The device's sealed answer to its probe of `round`: [`seal`]`(round, device, device,
    /// answer_hash, salt)`.
    Seal {
        /// Round.
        round: u64,
        /// The seal.
        sealed: Hash,
    },
    /// A drawn checker's sealed reference for `device`'s probe: [`seal`]`(round, device,
    /// checker, answer_hash, salt)`.
    CheckSeal {
        /// Round.
        round: u64,
        /// The device checked.
        device: Address,
        /// The seal.
        sealed: Hash,
    },
    /// Opens a seal: the device's answer (sender = the device) or a checker's reference for
    /// `device` (sender = its checker). An answer is one int8-quantized embedding per record of
    /// the probe, records in order.
    Reveal {
        /// Round.
        round: u64,
        /// The device whose probe this answers.
        device: Address,
        /// The answer.
        answer: Vec<u8>,
        /// The salt of the seal.
        salt: Hash,
    },
    /// Posts an edge job: `records` texts (the input blob: one JSON string per line) to embed
    /// with `model`, in units of `unit_records`, at `price_per_record` each, all escrowed.
    PostJob {
        /// Model ID.
        model: Hash,
        /// Input blob hash.
        input: Hash,
        /// Records in the input.
        records: u64,
        /// Records per unit (at most the smallest class's probe that may take it).
        unit_records: u32,
        /// Price per embedded record.
        price_per_record: Amount,
    },
}

/// What a device key signs to be registered by `owner`.
pub fn register_bytes(owner: &Address, class: Class, model: &Hash) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + 1 + 32);
    v.extend_from_slice(&owner.0);
    v.push(class as u8);
    v.extend_from_slice(&model.0);
    v
}

/// The hash of an answer's bytes: its content address in the blob store, so a job unit's
/// output is fetched by the hash the chain records.
pub fn answer_hash(answer: &[u8]) -> Hash {
    mycel_store::blob_hash(answer)
}

/// The seal of an answer to `device`'s probe of `round`, by `by` (the device or its checker).
pub fn seal(round: u64, device: &Address, by: &Address, answer: &Hash, salt: &Hash) -> Hash {
    hash_parts(
        Domain::DeviceAnswer,
        &[&round.to_be_bytes(), &device.0, &by.0, &answer.0, &salt.0],
    )
}

mycel_primitives::impl_codec!(Class as u8, from = Class::from_u8);

mycel_primitives::impl_codec!(Registration {
    key: vec(32..=32),
    class,
    model,
    bond,
    signature: vec(64..=64),
});

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Device::ID, k), {
    0 => Register(registration: boxed),
    1 => Leave { device },
    2 => Resume {},
    3 => Seal { round, sealed },
    4 => CheckSeal { round, device, sealed },
    5 => Reveal { round, device, answer: vec(0..=MAX_ANSWER_BYTES), salt },
    6 => PostJob { model, input, records, unit_records, price_per_record },
});
