//! Ingest: JSONL, Parquet, a folder of text files, binary files → records → chunks in the blob
//! store, a manifest, and the node's exact index.
//!
//! `add` is all-or-nothing and streams: it reads, checks and chunks one record at a time (memory
//! holds the largest record and the per-record metadata, not the dataset), stages chunks in a
//! private folder, and only after the last record moves them into the store, writes the manifest
//! and updates the indexes. On any error the staging folder is removed and nothing else has
//! changed.

use crate::{
    Error, RecordError, Result,
    blobs::BlobStore,
    dedup::{Deduper, Outcome, Tier},
    error::io,
    exact::ExactIndex,
    id::{ChunkRef, RecordId, chunk_record, norm_id, raw_id_from_chunks},
    jsonl::{JsonlOptions, JsonlReader},
    manifest::{Entry, MANIFEST_VERSION, Manifest, signature_root},
    minhash::{K, Signer},
    normalize::normalize,
    profile::Profile,
    siglog::{SignatureLog, Signed},
};
use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

/// Input format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// JSONL with text and id fields.
    Jsonl(JsonlOptions),
    /// Parquet with a text column and an optional id column.
    Parquet {
        /// Text column.
        text: String,
        /// ID column (row number when absent).
        id: Option<String>,
    },
    /// A file or a folder of UTF-8 text files (one record per file).
    Text,
    /// A file or a folder of binary files (one record per file).
    Binary,
}

impl Format {
    /// Guesses a format from `path`: `.jsonl`/`.ndjson`, `.parquet`, `.txt`/`.md` or a folder of
    /// text, otherwise binary.
    pub fn guess(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Format::Jsonl(JsonlOptions::default()),
            Some("parquet") => Format::Parquet {
                text: "text".into(),
                id: None,
            },
            Some("txt" | "md") => Format::Text,
            _ if path.is_dir() => Format::Text,
            _ => Format::Binary,
        }
    }
}

/// One input record.
#[derive(Debug, Clone)]
pub struct Record {
    /// Source name.
    pub name: String,
    /// Bytes (UTF-8 text for text formats).
    pub bytes: Vec<u8>,
    /// Whether the bytes are text (get a normalised ID and a signature).
    pub is_text: bool,
}

pub(crate) fn files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every record of `path` in `format` into memory (see [`for_each_record`] to stream).
pub fn read_records(path: &Path, format: &Format, max_record: usize) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for_each_record(path, format, max_record, &mut |r| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// Streams every record of `path` in `format` to `emit`, one at a time (memory bounded by the
/// largest record, or a Parquet row group); returns how many there were. An error names the
/// file and line or row; `emit`'s own errors stop the stream.
pub fn for_each_record(
    path: &Path,
    format: &Format,
    max_record: usize,
    emit: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<u64> {
    let mut count = 0u64;
    let mut out = |r: Record| {
        count += 1;
        emit(r)
    };
    match format {
        Format::Jsonl(o) => {
            let mut r = JsonlReader::open(path, o.clone())?;
            while let Some(x) = r.next_record()? {
                out(Record {
                    name: x.id,
                    bytes: x.text.into_bytes(),
                    is_text: true,
                })?;
            }
        }
        Format::Parquet { text, id } => {
            read_parquet(path, text, id.as_deref(), max_record, &mut out)?
        }
        Format::Text | Format::Binary => {
            let text = *format == Format::Text;
            for f in files(path)? {
                let len = std::fs::metadata(&f).map_err(io(&f))?.len();
                let bad = |kind| Error::BadRecord {
                    path: f.clone(),
                    line: 1,
                    kind,
                };
                if len as usize > max_record {
                    return Err(bad(RecordError::TooLarge { limit: max_record }));
                }
                let bytes = std::fs::read(&f).map_err(io(&f))?;
                if bytes.is_empty() {
                    return Err(bad(RecordError::Empty));
                }
                if let (true, Err(e)) = (text, std::str::from_utf8(&bytes)) {
                    return Err(bad(RecordError::InvalidUtf8(e.valid_up_to())));
                }
                let name = f
                    .strip_prefix(path)
                    .ok()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .into_owned();
                out(Record {
                    name,
                    bytes,
                    is_text: text,
                })?;
            }
        }
    }
    if count == 0 {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            why: "no records".into(),
        });
    }
    Ok(count)
}

fn read_parquet(
    path: &Path,
    text: &str,
    id: Option<&str>,
    max_record: usize,
    out: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<()> {
    use arrow_array::{Array, LargeStringArray, StringArray};
    let bad_input = |why: String| Error::BadInput {
        path: path.to_path_buf(),
        why,
    };
    let f = std::fs::File::open(path).map_err(io(path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| bad_input(format!("not a parquet file: {e}")))?
        .build()
        .map_err(|e| bad_input(e.to_string()))?;
    let mut row = 0u64;
    let strings = |b: &arrow_array::RecordBatch, col: &str| -> Result<Vec<Option<String>>> {
        let c = b
            .column_by_name(col)
            .ok_or_else(|| bad_input(format!("no column {col:?}")))?;
        if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
            Ok((0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect())
        } else if let Some(a) = c.as_any().downcast_ref::<LargeStringArray>() {
            Ok((0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect())
        } else {
            Err(bad_input(format!("column {col:?} is not a string column")))
        }
    };
    for batch in reader {
        let batch = batch.map_err(|e| bad_input(e.to_string()))?;
        let texts = strings(&batch, text)?;
        let ids = id.map(|c| strings(&batch, c)).transpose()?;
        for (i, t) in texts.into_iter().enumerate() {
            row += 1;
            let bad = |kind| Error::BadRecord {
                path: path.to_path_buf(),
                line: row,
                kind,
            };
            let t = t.ok_or_else(|| bad(RecordError::MissingField(text.into())))?;
            if t.is_empty() {
                return Err(bad(RecordError::Empty));
            }
            if t.len() > max_record {
                return Err(bad(RecordError::TooLarge { limit: max_record }));
            }
            let name = match &ids {
                Some(v) => v[i]
                    .clone()
                    .ok_or_else(|| bad(RecordError::MissingField(id.unwrap_or_default().into())))?,
                None => row.to_string(),
            };
            out(Record {
                name,
                bytes: t.into_bytes(),
                is_text: true,
            })?;
        }
    }
    Ok(())
}

/// What [`add`] stages before committing.
struct Staged {
    entries: Vec<Entry>,
    /// `(raw ID, signature bytes)` of text records, for the signature root.
    sigs: Vec<(crate::id::RecordId, Vec<u8>)>,
    /// `(normalised ID, signature)` of new text records, for the node's signature log.
    signed: Vec<Signed>,
    new_chunks: u64,
    known_chunks: u64,
    input_records: u64,
}

/// Options of [`add`].
#[derive(Clone, Default)]
pub struct AddOptions {
    /// SPDX licence.
    pub license: Option<String>,
    /// Consent / TDM flags.
    pub consent: Option<String>,
    /// Parent datasets (roots).
    pub parents: Vec<mycel_primitives::Hash>,
    /// The contributor's key: signs the manifest.
    pub signer: Option<mycel_primitives::PrivateKey>,
    /// Advanced by the bytes of each record read.
    pub progress: Option<indicatif::ProgressBar>,
}

/// Bytes of the files under `path` (what a progress bar over an ingest counts up to).
pub fn input_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    for f in files(path)? {
        total += std::fs::metadata(&f).map_err(io(&f))?.len();
    }
    Ok(total)
}

/// What [`add`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddReport {
    /// Where the manifest was written.
    pub manifest_path: PathBuf,
    /// The ledger registration.
    pub registration: crate::manifest::Registration,
    /// Input records (before dedup).
    pub input_records: u64,
    /// Chunks newly written to the blob store.
    pub new_chunks: u64,
    /// Chunks already present.
    pub known_chunks: u64,
}

/// Paths inside a node home.
pub fn blobs_dir(home: &Path) -> PathBuf {
    home.join("blobs")
}
/// Folder of dataset manifests, named `<root hex>.json`.
pub fn datasets_dir(home: &Path) -> PathBuf {
    home.join("datasets")
}
/// Folder of the exact index.
pub fn index_dir(home: &Path) -> PathBuf {
    home.join("data-index")
}

/// Ingests `path` into the home: chunks, manifest, indexes. All or nothing.
///
/// A record is claimed novel only if it is in neither the exact index nor, for text, an exact or
/// near (Tier D) duplicate of a text record this node registered before (its signature log) or of
/// an earlier record of the same input.
pub fn add(
    home: &Path,
    path: &Path,
    format: &Format,
    opts: &AddOptions,
    profile: &Profile,
) -> Result<AddReport> {
    let store = BlobStore::open(blobs_dir(home))?;
    let mut index = ExactIndex::open(&index_dir(home))?;
    let pid = profile.id();
    let log = SignatureLog::open(&index_dir(home), pid);
    let mut signer = Signer::new(profile);
    let mut dedup = Deduper::new(
        profile,
        Tier::D,
        f64::from(profile.tier_d_threshold_milli) / 1000.0,
    )?;
    let mut registered: HashSet<RecordId> = HashSet::new();
    for (nid, sig) in log.load()? {
        registered.insert(nid);
        dedup.push_signed(&nid, Some(&sig));
    }
    let staging = store.dir().join(format!(".staging-{}", std::process::id()));
    let result = (|| -> Result<Staged> {
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        let stage = BlobStore::open(&staging)?;
        let mut st = Staged {
            entries: Vec::new(),
            sigs: Vec::new(),
            signed: Vec::new(),
            new_chunks: 0,
            known_chunks: 0,
            input_records: 0,
        };
        let mut seen = HashSet::new();
        st.input_records = for_each_record(
            path,
            format,
            crate::jsonl::DEFAULT_MAX_RECORD,
            &mut |r: Record| -> Result<()> {
                if let Some(pb) = &opts.progress {
                    pb.inc(r.bytes.len() as u64);
                }
                let chunks: Vec<ChunkRef> = chunk_record(&r.bytes);
                let id = raw_id_from_chunks(r.bytes.len() as u64, &chunks);
                if !seen.insert(id) {
                    return Ok(());
                }
                for c in &chunks {
                    if store.has(&c.hash) {
                        st.known_chunks += 1;
                    } else {
                        stage.put_hashed(
                            &c.hash,
                            &r.bytes[c.offset as usize..c.offset as usize + c.len as usize],
                        )?;
                        st.new_chunks += 1;
                    }
                }
                let (norm, outcome) = if r.is_text {
                    let text = std::str::from_utf8(&r.bytes).expect("checked UTF-8");
                    let n = normalize(text);
                    let nid = norm_id(&pid, &n);
                    let mut sig = [0u32; K];
                    let shingles = signer.sign(&n, &mut sig);
                    st.sigs
                        .push((id, sig.iter().flat_map(|v| v.to_le_bytes()).collect()));
                    if registered.insert(nid) {
                        st.signed.push((nid, sig));
                    }
                    (
                        Some(nid),
                        dedup.push_signed(&nid, (shingles > 0).then_some(&sig)),
                    )
                } else {
                    (None, Outcome::Unique)
                };
                let in_index = index.contains(&id) || norm.is_some_and(|n| index.contains(&n));
                st.entries.push(Entry {
                    id,
                    norm_id: norm,
                    name: r.name.clone(),
                    len: r.bytes.len() as u64,
                    chunks,
                    novel: outcome == Outcome::Unique && !in_index,
                });
                Ok(())
            },
        )?;
        st.entries.sort_by_key(|e| e.id);
        Ok(st)
    })();
    let st = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let novel = st.entries.iter().filter(|e| e.novel);
    let (novel_records, novel_bytes) = novel.fold((0, 0), |(r, b), e| (r + 1, b + e.len));
    let mut m = Manifest {
        version: MANIFEST_VERSION,
        profile: profile.name.clone(),
        profile_id: pid,
        root: mycel_primitives::Hash::ZERO,
        signature_root: signature_root(st.sigs),
        novel_root: mycel_primitives::Hash::ZERO,
        novel_records,
        novel_bytes,
        license: opts.license.clone(),
        consent: opts.consent.clone(),
        parents: opts.parents.clone(),
        entries: st.entries,
        signed_by: None,
    };
    m.root = m.tree().root();
    m.novel_root = m.novel_tree().root();
    if let Some(key) = &opts.signer {
        m.sign(key);
    }
    // Commit: move staged chunks in, then the manifest, then the indexes. A crash before the
    // manifest leaves only content-addressed chunks (harmless); after it, at worst an index misses
    // this dataset and a later ingest over-claims novelty, which a challenge can still take back.
    let mut commit = || -> Result<PathBuf> {
        for f in files(&staging)? {
            let rel = f.strip_prefix(&staging).expect("under staging");
            let dest = store.dir().join(rel);
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p).map_err(io(p))?;
            }
            std::fs::rename(&f, &dest).map_err(io(&dest))?;
        }
        let dir = datasets_dir(home);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mpath = dir.join(format!("{}.json", m.root.to_hex()));
        m.save(&mpath)?;
        let mut ids: Vec<_> = m.entries.iter().map(|e| e.id).collect();
        ids.extend(m.entries.iter().filter_map(|e| e.norm_id));
        index.insert(&ids)?;
        log.append(&st.signed)?;
        Ok(mpath)
    };
    let r = commit();
    let _ = std::fs::remove_dir_all(&staging);
    let manifest_path = r?;
    Ok(AddReport {
        manifest_path,
        registration: m.registration(),
        input_records: st.input_records,
        new_chunks: st.new_chunks,
        known_chunks: st.known_chunks,
    })
}

/// Loads a dataset manifest by root (hex or CID) or by path.
pub fn load_manifest(home: &Path, which: &str) -> Result<Manifest> {
    let p = Path::new(which);
    if p.is_file() {
        return Manifest::load(p);
    }
    let root = match crate::id::parse_cid(which) {
        Ok((_, h)) => h,
        Err(_) => mycel_primitives::Hash::from_hex(which).map_err(|_| {
            Error::InvalidParam(format!(
                "{which:?} is neither a manifest file nor a dataset root"
            ))
        })?,
    };
    Manifest::load(&datasets_dir(home).join(format!("{}.json", root.to_hex())))
}

/// Verifies a manifest offline and, if `store` is given, that every chunk is present and intact.
pub fn verify_dataset(m: &Manifest, store: Option<&BlobStore>) -> Result<()> {
    m.verify()?;
    if let Some(s) = store {
        for e in &m.entries {
            for c in &e.chunks {
                s.get(&c.hash)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
