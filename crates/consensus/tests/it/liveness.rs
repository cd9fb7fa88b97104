//! Finalization certificates in blocks: a certificate a proposer carries reaches the ledger's
//! liveness record, and a forged or mismatched one makes the block invalid.

use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::{Digestible, Signer};
use commonware_parallel::Sequential;
use commonware_utils::iter::NonEmpty;
use mycel_consensus::{
    Chain, Digest, Error,
    block::{Block, Certificate},
    engine,
};
use mycel_ledger::{
    genesis::{Genesis, dev_key},
    modules::staking,
};
use mycel_primitives::Address;
use mycel_store::Store;
use rand::{SeedableRng, rngs::StdRng};
use std::sync::Arc;

const N: usize = 4;

fn genesis() -> Genesis {
    Genesis::dev("liveness", N)
}

fn open(dir: &tempfile::TempDir) -> Chain {
    let store = Arc::new(Store::open(dir.path().join("state.redb")).unwrap());
    Chain::open(store, &genesis(), 1_000, 1_000).unwrap()
}

fn validator(i: usize) -> Address {
    Address::from_public_key(&dev_key("validator", i).public_key())
}

fn participants() -> commonware_utils::ordered::Set<commonware_cryptography::ed25519::PublicKey> {
    engine::participants(&genesis().validator_keys().unwrap())
}

/// The finalization of `digest` in `view` signed by validators `who`.
fn finalize(digest: Digest, view: u64, who: &[usize]) -> Finalization<Scheme, Digest> {
    finalize_in(engine::NAMESPACE, digest, view, who)
}

/// [`finalize`] under the consensus namespace `namespace`.
fn finalize_in(
    namespace: &[u8],
    digest: Digest,
    view: u64,
    who: &[usize],
) -> Finalization<Scheme, Digest> {
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(view)),
        View::new(view - 1),
        digest,
    );
    let votes: Vec<Finalize<Scheme, Digest>> = who
        .iter()
        .map(|&i| {
            let scheme =
                Scheme::signer(namespace, participants(), dev_key("validator", i)).unwrap();
            Finalize::sign(&scheme, proposal.clone()).unwrap()
        })
        .collect();
    let verifier = Scheme::verifier(namespace, participants());
    Finalization::from_finalizes(
        &verifier,
        NonEmpty::try_new(votes.iter()).unwrap(),
        &Sequential,
    )
    .unwrap()
}

fn certificate(b: &Block, who: &[usize]) -> Certificate {
    Certificate {
        height: b.height,
        finalization: finalize(b.digest(), b.height, who),
    }
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn certificates_flow_into_blocks_and_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let proposer = validator(0);
    let b1 = chain
        .build(chain.genesis_block(), proposer, 1, None)
        .unwrap();
    assert_eq!(chain.last_certified(&b1.digest()).unwrap(), Some(0));
    // Validators 0, 1 and 3 (a quorum of four) finalize block 1; block 2 carries it.
    let cert = certificate(&b1, &[0, 1, 3]);
    assert!(chain.verify_certificate(&mut rng(), &cert));
    let b2 = chain.build(&b1, proposer, 2, Some(cert.clone())).unwrap();
    assert_eq!(b2.certificate.as_ref(), Some(&cert));
    assert_eq!(chain.last_certified(&b2.digest()).unwrap(), Some(1));
    // The certificate is part of the encoding and the digest.
    let back = mycel_consensus::block::decode(&mycel_consensus::block::encode(&b2)).unwrap();
    assert_eq!(back, b2);
    assert_eq!(back.digest(), b2.digest());
    assert_ne!(
        Block::with_certificate(
            b2.parent,
            b2.height,
            b2.timestamp_ms,
            b2.proposer,
            b2.state_root,
            None,
            vec![]
        )
        .digest(),
        b2.digest()
    );

    // Another validator re-executes both blocks to the same state.
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&other_dir);
    other.verify(&b1).unwrap();
    other.verify(&b2).unwrap();

    for c in [&chain, &other] {
        c.finalize(&b1).unwrap();
        c.finalize(&b2).unwrap();
        let state = c.finalized_state().unwrap();
        let (certified, mut signed) = staking::liveness(&state, 0).unwrap();
        assert_eq!(certified, 1);
        signed.sort();
        let mut want: Vec<(Address, u64)> = [0, 1, 3].iter().map(|&i| (validator(i), 1)).collect();
        want.sort();
        assert_eq!(signed, want, "validator 2 did not sign");
        assert_eq!(staking::last_certified(&state).unwrap(), 1);
    }
    assert_eq!(chain.head().unwrap().root, other.head().unwrap().root);
}

#[test]
fn forged_or_mismatched_certificates_make_a_block_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let proposer = validator(0);
    let b1 = chain
        .build(chain.genesis_block(), proposer, 1, None)
        .unwrap();
    let good = certificate(&b1, &[0, 1, 2]);
    assert!(chain.verify_certificate(&mut rng(), &good));

    // Forged signatures: swapped between signers, or one validator's vote claimed for another.
    let mut swapped = good.clone();
    swapped.finalization.certificate.signatures.swap(0, 1);
    assert!(!chain.verify_certificate(&mut rng(), &swapped));
    let mut claimed = certificate(&b1, &[0, 1, 3]);
    claimed.finalization.certificate.signatures[2] =
        good.finalization.certificate.signatures[2].clone();
    assert!(!chain.verify_certificate(&mut rng(), &claimed));
    // Below a quorum: the first two signatures of a valid certificate, alone.
    let mut short = good.clone();
    let kept: Vec<_> = short
        .finalization
        .certificate
        .signers
        .iter()
        .take(2)
        .collect();
    short.finalization.certificate.signers =
        commonware_cryptography::certificate::Signers::new(N as u32, kept).unwrap();
    short.finalization.certificate.signatures.truncate(2);
    assert!(!chain.verify_certificate(&mut rng(), &short));
    // A signer bitmap sized for another participant set.
    let mut resized = good.clone();
    resized.finalization.certificate.signers = commonware_cryptography::certificate::Signers::new(
        N as u32 + 1,
        good.finalization.certificate.signers.iter(),
    )
    .unwrap();
    assert!(!chain.verify_certificate(&mut rng(), &resized));
    // Signed under another namespace (another chain's consensus).
    let foreign = Certificate {
        height: 1,
        finalization: finalize_in(b"_OTHER_CHAIN", b1.digest(), 1, &[0, 1, 2]),
    };
    assert!(!chain.verify_certificate(&mut rng(), &foreign));
    // Signatures over another round, relabelled.
    let mut relabelled = good.clone();
    relabelled.finalization.proposal.round = Round::new(Epoch::zero(), View::new(99));
    assert!(!chain.verify_certificate(&mut rng(), &relabelled));

    // Structurally wrong certificates fail block verification before execution.
    let at = |cert: Certificate| {
        Block::with_certificate(
            b1.digest(),
            2,
            2,
            proposer,
            b1.state_root,
            Some(cert),
            vec![],
        )
    };
    let invalid = |b: Block| match chain.verify(&b) {
        Err(Error::InvalidBlock(why)) => why,
        Err(Error::Ledger(mycel_ledger::Error::InvalidCertificate(why))) => why,
        other => panic!("expected an invalid block, got {other:?}"),
    };
    // A certificate of another block at height 1 (a sibling of b1).
    let sibling = Block::new(
        chain.genesis_block().digest(),
        1,
        99,
        validator(1),
        b1.state_root,
        vec![],
    );
    let why = invalid(at(Certificate {
        height: 1,
        finalization: finalize(sibling.digest(), 1, &[0, 1, 2]),
    }));
    assert!(why.contains("finalizes"), "{why}");
    // A height that is not below the block.
    let why = invalid(at(Certificate {
        height: 2,
        ..good.clone()
    }));
    assert!(why.contains("certifies height 2"), "{why}");
    // Another epoch.
    let mut other_epoch = good.clone();
    other_epoch.finalization.proposal.round = Round::new(Epoch::new(1), View::new(1));
    let why = invalid(at(other_epoch));
    assert!(why.contains("epoch"), "{why}");

    // The same height cannot be counted twice on one chain.
    let b2 = chain.build(&b1, proposer, 2, Some(good.clone())).unwrap();
    assert!(b2.certificate.is_some());
    let again = Block::with_certificate(
        b2.digest(),
        3,
        3,
        proposer,
        b2.state_root,
        Some(good.clone()),
        vec![],
    );
    invalid(again);
    // A proposer handed a certificate that does not fit leaves it out rather than fail.
    let b3 = chain.build(&b2, proposer, 3, Some(good)).unwrap();
    assert_eq!(b3.certificate, None);
    chain.verify(&b3).unwrap();
}

/// Two notarizes by validator `i` in view `view` of different payloads, signed under
/// `namespace`.
fn conflicting(namespace: &[u8], i: usize, view: u64) -> mycel_consensus::block::Evidence {
    use commonware_consensus::simplex::types::{ConflictingNotarize, Notarize};
    let scheme = Scheme::signer(namespace, participants(), dev_key("validator", i)).unwrap();
    let round = Round::new(Epoch::zero(), View::new(view));
    let a = Proposal::new(round, View::new(view - 1), Digest([1; 32]));
    let b = Proposal::new(round, View::new(view - 1), Digest([2; 32]));
    mycel_consensus::block::Evidence::Notarize(ConflictingNotarize::new(
        Notarize::sign(&scheme, a).unwrap(),
        Notarize::sign(&scheme, b).unwrap(),
    ))
}

#[test]
fn evidence_slashes_once_and_forgeries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let proposer = validator(0);
    // A proof reported by the engine goes into the next block; the ledger slashes validator 2.
    chain.report_evidence(conflicting(engine::NAMESPACE, 2, 5));
    assert_eq!(chain.pending_evidence(), 1);
    let b1 = chain
        .build(chain.genesis_block(), proposer, 1, None)
        .unwrap();
    assert_eq!(b1.evidence.len(), 1);
    assert!(chain.verify_evidence(&mut rng(), &b1));
    // The evidence is part of the encoding and the digest.
    let back = mycel_consensus::block::decode(&mycel_consensus::block::encode(&b1)).unwrap();
    assert_eq!(back, b1);
    assert_ne!(b1.clone().with_evidence(vec![]).digest(), b1.digest());
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&other_dir);
    other.verify(&b1).unwrap();
    chain.finalize(&b1).unwrap();
    assert_eq!(
        chain.pending_evidence(),
        0,
        "finalized evidence leaves the pool"
    );
    assert!(staking::tombstoned(&chain.finalized_state().unwrap(), &validator(2)).unwrap());
    // Reported again, it is not included again (the offender is tombstoned).
    chain.report_evidence(conflicting(engine::NAMESPACE, 2, 9));
    let b2 = chain.build(&b1, proposer, 2, None).unwrap();
    assert!(b2.evidence.is_empty());
    // A block naming it again is invalid.
    let replay = b2
        .clone()
        .with_evidence(vec![conflicting(engine::NAMESPACE, 2, 9)]);
    assert!(matches!(chain.verify(&replay), Err(Error::Ledger(_))));

    // Forgeries: signatures under another namespace do not verify; the same offender twice,
    // or more proofs than a block may carry, are refused before execution.
    let forged = b2
        .clone()
        .with_evidence(vec![conflicting(b"_OTHER_CHAIN", 1, 4)]);
    assert!(!chain.verify_evidence(&mut rng(), &forged));
    let twice = vec![
        conflicting(engine::NAMESPACE, 1, 4),
        conflicting(engine::NAMESPACE, 1, 6),
    ];
    assert!(chain.equivocations(&twice).is_err());
    let many: Vec<_> = (0..=mycel_consensus::block::MAX_EVIDENCE as u64)
        .map(|v| conflicting(engine::NAMESPACE, 1, v + 2))
        .collect();
    assert!(chain.equivocations(&many).is_err());
}
