//! What a node process does. Each role is assembled from the engines and the client here.
//!
//! - [`validator`]: consensus over authenticated TCP, the ledger store and the HTTP API.
//! - [`worker`]: bonds, offers, runs assigned jobs on the engines, serves sessions, defends its
//!   results in disputes.
//! - [`auditor`]: replays the results the ledger assigns it, seals and reveals verdicts, plays
//!   the challenger in disputes and, with a validator key, votes on disputed steps.
//! - [`edge`]: a light edge device answering its probes from any node's API, and the checker
//!   side an auditor runs for the probes it is drawn to check.
//! - [`till`]: the seller's side of a session (authorise, bill, settle, answer disputes),
//!   shared by the worker and tool providers.
//! - [`tools`]: tool providers: tools behind the network, each call checked against its
//!   session and schemas, run, receipted and settled; mycel's own capabilities as tools.
//! - [`gateway`]: the OpenAI-compatible API on the node's port: API keys, worker choice,
//!   sessions paid from the key's account, every receipt checked before it is passed on.

pub mod auditor;
pub mod edge;
pub mod gateway;
pub mod till;
pub mod tools;
pub mod validator;
pub mod worker;
