//! JSONL input: streaming record reader with per-line errors, and the `dedup` driver that writes
//! one `{"id", "cluster"}` line per input record.

use crate::{
    Error, RecordError, Result, batch::TextSource, dedup::Tier, error::io, profile::Profile,
};
use std::{
    collections::HashMap,
    fs::File,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

/// Default largest record accepted (bytes of one JSONL line).
pub const DEFAULT_MAX_RECORD: usize = 64 << 20;

/// Options of a read (JSONL, and the tabular formats of [`crate::formats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlOptions {
    /// Field (column) holding the text.
    pub text_field: String,
    /// Field (column) holding the record's ID (a string or an integer); empty: the line number is
    /// the ID (for tabular inputs, the doc number).
    pub id_field: String,
    /// Largest line (tabular: text) accepted, in bytes.
    pub max_record: usize,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            text_field: "text".into(),
            id_field: "id".into(),
            max_record: DEFAULT_MAX_RECORD,
        }
    }
}

/// One record of a JSONL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlRecord {
    /// 1-based line number.
    pub line: u64,
    /// The record's ID as text (a string ID, or an integer's digits).
    pub id: String,
    /// The ID's JSON encoding as found (a string or a number), echoed in outputs.
    pub id_json: String,
    /// The text.
    pub text: String,
}

/// A streaming JSONL reader that checks every line (UTF-8, JSON, fields, size, unique IDs).
pub struct JsonlReader<R> {
    path: PathBuf,
    reader: BufReader<R>,
    opts: JsonlOptions,
    line: u64,
    buf: Vec<u8>,
    bytes: u64,
    line_start: u64,
    seen_ids: HashMap<Box<str>, u64>,
}

impl JsonlReader<File> {
    /// Opens `path`.
    pub fn open(path: &Path, opts: JsonlOptions) -> Result<Self> {
        let f = File::open(path).map_err(io(path))?;
        Ok(Self::new(path, f, opts))
    }
}

impl<R: Read> JsonlReader<R> {
    /// Reads from `r`, naming `path` in errors.
    pub fn new(path: &Path, r: R, opts: JsonlOptions) -> Self {
        JsonlReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, r),
            opts,
            line: 0,
            buf: Vec::new(),
            bytes: 0,
            line_start: 0,
            seen_ids: HashMap::new(),
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Byte offset of the line of the record returned last (where [`JsonlSource`] re-reads it).
    pub fn last_offset(&self) -> u64 {
        self.line_start
    }

    fn bad(&self, kind: RecordError) -> Error {
        Error::BadRecord {
            path: self.path.clone(),
            line: self.line,
            kind,
        }
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<JsonlRecord>> {
        loop {
            self.buf.clear();
            self.line += 1;
            self.line_start = self.bytes;
            let limit = self.opts.max_record as u64 + 2;
            let n = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf)
                .map_err(io(&self.path))?;
            if n == 0 {
                return Ok(None);
            }
            self.bytes += n as u64;
            if self.buf.last() != Some(&b'\n') && n as u64 == limit {
                return Err(self.bad(RecordError::TooLarge {
                    limit: self.opts.max_record,
                }));
            }
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if self.buf.len() > self.opts.max_record {
                return Err(self.bad(RecordError::TooLarge {
                    limit: self.opts.max_record,
                }));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (mut id, mut id_json, text) =
                parse_record(&self.buf, &self.opts).map_err(|k| self.bad(k))?;
            if self.opts.id_field.is_empty() {
                id = self.line.to_string();
                id_json = id.clone();
            }
            self.check_unique(&id)?;
            return Ok(Some(JsonlRecord {
                line: self.line,
                id,
                id_json,
                text,
            }));
        }
    }

    fn check_unique(&mut self, id: &str) -> Result<()> {
        if let Some(&first_line) = self.seen_ids.get(id) {
            return Err(self.bad(RecordError::DuplicateId {
                id: id.into(),
                first_line,
            }));
        }
        self.seen_ids.insert(id.into(), self.line);
        Ok(())
    }
}

/// Parses one JSONL line (without its line break) into `(id, id_json, text)`.
fn parse_record(
    buf: &[u8],
    opts: &JsonlOptions,
) -> std::result::Result<(String, String, String), RecordError> {
    if let Err(e) = std::str::from_utf8(buf) {
        return Err(RecordError::InvalidUtf8(e.valid_up_to()));
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(buf).map_err(|e| RecordError::InvalidJson(e.to_string()))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(RecordError::InvalidJson("not an object".into()));
    };
    let (id, id_json) = match obj.remove(&opts.id_field) {
        _ if opts.id_field.is_empty() => (String::new(), String::new()),
        Some(serde_json::Value::String(s)) => {
            let j = json_str(&s);
            (s, j)
        }
        Some(serde_json::Value::Number(n)) => (n.to_string(), n.to_string()),
        _ => return Err(RecordError::MissingField(opts.id_field.clone())),
    };
    let text = match obj.remove(&opts.text_field) {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(RecordError::MissingField(opts.text_field.clone())),
    };
    if text.is_empty() {
        return Err(RecordError::Empty);
    }
    Ok((id, id_json, text))
}

/// Re-reads record texts of a JSONL file by the byte offset of their line
/// ([`JsonlReader::last_offset`]), for the verification pass of [`BatchDeduper`]. The file must
/// not change between the passes: its length and modification time are checked on open and on
/// every read that fails to parse.
pub struct JsonlSource {
    path: PathBuf,
    reader: BufReader<File>,
    opts: JsonlOptions,
    pos: u64,
    buf: Vec<u8>,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl JsonlSource {
    /// Opens `path`, expecting it to be `len` bytes long and last modified at `modified` (as in
    /// the first pass).
    pub fn open(
        path: &Path,
        opts: JsonlOptions,
        len: u64,
        modified: Option<std::time::SystemTime>,
    ) -> Result<Self> {
        let f = File::open(path).map_err(io(path))?;
        let s = JsonlSource {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(64 << 10, f),
            opts,
            pos: 0,
            buf: Vec::new(),
            len,
            modified,
        };
        s.check_unchanged()?;
        Ok(s)
    }

    fn check_unchanged(&self) -> Result<()> {
        let m = std::fs::metadata(&self.path).map_err(io(&self.path))?;
        if m.len() != self.len || m.modified().ok() != self.modified {
            return Err(Error::BadInput {
                path: self.path.clone(),
                why: "the file changed while it was being deduplicated".into(),
            });
        }
        Ok(())
    }
}

impl TextSource for JsonlSource {
    fn read_text(&mut self, offset: u64, out: &mut String) -> Result<()> {
        // Relative seeks keep the buffer when the target is inside it (ascending re-reads).
        self.reader
            .seek_relative(offset as i64 - self.pos as i64)
            .map_err(io(&self.path))?;
        self.buf.clear();
        let limit = self.opts.max_record as u64 + 2;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(io(&self.path))?;
        self.pos = offset + n as u64;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        match parse_record(&self.buf, &self.opts) {
            Ok((_, _, text)) => {
                out.clear();
                out.push_str(&text);
                Ok(())
            }
            Err(kind) => {
                self.check_unchanged()?;
                Err(Error::BadInput {
                    path: self.path.clone(),
                    why: format!("record at byte {offset} does not re-read: {kind}"),
                })
            }
        }
    }
}

/// Summary of a dedup run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DedupSummary {
    /// Records read.
    pub records: u64,
    /// Records with the same normalised text as an earlier one.
    pub exact_dups: u64,
    /// Records joined to an earlier cluster by near-dup verification.
    pub near_dups: u64,
    /// Clusters (records that are their own representative).
    pub clusters: u64,
    /// Input bytes.
    pub bytes: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Input megabytes (10^6) per second.
    pub mb_per_s: f64,
    /// Tier used.
    pub tier: Tier,
    /// Threshold used.
    pub threshold: f64,
    /// Bands × rows used.
    pub banding: String,
    /// Distinct candidate pairs left for exact verification (after the 8-bit prefilter).
    pub candidates: u64,
    /// Candidate pairs whose exact Jaccard reached the threshold.
    pub verified: u64,
    /// Band index bytes per record (8 B per band entry plus a ~4 B offset per indexed record).
    pub index_bytes_per_record: f64,
    /// 8-bit prefilter signature bytes per record.
    pub signature_bytes_per_record: f64,
}

/// Deduplicates the JSONL file `input` (whatever its name) and writes `{"id","cluster"}` lines to
/// `output`, or the Parquet clusters file when `output` ends in `.parquet` (atomically: nothing
/// is left at `output` on error). `progress` is called with the bytes read so far. Other input
/// formats: [`crate::stages::dedup_inputs`].
///
/// Uses the batch path ([`BatchDeduper`]): a first pass over the file indexes every record by the
/// byte offset of its line, a second re-reads the records of candidate pairs (so `input` must not
/// change meanwhile) and verifies them on the exact shingle Jaccard.
pub fn dedup_jsonl(
    input: &Path,
    output: &Path,
    opts: &JsonlOptions,
    profile: &Profile,
    tier: Tier,
    threshold: f64,
    progress: &mut dyn FnMut(u64),
) -> Result<DedupSummary> {
    let inputs = crate::formats::Inputs::jsonl(input, opts.clone())?;
    crate::stages::dedup_inputs(&inputs, output, profile, tier, threshold, progress)
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.into()).to_string()
}

/// A temporary sibling of `path` for atomic writes.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests;
