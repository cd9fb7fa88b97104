//! `agent`: MCP tools and A2A agents, registered by their owner's key, pinned by the hash of
//! their manifest, bonded, and paid per call through market sessions.
//!
//! A registration carries the manifest itself (an MCP tool definition or an A2A Agent Card, as
//! canonical JSON, checked by [`manifest::check`]), the owner's signature over its hash, the
//! endpoint that serves it, the price of one call and a bond. Names are unique per kind and
//! belong to the first registrant; the owner publishes a changed definition only as a new
//! version with a new hash (every version stays on chain, so a caller can see what changed and
//! when). Nothing about a definition can change silently.
//!
//! Calls are paid through market sessions: a session whose `model` is a tool's current
//! manifest hash is a session with that tool's provider at its price per call; each call is a
//! receipt (`tokens` = 1) naming the manifest it ran, settled cumulatively like any session and
//! disputed the same way, with the tool's bond (not worker stake) answering for the receipts.
//! Settled calls raise the entry's reputation; lost disputes lower it.
//!
//! Rug pulls: a provider signs an *advert* of the manifest it serves ([`advert_bytes`]). The
//! node compares it with the registration before every call and refuses a mismatch; anyone
//! holding an advert of a manifest that is none of the entry's versions can [`Msg::Challenge`]
//! it: the provider loses half its bond (half to the challenger, half burned) and the entry is
//! unlisted.
//!
//! State: `agent/entry/<id>` → [`Entry`]; `agent/doc/<manifest>` → [`Doc`];
//! `agent/ver/<id><version BE>` → manifest hash; `agent/owner/<owner><id>` → ();
//! `agent/skill/<skill>\0<id>` → (); `agent/release/<height BE><id>` → ().

mod error;
pub use error::AgentError;
pub mod events;
mod exec;
pub mod manifest;
mod msg;
mod query;
mod state;

pub(crate) use exec::{open_session, record_settled, session_entry, session_released, take_bond};
pub use manifest::{MAX_DESCRIPTION_BYTES, MAX_MANIFEST_BYTES};
pub use msg::*;
pub use query::*;
pub use state::*;

/// The agent module.
pub struct Agent;
