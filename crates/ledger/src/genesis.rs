//! Genesis: the chain's initial accounts, validators and parameters, from TOML or JSON.

pub use crate::params::Params;

use crate::{Error, Result};
use commonware_cryptography::Signer;
use mycel_primitives::{
    Address, Amount, Hash, PrivateKey, PublicKey,
    hash::{Domain, hash},
    keys::{private_key_from_seed, public_key_from_bytes},
};
use std::path::Path;

/// A funded account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenesisAccount {
    /// Address.
    pub address: Address,
    /// Initial balance, base units.
    pub balance: Amount,
}

/// A genesis validator. Its account is credited `stake` and the stake is bonded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenesisValidator {
    /// ed25519 public key, hex; also the consensus key.
    pub public_key: String,
    /// Bonded stake, base units.
    pub stake: Amount,
}

impl GenesisValidator {
    /// Parsed public key.
    pub fn key(&self) -> Result<PublicKey> {
        let bytes = hex::decode(&self.public_key)
            .map_err(|e| Error::Genesis(format!("validator key: {e}")))?;
        public_key_from_bytes(&bytes).map_err(|e| Error::Genesis(format!("validator key: {e}")))
    }
}

/// The genesis document.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Genesis {
    /// Chain id, signed into every transaction.
    pub chain_id: String,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Initial validators.
    pub validators: Vec<GenesisValidator>,
    /// Parameters.
    #[serde(default)]
    pub params: Params,
}

impl Genesis {
    /// Reads a genesis file (`.json`, otherwise TOML).
    pub fn load(path: &Path) -> Result<Genesis> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Genesis(format!("{}: {e}", path.display())))?;
        let g: Genesis = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text)
                .map_err(|e| Error::Genesis(format!("{}: {e}", path.display())))?
        } else {
            toml::from_str(&text).map_err(|e| Error::Genesis(format!("{}: {e}", path.display())))?
        };
        g.validate()?;
        Ok(g)
    }

    /// TOML text of this genesis.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("genesis serializes")
    }

    /// Checks the document for errors a chain could not start with.
    pub fn validate(&self) -> Result<()> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err(Error::Genesis("chain_id must be 1..=64 bytes".into()));
        }
        if self.validators.is_empty() {
            return Err(Error::Genesis("at least one validator is required".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in &self.validators {
            let k = v.key()?;
            if !seen.insert(Address::from_public_key(&k)) {
                return Err(Error::Genesis(format!(
                    "duplicate validator {}",
                    v.public_key
                )));
            }
            if v.stake < self.params.staking.min_stake[0] {
                return Err(Error::Genesis(format!(
                    "validator {} stake below the minimum",
                    v.public_key
                )));
            }
        }
        let p = &self.params;
        if p.staking.max_validators == 0 {
            return Err(Error::Genesis("max_validators must be positive".into()));
        }
        if p.rewards.epoch_length == 0 {
            return Err(Error::Genesis("epoch_length must be positive".into()));
        }
        let bps = p.rewards.validator_bps as u32
            + p.rewards.worker_bps as u32
            + p.rewards.data_bps as u32
            + p.rewards.auditor_bps as u32
            + p.rewards.edge_bps as u32;
        if bps != 10_000 {
            return Err(Error::Genesis(format!(
                "emission shares sum to {bps} bps, expected 10000"
            )));
        }
        if p.bank.fee_burn_bps > 10_000 {
            return Err(Error::Genesis("fee_burn_bps above 10000".into()));
        }
        Ok(())
    }

    /// The genesis digest: the parent of block 1.
    pub fn digest(&self) -> Hash {
        hash(
            Domain::Block,
            serde_json::to_string(self)
                .expect("genesis serializes")
                .as_bytes(),
        )
    }

    /// Validator public keys in genesis order.
    pub fn validator_keys(&self) -> Result<Vec<PublicKey>> {
        self.validators.iter().map(|v| v.key()).collect()
    }

    /// A development genesis with `validators` validators and eight funded accounts, all with
    /// deterministic keys from [`dev_key`]. Never use these keys outside tests.
    pub fn dev(chain_id: &str, validators: usize) -> Genesis {
        let vkeys: Vec<PublicKey> = (0..validators)
            .map(|i| dev_key("validator", i).public_key())
            .collect();
        let akeys: Vec<PublicKey> = (0..8).map(|i| dev_key("account", i).public_key()).collect();
        Genesis::build(chain_id, &vkeys, &akeys, Amount::from_myc(1_000_000))
    }

    /// A genesis with the given validator keys (each bonding 10,000 MYC) and funded accounts.
    pub fn build(
        chain_id: &str,
        validators: &[PublicKey],
        accounts: &[PublicKey],
        balance: Amount,
    ) -> Genesis {
        let params = Params::default();
        Genesis {
            chain_id: chain_id.to_string(),
            accounts: accounts
                .iter()
                .map(|k| GenesisAccount {
                    address: Address::from_public_key(k),
                    balance,
                })
                .collect(),
            validators: validators
                .iter()
                .map(|k| GenesisValidator {
                    public_key: hex::encode(k.as_ref()),
                    stake: Amount::from_myc(10_000),
                })
                .collect(),
            params,
        }
    }
}

/// A deterministic development key (`kind` = "validator" or "account").
pub fn dev_key(kind: &str, i: usize) -> PrivateKey {
    private_key_from_seed(format!("mycel dev {kind} {i}").as_bytes())
}
