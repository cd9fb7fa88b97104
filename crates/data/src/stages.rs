//! The dedup pipeline as stages over Parquet stage files, which any scheduler can run, with the
//! same clusters as the single-process run ([`dedup_inputs`]).
//!
//! 1. [`sign`] (`--shard i/n`): every `n`-th input unit (Parquet row group, or whole JSONL or Arrow
//!    file) → `sigs-{i}-of-{n}.parquet`: per record its doc number, ID, normalised-ID prefix,
//!    shingle count, 8-bit signature and band keys.
//! 2. [`candidates`] (`--bands g/G`): all signature shards → the exact-dup primaries (earliest
//!    record per normalised ID) and, for the `g`-th of `G` contiguous groups of bands, candidate
//!    pairs by the batch engine's run rule and prefilter ([`batch::run_pairs`],
//!    [`batch::passes_prefilter`]) → `candidates-{g}-of-{G}.parquet`.
//! 3. [`verify`] (`--shard i/n`): all candidate groups, merged and deduplicated; the `i`-th of `n`
//!    contiguous shares is verified on the exact shingle Jaccard (texts re-read from the inputs
//!    by doc number) → `verified-{i}-of-{n}.parquet`, the pairs that reach the threshold.
//! 4. [`cluster`]: signatures and verified edges → [`batch::assign`] over the primaries, exact
//!    duplicates joined to their primary's cluster → the clusters file.
//!
//! Every stage file records the run's parameters ([`Params`]) in its Parquet key-value metadata;
//! a stage refuses inputs whose parameters disagree, naming the files. Every file is written to a
//! temporary sibling and renamed, so a failed stage leaves nothing behind. The candidate set is
//! the batch engine's (slots there are handed out in record order, doc numbers here increase in
//! record order), and the batch engine's clustering is [`batch::assign`] over the verified
//! candidates, so the clusters file is byte-identical to `dedup_inputs`'s Parquet output.

use crate::{
    Error, Result,
    batch::{
        self, BatchDeduper, DEFAULT_CACHE_BYTES, TextSource, assign, later_first, passes_prefilter,
        reaches,
    },
    dedup::{Tier, checked_banding},
    error::io,
    formats::{Inputs, ReadOptions, Texts, doc_file, doc_low},
    id::norm_id,
    jsonl::{DedupSummary, temp_path},
    minhash::{self, K, Signer, band_keys},
    normalize::normalize_into,
    profile::{Banding, Profile},
};
use arrow_array::{
    Array, ArrayRef, FixedSizeBinaryArray, FixedSizeListArray, Float64Array, RecordBatch,
    StringArray, UInt32Array, UInt64Array, builder::StringBuilder, cast::AsArray, types,
};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use mycel_text::Similarity;
use parquet::{
    arrow::{ArrowWriter, ProjectionMask, arrow_reader::ParquetRecordBatchReaderBuilder},
    basic::{Compression, ZstdLevel},
    file::{metadata::KeyValue, properties::WriterProperties},
};
use std::{
    collections::HashMap,
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

/// Version of the stage file formats; files of another version are refused.
pub const STAGE_FORMAT: u32 = 1;

/// Rows per record batch written to a stage file.
const WRITE_ROWS: usize = 1 << 16;

/// The parameters of a run, recorded by every stage file and checked by every later stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Profile name (e.g. `mycel-text/v1`).
    pub profile: String,
    /// Profile ID, hex.
    pub profile_id: String,
    /// Tier.
    pub tier: Tier,
    /// Exact Jaccard threshold.
    pub threshold: f64,
    /// Banding.
    pub banding: Banding,
    /// Digest of the input file list ([`Inputs::digest`]).
    pub inputs: String,
    /// Number of input files.
    pub input_files: usize,
    /// Text field or column.
    pub text_field: String,
    /// ID field or column (empty: none).
    pub id_field: String,
    /// Largest record accepted, bytes.
    pub max_record: usize,
}

impl Params {
    /// The parameters of a run over `inputs`.
    pub fn new(profile: &Profile, tier: Tier, threshold: f64, inputs: &Inputs) -> Result<Self> {
        Ok(Params {
            profile: profile.name.clone(),
            profile_id: profile.id().to_hex(),
            tier,
            threshold,
            banding: checked_banding(profile, tier, threshold)?,
            inputs: inputs.digest(),
            input_files: inputs.files.len(),
            text_field: inputs.opts.text_field.clone(),
            id_field: inputs.opts.id_field.clone(),
            max_record: inputs.opts.max_record,
        })
    }

    /// The read options the inputs were read with.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            text_field: self.text_field.clone(),
            id_field: self.id_field.clone(),
            max_record: self.max_record,
        }
    }

    /// The profile, checked against the recorded profile ID.
    pub fn profile(&self) -> Result<Profile> {
        let p = Profile::by_name(&self.profile)?;
        if p.id().to_hex() != self.profile_id {
            return Err(Error::InvalidParam(format!(
                "profile {} of this build has ID {}, the stage files were made with {}",
                self.profile,
                p.id().to_hex(),
                self.profile_id
            )));
        }
        Ok(p)
    }

    fn kv(&self) -> Vec<(&'static str, String)> {
        vec![
            ("mycel.stage_format", STAGE_FORMAT.to_string()),
            ("mycel.profile", self.profile.clone()),
            ("mycel.profile_id", self.profile_id.clone()),
            (
                "mycel.tier",
                match self.tier {
                    Tier::D => "d",
                    Tier::L => "l",
                }
                .into(),
            ),
            ("mycel.threshold", self.threshold.to_string()),
            ("mycel.bands", self.banding.bands.to_string()),
            ("mycel.rows", self.banding.rows.to_string()),
            ("mycel.inputs", self.inputs.clone()),
            ("mycel.input_files", self.input_files.to_string()),
            ("mycel.text_field", self.text_field.clone()),
            ("mycel.id_field", self.id_field.clone()),
            ("mycel.max_record", self.max_record.to_string()),
        ]
    }

    fn from_kv(path: &Path, kv: &HashMap<String, String>) -> Result<Self> {
        let bad = |why: String| Error::Decode {
            path: path.to_path_buf(),
            why,
        };
        let get = |k: &str| {
            kv.get(k)
                .cloned()
                .ok_or_else(|| bad(format!("no {k} in the key-value metadata")))
        };
        let num = |k: &str| -> Result<usize> {
            get(k)?
                .parse()
                .map_err(|_| bad(format!("{k} is not a number")))
        };
        let format = get("mycel.stage_format")?;
        if format != STAGE_FORMAT.to_string() {
            return Err(bad(format!(
                "stage format {format}; this build reads format {STAGE_FORMAT}"
            )));
        }
        Ok(Params {
            profile: get("mycel.profile")?,
            profile_id: get("mycel.profile_id")?,
            tier: get("mycel.tier")?.parse()?,
            threshold: get("mycel.threshold")?
                .parse()
                .map_err(|_| bad("mycel.threshold is not a number".into()))?,
            banding: Banding {
                bands: num("mycel.bands")?,
                rows: num("mycel.rows")?,
            },
            inputs: get("mycel.inputs")?,
            input_files: num("mycel.input_files")?,
            text_field: get("mycel.text_field")?,
            id_field: get("mycel.id_field")?,
            max_record: num("mycel.max_record")?,
        })
    }

    /// An error naming both files unless `other` (read from `there`) equals `self` (from `here`).
    fn check_same(&self, here: &Path, other: &Params, there: &Path) -> Result<()> {
        for ((k, a), (_, b)) in self.kv().into_iter().zip(other.kv()) {
            if a != b {
                return Err(Error::BadInput {
                    path: there.to_path_buf(),
                    why: format!(
                        "made with {k} = {b:?}, but {} with {k} = {a:?}: stage files of different runs cannot be mixed",
                        here.display()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// `i/n`: the `i`-th (0-based) of `n` shards, or band groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which, `0..count`.
    pub index: usize,
    /// How many.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidParam(format!("{s:?} is not i/n with 0 <= i < n"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The whole: `0/1`.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    fn file(&self, prefix: &str) -> String {
        format!("{prefix}-{}-of-{}.parquet", self.index, self.count)
    }

    /// This shard's contiguous share of `0..len`.
    fn range(&self, len: usize) -> std::ops::Range<usize> {
        let at = |i: usize| (i as u128 * len as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }
}

/// What [`sign`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignSummary {
    /// The file written.
    pub out: PathBuf,
    /// Units (row groups, files) signed.
    pub units: u64,
    /// Records signed.
    pub records: u64,
    /// Input bytes read (approximate for Parquet: compressed row-group bytes).
    pub bytes: u64,
}

/// What [`candidates`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CandidatesSummary {
    /// The file written.
    pub out: PathBuf,
    /// Records in all signature shards.
    pub records: u64,
    /// Records indexed (exact-dup primaries with shingles).
    pub indexed: u64,
    /// Bands of this group.
    pub bands: String,
    /// Pairs produced by band runs (once per band).
    pub band_pairs: u64,
    /// Of those, rejected by the 8-bit prefilter.
    pub prefiltered_out: u64,
    /// Distinct candidate pairs written.
    pub candidates: u64,
}

/// What [`verify`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifySummary {
    /// The file written.
    pub out: PathBuf,
    /// Distinct candidate pairs of all groups.
    pub candidates: u64,
    /// Pairs of this shard.
    pub checked: u64,
    /// Of those, reaching the threshold (written).
    pub verified: u64,
    /// Texts re-read.
    pub texts_read: u64,
}

/// What [`cluster`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterSummary {
    /// The file written.
    pub out: PathBuf,
    /// Records.
    pub records: u64,
    /// Records whose normalised text equals an earlier record's.
    pub exact_dups: u64,
    /// Verified edges read.
    pub edges: u64,
    /// Clusters (records that are their own representative).
    pub clusters: u64,
}

/// Stage 1: signs every `shard.count`-th input unit (see [`Inputs::units`]) from
/// `shard.index` into `out_dir/sigs-{i}-of-{n}.parquet`.
pub fn sign(
    inputs: &Inputs,
    profile: &Profile,
    tier: Tier,
    threshold: f64,
    shard: Shard,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SignSummary> {
    let params = Params::new(profile, tier, threshold, inputs)?;
    let bands = params.banding.bands;
    let units = inputs.units()?;
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let out = out_dir.join(shard.file("sigs"));
    let schema = sigs_schema(bands);
    let mut signer = Signer::new(profile);
    let profile_id = profile.id();
    let (mut norm, mut keys) = (String::new(), Vec::new());
    let mut rows = SigRows::default();
    let (mut records, mut done, mut bytes) = (0u64, 0u64, 0u64);
    let kv = stage_kv(&params, "sigs", shard, None);
    write_parquet(&out, schema.clone(), kv, &mut |w| {
        for unit in units.iter().skip(shard.index).step_by(shard.count) {
            done += 1;
            inputs.read_unit(
                *unit,
                &mut |r| {
                    records += 1;
                    normalize_into(r.text, &mut norm);
                    let nid = norm_id(&profile_id, &norm);
                    let mut sig = [0u32; K];
                    let shingles = signer.sign(&norm, &mut sig);
                    band_keys(&sig, bands, params.banding.rows, &mut keys);
                    rows.doc.push(r.doc);
                    rows.id.append_value(r.id);
                    rows.norm.extend_from_slice(&nid.0.0[..16]);
                    rows.shingles
                        .push(u32::try_from(shingles).unwrap_or(u32::MAX));
                    rows.sig8.extend(sig.iter().map(|&v| v as u8));
                    rows.keys.extend_from_slice(&keys);
                    if rows.doc.len() >= WRITE_ROWS {
                        w(rows.take(&schema, bands)?)?;
                    }
                    Ok(())
                },
                &mut |b| {
                    bytes += b;
                    progress(b)
                },
            )?;
        }
        if !rows.doc.is_empty() {
            w(rows.take(&schema, bands)?)?;
        }
        Ok(())
    })?;
    Ok(SignSummary {
        out,
        units: done,
        records,
        bytes,
    })
}

/// Columns of a signature shard being written.
#[derive(Default)]
struct SigRows {
    doc: Vec<u64>,
    id: StringBuilder,
    norm: Vec<u8>,
    shingles: Vec<u32>,
    sig8: Vec<u8>,
    keys: Vec<u32>,
}

impl SigRows {
    fn take(&mut self, schema: &SchemaRef, bands: usize) -> Result<RecordBatch> {
        let fsb = |size: i32, v: Vec<u8>| -> Result<ArrayRef> {
            Ok(Arc::new(
                FixedSizeBinaryArray::try_new(size, Buffer::from_vec(v), None).map_err(arrow)?,
            ))
        };
        let keys = FixedSizeListArray::try_new(
            key_field(),
            bands as i32,
            Arc::new(UInt32Array::from(std::mem::take(&mut self.keys))),
            None,
        )
        .map_err(arrow)?;
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(UInt64Array::from(std::mem::take(&mut self.doc))),
                Arc::new(self.id.finish()),
                fsb(16, std::mem::take(&mut self.norm))?,
                Arc::new(UInt32Array::from(std::mem::take(&mut self.shingles))),
                fsb(K as i32, std::mem::take(&mut self.sig8))?,
                Arc::new(keys),
            ],
        )
        .map_err(arrow)
    }
}

fn arrow(e: arrow_schema::ArrowError) -> Error {
    Error::InvalidParam(format!("arrow: {e}"))
}

fn key_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::UInt32, false))
}

fn sigs_schema(bands: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc", DataType::UInt64, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("norm16", DataType::FixedSizeBinary(16), false),
        Field::new("shingles", DataType::UInt32, false),
        Field::new("sig8", DataType::FixedSizeBinary(K as i32), false),
        Field::new(
            "keys",
            DataType::FixedSizeList(key_field(), bands as i32),
            false,
        ),
    ]))
}

fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::UInt64, false),
        Field::new("b", DataType::UInt64, false),
    ]))
}

fn verified_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::UInt64, false),
        Field::new("b", DataType::UInt64, false),
        Field::new("inter", DataType::UInt32, false),
        Field::new("union", DataType::UInt32, false),
        Field::new("jaccard", DataType::Float64, false),
    ]))
}

fn clusters_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doc", DataType::UInt64, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("cluster", DataType::Utf8, false),
        Field::new("cluster_doc", DataType::UInt64, false),
    ]))
}

fn stage_kv(
    params: &Params,
    stage: &str,
    shard: Shard,
    records: Option<u64>,
) -> Vec<(&'static str, String)> {
    let mut kv = params.kv();
    kv.push(("mycel.stage", stage.into()));
    kv.push(("mycel.shard", shard.to_string()));
    if let Some(n) = records {
        kv.push(("mycel.records", n.to_string()));
    }
    kv
}

/// Where a stage writes its record batches.
type BatchSink<'a> = dyn FnMut(RecordBatch) -> Result<()> + 'a;

/// Writes a Parquet file atomically: to a temporary sibling, renamed once complete (removed on
/// error). `fill` gets a sink for record batches.
fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    kv: Vec<(&'static str, String)>,
    fill: &mut dyn FnMut(&mut BatchSink<'_>) -> Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let run = || -> Result<()> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_key_value_metadata(Some(
                kv.into_iter()
                    .map(|(k, v)| KeyValue::new(k.to_string(), v))
                    .collect(),
            ))
            .build();
        let f = File::create(&tmp).map_err(io(&tmp))?;
        let enc = |e: parquet::errors::ParquetError| Error::BadInput {
            path: tmp.clone(),
            why: format!("cannot write Parquet: {e}"),
        };
        let mut w = ArrowWriter::try_new(f, schema, Some(props)).map_err(enc)?;
        fill(&mut |b| w.write(&b).map_err(enc))?;
        let f = w.into_inner().map_err(enc)?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    };
    let r = run();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// A stage file opened for reading, with its recorded parameters.
struct StageFile {
    path: PathBuf,
    params: Params,
    records: Option<u64>,
}

impl StageFile {
    fn open(path: &Path, stage: &str) -> Result<Self> {
        let f = File::open(path).map_err(io(path))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| Error::Decode {
            path: path.to_path_buf(),
            why: format!("not a readable Parquet file: {e}"),
        })?;
        let kv: HashMap<String, String> = b
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|v| {
                v.iter()
                    .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let found = kv.get("mycel.stage").map(String::as_str).unwrap_or("");
        if found != stage {
            return Err(Error::Decode {
                path: path.to_path_buf(),
                why: format!("not a {stage} stage file (stage {found:?})"),
            });
        }
        let records = match kv.get("mycel.records") {
            Some(n) => Some(n.parse().map_err(|_| Error::Decode {
                path: path.to_path_buf(),
                why: "mycel.records is not a number".into(),
            })?),
            None => None,
        };
        Ok(StageFile {
            path: path.to_path_buf(),
            params: Params::from_kv(path, &kv)?,
            records,
        })
    }

    /// Streams the record batches of `columns`.
    fn batches(
        &self,
        columns: &[&str],
        each: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let path = &self.path;
        let bad = |why: String| Error::Decode {
            path: path.clone(),
            why,
        };
        let f = File::open(path).map_err(io(path))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
        let mut roots = Vec::new();
        for c in columns {
            roots.push(
                b.schema()
                    .index_of(c)
                    .map_err(|_| bad(format!("no column {c:?}")))?,
            );
        }
        let mask = ProjectionMask::roots(b.parquet_schema(), roots);
        let reader = b
            .with_projection(mask)
            .with_batch_size(WRITE_ROWS)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| bad(e.to_string()))?;
            each(&batch)?;
        }
        Ok(())
    }

    fn column<'a>(&self, batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
        batch.column_by_name(name).ok_or_else(|| Error::Decode {
            path: self.path.clone(),
            why: format!("no column {name:?}"),
        })
    }

    fn u64s<'a>(&self, batch: &'a RecordBatch, name: &str) -> Result<&'a UInt64Array> {
        self.column(batch, name)?
            .as_primitive_opt::<types::UInt64Type>()
            .ok_or_else(|| self.wrong(name))
    }

    fn u32s<'a>(&self, batch: &'a RecordBatch, name: &str) -> Result<&'a UInt32Array> {
        self.column(batch, name)?
            .as_primitive_opt::<types::UInt32Type>()
            .ok_or_else(|| self.wrong(name))
    }

    fn fixed<'a>(
        &self,
        batch: &'a RecordBatch,
        name: &str,
        size: i32,
    ) -> Result<&'a FixedSizeBinaryArray> {
        self.column(batch, name)?
            .as_fixed_size_binary_opt()
            .filter(|a| a.value_length() == size)
            .ok_or_else(|| self.wrong(name))
    }

    fn wrong(&self, name: &str) -> Error {
        Error::Decode {
            path: self.path.clone(),
            why: format!("column {name:?} has the wrong type"),
        }
    }
}

/// The complete set of `{prefix}-{i}-of-{n}.parquet` files in `dir`, opened, with parameters
/// that agree; the shared parameters.
fn stage_set(dir: &Path, prefix: &str) -> Result<(Vec<StageFile>, Params)> {
    let mut found: Vec<(Shard, PathBuf)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = e.map_err(io(dir))?.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(rest) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix(".parquet"))
        else {
            continue;
        };
        let shard = rest
            .split_once("-of-")
            .and_then(|(i, n)| format!("{i}/{n}").parse::<Shard>().ok());
        if let Some(s) = shard {
            found.push((s, p));
        }
    }
    found.sort_by_key(|(s, _)| (s.count, s.index));
    let Some((first, first_path)) = found.first().cloned() else {
        return Err(Error::BadInput {
            path: dir.to_path_buf(),
            why: format!("no {prefix}-*-of-*.parquet files"),
        });
    };
    if let Some((s, p)) = found.iter().find(|(s, _)| s.count != first.count) {
        return Err(Error::BadInput {
            path: p.clone(),
            why: format!(
                "is shard {s} but {} is one of {} shards: stage files of different runs cannot be mixed",
                first_path.display(),
                first.count
            ),
        });
    }
    for i in 0..first.count {
        if !found.iter().any(|(s, _)| s.index == i) {
            return Err(Error::BadInput {
                path: dir.to_path_buf(),
                why: format!(
                    "{} is missing",
                    Shard {
                        index: i,
                        count: first.count
                    }
                    .file(prefix)
                ),
            });
        }
    }
    let files = found
        .iter()
        .map(|(_, p)| StageFile::open(p, prefix))
        .collect::<Result<Vec<_>>>()?;
    let params = files[0].params.clone();
    for f in &files[1..] {
        params.check_same(&files[0].path, &f.params, &f.path)?;
        if f.records != files[0].records {
            return Err(Error::BadInput {
                path: f.path.clone(),
                why: format!(
                    "counts {:?} records but {} counts {:?}: stage files of different runs cannot be mixed",
                    f.records,
                    files[0].path.display(),
                    files[0].records
                ),
            });
        }
    }
    Ok((files, params))
}

/// The records of all signature shards, sorted by doc number.
struct Sigs {
    docs: Vec<u64>,
    norm: Vec<[u8; 16]>,
    shingles: Vec<u32>,
    /// `K` bytes per record, when loaded.
    sig8: Vec<u8>,
    /// `hi - lo` keys per record for bands `lo..hi`, when loaded.
    keys: Vec<u32>,
    /// IDs, when loaded.
    ids: Vec<Box<str>>,
}

/// Which optional columns [`load_sigs`] reads.
#[derive(Clone, Copy)]
struct Load {
    sig8: bool,
    bands: Option<(usize, usize)>,
    ids: bool,
}

fn load_sigs(files: &[StageFile], params: &Params, load: Load) -> Result<Sigs> {
    let mut s = Sigs {
        docs: Vec::new(),
        norm: Vec::new(),
        shingles: Vec::new(),
        sig8: Vec::new(),
        keys: Vec::new(),
        ids: Vec::new(),
    };
    let bands = params.banding.bands;
    for f in files {
        let mut cols = vec!["doc", "norm16", "shingles"];
        if load.sig8 {
            cols.push("sig8");
        }
        if load.bands.is_some() {
            cols.push("keys");
        }
        if load.ids {
            cols.push("id");
        }
        f.batches(&cols, &mut |b| {
            s.docs.extend(f.u64s(b, "doc")?.values());
            let norm = f.fixed(b, "norm16", 16)?;
            s.norm.extend(
                (0..norm.len()).map(|i| <[u8; 16]>::try_from(norm.value(i)).expect("16 bytes")),
            );
            s.shingles.extend(f.u32s(b, "shingles")?.values());
            if load.sig8 {
                let a = f.fixed(b, "sig8", K as i32)?;
                s.sig8.extend_from_slice(&a.value_data()[..a.len() * K]);
            }
            if let Some((lo, hi)) = load.bands {
                let a = f
                    .column(b, "keys")?
                    .as_fixed_size_list_opt()
                    .filter(|a| a.value_length() as usize == bands)
                    .ok_or_else(|| f.wrong("keys"))?;
                let v = a
                    .values()
                    .as_primitive_opt::<types::UInt32Type>()
                    .ok_or_else(|| f.wrong("keys"))?;
                let v = &v.values()[a.offset() * bands..(a.offset() + a.len()) * bands];
                for row in v.chunks_exact(bands) {
                    s.keys.extend_from_slice(&row[lo..hi]);
                }
            }
            if load.ids {
                let a = f
                    .column(b, "id")?
                    .as_string_opt::<i32>()
                    .ok_or_else(|| f.wrong("id"))?;
                s.ids.extend((0..a.len()).map(|i| Box::from(a.value(i))));
            }
            Ok(())
        })?;
    }
    // Shards interleave units: order everything by doc number.
    let n = s.docs.len();
    if n as u64 >= 1 << 31 {
        return Err(Error::InvalidParam(format!(
            "{n} records; at most 2^31 per run"
        )));
    }
    let mut perm: Vec<u32> = (0..n as u32).collect();
    perm.sort_unstable_by_key(|&i| s.docs[i as usize]);
    let width = load.bands.map_or(0, |(lo, hi)| hi - lo);
    let pick = |v: &[u64]| perm.iter().map(|&i| v[i as usize]).collect::<Vec<_>>();
    let docs = pick(&s.docs);
    if let Some(w) = docs.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::BadInput {
            path: files[0].path.clone(),
            why: format!(
                "doc {} appears twice in the signature shards: stage files of different runs cannot be mixed",
                w[0]
            ),
        });
    }
    let mut out = Sigs {
        docs,
        norm: perm.iter().map(|&i| s.norm[i as usize]).collect(),
        shingles: perm.iter().map(|&i| s.shingles[i as usize]).collect(),
        sig8: Vec::new(),
        keys: Vec::new(),
        ids: Vec::new(),
    };
    if load.sig8 {
        out.sig8.reserve_exact(n * K);
        for &i in &perm {
            let i = i as usize;
            out.sig8.extend_from_slice(&s.sig8[i * K..(i + 1) * K]);
        }
    }
    if width > 0 {
        out.keys.reserve_exact(n * width);
        for &i in &perm {
            let i = i as usize;
            out.keys
                .extend_from_slice(&s.keys[i * width..(i + 1) * width]);
        }
    }
    if load.ids {
        let mut ids: Vec<Option<Box<str>>> = s.ids.into_iter().map(Some).collect();
        out.ids = perm
            .iter()
            .map(|&i| ids[i as usize].take().expect("each id once"))
            .collect();
    }
    Ok(out)
}

impl Sigs {
    /// For each record (by rank): the rank of its exact-dup primary (the earliest record with the
    /// same normalised ID; itself when it is one), as pass 1 of the batch engine decides.
    fn primaries(&self) -> Vec<u32> {
        let mut first: HashMap<[u8; 16], u32> = HashMap::with_capacity(self.docs.len());
        self.norm
            .iter()
            .enumerate()
            .map(|(r, k)| *first.entry(*k).or_insert(r as u32))
            .collect()
    }

    fn rank(&self, doc: u64) -> Option<u32> {
        self.docs.binary_search(&doc).ok().map(|r| r as u32)
    }
}

/// Stage 2: candidate pairs of the `group.index`-th of `group.count` contiguous groups of bands,
/// from the complete set of signature shards in `sigs_dir`, into
/// `out_dir/candidates-{g}-of-{G}.parquet`.
pub fn candidates(sigs_dir: &Path, group: Shard, out_dir: &Path) -> Result<CandidatesSummary> {
    let (files, params) = stage_set(sigs_dir, "sigs")?;
    let bands = params.banding.bands;
    if group.count > bands {
        return Err(Error::InvalidParam(format!(
            "{} band groups but only {bands} bands",
            group.count
        )));
    }
    let r = group.range(bands);
    let (lo, hi) = (r.start, r.end);
    let sigs = load_sigs(
        &files,
        &params,
        Load {
            sig8: true,
            bands: Some((lo, hi)),
            ids: false,
        },
    )?;
    let n = sigs.docs.len();
    let primary = sigs.primaries();
    let indexed: Vec<u32> = (0..n as u32)
        .filter(|&r| primary[r as usize] == r && sigs.shingles[r as usize] > 0)
        .collect();
    let width = hi - lo;
    let sig8 = |r: u32| &sigs.sig8[r as usize * K..(r as usize + 1) * K];
    let (mut band_pairs, mut prefiltered_out) = (0u64, 0u64);
    let mut pairs: Vec<u64> = Vec::new();
    let mut compacted = 0;
    for band in 0..width {
        let mut v: Vec<u64> = indexed
            .iter()
            .map(|&r| (u64::from(sigs.keys[r as usize * width + band]) << 32) | u64::from(r))
            .collect();
        v.sort_unstable();
        batch::run_pairs(
            &v,
            |e| e >> 32,
            |ea, eb| {
                let (a, b) = (ea as u32, eb as u32);
                band_pairs += 1;
                if passes_prefilter(sig8(a), sig8(b), params.threshold) {
                    pairs.push(later_first(a, b));
                } else {
                    prefiltered_out += 1;
                }
            },
        );
        if pairs.len() > 2 * compacted + (1 << 16) {
            pairs.sort_unstable();
            pairs.dedup();
            compacted = pairs.len();
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let out = out_dir.join(group.file("candidates"));
    let schema = pairs_schema();
    let kv = stage_kv(&params, "candidates", group, Some(n as u64));
    write_parquet(&out, schema.clone(), kv, &mut |w| {
        for chunk in pairs.chunks(WRITE_ROWS) {
            let a: UInt64Array = chunk
                .iter()
                .map(|&p| sigs.docs[p as u32 as usize])
                .collect();
            let b: UInt64Array = chunk
                .iter()
                .map(|&p| sigs.docs[(p >> 32) as usize])
                .collect();
            w(
                RecordBatch::try_new(schema.clone(), vec![Arc::new(a), Arc::new(b)])
                    .map_err(arrow)?,
            )?;
        }
        Ok(())
    })?;
    Ok(CandidatesSummary {
        out,
        records: n as u64,
        indexed: indexed.len() as u64,
        bands: format!("{lo}..{hi} of {bands}"),
        band_pairs,
        prefiltered_out,
        candidates: pairs.len() as u64,
    })
}

/// Shingle sets by doc for verification: cached under a byte budget (emptied when full).
struct ShingleCache<'a> {
    texts: Texts<'a>,
    profile: Profile,
    sets: HashMap<u64, Vec<u64>>,
    bytes: usize,
    budget: usize,
    text: String,
    norm: String,
    reads: u64,
}

impl ShingleCache<'_> {
    fn compute(&mut self, doc: u64) -> Result<Vec<u64>> {
        self.texts.read(doc, &mut self.text)?;
        normalize_into(&self.text, &mut self.norm);
        let mut out = Vec::new();
        minhash::shingle_vec(&self.profile, &self.norm, &mut out);
        out.shrink_to_fit();
        self.reads += 1;
        Ok(out)
    }

    fn get(&mut self, doc: u64) -> Result<&Vec<u64>> {
        if !self.sets.contains_key(&doc) {
            let set = self.compute(doc)?;
            let bytes = set.capacity() * 8;
            if self.bytes + bytes > self.budget && !self.sets.is_empty() {
                self.sets.clear();
                self.bytes = 0;
            }
            self.bytes += bytes;
            self.sets.insert(doc, set);
        }
        Ok(&self.sets[&doc])
    }
}

/// Stage 3: exact verification of the `shard.index`-th of `shard.count` contiguous shares of the
/// distinct candidate pairs of every group in `cand_dir`, re-reading texts from `inputs` (the
/// same paths `sign` read); writes the pairs that reach the threshold to
/// `out_dir/verified-{i}-of-{n}.parquet`.
pub fn verify(
    cand_dir: &Path,
    inputs: &[PathBuf],
    shard: Shard,
    out_dir: &Path,
) -> Result<VerifySummary> {
    let (files, params) = stage_set(cand_dir, "candidates")?;
    let profile = params.profile()?;
    let inputs = Inputs::resolve(inputs, params.read_options())?;
    if inputs.digest() != params.inputs || inputs.files.len() != params.input_files {
        return Err(Error::BadInput {
            path: inputs
                .files
                .first()
                .map(|f| f.path.clone())
                .unwrap_or_default(),
            why: format!(
                "these inputs ({} files, digest {}) are not those the signatures were made from ({} files, digest {}, recorded in {})",
                inputs.files.len(),
                inputs.digest(),
                params.input_files,
                params.inputs,
                files[0].path.display()
            ),
        });
    }
    // Pairs as `(b, a)`: a later record's candidates together, earliest first.
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for f in &files {
        f.batches(&["a", "b"], &mut |batch| {
            let a = f.u64s(batch, "a")?;
            let b = f.u64s(batch, "b")?;
            for (a, b) in a.values().iter().zip(b.values()) {
                if a >= b {
                    return Err(Error::Decode {
                        path: f.path.clone(),
                        why: format!("pair ({a}, {b}) is not ordered"),
                    });
                }
                pairs.push((*b, *a));
            }
            Ok(())
        })?;
    }
    pairs.sort_unstable();
    pairs.dedup();
    let total = pairs.len() as u64;
    let mine = &pairs[shard.range(pairs.len())];
    let mut cache = ShingleCache {
        texts: inputs.texts(),
        profile,
        sets: HashMap::new(),
        bytes: 0,
        budget: DEFAULT_CACHE_BYTES,
        text: String::new(),
        norm: String::new(),
        reads: 0,
    };
    let mut found: Vec<(u64, u64, u32, u32, f64)> = Vec::new();
    let mut current: Option<(u64, Vec<u64>)> = None;
    for &(b, a) in mine {
        if current.as_ref().is_none_or(|(c, _)| *c != b) {
            current = Some((b, cache.compute(b)?));
        }
        let sa = cache.get(a)?;
        let sb = &current.as_ref().expect("current set").1;
        let s = Similarity::of_sorted(sa, sb);
        if reaches(&s, params.threshold) {
            let count = |v: u64| {
                u32::try_from(v).map_err(|_| {
                    Error::InvalidParam(format!("docs {a} and {b}: more than 2^32 shingles"))
                })
            };
            found.push((a, b, count(s.inter)?, count(s.union)?, s.jaccard()));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let out = out_dir.join(shard.file("verified"));
    let schema = verified_schema();
    let kv = stage_kv(&params, "verified", shard, files[0].records);
    write_parquet(&out, schema.clone(), kv, &mut |w| {
        for c in found.chunks(WRITE_ROWS) {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(c.iter().map(|e| e.0).collect::<UInt64Array>()),
                Arc::new(c.iter().map(|e| e.1).collect::<UInt64Array>()),
                Arc::new(c.iter().map(|e| e.2).collect::<UInt32Array>()),
                Arc::new(c.iter().map(|e| e.3).collect::<UInt32Array>()),
                Arc::new(c.iter().map(|e| e.4).collect::<Float64Array>()),
            ];
            w(RecordBatch::try_new(schema.clone(), cols).map_err(arrow)?)?;
        }
        Ok(())
    })?;
    Ok(VerifySummary {
        out,
        candidates: total,
        checked: mine.len() as u64,
        verified: found.len() as u64,
        texts_read: cache.reads,
    })
}

/// Stage 4: clusters from the signature shards in `sigs_dir` and the verified edges in
/// `verified_dir`, written to `out` (which must end in `.parquet`) in the schema of
/// [`dedup_inputs`]'s Parquet output.
pub fn cluster(sigs_dir: &Path, verified_dir: &Path, out: &Path) -> Result<ClusterSummary> {
    if !is_parquet(out) {
        return Err(Error::InvalidParam(format!(
            "{}: the clusters file of the staged run must end in .parquet",
            out.display()
        )));
    }
    let (sig_files, params) = stage_set(sigs_dir, "sigs")?;
    let (ver_files, vparams) = stage_set(verified_dir, "verified")?;
    params.check_same(&sig_files[0].path, &vparams, &ver_files[0].path)?;
    let sigs = load_sigs(
        &sig_files,
        &params,
        Load {
            sig8: false,
            bands: None,
            ids: true,
        },
    )?;
    let n = sigs.docs.len();
    if ver_files[0].records != Some(n as u64) {
        return Err(Error::BadInput {
            path: ver_files[0].path.clone(),
            why: format!(
                "made from {:?} records, but the signature shards in {} hold {n}: stage files of different runs cannot be mixed",
                ver_files[0].records,
                sigs_dir.display()
            ),
        });
    }
    let primary = sigs.primaries();
    let mut edges: Vec<u64> = Vec::new();
    for f in &ver_files {
        f.batches(&["a", "b"], &mut |batch| {
            let a = f.u64s(batch, "a")?;
            let b = f.u64s(batch, "b")?;
            for (&a, &b) in a.values().iter().zip(b.values()) {
                let (Some(ra), Some(rb)) = (sigs.rank(a), sigs.rank(b)) else {
                    return Err(Error::BadInput {
                        path: f.path.clone(),
                        why: format!("edge ({a}, {b}) names a doc no signature shard holds"),
                    });
                };
                edges.push(later_first(ra, rb));
            }
            Ok(())
        })?;
    }
    let edge_count = edges.len() as u64;
    let mut reps = assign(n, &mut edges);
    drop(edges);
    let mut exact_dups = 0;
    for r in 0..n {
        let p = primary[r] as usize;
        if p != r {
            reps[r] = reps[p];
            exact_dups += 1;
        }
    }
    let names: Vec<&str> = sigs.ids.iter().map(|s| &**s).collect();
    write_clusters(out, &params, &sigs.docs, &names, &reps)?;
    let clusters = reps
        .iter()
        .enumerate()
        .filter(|(i, r)| *i as u32 == **r)
        .count() as u64;
    Ok(ClusterSummary {
        out: out.to_path_buf(),
        records: n as u64,
        exact_dups,
        edges: edge_count,
        clusters,
    })
}

fn is_parquet(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()) == Some("parquet")
}

/// Writes the clusters file: per record (by record order) its doc, ID, the representative's ID
/// and doc.
fn write_clusters(
    out: &Path,
    params: &Params,
    docs: &[u64],
    ids: &[&str],
    reps: &[u32],
) -> Result<()> {
    let schema = clusters_schema();
    let kv = stage_kv(params, "clusters", Shard::ALL, Some(docs.len() as u64));
    write_parquet(out, schema.clone(), kv, &mut |w| {
        for start in (0..docs.len()).step_by(WRITE_ROWS) {
            let end = (start + WRITE_ROWS).min(docs.len());
            let r = start..end;
            let cols: Vec<ArrayRef> = vec![
                Arc::new(UInt64Array::from(docs[r.clone()].to_vec())),
                Arc::new(StringArray::from_iter_values(ids[r.clone()].iter())),
                Arc::new(StringArray::from_iter_values(
                    reps[r.clone()].iter().map(|&p| ids[p as usize]),
                )),
                Arc::new(UInt64Array::from_iter_values(
                    reps[r].iter().map(|&p| docs[p as usize]),
                )),
            ];
            w(RecordBatch::try_new(schema.clone(), cols).map_err(arrow)?)?;
        }
        Ok(())
    })
}

/// Re-reads texts for the batch engine from dense locators: each file's records get
/// `base + low`, bases increasing with the file, so locators stay small and increasing.
struct DenseSource<'a> {
    /// `(base, file)` of each file that has records, in order.
    bases: Vec<(u64, usize)>,
    texts: Texts<'a>,
}

impl TextSource for DenseSource<'_> {
    fn read_text(&mut self, locator: u64, out: &mut String) -> Result<()> {
        let i = self.bases.partition_point(|(b, _)| *b <= locator);
        let (base, file) = self.bases[i
            .checked_sub(1)
            .ok_or_else(|| Error::InvalidParam(format!("no record at locator {locator}")))?];
        self.texts
            .read(crate::formats::doc(file, locator - base), out)
    }
}

/// Deduplicates `inputs` in one process (the batch engine) and writes the clusters to `output`
/// atomically: Parquet (the schema of [`cluster`]'s output) when it ends in `.parquet`, else
/// one `{"id","cluster"}` JSON line per record. `progress` is called with the bytes read so far.
pub fn dedup_inputs(
    inputs: &Inputs,
    output: &Path,
    profile: &Profile,
    tier: Tier,
    threshold: f64,
    progress: &mut dyn FnMut(u64),
) -> Result<DedupSummary> {
    let start = Instant::now();
    let params = Params::new(profile, tier, threshold, inputs)?;
    let mut dedup = BatchDeduper::new(profile, tier, threshold)?;
    let mut ids: Vec<Box<str>> = Vec::new();
    let mut numeric: Vec<bool> = Vec::new();
    let mut docs: Vec<u64> = Vec::new();
    let mut bases: Vec<(u64, usize)> = Vec::new();
    let (mut base, mut last_low) = (0u64, 0u64);
    let (mut bytes, mut reported) = (0u64, 0u64);
    inputs.for_each(
        &mut |r| {
            let (file, low) = (doc_file(r.doc), doc_low(r.doc));
            if bases.last().is_none_or(|&(_, f)| f != file) {
                if !bases.is_empty() {
                    base += last_low + 1;
                }
                bases.push((base, file));
            }
            last_low = low;
            dedup.push(r.text, base + low)?;
            ids.push(r.id.into());
            numeric.push(r.id_is_number);
            docs.push(r.doc);
            Ok(())
        },
        &mut |b| {
            bytes += b;
            if bytes - reported > (4 << 20) {
                reported = bytes;
                progress(bytes);
            }
        },
    )?;
    progress(bytes);
    let mut source = DenseSource {
        bases,
        texts: inputs.texts(),
    };
    let res = dedup.finish(&mut source)?;
    let reps = &res.reps;
    if is_parquet(output) {
        let names: Vec<&str> = ids.iter().map(|s| &**s).collect();
        write_clusters(output, &params, &docs, &names, reps)?;
    } else {
        write_jsonl_clusters(output, &ids, &numeric, reps)?;
    }
    let stats = res.stats;
    let clusters = res.clusters();
    let n = stats.records;
    let secs = start.elapsed().as_secs_f64();
    let b = res.banding;
    Ok(DedupSummary {
        records: n,
        exact_dups: stats.exact_dups,
        near_dups: n - clusters - stats.exact_dups.min(n - clusters),
        clusters,
        bytes,
        seconds: secs,
        mb_per_s: bytes as f64 / 1e6 / secs.max(1e-9),
        tier,
        threshold,
        banding: format!("{}x{}", b.bands, b.rows),
        candidates: stats.candidates,
        verified: stats.verified,
        index_bytes_per_record: res.memory.index_bytes_per_record(),
        signature_bytes_per_record: res.memory.signature_bytes_per_record(),
    })
}

/// One `{"id","cluster"}` line per record, written atomically.
fn write_jsonl_clusters(
    output: &Path,
    ids: &[Box<str>],
    numeric: &[bool],
    reps: &[u32],
) -> Result<()> {
    let enc = |i: usize| {
        if numeric[i] {
            ids[i].to_string()
        } else {
            serde_json::Value::String(ids[i].to_string()).to_string()
        }
    };
    let tmp = temp_path(output);
    let write = || -> Result<()> {
        let f = File::create(&tmp).map_err(io(&tmp))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for (i, &rep) in reps.iter().enumerate() {
            let line = format!("{{\"id\":{},\"cluster\":{}}}\n", enc(i), enc(rep as usize));
            w.write_all(line.as_bytes()).map_err(io(&tmp))?;
        }
        let f = w.into_inner().map_err(|e| Error::Io {
            path: tmp.clone(),
            err: e.into_error(),
        })?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, output).map_err(io(output))
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests;
