//! The node side of light-client hand-offs ([`crate::light::Handoff`]): when an epoch's last
//! block is finalized here, the node records the block's finalization with a proof of the next
//! epoch's keys, made while the tree still holds that version; it serves the hand-offs of the
//! epochs whose end changed the set.

use crate::{
    Chain, Error, Result,
    block::{self, Certificate, Digest},
    light::Handoff,
};
use commonware_consensus::{
    Epochable,
    simplex::{scheme::ed25519::Scheme, types::Finalization},
};
use commonware_cryptography::Digestible as _;
use mycel_ledger::modules::staking;
use mycel_store::{StateRead as _, Store};

/// Store metadata name of `epoch`'s hand-off.
fn meta_name(epoch: u64) -> String {
    format!("handoff/{epoch:020}")
}

/// The recorded hand-off of `epoch`.
pub fn load(store: &Store, epoch: u64) -> Result<Option<Handoff>> {
    match store.meta(&meta_name(epoch))? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::InvalidBlock(format!("stored hand-off of epoch {epoch}: {e}"))),
    }
}

/// Records `handoff` (one the caller verified, e.g. received with a state snapshot).
pub fn save(store: &Store, handoff: &Handoff) -> Result<()> {
    let epoch = handoff
        .epoch()
        .ok_or_else(|| Error::InvalidBlock("hand-off certificate does not decode".into()))?;
    let bytes = serde_json::to_vec(handoff).expect("a hand-off serializes");
    Ok(store.put_meta(&meta_name(epoch), &bytes)?)
}

impl Chain {
    /// Records the hand-off of the epoch whose last block `finalization` finalizes (a no-op if
    /// it is recorded). Fails if that block is not committed here, or if the tree no longer
    /// holds its version (more than `mycel_store::KEEP_VERSIONS` blocks ago).
    pub fn record_handoff(&self, finalization: Finalization<Scheme, Digest>) -> Result<()> {
        let epoch = finalization.epoch().get();
        if load(self.store(), epoch)?.is_some() {
            return Ok(());
        }
        let height = self.last_of(epoch);
        let bytes = self
            .store()
            .block(height)?
            .ok_or_else(|| Error::InvalidBlock(format!("no block {height} to hand off from")))?;
        let b = block::decode(&bytes)
            .map_err(|e| Error::InvalidBlock(format!("stored block {height}: {e}")))?;
        if finalization.proposal.payload != b.digest() {
            return Err(Error::InvalidBlock(format!(
                "the finalization of epoch {epoch} is not of block {height}"
            )));
        }
        let key = staking::set_keys_key(epoch + 1);
        let (keys, proof) = self
            .finalized_state()?
            .get_unchanged_with_proof(&key, height)?;
        let keys = keys.ok_or_else(|| {
            Error::InvalidBlock(format!(
                "block {height} fixed no keys for epoch {}",
                epoch + 1
            ))
        })?;
        mycel_store::verify_state_proof(&b.state_root, &key, &keys, &proof)?;
        let mut certificate = Vec::new();
        commonware_codec::Write::write(
            &Certificate {
                height,
                finalization,
            },
            &mut certificate,
        );
        save(
            self.store(),
            &Handoff {
                header: b.header(),
                certificate,
                keys,
                proof,
            },
        )
    }

    /// Whether the end of `epoch` changes the validator set: the keys fixed for the next epoch
    /// differ from `epoch`'s (the genesis keys for epoch 0). Only such an epoch's hand-off is
    /// ever served ([`Chain::set_changes_since`]), so only it is recorded. `None` while the next
    /// epoch's keys are not fixed here.
    pub fn changes_set(&self, epoch: u64) -> Result<Option<bool>> {
        let state = self.finalized_state()?;
        let Some(next) = state.get(&staking::set_keys_key(epoch + 1))? else {
            return Ok(None);
        };
        let current = if epoch == 0 {
            Some(self.genesis_set_keys())
        } else {
            state.get(&staking::set_keys_key(epoch))?
        };
        Ok(Some(current.as_deref() != Some(&next[..])))
    }

    /// The genesis validators' keys as [`staking::encode_set_keys`] encodes a set.
    fn genesis_set_keys(&self) -> Vec<u8> {
        staking::encode_set_keys(
            self.genesis_validator_keys()
                .iter()
                .map(|k| k.as_ref().to_vec())
                .collect(),
        )
    }

    /// The hand-offs a light client that trusts the genesis validators needs to check a
    /// certificate of `epoch`: those of the epochs before it whose end changed the set, oldest
    /// first. Fails if one of them is not recorded here.
    pub fn set_changes(&self, epoch: u64) -> Result<Vec<Handoff>> {
        self.set_changes_since(0, epoch)
    }

    /// [`Chain::set_changes`] for a client that already holds the validators of epoch `from`
    /// (a checkpoint): only the hand-offs of epochs `from..epoch` that changed the set.
    pub fn set_changes_since(&self, from: u64, epoch: u64) -> Result<Vec<Handoff>> {
        let mut current = self.genesis_set_keys();
        let mut out = Vec::new();
        for (e, set) in staking::set_keys_history(&self.finalized_state()?)? {
            if e == 0 || e > epoch {
                continue;
            }
            if set != current {
                // The client holds epoch `from`'s set: changes into it or before it are known.
                if e > from {
                    out.push(load(self.store(), e - 1)?.ok_or_else(|| {
                        Error::InvalidBlock(format!(
                            "the hand-off of epoch {} is not held by this node",
                            e - 1
                        ))
                    })?);
                }
                current = set;
            }
        }
        Ok(out)
    }
}
