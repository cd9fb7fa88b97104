//! Messages of the `staking` module and their wire format.

use super::Staking;
use super::role::*;
use crate::modules::Module;
use mycel_primitives::Amount;

/// Staking messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Bonds `amount` from the sender's balance for `role`.
    Bond {
        /// Role.
        role: Role,
        /// Amount.
        amount: Amount,
    },
    /// Starts unbonding `amount` of the sender's `role` stake.
    Unbond {
        /// Role.
        role: Role,
        /// Amount.
        amount: Amount,
    },
    /// Leaves jail once the jail term has passed.
    Unjail,
}

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Staking::ID, k), {
    0 => Bond { role, amount },
    1 => Unbond { role, amount },
    2 => Unjail {},
});
