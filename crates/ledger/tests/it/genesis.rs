//! Genesis validation, execution and file formats.

use crate::*;
use mycel_ledger::{
    genesis::GenesisValidator,
    modules::{rewards, staking::Role},
};

fn invalid(g: &Genesis) -> String {
    let e = g.validate().expect_err("genesis should be invalid");
    let Error::Genesis(msg) = &e else {
        panic!("expected a genesis error, got {e}")
    };
    // Execution refuses it the same way.
    assert!(matches!(execute_genesis(g), Err(Error::Genesis(_))));
    msg.clone()
}

#[test]
fn dev_genesis_is_valid_and_executes() {
    let g = Genesis::dev(CHAIN, 3);
    g.validate().unwrap();
    assert_eq!(g.accounts.len(), 8);
    assert_eq!(g.validators.len(), 3);
    let c = Chain::new(g.clone());
    for (i, acc) in g.accounts.iter().enumerate() {
        assert_eq!(acc.address, addr(&account(i)));
        assert_eq!(c.balance(&acc.address), Amount::from_myc(1_000_000));
    }
    let stake = Amount::from_myc(10_000);
    assert_eq!(
        c.supply(),
        Amount(8 * Amount::from_myc(1_000_000).0 + 3 * stake.0)
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
    assert_eq!(c.balance(&staking_mod::pool()), Amount(3 * stake.0));
    assert_eq!(
        staking_mod::total(&c.state, Role::Validator).unwrap(),
        Amount(3 * stake.0)
    );
    let mut set: Vec<_> = (0..3).map(|i| (c.validator(i), stake)).collect();
    set.sort();
    assert_eq!(staking_mod::validator_set(&c.state, 0).unwrap(), set);
    for i in 0..3 {
        assert_eq!(c.balance(&c.validator(i)), Amount::ZERO);
        assert_eq!(
            staking_mod::stake(&c.state, &c.validator(i), Role::Validator).unwrap(),
            stake
        );
    }
    assert_eq!(execute::chain_id(&c.state).unwrap(), CHAIN);
    assert_eq!(execute::params(&c.state).unwrap(), g.params);
    assert_eq!(execute::height(&c.state).unwrap(), 0);
    assert_eq!(c.burned(), Amount::ZERO);
    assert_eq!(rewards::summary(&c.state, 0).unwrap(), None);
    // Deterministic.
    assert_eq!(
        execute_genesis(&g).unwrap().writes,
        execute_genesis(&g).unwrap().writes
    );
    assert_eq!(g.digest(), Genesis::dev(CHAIN, 3).digest());
    assert_ne!(g.digest(), Genesis::dev("other", 3).digest());
}

#[test]
fn no_validators_is_rejected() {
    let mut g = Genesis::dev(CHAIN, 1);
    g.validators.clear();
    assert!(invalid(&g).contains("validator"));
}

#[test]
fn shares_must_sum_to_10000() {
    let mut g = Genesis::dev(CHAIN, 1);
    g.params.rewards.validator_bps += 1;
    assert!(invalid(&g).contains("10001"));
    let mut g = Genesis::dev(CHAIN, 1);
    g.params.rewards.worker_bps -= 1;
    assert!(invalid(&g).contains("9999"));
    // A different split that still sums to 10000 is fine.
    let mut g = Genesis::dev(CHAIN, 1);
    g.params.rewards.validator_bps = 10_000;
    g.params.rewards.worker_bps = 0;
    g.params.rewards.data_bps = 0;
    g.params.rewards.auditor_bps = 0;
    g.params.rewards.edge_bps = 0;
    g.validate().unwrap();
    // No u16 overflow: four large shares are summed wide.
    let mut g = Genesis::dev(CHAIN, 1);
    g.params.rewards.validator_bps = u16::MAX;
    g.params.rewards.worker_bps = u16::MAX;
    invalid(&g);
}

#[test]
fn chain_id_must_be_1_to_64_bytes() {
    let mut g = Genesis::dev(CHAIN, 1);
    g.chain_id = String::new();
    assert!(invalid(&g).contains("chain_id"));
    g.chain_id = "x".repeat(65);
    assert!(invalid(&g).contains("chain_id"));
    g.chain_id = "x".repeat(64);
    g.validate().unwrap();
}

#[test]
fn other_invalid_documents() {
    let mut g = Genesis::dev(CHAIN, 1);
    g.params.rewards.epoch_length = 0;
    assert!(invalid(&g).contains("epoch_length"));

    let mut g = Genesis::dev(CHAIN, 1);
    g.params.bank.fee_burn_bps = 10_001;
    assert!(invalid(&g).contains("fee_burn_bps"));

    let mut g = Genesis::dev(CHAIN, 2);
    g.validators[1] = g.validators[0].clone();
    assert!(invalid(&g).contains("duplicate"));

    let mut g = Genesis::dev(CHAIN, 1);
    g.validators[0].stake = Amount(g.params.staking.min_stake[0].0 - 1);
    assert!(invalid(&g).contains("minimum"));

    let mut g = Genesis::dev(CHAIN, 1);
    g.validators.push(GenesisValidator {
        public_key: "zz".into(),
        stake: Amount::from_myc(10_000),
    });
    invalid(&g);
    let mut g = Genesis::dev(CHAIN, 1);
    g.validators[0].public_key = "ab".repeat(16 + 1);
    invalid(&g);
}

#[test]
fn toml_round_trip() {
    let g = Genesis::dev(CHAIN, 2);
    let text = g.to_toml();
    assert!(text.contains("chain_id = \"test\""), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.toml");
    std::fs::write(&path, &text).unwrap();
    let back = Genesis::load(&path).unwrap();
    assert_eq!(back, g);
    assert_eq!(back.digest(), g.digest());
    // Any extension other than .json is read as TOML.
    let other = dir.path().join("genesis.txt");
    std::fs::write(&other, &text).unwrap();
    assert_eq!(Genesis::load(&other).unwrap(), g);
    // Non-default parameters survive too.
    let mut g2 = g.clone();
    g2.params.rewards.epoch_length = 7;
    g2.params.bank.min_fee = Amount(u128::MAX);
    g2.params.staking.min_stake[3] = Amount(1);
    std::fs::write(&path, g2.to_toml()).unwrap();
    assert_eq!(Genesis::load(&path).unwrap(), g2);
}

#[test]
fn json_round_trip() {
    let g = Genesis::dev(CHAIN, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, serde_json::to_string_pretty(&g).unwrap()).unwrap();
    assert_eq!(Genesis::load(&path).unwrap(), g);
}

#[test]
fn minimal_toml_uses_default_params() {
    let g = Genesis::dev(CHAIN, 1);
    let text = format!(
        "chain_id = \"mini\"\n\n[[validators]]\npublic_key = \"{}\"\nstake = \"{}\"\n",
        g.validators[0].public_key,
        Amount::from_myc(10_000).0
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.toml");
    std::fs::write(&path, text).unwrap();
    let back = Genesis::load(&path).unwrap();
    assert_eq!(back.chain_id, "mini");
    assert!(back.accounts.is_empty());
    assert_eq!(back.params, Params::default());
}

#[test]
fn load_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Genesis::load(&dir.path().join("missing.toml")),
        Err(Error::Genesis(_))
    ));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "chain_id = [").unwrap();
    assert!(matches!(Genesis::load(&bad), Err(Error::Genesis(_))));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, Genesis::dev(CHAIN, 1).to_toml()).unwrap();
    assert!(
        matches!(Genesis::load(&bad), Err(Error::Genesis(_))),
        "a .json file is parsed as JSON"
    );
    // Well-formed but invalid documents are rejected on load.
    let mut g = Genesis::dev(CHAIN, 1);
    g.validators.clear();
    let invalid = dir.path().join("invalid.toml");
    std::fs::write(&invalid, g.to_toml()).unwrap();
    assert!(matches!(Genesis::load(&invalid), Err(Error::Genesis(_))));
}
