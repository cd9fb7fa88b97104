//! Events and transaction receipts.

use mycel_primitives::{
    Amount, Hash,
    codec::{EncodeSize, RangeCfg, Read, Write, read_string, string_size, write_string},
};

/// Event attribute names, shared by every module's events.
pub mod attr {
    /// `address`.
    pub const ADDRESS: &str = "address";
    /// `amount`.
    pub const AMOUNT: &str = "amount";
    /// `answer_by`.
    pub const ANSWER_BY: &str = "answer_by";
    /// `challenger`.
    pub const CHALLENGER: &str = "challenger";
    /// `certified`.
    pub const CERTIFIED: &str = "certified";
    /// `client`.
    pub const CLIENT: &str = "client";
    /// `consent`.
    pub const CONSENT: &str = "consent";
    /// `contributor`.
    pub const CONTRIBUTOR: &str = "contributor";
    /// `count`.
    pub const COUNT: &str = "count";
    /// `dataset`.
    pub const DATASET: &str = "dataset";
    /// `due`.
    pub const DUE: &str = "due";
    /// `earlier`.
    pub const EARLIER: &str = "earlier";
    /// `emission`.
    pub const EMISSION: &str = "emission";
    /// `epoch`.
    pub const EPOCH: &str = "epoch";
    /// A consensus view.
    pub const VIEW: &str = "view";
    /// `fee`.
    pub const FEE: &str = "fee";
    /// `fees`.
    pub const FEES: &str = "fees";
    /// `from`.
    pub const FROM: &str = "from";
    /// `job`.
    pub const JOB: &str = "job";
    /// A kind or policy name.
    pub const KIND: &str = "kind";
    /// `max_fee`.
    pub const MAX_FEE: &str = "max_fee";
    /// A model ID.
    pub const MODEL: &str = "model";
    /// `novel_bytes`.
    pub const NOVEL_BYTES: &str = "novel_bytes";
    /// `output`.
    pub const OUTPUT: &str = "output";
    /// A model's owner.
    pub const OWNER: &str = "owner";
    /// `poster`.
    pub const POSTER: &str = "poster";
    /// `price`.
    pub const PRICE: &str = "price";
    /// `reason`.
    pub const REASON: &str = "reason";
    /// `records`.
    pub const RECORDS: &str = "records";
    /// `refund`.
    pub const REFUND: &str = "refund";
    /// `release_height`.
    pub const RELEASE_HEIGHT: &str = "release_height";
    /// `reward`.
    pub const REWARD: &str = "reward";
    /// `role`.
    pub const ROLE: &str = "role";
    /// `seq`.
    pub const SEQ: &str = "seq";
    /// `session`.
    pub const SESSION: &str = "session";
    /// `size`.
    pub const SIZE: &str = "size";
    /// `signed`.
    pub const SIGNED: &str = "signed";
    /// `to`.
    pub const TO: &str = "to";
    /// `total`.
    pub const TOTAL: &str = "total";
    /// `units`.
    pub const UNITS: &str = "units";
    /// `until`.
    pub const UNTIL: &str = "until";
    /// `trace_root`.
    pub const TRACE_ROOT: &str = "trace_root";
    /// `validators`.
    pub const VALIDATORS: &str = "validators";
    /// `audit`.
    pub const AUDIT: &str = "audit";
    /// `auditor`.
    pub const AUDITOR: &str = "auditor";
    /// `dispute`.
    pub const DISPUTE: &str = "dispute";
    /// `verdict`.
    pub const VERDICT: &str = "verdict";
    /// `round`.
    pub const ROUND: &str = "round";
    /// `leaf`.
    pub const LEAF: &str = "leaf";
    /// `winner`.
    pub const WINNER: &str = "winner";
    /// `loser`.
    pub const LOSER: &str = "loser";
    /// `worker`.
    pub const WORKER: &str = "worker";
    /// `id` (a tool's or agent's entry ID).
    pub const ID: &str = "id";
    /// `name`.
    pub const NAME: &str = "name";
    /// `manifest` (a manifest hash).
    pub const MANIFEST: &str = "manifest";
    /// `version`.
    pub const VERSION: &str = "version";
    /// `device`.
    pub const DEVICE: &str = "device";
    /// `class`.
    pub const CLASS: &str = "class";
    /// `checker`.
    pub const CHECKER: &str = "checker";
    /// `unit`.
    pub const UNIT: &str = "unit";
}

/// Longest event attribute value.
const MAX_ATTR: usize = 1024;

/// Something that happened while executing a block, for indexers and the CLI.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Dotted kind, e.g. `bank.transfer`.
    pub kind: String,
    /// Ordered attributes.
    pub attrs: Vec<(String, String)>,
}

impl Event {
    /// A new event.
    pub fn new(kind: &str, attrs: &[(&str, String)]) -> Event {
        Event {
            kind: kind.to_string(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }
}

// Hand-written: attributes are a `u32`-counted list of string pairs (at most 256), which the
// field kinds of `impl_codec!` do not describe.
impl Write for Event {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        write_string(&self.kind, buf);
        (self.attrs.len() as u32).write(buf);
        for (k, v) in &self.attrs {
            write_string(k, buf);
            write_string(v, buf);
        }
    }
}

impl EncodeSize for Event {
    fn encode_size(&self) -> usize {
        string_size(&self.kind)
            + 4
            + self
                .attrs
                .iter()
                .map(|(k, v)| string_size(k) + string_size(v))
                .sum::<usize>()
    }
}

impl Read for Event {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl mycel_primitives::codec::Buf,
        _: &(),
    ) -> Result<Self, mycel_primitives::codec::CodecError> {
        let kind = read_string(buf, MAX_ATTR)?;
        let n = u32::read_cfg(buf, &())? as usize;
        if n > 256 {
            return Err(mycel_primitives::codec::CodecError::InvalidLength(n));
        }
        let mut attrs = Vec::with_capacity(n);
        for _ in 0..n {
            attrs.push((read_string(buf, MAX_ATTR)?, read_string(buf, MAX_ATTR)?));
        }
        Ok(Event { kind, attrs })
    }
}

/// The outcome of one transaction, stored with it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// The transaction hash.
    pub tx_hash: Hash,
    /// `true` when every message applied; a failed tx still pays its fee and uses its nonce.
    pub success: bool,
    /// Stable error code (empty on success).
    pub code: String,
    /// Error message (empty on success).
    pub error: String,
    /// Fee charged.
    pub fee: Amount,
    /// Events emitted (none when the messages failed).
    pub events: Vec<Event>,
}

impl Receipt {
    /// The value of attribute `key` of the first event of `kind`, if any.
    pub fn attr(&self, kind: &str, key: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|e| e.kind == kind)
            .and_then(|e| e.attrs.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.as_str())
    }
}

mycel_primitives::impl_codec!(Receipt {
    tx_hash,
    success,
    code: string(64),
    error: string(MAX_ATTR),
    fee,
    events: vec(0..=1024),
});

/// Encodes a block's events for the store.
pub fn encode_events(events: &[Event]) -> Vec<u8> {
    use mycel_primitives::codec::Encode;
    events.to_vec().encode().to_vec()
}

/// Decodes a block's events from the store.
pub fn decode_events(bytes: &[u8]) -> Result<Vec<Event>, mycel_primitives::codec::CodecError> {
    mycel_primitives::codec::decode_cfg::<Vec<Event>>(bytes, &(RangeCfg::new(0..=1_000_000), ()))
}
