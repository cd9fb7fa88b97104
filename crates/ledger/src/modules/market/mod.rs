//! `market`: worker offers and batch jobs with escrow, deterministic assignment, result
//! commitment, a challenge window, settlement, deadlines and reassignment.
//!
//! Flow of a batch job:
//! 1. `PostJob` escrows `max_fee` from the poster and assigns the job at once to one eligible
//!    worker, drawn with ledger randomness (parent block digest ‖ job id) weighted by stake ×
//!    reputation among the offers that serve the job's kind and model.
//! 2. The assigned worker runs it off-chain and sends `CommitResult` (output hash, work units,
//!    result-commitment root) before `deadline` blocks have passed.
//! 3. After `challenge_window` blocks the job settles: the worker is paid
//!    `min(units × price, max_fee)` less the protocol fee (burned), the poster gets the unused
//!    escrow back, and the work units are recorded for the epoch's worker rewards (and, when the
//!    input is a registered dataset, its novel bytes for the contributor's data rewards).
//! 4. A worker that misses its deadline loses reputation and `missed_deadline_bps` of its worker
//!    stake, and the job is reassigned to another eligible worker; with none left the poster is
//!    refunded. Escrow is never lost or created: every path moves it to the worker, the poster or
//!    the burn.
//!
//! State: `market/offer/<addr>` → [`Offer`]; `market/job/<id BE>` → [`Job`];
//! `market/next` → next job id; `market/due/<height BE><id BE>` → () (deadlines and settlements);
//! `market/rep/<addr>` → reputation (u64, starts at [`START_REPUTATION`]);
//! `market/units/<epoch BE><addr>` → settled work units; `market/used/<epoch BE><addr>` → novel
//! bytes of the contributor's datasets used by settled jobs.

mod error;
mod session;
pub use error::MarketError;
pub use session::{
    DISPUTE_WINDOW, MAX_DURATION, RECEIPT_NAMESPACE, REQUEST_NAMESPACE, Receipt, SETTLE_GRACE,
    Session, SessionDispute, SessionMsg, open_disputes_of, recent_sessions, request_bytes, session,
    session_key,
};
pub mod events;
mod exec;
pub(crate) use exec::{is_held, put_job, reject, reward_reputation, set_hold, settle};
mod msg;
mod params;
mod query;
mod state;

pub use msg::*;
pub use params::*;
pub use query::*;
pub use state::*;

/// The market module.
pub struct Market;
