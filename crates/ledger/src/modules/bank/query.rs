//! Read-only queries of the `bank` module, used by other modules and the API.

use super::state::*;
use crate::Result;
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

/// The balance of `addr`.
pub fn balance(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &bal_key(addr))?.unwrap_or_default())
}

/// The total supply.
pub fn supply(state: &(impl StateRead + ?Sized)) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, SUPPLY)?.unwrap_or_default())
}

/// Everything ever burned.
pub fn burned(state: &(impl StateRead + ?Sized)) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, BURNED)?.unwrap_or_default())
}

/// All non-zero balances, in address order.
pub fn balances(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(BAL)? {
        let addr: [u8; 20] = k[BAL.len()..]
            .try_into()
            .map_err(|_| crate::state::corrupt(&k, "address length"))?;
        let amt = mycel_primitives::codec::decode::<Amount>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        out.push((Address(addr), amt));
    }
    Ok(out)
}
