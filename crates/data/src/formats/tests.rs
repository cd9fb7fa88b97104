use super::*;
use crate::Error;
use arrow_array::{ArrayRef, Int64Array};
use arrow_schema::Field;
use std::sync::Arc;

fn rows(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("r{i}"), format!("text number {i} with some words")))
        .collect()
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

/// `(doc, row, id, id_is_number, text)`.
type Row = (u64, u64, String, bool, String);

fn collect(inputs: &Inputs) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    inputs.for_each(
        &mut |r| {
            out.push((
                r.doc,
                r.row,
                r.id.to_string(),
                r.id_is_number,
                r.text.to_string(),
            ));
            Ok(())
        },
        &mut |_| {},
    )?;
    Ok(out)
}

/// Writes `batches` (each a list of columns) as an Arrow IPC stream.
pub(crate) fn write_arrow(path: &Path, batches: &[Vec<(&str, ArrayRef)>]) {
    let schema = Arc::new(Schema::new(
        batches[0]
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let f = File::create(path).unwrap();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(f, &schema).unwrap();
    for b in batches {
        let cols = b.iter().map(|(_, a)| a.clone()).collect();
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
}

fn write_batches_parquet(path: &Path, batches: &[Vec<(&str, ArrayRef)>]) {
    let schema = Arc::new(Schema::new(
        batches[0]
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let f = File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None).unwrap();
    for b in batches {
        let cols = b.iter().map(|(_, a)| a.clone()).collect();
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
        w.flush().unwrap();
    }
    w.close().unwrap();
}

fn str_col(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

#[test]
fn parquet_folder_and_hf_folder_number_records_globally() {
    let dir = tempfile::tempdir().unwrap();
    let all = rows(25);
    // A hub-style folder: shards sorted by path, in a subfolder, hidden files skipped.
    let hub = dir.path().join("hub");
    std::fs::create_dir_all(hub.join("data")).unwrap();
    std::fs::create_dir_all(hub.join(".cache")).unwrap();
    write_text_parquet(&hub.join("data/train-00001.parquet"), &all[10..], 4).unwrap();
    write_text_parquet(&hub.join("data/train-00000.parquet"), &all[..10], 3).unwrap();
    write_text_parquet(&hub.join(".cache/x.parquet"), &all[..2], 3).unwrap();
    let inputs = Inputs::resolve(std::slice::from_ref(&hub), opts()).unwrap();
    assert_eq!(inputs.files.len(), 2);
    assert_eq!(inputs.files[0].name, "data/train-00000.parquet");
    let got = collect(&inputs).unwrap();
    assert_eq!(got.len(), 25);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(
            (g.2.as_str(), g.4.as_str()),
            (all[i].0.as_str(), all[i].1.as_str())
        );
        let (file, row) = if i < 10 { (0, i) } else { (1, i - 10) };
        assert_eq!(g.0, doc(file, row as u64));
        assert_eq!(g.1, row as u64 + 1);
        assert!(!g.3);
    }
    // Row groups are the units; reading them one by one gives the same records.
    let units = inputs.units().unwrap();
    assert_eq!(units.len(), 4 + 4);
    let mut by_unit = Vec::new();
    for u in &units {
        inputs
            .read_unit(
                *u,
                &mut |r| {
                    by_unit.push(r.doc);
                    Ok(())
                },
                &mut |_| {},
            )
            .unwrap();
    }
    assert_eq!(by_unit, got.iter().map(|g| g.0).collect::<Vec<_>>());
    // Random access by doc.
    let mut t = inputs.texts();
    let mut s = String::new();
    for g in got.iter().rev() {
        t.read(g.0, &mut s).unwrap();
        assert_eq!(s, g.4);
    }
    assert!(t.read(doc(1, 15), &mut s).is_err());
    assert!(t.read(doc(7, 0), &mut s).is_err());

    // The same rows as a `save_to_disk` folder: Arrow stream files listed in state.json, in the
    // listed order, several batches each.
    let hf = dir.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    let mut listed = Vec::new();
    for (k, part) in [&all[..12], &all[12..]].iter().enumerate() {
        let name = format!("data-{k:05}-of-00002.arrow");
        let batches: Vec<Vec<(&str, ArrayRef)>> = part
            .chunks(5)
            .map(|c| {
                let ids: Vec<&str> = c.iter().map(|r| r.0.as_str()).collect();
                let texts: Vec<&str> = c.iter().map(|r| r.1.as_str()).collect();
                vec![("text", str_col(&texts)), ("id", str_col(&ids))]
            })
            .collect();
        write_arrow(&hf.join(&name), &batches);
        listed.push(serde_json::json!({ "filename": name }));
    }
    std::fs::write(
        hf.join("state.json"),
        serde_json::json!({"_data_files": listed, "_fingerprint": "f", "_format_columns": null,
            "_format_kwargs": {}, "_format_type": null, "_output_all_columns": false, "_split": null})
        .to_string(),
    )
    .unwrap();
    std::fs::write(hf.join("dataset_info.json"), "{}").unwrap();
    let inputs = Inputs::resolve(std::slice::from_ref(&hf), opts()).unwrap();
    let got = collect(&inputs).unwrap();
    assert_eq!(got.len(), 25);
    assert_eq!(got[12].0, doc(1, 0));
    let mut t = inputs.texts();
    for (i, g) in got.iter().enumerate().rev() {
        assert_eq!(
            (g.2.as_str(), g.4.as_str()),
            (all[i].0.as_str(), all[i].1.as_str())
        );
        t.read(g.0, &mut s).unwrap();
        assert_eq!(s, all[i].1);
    }
    // A DatasetDict: splits in the listed order.
    let dd = dir.path().join("dd");
    std::fs::create_dir_all(&dd).unwrap();
    std::fs::rename(&hf, dd.join("train")).unwrap();
    std::fs::write(dd.join("dataset_dict.json"), r#"{"splits": ["train"]}"#).unwrap();
    let inputs = Inputs::resolve(&[dd], opts()).unwrap();
    assert_eq!(inputs.files[1].name, "train/data-00001-of-00002.arrow");
    assert_eq!(collect(&inputs).unwrap().len(), 25);
}

#[test]
fn column_types_and_ipc_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let texts = ["alpha beta", "gamma delta", "epsilon"];
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("text", Arc::new(LargeStringArray::from(texts.to_vec()))),
        ("id", Arc::new(Int64Array::from(vec![7, 8, 9]))),
    ];
    let p = dir.path().join("a.parquet");
    write_batches_parquet(&p, std::slice::from_ref(&cols));
    let got = collect(&Inputs::resolve(&[p], opts()).unwrap()).unwrap();
    assert_eq!(got[1].2, "8");
    assert!(got[1].3);
    // Views and binary text in an Arrow stream.
    let view: ArrayRef = Arc::new(StringViewArray::from(texts.to_vec()));
    let bin: ArrayRef = Arc::new(BinaryArray::from_vec(
        texts.iter().map(|t| t.as_bytes()).collect(),
    ));
    for (k, col) in [view, bin].into_iter().enumerate() {
        let p = dir.path().join(format!("v{k}.arrow"));
        write_arrow(&p, &[vec![("text", col)]]);
        let o = ReadOptions {
            id_field: String::new(),
            ..opts()
        };
        let inputs = Inputs::resolve(&[p], o).unwrap();
        let got = collect(&inputs).unwrap();
        assert_eq!(got[2].4, "epsilon");
        // Without an ID column, the ID is the doc number.
        assert_eq!((got[2].2.as_str(), got[2].3), ("2", true));
        let mut s = String::new();
        inputs.texts().read(doc(0, 1), &mut s).unwrap();
        assert_eq!(s, "gamma delta");
    }
    // The IPC file format holds a stream after its magic.
    let p = dir.path().join("f.arrow");
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let mut w = arrow_ipc::writer::FileWriter::try_new(File::create(&p).unwrap(), &schema).unwrap();
    w.write(&RecordBatch::try_new(schema.clone(), vec![str_col(&texts)]).unwrap())
        .unwrap();
    w.finish().unwrap();
    let o = ReadOptions {
        id_field: String::new(),
        ..opts()
    };
    let inputs = Inputs::resolve(&[p], o).unwrap();
    assert_eq!(collect(&inputs).unwrap().len(), 3);
    let mut s = String::new();
    inputs.texts().read(doc(0, 2), &mut s).unwrap();
    assert_eq!(s, "epsilon");
}

fn err_of(paths: &[PathBuf], o: ReadOptions) -> Error {
    let inputs = match Inputs::resolve(paths, o) {
        Ok(i) => i,
        Err(e) => return e,
    };
    collect(&inputs).unwrap_err()
}

#[test]
fn bad_inputs_name_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.parquet");
    write_text_parquet(&p, &rows(50), 10).unwrap();
    // Truncated Parquet.
    let bytes = std::fs::read(&p).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = err_of(std::slice::from_ref(&cut), opts());
    assert!(
        matches!(&e, Error::BadInput { path, .. } if *path == cut),
        "{e}"
    );
    assert!(e.to_string().contains("Parquet"), "{e}");
    // Missing text column.
    let e = err_of(
        std::slice::from_ref(&p),
        ReadOptions {
            text_field: "body".into(),
            ..opts()
        },
    );
    assert!(e.to_string().contains("no column \"body\""), "{e}");
    assert!(e.to_string().contains("ok.parquet"), "{e}");
    // Null text on row 3.
    let nul = dir.path().join("null.parquet");
    let text: ArrayRef = Arc::new(StringArray::from(vec![Some("a b"), Some("c d"), None]));
    write_batches_parquet(
        &nul,
        &[vec![("id", str_col(&["x", "y", "z"])), ("text", text)]],
    );
    match err_of(std::slice::from_ref(&nul), opts()) {
        Error::BadRecord { path, line, kind } => {
            assert_eq!((path, line), (nul.clone(), 3));
            assert_eq!(kind, RecordError::MissingField("text".into()));
        }
        e => panic!("{e}"),
    }
    // Non-UTF-8 bytes in a binary text column, row 2.
    let bad = dir.path().join("bin.arrow");
    let text: ArrayRef = Arc::new(BinaryArray::from_vec(vec![b"ok", b"\xffno"]));
    write_arrow(&bad, &[vec![("id", str_col(&["x", "y"])), ("text", text)]]);
    match err_of(std::slice::from_ref(&bad), opts()) {
        Error::BadRecord { path, line, kind } => {
            assert_eq!(
                (path, line, kind),
                (bad.clone(), 2, RecordError::InvalidUtf8(0))
            );
        }
        e => panic!("{e}"),
    }
    // A record over the size limit.
    match err_of(
        std::slice::from_ref(&p),
        ReadOptions {
            max_record: 29,
            ..opts()
        },
    ) {
        Error::BadRecord { line, kind, .. } => {
            assert_eq!((line, kind), (11, RecordError::TooLarge { limit: 29 }));
        }
        e => panic!("{e}"),
    }
    // A truncated Arrow stream.
    let good = dir.path().join("good.arrow");
    write_arrow(
        &good,
        &[vec![("id", str_col(&["x"])), ("text", str_col(&["a b c"]))]],
    );
    let b = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.arrow");
    std::fs::write(&cut, &b[..b.len() - 20]).unwrap();
    let e = err_of(std::slice::from_ref(&cut), opts());
    assert!(e.to_string().contains("cut.arrow"), "{e}");
    // A state.json pointing outside its folder, or at nothing.
    let hf = dir.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    std::fs::write(
        hf.join("state.json"),
        r#"{"_data_files": [{"filename": "../ok.parquet"}]}"#,
    )
    .unwrap();
    let e = err_of(std::slice::from_ref(&hf), opts());
    assert!(e.to_string().contains("state.json"), "{e}");
    // A folder with nothing to read.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(
        err_of(&[empty], opts())
            .to_string()
            .contains("no *.parquet")
    );
}

#[test]
fn jsonl_docs_are_line_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.jsonl");
    std::fs::write(
        &p,
        "{\"id\":\"a\",\"text\":\"one two\"}\n\n{\"id\":5,\"text\":\"three\"}\n",
    )
    .unwrap();
    let inputs = Inputs::resolve(std::slice::from_ref(&p), opts()).unwrap();
    let got = collect(&inputs).unwrap();
    assert_eq!(got[0].0, 0);
    assert_eq!(got[1].0, 29);
    assert_eq!((got[1].1, got[1].2.as_str(), got[1].3), (3, "5", true));
    let mut s = String::new();
    inputs.texts().read(29, &mut s).unwrap();
    assert_eq!(s, "three");
    // The digest covers names and lengths.
    let d = inputs.digest();
    std::fs::write(&p, "{\"id\":\"a\",\"text\":\"one two\"}\n").unwrap();
    let again = Inputs::resolve(&[p], opts()).unwrap();
    assert_ne!(again.digest(), d);
    // A file that changes between the passes is refused.
    assert!(inputs.texts().read(0, &mut s).is_err());
}
