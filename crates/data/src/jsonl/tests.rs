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
    let r = read_all("{\"id\":\"a\",\"text\":\"x\"}\n\n{\"id\":7,\"text\":\"y\",\"extra\":1}\r\n")
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
    let (l, k) = kind(read_all(&format!("{ok}{{\"id\":\"b\",\"text\":\"\\ud800\"")).unwrap_err());
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
fn dedup_reads_back_by_offset_and_keeps_the_output_format() {
    // Blank lines, CRLF, integer and string IDs, non-ASCII text, a near duplicate whose
    // source is not the previous line: the second pass must re-read each record at its
    // offset, and the output stays one `{"id","cluster"}` line per record in input order.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let out = dir.path().join("out.jsonl");
    let words = |seed: u64| -> Vec<String> {
        let mut s = seed;
        (0..300)
            .map(|_| format!("wörd{}", crate::minhash::splitmix64(&mut s) % 3000))
            .collect()
    };
    let a = words(1);
    let mut a2 = a.clone();
    a2[100] = "changed".into();
    a2[200] = "again".into();
    let far: Vec<String> = a
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i % 10 == 5 {
                format!("x{i}")
            } else {
                w.clone()
            }
        })
        .collect();
    let rec = |id: serde_json::Value, t: &str| serde_json::json!({"id": id, "text": t, "n": 1});
    let body = format!(
        "{}\r\n\n{}\n   \n{}\r\n{}\n{}\n",
        rec(serde_json::json!(10), &a.join(" ")),
        rec(serde_json::json!("b"), &words(2).join(" ")),
        rec(serde_json::json!("c"), &far.join(" ")),
        rec(serde_json::json!(3), &a2.join(" ")),
        rec(
            serde_json::json!("e\"q"),
            &words(2).join("  ").to_uppercase()
        ),
    );
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
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"id\":10,\"cluster\":10}\n{\"id\":\"b\",\"cluster\":\"b\"}\n\
         {\"id\":\"c\",\"cluster\":\"c\"}\n{\"id\":3,\"cluster\":10}\n\
         {\"id\":\"e\\\"q\",\"cluster\":\"b\"}\n"
    );
    assert_eq!(
        (s.records, s.exact_dups, s.near_dups, s.clusters),
        (5, 1, 1, 3)
    );
    assert_eq!((s.candidates, s.verified), (1, 1));
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
