//! Event kinds the `verify` module emits (`verify.<what>`), for indexers, the API, the CLI and
//! the earnings debugger. Attribute names are in [`crate::events::attr`].

/// `verify.audit_assigned`: a result (or a canary) was drawn for audit.
pub const AUDIT_ASSIGNED: &str = "verify.audit_assigned";
/// `verify.unaudited`: a result was not drawn, or no auditor was available.
pub const UNAUDITED: &str = "verify.unaudited";
/// `verify.sealed`: an auditor sealed its verdict.
pub const SEALED: &str = "verify.sealed";
/// `verify.verdict`: an auditor revealed its verdict (`match`, `mismatch`, `canary_caught`,
/// `canary_passed`).
pub const VERDICT: &str = "verify.verdict";
/// `verify.auditor_silent`: an auditor missed a deadline.
pub const AUDITOR_SILENT: &str = "verify.auditor_silent";
/// `verify.dispute_opened`.
pub const DISPUTE_OPENED: &str = "verify.dispute_opened";
/// `verify.round`: a bisection move.
pub const ROUND: &str = "verify.round";
/// `verify.dispute_resolved`: winner, loser and why.
pub const DISPUTE_RESOLVED: &str = "verify.dispute_resolved";
/// `verify.vote`: a validator's vote on a step the referee cannot recompute.
pub const VOTE: &str = "verify.vote";
