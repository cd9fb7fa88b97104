use super::*;
use crate::{
    Error,
    batch::dedup_texts,
    formats::{tests::write_arrow, write_text_parquet},
    synth::{self, Edit},
};
use arrow_array::{ArrayRef, StringArray};

/// A labelled synthetic corpus with exact and near duplicates, plus records without shingles.
fn corpus(sources: usize, negatives: usize) -> (Vec<(String, String)>, usize) {
    let c = synth::corpus(&Profile::text_v1(), sources, negatives, 60, 11);
    let exact = c.pairs.iter().filter(|p| p.edit == Edit::ExactCopy).count();
    let mut docs = c.docs;
    docs.insert(7, "!!!".into());
    docs.insert(100, "?? ...".into());
    docs.insert(140, "short one".into());
    let rows = docs
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("d{i}"), t))
        .collect();
    (rows, exact)
}

/// Writes `rows` as `files` Parquet files under `dir` with small row groups.
fn write_parquet_files(dir: &Path, rows: &[(String, String)], files: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let per = rows.len().div_ceil(files);
    for (k, part) in rows.chunks(per).enumerate() {
        write_text_parquet(&dir.join(format!("part-{k:05}.parquet")), part, 400).unwrap();
    }
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

struct Run {
    sign: usize,
    groups: usize,
    verify: usize,
}

/// The staged pipeline, every stage in this process.
fn staged(inputs: &[PathBuf], work: &Path, run: Run, tier: Tier, threshold: f64) -> PathBuf {
    let p = Profile::text_v1();
    let (sigs, cands, ver) = (work.join("sigs"), work.join("cands"), work.join("ver"));
    for index in 0..run.sign {
        let ins = Inputs::resolve(inputs, opts()).unwrap();
        let shard = Shard {
            index,
            count: run.sign,
        };
        sign(&ins, &p, tier, threshold, shard, &sigs, &mut |_| {}).unwrap();
    }
    for index in 0..run.groups {
        let g = Shard {
            index,
            count: run.groups,
        };
        candidates(&sigs, g, &cands).unwrap();
    }
    for index in 0..run.verify {
        let s = Shard {
            index,
            count: run.verify,
        };
        verify(&cands, inputs, s, &ver).unwrap();
    }
    let out = work.join("clusters.parquet");
    cluster(&sigs, &ver, &out).unwrap();
    out
}

fn read_clusters(path: &Path) -> Vec<(u64, String, String, u64)> {
    let f = StageFile::open(path, "clusters").unwrap();
    let mut out = Vec::new();
    f.batches(&["doc", "id", "cluster", "cluster_doc"], &mut |b| {
        let doc = f.u64s(b, "doc")?;
        let cd = f.u64s(b, "cluster_doc")?;
        let id = b.column_by_name("id").unwrap().as_string::<i32>();
        let cl = b.column_by_name("cluster").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((
                doc.value(i),
                id.value(i).to_string(),
                cl.value(i).to_string(),
                cd.value(i),
            ));
        }
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn staged_run_is_byte_identical_to_the_single_process_run() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, exact) = corpus(1500, 1500);
    assert!(rows.len() > 4000 && exact > 100);
    let input = dir.path().join("in");
    write_parquet_files(&input, &rows, 4);
    let inputs = vec![input];
    let p = Profile::text_v1();
    let single = dir.path().join("single.parquet");
    let ins = Inputs::resolve(&inputs, opts()).unwrap();
    let s = dedup_inputs(&ins, &single, &p, Tier::D, 0.8, &mut |_| {}).unwrap();
    assert!(s.exact_dups as usize > exact && s.near_dups > 100, "{s:?}");
    let want = std::fs::read(&single).unwrap();
    for (k, run) in [
        Run {
            sign: 3,
            groups: 2,
            verify: 2,
        },
        Run {
            sign: 1,
            groups: 3,
            verify: 5,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let work = dir.path().join(format!("run{k}"));
        let out = staged(&inputs, &work, run, Tier::D, 0.8);
        assert!(std::fs::read(&out).unwrap() == want, "run {k} differs");
    }
    // And the clusters are those of the in-memory batch engine over the same texts.
    let texts: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let r = dedup_texts(&p, Tier::D, 0.8, &texts).unwrap();
    let got = read_clusters(&single);
    let index: HashMap<u64, usize> = got.iter().enumerate().map(|(i, g)| (g.0, i)).collect();
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.1, rows[i].0);
        assert_eq!(index[&g.3], r.reps[i] as usize, "record {i}");
        assert_eq!(g.2, rows[r.reps[i] as usize].0);
    }
    assert_eq!(r.stats.exact_dups, s.exact_dups);
}

#[test]
fn tier_l_staged_matches_too() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = corpus(300, 300);
    let input = dir.path().join("in");
    write_parquet_files(&input, &rows, 3);
    let inputs = vec![input];
    let single = dir.path().join("single.parquet");
    let ins = Inputs::resolve(&inputs, opts()).unwrap();
    dedup_inputs(
        &ins,
        &single,
        &Profile::text_v1(),
        Tier::L,
        0.4,
        &mut |_| {},
    )
    .unwrap();
    let run = Run {
        sign: 2,
        groups: 4,
        verify: 3,
    };
    let out = staged(&inputs, &dir.path().join("w"), run, Tier::L, 0.4);
    assert!(std::fs::read(out).unwrap() == std::fs::read(single).unwrap());
}

#[test]
fn hf_folder_gives_the_clusters_of_the_same_rows_in_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = corpus(400, 400);
    let jsonl = dir.path().join("in.jsonl");
    let mut body = String::new();
    for (id, t) in &rows {
        body.push_str(&serde_json::json!({"id": id, "text": t}).to_string());
        body.push('\n');
    }
    std::fs::write(&jsonl, body).unwrap();
    // `save_to_disk` layout: Arrow IPC stream shards of 100-row batches, state.json listing
    // them, dataset_info.json describing the features.
    let hf = dir.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    let per = rows.len().div_ceil(3);
    let mut files = Vec::new();
    for (k, part) in rows.chunks(per).enumerate() {
        let name = format!("data-{k:05}-of-00003.arrow");
        let batches: Vec<Vec<(&str, ArrayRef)>> = part
            .chunks(100)
            .map(|c| {
                let texts: ArrayRef =
                    Arc::new(StringArray::from_iter_values(c.iter().map(|r| &r.1)));
                let ids: ArrayRef = Arc::new(StringArray::from_iter_values(c.iter().map(|r| &r.0)));
                vec![("text", texts), ("id", ids)]
            })
            .collect();
        write_arrow(&hf.join(&name), &batches);
        files.push(serde_json::json!({ "filename": name }));
    }
    std::fs::write(
        hf.join("state.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "_data_files": files,
            "_fingerprint": "0123456789abcdef",
            "_format_columns": null,
            "_format_kwargs": {},
            "_format_type": null,
            "_output_all_columns": false,
            "_split": "train"
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        hf.join("dataset_info.json"),
        serde_json::json!({
            "citation": "", "description": "", "homepage": "", "license": "",
            "features": {
                "text": {"dtype": "string", "_type": "Value"},
                "id": {"dtype": "string", "_type": "Value"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let p = Profile::text_v1();
    let run = |inputs: &[PathBuf], out: &Path| {
        let ins = Inputs::resolve(inputs, opts()).unwrap();
        dedup_inputs(&ins, out, &p, Tier::D, 0.8, &mut |_| {}).unwrap()
    };
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let sa = run(std::slice::from_ref(&jsonl), &a);
    let sb = run(std::slice::from_ref(&hf), &b);
    assert!(sa.near_dups > 10 && sa.exact_dups > 10, "{sa:?}");
    assert_eq!((sa.clusters, sa.exact_dups), (sb.clusters, sb.exact_dups));
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&b).unwrap()
    );
    // The JSONL driver of old gives the same lines.
    let c = dir.path().join("c.jsonl");
    crate::jsonl::dedup_jsonl(&jsonl, &c, &opts(), &p, Tier::D, 0.8, &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    // Staged over the HF folder equals the single-process Parquet output over it.
    let single = dir.path().join("hf.parquet");
    run(std::slice::from_ref(&hf), &single);
    let run = Run {
        sign: 2,
        groups: 2,
        verify: 2,
    };
    let out = staged(
        std::slice::from_ref(&hf),
        &dir.path().join("w"),
        run,
        Tier::D,
        0.8,
    );
    assert!(std::fs::read(out).unwrap() == std::fs::read(single).unwrap());
}

/// Files in `dir` (names), sorted.
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
fn stage_files_of_different_runs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = corpus(100, 100);
    let input = dir.path().join("in");
    write_parquet_files(&input, &rows, 2);
    let inputs = vec![input.clone()];
    let p = Profile::text_v1();
    let ins = Inputs::resolve(&inputs, opts()).unwrap();
    let sigs = dir.path().join("sigs");
    let other = dir.path().join("other");
    let half = |index| Shard { index, count: 2 };
    sign(&ins, &p, Tier::D, 0.8, half(0), &sigs, &mut |_| {}).unwrap();
    sign(&ins, &p, Tier::D, 0.8, half(1), &sigs, &mut |_| {}).unwrap();
    sign(&ins, &p, Tier::D, 0.7, half(1), &other, &mut |_| {}).unwrap();
    sign(
        &ins,
        &p,
        Tier::L,
        0.4,
        half(1),
        &dir.path().join("l"),
        &mut |_| {},
    )
    .unwrap();
    let cands = dir.path().join("cands");
    candidates(&sigs, Shard::ALL, &cands).unwrap();

    // A shard of another threshold mixed in: refused, naming both files; nothing written.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(
        sigs.join("sigs-0-of-2.parquet"),
        mixed.join("sigs-0-of-2.parquet"),
    )
    .unwrap();
    std::fs::copy(
        other.join("sigs-1-of-2.parquet"),
        mixed.join("sigs-1-of-2.parquet"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let e = candidates(&mixed, Shard::ALL, &out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mycel.threshold") && e.contains("sigs-0-of-2") && e.contains("sigs-1-of-2"),
        "{e}"
    );
    assert!(listing(&out).is_empty());
    // Another tier (and banding).
    std::fs::copy(
        dir.path().join("l/sigs-1-of-2.parquet"),
        mixed.join("sigs-1-of-2.parquet"),
    )
    .unwrap();
    let e = candidates(&mixed, Shard::ALL, &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mycel.tier"), "{e}");
    // Another profile.
    let a = StageFile::open(&sigs.join("sigs-0-of-2.parquet"), "sigs").unwrap();
    let mut q = a.params.clone();
    q.profile_id = "00".repeat(32);
    let e = a
        .params
        .check_same(&a.path, &q, Path::new("x.parquet"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mycel.profile_id") && e.contains("x.parquet"),
        "{e}"
    );
    // Another sharding, or a missing shard.
    std::fs::remove_file(mixed.join("sigs-1-of-2.parquet")).unwrap();
    let e = candidates(&mixed, Shard::ALL, &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sigs-1-of-2.parquet is missing"), "{e}");
    sign(
        &ins,
        &p,
        Tier::D,
        0.8,
        Shard { index: 2, count: 3 },
        &mixed,
        &mut |_| {},
    )
    .unwrap();
    let e = candidates(&mixed, Shard::ALL, &out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sigs-2-of-3") && e.contains("different runs"),
        "{e}"
    );
    // A truncated stage file.
    let cut = dir.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let b = std::fs::read(sigs.join("sigs-0-of-2.parquet")).unwrap();
    std::fs::write(cut.join("sigs-0-of-1.parquet"), &b[..b.len() / 2]).unwrap();
    let e = candidates(&cut, Shard::ALL, &out).unwrap_err().to_string();
    assert!(e.contains("sigs-0-of-1.parquet"), "{e}");
    // Verify against other inputs.
    let moved = dir.path().join("moved");
    write_parquet_files(&moved, &rows[..rows.len() - 1], 2);
    let e = verify(&cands, &[moved], Shard::ALL, &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not those the signatures were made from"), "{e}");
    // Cluster with verified edges of another run.
    let ver = dir.path().join("ver");
    verify(&cands, &inputs, Shard::ALL, &ver).unwrap();
    let e = cluster(&other, &ver, &out.join("c.parquet"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sigs-0-of-2.parquet is missing"), "{e}");
    let e = cluster(&cands, &ver, &out.join("c.parquet"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no sigs-"), "{e}");
    assert!(listing(&out).is_empty());
    assert!(cluster(&sigs, &ver, &out.join("c.jsonl")).is_err());
    // A stage file of another format version.
    let v2 = dir.path().join("v2");
    std::fs::create_dir_all(&v2).unwrap();
    let mut kv = stage_kv(&a.params, "sigs", Shard::ALL, None);
    kv[0].1 = "2".into();
    write_parquet(
        &v2.join("sigs-0-of-1.parquet"),
        sigs_schema(16),
        kv,
        &mut |_| Ok(()),
    )
    .unwrap();
    let e = candidates(&v2, Shard::ALL, &out).unwrap_err().to_string();
    assert!(
        e.contains("sigs-0-of-1.parquet") && e.contains("stage format 2"),
        "{e}"
    );
}

#[test]
fn a_failed_run_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rows, _) = corpus(50, 50);
    rows[120].1 = "x".repeat(5000);
    let input = dir.path().join("in");
    write_parquet_files(&input, &rows, 2);
    let o = ReadOptions {
        max_record: 4096,
        ..opts()
    };
    let ins = Inputs::resolve(std::slice::from_ref(&input), o).unwrap();
    let outdir = dir.path().join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let p = Profile::text_v1();
    let line = 120 - rows.len().div_ceil(2) as u64 + 1;
    for name in ["c.parquet", "c.jsonl"] {
        let e = dedup_inputs(&ins, &outdir.join(name), &p, Tier::D, 0.8, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&e, Error::BadRecord { line: l, .. } if *l == line)
                && e.to_string().contains("part-00001"),
            "{e}"
        );
    }
    let e = sign(&ins, &p, Tier::D, 0.8, Shard::ALL, &outdir, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("larger than the limit"), "{e}");
    assert!(listing(&outdir).is_empty(), "{:?}", listing(&outdir));
}

#[test]
fn shards_parse_and_split() {
    let s: Shard = "2/5".parse().unwrap();
    assert_eq!((s.index, s.count), (2, 5));
    assert_eq!(s.to_string(), "2/5");
    for bad in ["5/5", "1", "a/2", "0/0", "-1/2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
    let covered: Vec<usize> = (0..4)
        .flat_map(|index| Shard { index, count: 4 }.range(10))
        .collect();
    assert_eq!(covered, (0..10).collect::<Vec<_>>());
}
