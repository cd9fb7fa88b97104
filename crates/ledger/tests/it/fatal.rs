//! Store faults abort block execution; they never become receipts.
//!
//! A read error is a property of one node, not of the transaction: turning it into a failed
//! receipt would give that node a different state root from every other validator.

use super::*;
use mycel_ledger::{check_tx, modules::data};
use mycel_store::StateRead;

/// A test fake: the chain's state, except that every read of a key under one of `failing`
/// returns a store error, as a failing disk would.
struct FailingState<'a> {
    inner: &'a MemState,
    failing: Vec<&'static [u8]>,
}

impl FailingState<'_> {
    fn fails(&self, key: &[u8]) -> bool {
        self.failing
            .iter()
            .any(|p| key.starts_with(p) || p.starts_with(key))
    }
}

impl StateRead for FailingState<'_> {
    fn get(&self, key: &[u8]) -> mycel_store::Result<Option<Vec<u8>>> {
        if self.fails(key) {
            return Err(mycel_store::Error::Db("injected read failure".into()));
        }
        self.inner.get(key)
    }

    fn scan_prefix(&self, prefix: &[u8]) -> mycel_store::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if self.fails(prefix) {
            return Err(mycel_store::Error::Db("injected scan failure".into()));
        }
        self.inner.scan_prefix(prefix)
    }
}

fn is_store_fault(e: &Error) -> bool {
    matches!(e, Error::Store(mycel_store::Error::Db(_)))
}

fn registration() -> data::Registration {
    data::Registration {
        root: Hash([7; 32]),
        records: 1,
        bytes: 10,
        profile: "mycel-text/v1".into(),
        minhash_root: Hash([3; 32]),
        signatures: Hash([5; 32]),
        manifest: Hash([4; 32]),
        license: "CC-BY-4.0".into(),
        consent: data::CONSENT_TRAIN,
        parents: vec![],
        novel_root: Hash::ZERO,
        novel_records: 0,
        novel_bytes: 0,
        bond: Amount::ZERO,
    }
}

#[test]
fn a_read_failure_inside_a_message_aborts_the_block() {
    let c = Chain::dev();
    let alice = account(0);
    let tx = c.tx(
        &alice,
        vec![Message::Data(data::Msg::RegisterDataset(Box::new(
            registration(),
        )))],
    );
    // The same transaction succeeds on a healthy store.
    let healthy = c.exec(std::slice::from_ref(&tx)).unwrap();
    assert!(healthy.receipts[0].success, "{}", healthy.receipts[0].error);

    let failing = FailingState {
        inner: &c.state,
        failing: vec![b"data/ds/"],
    };
    let err = execute_block(&failing, &c.next_env(), &[tx]).unwrap_err();
    assert!(is_store_fault(&err), "expected a store fault, got {err}");
}

#[test]
fn a_read_failure_in_a_bank_helper_aborts_the_block() {
    let c = Chain::dev();
    let alice = account(0);
    let to = addr(&account(1));
    let tx = c.tx(&alice, vec![transfer(to, Amount(5))]);
    let mut bal = b"bank/bal/".to_vec();
    bal.extend_from_slice(&to.0);
    let key: &'static [u8] = Box::leak(bal.into_boxed_slice());
    let failing = FailingState {
        inner: &c.state,
        failing: vec![key],
    };
    let err = execute_block(&failing, &c.next_env(), &[tx]).unwrap_err();
    assert!(is_store_fault(&err), "expected a store fault, got {err}");
}

#[test]
fn a_read_failure_in_admission_aborts_the_block_and_is_unavailable_in_check_tx() {
    let c = Chain::dev();
    let alice = account(0);
    let tx = c.tx(&alice, vec![transfer(addr(&account(1)), Amount(5))]);
    let failing = FailingState {
        inner: &c.state,
        failing: vec![b"auth/nonce/"],
    };
    let err = execute_block(&failing, &c.next_env(), std::slice::from_ref(&tx)).unwrap_err();
    assert!(
        is_store_fault(&err),
        "a store fault is not an invalid transaction: {err}"
    );
    let err = check_tx(&failing, &c.params(), CHAIN, &tx, None).unwrap_err();
    assert!(matches!(err, TxError::Unavailable(_)), "{err:?}");
    assert_eq!(err.code(), "unavailable");
}

#[test]
fn a_read_failure_in_an_end_block_hook_aborts_the_block() {
    let c = Chain::dev();
    for prefix in [
        b"staking/unbond/".as_slice(),
        b"data/bond/",
        b"market/due/",
        b"market/ddue/",
    ] {
        let failing = FailingState {
            inner: &c.state,
            failing: vec![prefix],
        };
        let err = execute_block(&failing, &c.next_env(), &[]).unwrap_err();
        assert!(
            is_store_fault(&err),
            "{}: expected a store fault, got {err}",
            String::from_utf8_lossy(prefix)
        );
    }
}

#[test]
fn a_read_failure_in_an_end_epoch_hook_aborts_the_block() {
    let mut c = Chain::new(genesis_with(1, |p| p.rewards.epoch_length = 3));
    c.run_to(1);
    let failing = FailingState {
        inner: &c.state,
        failing: vec![b"staking/valset/"],
    };
    // Block 2 is the last of epoch 0: rewards reads the validator set of the epoch.
    let err = execute_block(&failing, &c.next_env(), &[]).unwrap_err();
    assert!(is_store_fault(&err), "expected a store fault, got {err}");
}
