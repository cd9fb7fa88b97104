//! `mycel data …`: dataset dedup, ingest, proofs and benchmarks (thin glue over `mycel-data`).

use crate::glue::{block_on, client};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use mycel_data::{
    blobs::BlobStore,
    dedup::Tier,
    formats::{Inputs, ReadOptions},
    id::RecordId,
    ingest::{self, AddOptions, Format},
    jsonl::{DEFAULT_MAX_RECORD, JsonlOptions},
    manifest::{Manifest, Registration},
    profile::Profile,
    stages::{self, Shard},
    tree::Proof,
};
use mycel_node::{
    Home,
    services::{self, accounts},
    types::{Amount, Hash},
};
use std::path::PathBuf;

/// `mycel data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCmd {
    /// Cluster records by exact and near duplication: JSONL files, Parquet files or folders,
    /// Hugging Face `datasets` folders (`save_to_disk` or hub snapshot); `--clusters` gets one
    /// `{"id","cluster"}` line per record, or Parquet rows (doc, id, cluster, cluster_doc) when it
    /// ends in `.parquet`.
    Dedup(DedupArgs),
    /// The dedup pipeline as separate stages over Parquet stage files, for a scheduler to run
    /// (sign → candidates → verify → cluster); the result equals `data dedup`'s Parquet output.
    #[command(subcommand)]
    Stage(StageCmd),
    /// Ingest a JSONL/Parquet file, a Hugging Face `datasets` folder (or Parquet shards, or an
    /// Arrow file), a folder of text files or binary files: chunks into
    /// `$MYCEL_HOME/blobs`, a signed manifest into `$MYCEL_HOME/datasets`, IDs and signatures into
    /// the node's dedup indexes; with `--from`, register it on chain (`RegisterDataset`).
    Add(AddArgs),
    /// Challenge a dataset's novelty claim: find a record it claims as novel that an earlier
    /// registered dataset already holds byte for byte (`ChallengeNovelty`, two inclusion
    /// proofs), or else one that is a near duplicate of an earlier record, or of another record
    /// it claims (`ChallengeNearDuplicate`: both records revealed, the ledger recomputes their
    /// normalised shingle similarity).
    Challenge {
        /// The dataset whose claim is false: root (hex or CID) or manifest path.
        dataset: String,
        /// The earlier dataset holding the record: root or manifest path (default: search every
        /// dataset registered before it, for near duplicates).
        #[arg(long)]
        earlier: Option<String>,
        /// The record held byte for byte by `--earlier` (default: the first one found).
        #[arg(long, requires = "earlier")]
        record: Option<String>,
        /// Signing key (receives the challenger's share of the bond).
        #[arg(long)]
        from: String,
    },
    /// Check every registered novelty claim against everything registered before it (each
    /// dataset's records rebuilt from the published chunks, the earlier ones found through their
    /// published signature tables); with `--from`, challenge each false claim.
    Audit {
        /// Signing key: challenge the false claims found (the challenger's share of each bond).
        #[arg(long)]
        from: Option<String>,
    },
    /// Register an already ingested dataset on chain (e.g. after `data add` without `--from`).
    Register {
        /// Dataset root (hex or CID) or manifest path.
        dataset: String,
        #[command(flatten)]
        reg: RegisterArgs,
    },
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
    /// Versioned-data benchmark: bytes of a new file tree already stored from an old one
    /// (chunking within files), beside stream CDC over the two archives.
    Versioned {
        /// Old version (folder).
        old: PathBuf,
        /// New version (folder).
        new: PathBuf,
        /// The old version's archive (e.g. `.tar`), for the stream-CDC comparison.
        #[arg(long, requires = "new_archive")]
        old_archive: Option<PathBuf>,
        /// The new version's archive.
        #[arg(long, requires = "old_archive")]
        new_archive: Option<PathBuf>,
    },
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
    /// Format: jsonl, parquet, dataset (a Hugging Face `datasets` folder, Parquet shards or an
    /// Arrow file), text, binary (default: from the extension or the folder's contents).
    #[arg(long)]
    format: Option<String>,
    /// Text field (JSONL) or column (Parquet).
    #[arg(long, default_value = "text")]
    text_field: String,
    /// ID field (JSONL) or column (Parquet); default: the line or row number.
    #[arg(long)]
    id_field: Option<String>,
    /// SPDX licence expression.
    #[arg(long)]
    license: Option<String>,
    /// Consent flags, comma-separated: `train` (alias `tdm-allowed`), `commercial`,
    /// `redistribute`, `all`, `none`.
    #[arg(long)]
    consent: Option<String>,
    /// A dataset this one derives from (root, hex or CID); repeatable.
    #[arg(long = "parent")]
    parents: Vec<String>,
    /// Claim novelty against this home's own memory only, not against the signature tables of
    /// every dataset registered on the network (a claim anyone can then challenge).
    #[arg(long)]
    no_network_check: bool,
    #[command(flatten)]
    reg: RegisterArgs,
}

/// How a dataset is registered on chain.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// Key that signs the manifest and the `RegisterDataset` transaction (`data add` without it
    /// ingests locally only).
    #[arg(long)]
    from: Option<String>,
    /// Bond behind the novelty claim, taken by a successful challenger, e.g. `10` (MYC).
    #[arg(long, default_value = "10")]
    bond: Amount,
    /// Fee (default: the chain minimum).
    #[arg(long)]
    fee: Option<Amount>,
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
    /// Inputs, in record order: JSONL or Parquet files, folders of Parquet files, Hugging Face
    /// `datasets` folders.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output: JSONL of `{"id": …, "cluster": <id of the representative>}`, or Parquet when it
    /// ends in `.parquet`.
    #[arg(long)]
    clusters: PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

/// What a dedup run is computed with (recorded in every stage file).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Jaccard threshold (default: 0.8 for tier d, 0.4 for tier l).
    #[arg(long)]
    threshold: Option<f64>,
    /// Tier: `d` (removal) or `l` (lineage).
    #[arg(long, default_value = "d")]
    tier: Tier,
    /// Field (column) with the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Field (column) with the record ID; empty: the line number (JSONL) or doc number.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Largest accepted record (a JSONL line, a text), bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_RECORD)]
    max_record_bytes: usize,
    /// Dedup profile.
    #[arg(long, default_value = "mycel-text/v1")]
    profile: String,
}

impl RunArgs {
    fn resolve(self) -> Result<(Profile, f64, ReadOptions)> {
        let profile = Profile::by_name(&self.profile)?;
        let threshold = self.threshold.unwrap_or(match self.tier {
            Tier::D => f64::from(profile.tier_d_threshold_milli) / 1000.0,
            Tier::L => f64::from(profile.tier_l_threshold_milli) / 1000.0,
        });
        let opts = ReadOptions {
            text_field: self.text_field,
            id_field: self.id_field,
            max_record: self.max_record_bytes,
        };
        Ok((profile, threshold, opts))
    }
}

/// `mycel data stage` subcommands: each a pure function of its inputs.
#[derive(Subcommand, Debug)]
pub enum StageCmd {
    /// Sign every n-th input unit (Parquet row group, or whole JSONL/Arrow file) from the i-th:
    /// writes OUT/sigs-I-of-N.parquet.
    Sign {
        /// Inputs, exactly as `data dedup` takes them (the same list for every shard).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// This shard, `i/n`.
        #[arg(long, default_value = "0/1")]
        shard: Shard,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Candidate pairs of the g-th of G groups of bands, from all signature shards: writes
    /// OUT/candidates-G-of-N.parquet.
    Candidates {
        /// Folder of the signature shards.
        #[arg(long)]
        sigs: PathBuf,
        /// This band group, `g/G`.
        #[arg(long, default_value = "0/1")]
        bands: Shard,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Exact verification of the i-th of n shares of all candidate pairs, re-reading texts from
    /// the inputs: writes OUT/verified-I-of-N.parquet.
    Verify {
        /// Folder of the candidate files.
        #[arg(long)]
        candidates: PathBuf,
        /// The inputs given to `stage sign`.
        #[arg(long, num_args = 1.., required = true)]
        inputs: Vec<PathBuf>,
        /// This shard, `i/n`.
        #[arg(long, default_value = "0/1")]
        shard: Shard,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Clusters from the signature shards and verified edges: writes OUT (`.parquet`), as
    /// `data dedup --clusters OUT.parquet` does.
    Cluster {
        /// Folder of the signature shards.
        #[arg(long)]
        sigs: PathBuf,
        /// Folder of the verified edges.
        #[arg(long)]
        verified: PathBuf,
        /// Output file (`.parquet`).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs a `mycel data` subcommand.
pub fn run(node_home: &Home, api: Option<&str>, cmd: DataCmd, json: bool) -> Result<()> {
    let home = node_home.path();
    match cmd {
        DataCmd::Dedup(a) => dedup(a, json),
        DataCmd::Stage(c) => stage(c, json),
        DataCmd::Add(a) => add(node_home, api, a, json),
        DataCmd::Challenge {
            dataset,
            earlier,
            record,
            from,
        } => block_on(challenge(
            node_home,
            api,
            &dataset,
            earlier.as_deref(),
            record.as_deref(),
            &from,
            json,
        )),
        DataCmd::Audit { from } => block_on(audit(node_home, api, from.as_deref(), json)),
        DataCmd::Register { dataset, reg } => {
            let m = ingest::load_manifest(home, &dataset)?;
            m.verify()?;
            let Some(from) = reg.from.as_deref() else {
                bail!("--from KEY is required to register a dataset");
            };
            block_on(async {
                let done = register(node_home, api, &m, from, &reg, json).await?;
                if json {
                    println!("{done}");
                }
                Ok(())
            })
        }
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
            let store = BlobStore::open(ingest::blobs_dir(home))?;
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
        DataCmd::Bench(a) => Ok(mycel_bench::data::run(&mycel_bench::data::BenchOptions {
            chunk_mib: a.chunk_mib,
            sources: a.sources,
            negatives: a.negatives,
            words: a.words,
            ..Default::default()
        })?),
        DataCmd::Versioned {
            old,
            new,
            old_archive,
            new_archive,
        } => {
            let archives = old_archive.as_deref().zip(new_archive.as_deref());
            let r = mycel_data::versioned::measure(&old, &new, archives)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            println!("{:<60} {:>14}", "figure", "value");
            println!(
                "{:<60} {:>14}",
                "files old / new",
                format!("{} / {}", r.old_files, r.new_files)
            );
            println!(
                "{:<60} {:>14.1}",
                "new version, MB",
                r.new_bytes as f64 / 1e6
            );
            println!(
                "{:<60} {:>13.2}%",
                "already present, chunking within files (mycel)",
                100.0 * r.known_share()
            );
            println!("{:<60} {:>14}", "  target", ">= 93%");
            println!(
                "{:<60} {:>13.2}%",
                "  of which byte-identical files",
                100.0 * r.identical_file_bytes as f64 / r.new_bytes.max(1) as f64
            );
            println!("{:<60} {:>14}", "new chunks stored", r.new_chunks);
            if archives.is_some() {
                println!(
                    "{:<60} {:>13.2}%",
                    "already present, stream CDC over the archive (peer)",
                    100.0 * r.stream_known_share()
                );
                println!(
                    "{:<60} {:>13.1}x",
                    "  mycel / stream CDC",
                    r.known_share() / r.stream_known_share().max(1e-9)
                );
            }
            println!("{:<60} {:>14.1}", "seconds (both trees)", r.seconds);
            Ok(())
        }
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
    Ok(services::data::parse_root(s)?)
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
    println!("novel root      {}", r.novel_root);
    println!("novel bytes     {}", r.novel_bytes);
    println!("profile id      {}", r.profile_id);
    println!("signature root  {}", r.signature_root);
    println!("manifest hash   {}", r.manifest_hash);
    println!("license         {}", r.license.as_deref().unwrap_or("-"));
    println!("consent         {}", r.consent.as_deref().unwrap_or("-"));
    for p in &r.parents {
        println!("parent          {p}");
    }
}

/// Builds and submits a novelty challenge: exact when `earlier` holds a claimed record byte for
/// byte (or `record` names one), else near-duplicate.
async fn challenge(
    home: &Home,
    api: Option<&str>,
    dataset: &str,
    earlier: Option<&str>,
    record: Option<&str>,
    from: &str,
    json: bool,
) -> Result<()> {
    let c = client(home, api)?;
    let key = accounts::key(home, from)?;
    let exact = match earlier {
        Some(e) => match services::data::challenge(home, &c, &key, dataset, e, record).await {
            Ok(done) => Some(done),
            // No byte-identical record: look for a near duplicate instead.
            Err(err) if record.is_none() && err.to_string().contains("no record claimed novel") => {
                None
            }
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let done = match exact {
        Some(d) => d,
        None => services::data::challenge_near(home, &c, &key, dataset, earlier).await?,
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"dataset": done.dataset, "record": done.record, "reward": done.reward, "tx": done.sent.hash})
        );
    } else {
        println!(
            "finalized {} at height {}",
            done.sent.hash, done.sent.height
        );
        println!(
            "novelty claim of {} defeated with record {}; reward {} base units",
            done.dataset, done.record, done.reward
        );
    }
    Ok(())
}

/// `mycel data audit`: every open novelty claim, checked; false ones challenged with `from`.
async fn audit(home: &Home, api: Option<&str>, from: Option<&str>, json: bool) -> Result<()> {
    let c = client(home, api)?;
    let key = from.map(|f| accounts::key(home, f)).transpose()?;
    let mut verdicts = Vec::new();
    for ds in services::data::registered(&c).await? {
        let r = &ds.registration;
        if ds.challenged || r.novel_records == 0 {
            continue;
        }
        let root = r.root.to_hex();
        let v = match services::data::find_near_duplicate(home, &c, &root, None).await {
            Err(e) => {
                serde_json::json!({"dataset": root, "verdict": "unchecked", "why": e.to_string()})
            }
            Ok(None) => {
                serde_json::json!({"dataset": root, "verdict": "holds", "novel_records": r.novel_records})
            }
            Ok(Some(found)) => {
                let mut v = serde_json::json!({
                    "dataset": root,
                    "verdict": "false",
                    "record": found.record,
                    "earlier": found.earlier,
                    "earlier_record": found.earlier_record,
                    "shared_shingles": found.similarity.inter,
                    "all_shingles": found.similarity.union,
                });
                if let Some(key) = &key {
                    let sent = c
                        .send(key, found.msg, &mycel_node::client::SendOptions::default())
                        .await?;
                    v["challenge_tx"] = serde_json::json!(sent.hash);
                }
                v
            }
        };
        if !json {
            match v["verdict"].as_str() {
                Some("false") => println!(
                    "FALSE   {root}: record {} is a near duplicate of {} in {} ({}/{} shingles){}",
                    v["record"].as_str().unwrap_or_default(),
                    v["earlier_record"].as_str().unwrap_or_default(),
                    v["earlier"].as_str().unwrap_or_default(),
                    v["shared_shingles"],
                    v["all_shingles"],
                    v["challenge_tx"]
                        .as_str()
                        .map(|t| format!("; challenged in {t}"))
                        .unwrap_or_default()
                ),
                Some("holds") => println!("holds   {root} ({} novel records)", r.novel_records),
                _ => println!(
                    "UNCHECKED {root}: {}",
                    v["why"].as_str().unwrap_or_default()
                ),
            }
        }
        verdicts.push(v);
    }
    if json {
        println!("{}", serde_json::Value::Array(verdicts));
    }
    Ok(())
}

/// Publishes the manifest, submits `RegisterDataset` for `m` from key `from` and waits for
/// finality; returns `{"root", "tx", "height"}`.
async fn register(
    home: &Home,
    api: Option<&str>,
    m: &Manifest,
    from: &str,
    reg: &RegisterArgs,
    json: bool,
) -> Result<serde_json::Value> {
    let key = accounts::key(home, from)?;
    let c = client(home, api)?;
    let sent = services::data::register(home, &c, &key, m, reg.bond, reg.fee)
        .await
        .with_context(|| {
            format!(
                "dataset {} is ingested locally but not registered; retry with `mycel data register {} --from {from}`",
                m.root, m.root
            )
        })?;
    if !json {
        println!("finalized {} at height {}", sent.hash, sent.height);
        println!(
            "registered dataset {} on chain (novel bytes claimed: {}, bond {})",
            m.root, m.novel_bytes, reg.bond
        );
    }
    Ok(serde_json::json!({"root": m.root, "tx": sent.hash, "height": sent.height}))
}

fn add(node_home: &Home, api: Option<&str>, a: AddArgs, json: bool) -> Result<()> {
    let home = node_home.path();
    // Everything that can be refused is checked before anything is written.
    services::data::consent_flags(a.consent.as_deref())?;
    let parents = a
        .parents
        .iter()
        .map(|p| parse_root(p))
        .collect::<Result<Vec<_>>>()?;
    if parents.len() > services::data::MAX_PARENTS {
        bail!("at most {} parents", services::data::MAX_PARENTS);
    }
    let mut known = Vec::new();
    let signer = match a.reg.from.as_deref() {
        Some(_) if a.license.as_deref().is_none_or(str::is_empty) => {
            bail!("--license SPDX is required to register a dataset (the ledger records it)")
        }
        Some(from) => {
            let key = accounts::key(node_home, from)?;
            // Fail before ingesting if the node cannot take the registration.
            block_on(async {
                let c = client(node_home, api)?;
                c.status()
                    .await
                    .context("the node's API is needed to register (or leave out --from)")?;
                if !a.no_network_check {
                    let net = services::data::network_signatures(&c, &Profile::text_v1()).await?;
                    for (root, why) in &net.skipped {
                        eprintln!("warning: dataset {root} left out of the novelty check: {why}");
                    }
                    eprintln!(
                        "novelty checked against {} records of {} registered datasets",
                        net.rows.len(),
                        net.datasets
                    );
                    known = net.rows;
                }
                Ok(())
            })?;
            Some(key)
        }
        None => None,
    };
    let format = match a.format.as_deref() {
        None => match Format::guess(&a.path) {
            Format::Jsonl(_) => Format::Jsonl(JsonlOptions {
                text_field: a.text_field.clone(),
                id_field: a.id_field.clone().unwrap_or_default(),
                ..Default::default()
            }),
            Format::Parquet { .. } => Format::Parquet {
                text: a.text_field.clone(),
                id: a.id_field.clone(),
            },
            Format::Dataset(_) => Format::Dataset(JsonlOptions {
                text_field: a.text_field.clone(),
                id_field: a.id_field.clone().unwrap_or_default(),
                ..Default::default()
            }),
            f => f,
        },
        Some("jsonl") => Format::Jsonl(JsonlOptions {
            text_field: a.text_field.clone(),
            id_field: a.id_field.clone().unwrap_or_default(),
            ..Default::default()
        }),
        Some("parquet") => Format::Parquet {
            text: a.text_field.clone(),
            id: a.id_field.clone(),
        },
        Some("dataset" | "hf") => Format::Dataset(JsonlOptions {
            text_field: a.text_field.clone(),
            id_field: a.id_field.clone().unwrap_or_default(),
            ..Default::default()
        }),
        Some("text") => Format::Text,
        Some("binary") => Format::Binary,
        Some(other) => {
            anyhow::bail!("unknown format {other:?} (jsonl, parquet, dataset, text, binary)")
        }
    };
    let pb = mycel_data::progress::bytes(ingest::input_size(&a.path)?, "ingest");
    let r = ingest::add(
        home,
        &a.path,
        &format,
        &AddOptions {
            license: a.license,
            consent: a.consent,
            parents,
            signer,
            progress: Some(pb.clone()),
            known,
        },
        &Profile::text_v1(),
    );
    pb.finish_and_clear();
    let r = r?;
    if !json {
        print_registration(&r.registration);
        println!("manifest        {}", r.manifest_path.display());
        println!(
            "input records   {}  new chunks {}  known chunks {}",
            r.input_records, r.new_chunks, r.known_chunks
        );
    }
    let registered = match a.reg.from.as_deref() {
        Some(from) => {
            let m = ingest::load_manifest(home, &r.manifest_path.to_string_lossy())?;
            let mut done = serde_json::Value::Null;
            block_on(async {
                done = register(node_home, api, &m, from, &a.reg, json).await?;
                Ok(())
            })?;
            done
        }
        None => {
            if !json {
                eprintln!(
                    "not registered on chain: pass --from KEY, or run `mycel data register {} --from KEY`",
                    r.registration.root
                );
            }
            serde_json::Value::Null
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"ingest": r, "registered": registered})
        );
    }
    Ok(())
}

fn dedup(a: DedupArgs, json: bool) -> Result<()> {
    let tier = a.run.tier;
    let (profile, threshold, opts) = a.run.resolve()?;
    let inputs = Inputs::resolve(&a.inputs, opts)?;
    let pb = mycel_data::progress::bytes(inputs.total_bytes(), "dedup");
    let res = stages::dedup_inputs(&inputs, &a.clusters, &profile, tier, threshold, &mut |b| {
        pb.set_position(b)
    });
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

fn stage(cmd: StageCmd, json: bool) -> Result<()> {
    let summary = match cmd {
        StageCmd::Sign {
            inputs,
            shard,
            out,
            run,
        } => {
            let tier = run.tier;
            let (profile, threshold, opts) = run.resolve()?;
            let inputs = Inputs::resolve(&inputs, opts)?;
            let pb = mycel_data::progress::bytes(inputs.total_bytes(), "sign");
            let r = stages::sign(&inputs, &profile, tier, threshold, shard, &out, &mut |b| {
                pb.inc(b)
            });
            pb.finish_and_clear();
            serde_json::to_value(r?)?
        }
        StageCmd::Candidates { sigs, bands, out } => {
            serde_json::to_value(stages::candidates(&sigs, bands, &out)?)?
        }
        StageCmd::Verify {
            candidates,
            inputs,
            shard,
            out,
        } => serde_json::to_value(stages::verify(&candidates, &inputs, shard, &out)?)?,
        StageCmd::Cluster {
            sigs,
            verified,
            out,
        } => serde_json::to_value(stages::cluster(&sigs, &verified, &out)?)?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprintln!("{summary}");
    }
    Ok(())
}
