//! What a node process does. Each role is assembled from the engines and the client here.
//!
//! - [`validator`]: consensus over authenticated TCP, the ledger store and the HTTP API.
//! - [`worker`]: bonds, offers, runs assigned jobs on the engines, serves sessions.

pub mod validator;
pub mod worker;
