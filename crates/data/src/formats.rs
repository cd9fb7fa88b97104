//! Input formats of the dedup pipeline: JSONL files, Parquet files and folders, Arrow IPC streams
//! and Hugging Face `datasets` folders, streamed in record batches with a global record number.
//!
//! Every record gets a **doc number** `(file_index << 40) | low`: `file_index` is the file's
//! position in the resolved input list, `low` the record's 0-based row (Parquet, Arrow) or the
//! byte offset of its line (JSONL). Doc numbers increase in record order, so the smallest doc of
//! a set is its earliest record, and a doc says where to re-read the record's text ([`Texts`]).
//!
//! Resolution of the input paths, in the order given:
//! - a file ending in `.parquet` is Parquet, one ending in `.arrow` an Arrow IPC stream (or IPC
//!   file), anything else JSONL;
//! - a folder with `dataset_dict.json` is a Hugging Face `DatasetDict`: its splits in the listed
//!   order, each a `save_to_disk` folder;
//! - a folder with `state.json` is a Hugging Face `save_to_disk` folder: the Arrow IPC stream
//!   files of `_data_files`, in the listed order;
//! - any other folder (a hub snapshot) contributes its `*.parquet` files, sorted by path, hidden
//!   entries skipped.
//!
//! Text columns may be `utf8`, `large_utf8`, `utf8_view` or a binary type holding UTF-8; ID
//! columns a string or integer type. Without an ID column (`id_field` empty) a tabular record's ID
//! is its doc number in decimal, a JSONL record's its line number.

use crate::{
    Error, RecordError, Result,
    batch::TextSource,
    error::io,
    jsonl::{JsonlOptions, JsonlReader, JsonlSource},
};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray, RecordBatch,
    StringArray, StringViewArray, cast::AsArray, types,
};
use arrow_ipc::{MessageHeader, reader::StreamReader};
use arrow_schema::{DataType, Schema};
use parquet::{
    arrow::{
        ProjectionMask,
        arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder},
    },
    file::metadata::PageIndexPolicy,
};
use std::{
    collections::HashMap,
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::SystemTime,
};

/// Options of a read: text and ID fields (JSONL) or columns (Parquet, Arrow), the size limit.
pub type ReadOptions = JsonlOptions;

/// Bits of a doc number below the file index.
pub const DOC_SHIFT: u32 = 40;

/// Most input files one run takes.
pub const MAX_FILES: usize = 1 << (64 - DOC_SHIFT);

/// Rows per record batch read from Parquet.
const BATCH_ROWS: usize = 1024;

/// Largest Arrow IPC message metadata accepted (the flatbuffer header, not the body).
const MAX_IPC_META: usize = 64 << 20;

/// Files kept open by one [`Texts`] reader.
const MAX_OPEN: usize = 64;

/// The doc number of the record at `low` (row or line offset) of input file `file`.
pub fn doc(file: usize, low: u64) -> u64 {
    ((file as u64) << DOC_SHIFT) | low
}

/// The input file index of `doc`.
pub fn doc_file(doc: u64) -> usize {
    (doc >> DOC_SHIFT) as usize
}

/// The row (or JSONL line offset) of `doc` within its file.
pub fn doc_low(doc: u64) -> u64 {
    doc & ((1 << DOC_SHIFT) - 1)
}

/// Format of one input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// JSON lines.
    Jsonl,
    /// Parquet.
    Parquet,
    /// Arrow IPC stream (or IPC file, read as its embedded stream).
    Arrow,
}

impl FileKind {
    /// The kind of a file by its extension (JSONL unless `.parquet` or `.arrow`).
    pub fn of(path: &Path) -> FileKind {
        match path.extension().and_then(|e| e.to_str()) {
            Some("parquet") => FileKind::Parquet,
            Some("arrow") => FileKind::Arrow,
            _ => FileKind::Jsonl,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            FileKind::Jsonl => "jsonl",
            FileKind::Parquet => "parquet",
            FileKind::Arrow => "arrow",
        }
    }
}

/// One resolved input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name relative to the input path it was found under (what the inputs digest covers).
    pub name: String,
    /// Its format.
    pub kind: FileKind,
    /// Its length in bytes when resolved.
    pub len: u64,
    modified: Option<SystemTime>,
}

impl InputFile {
    fn new(path: PathBuf, name: String, kind: FileKind) -> Result<Self> {
        let m = std::fs::metadata(&path).map_err(io(&path))?;
        if !m.is_file() {
            return Err(bad_input(&path, "not a file"));
        }
        Ok(InputFile {
            path,
            name,
            kind,
            len: m.len(),
            modified: m.modified().ok(),
        })
    }

    /// Opens the file, checking it has not changed since it was resolved.
    fn open(&self) -> Result<File> {
        let f = File::open(&self.path).map_err(io(&self.path))?;
        let m = f.metadata().map_err(io(&self.path))?;
        if m.len() != self.len || m.modified().ok() != self.modified {
            return Err(bad_input(
                &self.path,
                "the file changed while it was being read",
            ));
        }
        Ok(f)
    }
}

fn bad_input(path: &Path, why: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// One record as read.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Its doc number.
    pub doc: u64,
    /// 1-based line (JSONL) or row (Parquet, Arrow) within its file.
    pub row: u64,
    /// Its ID as text.
    pub id: &'a str,
    /// Whether the ID is a number (echoed unquoted in JSON outputs).
    pub id_is_number: bool,
    /// Its text.
    pub text: &'a str,
}

impl RecordRef<'_> {
    /// The ID as JSON: a number's digits or a quoted string.
    pub fn id_json(&self) -> String {
        if self.id_is_number {
            self.id.to_string()
        } else {
            serde_json::Value::String(self.id.into()).to_string()
        }
    }
}

/// A shardable piece of the inputs: a Parquet row group or a whole JSONL or Arrow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Input file index.
    pub file: usize,
    /// Row group, for Parquet.
    pub row_group: Option<usize>,
}

/// The resolved input files of a run, with the options to read them.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The files, in record order.
    pub files: Vec<InputFile>,
    /// Fields, limits.
    pub opts: ReadOptions,
}

impl Inputs {
    /// Resolves `paths` (files and folders, see the module docs) into input files.
    pub fn resolve(paths: &[PathBuf], opts: ReadOptions) -> Result<Self> {
        let mut files = Vec::new();
        for p in paths {
            let m = std::fs::metadata(p).map_err(io(p))?;
            if m.is_dir() {
                resolve_dir(p, &mut files)?;
            } else {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push(InputFile::new(p.clone(), name, FileKind::of(p))?);
            }
        }
        Self::from_files(files, opts)
    }

    /// One JSONL file, whatever its name.
    pub fn jsonl(path: &Path, opts: ReadOptions) -> Result<Self> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = InputFile::new(path.to_path_buf(), name, FileKind::Jsonl)?;
        Self::from_files(vec![f], opts)
    }

    fn from_files(files: Vec<InputFile>, opts: ReadOptions) -> Result<Self> {
        if files.len() > MAX_FILES {
            return Err(Error::InvalidParam(format!(
                "{} input files; at most {MAX_FILES}",
                files.len()
            )));
        }
        for f in &files {
            if f.kind == FileKind::Jsonl && f.len >= 1 << DOC_SHIFT {
                return Err(bad_input(
                    &f.path,
                    "JSONL files of 1 TiB or more are not supported; split it",
                ));
            }
        }
        Ok(Inputs { files, opts })
    }

    /// A digest of the file list (kind, relative name and length of each file, in order), which
    /// stage files record so that later stages re-read the same inputs.
    pub fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        for f in &self.files {
            h.update(f.kind.tag().as_bytes());
            h.update(&[0]);
            h.update(f.name.as_bytes());
            h.update(&[0]);
            h.update(&f.len.to_le_bytes());
        }
        hex::encode(&h.finalize().as_bytes()[..16])
    }

    /// Bytes of all input files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// The shardable units, in record order: each Parquet row group, each other file whole.
    pub fn units(&self) -> Result<Vec<Unit>> {
        let mut out = Vec::new();
        for (i, f) in self.files.iter().enumerate() {
            if f.kind == FileKind::Parquet {
                let file = f.open()?;
                let meta = parquet_meta(f, &file, false)?;
                out.extend((0..meta.metadata().num_row_groups()).map(|g| Unit {
                    file: i,
                    row_group: Some(g),
                }));
            } else {
                out.push(Unit {
                    file: i,
                    row_group: None,
                });
            }
        }
        Ok(out)
    }

    /// Streams every record, in order, to `emit`; `progress` gets bytes read (increments).
    /// Returns the number of records.
    pub fn for_each(
        &self,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let mut n = 0u64;
        let mut count = |r: &RecordRef<'_>| {
            n += 1;
            emit(r)
        };
        for file in 0..self.files.len() {
            self.read_unit(
                Unit {
                    file,
                    row_group: None,
                },
                &mut count,
                progress,
            )?;
        }
        Ok(n)
    }

    /// Streams the records of one unit (a whole file when `row_group` is `None`).
    pub fn read_unit(
        &self,
        unit: Unit,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let f = self
            .files
            .get(unit.file)
            .ok_or_else(|| Error::InvalidParam(format!("no input file {}", unit.file)))?;
        match f.kind {
            FileKind::Jsonl => self.read_jsonl(unit.file, emit, progress),
            FileKind::Parquet => self.read_parquet(unit.file, unit.row_group, emit, progress),
            FileKind::Arrow => self.read_arrow(unit.file, emit, progress),
        }
    }

    /// A random-access reader of record texts by doc number.
    pub fn texts(&self) -> Texts<'_> {
        Texts {
            inputs: self,
            open: HashMap::new(),
            groups: GroupCache::default(),
        }
    }

    fn read_jsonl(
        &self,
        fi: usize,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let f = &self.files[fi];
        let mut r = JsonlReader::new(&f.path, f.open()?, self.opts.clone());
        let mut reported = 0;
        while let Some(rec) = r.next_record()? {
            emit(&RecordRef {
                doc: doc(fi, r.last_offset()),
                row: rec.line,
                id: &rec.id,
                id_is_number: !rec.id_json.starts_with('"'),
                text: &rec.text,
            })?;
            if r.bytes_read() - reported > (4 << 20) {
                progress(r.bytes_read() - reported);
                reported = r.bytes_read();
            }
        }
        progress(r.bytes_read() - reported);
        Ok(())
    }

    fn read_parquet(
        &self,
        fi: usize,
        row_group: Option<usize>,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let f = &self.files[fi];
        let file = f.open()?;
        let meta = parquet_meta(f, &file, false)?;
        let roots = columns(f, meta.schema(), &self.opts)?;
        let md = meta.metadata().clone();
        let groups: Vec<usize> = match row_group {
            Some(g) if g < md.num_row_groups() => vec![g],
            Some(g) => return Err(bad_input(&f.path, format!("no row group {g}"))),
            None => (0..md.num_row_groups()).collect(),
        };
        let cols = Columns::new(f, &self.opts);
        for g in groups {
            let mut row: u64 = (0..g).map(|i| md.row_group(i).num_rows() as u64).sum();
            let rg = md.row_group(g);
            let (rg_rows, rg_bytes) = (rg.num_rows().max(1) as u64, rg.compressed_size() as u64);
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                file.try_clone().map_err(io(&f.path))?,
                meta.clone(),
            )
            .with_row_groups(vec![g])
            .with_projection(ProjectionMask::roots(meta.parquet_schema(), roots.clone()))
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad_input(&f.path, format!("row group {g}: {e}")))?;
            for batch in reader {
                let batch = batch.map_err(|e| bad_input(&f.path, format!("row group {g}: {e}")))?;
                cols.emit(fi, &batch, row, emit)?;
                row += batch.num_rows() as u64;
                progress(rg_bytes * batch.num_rows() as u64 / rg_rows);
            }
        }
        Ok(())
    }

    fn read_arrow(
        &self,
        fi: usize,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let f = &self.files[fi];
        let mut r = Counting {
            r: BufReader::with_capacity(1 << 20, f.open()?),
            n: 0,
        };
        let start = ipc_start(f, &mut r.r)?;
        let bad = |e: arrow_schema::ArrowError| {
            bad_input(&f.path, format!("not a readable Arrow IPC stream: {e}"))
        };
        let mut reader = StreamReader::try_new(&mut r, None).map_err(bad)?;
        columns(f, &reader.schema(), &self.opts)?;
        let cols = Columns::new(f, &self.opts);
        let mut row = 0u64;
        let mut reported = start;
        while let Some(batch) = reader.next() {
            let batch = batch.map_err(bad)?;
            cols.emit(fi, &batch, row, emit)?;
            row += batch.num_rows() as u64;
            let n = reader.get_ref().n;
            progress(n - reported);
            reported = n;
        }
        Ok(())
    }
}

/// A reader that counts the bytes read through it.
struct Counting<R> {
    r: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.r.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// Positions `r` at the start of the stream: after the magic and zero padding of an IPC file
/// (padded to 8 or to the writer's alignment), else at 0; returns that offset.
fn ipc_start(f: &InputFile, r: &mut BufReader<File>) -> Result<u64> {
    let mut head = [0u8; 256];
    let n = read_full(r, &mut head).map_err(io(&f.path))?;
    let pos = if n >= 6 && &head[..6] == b"ARROW1" {
        // A message starts with a non-zero byte (a continuation marker or a length).
        let pad = head[6..n].iter().position(|&b| b != 0).unwrap_or(n - 6);
        (6 + pad) as u64
    } else {
        0
    };
    r.seek(SeekFrom::Start(pos)).map_err(io(&f.path))?;
    Ok(pos)
}

/// Adds the files of folder `dir` (see the module docs).
fn resolve_dir(dir: &Path, out: &mut Vec<InputFile>) -> Result<()> {
    let dict = dir.join("dataset_dict.json");
    if dict.is_file() {
        let v = read_json(&dict)?;
        let splits = v["splits"]
            .as_array()
            .ok_or_else(|| bad_input(&dict, "no \"splits\" list"))?;
        for s in splits {
            let s = s
                .as_str()
                .filter(|s| plain_name(s))
                .ok_or_else(|| bad_input(&dict, format!("bad split name {s}")))?;
            resolve_hf(&dir.join(s), &format!("{s}/"), out)?;
        }
        return Ok(());
    }
    if dir.join("state.json").is_file() {
        return resolve_hf(dir, "", out);
    }
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let e = e.map_err(io(&d))?;
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if FileKind::of(&p) == FileKind::Parquet {
                found.push(p);
            }
        }
    }
    if found.is_empty() {
        return Err(bad_input(
            dir,
            "no *.parquet files, and no state.json or dataset_dict.json of a Hugging Face datasets folder",
        ));
    }
    found.sort();
    for p in found {
        let name = p
            .strip_prefix(dir)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        out.push(InputFile::new(p, name, FileKind::Parquet)?);
    }
    Ok(())
}

/// Adds the Arrow files of a `save_to_disk` folder, as listed in its `state.json`.
fn resolve_hf(dir: &Path, prefix: &str, out: &mut Vec<InputFile>) -> Result<()> {
    let state = dir.join("state.json");
    let v = read_json(&state)?;
    let list = v["_data_files"]
        .as_array()
        .ok_or_else(|| bad_input(&state, "no \"_data_files\" list"))?;
    if list.is_empty() {
        return Err(bad_input(&state, "\"_data_files\" lists no files"));
    }
    for e in list {
        let name = e["filename"]
            .as_str()
            .filter(|s| plain_name(s))
            .ok_or_else(|| bad_input(&state, format!("bad data file entry {e}")))?;
        out.push(InputFile::new(
            dir.join(name),
            format!("{prefix}{name}"),
            FileKind::Arrow,
        )?);
    }
    Ok(())
}

/// A file name without folders (names from a dataset's JSON must not point elsewhere).
fn plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\'])
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_input(path, format!("invalid JSON: {e}")))
}

fn parquet_meta(f: &InputFile, file: &File, page_index: bool) -> Result<ArrowReaderMetadata> {
    let policy = if page_index {
        PageIndexPolicy::Optional
    } else {
        PageIndexPolicy::Skip
    };
    ArrowReaderMetadata::load(
        file,
        ArrowReaderOptions::new().with_page_index_policy(policy),
    )
    .map_err(|e| bad_input(&f.path, format!("not a readable Parquet file: {e}")))
}

/// Indices of the text (and ID) columns in `schema`, or an error naming the missing one.
fn columns(f: &InputFile, schema: &Schema, opts: &ReadOptions) -> Result<Vec<usize>> {
    let find = |name: &str| {
        schema.index_of(name).map_err(|_| {
            let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            bad_input(
                &f.path,
                format!("no column {name:?} (columns: {})", have.join(", ")),
            )
        })
    };
    let mut out = vec![find(&opts.text_field)?];
    if !opts.id_field.is_empty() {
        out.push(find(&opts.id_field)?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A text column of one of the accepted types.
enum TextCol<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
}

impl<'a> TextCol<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        let any = a.as_any();
        Some(match a.data_type() {
            DataType::Utf8 => TextCol::Utf8(any.downcast_ref()?),
            DataType::LargeUtf8 => TextCol::LargeUtf8(any.downcast_ref()?),
            DataType::Utf8View => TextCol::Utf8View(any.downcast_ref()?),
            DataType::Binary => TextCol::Binary(any.downcast_ref()?),
            DataType::LargeBinary => TextCol::LargeBinary(any.downcast_ref()?),
            DataType::BinaryView => TextCol::BinaryView(any.downcast_ref()?),
            _ => return None,
        })
    }

    /// The value at `i`: `None` when null, `Err(valid_up_to)` when binary and not UTF-8.
    fn get(&self, i: usize) -> Option<std::result::Result<&'a str, usize>> {
        let utf8 = |b: &'a [u8]| std::str::from_utf8(b).map_err(|e| e.valid_up_to());
        Some(match self {
            TextCol::Utf8(a) => a.is_valid(i).then(|| Ok(a.value(i)))?,
            TextCol::LargeUtf8(a) => a.is_valid(i).then(|| Ok(a.value(i)))?,
            TextCol::Utf8View(a) => a.is_valid(i).then(|| Ok(a.value(i)))?,
            TextCol::Binary(a) => a.is_valid(i).then(|| utf8(a.value(i)))?,
            TextCol::LargeBinary(a) => a.is_valid(i).then(|| utf8(a.value(i)))?,
            TextCol::BinaryView(a) => a.is_valid(i).then(|| utf8(a.value(i)))?,
        })
    }
}

/// An ID column: text, or integers.
enum IdCol<'a> {
    Text(TextCol<'a>),
    Int(&'a dyn Array),
}

impl<'a> IdCol<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        if a.data_type().is_integer() {
            return Some(IdCol::Int(a));
        }
        TextCol::of(a).map(IdCol::Text)
    }

    /// Writes the ID at `i` to `buf`; returns whether it is a number.
    fn get(
        &self,
        i: usize,
        buf: &mut String,
        field: &str,
    ) -> std::result::Result<bool, RecordError> {
        use std::fmt::Write as _;
        buf.clear();
        match self {
            IdCol::Text(t) => match t.get(i) {
                None => Err(RecordError::MissingField(field.into())),
                Some(Err(at)) => Err(RecordError::InvalidUtf8(at)),
                Some(Ok(s)) => {
                    buf.push_str(s);
                    Ok(false)
                }
            },
            IdCol::Int(a) => {
                if a.is_null(i) {
                    return Err(RecordError::MissingField(field.into()));
                }
                macro_rules! int {
                    ($t:ty) => {
                        write!(buf, "{}", a.as_primitive::<$t>().value(i))
                    };
                }
                let _ = match a.data_type() {
                    DataType::Int8 => int!(types::Int8Type),
                    DataType::Int16 => int!(types::Int16Type),
                    DataType::Int32 => int!(types::Int32Type),
                    DataType::Int64 => int!(types::Int64Type),
                    DataType::UInt8 => int!(types::UInt8Type),
                    DataType::UInt16 => int!(types::UInt16Type),
                    DataType::UInt32 => int!(types::UInt32Type),
                    DataType::UInt64 => int!(types::UInt64Type),
                    _ => return Err(RecordError::MissingField(field.into())),
                };
                Ok(true)
            }
        }
    }
}

/// How a batch's records are checked and emitted.
struct Columns<'a> {
    file: &'a InputFile,
    opts: &'a ReadOptions,
}

impl<'a> Columns<'a> {
    fn new(file: &'a InputFile, opts: &'a ReadOptions) -> Self {
        Columns { file, opts }
    }

    fn text_col<'b>(&self, batch: &'b RecordBatch) -> Result<TextCol<'b>> {
        let name = &self.opts.text_field;
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| bad_input(&self.file.path, format!("no column {name:?}")))?;
        TextCol::of(c.as_ref()).ok_or_else(|| {
            bad_input(
                &self.file.path,
                format!(
                    "column {name:?} is {}, not a string or binary column",
                    c.data_type()
                ),
            )
        })
    }

    /// Emits the records of `batch`, whose first row is `first` (0-based) in its file.
    fn emit(
        &self,
        fi: usize,
        batch: &RecordBatch,
        first: u64,
        emit: &mut dyn FnMut(&RecordRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let path = &self.file.path;
        let texts = self.text_col(batch)?;
        let ids = if self.opts.id_field.is_empty() {
            None
        } else {
            let name = &self.opts.id_field;
            let c = batch
                .column_by_name(name)
                .ok_or_else(|| bad_input(path, format!("no column {name:?}")))?;
            Some(IdCol::of(c.as_ref()).ok_or_else(|| {
                bad_input(
                    path,
                    format!(
                        "column {name:?} is {}, not a string or integer column",
                        c.data_type()
                    ),
                )
            })?)
        };
        let mut id = String::new();
        for i in 0..batch.num_rows() {
            let low = first + i as u64;
            if low >= 1 << DOC_SHIFT {
                return Err(bad_input(path, "more than 2^40 rows in one file"));
            }
            let bad = |kind| Error::BadRecord {
                path: path.clone(),
                line: low + 1,
                kind,
            };
            let text = checked_text(texts.get(i), self.opts).map_err(bad)?;
            let d = doc(fi, low);
            let id_is_number = match &ids {
                Some(c) => c.get(i, &mut id, &self.opts.id_field).map_err(bad)?,
                None => {
                    id.clear();
                    id.push_str(&d.to_string());
                    true
                }
            };
            emit(&RecordRef {
                doc: d,
                row: low + 1,
                id: &id,
                id_is_number,
                text,
            })?;
        }
        Ok(())
    }
}

/// The checks every tabular text passes: present, UTF-8, not empty, within the size limit.
fn checked_text<'a>(
    v: Option<std::result::Result<&'a str, usize>>,
    opts: &ReadOptions,
) -> std::result::Result<&'a str, RecordError> {
    match v {
        None => Err(RecordError::MissingField(opts.text_field.clone())),
        Some(Err(at)) => Err(RecordError::InvalidUtf8(at)),
        Some(Ok("")) => Err(RecordError::Empty),
        Some(Ok(t)) if t.len() > opts.max_record => Err(RecordError::TooLarge {
            limit: opts.max_record,
        }),
        Some(Ok(t)) => Ok(t),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpcKind {
    Schema,
    Dictionary,
    Batch,
    Other,
}

/// The header of one IPC message.
#[derive(Debug, Clone, Copy)]
struct IpcHead {
    /// Byte offset of the message (its length prefix).
    offset: u64,
    /// Bytes of the whole message: prefix, metadata and body.
    len: u64,
    kind: IpcKind,
    /// Rows, for a record batch.
    rows: u64,
}

/// Walks the messages of an Arrow IPC stream (or of the stream inside an IPC file).
struct IpcMessages<'a> {
    file: &'a InputFile,
    r: BufReader<File>,
    pos: u64,
}

impl<'a> IpcMessages<'a> {
    fn open(file: &'a InputFile) -> Result<Self> {
        let mut r = BufReader::with_capacity(1 << 20, file.open()?);
        let pos = ipc_start(file, &mut r)?;
        Ok(IpcMessages { file, r, pos })
    }

    fn bad(&self, why: impl std::fmt::Display) -> Error {
        bad_input(
            &self.file.path,
            format!(
                "not a readable Arrow IPC stream at byte {}: {why}",
                self.pos
            ),
        )
    }

    /// The next message (`None` at the end of the stream), with its bytes when `body` is set
    /// (else the body is skipped and the bytes are empty).
    fn next(&mut self, body: bool) -> Result<Option<(IpcHead, Vec<u8>)>> {
        let path = &self.file.path;
        let offset = self.pos;
        let mut b4 = [0u8; 4];
        let n = read_full(&mut self.r, &mut b4).map_err(io(path))?;
        if n == 0 {
            return Ok(None);
        }
        if n < 4 {
            return Err(self.bad("truncated message length"));
        }
        let mut prefix = b4.to_vec();
        if b4 == [0xff; 4] {
            if read_full(&mut self.r, &mut b4).map_err(io(path))? < 4 {
                return Err(self.bad("truncated message length"));
            }
            prefix.extend_from_slice(&b4);
        }
        let meta_len = i32::from_le_bytes(b4);
        if meta_len == 0 {
            return Ok(None);
        }
        if meta_len < 0 || meta_len as usize > MAX_IPC_META {
            return Err(self.bad(format!("bad metadata length {meta_len}")));
        }
        let mut bytes = prefix;
        let meta_at = bytes.len();
        bytes.resize(meta_at + meta_len as usize, 0);
        if read_full(&mut self.r, &mut bytes[meta_at..]).map_err(io(path))? < meta_len as usize {
            return Err(self.bad("truncated message"));
        }
        let (kind, rows, body_len) = {
            let msg = arrow_ipc::root_as_message(&bytes[meta_at..])
                .map_err(|e| self.bad(format!("bad message: {e}")))?;
            let kind = match msg.header_type() {
                MessageHeader::Schema => IpcKind::Schema,
                MessageHeader::DictionaryBatch => IpcKind::Dictionary,
                MessageHeader::RecordBatch => IpcKind::Batch,
                _ => IpcKind::Other,
            };
            let rows = msg
                .header_as_record_batch()
                .map(|b| b.length().max(0) as u64)
                .unwrap_or(0);
            (kind, rows, msg.bodyLength())
        };
        let head_len = bytes.len() as u64;
        if body_len < 0 || (body_len as u64) > self.file.len.saturating_sub(offset + head_len) {
            return Err(self.bad(format!("bad body length {body_len}")));
        }
        let len = head_len + body_len as u64;
        if body {
            let at = bytes.len();
            bytes.resize(at + body_len as usize, 0);
            if read_full(&mut self.r, &mut bytes[at..]).map_err(io(path))? < body_len as usize {
                return Err(self.bad("truncated message body"));
            }
        } else {
            self.r.seek_relative(body_len).map_err(io(path))?;
            bytes.clear();
        }
        self.pos = offset + len;
        Ok(Some((
            IpcHead {
                offset,
                len,
                kind,
                rows,
            },
            bytes,
        )))
    }
}

/// Reads until `buf` is full or the end of the input; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Random access into one Parquet file: a row group and an offset per read (with the page index
/// when the file has one, so only the pages holding the row are decoded).
struct ParquetAt {
    file: File,
    meta: ArrowReaderMetadata,
    starts: Vec<u64>,
    text_root: usize,
}

/// Decoded text columns of recently read Parquet row groups, least recently used first, under a
/// byte budget: reading one row of a row group decodes its pages from the start (and the whole
/// dictionary), so verification, which reads the same groups again and again, keeps them.
#[derive(Default)]
struct GroupCache {
    groups: std::collections::VecDeque<CachedGroup>,
    bytes: usize,
}

struct CachedGroup {
    file: usize,
    group: usize,
    /// The group's text column in batches, with the group row each batch starts at.
    batches: Vec<(u64, RecordBatch)>,
    bytes: usize,
}

/// Byte budget of [`GroupCache`].
const GROUP_CACHE_BYTES: usize = 128 << 20;

impl GroupCache {
    fn get(&mut self, file: usize, group: usize) -> Option<&CachedGroup> {
        let i = self
            .groups
            .iter()
            .position(|c| c.file == file && c.group == group)?;
        let c = self.groups.remove(i).expect("present");
        self.groups.push_back(c);
        self.groups.back()
    }

    fn insert(&mut self, c: CachedGroup) -> &CachedGroup {
        while self.bytes + c.bytes > GROUP_CACHE_BYTES {
            let Some(old) = self.groups.pop_front() else {
                break;
            };
            self.bytes -= old.bytes;
        }
        self.bytes += c.bytes;
        self.groups.push_back(c);
        self.groups.back().expect("just pushed")
    }
}

/// Random access into one Arrow stream: an index of its messages, one decoded batch cached.
struct ArrowAt {
    file: File,
    schema: Vec<u8>,
    dictionaries: Vec<IpcHead>,
    /// Record batches with the number of dictionary messages before each.
    batches: Vec<(IpcHead, u64, usize)>,
    cached: Option<(usize, RecordBatch)>,
}

enum Opened {
    Jsonl(Box<JsonlSource>),
    Parquet(ParquetAt),
    Arrow(ArrowAt),
}

/// Re-reads record texts by doc number (for exact verification).
pub struct Texts<'a> {
    inputs: &'a Inputs,
    open: HashMap<usize, Opened>,
    groups: GroupCache,
}

impl Texts<'_> {
    /// Writes the text of record `doc` to `out`.
    pub fn read(&mut self, doc: u64, out: &mut String) -> Result<()> {
        let fi = doc_file(doc);
        let low = doc_low(doc);
        let inputs = self.inputs;
        let f = inputs
            .files
            .get(fi)
            .ok_or_else(|| Error::InvalidParam(format!("doc {doc}: no input file {fi}")))?;
        if !self.open.contains_key(&fi) {
            if self.open.len() >= MAX_OPEN {
                self.open.clear();
            }
            let o = match f.kind {
                FileKind::Jsonl => Opened::Jsonl(Box::new(JsonlSource::open(
                    &f.path,
                    inputs.opts.clone(),
                    f.len,
                    f.modified,
                )?)),
                FileKind::Parquet => {
                    let file = f.open()?;
                    let meta = parquet_meta(f, &file, true)?;
                    let text_root =
                        meta.schema()
                            .index_of(&inputs.opts.text_field)
                            .map_err(|_| {
                                bad_input(
                                    &f.path,
                                    format!("no column {:?}", inputs.opts.text_field),
                                )
                            })?;
                    let mut starts = Vec::new();
                    let mut at = 0u64;
                    for rg in meta.metadata().row_groups() {
                        starts.push(at);
                        at += rg.num_rows() as u64;
                    }
                    Opened::Parquet(ParquetAt {
                        file,
                        meta,
                        starts,
                        text_root,
                    })
                }
                FileKind::Arrow => Opened::Arrow(index_arrow(f)?),
            };
            self.open.insert(fi, o);
        }
        let opts = &inputs.opts;
        let bad_row = |kind| Error::BadRecord {
            path: f.path.clone(),
            line: low + 1,
            kind,
        };
        let missing = || bad_input(&f.path, format!("no row {} (doc {doc})", low + 1));
        match self.open.get_mut(&fi).expect("opened") {
            Opened::Jsonl(s) => s.read_text(low, out),
            Opened::Parquet(p) => {
                let g = p.starts.partition_point(|&s| s <= low);
                if g == 0 {
                    return Err(missing());
                }
                let g = g - 1;
                let rg_rows = p.meta.metadata().row_group(g).num_rows() as u64;
                if low - p.starts[g] >= rg_rows {
                    return Err(missing());
                }
                let cached = match self.groups.get(fi, g) {
                    Some(c) => c,
                    None => {
                        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                            p.file.try_clone().map_err(io(&f.path))?,
                            p.meta.clone(),
                        )
                        .with_row_groups(vec![g])
                        .with_projection(ProjectionMask::roots(
                            p.meta.parquet_schema(),
                            [p.text_root],
                        ))
                        .with_batch_size(8192)
                        .build()
                        .map_err(|e| bad_input(&f.path, format!("row group {g}: {e}")))?;
                        let (mut batches, mut at, mut bytes) = (Vec::new(), 0u64, 0usize);
                        for b in reader {
                            let b =
                                b.map_err(|e| bad_input(&f.path, format!("row group {g}: {e}")))?;
                            bytes += b.get_array_memory_size();
                            let rows = b.num_rows() as u64;
                            batches.push((at, b));
                            at += rows;
                        }
                        self.groups.insert(CachedGroup {
                            file: fi,
                            group: g,
                            batches,
                            bytes,
                        })
                    }
                };
                let row = low - p.starts[g];
                let k = cached.batches.partition_point(|(first, _)| *first <= row);
                let (first, batch) = &cached.batches[k.checked_sub(1).ok_or_else(missing)?];
                if row - first >= batch.num_rows() as u64 {
                    return Err(missing());
                }
                let col = Columns::new(f, opts).text_col(batch)?;
                let t = checked_text(col.get((row - first) as usize), opts).map_err(bad_row)?;
                out.clear();
                out.push_str(t);
                Ok(())
            }
            Opened::Arrow(a) => {
                let k = a.batches.partition_point(|(_, first, _)| *first <= low);
                if k == 0 {
                    return Err(missing());
                }
                let k = k - 1;
                let (head, first, dicts) = a.batches[k];
                if low - first >= head.rows {
                    return Err(missing());
                }
                if a.cached.as_ref().is_none_or(|(c, _)| *c != k) {
                    a.cached = None;
                    // A stream of its own: the schema, the dictionaries so far, the batch.
                    let mut bytes = a.schema.clone();
                    for h in a.dictionaries[..dicts].iter().chain([&head]) {
                        bytes.extend(read_at(f, &mut a.file, h)?);
                    }
                    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
                    let bad = |e: arrow_schema::ArrowError| {
                        bad_input(
                            &f.path,
                            format!("Arrow IPC batch at byte {}: {e}", head.offset),
                        )
                    };
                    let mut r =
                        StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(bad)?;
                    let batch = r.next().ok_or_else(missing)?.map_err(bad)?;
                    a.cached = Some((k, batch));
                }
                let (_, batch) = a.cached.as_ref().ok_or_else(missing)?;
                let col = Columns::new(f, opts).text_col(batch)?;
                let t = checked_text(col.get((low - first) as usize), opts).map_err(bad_row)?;
                out.clear();
                out.push_str(t);
                Ok(())
            }
        }
    }
}

fn read_at(f: &InputFile, file: &mut File, h: &IpcHead) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; h.len as usize];
    file.seek(SeekFrom::Start(h.offset)).map_err(io(&f.path))?;
    file.read_exact(&mut bytes).map_err(io(&f.path))?;
    Ok(bytes)
}

/// Indexes the messages of an Arrow stream (headers only; bodies are skipped).
fn index_arrow(f: &InputFile) -> Result<ArrowAt> {
    let mut m = IpcMessages::open(f)?;
    let mut schema = None;
    let mut dictionaries = Vec::new();
    let mut batches = Vec::new();
    let mut row = 0u64;
    while let Some((head, _)) = m.next(false)? {
        match head.kind {
            IpcKind::Schema if schema.is_none() => schema = Some(head),
            IpcKind::Dictionary => dictionaries.push(head),
            IpcKind::Batch => {
                batches.push((head, row, dictionaries.len()));
                row += head.rows;
            }
            _ => {}
        }
    }
    let schema = schema.ok_or_else(|| bad_input(&f.path, "no schema in the Arrow stream"))?;
    let mut file = f.open()?;
    let schema = read_at(f, &mut file, &schema)?;
    Ok(ArrowAt {
        file,
        schema,
        dictionaries,
        batches,
        cached: None,
    })
}

/// Writes `(id, text)` rows as a Parquet file with `id` and `text` string columns and
/// `rows_per_group` rows per row group (for tests, examples and conversions).
pub fn write_text_parquet(
    path: &Path,
    rows: &[(String, String)],
    rows_per_group: usize,
) -> Result<()> {
    use arrow_schema::Field;
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group.max(1)))
        .build();
    let f = File::create(path).map_err(io(path))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), Some(props))
        .map_err(|e| bad_input(path, e.to_string()))?;
    for chunk in rows.chunks(rows_per_group.max(1)) {
        let ids = StringArray::from_iter_values(chunk.iter().map(|(i, _)| i.as_str()));
        let texts = StringArray::from_iter_values(chunk.iter().map(|(_, t)| t.as_str()));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(texts)])
            .map_err(|e| bad_input(path, e.to_string()))?;
        w.write(&batch)
            .map_err(|e| bad_input(path, e.to_string()))?;
    }
    w.close().map_err(|e| bad_input(path, e.to_string()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
