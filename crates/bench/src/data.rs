//! `mycel data bench`: chunk-ID pipeline against the raw FastCDC + BLAKE3 ceiling, near-dup
//! signature throughput, dedup quality per Jaccard band on a labelled synthetic corpus, and index
//! memory, all measured in the same run. [`scale`] is `mycel bench data`: the engine beside rensa,
//! datasketch and the Python wheel on the same input, quality on corpora we did not make, and the
//! two-core scaling.

pub mod corpus;
pub mod peers;
pub mod scale;
pub mod truth;

use mycel_data::{
    Result,
    batch::{BatchStats, dedup_texts},
    dedup::Tier,
    exact::ExactIndex,
    id::{CDC_AVG, CDC_MAX, CDC_MIN, blob_hash, chunk_record, raw_id, raw_id_from_chunks},
    minhash::{K, Signer, exact_jaccard},
    normalize::{normalize, normalize_into},
    profile::Profile,
    synth::{self, Corpus},
};
use std::{collections::HashMap, time::Instant};

/// Options of the data benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// MiB of binary data for the chunk-ID pipeline.
    pub chunk_mib: usize,
    /// Source documents of the labelled corpus (each gets one variant).
    pub sources: usize,
    /// Unrelated negatives in the labelled corpus.
    pub negatives: usize,
    /// Words per document.
    pub words: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            chunk_mib: 256,
            sources: 9_000,
            negatives: 9_000,
            words: 500,
            seed: 7,
        }
    }
}

/// Quality of one dedup run on a labelled corpus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Quality {
    /// `(band low, band high, labelled pairs, recalled)` per Jaccard band.
    pub bands: Vec<(f64, f64, usize, usize)>,
    /// Recall over labelled pairs with J ≥ threshold.
    pub recall_at_threshold: f64,
    /// Predicted same-cluster pairs.
    pub predicted_pairs: usize,
    /// Share of predicted pairs with exact J ≥ threshold − 0.1.
    pub precision: f64,
    /// Share of predicted pairs with exact J ≥ threshold (strict).
    pub precision_strict: f64,
    /// Recall of byte-identical copies.
    pub exact_copy_recall: f64,
    /// Counters of the batch run.
    pub stats: BatchStats,
}

/// Runs `tier` at `threshold` over `corpus` with the batch path and scores it.
pub fn quality(profile: &Profile, corpus: &Corpus, tier: Tier, threshold: f64) -> Result<Quality> {
    let res = dedup_texts(profile, tier, threshold, &corpus.docs)?;
    let reps = &res.reps;
    let edges: [f64; 9] = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001];
    let mut bands: Vec<(f64, f64, usize, usize)> = edges
        .windows(2)
        .map(|w| (w[0], w[1].min(1.0), 0, 0))
        .collect();
    let (mut at_t, mut at_t_hit, mut copies, mut copies_hit) = (0, 0, 0, 0);
    for p in &corpus.pairs {
        let hit = reps[p.source] == reps[p.variant];
        let b = edges
            .windows(2)
            .position(|w| p.jaccard >= w[0] && p.jaccard < w[1])
            .unwrap_or(0);
        bands[b].2 += 1;
        bands[b].3 += usize::from(hit);
        if p.jaccard >= threshold {
            at_t += 1;
            at_t_hit += usize::from(hit);
        }
        if p.edit == synth::Edit::ExactCopy {
            copies += 1;
            copies_hit += usize::from(hit);
        }
    }
    let mut clusters: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in reps.iter().enumerate() {
        clusters.entry(*r).or_default().push(i);
    }
    let norm: Vec<String> = corpus.docs.iter().map(|d| normalize(d)).collect();
    let (mut predicted, mut ok, mut ok_strict) = (0, 0, 0);
    for members in clusters.values().filter(|m| m.len() > 1) {
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                let j = exact_jaccard(profile, &norm[a], &norm[b]);
                predicted += 1;
                ok += usize::from(j >= threshold - 0.1);
                ok_strict += usize::from(j >= threshold);
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Ok(Quality {
        bands,
        recall_at_threshold: ratio(at_t_hit, at_t),
        predicted_pairs: predicted,
        precision: ratio(ok, predicted),
        precision_strict: ratio(ok_strict, predicted),
        exact_copy_recall: ratio(copies_hit, copies),
        stats: res.stats,
    })
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&mycel_data::minhash::splitmix64(&mut s).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Writes `corpus` to a temporary JSONL file and times [`mycel_data::jsonl::dedup_jsonl`] on it (tier D at
/// 0.8): MB/s over the file's bytes, and the bytes.
fn jsonl_end_to_end(profile: &Profile, corpus: &Corpus) -> Result<(f64, u64)> {
    let dir = std::env::temp_dir();
    let input = dir.join(format!("mycel-bench-{}.jsonl", std::process::id()));
    let output = dir.join(format!("mycel-bench-{}.clusters.jsonl", std::process::id()));
    let run = || -> Result<(f64, u64)> {
        let mut body = String::new();
        for (i, d) in corpus.docs.iter().enumerate() {
            body.push_str(&serde_json::json!({"id": i, "text": d}).to_string());
            body.push('\n');
        }
        std::fs::write(&input, body).map_err(mycel_data::error::io(&input))?;
        let t = Instant::now();
        let s = mycel_data::jsonl::dedup_jsonl(
            &input,
            &output,
            &mycel_data::jsonl::JsonlOptions::default(),
            profile,
            Tier::D,
            0.8,
            &mut |_| {},
        )?;
        Ok((s.bytes as f64 / 1e6 / t.elapsed().as_secs_f64(), s.bytes))
    };
    let r = run();
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    r
}

fn row(name: &str, value: String) {
    println!("{name:<64} {value:>14}");
}

/// Runs the benchmark and prints its report.
pub fn run(opts: &BenchOptions) -> Result<()> {
    let profile = Profile::text_v1();
    println!(
        "mycel data bench: one thread; chunk pipeline over {} MiB, corpus of {} sources + {} variants + {} negatives of ~{} words",
        opts.chunk_mib, opts.sources, opts.sources, opts.negatives, opts.words
    );
    println!();
    row("figure", "value".into());

    // 1. Chunk IDs: large records (8 MiB each) cut by FastCDC; ceiling is CDC + BLAKE3 per chunk.
    let data = pseudo_random(opts.chunk_mib << 20, opts.seed);
    let rec = 8 << 20;
    let t = Instant::now();
    let mut sink = 0u8;
    for r in data.chunks(rec) {
        for c in
            fastcdc::v2020::FastCDC::new(r, CDC_MIN as usize, CDC_AVG as usize, CDC_MAX as usize)
        {
            sink ^= blob_hash(&r[c.offset..c.offset + c.length]).0[0];
        }
    }
    let ceiling = data.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    let t = Instant::now();
    for r in data.chunks(rec) {
        let chunks = chunk_record(r);
        sink ^= raw_id_from_chunks(r.len() as u64, &chunks).0.0[0];
    }
    let ours = data.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    row(
        "chunk::ceiling/fastcdc+blake3, GB/s",
        format!("{ceiling:.2}"),
    );
    row(
        "chunk::record_id/record=8MiB (cdc+blake3+merkle+id), GB/s",
        format!("{ours:.2}"),
    );
    row("  target", ">= 1.5".into());
    row("  of ceiling", format!("{:.2}", ours / ceiling));
    // Small records: one chunk each.
    let small = &data[..data.len().min(64 << 20)];
    let t = Instant::now();
    for r in small.chunks(4096) {
        sink ^= blob_hash(r).0[0];
    }
    let small_ceiling = small.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    let t = Instant::now();
    for r in small.chunks(4096) {
        sink ^= raw_id(r).0.0[0];
    }
    let small_ours = small.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    row(
        "chunk::ceiling/blake3 record=4KiB, GB/s",
        format!("{small_ceiling:.2}"),
    );
    row(
        "chunk::record_id/record=4KiB, GB/s",
        format!("{small_ours:.2}"),
    );
    drop(data);

    // 2. Signatures.
    let t = Instant::now();
    let corpus = synth::corpus(
        &profile,
        opts.sources,
        opts.negatives,
        opts.words,
        opts.seed,
    );
    let gen_s = t.elapsed().as_secs_f64();
    let bytes: usize = corpus.docs.iter().map(String::len).sum();
    let mut signer = Signer::new(&profile);
    let mut sig = [0u32; K];
    let mut norm = String::new();
    let t = Instant::now();
    let mut shingles = 0;
    for d in &corpus.docs {
        normalize_into(d, &mut norm);
        shingles += signer.sign(&norm, &mut sig);
        sink ^= sig[0] as u8;
    }
    let sig_s = t.elapsed().as_secs_f64();
    row(
        "minhash::sign/word5,k=128 (normalise+shingle+minhash), MB/s",
        format!("{:.1}", bytes as f64 / 1e6 / sig_s),
    );
    row("  target", ">= 25".into());
    row(
        "  ns per shingle x permutation",
        format!("{:.2}", sig_s * 1e9 / (shingles as f64 * K as f64)),
    );
    let t = Instant::now();
    let res = dedup_texts(&profile, Tier::D, 0.8, &corpus.docs)?;
    let dd_s = t.elapsed().as_secs_f64();
    sink ^= res.reps[res.reps.len() / 2] as u8;
    row(
        "dedup::tier=d end to end in memory (exact+sign+lsh+verify), MB/s",
        format!("{:.1}", bytes as f64 / 1e6 / dd_s),
    );
    match jsonl_end_to_end(&profile, &corpus) {
        Ok((mb_s, file_bytes)) => row(
            &format!(
                "dedup::tier=d JSONL file end to end ({:.0} MB incl. write), MB/s",
                file_bytes as f64 / 1e6
            ),
            format!("{mb_s:.1}"),
        ),
        Err(e) => row("dedup::tier=d JSONL file end to end", format!("error: {e}")),
    }
    let m = res.memory;
    let n = m.records as f64;
    row(
        "dedup::memory/band index (8 B x 16 bands + ~4 B locator), B/doc",
        format!("{:.1}", m.index_bytes_per_record()),
    );
    row("  target", "<= 136".into());
    row(
        "  per indexed doc (not exact dups; 8 B x 16 + ~4 B + slack)",
        format!(
            "{:.1}",
            (m.band_entries + m.locators) as f64 / m.indexed.max(1) as f64
        ),
    );
    row(
        "dedup::memory/8-bit prefilter signatures, B/doc",
        format!("{:.0}", m.signature_bytes_per_record()),
    );
    row(
        "dedup::memory/links 4 B + exact-dup map, B/doc",
        format!("{:.0}", (m.links + m.exact_map) as f64 / n),
    );
    row(
        "dedup::memory/candidate pairs peak, shingle cache peak, B/doc",
        format!(
            "{:.0} / {:.0}",
            m.pairs_peak as f64 / n,
            m.cache_peak as f64 / n
        ),
    );
    let s = res.stats;
    row(
        "dedup::pairs band/prefiltered out/verified exactly/united",
        format!(
            "{}/{}/{}/{}",
            s.band_pairs,
            s.prefiltered_out,
            s.candidates - s.skipped,
            s.verified
        ),
    );

    // 3. Quality.
    println!();
    println!(
        "quality on {} docs ({:.1} MB, generated in {gen_s:.1} s), labelled pairs by exact word-5-gram Jaccard:",
        corpus.docs.len(),
        bytes as f64 / 1e6
    );
    for (tier, t) in [(Tier::D, 0.8), (Tier::L, 0.4)] {
        let q = quality(&profile, &corpus, tier, t)?;
        println!("  tier {tier:?} at J >= {t}:");
        for (lo, hi, n, hit) in &q.bands {
            if *n > 0 {
                println!(
                    "    J in [{lo:.1}, {hi:.1}): {hit:>6} / {n:<6} recalled ({:.3})",
                    *hit as f64 / *n as f64
                );
            }
        }
        row(
            "    pair recall at J >= threshold",
            format!("{:.4}", q.recall_at_threshold),
        );
        row(
            "    pair precision (exact J >= threshold - 0.1)",
            format!("{:.4}", q.precision),
        );
        row(
            "    pair precision strict (exact J >= threshold)",
            format!("{:.4}", q.precision_strict),
        );
        row("    predicted pairs", format!("{}", q.predicted_pairs));
        row(
            "    exact-copy recall",
            format!("{:.4}", q.exact_copy_recall),
        );
    }

    // 4. Exact filter.
    let ids: Vec<_> = (0..1_000_000u32)
        .map(|i| raw_id(&i.to_le_bytes()))
        .collect();
    let t = Instant::now();
    let x = ExactIndex::in_memory(ids)?;
    let build = t.elapsed().as_secs_f64();
    let probes = 1_000_000u32..2_000_000;
    let t = Instant::now();
    let fp = probes
        .clone()
        .filter(|i| x.maybe_contains(&raw_id(&i.to_le_bytes())))
        .count();
    let q_s = t.elapsed().as_secs_f64();
    println!();
    row(
        "exact::filter/binaryfuse8, bits per ID (1M IDs)",
        format!("{:.2}", x.filter_bits_per_id()),
    );
    row("  target", "<= 10".into());
    row("  false-positive rate", format!("{:.4}", fp as f64 / 1e6));
    row(
        "  build s / queries per s (incl. ID hashing)",
        format!("{build:.2} / {:.0}", 1e6 / q_s),
    );
    std::hint::black_box(sink);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tier D quality targets on a labelled corpus: recall ≥ 0.95 at J ≥ 0.8, strict precision
    /// (exact J ≥ 0.8 for every predicted pair) ≥ 0.99.
    #[test]
    fn tier_d_meets_quality_targets() {
        let p = Profile::text_v1();
        let c = synth::corpus(&p, 900, 300, 300, 11);
        let q = quality(&p, &c, Tier::D, 0.8).unwrap();
        assert!(q.recall_at_threshold >= 0.95, "{q:?}");
        assert!(q.precision_strict >= 0.99, "{q:?}");
        assert!(q.precision >= 0.99, "{q:?}");
        assert_eq!(q.exact_copy_recall, 1.0);
        let l = quality(&p, &c, Tier::L, 0.4).unwrap();
        assert!(l.recall_at_threshold >= 0.85, "{l:?}");
    }
}
