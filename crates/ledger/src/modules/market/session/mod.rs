//! Interactive sessions: prepaid escrow, worker-signed receipts settled as a Merkle root, and
//! disputes with a receipt.
//!
//! A client opens a session with a worker for a model and escrows a deposit. Each response the
//! worker serves off-chain carries a [`Receipt`] signed with the worker's key. The worker settles
//! *cumulatively*: `SettleSession` names the RFC 6962 root over all receipts so far (in sequence
//! order), their count and their total, and is paid the increase over the last settlement (less
//! the protocol fee). Because settlements only grow, a settlement can never be charged twice.
//!
//! A client disputes with a receipt the worker signed:
//! - if the receipt overcharges (amount above tokens × the session price), the fault is proven at
//!   once;
//! - if the receipt's sequence number is already settled, the worker must show within
//!   `dispute_window` blocks that the settled root contains exactly this receipt (`AnswerDispute`).
//!
//! A proven or unanswered dispute refunds the receipt's amount to the client out of the worker's
//! bonded stake and costs the worker reputation. After expiry the client (or the worker at any
//! time) closes the session and the unspent deposit returns to the client.
//!
//! State: `market/session/<id BE>` → [`Session`]; `market/nsession` → next id;
//! `market/dispute/<id BE><seq BE>` → deadline height; `market/ddue/<height BE><id BE><seq BE>` → ().

mod exec;
mod msg;
mod query;
mod state;

pub use exec::*;
pub use msg::*;
pub use query::*;
pub use state::*;
