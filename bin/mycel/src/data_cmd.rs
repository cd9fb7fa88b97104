//! `mycel data …`: dataset dedup, ingest, proofs and benchmarks (thin glue over `mycel-data`).

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use mycel_data::{
    blobs::BlobStore,
    dedup::Tier,
    id::RecordId,
    ingest::{self, AddOptions, Format},
    jsonl::{DEFAULT_MAX_RECORD, JsonlOptions, dedup_jsonl},
    manifest::Registration,
    profile::Profile,
    tree::Proof,
};
use mycel_primitives::Hash;
use std::path::{Path, PathBuf};

/// `mycel data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCmd {
    /// Cluster a JSONL file's records by exact and near duplication; one `{"id","cluster"}` line
    /// per input record.
    Dedup(DedupArgs),
    /// Ingest a JSONL/Parquet file, a folder of text files or binary files: chunks into
    /// `$MYCEL_HOME/blobs`, a manifest into `$MYCEL_HOME/datasets`, IDs into the exact index.
    Add(AddArgs),
    /// Show a dataset manifest (by root, CID or manifest path).
    Show {
        /// Dataset root (hex or CID) or manifest path.
        dataset: String,
        /// Also list the records.
        #[arg(long)]
        records: bool,
    },
    /// Print an inclusion or non-membership proof of a record ID (CID or hex) in a dataset.
    Prove {
        /// Dataset root (hex or CID) or manifest path.
        dataset: String,
        /// Record ID.
        id: String,
    },
    /// Verify offline: a dataset's manifest, IDs, root and blobs, or a proof file against a root.
    Verify {
        /// Dataset root (hex or CID) or manifest path; with --proof, the root to check against.
        dataset: String,
        /// A proof printed by `mycel data prove`.
        #[arg(long)]
        proof: Option<PathBuf>,
        /// The record ID the proof is about (with --proof).
        #[arg(long)]
        id: Option<String>,
        /// Skip reading the blobs.
        #[arg(long)]
        no_blobs: bool,
    },
    /// Chunk-ID, signature, quality and memory benchmark.
    Bench(BenchArgs),
    /// Write a labelled synthetic corpus (JSONL with `id`, `text`) and its pairs (JSONL).
    Synth {
        /// Output corpus.
        out: PathBuf,
        /// Output labelled pairs.
        #[arg(long)]
        pairs: PathBuf,
        /// Source documents (each gets one variant).
        #[arg(long, default_value_t = 5000)]
        sources: usize,
        /// Unrelated negatives.
        #[arg(long, default_value_t = 5000)]
        negatives: usize,
        /// Words per document.
        #[arg(long, default_value_t = 500)]
        words: usize,
        /// Seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

/// Options of `mycel data add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// File or folder.
    path: PathBuf,
    /// Format: jsonl, parquet, text, binary (default: from the extension).
    #[arg(long)]
    format: Option<String>,
    /// Text field (JSONL) or column (Parquet).
    #[arg(long, default_value = "text")]
    text_field: String,
    /// ID field (JSONL) or column (Parquet; default: row number).
    #[arg(long)]
    id_field: Option<String>,
    /// SPDX licence expression.
    #[arg(long)]
    license: Option<String>,
    /// Consent / TDM flags, e.g. `tdm-allowed`.
    #[arg(long)]
    consent: Option<String>,
}

/// Options of `mycel data bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// MiB of binary data for the chunk-ID pipeline.
    #[arg(long, default_value_t = 256)]
    chunk_mib: usize,
    /// Source documents of the labelled corpus.
    #[arg(long, default_value_t = 9000)]
    sources: usize,
    /// Unrelated negatives.
    #[arg(long, default_value_t = 9000)]
    negatives: usize,
    /// Words per document.
    #[arg(long, default_value_t = 500)]
    words: usize,
}

/// Options of `mycel data dedup`.
#[derive(Args, Debug)]
pub struct DedupArgs {
    /// Input JSONL file.
    input: PathBuf,
    /// Output JSONL of `{"id": …, "cluster": <id of the representative>}`.
    #[arg(long)]
    clusters: PathBuf,
    /// Jaccard threshold (default: 0.8 for tier d, 0.4 for tier l).
    #[arg(long)]
    threshold: Option<f64>,
    /// Tier: `d` (removal) or `l` (lineage).
    #[arg(long, default_value = "d")]
    tier: Tier,
    /// Field with the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Field with the record ID.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Largest accepted record (one line), bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_RECORD)]
    max_record_bytes: usize,
    /// Dedup profile.
    #[arg(long, default_value = "mycel-text/v1")]
    profile: String,
}

/// Runs a `mycel data` subcommand.
pub fn run(home: &Path, cmd: DataCmd, json: bool) -> Result<()> {
    match cmd {
        DataCmd::Dedup(a) => dedup(a, json),
        DataCmd::Add(a) => add(home, a, json),
        DataCmd::Show { dataset, records } => {
            let m = ingest::load_manifest(home, &dataset)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
                return Ok(());
            }
            print_registration(&m.registration());
            if records {
                for e in &m.entries {
                    println!(
                        "{}  {:>10}  {:>4} chunks  {}",
                        e.id,
                        e.len,
                        e.chunks.len(),
                        e.name
                    );
                }
            }
            Ok(())
        }
        DataCmd::Prove { dataset, id } => {
            let m = ingest::load_manifest(home, &dataset)?;
            let id = RecordId::parse(&id)?;
            let proof = m.tree().prove(&id);
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"root": m.root, "id": id, "proof": proof})
                )?
            );
            Ok(())
        }
        DataCmd::Verify {
            dataset,
            proof,
            id,
            no_blobs,
        } => {
            if let Some(p) = proof {
                let v: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(&p).with_context(|| format!("{}", p.display()))?,
                )?;
                let root = match ingest::load_manifest(home, &dataset) {
                    Ok(m) => m.root,
                    Err(_) => parse_root(&dataset)?,
                };
                let id = match id {
                    Some(i) => RecordId::parse(&i)?,
                    None => serde_json::from_value(v["id"].clone())?,
                };
                let proof: Proof = serde_json::from_value(v["proof"].clone())?;
                let member = proof.verify(&id, &root)?;
                println!(
                    "ok: {id} is {} dataset {root}",
                    if member { "in" } else { "not in" }
                );
                return Ok(());
            }
            let m = ingest::load_manifest(home, &dataset)?;
            let store = BlobStore::open(&ingest::blobs_dir(home))?;
            ingest::verify_dataset(&m, (!no_blobs).then_some(&store))?;
            println!(
                "ok: {} records, root {} recomputed{}",
                m.entries.len(),
                m.root,
                if no_blobs {
                    ""
                } else {
                    ", every chunk present and intact"
                }
            );
            Ok(())
        }
        DataCmd::Bench(a) => Ok(mycel_data::bench::run(&mycel_data::bench::BenchOptions {
            chunk_mib: a.chunk_mib,
            sources: a.sources,
            negatives: a.negatives,
            words: a.words,
            ..Default::default()
        })?),
        DataCmd::Synth {
            out,
            pairs,
            sources,
            negatives,
            words,
            seed,
        } => {
            let c = mycel_data::synth::corpus(&Profile::text_v1(), sources, negatives, words, seed);
            let mut body = String::new();
            for (i, d) in c.docs.iter().enumerate() {
                body.push_str(&serde_json::json!({"id": format!("d{i}"), "text": d}).to_string());
                body.push('\n');
            }
            std::fs::write(&out, body).with_context(|| format!("{}", out.display()))?;
            let mut pb = String::new();
            for p in &c.pairs {
                pb.push_str(&serde_json::json!({"a": format!("d{}", p.source), "b": format!("d{}", p.variant), "edit": p.edit, "jaccard": p.jaccard}).to_string());
                pb.push('\n');
            }
            std::fs::write(&pairs, pb).with_context(|| format!("{}", pairs.display()))?;
            eprintln!(
                "wrote {} docs and {} labelled pairs",
                c.docs.len(),
                c.pairs.len()
            );
            Ok(())
        }
    }
}

fn parse_root(s: &str) -> Result<Hash> {
    match mycel_data::id::parse_cid(s) {
        Ok((_, h)) => Ok(h),
        Err(_) => Ok(Hash::from_hex(s)?),
    }
}

fn print_registration(r: &Registration) {
    println!("root            {}", r.root);
    println!(
        "root cid        {}",
        mycel_data::id::cid(mycel_data::id::CODEC_MYCEL_DATASET, &r.root)
    );
    println!("records         {}", r.records);
    println!("bytes           {}", r.bytes);
    println!("novel records   {}", r.novel_records);
    println!("novel bytes     {}", r.novel_bytes);
    println!("profile id      {}", r.profile_id);
    println!("signature root  {}", r.signature_root);
    println!("manifest hash   {}", r.manifest_hash);
    println!("license         {}", r.license.as_deref().unwrap_or("-"));
    println!("consent         {}", r.consent.as_deref().unwrap_or("-"));
}

fn add(home: &Path, a: AddArgs, json: bool) -> Result<()> {
    let format = match a.format.as_deref() {
        None => match Format::guess(&a.path) {
            Format::Jsonl(_) => Format::Jsonl(JsonlOptions {
                text_field: a.text_field.clone(),
                id_field: a.id_field.clone().unwrap_or_else(|| "id".into()),
                ..Default::default()
            }),
            Format::Parquet { .. } => Format::Parquet {
                text: a.text_field.clone(),
                id: a.id_field.clone(),
            },
            f => f,
        },
        Some("jsonl") => Format::Jsonl(JsonlOptions {
            text_field: a.text_field.clone(),
            id_field: a.id_field.clone().unwrap_or_else(|| "id".into()),
            ..Default::default()
        }),
        Some("parquet") => Format::Parquet {
            text: a.text_field.clone(),
            id: a.id_field.clone(),
        },
        Some("text") => Format::Text,
        Some("binary") => Format::Binary,
        Some(other) => anyhow::bail!("unknown format {other:?} (jsonl, parquet, text, binary)"),
    };
    let r = ingest::add(
        home,
        &a.path,
        &format,
        &AddOptions {
            license: a.license,
            consent: a.consent,
        },
        &Profile::text_v1(),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_registration(&r.registration);
        println!("manifest        {}", r.manifest_path.display());
        println!(
            "input records   {}  new chunks {}  known chunks {}",
            r.input_records, r.new_chunks, r.known_chunks
        );
    }
    Ok(())
}

fn dedup(a: DedupArgs, json: bool) -> Result<()> {
    let profile = Profile::by_name(&a.profile)?;
    let threshold = a.threshold.unwrap_or(match a.tier {
        Tier::D => f64::from(profile.tier_d_threshold_milli) / 1000.0,
        Tier::L => f64::from(profile.tier_l_threshold_milli) / 1000.0,
    });
    let opts = JsonlOptions {
        text_field: a.text_field,
        id_field: a.id_field,
        max_record: a.max_record_bytes,
    };
    let total = std::fs::metadata(&a.input).map(|m| m.len()).unwrap_or(0);
    let pb = mycel_data::progress::bytes(total, "dedup");
    let res = dedup_jsonl(
        &a.input,
        &a.clusters,
        &opts,
        &profile,
        a.tier,
        threshold,
        &mut |b| pb.set_position(b),
    );
    pb.finish_and_clear();
    let s = res?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        eprintln!(
            "records {}  exact dups {}  near dups {}  clusters {}  {:.1} MB in {:.2} s = {:.1} MB/s  (tier {:?}, threshold {}, bands {})",
            s.records,
            s.exact_dups,
            s.near_dups,
            s.clusters,
            s.bytes as f64 / 1e6,
            s.seconds,
            s.mb_per_s,
            s.tier,
            s.threshold,
            s.banding
        );
    }
    Ok(())
}
