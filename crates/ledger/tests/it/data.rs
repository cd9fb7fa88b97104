//! The `data` module: registration, consent, novelty challenges, bonds.

use super::*;
use mycel_ledger::modules::{
    data::{self, CONSENT_COMMERCIAL, CONSENT_TRAIN, Registration},
    rewards,
};
use mycel_primitives::merkle::{self, leaf_hash};

/// Leaf preimages: a record ID followed by some metadata, as the data engine may write them.
fn leaves(ids: &[[u8; 32]], tag: u8) -> Vec<Vec<u8>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.iter()
        .map(|id| [id.as_slice(), &[tag; 8]].concat())
        .collect()
}

fn root_of(l: &[Vec<u8>]) -> Hash {
    merkle::root(&l.iter().map(|x| leaf_hash(x)).collect::<Vec<_>>())
}

fn registration(
    all: &[Vec<u8>],
    novel: &[Vec<u8>],
    bond: Amount,
    parents: Vec<Hash>,
) -> Registration {
    Registration {
        root: root_of(all),
        records: all.len() as u64,
        bytes: 1_000 * all.len() as u64,
        profile: "mycel-text/v1".into(),
        minhash_root: Hash([3; 32]),
        signatures: Hash([5; 32]),
        manifest: Hash([4; 32]),
        license: "CC-BY-4.0".into(),
        consent: CONSENT_TRAIN,
        parents,
        novel_root: root_of(novel),
        novel_records: novel.len() as u64,
        novel_bytes: 1_000 * novel.len() as u64,
        bond,
    }
}

fn msg(r: Registration) -> Message {
    Message::Data(data::Msg::RegisterDataset(Box::new(r)))
}

fn ids(range: std::ops::Range<u8>) -> Vec<[u8; 32]> {
    range.map(|i| [i; 32]).collect()
}

#[test]
fn register_escrows_bond_and_records_attribution() {
    let mut c = Chain::dev();
    let alice = account(0);
    let l = leaves(&ids(0..10), 1);
    let r = registration(&l, &l, Amount::from_myc(10), vec![]);
    let before = c.balance(&addr(&alice));
    let out = c.block(&[c.tx(&alice, vec![msg(r.clone())])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let ds = data::dataset(&c.state, &r.root).unwrap().unwrap();
    assert_eq!(ds.contributor, addr(&alice));
    assert!(ds.bond_locked);
    assert_eq!(ds.credited_novel_bytes(), 10_000);
    assert_eq!(c.balance(&data::escrow()), Amount::from_myc(10));
    assert_eq!(
        before.0 - c.balance(&addr(&alice)).0,
        Amount::from_myc(10).0 + out.receipts[0].fee.0
    );
    assert_eq!(
        data::datasets_of(&c.state, &addr(&alice)).unwrap(),
        vec![r.root]
    );
    // The same root cannot be registered twice.
    let out = c.block(&[c.tx(&alice, vec![msg(r)])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn bad_registrations_change_nothing() {
    let mut c = Chain::dev();
    let alice = account(0);
    let l = leaves(&ids(0..4), 1);
    let cases = vec![
        Registration {
            records: 0,
            ..registration(&l, &l, Amount::from_myc(10), vec![])
        },
        Registration {
            novel_records: 5,
            ..registration(&l, &l, Amount::from_myc(10), vec![])
        },
        registration(&l, &l, Amount::from_myc(1), vec![]),
        registration(&l, &l, Amount::from_myc(10), vec![Hash([9; 32])]),
        Registration {
            consent: 0x80,
            ..registration(&l, &l, Amount::from_myc(10), vec![])
        },
        Registration {
            license: String::new(),
            ..registration(&l, &l, Amount::from_myc(10), vec![])
        },
    ];
    for r in cases {
        let out = c.block(&[c.tx(&alice, vec![msg(r.clone())])]);
        assert!(!out.receipts[0].success);
        assert_eq!(out.receipts[0].code, "invalid_data");
        assert!(data::dataset(&c.state, &r.root).unwrap().is_none());
    }
    assert!(c.balance(&data::escrow()).is_zero());
}

#[test]
fn consent_only_by_contributor() {
    let mut c = Chain::dev();
    let (alice, bob) = (account(0), account(1));
    let l = leaves(&ids(0..3), 1);
    let r = registration(&l, &[], Amount::ZERO, vec![]);
    c.block(&[c.tx(&alice, vec![msg(r.clone())])]);
    let update = Message::Data(data::Msg::UpdateConsent {
        dataset: r.root,
        consent: CONSENT_TRAIN | CONSENT_COMMERCIAL,
    });
    let out = c.block(&[c.tx(&bob, vec![update.clone()])]);
    assert_eq!(out.receipts[0].code, "unauthorized");
    let out = c.block(&[c.tx(&alice, vec![update])]);
    assert!(out.receipts[0].success);
    assert_eq!(
        data::dataset(&c.state, &r.root)
            .unwrap()
            .unwrap()
            .registration
            .consent,
        CONSENT_TRAIN | CONSENT_COMMERCIAL
    );
}

/// Registers an early dataset (records 0..10) and a later one whose novelty claim includes
/// record 5 (already in the early one). Returns the chain, both leaf sets and both roots.
fn two_datasets() -> (
    Chain,
    Vec<Vec<u8>>,
    Vec<Vec<u8>>,
    Registration,
    Registration,
) {
    let mut c = Chain::dev();
    let (alice, bob) = (account(0), account(1));
    let early = leaves(&ids(0..10), 1);
    let r1 = registration(&early, &early, Amount::from_myc(10), vec![]);
    c.block(&[c.tx(&alice, vec![msg(r1.clone())])]);
    let mut later_ids = ids(20..30);
    later_ids.push([5; 32]);
    let later = leaves(&later_ids, 2);
    let r2 = registration(&later, &later, Amount::from_myc(20), vec![r1.root]);
    let out = c.block(&[c.tx(&bob, vec![msg(r2.clone())])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    (c, early, later, r1, r2)
}

fn challenge(
    early: &[Vec<u8>],
    later: &[Vec<u8>],
    r1: &Registration,
    r2: &Registration,
    id: u8,
) -> Message {
    let find = |l: &[Vec<u8>]| l.iter().position(|x| x[0] == id).unwrap();
    let (i, j) = (find(later), find(early));
    let hl: Vec<Hash> = later.iter().map(|x| leaf_hash(x)).collect();
    let he: Vec<Hash> = early.iter().map(|x| leaf_hash(x)).collect();
    Message::Data(data::Msg::ChallengeNovelty {
        dataset: r2.root,
        leaf: later[i].clone(),
        novel_proof: merkle::prove(&hl, i).unwrap(),
        earlier: r1.root,
        earlier_leaf: early[j].clone(),
        earlier_proof: merkle::prove(&he, j).unwrap(),
    })
}

#[test]
fn successful_challenge_forfeits_credit_and_pays_challenger() {
    let (mut c, early, later, r1, r2) = two_datasets();
    let carol = account(2);
    let before = c.balance(&addr(&carol));
    let supply = c.supply();
    let out = c.block(&[c.tx(&carol, vec![challenge(&early, &later, &r1, &r2, 5)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let ds = data::dataset(&c.state, &r2.root).unwrap().unwrap();
    assert!(ds.challenged);
    assert_eq!(ds.credited_novel_bytes(), 0);
    let fee = out.receipts[0].fee;
    assert_eq!(
        c.balance(&addr(&carol)).0 + fee.0 - before.0,
        Amount::from_myc(10).0,
        "half of the 20 MYC bond"
    );
    // The other half is burned (plus the fee's burn share).
    assert_eq!(
        supply.0 - c.supply().0,
        Amount::from_myc(10).0 + burned_part(&c.params(), fee).0
    );
    assert_eq!(
        c.balance(&data::escrow()),
        Amount::from_myc(10),
        "only the first dataset's bond is left"
    );
    let recs = rewards::records(&c.state, 0, Some(&addr(&carol))).unwrap();
    assert!(
        recs.iter()
            .any(|r| r.reason == rewards::Reason::ChallengeReward
                && r.amount == Amount::from_myc(10))
    );
    // A second challenge of the same dataset is refused.
    let out = c.block(&[c.tx(&carol, vec![challenge(&early, &later, &r1, &r2, 5)])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn invalid_challenges_are_rejected() {
    let (mut c, early, later, r1, r2) = two_datasets();
    let carol = account(2);
    // Record 25 is genuinely novel: it is not in the early dataset, so no proof exists; a forged
    // pairing of different records fails.
    let mut forged = challenge(&early, &later, &r1, &r2, 5);
    if let Message::Data(data::Msg::ChallengeNovelty { leaf, .. }) = &mut forged {
        leaf[0] = 25;
    }
    let out = c.block(&[c.tx(&carol, vec![forged])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    // A wrong proof path.
    let mut bad = challenge(&early, &later, &r1, &r2, 5);
    if let Message::Data(data::Msg::ChallengeNovelty { novel_proof, .. }) = &mut bad {
        novel_proof.path[0] = Hash([0; 32]);
    }
    let out = c.block(&[c.tx(&carol, vec![bad])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    // The "earlier" dataset must really be earlier: swap the roles.
    let swapped = Message::Data(data::Msg::ChallengeNovelty {
        dataset: r1.root,
        leaf: early[5].clone(),
        novel_proof: merkle::prove(&early.iter().map(|x| leaf_hash(x)).collect::<Vec<_>>(), 5)
            .unwrap(),
        earlier: r2.root,
        earlier_leaf: later.iter().find(|x| x[0] == 5).unwrap().clone(),
        earlier_proof: merkle::prove(
            &later.iter().map(|x| leaf_hash(x)).collect::<Vec<_>>(),
            later.iter().position(|x| x[0] == 5).unwrap(),
        )
        .unwrap(),
    });
    let out = c.block(&[c.tx(&carol, vec![swapped])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    assert!(
        !data::dataset(&c.state, &r2.root)
            .unwrap()
            .unwrap()
            .challenged
    );
}

#[test]
fn bond_returns_after_the_window() {
    let mut c = Chain::new(genesis_with(1, |p| p.data.challenge_window = 5));
    let alice = account(0);
    let l = leaves(&ids(0..4), 1);
    let r = registration(&l, &l, Amount::from_myc(10), vec![]);
    c.block(&[c.tx(&alice, vec![msg(r.clone())])]);
    let after_register = c.balance(&addr(&alice));
    c.run_to(1 + 4);
    assert!(
        data::dataset(&c.state, &r.root)
            .unwrap()
            .unwrap()
            .bond_locked
    );
    c.run_to(1 + 5);
    let ds = data::dataset(&c.state, &r.root).unwrap().unwrap();
    assert!(!ds.bond_locked);
    assert_eq!(
        c.balance(&addr(&alice)).0 - after_register.0,
        Amount::from_myc(10).0
    );
    assert!(c.balance(&data::escrow()).is_zero());
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn data_messages_round_trip_the_codec() {
    let (_, early, later, r1, r2) = two_datasets();
    let m = challenge(&early, &later, &r1, &r2, 5);
    let c = Chain::dev();
    let tx = c.tx(&account(0), vec![msg(r2), m]);
    let bytes = mycel_primitives::codec::Encode::encode(&tx);
    assert_eq!(Tx::decode_bytes(&bytes).unwrap(), tx);
}

// ---- near-duplicate challenges ----------------------------------------------------------------

/// A few hundred words of text, different for each `seed`.
fn text(seed: u64, words: usize) -> String {
    let mut s = seed;
    (0..words)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            format!("w{}", (s >> 33) % 5000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A re-encoding that normalises to the same text: case, fullwidth letters, punctuation and
/// non-breaking spaces.
fn reencode(t: &str) -> String {
    t.to_uppercase()
        .replace("W1", "\u{ff37}1")
        .replacen(' ', ",\u{a0}", 7)
        + "!"
}

/// The leaf preimages (record IDs, sorted) of text records.
fn text_leaves(texts: &[&str]) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = texts
        .iter()
        .map(|t| {
            mycel_primitives::record::single_chunk_record_id(t.as_bytes())
                .unwrap()
                .0
                .to_vec()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn near_dup(
    dataset: &Registration,
    novel: &[Vec<u8>],
    record: &str,
    earlier: &Registration,
    earlier_set: &[Vec<u8>],
    earlier_record: &str,
) -> Message {
    let prove = |set: &[Vec<u8>], t: &str| {
        let id = mycel_primitives::record::single_chunk_record_id(t.as_bytes()).unwrap();
        let i = set.iter().position(|x| x[..] == id.0[..]).unwrap();
        let hs: Vec<Hash> = set.iter().map(|x| leaf_hash(x)).collect();
        merkle::prove(&hs, i).unwrap()
    };
    Message::Data(data::Msg::ChallengeNearDuplicate {
        dataset: dataset.root,
        record: record.as_bytes().to_vec(),
        novel_proof: prove(novel, record),
        earlier: earlier.root,
        earlier_record: earlier_record.as_bytes().to_vec(),
        earlier_proof: prove(earlier_set, earlier_record),
    })
}

#[test]
fn reencoded_copy_loses_its_bond_to_a_near_duplicate_challenge() {
    let mut c = Chain::dev();
    let (alice, bob, carol) = (account(0), account(1), account(2));
    let originals: Vec<String> = (0..4).map(|i| text(i, 300)).collect();
    let o: Vec<&str> = originals.iter().map(String::as_str).collect();
    let early = text_leaves(&o);
    let r1 = registration(&early, &early, Amount::from_myc(10), vec![]);
    // Bob's copy: every record re-encoded, one record edited a little, in another order; a fresh
    // account with a fresh home claims it all as novel.
    let mut copies: Vec<String> = originals.iter().map(|t| reencode(t)).collect();
    copies[2] = copies[2].replacen("W", "EDITED W", 3);
    copies.reverse();
    let cp: Vec<&str> = copies.iter().map(String::as_str).collect();
    let later = text_leaves(&cp);
    let r2 = registration(&later, &later, Amount::from_myc(20), vec![]);
    // Both in one block, the original first: the block order decides which is earlier.
    let out = c.block(&[
        c.tx(&alice, vec![msg(r1.clone())]),
        c.tx(&bob, vec![msg(r2.clone())]),
    ]);
    assert!(out.receipts.iter().all(|r| r.success));
    assert_eq!(data::dataset(&c.state, &r2.root).unwrap().unwrap().seq, 1);
    // Byte-identical records: none, so the exact challenge has nothing to prove.
    assert!(early.iter().all(|l| !later.contains(l)));

    // Not similar: Bob's copy of record 0 against Alice's record 1.
    let unrelated = near_dup(&r2, &later, &copies[3], &r1, &early, &originals[1]);
    let out = c.block(&[c.tx(&carol, vec![unrelated])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    assert!(
        out.receipts[0].error.contains("not near duplicates"),
        "{}",
        out.receipts[0].error
    );
    // The claim cannot be turned around: Alice's dataset is the earlier one.
    let backwards = near_dup(&r1, &early, &originals[0], &r2, &later, &copies[3]);
    let out = c.block(&[c.tx(&carol, vec![backwards])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    // A revealed record whose bytes were changed no longer matches its proof.
    let mut tampered = near_dup(&r2, &later, &copies[3], &r1, &early, &originals[0]);
    if let Message::Data(data::Msg::ChallengeNearDuplicate { record, .. }) = &mut tampered {
        record.push(b'x');
    }
    let out = c.block(&[c.tx(&carol, vec![tampered])]);
    assert_eq!(out.receipts[0].code, "invalid_data");
    assert!(
        !data::dataset(&c.state, &r2.root)
            .unwrap()
            .unwrap()
            .challenged
    );

    // The edited record (J < 1 but ≥ 0.8) defeats the claim.
    let before = c.balance(&addr(&carol));
    let win = near_dup(&r2, &later, &copies[1], &r1, &early, &originals[2]);
    let out = c.block(&[c.tx(&carol, vec![win])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    let ds = data::dataset(&c.state, &r2.root).unwrap().unwrap();
    assert!(ds.challenged);
    assert_eq!(ds.credited_novel_bytes(), 0);
    assert_eq!(
        c.balance(&addr(&carol)).0 + out.receipts[0].fee.0 - before.0,
        Amount::from_myc(10).0
    );
    assert_eq!(c.supply(), sum_balances(&c.state));
}

#[test]
fn two_near_duplicates_claimed_novel_in_one_dataset_lose_the_claim() {
    let mut c = Chain::dev();
    let (alice, carol) = (account(0), account(2));
    let a = text(7, 200);
    let b = reencode(&a);
    let other = text(8, 200);
    let all = text_leaves(&[&a, &b, &other]);
    let r = registration(&all, &all, Amount::from_myc(10), vec![]);
    assert!(c.block(&[c.tx(&alice, vec![msg(r.clone())])]).receipts[0].success);
    // The same record twice is not a pair.
    let same = near_dup(&r, &all, &a, &r, &all, &a);
    let out = c.block(&[c.tx(&carol, vec![same])]);
    assert!(
        out.receipts[0].error.contains("same record"),
        "{}",
        out.receipts[0].error
    );
    let out = c.block(&[c.tx(&carol, vec![near_dup(&r, &all, &b, &r, &all, &a)])]);
    assert!(out.receipts[0].success, "{}", out.receipts[0].error);
    assert_eq!(
        data::dataset(&c.state, &r.root)
            .unwrap()
            .unwrap()
            .credited_novel_bytes(),
        0
    );
}

#[test]
fn near_duplicate_challenge_bad_input_changes_nothing() {
    let mut c = Chain::dev();
    let (alice, bob, carol) = (account(0), account(1), account(2));
    // A profile the ledger cannot recompute is refused at registration.
    let l = leaves(&ids(0..3), 1);
    let out = c.block(&[c.tx(
        &alice,
        vec![msg(Registration {
            profile: "home-made/v9".into(),
            ..registration(&l, &l, Amount::from_myc(10), vec![])
        })],
    )]);
    assert!(
        out.receipts[0].error.contains("unknown dedup profile"),
        "{}",
        out.receipts[0].error
    );
    let t = text(9, 100);
    let early = text_leaves(&[&t]);
    let r1 = registration(&early, &early, Amount::from_myc(10), vec![]);
    c.block(&[c.tx(&alice, vec![msg(r1.clone())])]);
    // Binary records are not text: only the exact challenge applies to them.
    let bin: Vec<u8> = vec![0xff, 0xfe, 0x00, 0x80];
    let mut ids = vec![
        mycel_primitives::record::single_chunk_record_id(&bin)
            .unwrap()
            .0
            .to_vec(),
    ];
    ids.sort();
    let r2 = registration(&ids, &ids, Amount::from_myc(10), vec![]);
    c.block(&[c.tx(&bob, vec![msg(r2.clone())])]);
    let hs: Vec<Hash> = ids.iter().map(|x| leaf_hash(x)).collect();
    let he: Vec<Hash> = early.iter().map(|x| leaf_hash(x)).collect();
    let m = Message::Data(data::Msg::ChallengeNearDuplicate {
        dataset: r2.root,
        record: bin,
        novel_proof: merkle::prove(&hs, 0).unwrap(),
        earlier: r1.root,
        earlier_record: t.as_bytes().to_vec(),
        earlier_proof: merkle::prove(&he, 0).unwrap(),
    });
    let supply = c.supply();
    let out = c.block(&[c.tx(&carol, vec![m])]);
    assert!(
        out.receipts[0].error.contains("not UTF-8"),
        "{}",
        out.receipts[0].error
    );
    assert!(
        !data::dataset(&c.state, &r2.root)
            .unwrap()
            .unwrap()
            .challenged
    );
    assert_eq!(c.balance(&data::escrow()), Amount::from_myc(20));
    assert_eq!(
        supply.0 - c.supply().0,
        burned_part(&c.params(), out.receipts[0].fee).0
    );
}

#[test]
fn datasets_page_in_registration_order() {
    let (c, _, _, r1, r2) = two_datasets();
    let all = data::datasets_from(&c.state, 0, 10).unwrap();
    let roots: Vec<Hash> = all.iter().map(|d| d.registration.root).collect();
    assert_eq!(roots, vec![r1.root, r2.root]);
    assert_eq!(all[1].seq, 1);
    assert_eq!(data::datasets_from(&c.state, 1, 10).unwrap().len(), 1);
    assert!(data::datasets_from(&c.state, 2, 10).unwrap().is_empty());
}
