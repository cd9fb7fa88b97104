use super::*;

fn ws(pairs: &[(&str, Option<&str>)]) -> WriteSet {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn record(height: u64, tag: u8) -> BlockRecord {
    BlockRecord {
        height,
        digest: Hash([tag; 32]),
        bytes: vec![tag],
        txs: vec![(Hash([tag.wrapping_add(100); 32]), vec![1, 2])],
        events: vec![],
    }
}

#[test]
fn layers_commit_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let s0 = store.snapshot(&[]).unwrap();
    let l0 = Arc::new(s0.apply(ws(&[("a", Some("1")), ("b", Some("2"))])).unwrap());
    // Speculative read through the layer.
    let s1 = store.snapshot(std::slice::from_ref(&l0)).unwrap();
    assert_eq!(s1.get(b"a").unwrap(), Some(b"1".to_vec()));
    let l1 = Arc::new(s1.apply(ws(&[("a", None), ("c", Some("3"))])).unwrap());
    let s2 = store.snapshot(&[l0.clone(), l1.clone()]).unwrap();
    assert_eq!(s2.get(b"a").unwrap(), None);
    assert_eq!(s2.scan_prefix(b"").unwrap().len(), 2);
    assert_ne!(l0.root, l1.root);

    store.commit(&l0, &record(0, 1)).unwrap();
    store.commit(&l0, &record(0, 1)).unwrap(); // idempotent
    assert!(matches!(
        store.commit(&l0, &record(0, 2)),
        Err(Error::Conflict(0))
    ));
    store.commit(&l1, &record(1, 3)).unwrap();
    drop(store);

    let store = Store::open(&path).unwrap();
    let head = store.head().unwrap().unwrap();
    assert_eq!(head.height, 1);
    assert_eq!(head.root, l1.root);
    let s = store.snapshot(&[l0, l1.clone()]).unwrap();
    assert_eq!(s.root(), Some(l1.root)); // committed layers are skipped
    assert_eq!(s.get(b"c").unwrap(), Some(b"3".to_vec()));
    assert_eq!(s.get(b"a").unwrap(), None);
    assert_eq!(store.tx(&Hash([103; 32])).unwrap().unwrap().height, 1);
    let (v, proof) = s.get_with_proof(b"c").unwrap();
    assert_eq!(v, Some(b"3".to_vec()));
    let root = s.root().unwrap();
    crate::verify_state_proof(&root, b"c", b"3", &proof).unwrap();
    // Another value, another key or another root: refused.
    assert!(crate::verify_state_proof(&root, b"c", b"4", &proof).is_err());
    assert!(crate::verify_state_proof(&root, b"d", b"3", &proof).is_err());
    assert!(crate::verify_state_proof(&Hash([9; 32]), b"c", b"3", &proof).is_err());
    assert!(crate::verify_state_proof(&root, b"c", b"3", b"garbage").is_err());
}

#[test]
fn same_writes_same_root_regardless_of_layering() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let a = Store::open(d1.path().join("db")).unwrap();
    let b = Store::open(d2.path().join("db")).unwrap();
    let w0 = ws(&[("x", Some("1"))]);
    let w1 = ws(&[("y", Some("2"))]);
    // Store a commits each block before executing the next; b executes both speculatively.
    let la0 = a.snapshot(&[]).unwrap().apply(w0.clone()).unwrap();
    a.commit(&la0, &record(0, 1)).unwrap();
    let la1 = a.snapshot(&[]).unwrap().apply(w1.clone()).unwrap();
    let lb0 = Arc::new(b.snapshot(&[]).unwrap().apply(w0).unwrap());
    let lb1 = b
        .snapshot(std::slice::from_ref(&lb0))
        .unwrap()
        .apply(w1)
        .unwrap();
    assert_eq!(la1.root, lb1.root);
    assert!(matches!(
        b.commit(&lb1, &record(1, 2)),
        Err(Error::OutOfOrder { .. })
    ));
}

#[test]
fn uploads_are_charged_once_timed_and_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("db")).unwrap();
    let (alice, bob) = (Address([1; 20]), Address([2; 20]));
    let (h1, h2) = (Hash([7; 32]), Hash([8; 32]));
    assert_eq!(store.uploads().unwrap(), vec![]);
    assert_eq!(
        store.charge_upload(&alice, &h1, 600, 1_000, 10).unwrap(),
        Ok(true)
    );
    // Over the quota: refused, nothing recorded.
    assert_eq!(
        store.charge_upload(&alice, &h2, 500, 1_000, 11).unwrap(),
        Err(600)
    );
    assert_eq!(store.upload(&h2).unwrap(), None);
    // The same blob again (from anyone): free, and its clock restarts.
    assert_eq!(
        store.charge_upload(&bob, &h1, 600, 1_000, 50).unwrap(),
        Ok(false)
    );
    let u = store.upload(&h1).unwrap().unwrap();
    assert_eq!((u.uploader, u.size, u.at_ms), (alice, 600, 50));
    assert_eq!(store.upload_usage(&alice).unwrap(), 600);
    assert_eq!(store.upload_usage(&bob).unwrap(), 0);
    // Refunded: gone from the list, the bytes back in the quota.
    store.refund_upload(&h1).unwrap();
    assert_eq!(store.uploads().unwrap(), vec![]);
    assert_eq!(store.upload_usage(&alice).unwrap(), 0);
    assert_eq!(
        store.charge_upload(&alice, &h2, 1_000, 1_000, 60).unwrap(),
        Ok(true)
    );
    // Records written before uploads were timed still read (as time 0).
    let legacy = [&bob.0[..], &9u64.to_be_bytes()[..]].concat();
    let old = crate::blobs::Upload::decode(&h1, &legacy).unwrap();
    assert_eq!((old.uploader, old.size, old.at_ms), (bob, 9, 0));
    assert_eq!(crate::blobs::Upload::decode(&h1, &legacy[..27]), None);
}

/// Concurrent submitters share commits, and every acknowledged write is on disk after a
/// reopen; an eviction queued after a write removes it, a write queued after an eviction of
/// the same transaction keeps it.
#[test]
fn grouped_mempool_writes_are_all_durable_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Arc::new(Store::open(&path).unwrap());
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25u8 {
                    store
                        .put_pending_tx(&Hash([t * 25 + i; 32]), &[t, i], &[])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (a, b) = (Hash([250; 32]), Hash([251; 32]));
    store.put_pending_tx(&a, b"a", &[]).unwrap();
    // b evicts a; then a comes back and evicts b.
    store.put_pending_tx(&b, b"b", &[a]).unwrap();
    store.put_pending_tx(&a, b"a2", &[b]).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let mut got = store.pending_txs().unwrap();
    got.sort();
    let mut want: Vec<Vec<u8>> = (0..8u8)
        .flat_map(|t| (0..25u8).map(move |i| vec![t, i]))
        .collect();
    want.push(b"a2".to_vec());
    want.sort();
    assert_eq!(got, want);
}

/// A transaction finalized in a block is not pending after a restart, though the mempool log
/// never recorded its removal; one found invalid is forgotten once the next admission is
/// written.
#[test]
fn finalized_and_removed_transactions_are_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    // `record(0, 1)` finalizes the transaction [101; 32].
    let (finalized, dropped, kept) = (Hash([101; 32]), Hash([7; 32]), Hash([8; 32]));
    store
        .put_pending_tx(&finalized, b"in a block", &[])
        .unwrap();
    store.put_pending_tx(&dropped, b"invalid", &[]).unwrap();
    let l0 = store
        .snapshot(&[])
        .unwrap()
        .apply(ws(&[("a", Some("1"))]))
        .unwrap();
    store.commit(&l0, &record(0, 1)).unwrap();
    store.remove_pending_txs(&[dropped]);
    store.put_pending_tx(&kept, b"kept", &[]).unwrap();
    assert_eq!(store.pending_txs().unwrap(), vec![b"kept".to_vec()]);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.pending_txs().unwrap(), vec![b"kept".to_vec()]);
}

#[test]
fn proofs_at_an_earlier_version_hold_for_unchanged_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("db")).unwrap();
    let l0 = store
        .snapshot(&[])
        .unwrap()
        .apply(ws(&[("set/1", Some("keys")), ("x", Some("1"))]))
        .unwrap();
    store.commit(&l0, &record(0, 1)).unwrap();
    for h in 1..5u8 {
        let x = h.to_string();
        let l = store
            .snapshot(&[])
            .unwrap()
            .apply(ws(&[("x", Some(x.as_str()))]))
            .unwrap();
        store.commit(&l, &record(h as u64, h + 1)).unwrap();
    }
    let s = store.snapshot(&[]).unwrap();
    // Written at version 0 and never since: provable against the root of version 0.
    let (v, proof) = s.get_unchanged_with_proof(b"set/1", 0).unwrap();
    assert_eq!(v.as_deref(), Some(b"keys".as_slice()));
    crate::verify_state_proof(&l0.root, b"set/1", b"keys", &proof).unwrap();
    // Changed since: today's value does not verify against the old root.
    let (v, proof) = s.get_unchanged_with_proof(b"x", 0).unwrap();
    assert_eq!(v.as_deref(), Some(b"4".as_slice()));
    assert!(crate::verify_state_proof(&l0.root, b"x", b"4", &proof).is_err());
    // A version not reached yet.
    assert!(s.get_unchanged_with_proof(b"set/1", 9).is_err());
}

/// The batch insert `Snapshot::apply` uses gives the tree jmt's one-key-at-a-time insert gives:
/// the same root, new nodes and stale nodes, from an empty tree through fresh keys, updates and
/// keys that split a leaf, with deletions (which go one key at a time) in some versions.
#[test]
fn batch_and_sequential_puts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("db")).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for version in 0..80u64 {
        let deletes = version % 4 == 3;
        let mut writes = WriteSet::new();
        for _ in 0..1 + next(300) {
            let key = format!("k{}", next(5_000)).into_bytes();
            let value = if deletes && next(3) == 0 {
                None
            } else {
                Some(vec![next(256) as u8; 1 + next(40) as usize])
            };
            writes.insert(key, value);
        }
        let snapshot = store.snapshot(&[]).unwrap();
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&snapshot);
        let (root, batch) = put(&tree, pairs(&writes), version).unwrap();
        let set = writes
            .iter()
            .map(|(k, v)| (KeyHash::with::<Sha256>(k), v.clone()));
        let (want_root, want) = tree.put_value_set(set, version).unwrap();
        assert_eq!(root, want_root, "version {version}");
        assert_eq!(
            batch.node_batch.nodes(),
            want.node_batch.nodes(),
            "version {version}"
        );
        assert_eq!(batch.stale_node_index_batch, want.stale_node_index_batch);
        let layer = snapshot.apply(writes).unwrap();
        assert_eq!(layer.root, Hash(want_root.0));
        store
            .commit(&layer, &record(version, version as u8))
            .unwrap();
    }
}
