//! `verify`: audits of committed results, bisection disputes down to one operation, and the
//! slashing that makes cheating lose.
//!
//! 1. **Selection.** A result committed at height `h` is considered at `h + 1`, whose parent
//!    digest (block `h`, unknown to the worker when it sent the result) is the randomness. It is
//!    audited with probability [`audit_rate_bps`]: 100 % for a new or recently caught worker,
//!    halving every `audit_halving_jobs` verified results, never below the floor, and never
//!    below `audit_safety · exposure / (exposure + slashable stake)`, where the exposure is the
//!    fees of all the worker's open results: `p·(R+S) ≥ C` holds with a margin, also for a
//!    worker cheating on many results at once. A worker caught once has every other open result
//!    audited.
//! 2. **Audit.** The auditor is drawn stake-weighted among bonded auditors, never the worker or
//!    the poster. It replays the job and seals `H(audit ‖ auditor ‖ claim digest ‖ its trace
//!    root ‖ salt)`, then reveals. A matching digest verifies the result (and only verified
//!    results raise reputation); a different one opens a dispute with the auditor as challenger.
//!    An auditor silent past a deadline is slashed and replaced.
//! 3. **Canaries.** At rate `canary_bps` a second auditor is shown the same job with a claim the
//!    ledger altered: one that reports it as matching did not replay it and is slashed.
//! 4. **Dispute.** The auditor, or anyone posting a bond, challenges a result with its own trace
//!    root. Each round the worker reveals the two children of the disputed node (64 B, checked
//!    against the node) and the challenger picks the leftmost child it disagrees with; after
//!    ⌈log₂ n⌉ rounds one leaf is left. The worker then posts a witness and every validator
//!    recomputes that one step with `mycel-referee` as part of executing the block (Tier D
//!    models). For models the referee cannot run, the worker posts an empty witness and the
//!    validator set votes, deciding at two thirds of its stake: as strong as the chain's own
//!    safety assumption. Silence past a round's deadline loses.
//! 5. **Settlement.** The loser forfeits `fraud_slash_bps` of its stake (a worker or auditing
//!    challenger) or its bond; `winner_bps` of that goes to the winner and the rest is burned, so
//!    challenging yourself never pays. A wrong result is rejected (the poster is refunded) and the
//!    auditor that approved it, if any, is slashed as lazy.
//!
//! State: `verify/audit/<id BE>` → [`Audit`]; `verify/dispute/<id BE>` → [`Dispute`];
//! `verify/next_audit`, `verify/next_dispute` → counters; `verify/due/<height BE><what><id BE>`
//! → () (deadlines); `verify/history/<worker>` → [`History`]; `verify/done/<epoch BE><auditor>`
//! → audits completed (auditor rewards); `verify/open/<job BE>` → open dispute ID.

mod error;
pub use error::VerifyError;
pub mod events;
mod exec;
mod msg;
mod params;
mod query;
mod state;

pub(crate) use exec::draw_auditor;
pub use exec::{audit_rate_bps, claim_digest, seal};
pub use msg::*;
pub use params::*;
pub use query::*;
pub use state::*;

/// The verify module.
pub struct Verify;
