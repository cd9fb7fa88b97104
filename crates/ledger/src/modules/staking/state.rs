//! Stored types and state keys of the `staking` module.

use super::role::*;
use crate::state::key;
use mycel_primitives::Address;

pub(super) const STAKE: &[u8] = b"staking/stake/";

pub(super) const TOTAL: &[u8] = b"staking/total/";

pub(super) const UNBOND: &[u8] = b"staking/unbond/";

pub(super) const JAIL: &[u8] = b"staking/jail/";
/// Validators slashed for equivocation, never to validate again: address → view of the votes.
pub(super) const TOMBSTONE: &[u8] = b"staking/tombstone/";

pub(super) const VALSET: &[u8] = b"staking/valset/";
/// `staking/setkeys/<epoch BE>` → the consensus keys of the epoch's validators, 32 bytes each in
/// ascending byte order: one entry, so one state proof shows a light client the whole set.
pub(super) const SET_KEYS: &[u8] = b"staking/setkeys/";
/// Consensus public key of each account that bonded as a validator: address → 32 bytes.
pub(super) const CONSENSUS_KEY: &[u8] = b"staking/key/";

/// `staking/signed/<epoch BE><addr>` → finalization certificates of the epoch's blocks the
/// validator signed (u64).
pub(super) const SIGNED: &[u8] = b"staking/signed/";

/// `staking/certified/<epoch BE>` → finalization certificates carried by the epoch's blocks (u64).
pub(super) const CERTIFIED: &[u8] = b"staking/certified/";

/// `staking/last_certified` → height of the last block whose certificate a block carried (u64).
pub(super) const LAST_CERTIFIED: &[u8] = b"staking/last_certified";

/// `staking/lock/<addr><role>` → open obligations (u64): results awaiting settlement, audits,
/// disputes. Stake with open obligations cannot be unbonded, so a cheater cannot walk away
/// from a pending slash.
pub(super) const LOCK: &[u8] = b"staking/lock/";

/// Obligations that keep a stake bonded without counting as open results (sessions whose
/// receipts can still be disputed).
pub(super) const HOLD: &[u8] = b"staking/hold/";

/// The account that holds bonded and unbonding stake.
pub fn pool() -> Address {
    Address::module("staking")
}

pub(super) fn stake_key(a: &Address, r: Role) -> Vec<u8> {
    key(STAKE, &[&a.0, &[r as u8]])
}
