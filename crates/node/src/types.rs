//! The types a caller of this crate meets in its answers and builds its requests from: the
//! ledger's messages and records and the primitive IDs and amounts, re-exported so that a
//! front end (the CLI) depends on `mycel-node` alone.

pub use mycel_ledger::{
    Message, Receipt,
    events::attr,
    modules::{
        agent, bank,
        data::{self, Dataset},
        device,
        market::{self, Job, JobKind, JobStatus, Offer, Session},
        model,
        staking::{self, Role},
        verify,
    },
};
pub use mycel_primitives::{Address, Amount, Hash, PrivateKey};
