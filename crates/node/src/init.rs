//! `mycel init`: a new home with a validator key, funded accounts and a genesis.

use crate::{
    Error, Result,
    config::{Home, NodeConfig},
    error::io,
    keystore::{KeyFile, Keystore},
};
use mycel_ledger::genesis::{Genesis, GenesisAccount, GenesisValidator};
use mycel_primitives::Amount;

/// Options of `mycel init`.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Chain id.
    pub chain_id: String,
    /// Number of funded development accounts (`dev0`, `dev1`, …).
    pub accounts: usize,
    /// Balance of each account.
    pub balance: Amount,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Overwrite an existing home.
    pub force: bool,
    /// Node configuration to write.
    pub config: NodeConfig,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chain_id: "mycel-devnet-1".into(),
            accounts: 4,
            balance: Amount::from_myc(1_000_000),
            epoch_length: 20,
            force: false,
            config: NodeConfig::default(),
        }
    }
}

/// What `init` created.
#[derive(Debug, serde::Serialize)]
pub struct Initialised {
    /// The validator key.
    pub validator: KeyFile,
    /// The funded accounts.
    pub accounts: Vec<KeyFile>,
    /// The genesis.
    pub genesis: Genesis,
}

/// Creates a home: keystore with `validator` and `dev0..devN`, `genesis.toml`, `config.toml`.
pub fn init(home: &Home, opts: &InitOptions) -> Result<Initialised> {
    if home.is_initialised() {
        if !opts.force {
            return Err(Error::Invalid {
                what: home.path().display().to_string(),
                why: "already initialised (pass --force to overwrite)".into(),
            });
        }
        for p in [home.keys_dir(), home.data_dir()] {
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            }
        }
    }
    std::fs::create_dir_all(home.path()).map_err(io(home.path()))?;
    let ks = Keystore::new(home.keys_dir());
    let validator = ks.generate("validator")?;
    let accounts: Vec<KeyFile> = (0..opts.accounts)
        .map(|i| ks.generate(&format!("dev{i}")))
        .collect::<Result<_>>()?;
    let mut genesis = Genesis {
        chain_id: opts.chain_id.clone(),
        accounts: accounts
            .iter()
            .map(|k| GenesisAccount {
                address: k.address,
                balance: opts.balance,
            })
            .collect(),
        validators: vec![GenesisValidator {
            public_key: validator.public_key.clone(),
            stake: Amount::from_myc(10_000),
        }],
        params: Default::default(),
    };
    genesis.params.rewards.epoch_length = opts.epoch_length;
    genesis.params.staking.unbonding_delay = opts.epoch_length;
    genesis.validate()?;
    let gp = home.genesis_path();
    std::fs::write(&gp, genesis.to_toml()).map_err(io(&gp))?;
    home.write_config(&opts.config)?;
    Ok(Initialised {
        validator,
        accounts,
        genesis,
    })
}
