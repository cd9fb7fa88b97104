//! Golden vectors: the exact bytes of every ledger wire and stored type, one fixed instance per
//! type and per enum variant.
//!
//! The literals were produced by the codec as it stood before the codec impls were generated
//! from field lists; any change to them is a wire-format change (a hard fork), not a refactor.
//! Each instance uses distinct non-default values per field so that a reordered, dropped or
//! resized field changes the bytes.

use mycel_ledger::{
    Event, Message, Receipt, Tx, TxBody,
    events::{decode_events, encode_events},
    modules::{
        agent, bank, data,
        market::{self, JobKind, JobStatus, SessionMsg},
        model,
        rewards::EpochSummary,
        staking::{self, Role},
    },
};
use mycel_primitives::{
    Address, Amount, Hash,
    codec::{Encode, Read, decode},
    keys::{private_key_from_seed, public_key},
    merkle::InclusionProof,
};
use std::fmt::Debug;

/// A hash whose bytes count up from `start`, so two fields never share a value.
pub fn h(start: u8) -> Hash {
    Hash(std::array::from_fn(|i| start.wrapping_add(i as u8)))
}

/// An address whose bytes count up from `start`.
pub fn a(start: u8) -> Address {
    Address(std::array::from_fn(|i| start.wrapping_add(i as u8)))
}

/// Checks that `value` encodes to `expected` (hex), that its size is announced correctly and
/// that the bytes decode back to `value`.
fn check<T: Encode + Read<Cfg = ()> + PartialEq + Debug>(name: &str, value: &T, expected: &str) {
    let bytes = value.encode();
    let actual = hex::encode(&bytes);
    if actual != expected {
        eprintln!("GOLDEN {name} {actual}");
    }
    assert_eq!(actual, expected, "{name}: encoding changed");
    assert_eq!(bytes.len(), value.encode_size(), "{name}: encode_size");
    let back = decode::<T>(&hex::decode(expected).unwrap())
        .unwrap_or_else(|e| panic!("{name}: golden bytes no longer decode: {e}"));
    assert_eq!(&back, value, "{name}: decoding changed");
}

/// Checks a message both as a module message (`inner`) and as a [`Message`] (`outer`): the outer
/// encoding is the module tag followed by the inner encoding.
fn check_msg<M: Encode + Read<Cfg = ()> + PartialEq + Debug>(
    name: &str,
    inner: &M,
    outer: Message,
    expected: &str,
) {
    check(name, &outer, expected);
    let bytes = hex::decode(expected).unwrap();
    assert_eq!(
        hex::encode(inner.encode()),
        hex::encode(&bytes[1..]),
        "{name}: inner message"
    );
    assert_eq!(
        &decode::<M>(&bytes[1..]).unwrap(),
        inner,
        "{name}: inner decode"
    );
}

macro_rules! golden {
    ($name:ident, $value:expr, $hex:expr) => {
        #[test]
        fn $name() {
            check(stringify!($name), &$value, $hex);
        }
    };
}

macro_rules! golden_msg {
    ($name:ident, $wrap:path, $inner:expr, $hex:expr) => {
        #[test]
        fn $name() {
            let inner = $inner;
            check_msg(stringify!($name), &inner, $wrap(inner.clone()), $hex);
        }
    };
}

// ---- primitives -------------------------------------------------------------------------------

golden!(
    primitive_hash,
    h(0x10),
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
);
golden!(
    primitive_address,
    a(0x20),
    "202122232425262728292a2b2c2d2e2f30313233"
);
golden!(
    primitive_amount,
    Amount(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
    "0102030405060708090a0b0c0d0e0f10"
);

// ---- stored scalar values (nonces, heights, ids, reputation, units, jail terms) ---------------

golden!(stored_u64, 0x0102_0304_0506_0708u64, "0102030405060708");
golden!(
    stored_amount_myc,
    Amount::from_myc(1_234),
    "00000000000000000000011f5021b400"
);

// ---- bank -------------------------------------------------------------------------------------

golden_msg!(
    bank_transfer,
    Message::Bank,
    bank::Msg::Transfer {
        to: a(0x30),
        amount: Amount(1_000_000_007),
    },
    "0100303132333435363738393a3b3c3d3e3f404142430000000000000000000000003b9aca07"
);
golden_msg!(
    bank_burn,
    Message::Bank,
    bank::Msg::Burn {
        amount: Amount(424_242),
    },
    "010100000000000000000000000000067932"
);

// ---- staking ----------------------------------------------------------------------------------

golden_msg!(
    staking_bond_validator,
    Message::Staking,
    staking::Msg::Bond {
        role: Role::Validator,
        amount: Amount(5_000_000_001),
    },
    "0200000000000000000000000000012a05f201"
);
golden_msg!(
    staking_bond_worker,
    Message::Staking,
    staking::Msg::Bond {
        role: Role::Worker,
        amount: Amount(77),
    },
    "0200010000000000000000000000000000004d"
);
golden_msg!(
    staking_unbond_auditor,
    Message::Staking,
    staking::Msg::Unbond {
        role: Role::Auditor,
        amount: Amount(3_000_000_003),
    },
    "020102000000000000000000000000b2d05e03"
);
golden_msg!(
    staking_unbond_edge,
    Message::Staking,
    staking::Msg::Unbond {
        role: Role::Edge,
        amount: Amount(9),
    },
    "02010300000000000000000000000000000009"
);
golden_msg!(
    staking_unjail,
    Message::Staking,
    staking::Msg::Unjail,
    "0202"
);

// ---- model ------------------------------------------------------------------------------------

/// A model registration with every field set.
pub fn model_registration() -> model::Registration {
    model::Registration {
        id: h(0x11),
        name: "SmolLM2-135M-ft7".into(),
        kind: model::ModelKind::Adapter,
        parents: vec![h(0x21)],
        datasets: vec![h(0x31), h(0x41)],
        files: h(0x51),
        license: "LicenseRef-acme".into(),
        license_text: h(0x61),
        access: model::Access::Gated,
        card: h(0x71),
        card_bytes: 4_097,
    }
}

golden_msg!(
    model_register,
    Message::Model,
    model::Msg::Register(Box::new(model_registration())),
    "07001112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3010536d6f6c4c4d322d3133354d2d66743702012122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40023132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f504142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f700f4c6963656e73655265662d61636d656162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80017172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9000001001"
);
golden_msg!(
    model_grant,
    Message::Model,
    model::Msg::Grant {
        model: h(0x11),
        grantee: a(0xa0),
    },
    "07011112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
);
golden!(
    model_version,
    model::Version {
        registration: model_registration(),
        owner: a(0xa0),
        height: 12_345,
        job: Some(7),
        attested: true,
        attribution: vec![h(0x31), h(0x41)],
    },
    "1112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3010536d6f6c4c4d322d3133354d2d66743702012122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40023132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f504142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f700f4c6963656e73655265662d61636d656162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80017172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9000001001a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3000000000000303901000000000000000701023132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f504142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"
);

// ---- agent ------------------------------------------------------------------------------------

/// A tool registration with every field set (the manifest is opaque bytes to the codec).
pub fn agent_registration() -> agent::Registration {
    agent::Registration {
        kind: agent::Kind::Tool,
        manifest: br#"{"name":"t"}"#.to_vec(),
        endpoint: "http://127.0.0.1:9".into(),
        price: Amount(1_000),
        bond: Amount(100_000_000),
        owner_key: h(0x11).0.to_vec(),
        signature: [h(0x21).0, h(0x41).0].concat(),
    }
}

golden_msg!(
    agent_register,
    Message::Agent,
    agent::Msg::Register(Box::new(agent_registration())),
    "0800000c7b226e616d65223a2274227d12687474703a2f2f3132372e302e302e313a39000000000000000000000000000003e800000000000000000000000005f5e100201112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30402122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"
);
golden_msg!(
    agent_deregister,
    Message::Agent,
    agent::Msg::Deregister { id: h(0x11) },
    "08011112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30"
);
golden_msg!(
    agent_challenge,
    Message::Agent,
    agent::Msg::Challenge {
        id: h(0x11),
        advertised: h(0x21),
        provider_key: h(0x31).0.to_vec(),
        signature: [h(0x41).0, h(0x51).0].concat(),
    },
    "08021112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f302122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40203132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70"
);
golden!(
    agent_entry,
    agent::Entry {
        id: h(0x11),
        kind: agent::Kind::Agent,
        name: "Dedup Planner".into(),
        owner: a(0xa0),
        owner_key: h(0x21).0.to_vec(),
        manifest: h(0x31),
        version: 3,
        endpoint: "https://a.example/x".into(),
        price: Amount(1_000),
        bond: Amount(100_000_000),
        registered: 5,
        updated: 9,
        calls: 10_000,
        earned: Amount(9_500_000),
        disputes_lost: 1,
        reputation: 150,
        sessions: 2,
        status: agent::Status::Retired,
    },
    "1112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30010d446564757020506c616e6e6572a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f403132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50000000031368747470733a2f2f612e6578616d706c652f78000000000000000000000000000003e800000000000000000000000005f5e1000000000000000005000000000000000900000000000027100000000000000000000000000090f56000000000000000010000000000000096000000000000000201"
);
golden!(
    agent_doc,
    agent::Doc {
        entry: h(0x11),
        version: 2,
        height: 77,
        manifest: br#"{"name":"t"}"#.to_vec(),
        signature: [h(0x21).0, h(0x41).0].concat(),
    },
    "1112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3000000002000000000000004d0c7b226e616d65223a2274227d402122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"
);

// ---- data -------------------------------------------------------------------------------------

/// A registration with every field set.
pub fn registration() -> data::Registration {
    data::Registration {
        root: h(0x40),
        records: 1_001,
        bytes: 2_000_003,
        profile: "text-v1".into(),
        minhash_root: h(0x50),
        signatures: h(0x58),
        manifest: h(0x60),
        license: "CC-BY-4.0".into(),
        consent: data::CONSENT_TRAIN | data::CONSENT_REDISTRIBUTE,
        parents: vec![h(0x70), h(0x80)],
        novel_root: h(0x90),
        novel_records: 501,
        novel_bytes: 700_009,
        bond: Amount::from_myc(11),
    }
}

golden!(
    data_registration,
    registration(),
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f00000000000003e900000000001e848307746578742d7631505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374757677606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f0943432d42592d342e300502707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000000000001f500000000000aae690000000000000000000000028fa6ae00"
);
golden!(
    data_dataset,
    data::Dataset {
        registration: registration(),
        contributor: a(0xa0),
        height: 12_345,
        seq: 7,
        challenged: true,
        bond_locked: true,
    },
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f00000000000003e900000000001e848307746578742d7631505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374757677606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f0943432d42592d342e300502707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000000000001f500000000000aae690000000000000000000000028fa6ae00a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3000000000000303900000000000000070101"
);
golden_msg!(
    data_register_dataset,
    Message::Data,
    data::Msg::RegisterDataset(Box::new(registration())),
    "0400404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f00000000000003e900000000001e848307746578742d7631505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374757677606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f0943432d42592d342e300502707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000000000001f500000000000aae690000000000000000000000028fa6ae00"
);
golden_msg!(
    data_update_consent,
    Message::Data,
    data::Msg::UpdateConsent {
        dataset: h(0xb0),
        consent: data::CONSENT_COMMERCIAL,
    },
    "0401b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf02"
);
golden_msg!(
    data_challenge_novelty,
    Message::Data,
    data::Msg::ChallengeNovelty {
        dataset: h(0xc0),
        leaf: (0..40u8).collect(),
        novel_proof: InclusionProof {
            index: 3,
            size: 9,
            path: vec![h(0xd0), h(0xe0)],
        },
        earlier: h(0xf0),
        earlier_leaf: (100..133u8).collect(),
        earlier_proof: InclusionProof {
            index: 5,
            size: 6,
            path: vec![h(0x01)],
        },
    },
    "0402c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf28000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526270000000000000003000000000000000902d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeefe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f216465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838400000000000000050000000000000006010102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
);

golden_msg!(
    data_challenge_near_duplicate,
    Message::Data,
    data::Msg::ChallengeNearDuplicate {
        dataset: h(0xc0),
        record: b"a record".to_vec(),
        novel_proof: InclusionProof {
            index: 3,
            size: 9,
            path: vec![h(0xd0)],
        },
        earlier: h(0xf0),
        earlier_record: b"an earlier record".to_vec(),
        earlier_proof: InclusionProof {
            index: 0,
            size: 1,
            path: vec![],
        },
    },
    "0403c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf0861207265636f72640000000000000003000000000000000901d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f11616e206561726c696572207265636f72640000000000000000000000000000000100"
);

// ---- market -----------------------------------------------------------------------------------

/// An offer with every field set.
pub fn offer() -> market::Offer {
    market::Offer {
        kinds: 0b1011,
        models: vec![h(0x11), h(0x21)],
        hardware: "cpu-2c".into(),
        price_per_unit: Amount(12_345_678),
        endpoint: "http://worker.example:7070".into(),
        licenses: "Apache-2.0".into(),
    }
}

/// A job with every field set, in `status`.
pub fn job(kind: JobKind, status: JobStatus) -> market::Job {
    market::Job {
        id: 4_242,
        poster: a(0x31),
        kind,
        model: h(0x41),
        input: h(0x51),
        params: br#"{"max_tokens":64}"#.to_vec(),
        max_fee: Amount(9_000_000_009),
        deadline_blocks: 50,
        status,
        worker: a(0x61),
        price_per_unit: Amount(333),
        due: 1_777,
        attempts: 2,
        output: h(0x71),
        units: 8_080,
        trace_root: h(0x81),
        trace_len: 150,
        seed: h(0x91),
        fee: Amount(2_690_640),
    }
}

/// A session receipt with every field set.
pub fn session_receipt() -> market::Receipt {
    market::Receipt {
        session: 17,
        seq: 4,
        model: h(0x02),
        input_hash: h(0x12),
        output_hash: h(0x22),
        tokens: 256,
        price: Amount(100),
        amount: Amount(25_600),
        cumulative: Amount(51_200),
    }
}

golden!(
    market_offer,
    offer(),
    "0b021112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f302122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40066370752d326300000000000000000000000000bc614e1a687474703a2f2f776f726b65722e6578616d706c653a373037300a4170616368652d322e30"
);
golden!(
    market_job_generate_assigned,
    job(JobKind::Generate, JobStatus::Assigned),
    "00000000000010923132333435363738393a3b3c3d3e3f4041424344004142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70117b226d61785f746f6b656e73223a36347d00000000000000000000000218711a090000000000000032006162636465666768696a6b6c6d6e6f70717273740000000000000000000000000000014d00000000000006f1000000027172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f900000000000001f908182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa000000000000000969192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb000000000000000000000000000290e50"
);
golden!(
    market_job_embed_committed,
    job(JobKind::Embed, JobStatus::Committed),
    "00000000000010923132333435363738393a3b3c3d3e3f4041424344014142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70117b226d61785f746f6b656e73223a36347d00000000000000000000000218711a090000000000000032016162636465666768696a6b6c6d6e6f70717273740000000000000000000000000000014d00000000000006f1000000027172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f900000000000001f908182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa000000000000000969192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb000000000000000000000000000290e50"
);
golden!(
    market_job_finetune_settled,
    job(JobKind::Finetune, JobStatus::Settled),
    "00000000000010923132333435363738393a3b3c3d3e3f4041424344024142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70117b226d61785f746f6b656e73223a36347d00000000000000000000000218711a090000000000000032026162636465666768696a6b6c6d6e6f70717273740000000000000000000000000000014d00000000000006f1000000027172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f900000000000001f908182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa000000000000000969192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb000000000000000000000000000290e50"
);
golden!(
    market_job_dedup_failed,
    job(JobKind::Dedup, JobStatus::Failed),
    "00000000000010923132333435363738393a3b3c3d3e3f4041424344034142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f605152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70117b226d61785f746f6b656e73223a36347d00000000000000000000000218711a090000000000000032036162636465666768696a6b6c6d6e6f70717273740000000000000000000000000000014d00000000000006f1000000027172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f900000000000001f908182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa000000000000000969192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb000000000000000000000000000290e50"
);
golden!(
    market_session_receipt,
    session_receipt(),
    "0000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c800"
);
golden!(
    market_session,
    market::Session {
        id: 17,
        client: a(0x32),
        worker: a(0x42),
        model: h(0x52),
        deposit: Amount(1_000_000),
        price_per_token: Amount(100),
        expires: 9_999,
        receipts_root: h(0x62),
        count: 5,
        total: Amount(128_000),
        refunded: Amount(25_600),
        closed: true,
    },
    "000000000000001132333435363738393a3b3c3d3e3f40414243444542434445464748494a4b4c4d4e4f50515253545552535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071000000000000000000000000000f424000000000000000000000000000000064000000000000270f62636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808100000000000000050000000000000000000000000001f4000000000000000000000000000000640001"
);
golden_msg!(
    market_offer_msg,
    Message::Market,
    market::Msg::Offer(Box::new(offer())),
    "05000b021112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f302122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40066370752d326300000000000000000000000000bc614e1a687474703a2f2f776f726b65722e6578616d706c653a373037300a4170616368652d322e30"
);
golden_msg!(
    market_close_offer,
    Message::Market,
    market::Msg::CloseOffer,
    "0501"
);
golden_msg!(
    market_post_job_generate,
    Message::Market,
    market::Msg::PostJob {
        kind: JobKind::Generate,
        model: h(0x13),
        input: h(0x23),
        params: br#"{"temperature":0}"#.to_vec(),
        max_fee: Amount(7_000_000_007),
        deadline_blocks: 30,
    },
    "050200131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142117b2274656d7065726174757265223a307d000000000000000000000001a13b8607000000000000001e"
);
golden_msg!(
    market_post_job_embed,
    Message::Market,
    market::Msg::PostJob {
        kind: JobKind::Embed,
        model: h(0x14),
        input: h(0x24),
        params: b"{}".to_vec(),
        max_fee: Amount(6),
        deadline_blocks: 31,
    },
    "0502011415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132332425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243027b7d00000000000000000000000000000006000000000000001f"
);
golden_msg!(
    market_post_job_finetune,
    Message::Market,
    market::Msg::PostJob {
        kind: JobKind::Finetune,
        model: h(0x15),
        input: h(0x25),
        params: br#"{"rank":8}"#.to_vec(),
        max_fee: Amount(5_000_000_005),
        deadline_blocks: 32,
    },
    "05020215161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243440a7b2272616e6b223a387d0000000000000000000000012a05f2050000000000000020"
);
golden_msg!(
    market_post_job_dedup,
    Message::Market,
    market::Msg::PostJob {
        kind: JobKind::Dedup,
        model: h(0x16),
        input: h(0x26),
        params: br#"{"threshold":80}"#.to_vec(),
        max_fee: Amount(4),
        deadline_blocks: 33,
    },
    "050203161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445107b227468726573686f6c64223a38307d000000000000000000000000000000040000000000000021"
);
golden_msg!(
    market_commit_result,
    Message::Market,
    market::Msg::CommitResult {
        job: 4_242,
        output: h(0x17),
        units: 8_080,
        trace_root: h(0x27),
        trace_len: 150,
    },
    "050300000000000010921718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435360000000000001f902728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445460000000000000096"
);

// ---- market sessions --------------------------------------------------------------------------

/// The session messages, one per variant, each checked standalone, as a market message and as a
/// [`Message`].
fn check_session(name: &str, m: SessionMsg, expected: &str) {
    check_msg(
        name,
        &market::Msg::Session(m.clone()),
        Message::Market(market::Msg::Session(m.clone())),
        expected,
    );
    let bytes = hex::decode(expected).unwrap();
    assert_eq!(
        hex::encode(m.encode()),
        hex::encode(&bytes[2..]),
        "{name}: session msg"
    );
    assert_eq!(decode::<SessionMsg>(&bytes[2..]).unwrap(), m, "{name}");
}

#[test]
fn session_open() {
    check_session(
        "session_open",
        SessionMsg::Open {
            worker: a(0x18),
            model: h(0x28),
            deposit: Amount(1_000_001),
            duration_blocks: 600,
        },
        "05040018191a1b1c1d1e1f202122232425262728292a2b28292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344454647000000000000000000000000000f42410000000000000258",
    );
}

#[test]
fn session_settle() {
    check_session(
        "session_settle",
        SessionMsg::Settle {
            session: 17,
            receipts_root: h(0x38),
            count: 5,
            total: Amount(128_000),
            last: session_receipt(),
            proof: InclusionProof {
                index: 4,
                size: 5,
                path: vec![h(0x48)],
            },
        },
        "050401000000000000001138393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565700000000000000050000000000000000000000000001f4000000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c800000000000000000400000000000000050148494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667",
    );
}

#[test]
fn session_dispute() {
    check_session(
        "session_dispute",
        SessionMsg::Dispute {
            receipt: session_receipt(),
            worker_key: (0..32u8).collect(),
            signature: (64..128u8).collect(),
        },
        "0504020000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c80020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f40404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f",
    );
}

#[test]
fn session_answer() {
    check_session(
        "session_answer",
        SessionMsg::Answer {
            receipt: session_receipt(),
            proof: InclusionProof {
                index: 4,
                size: 5,
                path: vec![h(0x48), h(0x58), h(0x68)],
            },
            client_key: (0..32u8).collect(),
            request_signature: (64..128u8).collect(),
        },
        "0504030000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c800000000000000000400000000000000050348494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868720000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f40404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f",
    );
}

#[test]
fn session_unrequested() {
    check_session(
        "session_unrequested",
        SessionMsg::Unrequested {
            session: 17,
            seq: 4,
        },
        "05040500000000000000110000000000000004",
    );
}

#[test]
fn session_top_up() {
    check_session(
        "session_top_up",
        SessionMsg::TopUp {
            session: 17,
            amount: Amount(1_000),
            extend_blocks: 600,
        },
        "0504060000000000000011000000000000000000000000000003e80000000000000258",
    );
}

#[test]
fn session_jump() {
    check_session(
        "session_jump",
        SessionMsg::Jump {
            previous: Box::new(session_receipt()),
            previous_signature: (64..128u8).collect(),
            receipt: Box::new(session_receipt()),
            signature: (128..192u8).collect(),
            worker_key: (0..32u8).collect(),
        },
        "0504070000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c80040404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f0000000000000011000000000000000402030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041000000000000010000000000000000000000000000000064000000000000000000000000000064000000000000000000000000000000c80040808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );
}

#[test]
fn session_close() {
    check_session(
        "session_close",
        SessionMsg::Close { session: 17 },
        "0504040000000000000011",
    );
}

// ---- rewards ----------------------------------------------------------------------------------

golden!(
    rewards_epoch_summary,
    EpochSummary {
        emission: Amount(1_000_000_000_001),
        validators: Amount(200_000_000_002),
        fees: Amount(30_003),
        workers: Amount(500_000_000_004),
        data: Amount(200_000_000_005),
        auditors: Amount(100_000_000_007),
        edge: Amount(50_000_000_008),
        reserved: Amount(100_000_000_006),
        validator_count: 7,
    },
    "0000000000000000000000e8d4a5100100000000000000000000002e90edd002000000000000000000000000000075330000000000000000000000746a52880400000000000000000000002e90edd0050000000000000000000000174876e80700000000000000000000000ba43b74080000000000000000000000174876e80600000007"
);

// ---- events and receipts ----------------------------------------------------------------------

/// An event with two attributes.
pub fn event() -> Event {
    Event::new(
        "bank.transfer",
        &[("from", "alice".to_string()), ("amount", "42".to_string())],
    )
}

golden!(
    event_with_attrs,
    event(),
    "0d62616e6b2e7472616e73666572000000020466726f6d05616c69636506616d6f756e74023432"
);
golden!(
    receipt_success,
    Receipt {
        tx_hash: h(0x19),
        success: true,
        code: String::new(),
        error: String::new(),
        fee: Amount(10_370),
        events: vec![
            event(),
            Event::new("staking.bond", &[("role", "worker".into())])
        ],
    },
    "191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233343536373801000000000000000000000000000000002882020d62616e6b2e7472616e73666572000000020466726f6d05616c69636506616d6f756e740234320c7374616b696e672e626f6e640000000104726f6c6506776f726b6572"
);
golden!(
    receipt_failure,
    Receipt {
        tx_hash: h(0x29),
        success: false,
        code: "insufficient_funds".into(),
        error: "balance 5 is below 7".into(),
        fee: Amount(10_380),
        events: vec![],
    },
    "292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344454647480012696e73756666696369656e745f66756e64731462616c616e636520352069732062656c6f7720370000000000000000000000000000288c00"
);

#[test]
fn block_events() {
    let events = vec![event(), Event::new("market.settle", &[])];
    let expected = "020d62616e6b2e7472616e73666572000000020466726f6d05616c69636506616d6f756e740234320d6d61726b65742e736574746c6500000000";
    let actual = hex::encode(encode_events(&events));
    if actual != expected {
        eprintln!("GOLDEN block_events {actual}");
    }
    assert_eq!(actual, expected);
    assert_eq!(
        decode_events(&hex::decode(expected).unwrap()).unwrap(),
        events
    );
}

// ---- transactions -----------------------------------------------------------------------------

/// A body carrying one message of every module.
pub fn tx_body() -> TxBody {
    TxBody {
        chain_id: "mycel-golden-1".into(),
        sender: public_key(&private_key_from_seed(b"golden sender")),
        nonce: 7,
        fee: Amount(123_456),
        messages: vec![
            Message::Bank(bank::Msg::Transfer {
                to: a(0x33),
                amount: Amount(1_000_000_007),
            }),
            Message::Staking(staking::Msg::Bond {
                role: Role::Worker,
                amount: Amount(100_000_000_000),
            }),
            Message::Data(data::Msg::UpdateConsent {
                dataset: h(0x43),
                consent: data::CONSENT_TRAIN,
            }),
            Message::Market(market::Msg::CloseOffer),
        ],
        memo: "golden memo".into(),
    }
}

golden!(
    tx_body_golden,
    tx_body(),
    "0e6d7963656c2d676f6c64656e2d31f510220f54f47da3c71f4d90e3a913ec81ba5d7c19031aa6c2050b33fbefc5cb00000000000000070000000000000000000000000001e240040100333435363738393a3b3c3d3e3f404142434445460000000000000000000000003b9aca070200010000000000000000000000174876e8000401434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061620105010b676f6c64656e206d656d6f"
);

/// The signed transaction: ed25519 signing is deterministic, so the signature is fixed too.
pub fn signed_tx() -> Tx {
    tx_body().sign(&private_key_from_seed(b"golden sender"))
}

golden!(
    tx_signed,
    signed_tx(),
    "0e6d7963656c2d676f6c64656e2d31f510220f54f47da3c71f4d90e3a913ec81ba5d7c19031aa6c2050b33fbefc5cb00000000000000070000000000000000000000000001e240040100333435363738393a3b3c3d3e3f404142434445460000000000000000000000003b9aca070200010000000000000000000000174876e8000401434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061620105010b676f6c64656e206d656d6f6634ccc955b3d4b96ff12dbf1ca7076caf79c88252ab8de3807b833c422d287e9413cff5d0447510e03799e6074081a56deb3a39415e7649cba91480be65f500"
);

#[test]
fn tx_hash_and_signature() {
    let tx = signed_tx();
    tx.verify_signature().unwrap();
    let expected = "0263b076e9dc6c8745cc6d0a89a8eab9a58e88aaa20685c21aa2b66edd4bbaa9";
    let actual = tx.hash().to_hex();
    if actual != expected {
        eprintln!("GOLDEN tx_hash {actual}");
    }
    assert_eq!(actual, expected);
    assert_eq!(Tx::decode_bytes(&tx.encode()).unwrap(), tx);
}
