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
    manifest::{Entry, MANIFEST_VERSION, Manifest},
    minhash::{K, Signer},
    normalize::normalize,
    profile::Profile,
    siglog::{SignatureLog, Signed},
    sigtable::SignatureTable,
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
    /// A Hugging Face `datasets` folder (`save_to_disk` output or a `DatasetDict`), a folder of
    /// Parquet shards, or an Arrow IPC file: one record per row (see [`crate::formats`]).
    Dataset(JsonlOptions),
    /// A file or a folder of UTF-8 text files (one record per file).
    Text,
    /// A file or a folder of binary files (one record per file).
    Binary,
}

impl Format {
    /// A dataset folder read by its `text` column, each record named by its row number.
    pub fn dataset() -> Format {
        Format::Dataset(JsonlOptions {
            id_field: String::new(),
            ..Default::default()
        })
    }

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
            Some("arrow") => Format::dataset(),
            _ if path.is_dir() && is_dataset_folder(path) => Format::dataset(),
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
        Format::Dataset(o) => {
            let inputs = crate::formats::Inputs::resolve(
                &[path.to_path_buf()],
                JsonlOptions {
                    max_record,
                    ..o.clone()
                },
            )?;
            inputs.for_each(
                &mut |r| {
                    out(Record {
                        name: r.id.to_string(),
                        bytes: r.text.as_bytes().to_vec(),
                        is_text: true,
                    })
                },
                &mut |_| {},
            )?;
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
    /// Signatures of records registered elsewhere on the network (from their published
    /// signature tables, by raw ID): a record near one of them is not claimed novel, even in a
    /// home that never ingested it.
    pub known: Vec<(RecordId, [u32; K])>,
}

/// Whether folder `path` is a Hugging Face `datasets` folder or holds Parquet shards.
fn is_dataset_folder(path: &Path) -> bool {
    path.join("state.json").is_file()
        || path.join("dataset_dict.json").is_file()
        || files(path).is_ok_and(|fs| {
            !fs.is_empty()
                && fs
                    .iter()
                    .all(|f| f.extension().is_some_and(|e| e == "parquet" || e == "json"))
        })
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
    for (id, sig) in &opts.known {
        // Keyed by raw ID, which never equals a normalised ID: only the near-dup test applies,
        // and an identical normalised text has an identical signature.
        dedup.push_signed(id, Some(sig));
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
    let table = SignatureTable::new(
        pid,
        st.sigs
            .iter()
            .map(|(id, b)| {
                let mut sig = [0u32; K];
                for (v, c) in sig.iter_mut().zip(b.chunks_exact(4)) {
                    *v = u32::from_le_bytes(c.try_into().expect("4 bytes"));
                }
                (*id, sig)
            })
            .collect(),
    );
    let mut m = Manifest {
        version: MANIFEST_VERSION,
        profile: profile.name.clone(),
        profile_id: pid,
        root: mycel_primitives::Hash::ZERO,
        signature_root: table.root(),
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
        // The table first: a manifest is only ever saved beside its signature table.
        table.save(&crate::sigtable::table_path(home, &m.root))?;
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
mod tests;
