//! What a node process does. Each role is assembled from the engines and the client here.
//!
//! - [`validator`]: consensus over authenticated TCP, the ledger store and the HTTP API.
//! - [`worker`]: bonds, offers, runs assigned jobs on the engines, serves sessions, defends its
//!   results in disputes.
//! - [`auditor`]: replays the results the ledger assigns it, seals and reveals verdicts, plays
//!   the challenger in disputes and, with a validator key, votes on disputed steps.

pub mod auditor;
pub mod validator;
pub mod worker;
