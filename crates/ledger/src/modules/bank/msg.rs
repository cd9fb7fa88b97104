//! Messages of the `bank` module and their wire format.

use super::Bank;
use crate::modules::Module;
use mycel_primitives::{Address, Amount};

/// Bank messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: Amount,
    },
    /// Destroys `amount` of the sender's balance.
    Burn {
        /// Amount.
        amount: Amount,
    },
}

mycel_primitives::impl_codec!(enum Msg, unknown = |k| crate::modules::unknown(Bank::ID, k), {
    0 => Transfer { to, amount },
    1 => Burn { amount },
});
