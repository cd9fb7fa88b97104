//! Read-only queries of the `staking` module, used by other modules and the API.

use super::{role::*, state::*};
use crate::{Result, state::key};
use mycel_primitives::{Address, Amount};
use mycel_store::StateRead;

/// The bonded stake of `addr` for `role`.
pub fn stake(state: &(impl StateRead + ?Sized), addr: &Address, role: Role) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &stake_key(addr, role))?.unwrap_or_default())
}

/// Total bonded stake for `role`.
pub fn total(state: &(impl StateRead + ?Sized), role: Role) -> Result<Amount> {
    Ok(crate::state::read::<Amount>(state, &key(TOTAL, &[&[role as u8]]))?.unwrap_or_default())
}

/// Every (address, role, stake), in key order.
pub fn stakes(state: &(impl StateRead + ?Sized)) -> Result<Vec<(Address, Role, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(STAKE)? {
        let rest = &k[STAKE.len()..];
        if rest.len() != 21 {
            return Err(crate::state::corrupt(&k, "bad stake key"));
        }
        let role = Role::from_u8(rest[20]).ok_or_else(|| crate::state::corrupt(&k, "bad role"))?;
        let amount = mycel_primitives::codec::decode::<Amount>(&v)
            .map_err(|e| crate::state::corrupt(&k, e))?;
        out.push((
            Address(rest[..20].try_into().expect("20 bytes")),
            role,
            amount,
        ));
    }
    Ok(out)
}

/// Pending unbondings of `addr`: (release height, role, amount).
pub fn unbonding(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<Vec<(u64, Role, Amount)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(UNBOND)? {
        let rest = &k[UNBOND.len()..];
        if rest.len() != 29 || rest[8..28] != addr.0 {
            continue;
        }
        let h = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
        let role = Role::from_u8(rest[28]).ok_or_else(|| crate::state::corrupt(&k, "bad role"))?;
        out.push((
            h,
            role,
            mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?,
        ));
    }
    Ok(out)
}

/// The height until which `addr` is jailed, if it is.
pub fn jailed_until(state: &(impl StateRead + ?Sized), addr: &Address) -> Result<Option<u64>> {
    crate::state::read::<u64>(state, &key(JAIL, &[&addr.0]))
}

/// The consensus key `addr` bonded as a validator with, if it did.
pub fn consensus_key(
    state: &(impl StateRead + ?Sized),
    addr: &Address,
) -> Result<Option<mycel_primitives::PublicKey>> {
    let k = key(CONSENSUS_KEY, &[&addr.0]);
    match state.get(&k)? {
        None => Ok(None),
        Some(b) => mycel_primitives::keys::public_key_from_bytes(&b)
            .map(Some)
            .map_err(|e| crate::state::corrupt(&k, e)),
    }
}

/// State key of the consensus keys of `epoch`'s validators, written when the epoch before
/// ends ([`encode_set_keys`]); absent for epoch 0 (the genesis file's keys).
pub fn set_keys_key(epoch: u64) -> Vec<u8> {
    key(SET_KEYS, &[&epoch.to_be_bytes()])
}

/// Encodes consensus keys (32 bytes each) as the value under [`set_keys_key`]: sorted and
/// concatenated, so that equal sets encode equally.
pub fn encode_set_keys(mut keys: Vec<Vec<u8>>) -> Vec<u8> {
    keys.sort();
    keys.concat()
}

/// Decodes the value under [`set_keys_key`]: 32-byte keys in ascending order, none twice.
pub fn decode_set_keys(
    value: &[u8],
) -> std::result::Result<Vec<mycel_primitives::PublicKey>, String> {
    if value.is_empty() || !value.len().is_multiple_of(32) {
        return Err(format!("{} bytes is not a list of keys", value.len()));
    }
    let chunks: Vec<&[u8]> = value.chunks_exact(32).collect();
    if chunks.windows(2).any(|w| w[0] >= w[1]) {
        return Err("keys not in ascending order".into());
    }
    chunks
        .into_iter()
        .map(|c| mycel_primitives::keys::public_key_from_bytes(c).map_err(|e| e.to_string()))
        .collect()
}

/// Every epoch's entry under [`set_keys_key`] (raw), in epoch order.
pub fn set_keys_history(state: &(impl StateRead + ?Sized)) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(SET_KEYS)? {
        let epoch = k[SET_KEYS.len()..]
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| crate::state::corrupt(&k, "bad set keys key"))?;
        out.push((epoch, v));
    }
    Ok(out)
}

/// The validator set of `epoch`: (address, stake), in address order.
pub fn validator_set(
    state: &(impl StateRead + ?Sized),
    epoch: u64,
) -> Result<Vec<(Address, Amount)>> {
    let prefix = key(VALSET, &[&epoch.to_be_bytes()]);
    let mut out = Vec::new();
    for (k, v) in state.scan_prefix(&prefix)? {
        let addr = Address(
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad valset key"))?,
        );
        out.push((
            addr,
            mycel_primitives::codec::decode::<Amount>(&v)
                .map_err(|e| crate::state::corrupt(&k, e))?,
        ));
    }
    Ok(out)
}

/// Height of the last block whose finalization certificate a block on this chain carried
/// (0 if none has).
pub fn last_certified(state: &(impl StateRead + ?Sized)) -> Result<u64> {
    Ok(crate::state::read::<u64>(state, LAST_CERTIFIED)?.unwrap_or(0))
}

/// Liveness of `epoch` so far: the number of certificates its blocks carried, and per validator
/// (in address order) how many of them it signed.
pub fn liveness(
    state: &(impl StateRead + ?Sized),
    epoch: u64,
) -> Result<(u64, Vec<(Address, u64)>)> {
    let certified =
        crate::state::read::<u64>(state, &key(CERTIFIED, &[&epoch.to_be_bytes()]))?.unwrap_or(0);
    let prefix = key(SIGNED, &[&epoch.to_be_bytes()]);
    let mut signed = Vec::new();
    for (k, v) in state.scan_prefix(&prefix)? {
        let addr = Address(
            k[prefix.len()..]
                .try_into()
                .map_err(|_| crate::state::corrupt(&k, "bad signed key"))?,
        );
        let n =
            mycel_primitives::codec::decode::<u64>(&v).map_err(|e| crate::state::corrupt(&k, e))?;
        signed.push((addr, n));
    }
    Ok((certified, signed))
}
