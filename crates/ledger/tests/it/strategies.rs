//! Proptest strategies for every ledger wire and stored type, within the decoders' limits so that
//! every generated value is one the codec must round-trip.
//!
//! Shared with `mycel-consensus`'s integration tests (which include this file by path), so it
//! uses only the public APIs of `mycel-ledger` and `mycel-primitives` and proptest.

#![allow(dead_code)]

use mycel_ledger::{
    Event, Message, Receipt, Tx, TxBody,
    modules::{
        agent, bank, data,
        market::{self, JobKind, JobStatus, SessionMsg},
        model,
        rewards::EpochSummary,
        staking::{self, Role},
        verify,
    },
};
use mycel_primitives::{
    Address, Amount, Hash, Signature,
    codec::{MAX_MESSAGES_PER_TX, MAX_STRING_BYTES, decode},
    keys::{private_key_from_seed, public_key},
    merkle::InclusionProof,
};
use proptest::{collection::vec, prelude::*};

// Decoder limits that are private to the ledger, restated here; a golden or round-trip failure
// is how a change to one shows up.
const MAX_CHAIN_ID: usize = 64;
const MAX_ATTR: usize = 1024;
const MAX_EVENT_ATTRS: usize = 256;
const MAX_RECEIPT_CODE: usize = 64;
const MAX_PROFILE: usize = 64;
const MAX_LICENSE: usize = 128;
const MAX_PATH: usize = 64;
const MAX_LEAF: usize = 1024;
const MAX_MODELS: usize = 32;
const MAX_HARDWARE: usize = 64;
const MAX_ENDPOINT: usize = 256;
const MAX_PARAMS: usize = 4 * 1024;

/// A hash.
pub fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

/// An address.
pub fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address)
}

/// An amount: often small, sometimes anywhere in `u128`.
pub fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![0u128..1_000_000_000_000, any::<u128>()].prop_map(Amount)
}

/// A string of at most `max` UTF-8 bytes: printable ASCII up to the limit, or any characters
/// (up to four bytes each) within it.
pub fn string(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        vec(0x20u8..0x7f, 0..=max).prop_map(|b| String::from_utf8(b).unwrap()),
        proptest::string::string_regex(&format!(".{{0,{}}}", max / 4)).unwrap(),
    ]
}

/// Bytes with a length in `len`.
pub fn bytes(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), len)
}

/// A Merkle inclusion proof within the path limit.
pub fn proof() -> impl Strategy<Value = InclusionProof> {
    (any::<u64>(), any::<u64>(), vec(hash(), 0..=MAX_PATH))
        .prop_map(|(index, size, path)| InclusionProof { index, size, path })
}

/// A staking role.
pub fn role() -> impl Strategy<Value = Role> {
    proptest::sample::select(Role::ALL.to_vec())
}

/// A job kind.
pub fn job_kind() -> impl Strategy<Value = JobKind> {
    proptest::sample::select(vec![
        JobKind::Generate,
        JobKind::Embed,
        JobKind::Finetune,
        JobKind::Dedup,
    ])
}

/// A job status.
pub fn job_status() -> impl Strategy<Value = JobStatus> {
    proptest::sample::select(vec![
        JobStatus::Assigned,
        JobStatus::Committed,
        JobStatus::Settled,
        JobStatus::Failed,
    ])
}

/// Every bank message.
pub fn bank_msg() -> impl Strategy<Value = bank::Msg> {
    prop_oneof![
        (address(), amount()).prop_map(|(to, amount)| bank::Msg::Transfer { to, amount }),
        amount().prop_map(|amount| bank::Msg::Burn { amount }),
    ]
}

/// Every staking message.
pub fn staking_msg() -> impl Strategy<Value = staking::Msg> {
    prop_oneof![
        (role(), amount()).prop_map(|(role, amount)| staking::Msg::Bond { role, amount }),
        (role(), amount()).prop_map(|(role, amount)| staking::Msg::Unbond { role, amount }),
        Just(staking::Msg::Unjail),
    ]
}

/// A dataset registration.
pub fn registration() -> impl Strategy<Value = data::Registration> {
    (
        (hash(), any::<u64>(), any::<u64>(), string(MAX_PROFILE)),
        (hash(), hash(), hash(), string(MAX_LICENSE), any::<u8>()),
        vec(hash(), 0..=data::MAX_PARENTS),
        (hash(), any::<u64>(), any::<u64>(), amount()),
    )
        .prop_map(
            |(
                (root, records, bytes, profile),
                (minhash_root, signatures, manifest, license, consent),
                parents,
                (novel_root, novel_records, novel_bytes, bond),
            )| data::Registration {
                root,
                records,
                bytes,
                profile,
                minhash_root,
                signatures,
                manifest,
                license,
                consent,
                parents,
                novel_root,
                novel_records,
                novel_bytes,
                bond,
            },
        )
}

/// A registered dataset.
pub fn dataset() -> impl Strategy<Value = data::Dataset> {
    (
        registration(),
        address(),
        (any::<u64>(), any::<u64>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(registration, contributor, (height, seq), challenged, bond_locked)| data::Dataset {
                registration,
                contributor,
                height,
                seq,
                challenged,
                bond_locked,
            },
        )
}

/// Every data message.
pub fn data_msg() -> impl Strategy<Value = data::Msg> {
    prop_oneof![
        registration().prop_map(|r| data::Msg::RegisterDataset(Box::new(r))),
        (hash(), any::<u8>())
            .prop_map(|(dataset, consent)| data::Msg::UpdateConsent { dataset, consent }),
        (
            hash(),
            bytes(32..=MAX_LEAF),
            proof(),
            hash(),
            bytes(32..=MAX_LEAF),
            proof()
        )
            .prop_map(
                |(dataset, leaf, novel_proof, earlier, earlier_leaf, earlier_proof)| {
                    data::Msg::ChallengeNovelty {
                        dataset,
                        leaf,
                        novel_proof,
                        earlier,
                        earlier_leaf,
                        earlier_proof,
                    }
                }
            ),
        (
            hash(),
            bytes(0..=256),
            proof(),
            hash(),
            bytes(0..=256),
            proof()
        )
            .prop_map(
                |(dataset, record, novel_proof, earlier, earlier_record, earlier_proof)| {
                    data::Msg::ChallengeNearDuplicate {
                        dataset,
                        record,
                        novel_proof,
                        earlier,
                        earlier_record,
                        earlier_proof,
                    }
                }
            ),
    ]
}

/// A model message.
pub fn model_msg() -> BoxedStrategy<model::Msg> {
    let kind = prop_oneof![
        Just(model::ModelKind::Base),
        Just(model::ModelKind::Finetune),
        Just(model::ModelKind::Adapter),
        Just(model::ModelKind::Merge),
        Just(model::ModelKind::Quantized),
    ];
    let access = || prop_oneof![Just(model::Access::Public), Just(model::Access::Gated)];
    let registration = (
        (
            hash(),
            string(64),
            kind,
            vec(hash(), 0..=model::MAX_PARENTS),
        ),
        (
            vec(hash(), 0..=model::MAX_DATASETS),
            hash(),
            string(MAX_LICENSE),
            hash(),
        ),
        (access(), hash(), any::<u32>()),
    )
        .prop_map(
            |(
                (id, name, kind, parents),
                (datasets, files, license, license_text),
                (access, card, card_bytes),
            )| model::Registration {
                id,
                name,
                kind,
                parents,
                datasets,
                files,
                license,
                license_text,
                access,
                card,
                card_bytes,
            },
        )
        .boxed();
    prop_oneof![
        registration.prop_map(|r| model::Msg::Register(Box::new(r))),
        (hash(), address()).prop_map(|(model, grantee)| model::Msg::Grant { model, grantee }),
        (hash(), address()).prop_map(|(model, grantee)| model::Msg::Revoke { model, grantee }),
        (hash(), access()).prop_map(|(model, access)| model::Msg::SetAccess { model, access }),
    ]
    .boxed()
}

/// An agent message (the manifest as the codec sees it: bounded bytes).
pub fn agent_msg() -> BoxedStrategy<agent::Msg> {
    let kind = prop_oneof![Just(agent::Kind::Tool), Just(agent::Kind::Agent)];
    let registration = (
        kind,
        bytes(0..=2_048),
        string(256),
        amount(),
        amount(),
        bytes(32..=32),
        bytes(64..=64),
    )
        .prop_map(
            |(kind, manifest, endpoint, price, bond, owner_key, signature)| agent::Registration {
                kind,
                manifest,
                endpoint,
                price,
                bond,
                owner_key,
                signature,
            },
        );
    prop_oneof![
        registration.prop_map(|r| agent::Msg::Register(Box::new(r))),
        hash().prop_map(|id| agent::Msg::Deregister { id }),
        (hash(), hash(), bytes(32..=32), bytes(64..=64)).prop_map(
            |(id, advertised, provider_key, signature)| agent::Msg::Challenge {
                id,
                advertised,
                provider_key,
                signature,
            }
        ),
    ]
    .boxed()
}

/// A worker offer.
pub fn offer() -> impl Strategy<Value = market::Offer> {
    (
        any::<u8>(),
        vec(hash(), 0..=MAX_MODELS),
        string(MAX_HARDWARE),
        amount(),
        string(MAX_ENDPOINT),
        string(512),
    )
        .prop_map(
            |(kinds, models, hardware, price_per_unit, endpoint, licenses)| market::Offer {
                kinds,
                models,
                hardware,
                price_per_unit,
                endpoint,
                licenses,
            },
        )
}

/// A stored job.
pub fn job() -> impl Strategy<Value = market::Job> {
    (
        (any::<u64>(), address(), job_kind(), hash(), hash()),
        (bytes(0..=MAX_PARAMS), amount(), any::<u64>(), job_status()),
        (address(), amount(), any::<u64>(), any::<u32>()),
        (hash(), any::<u64>(), hash(), amount()),
        (any::<u64>(), hash()),
    )
        .prop_map(
            |(
                (id, poster, kind, model, input),
                (params, max_fee, deadline_blocks, status),
                (worker, price_per_unit, due, attempts),
                (output, units, trace_root, fee),
                (trace_len, seed),
            )| market::Job {
                id,
                poster,
                kind,
                model,
                input,
                params,
                max_fee,
                deadline_blocks,
                status,
                worker,
                price_per_unit,
                due,
                attempts,
                output,
                units,
                trace_root,
                trace_len,
                seed,
                fee,
            },
        )
}

/// A worker-signed session receipt.
pub fn session_receipt() -> impl Strategy<Value = market::Receipt> {
    (
        (any::<u64>(), any::<u64>(), hash()),
        (hash(), hash(), any::<u64>()),
        (amount(), amount(), amount()),
    )
        .prop_map(
            |(
                (session, seq, model),
                (input_hash, output_hash, tokens),
                (price, amount, cumulative),
            )| market::Receipt {
                session,
                seq,
                model,
                input_hash,
                output_hash,
                tokens,
                price,
                amount,
                cumulative,
            },
        )
}

/// A stored session.
pub fn session() -> impl Strategy<Value = market::Session> {
    (
        (
            any::<u64>(),
            address(),
            address(),
            hash(),
            amount(),
            amount(),
        ),
        (any::<u64>(), hash(), any::<u64>(), amount(), amount()),
        any::<bool>(),
    )
        .prop_map(
            |(
                (id, client, worker, model, deposit, price_per_token),
                (expires, receipts_root, count, total, refunded),
                closed,
            )| market::Session {
                id,
                client,
                worker,
                model,
                deposit,
                price_per_token,
                expires,
                receipts_root,
                count,
                total,
                refunded,
                closed,
            },
        )
}

/// Every session message.
pub fn session_msg() -> impl Strategy<Value = SessionMsg> {
    prop_oneof![
        (address(), hash(), amount(), any::<u64>()).prop_map(
            |(worker, model, deposit, duration_blocks)| SessionMsg::Open {
                worker,
                model,
                deposit,
                duration_blocks,
            }
        ),
        (
            any::<u64>(),
            hash(),
            any::<u64>(),
            amount(),
            session_receipt(),
            proof()
        )
            .prop_map(|(session, receipts_root, count, total, last, proof)| {
                SessionMsg::Settle {
                    session,
                    receipts_root,
                    count,
                    total,
                    last,
                    proof,
                }
            }),
        (session_receipt(), bytes(32..=32), bytes(64..=64)).prop_map(
            |(receipt, worker_key, signature)| SessionMsg::Dispute {
                receipt,
                worker_key,
                signature,
            }
        ),
        (session_receipt(), proof(), bytes(32..=32), bytes(64..=64)).prop_map(
            |(receipt, proof, client_key, request_signature)| SessionMsg::Answer {
                receipt,
                proof,
                client_key,
                request_signature,
            }
        ),
        any::<u64>().prop_map(|session| SessionMsg::Close { session }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(session, seq)| SessionMsg::Unrequested { session, seq }),
        (
            session_receipt(),
            bytes(64..=64),
            session_receipt(),
            bytes(64..=64),
            bytes(32..=32)
        )
            .prop_map(
                |(previous, previous_signature, receipt, signature, worker_key)| SessionMsg::Jump {
                    previous: Box::new(previous),
                    previous_signature,
                    receipt: Box::new(receipt),
                    signature,
                    worker_key,
                }
            ),
        (any::<u64>(), amount(), any::<u64>()).prop_map(|(session, amount, extend_blocks)| {
            SessionMsg::TopUp {
                session,
                amount,
                extend_blocks,
            }
        }),
    ]
}

/// Every market message.
pub fn market_msg() -> impl Strategy<Value = market::Msg> {
    prop_oneof![
        offer().prop_map(|o| market::Msg::Offer(Box::new(o))),
        Just(market::Msg::CloseOffer),
        (
            job_kind(),
            hash(),
            hash(),
            bytes(0..=MAX_PARAMS),
            amount(),
            any::<u64>()
        )
            .prop_map(|(kind, model, input, params, max_fee, deadline_blocks)| {
                market::Msg::PostJob {
                    kind,
                    model,
                    input,
                    params,
                    max_fee,
                    deadline_blocks,
                }
            }),
        (any::<u64>(), hash(), any::<u64>(), hash(), any::<u64>()).prop_map(
            |(job, output, units, trace_root, trace_len)| market::Msg::CommitResult {
                job,
                output,
                units,
                trace_root,
                trace_len,
            }
        ),
        session_msg().prop_map(market::Msg::Session),
    ]
}

/// Every message of every module.
pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        bank_msg().prop_map(Message::Bank),
        staking_msg().prop_map(Message::Staking),
        data_msg().prop_map(Message::Data),
        market_msg().prop_map(Message::Market),
        verify_msg().prop_map(Message::Verify),
        model_msg().prop_map(Message::Model),
        agent_msg().prop_map(Message::Agent),
    ]
}

/// Every `verify` message.
pub fn verify_msg() -> impl Strategy<Value = verify::Msg> {
    prop_oneof![
        (any::<u64>(), hash()).prop_map(|(audit, sealed)| verify::Msg::Seal { audit, sealed }),
        (any::<u64>(), hash(), hash(), hash()).prop_map(|(audit, digest, trace_root, salt)| {
            verify::Msg::Reveal {
                audit,
                digest,
                trace_root,
                salt,
            }
        }),
        (any::<u64>(), hash(), amount()).prop_map(|(job, trace_root, bond)| {
            verify::Msg::Challenge {
                job,
                trace_root,
                bond,
            }
        }),
        (any::<u64>(), hash(), hash()).prop_map(|(dispute, left, right)| verify::Msg::Split {
            dispute,
            left,
            right
        }),
        (any::<u64>(), any::<bool>())
            .prop_map(|(dispute, right)| verify::Msg::Pick { dispute, right }),
        (any::<u64>(), bytes(0..=1024))
            .prop_map(|(dispute, witness)| verify::Msg::Resolve { dispute, witness }),
        (any::<u64>(), any::<bool>()).prop_map(|(dispute, worker_right)| verify::Msg::Vote {
            dispute,
            worker_right
        }),
    ]
}

/// An epoch summary.
pub fn epoch_summary() -> impl Strategy<Value = EpochSummary> {
    (
        (amount(), amount(), amount()),
        (amount(), amount(), amount(), amount()),
        any::<u32>(),
    )
        .prop_map(
            |(
                (emission, validators, fees),
                (workers, data, auditors, reserved),
                validator_count,
            )| {
                EpochSummary {
                    emission,
                    validators,
                    fees,
                    workers,
                    data,
                    auditors,
                    edge: Amount(auditors.0 / 3),
                    reserved,
                    validator_count,
                }
            },
        )
}

/// An event. Attribute counts stay well below the limit to keep cases fast; the limit itself
/// is exercised by the edge-case tests.
pub fn event() -> impl Strategy<Value = Event> {
    (
        string(MAX_ATTR),
        vec((string(MAX_ATTR), string(MAX_ATTR)), 0..8),
    )
        .prop_map(|(kind, attrs)| Event { kind, attrs })
}

/// A transaction receipt.
pub fn receipt() -> impl Strategy<Value = Receipt> {
    (
        hash(),
        any::<bool>(),
        string(MAX_RECEIPT_CODE),
        string(MAX_ATTR),
        amount(),
        vec(event(), 0..4),
    )
        .prop_map(|(tx_hash, success, code, error, fee, events)| Receipt {
            tx_hash,
            success,
            code,
            error,
            fee,
            events,
        })
}

/// A transaction body from a key derived from a random seed.
pub fn tx_body() -> impl Strategy<Value = TxBody> {
    (
        string(MAX_CHAIN_ID),
        any::<[u8; 8]>(),
        any::<u64>(),
        amount(),
        prop_oneof![
            4 => vec(message(), 1..=4),
            1 => vec(message(), MAX_MESSAGES_PER_TX..=MAX_MESSAGES_PER_TX),
        ],
        string(MAX_STRING_BYTES),
    )
        .prop_map(|(chain_id, seed, nonce, fee, messages, memo)| TxBody {
            chain_id,
            sender: public_key(&private_key_from_seed(&seed)),
            nonce,
            fee,
            messages,
            memo,
        })
}

/// An ed25519 signature: the codec accepts any 64 bytes.
pub fn signature() -> impl Strategy<Value = Signature> {
    bytes(64..=64).prop_map(|b| decode::<Signature>(&b).expect("any 64 bytes"))
}

/// A transaction, either properly signed or with an arbitrary signature (the codec does not
/// verify signatures).
pub fn tx() -> impl Strategy<Value = Tx> {
    (tx_body(), any::<[u8; 8]>(), any::<bool>(), signature()).prop_map(
        |(body, seed, sign, signature)| {
            if sign {
                body.sign(&private_key_from_seed(&seed))
            } else {
                Tx { body, signature }
            }
        },
    )
}
