//! `mycel init`: a new home with a validator key, funded accounts and a genesis.

use crate::{
    Error, Home, Result,
    config::NodeConfig,
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
    // dev0..devN for people, `worker` for `mycel worker`, `auditor` for `mycel auditor`; the
    // validator key is funded too, to pay for its votes on disputes.
    let mut accounts: Vec<KeyFile> = (0..opts.accounts)
        .map(|i| ks.generate(&format!("dev{i}")))
        .collect::<Result<_>>()?;
    accounts.push(ks.generate("worker")?);
    accounts.push(ks.generate("auditor")?);
    accounts.push(validator.clone());
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

/// A local multi-validator network: one home per validator under a directory.
#[derive(Debug, serde::Serialize)]
pub struct Testnet {
    /// The homes, `node0`, `node1`, …
    pub homes: Vec<std::path::PathBuf>,
    /// Each node's HTTP API address.
    pub apis: Vec<std::net::SocketAddr>,
    /// The shared genesis.
    pub genesis: Genesis,
}

/// Creates `validators` validator homes and then `full_nodes` full-node homes under `dir` that
/// share one genesis and know each other as peers. Node `i` listens on
/// `127.0.0.1:base_port + 2i` (API) and `base_port + 2i + 1` (p2p). Every home holds the same
/// funded `dev*` keys; a full node's own key is its p2p identity, not a genesis validator.
pub fn init_testnet(
    dir: &std::path::Path,
    validators: usize,
    full_nodes: usize,
    base_port: u16,
    opts: &InitOptions,
) -> Result<Testnet> {
    if validators == 0 {
        return Err(Error::Invalid {
            what: "validators".into(),
            why: "at least one".into(),
        });
    }
    let nodes = validators + full_nodes;
    let homes: Vec<Home> = (0..nodes)
        .map(|i| Home(dir.join(format!("node{i}"))))
        .collect();
    for h in &homes {
        if h.is_initialised() && !opts.force {
            return Err(Error::Invalid {
                what: h.path().display().to_string(),
                why: "already initialised (pass --force)".into(),
            });
        }
        if h.path().exists() {
            std::fs::remove_dir_all(h.path()).map_err(io(h.path()))?;
        }
    }
    let port = |i: usize, k: u16| -> Result<u16> {
        base_port
            .checked_add(2 * i as u16 + k)
            .ok_or_else(|| Error::Invalid {
                what: "base port".into(),
                why: "port range overflows".into(),
            })
    };
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let stores: Vec<Keystore> = homes.iter().map(|h| Keystore::new(h.keys_dir())).collect();
    let vkeys: Vec<KeyFile> = stores
        .iter()
        .map(|ks| ks.generate("validator"))
        .collect::<Result<_>>()?;
    let accounts: Vec<KeyFile> = (0..opts.accounts)
        .map(|i| stores[0].generate(&format!("dev{i}")))
        .collect::<Result<_>>()?;
    for ks in &stores[1..] {
        for a in &accounts {
            ks.import(&a.name, &a.mnemonic)?;
        }
    }
    let mut genesis = Genesis {
        chain_id: opts.chain_id.clone(),
        accounts: accounts
            .iter()
            .map(|k| GenesisAccount {
                address: k.address,
                balance: opts.balance,
            })
            .collect(),
        validators: vkeys
            .iter()
            .take(validators)
            .map(|k| GenesisValidator {
                public_key: k.public_key.clone(),
                stake: Amount::from_myc(10_000),
            })
            .collect(),
        params: Default::default(),
    };
    genesis.params.rewards.epoch_length = opts.epoch_length;
    genesis.params.staking.unbonding_delay = opts.epoch_length;
    genesis.validate()?;
    let mut apis = Vec::new();
    for (i, h) in homes.iter().enumerate() {
        let gp = h.genesis_path();
        std::fs::write(&gp, genesis.to_toml()).map_err(io(&gp))?;
        let mut cfg = opts.config.clone();
        cfg.api_addr = addr(port(i, 0)?);
        cfg.p2p_addr = addr(port(i, 1)?);
        cfg.role = if i < validators {
            crate::config::Role::Validator
        } else {
            crate::config::Role::Full
        };
        cfg.peers = (0..nodes)
            .filter(|j| *j != i)
            .map(|j| {
                Ok(crate::config::Peer {
                    public_key: vkeys[j].public_key.clone(),
                    address: addr(port(j, 1)?),
                })
            })
            .collect::<Result<_>>()?;
        cfg.blob_peers = (0..nodes)
            .filter(|j| *j != i)
            .map(|j| Ok(format!("http://{}", addr(port(j, 0)?))))
            .collect::<Result<_>>()?;
        h.write_config(&cfg)?;
        apis.push(cfg.api_addr);
    }
    Ok(Testnet {
        homes: homes.into_iter().map(|h| h.0).collect(),
        apis,
        genesis,
    })
}
