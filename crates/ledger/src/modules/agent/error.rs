//! Why an `agent` message (or a session on a tool) fails.

use mycel_primitives::{Address, Hash};

/// Why an `agent` message fails, or why `market` refuses a session on a tool.
/// [`AgentError::code`] is the stable API code (`invalid_agent` or `unauthorized`);
/// [`AgentError::reason`] a finer stable code per variant.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AgentError {
    /// Not JSON, not an object, a missing or mistyped field.
    #[error("bad manifest: {why}")]
    BadManifest {
        /// What is wrong.
        why: String,
    },
    /// The bytes are not the canonical form of the JSON they hold.
    #[error(
        "the manifest is not canonical JSON (sorted keys, no whitespace): canonicalise it first"
    )]
    NotCanonical,
    /// A field over its size limit.
    #[error("`{field}` is {bytes} bytes; at most {max}")]
    TooLong {
        /// The field.
        field: String,
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A tool name that is not MCP-legal, or an agent name outside the allowed characters.
    #[error(
        "name {name:?} is not allowed (tools: 1..=128 of [A-Za-z0-9_.-]; agents: 1..=64 of [A-Za-z0-9 _.-])"
    )]
    BadName {
        /// The name.
        name: String,
    },
    /// A JSON Schema that is not well formed.
    #[error("`{field}` is not a valid JSON Schema: {why}")]
    BadSchema {
        /// Which schema.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// The name belongs to another owner.
    #[error("{kind} name {name:?} is registered by {owner}")]
    NameTaken {
        /// Tool or agent.
        kind: &'static str,
        /// The name.
        name: String,
        /// Its owner.
        owner: Address,
    },
    /// A manifest registered before (by any entry, at any version).
    #[error("manifest {hash} is already registered")]
    AlreadyRegistered {
        /// Its hash.
        hash: Hash,
    },
    /// A registration that changes nothing.
    #[error("nothing changes: same manifest, endpoint, price and bond")]
    Unchanged,
    /// An endpoint that is not an http(s) URL.
    #[error("endpoint {endpoint:?} must be an http:// or https:// URL")]
    BadEndpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// A bond below the minimum, or lower than the one held.
    #[error("bond {got} too low: at least {min}")]
    BondTooLow {
        /// The least allowed.
        min: mycel_primitives::Amount,
        /// Offered.
        got: mycel_primitives::Amount,
    },
    /// The owner key is not the sender's, or the manifest signature does not verify.
    #[error("the manifest signature does not verify against the sender's key")]
    BadManifestSignature,
    /// No such entry.
    #[error("unknown tool or agent {id}")]
    Unknown {
        /// Entry ID.
        id: Hash,
    },
    /// Only the owner may change or retire an entry.
    #[error("only the owner {owner} can change {id}")]
    NotOwner {
        /// Entry ID.
        id: Hash,
        /// The owner.
        owner: Address,
    },
    /// The entry is retired or slashed.
    #[error("{id} is not active")]
    NotActive {
        /// Entry ID.
        id: Hash,
    },
    /// A session on a tool version that is no longer current.
    #[error("manifest {manifest} is version {version} of {id}, not the current one")]
    NotCurrent {
        /// Entry ID.
        id: Hash,
        /// The manifest named.
        manifest: Hash,
        /// Its version.
        version: u32,
    },
    /// A session with someone other than the tool's provider.
    #[error("{id} is served by {owner}, not {worker}")]
    NotProvider {
        /// Entry ID.
        id: Hash,
        /// The provider.
        owner: Address,
        /// Who the session named.
        worker: Address,
    },
    /// The advert's key is not the provider's, or its signature does not verify.
    #[error("the advert is not signed by the provider of {id}")]
    BadAdvert {
        /// Entry ID.
        id: Hash,
    },
    /// The advertised manifest is one of the entry's registered versions: no rug pull.
    #[error("manifest {manifest} is a registered version of {id}")]
    NotDrift {
        /// Entry ID.
        id: Hash,
        /// The manifest.
        manifest: Hash,
    },
}

impl AgentError {
    /// The stable API code: `unauthorized` for permission failures, otherwise `invalid_agent`.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::NotOwner { .. }
            | AgentError::NameTaken { .. }
            | AgentError::BadManifestSignature => "unauthorized",
            _ => "invalid_agent",
        }
    }

    /// What the receipt text starts with (the code's wording).
    pub(crate) fn category(&self) -> &'static str {
        match self.code() {
            "unauthorized" => "unauthorized",
            _ => "invalid agent message",
        }
    }

    /// A finer stable code, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            AgentError::BadManifest { .. } => "bad_manifest",
            AgentError::NotCanonical => "not_canonical",
            AgentError::TooLong { .. } => "too_long",
            AgentError::BadName { .. } => "bad_name",
            AgentError::BadSchema { .. } => "bad_schema",
            AgentError::NameTaken { .. } => "name_taken",
            AgentError::AlreadyRegistered { .. } => "already_registered",
            AgentError::Unchanged => "unchanged",
            AgentError::BadEndpoint { .. } => "bad_endpoint",
            AgentError::BondTooLow { .. } => "bond_too_low",
            AgentError::BadManifestSignature => "bad_manifest_signature",
            AgentError::Unknown { .. } => "unknown_entry",
            AgentError::NotOwner { .. } => "not_owner",
            AgentError::NotActive { .. } => "not_active",
            AgentError::NotCurrent { .. } => "not_current",
            AgentError::NotProvider { .. } => "not_provider",
            AgentError::BadAdvert { .. } => "bad_advert",
            AgentError::NotDrift { .. } => "not_drift",
        }
    }
}
