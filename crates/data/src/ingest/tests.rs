use super::*;
use std::sync::Arc;

fn state(home: &Path) -> Vec<PathBuf> {
    if !home.exists() {
        return vec![];
    }
    files(home)
        .unwrap()
        .into_iter()
        .filter(|p| !p.ends_with("ids.bin"))
        .collect()
}

#[test]
fn add_jsonl_show_prove_verify() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let input = src.path().join("d.jsonl");
    let big = "lorem ipsum dolor sit amet ".repeat(10_000);
    std::fs::write(
        &input,
        format!(
            "{{\"id\":\"a\",\"text\":\"hello world one two three four\"}}\n{{\"id\":\"b\",\"text\":\"{big}\"}}\n{{\"id\":\"c\",\"text\":\"HELLO, world one two three four\"}}\n"
        ),
    )
    .unwrap();
    let p = Profile::text_v1();
    let r = add(
        home.path(),
        &input,
        &Format::guess(&input),
        &AddOptions {
            license: Some("CC-BY-4.0".into()),
            signer: Some(mycel_primitives::keys::private_key_from_seed(
                b"contributor",
            )),
            ..Default::default()
        },
        &p,
    )
    .unwrap();
    assert_eq!(r.registration.records, 3);
    assert_eq!(
        r.registration.novel_records, 2,
        "c is an exact normalised dup of a"
    );
    assert!(r.new_chunks >= 3);
    let m = load_manifest(home.path(), &r.registration.root.to_hex()).unwrap();
    let store = BlobStore::open(blobs_dir(home.path())).unwrap();
    verify_dataset(&m, Some(&store)).unwrap();
    assert_eq!(m.registration(), r.registration);
    // Proofs against the registered root.
    let tree = m.tree();
    let id = m.entries[0].id;
    assert!(tree.prove(&id).verify(&id, &m.root).unwrap());
    let absent = crate::id::raw_id(b"absent");
    assert!(!tree.prove(&absent).verify(&absent, &m.root).unwrap());
    // Re-adding finds everything known.
    let again = add(
        home.path(),
        &input,
        &Format::guess(&input),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!((again.new_chunks, again.registration.novel_records), (0, 0));
    // The manifest is signed, and its novel root covers exactly the novel records.
    assert!(m.verify_signature().unwrap().is_some());
    assert_eq!(m.novel_tree().len(), 2);
    assert_eq!(m.novel_root, m.novel_tree().root());
    let mut forged = m.clone();
    forged.license = Some("MIT".into());
    assert!(matches!(forged.verify(), Err(Error::Verify(_))));
    let mut inflated = m.clone();
    inflated.entries.iter_mut().for_each(|e| e.novel = true);
    assert!(inflated.verify().is_err(), "counts no longer match");
    // A tampered manifest or blob fails verification.
    let mut bad = m.clone();
    bad.entries[0].len += 1;
    assert!(bad.verify().is_err());
    let mut bad = m.clone();
    bad.root = mycel_primitives::Hash::ZERO;
    assert!(bad.verify().is_err());
    std::fs::write(store.path(&m.entries[0].chunks[0].hash), b"x").unwrap();
    assert!(matches!(
        verify_dataset(&m, Some(&store)),
        Err(Error::CorruptBlob(..))
    ));
}

fn words(seed: u64, n: usize) -> Vec<String> {
    let mut s = seed;
    (0..n)
        .map(|_| format!("w{}", crate::minhash::splitmix64(&mut s) % 5000))
        .collect()
}

fn jsonl(path: &Path, docs: &[(String, String)]) {
    let body: String = docs
        .iter()
        .map(|(id, t)| format!("{}\n", serde_json::json!({"id": id, "text": t})))
        .collect();
    std::fs::write(path, body).unwrap();
}

#[test]
fn near_duplicates_of_earlier_datasets_are_not_novel() {
    let p = Profile::text_v1();
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let originals: Vec<Vec<String>> = (0..5).map(|i| words(i, 300)).collect();
    let v1 = src.path().join("v1.jsonl");
    jsonl(
        &v1,
        &originals
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("a{i}"), w.join(" ")))
            .collect::<Vec<_>>(),
    );
    let first = add(
        home.path(),
        &v1,
        &Format::guess(&v1),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(first.registration.novel_records, 5);
    // The next version: every old record with one word edited (J ≈ 0.97, new raw and
    // normalised IDs, so only near-dup detection can tell), plus one genuinely new record.
    let mut docs: Vec<(String, String)> = originals
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut w = w.clone();
            w[150] = format!("edited{i}");
            (format!("b{i}"), w.join(" "))
        })
        .collect();
    let fresh = words(99, 300).join(" ");
    docs.push(("new".into(), fresh.clone()));
    let v2 = src.path().join("v2.jsonl");
    jsonl(&v2, &docs);
    let second = add(
        home.path(),
        &v2,
        &Format::guess(&v2),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(second.registration.records, 6);
    assert_eq!(second.registration.novel_records, 1);
    assert_eq!(second.registration.novel_bytes, fresh.len() as u64);
    let m = load_manifest(home.path(), &second.registration.root.to_hex()).unwrap();
    m.verify().unwrap();
    let novel: Vec<_> = m.entries.iter().filter(|e| e.novel).collect();
    assert_eq!((novel.len(), novel[0].name.as_str()), (1, "new"));
    // The signature log now knows the new record too: a third submission of it is not novel.
    let v3 = src.path().join("v3.jsonl");
    jsonl(&v3, &[("again".into(), format!("{fresh} extra"))]);
    let third = add(
        home.path(),
        &v3,
        &Format::guess(&v3),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(third.registration.novel_records, 0);
}

#[test]
fn add_text_folder_binary_and_parquet() {
    let p = Profile::text_v1();
    let src = tempfile::tempdir().unwrap();
    let dir = src.path().join("texts");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "first text").unwrap();
    std::fs::write(dir.join("sub/b.txt"), "second text").unwrap();
    let home = tempfile::tempdir().unwrap();
    let r = add(home.path(), &dir, &Format::Text, &AddOptions::default(), &p).unwrap();
    assert_eq!(r.registration.records, 2);
    let bin = src.path().join("blob.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150]).unwrap();
    let r = add(
        home.path(),
        &bin,
        &Format::guess(&bin),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(r.registration.records, 1);
    let m = load_manifest(home.path(), r.manifest_path.to_str().unwrap()).unwrap();
    assert!(m.entries[0].norm_id.is_none());

    let pq = src.path().join("d.parquet");
    let texts = arrow_array::StringArray::from(vec!["alpha beta", "gamma delta"]);
    let ids = arrow_array::StringArray::from(vec!["x1", "x2"]);
    let batch = arrow_array::RecordBatch::try_from_iter(vec![
        ("text", Arc::new(texts) as arrow_array::ArrayRef),
        ("id", Arc::new(ids) as arrow_array::ArrayRef),
    ])
    .unwrap();
    let f = std::fs::File::create(&pq).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let recs = read_records(
        &pq,
        &Format::Parquet {
            text: "text".into(),
            id: Some("id".into()),
        },
        1 << 20,
    )
    .unwrap();
    assert_eq!(
        (recs[1].name.as_str(), recs[1].bytes.as_slice()),
        ("x2", &b"gamma delta"[..])
    );
    let e = read_records(
        &pq,
        &Format::Parquet {
            text: "body".into(),
            id: None,
        },
        1 << 20,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no column"), "{e}");
    let e = read_records(
        &bin,
        &Format::Parquet {
            text: "text".into(),
            id: None,
        },
        1 << 20,
    )
    .unwrap_err();
    assert!(matches!(e, Error::BadInput { .. }), "{e}");
}

#[test]
fn bad_input_leaves_no_state() {
    let p = Profile::text_v1();
    let src = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let input = src.path().join("d.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"a\",\"text\":\"fine\"}\n{\"id\":\"b\",\"text\":\"\"}\n",
    )
    .unwrap();
    let before = state(home.path());
    let e = add(
        home.path(),
        &input,
        &Format::guess(&input),
        &AddOptions::default(),
        &p,
    )
    .unwrap_err();
    assert!(e.to_string().contains("d.jsonl:2: empty record"), "{e}");
    assert_eq!(state(home.path()), before);
    let dir = src.path().join("t");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.txt"), b"ok").unwrap();
    std::fs::write(dir.join("y.txt"), b"\xff\xfe").unwrap();
    let e = add(home.path(), &dir, &Format::Text, &AddOptions::default(), &p).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadRecord {
                kind: RecordError::InvalidUtf8(0),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(state(home.path()), before);
    let empty = src.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        add(
            home.path(),
            &empty,
            &Format::Text,
            &AddOptions::default(),
            &p
        ),
        Err(Error::BadInput { .. })
    ));
}

#[test]
fn a_fresh_home_checked_against_published_signatures_claims_nothing_of_a_reencoded_copy() {
    let p = Profile::text_v1();
    let words = |seed: u64| {
        let mut s = seed;
        (0..300)
            .map(|_| format!("w{}", crate::minhash::splitmix64(&mut s) % 5000))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let originals: Vec<String> = (0..20).map(words).collect();
    let src = tempfile::tempdir().unwrap();
    let write = |name: &str, texts: &[String]| {
        let path = src.path().join(name);
        let body: String = texts
            .iter()
            .enumerate()
            .map(|(i, t)| serde_json::json!({ "id": i, "text": t }).to_string() + "\n")
            .collect();
        std::fs::write(&path, body).unwrap();
        path
    };
    let first_home = tempfile::tempdir().unwrap();
    let first = write("a.jsonl", &originals);
    let a = add(
        first_home.path(),
        &first,
        &Format::guess(&first),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(a.registration.novel_records, 20);
    // The table published beside the manifest checks against the signature root.
    let table = SignatureTable::load(
        &crate::sigtable::table_path(first_home.path(), &a.registration.root),
        &p.id(),
        &a.registration.signature_root,
    )
    .unwrap();
    assert_eq!(table.rows.len(), 20);
    // A re-encoded, reordered copy with one record edited and two genuinely new ones.
    let mut copy: Vec<String> = originals
        .iter()
        .map(|t| format!("{}!", t.to_uppercase().replace(' ', ",\u{a0}")))
        .collect();
    copy[3] = copy[3].replacen("W", "EDIT W", 2);
    copy.reverse();
    copy.push(words(100));
    copy.push(words(101));
    let second = write("b.jsonl", &copy);
    // A fresh home alone claims all of it...
    let naive = add(
        tempfile::tempdir().unwrap().path(),
        &second,
        &Format::guess(&second),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(naive.registration.novel_records, 22);
    // ...checked against the network's published signatures, only the new records.
    let checked = add(
        tempfile::tempdir().unwrap().path(),
        &second,
        &Format::guess(&second),
        &AddOptions {
            known: table.rows.clone(),
            ..Default::default()
        },
        &p,
    )
    .unwrap();
    assert_eq!(checked.registration.novel_records, 2);
}

#[test]
fn a_parquet_shard_folder_is_a_dataset_with_the_same_root_as_its_rows_in_jsonl() {
    let p = Profile::text_v1();
    let src = tempfile::tempdir().unwrap();
    let rows: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("r{i}"),
                format!("record number {i} of a dataset in shards"),
            )
        })
        .collect();
    let hub = src.path().join("hub");
    std::fs::create_dir_all(hub.join("data")).unwrap();
    crate::formats::write_text_parquet(&hub.join("data/train-00000.parquet"), &rows[..12], 5)
        .unwrap();
    crate::formats::write_text_parquet(&hub.join("data/train-00001.parquet"), &rows[12..], 5)
        .unwrap();
    assert!(matches!(Format::guess(&hub), Format::Dataset(_)));
    let jsonl = src.path().join("rows.jsonl");
    let body: String = rows
        .iter()
        .map(|(id, t)| serde_json::json!({ "id": id, "text": t }).to_string() + "\n")
        .collect();
    std::fs::write(&jsonl, body).unwrap();
    let a = add(
        tempfile::tempdir().unwrap().path(),
        &hub,
        &Format::guess(&hub),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    let b = add(
        tempfile::tempdir().unwrap().path(),
        &jsonl,
        &Format::guess(&jsonl),
        &AddOptions::default(),
        &p,
    )
    .unwrap();
    assert_eq!(a.input_records, 30);
    assert_eq!(a.registration.root, b.registration.root);
    assert_eq!(a.registration.signature_root, b.registration.signature_root);
    // A column that is not there is named in the error, and nothing is written.
    let home = tempfile::tempdir().unwrap();
    let err = add(
        home.path(),
        &hub,
        &Format::Dataset(crate::jsonl::JsonlOptions {
            text_field: "body".into(),
            id_field: String::new(),
            ..Default::default()
        }),
        &AddOptions::default(),
        &p,
    )
    .unwrap_err();
    assert!(err.to_string().contains("body"), "{err}");
    assert!(
        state(home.path())
            .iter()
            .all(|f| !f.to_string_lossy().contains("datasets"))
    );
}
