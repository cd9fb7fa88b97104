//! `mycel data dedup` over Parquet inputs and the staged pipeline (`mycel data stage …`): the same
//! clusters file, byte for byte; bad inputs refused with the file named and nothing written.

use crate::common::BIN;
use mycel_data::{formats::write_text_parquet, profile::Profile, synth};
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn mycel(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `mycel --json ARGS`, which must succeed; its parsed stdout.
fn ok(home: &Path, args: &[&str]) -> serde_json::Value {
    let out = mycel(home, &[&["--json"], args].concat());
    assert!(
        out.status.success(),
        "mycel {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `mycel ARGS`, which must fail; its stderr.
fn fails(home: &Path, args: &[&str]) -> String {
    let out = mycel(home, args);
    assert!(!out.status.success(), "mycel {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A synthetic corpus with exact and near duplicates, as `files` Parquet files under `dir`.
fn corpus_in(dir: &Path, sources: usize, files: usize) -> usize {
    let c = synth::corpus(&Profile::text_v1(), sources, sources, 60, 5);
    let rows: Vec<(String, String)> = c
        .docs
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("d{i}"), t))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    for (k, part) in rows.chunks(rows.len().div_ceil(files)).enumerate() {
        write_text_parquet(&dir.join(format!("part-{k:05}.parquet")), part, 300).unwrap();
    }
    rows.len()
}

/// Files in `dir`, sorted (none when it does not exist).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn data_stages_match_the_single_process_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("in");
    let n = corpus_in(&input, 1200, 3);
    let single = dir.path().join("single.parquet");
    let sum = ok(
        &home,
        &["data", "dedup", s(&input), "--clusters", s(&single)],
    );
    assert_eq!(sum["records"], n);
    assert!(sum["exact_dups"].as_u64().unwrap() > 50, "{sum}");
    assert!(sum["near_dups"].as_u64().unwrap() > 100, "{sum}");
    // The JSONL output has one line per record.
    let lines = dir.path().join("single.jsonl");
    ok(
        &home,
        &["data", "dedup", s(&input), "--clusters", s(&lines)],
    );
    assert_eq!(std::fs::read_to_string(&lines).unwrap().lines().count(), n);

    // 3 sign shards, 2 band groups, 2 verify shards.
    let (sigs, cands, ver) = (
        dir.path().join("sigs"),
        dir.path().join("cands"),
        dir.path().join("ver"),
    );
    let mut signed = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let r = ok(
            &home,
            &[
                "data",
                "stage",
                "sign",
                s(&input),
                "--shard",
                &shard,
                "--out",
                s(&sigs),
            ],
        );
        signed += r["records"].as_u64().unwrap();
    }
    assert_eq!(signed as usize, n);
    for g in 0..2 {
        let bands = format!("{g}/2");
        ok(
            &home,
            &[
                "data",
                "stage",
                "candidates",
                "--sigs",
                s(&sigs),
                "--bands",
                &bands,
                "--out",
                s(&cands),
            ],
        );
    }
    for i in 0..2 {
        let shard = format!("{i}/2");
        ok(
            &home,
            &[
                "data",
                "stage",
                "verify",
                "--candidates",
                s(&cands),
                "--inputs",
                s(&input),
                "--shard",
                &shard,
                "--out",
                s(&ver),
            ],
        );
    }
    let staged = dir.path().join("staged.parquet");
    let r = ok(
        &home,
        &[
            "data",
            "stage",
            "cluster",
            "--sigs",
            s(&sigs),
            "--verified",
            s(&ver),
            "--out",
            s(&staged),
        ],
    );
    assert_eq!(r["clusters"], sum["clusters"]);
    assert!(
        std::fs::read(&staged).unwrap() == std::fs::read(&single).unwrap(),
        "the staged clusters file differs from the single-process one"
    );
}

#[test]
fn data_stages_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("in");
    corpus_in(&input, 100, 2);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let clusters = out.join("c.parquet");
    let dedup = |inputs: &[PathBuf], extra: &[&str]| {
        let mut args = vec!["data", "dedup"];
        args.extend(inputs.iter().map(|p| s(p)));
        args.extend(["--clusters", s(&clusters)]);
        args.extend(extra);
        fails(&home, &args)
    };
    // A truncated Parquet file.
    let first = input.join("part-00000.parquet");
    let bytes = std::fs::read(&first).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let e = dedup(&[first.clone(), cut], &[]);
    assert!(e.contains("cut.parquet") && e.contains("Parquet"), "{e}");
    // No such text column.
    let e = dedup(std::slice::from_ref(&input), &["--text-field", "body"]);
    assert!(
        e.contains("part-00000.parquet") && e.contains("no column \"body\""),
        "{e}"
    );
    // A record over the limit: the file and row are named.
    let e = dedup(std::slice::from_ref(&input), &["--max-record-bytes", "100"]);
    assert!(
        e.contains("part-00000.parquet:1:") && e.contains("larger than the limit"),
        "{e}"
    );
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));

    // Shards of different thresholds mixed: refused, naming both files; nothing written.
    let sigs = dir.path().join("sigs");
    for (shard, t) in [("0/2", "0.8"), ("1/2", "0.7")] {
        ok(
            &home,
            &[
                "data",
                "stage",
                "sign",
                s(&input),
                "--shard",
                shard,
                "--threshold",
                t,
                "--out",
                s(&sigs),
            ],
        );
    }
    let e = fails(
        &home,
        &[
            "data",
            "stage",
            "candidates",
            "--sigs",
            s(&sigs),
            "--out",
            s(&out),
        ],
    );
    assert!(
        e.contains("sigs-0-of-2.parquet")
            && e.contains("sigs-1-of-2.parquet")
            && e.contains("threshold"),
        "{e}"
    );
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));
}
