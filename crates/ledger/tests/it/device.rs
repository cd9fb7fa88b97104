//! Edge devices, played as cheaters would: forged registrations, answers from a cache or a
//! cheaper model, late answers, a checker's seal copied, a slow device claiming a fast class.
//! Every refused move changes nothing; supply always equals the sum of balances.

use super::*;
use mycel_ledger::modules::{
    device::{self, Class, Registration, Status, UnitState},
    rewards::Reason,
    staking::Role,
};
use mycel_primitives::{
    hash::{Domain, hash_parts},
    keys,
};

const DIM: usize = 8;
const BOND: Amount = Amount::from_myc(10);

fn dev(i: usize) -> PrivateKey {
    dev_key("device", i)
}

fn model() -> Hash {
    Hash([7; 32])
}

/// Owners 0 and 1; auditors 4 and 5; one-second rounds.
fn chain() -> Chain {
    let mut c = Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = 200;
        p.device.round_ms = 1_500;
        p.device.seal_ms = 300;
        p.device.check_ms = 200;
        p.device.reveal_ms = 500;
        p.device.release_blocks = 5;
    }));
    for a in [4, 5] {
        ok(&c.block(&[c.tx(
            &account(a),
            vec![bond(Role::Auditor, Amount::from_myc(100))],
        )]));
    }
    c
}

fn ok(out: &BlockOutput) {
    for r in &out.receipts {
        assert!(r.success, "{}: {}", r.code, r.error);
    }
}

fn conserved(c: &Chain) {
    assert_eq!(
        c.supply(),
        sum_balances(&c.state),
        "supply must equal balances"
    );
}

fn registration(owner: &PrivateKey, d: &PrivateKey, class: Class) -> Registration {
    let sig = keys::sign(
        d,
        device::REGISTER_NAMESPACE,
        &device::register_bytes(&addr(owner), class, &model()),
    );
    Registration {
        key: d.public_key().as_ref().to_vec(),
        class,
        model: model(),
        bond: BOND,
        signature: mycel_primitives::codec::Encode::encode(&sig).to_vec(),
    }
}

/// `poster` posts an edge job of `records` records (input `[9; 32]`) in units of `unit_records`.
fn post_job(c: &mut Chain, poster: &PrivateKey, records: u64, unit_records: u32, price: Amount) {
    ok(&c.block(&[c.tx(
        poster,
        vec![Message::Device(device::Msg::PostJob {
            model: model(),
            input: Hash([9; 32]),
            records,
            unit_records,
            price_per_record: price,
        })],
    )]));
}

fn register_msg(r: Registration) -> Message {
    Message::Device(device::Msg::Register(Box::new(r)))
}

/// Registers device `d` under `owner` and funds its fees.
fn join(c: &mut Chain, owner: &PrivateKey, d: &PrivateKey, class: Class) {
    ok(&c.block(&[c.tx(
        owner,
        vec![
            register_msg(registration(owner, d, class)),
            transfer(addr(d), Amount::from_myc(5)),
        ],
    )]));
}

/// What the receipt of a refused device message says, by reason.
fn says(reason: &str) -> (&'static str, &'static str) {
    match reason {
        "bad_device_signature" => ("unauthorized", "signature over this registration"),
        "device_taken" | "unauthorized" => ("unauthorized", "is registered already"),
        "not_yours" => ("unauthorized", "may not act for device"),
        "not_checker" => ("unauthorized", "is not the checker"),
        "bond_too_low" => ("invalid_device", "below the minimum"),
        "owner_is_device" => ("invalid_device", "must not be its owner's key"),
        "no_probe" => ("invalid_device", "no open probe"),
        "already_sent" => ("invalid_device", "was sent already"),
        "out_of_window" => ("invalid_device", "outside its window"),
        "seal_mismatch" => ("invalid_device", "does not open the seal"),
        other => panic!("no text for {other}"),
    }
}

/// Runs `tx` alone in a block, expects it to fail for `reason`, and checks that the device
/// state and the escrow end as they would after an empty block (the sender still pays its fee).
fn refused(c: &mut Chain, tx: Tx, reason: &str) {
    let after = |txs: &[Tx]| {
        let out = c.exec(txs).unwrap();
        let mut s = c.state.clone();
        s.apply(&out.writes);
        let dev: Vec<(Vec<u8>, Vec<u8>)> =
            s.0.iter()
                .filter(|(k, _)| k.starts_with(b"device/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        (dev, bank_mod::balance(&s, &device::escrow()).unwrap())
    };
    let (code, text) = says(reason);
    assert_eq!(
        after(std::slice::from_ref(&tx)),
        after(&[]),
        "{reason} changed device state"
    );
    let out = c.block(&[tx]);
    let r = &out.receipts[0];
    assert!(!r.success, "expected {reason}");
    assert_eq!(r.code, code, "{}", r.error);
    assert!(r.error.contains(text), "{reason}: {}", r.error);
    conserved(c);
}

/// The true embedding of a probe in this test: what an honest device and an honest checker both
/// compute (a stand-in for the model, derived from what the chain fixes: round seed, device, job).
fn truth(c: &Chain, round: u64, d: &Address) -> Vec<u8> {
    let r = device::round(&c.state, round).unwrap().unwrap();
    let p = device::probe(&c.state, round, d).unwrap().unwrap();
    let mut out = Vec::new();
    for i in 0..p.records {
        let seed = if p.job == 0 {
            hash_parts(Domain::Randomness, &[&r.seed.0, &d.0, &i.to_be_bytes()])
        } else {
            let rec = p.unit * 1_000 + i as u64;
            hash_parts(
                Domain::Randomness,
                &[&p.job.to_be_bytes(), &rec.to_be_bytes()],
            )
        };
        out.extend(seed.0[..DIM].iter().map(|b| b % 100));
    }
    out
}

fn salt(i: u8) -> Hash {
    Hash([i; 32])
}

/// How a device answers.
#[derive(Clone, Copy, PartialEq)]
enum Plays {
    /// Computes the answer.
    Honest,
    /// Off by one step in every value (another CPU's rounding).
    Rounding,
    /// Does not compute: random bytes of the right shape.
    Garbage,
    /// Replays the answer it gave in an earlier round.
    Cached,
    /// Never answers.
    Silent,
}

struct Player {
    key: PrivateKey,
    plays: Plays,
    last: Vec<u8>,
}

fn player(key: PrivateKey, plays: Plays) -> Player {
    Player {
        key,
        plays,
        last: Vec::new(),
    }
}

/// Runs empty blocks until `f` holds.
fn until(c: &mut Chain, mut f: impl FnMut(&Chain) -> bool) {
    for _ in 0..1_000 {
        if f(c) {
            return;
        }
        c.block(&[]);
    }
    panic!("condition never held");
}

/// Plays one round to its close; returns the close's probe events by device.
fn play(c: &mut Chain, players: &mut [Player]) -> Vec<(Address, String)> {
    let first = addr(&players[0].key);
    until(c, |c| {
        device::probes_for(&c.state, &first)
            .unwrap()
            .iter()
            .any(|(r, p)| {
                p.sealed == Hash::ZERO && c.time_ms + c.step_ms <= r.seal_end(&c.params().device)
            })
    });
    let (round, _) = device::probes_for(&c.state, &first).unwrap().pop().unwrap();
    let id = round.id;
    let mut answers = Vec::new();
    let mut txs = Vec::new();
    for (i, p) in players.iter_mut().enumerate() {
        let a = addr(&p.key);
        if device::probe(&c.state, id, &a).unwrap().is_none() {
            // Offline or gone: no probe this round.
            answers.push(None);
            continue;
        }
        let t = truth(c, id, &a);
        let answer = match p.plays {
            Plays::Honest => t,
            Plays::Rounding => t.iter().map(|v| v + 1).collect(),
            Plays::Garbage => hash_parts(Domain::Randomness, &[&id.to_be_bytes()]).0
                [..t.len().min(32)]
                .iter()
                .cycle()
                .take(t.len())
                .copied()
                .collect(),
            Plays::Cached if !p.last.is_empty() => p.last.clone(),
            Plays::Cached => t,
            Plays::Silent => {
                answers.push(None);
                continue;
            }
        };
        p.last = answer.clone();
        let sealed = device::seal(id, &a, &a, &device::answer_hash(&answer), &salt(i as u8));
        txs.push(c.tx(
            &p.key,
            vec![Message::Device(device::Msg::Seal { round: id, sealed })],
        ));
        answers.push(Some(answer));
    }
    ok(&c.block(&txs));
    until(c, |c| {
        device::round(&c.state, id).unwrap().unwrap().check_seed != Hash::ZERO
    });
    // Checkers seal the truth.
    let auditors = [account(4), account(5)];
    let mut txs = Vec::new();
    let mut refs = Vec::new();
    for p in players.iter() {
        let a = addr(&p.key);
        let Some(probe) = device::probe(&c.state, id, &a).unwrap() else {
            continue;
        };
        if !probe.checked {
            continue;
        }
        let k = auditors.iter().find(|k| addr(k) == probe.checker).unwrap();
        let t = truth(c, id, &a);
        let sealed = device::seal(id, &a, &probe.checker, &device::answer_hash(&t), &salt(99));
        txs.push(c.tx(
            k,
            vec![Message::Device(device::Msg::CheckSeal {
                round: id,
                device: a,
                sealed,
            })],
        ));
        refs.push((k.clone(), a, t));
    }
    // Checker transactions from one key need consecutive nonces.
    let txs = renonce(c, txs);
    ok(&c.block(&txs));
    let check_end = round.check_end(&c.params().device);
    until(c, |c| c.time_ms + c.step_ms > check_end);
    let mut txs = Vec::new();
    for (i, (p, ans)) in players.iter().zip(&answers).enumerate() {
        if let Some(ans) = ans {
            let a = addr(&p.key);
            txs.push(c.tx(
                &p.key,
                vec![Message::Device(device::Msg::Reveal {
                    round: id,
                    device: a,
                    answer: ans.clone(),
                    salt: salt(i as u8),
                })],
            ));
        }
    }
    for (k, a, t) in refs {
        txs.push(c.tx(
            &k,
            vec![Message::Device(device::Msg::Reveal {
                round: id,
                device: a,
                answer: t,
                salt: salt(99),
            })],
        ));
    }
    let txs = renonce(c, txs);
    ok(&c.block(&txs));
    let mut outcomes = Vec::new();
    until(c, |c| device::round(&c.state, id).unwrap().is_none());
    // The close ran in the last block: read its outcome from the device counters' events.
    for p in players.iter() {
        let d = device::device(&c.state, &addr(&p.key)).unwrap().unwrap();
        outcomes.push((d.address, format!("{:?}", d.status)));
    }
    conserved(c);
    outcomes
}

/// Re-signs transactions so that several from one sender carry consecutive nonces.
fn renonce(c: &Chain, txs: Vec<Tx>) -> Vec<Tx> {
    let mut next: std::collections::BTreeMap<Address, u64> = Default::default();
    let keys: Vec<PrivateKey> = (0..10).map(account).chain((0..10).map(dev)).collect();
    txs.into_iter()
        .map(|t| {
            let sender = Address::from_public_key(&t.body.sender);
            let k = keys.iter().find(|k| addr(k) == sender).unwrap();
            let n = next.entry(sender).or_insert_with(|| c.nonce(k));
            let tx = c.tx_with(k, *n, t.body.messages.clone(), 0);
            *n += 1;
            tx
        })
        .collect()
}

#[test]
fn forged_duplicate_and_stolen_registrations_are_refused_and_change_nothing() {
    let mut c = chain();
    let (owner, thief, d) = (account(0), account(1), dev(0));
    // Signed by the owner's key instead of the device's.
    let mut r = registration(&owner, &d, Class::Small);
    r.signature = mycel_primitives::codec::Encode::encode(&keys::sign(
        &owner,
        device::REGISTER_NAMESPACE,
        &device::register_bytes(&addr(&owner), Class::Small, &model()),
    ))
    .to_vec();
    let tx = c.tx(&owner, vec![register_msg(r)]);
    refused(&mut c, tx, "bad_device_signature");
    // The device's consent to one owner does not register it under another.
    let tx = c.tx(
        &thief,
        vec![register_msg(registration(&owner, &d, Class::Small))],
    );
    refused(&mut c, tx, "bad_device_signature");
    // Nor does it vouch for another class (a claim the device did not sign).
    let mut r = registration(&owner, &d, Class::Small);
    r.class = Class::Standard;
    let tx = c.tx(&owner, vec![register_msg(r)]);
    refused(&mut c, tx, "bad_device_signature");
    let mut r = registration(&owner, &d, Class::Small);
    r.bond = Amount(1);
    let tx = c.tx(&owner, vec![register_msg(r)]);
    refused(&mut c, tx, "bond_too_low");
    let tx = c.tx(
        &owner,
        vec![register_msg(registration(&owner, &owner, Class::Small))],
    );
    refused(&mut c, tx, "owner_is_device");

    join(&mut c, &owner, &d, Class::Small);
    let got = device::device(&c.state, &addr(&d)).unwrap().unwrap();
    assert_eq!(
        (got.owner, got.status, got.bond),
        (addr(&owner), Status::Probation, BOND)
    );
    // Twice, by the same owner or by another one with the device's real consent.
    let tx = c.tx(
        &owner,
        vec![register_msg(registration(&owner, &d, Class::Small))],
    );
    refused(&mut c, tx, "device_taken");
    let tx = c.tx(
        &thief,
        vec![register_msg(registration(&thief, &d, Class::Small))],
    );
    refused(&mut c, tx, "unauthorized");
    // Nobody else retires it.
    let tx = c.tx(
        &thief,
        vec![Message::Device(device::Msg::Leave { device: addr(&d) })],
    );
    refused(&mut c, tx, "not_yours");
    conserved(&c);
}

#[test]
fn an_honest_device_passes_its_capability_check_and_is_paid_by_the_epoch() {
    let mut c = chain();
    let owner = account(0);
    join(&mut c, &owner, &dev(0), Class::Micro);
    let mut players = [player(dev(0), Plays::Honest)];
    play(&mut c, &mut players);
    let d = device::device(&c.state, &addr(&dev(0))).unwrap().unwrap();
    // Its first probe is always checked: the capability challenge.
    assert_eq!((d.status, d.passed, d.answered), (Status::Active, 1, 1));
    assert_eq!(d.records, Class::Micro.records() as u64);
    for _ in 0..3 {
        play(&mut c, &mut players);
    }
    let before = c.balance(&addr(&owner));
    let epoch_end = (c.height / 200 + 1) * 200;
    c.run_to(epoch_end);
    let paid = c.balance(&addr(&owner)).0 - before.0;
    assert!(paid > 0, "the owner is paid for the device's uptime");
    let recs = mycel_ledger::earnings::records(&c.state, epoch_end / 200 - 1, Some(&addr(&owner)))
        .unwrap();
    assert!(
        recs.iter()
            .any(|r| r.reason == Reason::EdgeUptime && r.amount.0 == paid),
        "{recs:?}"
    );
    conserved(&c);
}

#[test]
fn another_cpus_rounding_passes_but_garbage_and_cached_answers_fail() {
    let mut c = chain();
    join(&mut c, &account(0), &dev(0), Class::Small);
    join(&mut c, &account(1), &dev(1), Class::Small);
    join(&mut c, &account(2), &dev(2), Class::Small);
    let mut players = [
        player(dev(0), Plays::Rounding),
        player(dev(1), Plays::Garbage),
        player(dev(2), Plays::Cached),
    ];
    let burned = c.burned();
    play(&mut c, &mut players);
    let get = |c: &Chain, i| device::device(&c.state, &addr(&dev(i))).unwrap().unwrap();
    assert_eq!(
        get(&c, 0).status,
        Status::Active,
        "one step of rounding is allowed"
    );
    assert_eq!(get(&c, 1).failed, 1, "garbage fails its check");
    assert!(get(&c, 1).bond < BOND, "and costs bond");
    assert!(
        c.burned() > burned,
        "the slashed bond is burned, not paid to the checker"
    );
    assert_eq!(
        get(&c, 2).status,
        Status::Active,
        "its first answer was computed"
    );
    // The cached device answers its next probes with the old answer: probation devices are
    // always checked, and active ones at 50 %, so within a few rounds it is caught.
    for _ in 0..8 {
        play(&mut c, &mut players);
        if get(&c, 2).failed > 0 {
            break;
        }
    }
    assert!(get(&c, 2).failed > 0, "a replayed answer is caught");
    assert_eq!(get(&c, 0).failed, 0);
    conserved(&c);
}

#[test]
fn late_copied_and_replayed_messages_are_refused() {
    let mut c = chain();
    join(&mut c, &account(0), &dev(0), Class::Micro);
    let d = addr(&dev(0));
    until(&mut c, |c| {
        !device::probes_for(&c.state, &d).unwrap().is_empty()
    });
    let (r, _) = device::probes_for(&c.state, &d).unwrap().pop().unwrap();
    let answer = truth(&c, r.id, &d);
    let sealed = device::seal(r.id, &d, &d, &device::answer_hash(&answer), &salt(1));
    let seal_tx = |c: &Chain| {
        c.tx(
            &dev(0),
            vec![Message::Device(device::Msg::Seal {
                round: r.id,
                sealed,
            })],
        )
    };
    // A probe of another device, or of a round that does not exist.
    let tx = c.tx(
        &account(6),
        vec![Message::Device(device::Msg::Seal {
            round: r.id,
            sealed,
        })],
    );
    refused(&mut c, tx, "no_probe");
    ok(&c.block(&[seal_tx(&c)]));
    let tx = seal_tx(&c);
    refused(&mut c, tx, "already_sent");
    // A reveal before the checkers have sealed would let a lazy checker copy it.
    let reveal = |c: &Chain, k: &PrivateKey, answer: Vec<u8>, s: Hash| {
        c.tx(
            k,
            vec![Message::Device(device::Msg::Reveal {
                round: r.id,
                device: d,
                answer,
                salt: s,
            })],
        )
    };
    let tx = reveal(&c, &dev(0), answer.clone(), salt(1));
    refused(&mut c, tx, "out_of_window");
    until(&mut c, |c| {
        device::round(&c.state, r.id).unwrap().unwrap().check_seed != Hash::ZERO
    });
    let probe = device::probe(&c.state, r.id, &d).unwrap().unwrap();
    assert!(probe.checked, "a device on probation is always checked");
    // A non-checker cannot seal a reference.
    let not_checker = if probe.checker == addr(&account(4)) {
        account(5)
    } else {
        account(4)
    };
    let tx = c.tx(
        &not_checker,
        vec![Message::Device(device::Msg::CheckSeal {
            round: r.id,
            device: d,
            sealed,
        })],
    );
    refused(&mut c, tx, "not_checker");
    // A late seal.
    let tx = seal_tx(&c);
    refused(&mut c, tx, "out_of_window");
    until(&mut c, |c| {
        c.time_ms + c.step_ms > r.check_end(&c.params().device)
    });
    // A reveal that does not open the seal.
    let mut other = answer.clone();
    other[0] ^= 1;
    let tx = reveal(&c, &dev(0), other, salt(1));
    refused(&mut c, tx, "seal_mismatch");
    ok(&c.block(&[reveal(&c, &dev(0), answer.clone(), salt(1))]));
    let tx = reveal(&c, &dev(0), answer.clone(), salt(1));
    refused(&mut c, tx, "already_sent");
    until(&mut c, |c| device::round(&c.state, r.id).unwrap().is_none());
    // After the close the round is gone: a replay of its reveal is refused.
    let tx = reveal(&c, &dev(0), answer, salt(1));
    refused(&mut c, tx, "no_probe");
    conserved(&c);
}

#[test]
fn a_silent_device_goes_offline_and_resumes_on_probation() {
    let mut c = chain();
    join(&mut c, &account(0), &dev(0), Class::Micro);
    let d = addr(&dev(0));
    let mut players = [player(dev(0), Plays::Silent)];
    for _ in 0..3 {
        play(&mut c, &mut players);
    }
    let got = device::device(&c.state, &d).unwrap().unwrap();
    assert_eq!((got.status, got.missed), (Status::Offline, 3));
    // Offline: no more probes.
    c.run_to(c.height + 30);
    assert!(device::probes_for(&c.state, &d).unwrap().is_empty());
    ok(&c.block(&[c.tx(&dev(0), vec![Message::Device(device::Msg::Resume)])]));
    assert_eq!(
        device::device(&c.state, &d).unwrap().unwrap().status,
        Status::Probation
    );
    players[0].plays = Plays::Honest;
    play(&mut c, &mut players);
    assert_eq!(
        device::device(&c.state, &d).unwrap().unwrap().status,
        Status::Active
    );
    conserved(&c);
}

#[test]
fn a_slow_device_claiming_a_fast_class_misses_every_deadline() {
    // The class fixes the probe size and the deadline is the same: a device that needs longer
    // than `seal_ms` for its class's probe never seals in time. Here the device only manages to
    // send its seal after the window.
    let mut c = chain();
    join(&mut c, &account(0), &dev(0), Class::Standard);
    let d = addr(&dev(0));
    let mut late = 0;
    for _ in 0..3 {
        until(&mut c, |c| {
            !device::probes_for(&c.state, &d).unwrap().is_empty()
        });
        let (r, p) = device::probes_for(&c.state, &d).unwrap().pop().unwrap();
        assert_eq!(p.records, Class::Standard.records());
        let seal_end = r.seal_end(&c.params().device);
        until(&mut c, |c| c.time_ms + c.step_ms > seal_end);
        let answer = truth(&c, r.id, &d);
        let sealed = device::seal(r.id, &d, &d, &device::answer_hash(&answer), &salt(1));
        let tx = c.tx(
            &dev(0),
            vec![Message::Device(device::Msg::Seal {
                round: r.id,
                sealed,
            })],
        );
        refused(&mut c, tx, "out_of_window");
        late += 1;
        until(&mut c, |c| device::round(&c.state, r.id).unwrap().is_none());
    }
    let got = device::device(&c.state, &d).unwrap().unwrap();
    assert_eq!(
        (late, got.missed, got.answered, got.status),
        (3, 3, 0, Status::Offline)
    );
    conserved(&c);
}

#[test]
fn an_edge_job_survives_a_device_that_drops_out_and_pays_each_unit_once() {
    let mut c = chain();
    let poster = account(3);
    join(&mut c, &account(0), &dev(0), Class::Small);
    join(&mut c, &account(1), &dev(1), Class::Small);
    let price = Amount(1_000);
    let records = 40u64; // units of 16: 16, 16, 8
    post_job(&mut c, &poster, records, 16, price);
    let poster_before = c.balance(&addr(&poster));
    let owners_before = c.balance(&addr(&account(0))).0 + c.balance(&addr(&account(1))).0;
    // Device 1 drops out after taking a lease; device 0 finishes everything.
    let mut players = [player(dev(0), Plays::Honest), player(dev(1), Plays::Silent)];
    for _ in 0..6 {
        play(&mut c, &mut players);
        if device::edge_job(&c.state, 1).unwrap().unwrap().completed != 0 {
            break;
        }
    }
    let job = device::edge_job(&c.state, 1).unwrap().unwrap();
    assert_ne!(job.completed, 0, "every unit is done");
    assert_eq!((job.done, job.escrow), (3, Amount::ZERO));
    let units = device::units_of(&c.state, 1).unwrap();
    assert_eq!(units.len(), 3);
    for (_, u) in &units {
        assert_eq!((u.state, u.device), (UnitState::Done, addr(&dev(0))));
    }
    assert!(
        units.iter().any(|(_, u)| u.leases > 1),
        "a lost lease went to the other device"
    );
    let owners_after = c.balance(&addr(&account(0))).0 + c.balance(&addr(&account(1))).0;
    // Fees only (no epoch ended): exactly price × records, paid once, to device 0's owner.
    assert_eq!(owners_after - owners_before, price.0 * records as u128);
    assert_eq!(c.balance(&addr(&poster)), poster_before);
    conserved(&c);
}

#[test]
fn a_device_that_leaves_keeps_what_it_earned_and_gets_its_bond_back() {
    let mut c = chain();
    let owner = account(0);
    join(&mut c, &owner, &dev(0), Class::Micro);
    let mut players = [player(dev(0), Plays::Honest)];
    play(&mut c, &mut players);
    let before = c.balance(&addr(&owner));
    ok(&c.block(&[c.tx(
        &owner,
        vec![Message::Device(device::Msg::Leave {
            device: addr(&dev(0)),
        })],
    )]));
    let fee = before.0 - c.balance(&addr(&owner)).0;
    c.run_to(c.height + 20);
    let got = device::device(&c.state, &addr(&dev(0))).unwrap().unwrap();
    assert_eq!(
        (got.status, got.bond, got.passed),
        (Status::Left, Amount::ZERO, 1)
    );
    assert_eq!(c.balance(&addr(&owner)).0, before.0 - fee + BOND.0);
    assert!(
        device::probes_for(&c.state, &addr(&dev(0)))
            .unwrap()
            .is_empty()
    );
    conserved(&c);
}

#[test]
fn a_cheater_never_gets_a_job_unit_accepted() {
    // Every job unit is checked: a device answering garbage loses each lease it takes (and bond),
    // and the units end up done by the honest device alone, paid to its owner only.
    let mut c = chain();
    join(&mut c, &account(0), &dev(0), Class::Small);
    join(&mut c, &account(1), &dev(1), Class::Small);
    let price = Amount(1_000);
    post_job(&mut c, &account(3), 48, 16, price);
    let cheater_owner = c.balance(&addr(&account(0)));
    let mut players = [
        player(dev(0), Plays::Garbage),
        player(dev(1), Plays::Honest),
    ];
    for _ in 0..8 {
        play(&mut c, &mut players);
        if device::edge_job(&c.state, 1).unwrap().unwrap().completed != 0 {
            break;
        }
    }
    let job = device::edge_job(&c.state, 1).unwrap().unwrap();
    assert_ne!(job.completed, 0);
    for (_, u) in device::units_of(&c.state, 1).unwrap() {
        assert_eq!((u.state, u.device), (UnitState::Done, addr(&dev(1))));
    }
    let cheater = device::device(&c.state, &addr(&dev(0))).unwrap().unwrap();
    assert!(cheater.failed >= 1 && cheater.bond < BOND && cheater.earned == Amount::ZERO);
    assert_eq!(
        c.balance(&addr(&account(0))),
        cheater_owner,
        "not a unit paid to the cheater"
    );
    conserved(&c);
}

#[test]
fn without_auditors_nothing_is_credited_and_no_unit_is_given_out() {
    // Nobody can check: answers count for uptime only, and jobs wait for a checker.
    let mut c = Chain::new(genesis_with(1, |p| {
        p.rewards.epoch_length = 200;
        p.device.round_ms = 1_500;
        p.device.seal_ms = 300;
        p.device.check_ms = 200;
        p.device.reveal_ms = 500;
    }));
    join(&mut c, &account(0), &dev(0), Class::Micro);
    post_job(&mut c, &account(3), 4, 4, Amount(1_000));
    let d = addr(&dev(0));
    for _ in 0..2 {
        until(&mut c, |c| {
            device::probes_for(&c.state, &d)
                .unwrap()
                .iter()
                .any(|(r, p)| {
                    p.sealed == Hash::ZERO
                        && c.time_ms + c.step_ms <= r.seal_end(&c.params().device)
                })
        });
        let (r, p) = device::probes_for(&c.state, &d).unwrap().pop().unwrap();
        assert_eq!(p.job, 0, "no unit without a checker");
        let answer = truth(&c, r.id, &d);
        let sealed = device::seal(r.id, &d, &d, &device::answer_hash(&answer), &salt(1));
        ok(&c.block(&[c.tx(
            &dev(0),
            vec![Message::Device(device::Msg::Seal {
                round: r.id,
                sealed,
            })],
        )]));
        until(&mut c, |c| {
            c.time_ms + c.step_ms > r.check_end(&c.params().device)
        });
        ok(&c.block(&[c.tx(
            &dev(0),
            vec![Message::Device(device::Msg::Reveal {
                round: r.id,
                device: d,
                answer,
                salt: salt(1),
            })],
        )]));
        until(&mut c, |c| device::round(&c.state, r.id).unwrap().is_none());
    }
    let got = device::device(&c.state, &d).unwrap().unwrap();
    assert_eq!(
        (got.answered, got.records, got.passed, got.status),
        (2, 0, 0, Status::Probation)
    );
    assert_eq!(device::edge_job(&c.state, 1).unwrap().unwrap().done, 0);
    let before = c.balance(&addr(&account(0)));
    c.run_to(200);
    assert_eq!(
        c.balance(&addr(&account(0))),
        before,
        "no uptime reward without checks"
    );
    conserved(&c);
}
