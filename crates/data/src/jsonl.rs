//! JSONL input: streaming record reader with per-line errors, and the `dedup` driver that writes
//! one `{"id", "cluster"}` line per input record.

use crate::{
    Error, RecordError, Result,
    dedup::{Deduper, Stats, Tier},
    error::io,
    profile::Profile,
};
use std::{
    collections::HashMap,
    fs::File,
    io::{BufRead, BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    time::Instant,
};

/// Default largest record accepted (bytes of one JSONL line).
pub const DEFAULT_MAX_RECORD: usize = 64 << 20;

/// Options of a JSONL read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlOptions {
    /// Field holding the text.
    pub text_field: String,
    /// Field holding the record's ID (a string or an integer).
    pub id_field: String,
    /// Largest line accepted, in bytes.
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
            seen_ids: HashMap::new(),
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
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
            if let Err(e) = std::str::from_utf8(&self.buf) {
                return Err(self.bad(RecordError::InvalidUtf8(e.valid_up_to())));
            }
            let mut v: serde_json::Value = serde_json::from_slice(&self.buf)
                .map_err(|e| self.bad(RecordError::InvalidJson(e.to_string())))?;
            let Some(obj) = v.as_object_mut() else {
                return Err(self.bad(RecordError::InvalidJson("not an object".into())));
            };
            let (id, id_json) = match obj.remove(&self.opts.id_field) {
                Some(serde_json::Value::String(s)) => {
                    let j = json_str(&s);
                    (s, j)
                }
                Some(serde_json::Value::Number(n)) => (n.to_string(), n.to_string()),
                _ => return Err(self.bad(RecordError::MissingField(self.opts.id_field.clone()))),
            };
            let text = match obj.remove(&self.opts.text_field) {
                Some(serde_json::Value::String(s)) => s,
                _ => {
                    return Err(self.bad(RecordError::MissingField(self.opts.text_field.clone())));
                }
            };
            if text.is_empty() {
                return Err(self.bad(RecordError::Empty));
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
    /// Candidate pairs checked and verified.
    pub candidates: u64,
    /// Candidate pairs that verified.
    pub verified: u64,
    /// Band index bytes per record.
    pub index_bytes_per_record: f64,
    /// Verification signature bytes per record.
    pub signature_bytes_per_record: f64,
}

/// Deduplicates `input` and writes `{"id","cluster"}` lines to `output` (atomically: nothing is
/// left at `output` on error). `progress` is called with the bytes read so far.
pub fn dedup_jsonl(
    input: &Path,
    output: &Path,
    opts: &JsonlOptions,
    profile: &Profile,
    tier: Tier,
    threshold: f64,
    progress: &mut dyn FnMut(u64),
) -> Result<DedupSummary> {
    let start = Instant::now();
    let mut dedup = Deduper::new(profile, tier, threshold)?;
    let mut reader = JsonlReader::open(input, opts.clone())?;
    let mut ids: Vec<Box<str>> = Vec::new();
    let mut last = 0u64;
    while let Some(r) = reader.next_record()? {
        dedup.push(&r.text);
        ids.push(r.id_json.into_boxed_str());
        if reader.bytes_read() - last > (4 << 20) {
            last = reader.bytes_read();
            progress(last);
        }
    }
    progress(reader.bytes_read());
    let reps = dedup.clusters();
    let tmp = temp_path(output);
    let write = || -> Result<()> {
        let f = File::create(&tmp).map_err(io(&tmp))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for (i, id) in ids.iter().enumerate() {
            let line = format!("{{\"id\":{},\"cluster\":{}}}\n", id, ids[reps[i] as usize]);
            w.write_all(line.as_bytes()).map_err(io(&tmp))?;
        }
        let f = w.into_inner().map_err(|e| Error::Io {
            path: tmp.clone(),
            err: e.into_error(),
        })?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, output).map_err(io(output))
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let stats: Stats = dedup.stats();
    let clusters = reps
        .iter()
        .enumerate()
        .filter(|(i, r)| *i as u32 == **r)
        .count() as u64;
    let n = stats.records;
    let secs = start.elapsed().as_secs_f64();
    let (tables, sigs) = dedup.memory();
    let b = dedup.banding();
    Ok(DedupSummary {
        records: n,
        exact_dups: stats.exact_dups,
        near_dups: n - clusters - stats.exact_dups.min(n - clusters),
        clusters,
        bytes: reader.bytes_read(),
        seconds: secs,
        mb_per_s: reader.bytes_read() as f64 / 1e6 / secs.max(1e-9),
        tier,
        threshold,
        banding: format!("{}x{}", b.bands, b.rows),
        candidates: stats.candidates,
        verified: stats.verified,
        index_bytes_per_record: tables as f64 / n.max(1) as f64,
        signature_bytes_per_record: sigs as f64 / n.max(1) as f64,
    })
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
mod tests {
    use super::*;

    fn read_all(input: &str) -> Result<Vec<JsonlRecord>> {
        let mut r = JsonlReader::new(
            Path::new("in.jsonl"),
            input.as_bytes(),
            JsonlOptions {
                max_record: 200,
                ..Default::default()
            },
        );
        let mut out = vec![];
        while let Some(x) = r.next_record()? {
            out.push(x);
        }
        Ok(out)
    }

    fn kind(e: Error) -> (u64, RecordError) {
        match e {
            Error::BadRecord { line, kind, .. } => (line, kind),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn reads_records_and_skips_blank_lines() {
        let r =
            read_all("{\"id\":\"a\",\"text\":\"x\"}\n\n{\"id\":7,\"text\":\"y\",\"extra\":1}\r\n")
                .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[1].line, r[1].id.as_str(), r[1].text.as_str()),
            (3, "7", "y")
        );
        assert_eq!(
            (r[0].id_json.as_str(), r[1].id_json.as_str()),
            ("\"a\"", "7")
        );
    }

    #[test]
    fn each_bad_input_names_its_line() {
        let ok = "{\"id\":\"a\",\"text\":\"x\"}\n";
        let (l, k) =
            kind(read_all(&format!("{ok}{{\"id\":\"b\",\"text\":\"\\ud800\"")).unwrap_err());
        assert_eq!(l, 2);
        assert!(matches!(k, RecordError::InvalidJson(_)), "{k:?}");
        let mut bytes = ok.as_bytes().to_vec();
        bytes.extend_from_slice(b"{\"id\":\"b\",\"text\":\"\xff\"}\n");
        let mut r = JsonlReader::new(Path::new("in.jsonl"), &bytes[..], JsonlOptions::default());
        r.next_record().unwrap();
        assert_eq!(
            kind(r.next_record().unwrap_err()),
            (2, RecordError::InvalidUtf8(18))
        );
        assert!(matches!(
            kind(read_all("not json\n").unwrap_err()).1,
            RecordError::InvalidJson(_)
        ));
        assert!(matches!(
            kind(read_all("[1,2]\n").unwrap_err()).1,
            RecordError::InvalidJson(_)
        ));
        assert_eq!(
            kind(read_all("{\"text\":\"x\"}\n").unwrap_err()).1,
            RecordError::MissingField("id".into())
        );
        assert_eq!(
            kind(read_all("{\"id\":\"a\",\"text\":3}\n").unwrap_err()).1,
            RecordError::MissingField("text".into())
        );
        assert_eq!(
            kind(read_all("{\"id\":\"a\",\"text\":\"\"}\n").unwrap_err()).1,
            RecordError::Empty
        );
        assert_eq!(
            kind(read_all(&format!("{ok}{ok}")).unwrap_err()),
            (
                2,
                RecordError::DuplicateId {
                    id: "a".into(),
                    first_line: 1
                }
            )
        );
        let giant = format!("{{\"id\":\"g\",\"text\":\"{}\"}}\n", "x".repeat(500));
        assert_eq!(
            kind(read_all(&giant).unwrap_err()).1,
            RecordError::TooLarge { limit: 200 }
        );
    }

    #[test]
    fn dedup_writes_clusters_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        let out = dir.path().join("out.jsonl");
        let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau";
        let lines = [
            serde_json::json!({"id": "a", "text": text}),
            serde_json::json!({"id": "b", "text": "something else entirely, nothing shared with the first record at all"}),
            serde_json::json!({"id": "c", "text": text.to_uppercase()}),
        ];
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&input, body).unwrap();
        let s = dedup_jsonl(
            &input,
            &out,
            &JsonlOptions::default(),
            &Profile::text_v1(),
            Tier::D,
            0.8,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((s.records, s.exact_dups, s.clusters), (3, 1, 2));
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            got,
            "{\"id\":\"a\",\"cluster\":\"a\"}\n{\"id\":\"b\",\"cluster\":\"b\"}\n{\"id\":\"c\",\"cluster\":\"a\"}\n"
        );
        // A bad line leaves no output and no temp file.
        std::fs::write(&input, "{\"id\":\"a\",\"text\":\"x\"}\nbroken\n").unwrap();
        let out2 = dir.path().join("out2.jsonl");
        let e = dedup_jsonl(
            &input,
            &out2,
            &JsonlOptions::default(),
            &Profile::text_v1(),
            Tier::D,
            0.8,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.to_string().contains("in.jsonl:2"), "{e}");
        assert!(!out2.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
