//! Event kinds the `market` module emits (`market.<what>`), for indexers, the API and the CLI.
//! Attribute names are in [`crate::events::attr`].

/// `market.assigned`.
pub const ASSIGNED: &str = "market.assigned";
/// `market.deadline_missed`.
pub const DEADLINE_MISSED: &str = "market.deadline_missed";
/// `market.failed`.
pub const FAILED: &str = "market.failed";
/// `market.job_posted`.
pub const JOB_POSTED: &str = "market.job_posted";
/// `market.offer`.
pub const OFFER: &str = "market.offer";
/// `market.offer_closed`.
pub const OFFER_CLOSED: &str = "market.offer_closed";
/// `market.result`.
pub const RESULT: &str = "market.result";
/// `market.session_answered`.
pub const SESSION_ANSWERED: &str = "market.session_answered";
/// `market.session_closed`.
pub const SESSION_CLOSED: &str = "market.session_closed";
/// `market.session_disputed`.
pub const SESSION_DISPUTED: &str = "market.session_disputed";
/// `market.session_opened`.
pub const SESSION_OPENED: &str = "market.session_opened";
/// `market.session_penalty`.
pub const SESSION_PENALTY: &str = "market.session_penalty";
/// `market.session_settled`.
pub const SESSION_SETTLED: &str = "market.session_settled";
/// A client added to a session's deposit or extended it.
pub const SESSION_TOPPED_UP: &str = "market.session_topped_up";
/// `market.rejected`: a result proven wrong; the poster is refunded.
pub const REJECTED: &str = "market.rejected";
/// `market.settled`.
pub const SETTLED: &str = "market.settled";
