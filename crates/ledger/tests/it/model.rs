//! The `model` module: versions, declared and network-written lineage, licences, consent and
//! gated access — each refusal a typed error that changes no state.

use super::*;
use mycel_ledger::modules::{
    data::{self, CONSENT_TRAIN},
    market::{self, JobKind, JobStatus, Offer, SessionMsg},
    model::{self, Access, ModelKind, Registration},
    staking::Role,
};

const BASE: Hash = Hash([7; 32]);
const DATASET: Hash = Hash([0x55; 32]);
const ADAPTER_FILE: Hash = Hash([8; 32]);

fn reg(id: Hash, kind: ModelKind, parents: Vec<Hash>) -> Registration {
    Registration {
        id,
        name: "SmolLM2-135M-Instruct".into(),
        kind,
        parents,
        datasets: vec![],
        files: Hash([0xf1; 32]),
        license: "Apache-2.0".into(),
        license_text: Hash::ZERO,
        access: Access::Public,
        card: Hash([0xc0; 32]),
        card_bytes: 1_000,
    }
}

fn register(r: Registration) -> Message {
    Message::Model(model::Msg::Register(Box::new(r)))
}

fn offer(licenses: &str, models: Vec<Hash>) -> Message {
    Message::Market(market::Msg::Offer(Box::new(Offer {
        kinds: 0b1111,
        models,
        hardware: "cpu".into(),
        price_per_unit: Amount(1_000),
        endpoint: "127.0.0.1:9000".into(),
        licenses: licenses.into(),
    })))
}

fn post(kind: JobKind, model: Hash, input: Hash) -> Message {
    Message::Market(market::Msg::PostJob {
        kind,
        model,
        input,
        params: br#"{"steps":4}"#.to_vec(),
        max_fee: Amount::from_myc(1),
        deadline_blocks: 1_000,
    })
}

fn dataset(consent: u8, license: &str) -> Message {
    Message::Data(data::Msg::RegisterDataset(Box::new(data::Registration {
        root: DATASET,
        records: 10,
        bytes: 10_000,
        profile: "mycel-text/v1".into(),
        minhash_root: Hash([1; 32]),
        signatures: Hash([2; 32]),
        manifest: Hash([2; 32]),
        license: license.into(),
        consent,
        parents: vec![],
        novel_root: Hash([3; 32]),
        novel_records: 5,
        novel_bytes: 5_000,
        bond: Amount::from_myc(10),
    })))
}

/// Account 0 owns BASE (registered, public, Apache-2.0); account 1 is a bonded worker offering
/// every kind on BASE and accepting `licenses`; account 3 contributed DATASET with `consent`.
fn chain(licenses: &str, consent: u8) -> Chain {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.market.challenge_window = 3;
        p.rewards.epoch_length = 1_000;
    }));
    let ok = |out: &BlockOutput| assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    ok(&c.block(&[c.tx(
        &account(0),
        vec![register(reg(BASE, ModelKind::Base, vec![]))],
    )]));
    let w = account(1);
    ok(&c.block(&[c.tx(&w, vec![bond(Role::Worker, Amount::from_myc(100))])]));
    ok(&c.block(&[c.tx(&w, vec![offer(licenses, vec![BASE])])]));
    ok(&c.block(&[c.tx(&account(3), vec![dataset(consent, "CC-BY-4.0")])]));
    c
}

/// The start of each rule's error text (receipts carry the code and the text; the text names
/// the rule).
fn text_of(reason: &str) -> &'static str {
    match reason {
        "already_registered" => "is already registered",
        "zero_id" => "cannot be zero",
        "bad_name" => "must be 1..=64 characters",
        "bad_license" => "is not an SPDX identifier",
        "license_text_missing" => "needs the hash of its text",
        "bad_card" => "model card of",
        "parents_for_kind" => "parent",
        "unknown_parent" => "unknown parent model",
        "cycle" => "cannot be its own parent",
        "unknown_dataset" => "unknown dataset",
        "no_training_consent" => "does not allow training",
        "not_owner" => "only the owner",
        "not_granted" => "is gated",
        "no_such_grant" => "has no grant on model",
        "license_not_accepted" => "accepts its licence",
        other => panic!("no text for {other}"),
    }
}

fn fails_with(r: &mycel_ledger::Receipt, reason: &str) {
    assert!(!r.success, "expected {reason}");
    let code = match reason {
        "not_owner" | "not_granted" => "unauthorized",
        _ => "invalid_model",
    };
    assert_eq!(r.code, code, "{}", r.error);
    assert!(r.error.contains(text_of(reason)), "{reason}: {}", r.error);
}

/// Runs `msgs` from `k`; asserts the transaction fails with `reason` and changes no model or
/// job state.
fn refused(c: &mut Chain, k: &PrivateKey, msgs: Vec<Message>, reason: &str) {
    let count = model::count(&c.state).unwrap();
    let jobs = market::job(&c.state, 0).unwrap();
    let out = c.block(&[c.tx(k, msgs)]);
    fails_with(&out.receipts[0], reason);
    assert_eq!(model::count(&c.state).unwrap(), count);
    assert_eq!(market::job(&c.state, 0).unwrap(), jobs);
}

#[test]
fn a_base_model_is_registered_once_with_its_owner() {
    let mut c = chain("*", CONSENT_TRAIN);
    let v = model::version(&c.state, &BASE).unwrap().unwrap();
    assert_eq!(v.owner, addr(&account(0)));
    assert!(!v.attested);
    assert_eq!(v.job, None);
    assert_eq!(model::count(&c.state).unwrap(), 1);
    assert_eq!(
        model::named(&c.state, "SmolLM2-135M-Instruct").unwrap(),
        vec![BASE]
    );
    assert!(model::named(&c.state, "SmolLM2").unwrap().is_empty());
    refused(
        &mut c,
        &account(2),
        vec![register(reg(BASE, ModelKind::Base, vec![]))],
        "already_registered",
    );
    assert_eq!(
        model::version(&c.state, &BASE).unwrap().unwrap().owner,
        addr(&account(0))
    );
}

#[test]
fn bad_registrations_are_typed_errors_without_state_change() {
    let mut c = chain("*", CONSENT_TRAIN);
    let k = account(2);
    let new = Hash([9; 32]);
    let cases: Vec<(Registration, &str)> = vec![
        (reg(Hash::ZERO, ModelKind::Base, vec![]), "zero_id"),
        (
            Registration {
                name: "bad name!".into(),
                ..reg(new, ModelKind::Base, vec![])
            },
            "bad_name",
        ),
        (
            Registration {
                license: "Apache 2.0; rm -rf".into(),
                ..reg(new, ModelKind::Base, vec![])
            },
            "bad_license",
        ),
        (
            Registration {
                license: "LicenseRef-acme".into(),
                ..reg(new, ModelKind::Base, vec![])
            },
            "license_text_missing",
        ),
        (
            Registration {
                card_bytes: model::MAX_CARD_BYTES + 1,
                ..reg(new, ModelKind::Base, vec![])
            },
            "bad_card",
        ),
        (reg(new, ModelKind::Base, vec![BASE]), "parents_for_kind"),
        (reg(new, ModelKind::Finetune, vec![]), "parents_for_kind"),
        (
            reg(new, ModelKind::Merge, vec![BASE, Hash([4; 32])]),
            "unknown_parent",
        ),
        (reg(new, ModelKind::Finetune, vec![new]), "cycle"),
        (reg(new, ModelKind::Merge, vec![BASE, BASE]), "cycle"),
        (
            Registration {
                datasets: vec![Hash([6; 32])],
                ..reg(new, ModelKind::Finetune, vec![BASE])
            },
            "unknown_dataset",
        ),
    ];
    for (r, reason) in cases {
        refused(&mut c, &k, vec![register(r)], reason);
    }
    // A well-formed derived model is accepted, and lists as the base's child.
    let out = c.block(&[c.tx(
        &k,
        vec![register(Registration {
            datasets: vec![DATASET],
            ..reg(new, ModelKind::Finetune, vec![BASE])
        })],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    assert_eq!(model::children(&c.state, &BASE).unwrap(), vec![new]);
    let v = model::version(&c.state, &new).unwrap().unwrap();
    assert_eq!(v.attribution, vec![DATASET]);
}

#[test]
fn a_forged_owner_signature_is_not_admitted() {
    let c = chain("*", CONSENT_TRAIN);
    let mut tx = c.tx(
        &account(2),
        vec![register(reg(Hash([9; 32]), ModelKind::Base, vec![]))],
    );
    // Claim account 0's key with account 2's signature.
    tx.body.sender = account(0).public_key();
    assert_eq!(c.expect_invalid(&[tx], 0), TxError::BadSignature);
}

#[test]
fn declared_training_data_must_consent() {
    let mut c = chain("*", 0);
    refused(
        &mut c,
        &account(2),
        vec![register(Registration {
            datasets: vec![DATASET],
            ..reg(Hash([9; 32]), ModelKind::Finetune, vec![BASE])
        })],
        "no_training_consent",
    );
}

#[test]
fn a_finetune_without_consent_is_refused_at_post_and_withdrawal_stops_new_jobs() {
    let mut c = chain("*", 0);
    refused(
        &mut c,
        &account(0),
        vec![post(JobKind::Finetune, BASE, DATASET)],
        "no_training_consent",
    );
    // The contributor consents: the job is taken.
    let out = c.block(&[c.tx(
        &account(3),
        vec![Message::Data(data::Msg::UpdateConsent {
            dataset: DATASET,
            consent: CONSENT_TRAIN,
        })],
    )]);
    assert!(out.receipts[0].success);
    let out = c.block(&[c.tx(&account(0), vec![post(JobKind::Finetune, BASE, DATASET)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    // Withdrawn again: the next fine-tune is refused; other kinds of job on it are not.
    c.block(&[c.tx(
        &account(3),
        vec![Message::Data(data::Msg::UpdateConsent {
            dataset: DATASET,
            consent: 0,
        })],
    )]);
    let before = market::job(&c.state, 1).unwrap();
    let out = c.block(&[c.tx(&account(0), vec![post(JobKind::Finetune, BASE, DATASET)])]);
    fails_with(&out.receipts[0], "no_training_consent");
    assert_eq!(market::job(&c.state, 1).unwrap(), before);
    let out = c.block(&[c.tx(&account(0), vec![post(JobKind::Embed, BASE, DATASET)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
}

#[test]
fn a_no_derivatives_licence_forbids_training() {
    let mut c = Chain::new(genesis_with(1, |_| {}));
    c.block(&[c.tx(
        &account(0),
        vec![register(reg(BASE, ModelKind::Base, vec![]))],
    )]);
    c.block(&[c.tx(&account(1), vec![bond(Role::Worker, Amount::from_myc(100))])]);
    c.block(&[c.tx(&account(1), vec![offer("*", vec![BASE])])]);
    c.block(&[c.tx(&account(3), vec![dataset(CONSENT_TRAIN, "CC-BY-ND-4.0")])]);
    refused(
        &mut c,
        &account(0),
        vec![post(JobKind::Finetune, BASE, DATASET)],
        "no_training_consent",
    );
}

#[test]
fn a_licence_no_worker_accepts_is_refused_naming_the_licence() {
    let mut c = chain("Apache-2.0,MIT", CONSENT_TRAIN);
    let custom = Hash([0xcc; 32]);
    let out = c.block(&[c.tx(
        &account(0),
        vec![register(Registration {
            license: "LicenseRef-acme-research".into(),
            license_text: Hash([0xaa; 32]),
            ..reg(custom, ModelKind::Base, vec![])
        })],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    // The worker also offers the custom model, but does not accept its licence.
    c.block(&[c.tx(
        &account(1),
        vec![offer("Apache-2.0,MIT", vec![BASE, custom])],
    )]);
    let out = c.block(&[c.tx(
        &account(0),
        vec![post(JobKind::Embed, custom, Hash([1; 32]))],
    )]);
    fails_with(&out.receipts[0], "license_not_accepted");
    assert!(out.receipts[0].error.contains("LicenseRef-acme-research"));
    assert!(market::job(&c.state, 0).unwrap().is_none());
    // Nor can a session be opened on it with that worker.
    let out = c.block(&[c.tx(
        &account(0),
        vec![Message::Market(market::Msg::Session(SessionMsg::Open {
            worker: addr(&account(1)),
            model: custom,
            deposit: Amount::from_myc(1),
            duration_blocks: 50,
        }))],
    )]);
    fails_with(&out.receipts[0], "license_not_accepted");
    // Once the worker accepts it, the job is assigned.
    c.block(&[c.tx(
        &account(1),
        vec![offer(
            "Apache-2.0,LicenseRef-acme-research",
            vec![BASE, custom],
        )],
    )]);
    let out = c.block(&[c.tx(
        &account(0),
        vec![post(JobKind::Embed, custom, Hash([1; 32]))],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
}

#[test]
fn a_gated_model_serves_only_grantees_and_a_revoked_grant_stops() {
    let mut c = chain("*", CONSENT_TRAIN);
    let owner = account(0);
    let user = account(2);
    let gate = Message::Model(model::Msg::SetAccess {
        model: BASE,
        access: Access::Gated,
    });
    // Only the owner changes the policy or grants.
    refused(&mut c, &user, vec![gate.clone()], "not_owner");
    let grant = |to: &PrivateKey| {
        Message::Model(model::Msg::Grant {
            model: BASE,
            grantee: addr(to),
        })
    };
    refused(&mut c, &user, vec![grant(&user)], "not_owner");
    assert!(c.block(&[c.tx(&owner, vec![gate])]).receipts[0].success);

    let job = || post(JobKind::Embed, BASE, Hash([1; 32]));
    let session = || {
        Message::Market(market::Msg::Session(SessionMsg::Open {
            worker: addr(&account(1)),
            model: BASE,
            deposit: Amount::from_myc(1),
            duration_blocks: 50,
        }))
    };
    refused(&mut c, &user, vec![job()], "not_granted");
    refused(&mut c, &user, vec![session()], "not_granted");
    // The owner itself may always use it.
    assert!(c.block(&[c.tx(&owner, vec![job()])]).receipts[0].success);

    assert!(c.block(&[c.tx(&owner, vec![grant(&user)])]).receipts[0].success);
    assert!(c.block(&[c.tx(&user, vec![session()])]).receipts[0].success);
    // The grantee derives a public model from the gated one: a third account still needs the
    // base's grant to use it (a grant is not passed on by deriving).
    let derived = Hash([0xde; 32]);
    let out = c.block(&[c.tx(
        &user,
        vec![register(reg(derived, ModelKind::Finetune, vec![BASE]))],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    c.block(&[c.tx(&account(1), vec![offer("*", vec![BASE, derived])])]);
    let third = account(4);
    let out = c.block(&[c.tx(&third, vec![post(JobKind::Embed, derived, Hash([1; 32]))])]);
    fails_with(&out.receipts[0], "not_granted");
    assert!(
        out.receipts[0].error.contains(&BASE.to_string()),
        "{}",
        out.receipts[0].error
    );
    assert_eq!(model::grantees(&c.state, &BASE).unwrap(), vec![addr(&user)]);
    let revoke = Message::Model(model::Msg::Revoke {
        model: BASE,
        grantee: addr(&user),
    });
    assert!(c.block(&[c.tx(&owner, vec![revoke.clone()])]).receipts[0].success);
    refused(&mut c, &user, vec![session()], "not_granted");
    // Nor can the session opened while granted be topped up to outlive the revocation.
    let opened = market::session(&c.state, 0).unwrap().unwrap();
    assert_eq!(opened.client, addr(&user));
    refused(
        &mut c,
        &user,
        vec![Message::Market(market::Msg::Session(SessionMsg::TopUp {
            session: 0,
            amount: Amount::from_myc(1),
            extend_blocks: 100,
        }))],
        "not_granted",
    );
    assert_eq!(market::session(&c.state, 0).unwrap().unwrap(), opened);
    refused(&mut c, &owner, vec![revoke], "no_such_grant");
    // Deriving from a gated model is a use of it.
    refused(
        &mut c,
        &user,
        vec![register(reg(
            Hash([9; 32]),
            ModelKind::Finetune,
            vec![BASE],
        ))],
        "not_granted",
    );
}

#[test]
fn a_settled_finetune_registers_its_adapter_as_a_child_and_serving_it_credits_the_data() {
    let mut c = chain("*", CONSENT_TRAIN);
    let (poster, worker) = (account(2), account(1));
    let out = c.block(&[c.tx(&poster, vec![post(JobKind::Finetune, BASE, DATASET)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let out = c.block(&[c.tx(
        &worker,
        vec![Message::Market(market::Msg::CommitResult {
            job: 0,
            output: ADAPTER_FILE,
            units: 4,
            trace_root: Hash([9; 32]),
            trace_len: 6,
        })],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let adapter = mycel_primitives::hash::adapter_model_id(&BASE, &ADAPTER_FILE);
    // Nothing is written before the job settles.
    assert!(model::version(&c.state, &adapter).unwrap().is_none());
    let h = c.next_env().height;
    let outs = c.run_to(h + 5);
    assert_eq!(
        market::job(&c.state, 0).unwrap().unwrap().status,
        JobStatus::Settled
    );
    let registered = outs
        .iter()
        .flat_map(|o| o.events.iter())
        .find(|e| e.kind == model::events::REGISTER)
        .expect("a model.register event");
    assert_eq!(attr(registered, "model"), adapter.to_hex());

    let v = model::version(&c.state, &adapter).unwrap().unwrap();
    assert_eq!(v.registration.kind, ModelKind::Adapter);
    assert_eq!(v.registration.parents, vec![BASE]);
    assert_eq!(v.registration.datasets, vec![DATASET]);
    assert_eq!(v.registration.files, ADAPTER_FILE);
    assert_eq!(v.registration.license, "Apache-2.0");
    assert_eq!((v.job, v.attested), (Some(0), true));
    assert_eq!(v.owner, addr(&poster));
    assert_eq!(v.attribution, vec![DATASET]);
    assert_eq!(model::children(&c.state, &BASE).unwrap(), vec![adapter]);

    // A job on the adapter credits the dataset's contributor for this epoch's data emission.
    c.block(&[c.tx(&worker, vec![offer("*", vec![BASE, adapter])])]);
    let used_before = market::data_used(&c.state, 0).unwrap();
    let out = c.block(&[c.tx(&poster, vec![post(JobKind::Embed, adapter, Hash([1; 32]))])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    c.block(&[c.tx(
        &worker,
        vec![Message::Market(market::Msg::CommitResult {
            job: 1,
            output: Hash([0xee; 32]),
            units: 3,
            trace_root: Hash([9; 32]),
            trace_len: 3,
        })],
    )]);
    let h = c.next_env().height;
    c.run_to(h + 5);
    let used = market::data_used(&c.state, 0).unwrap();
    let credited = |u: &[(Address, u64)]| {
        u.iter()
            .find(|(a, _)| *a == addr(&account(3)))
            .map_or(0, |x| x.1)
    };
    assert_eq!(credited(&used) - credited(&used_before), 5_000);
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn the_contributor_paying_for_its_own_model_earns_no_data_credit() {
    let mut c = chain("*", CONSENT_TRAIN);
    let contributor = account(3);
    let derived = Hash([9; 32]);
    c.block(&[c.tx(
        &account(0),
        vec![register(Registration {
            datasets: vec![DATASET],
            ..reg(derived, ModelKind::Finetune, vec![BASE])
        })],
    )]);
    c.block(&[c.tx(&account(1), vec![offer("*", vec![BASE, derived])])]);
    let out = c.block(&[c.tx(
        &contributor,
        vec![post(JobKind::Embed, derived, Hash([1; 32]))],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    c.block(&[c.tx(
        &account(1),
        vec![Message::Market(market::Msg::CommitResult {
            job: 0,
            output: Hash([0xee; 32]),
            units: 3,
            trace_root: Hash([9; 32]),
            trace_len: 3,
        })],
    )]);
    let h = c.next_env().height;
    c.run_to(h + 5);
    assert_eq!(
        market::job(&c.state, 0).unwrap().unwrap().status,
        JobStatus::Settled
    );
    assert!(
        market::data_used(&c.state, 0)
            .unwrap()
            .iter()
            .all(|(a, _)| *a != addr(&contributor))
    );
}

#[test]
fn a_session_on_a_model_credits_its_data_once_however_often_it_settles() {
    use mycel_ledger::modules::market::Receipt;
    use mycel_primitives::merkle;
    let mut c = chain("*", CONSENT_TRAIN);
    let derived = Hash([9; 32]);
    c.block(&[c.tx(
        &account(0),
        vec![register(Registration {
            datasets: vec![DATASET],
            ..reg(derived, ModelKind::Finetune, vec![BASE])
        })],
    )]);
    c.block(&[c.tx(&account(1), vec![offer("*", vec![BASE, derived])])]);
    let client = account(2);
    let out = c.block(&[c.tx(
        &client,
        vec![Message::Market(market::Msg::Session(SessionMsg::Open {
            worker: addr(&account(1)),
            model: derived,
            deposit: Amount::from_myc(1),
            duration_blocks: 50,
        }))],
    )]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let receipts: Vec<Receipt> = (0..4u64)
        .map(|seq| Receipt {
            session: 0,
            seq,
            model: derived,
            input_hash: Hash([seq as u8; 32]),
            output_hash: Hash([seq as u8 + 100; 32]),
            tokens: 10,
            price: Amount(1_000),
            amount: Amount(10_000),
            cumulative: Amount(10_000 * (seq as u128 + 1)),
        })
        .collect();
    let leaves: Vec<Hash> = receipts.iter().map(Receipt::leaf).collect();
    let credited = |c: &Chain| {
        market::data_used(&c.state, 0)
            .unwrap()
            .iter()
            .find(|(a, _)| *a == addr(&account(3)))
            .map_or(0, |x| x.1)
    };
    for n in [2usize, 4] {
        let last = receipts[n - 1].clone();
        let out = c.block(&[c.tx(
            &account(1),
            vec![Message::Market(market::Msg::Session(SessionMsg::Settle {
                session: 0,
                receipts_root: merkle::root(&leaves[..n]),
                count: n as u64,
                total: last.cumulative,
                proof: merkle::prove(&leaves[..n], n - 1).unwrap(),
                last,
            }))],
        )]);
        assert!(out.receipts[0].success, "{}", out.receipts[0].error);
        assert_eq!(credited(&c), 5_000, "after settling {n} receipts");
    }
}
