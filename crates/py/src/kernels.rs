//! The batch kernels behind the Python functions, in plain Rust (no Python objects): signatures
//! of a text column as Arrow columns, and the CLI's two-pass dedup with per-record evidence.

use crate::{
    error::{Error, Result},
    profiles::{ProfileInfo, with_signer},
    text::TextColumn,
};
use arrow_array::{
    ArrayRef, FixedSizeBinaryArray, FixedSizeListArray, UInt32Array, types::UInt32Type,
};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field};
use mycel_data::{
    batch::{self, BatchDeduper, BatchStats},
    dedup::Tier,
    id::norm_id,
    minhash::K,
    normalize::normalize_into,
    profile::Banding,
};
use std::sync::Arc;

/// Schema metadata key naming the profile of a signature table.
pub const META_PROFILE: &str = "mycel.profile";
/// Schema metadata key holding the profile ID (hex) of a signature table.
pub const META_ALGORITHM: &str = "mycel.algorithm_version";

/// The Arrow type of a signature: `FixedSizeList<UInt32, K>`.
pub fn signature_type() -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new("item", DataType::UInt32, false)),
        K as i32,
    )
}

/// Signature columns of one batch of texts: `signature`, `norm_id`, `shingles`.
pub fn sign_chunk(p: &'static ProfileInfo, texts: &[&str]) -> Result<[ArrayRef; 3]> {
    let profile_id = p.profile.id();
    let mut sigs = Vec::with_capacity(texts.len() * K);
    let mut ids = Vec::with_capacity(texts.len() * 32);
    let mut shingles = Vec::with_capacity(texts.len());
    with_signer(p, |signer, norm| {
        let mut sig = [0u32; K];
        for t in texts {
            normalize_into(t, norm);
            shingles.push(signer.sign(norm, &mut sig) as u32);
            sigs.extend_from_slice(&sig);
            ids.extend_from_slice(norm_id(&profile_id, norm).0.as_bytes());
        }
    });
    let DataType::FixedSizeList(item, _) = signature_type() else {
        unreachable!("a fixed-size list type")
    };
    let values = Arc::new(UInt32Array::from(sigs));
    let signature = FixedSizeListArray::try_new(item, K as i32, values, None)?;
    let norm_ids = FixedSizeBinaryArray::try_new(32, Buffer::from_vec(ids), None)?;
    Ok([
        Arc::new(signature),
        Arc::new(norm_ids),
        Arc::new(arrow_array::PrimitiveArray::<UInt32Type>::from(shingles)),
    ])
}

/// One removed record's evidence: the exact Jaccard of its shingle set with its
/// representative's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The record's row.
    pub row: u32,
    /// Its representative's row (the earliest row of its cluster).
    pub rep: u32,
    /// Exact word-shingle Jaccard of the two normalised texts.
    pub jaccard: f64,
    /// Whether the two normalised texts are equal (an exact duplicate).
    pub exact: bool,
}

/// The outcome of [`dedup`].
#[derive(Debug, Clone)]
pub struct DedupOutput {
    /// Representative row of every row.
    pub reps: Vec<u32>,
    /// One entry per row that is not its own representative, in row order.
    pub evidence: Vec<Evidence>,
    /// Counters of the batch run.
    pub stats: BatchStats,
    /// Banding used.
    pub banding: Banding,
    /// Threshold used.
    pub threshold: f64,
}

/// The profile's default exact Jaccard threshold of `tier` (0.8 for Tier D, 0.4 for Tier L under
/// `mycel-text/v1`): what the CLI uses without `--threshold`.
pub fn default_threshold(p: &ProfileInfo, tier: Tier) -> f64 {
    f64::from(match tier {
        Tier::D => p.profile.tier_d_threshold_milli,
        Tier::L => p.profile.tier_l_threshold_milli,
    }) / 1000.0
}

/// Runs the two-pass [`BatchDeduper`] that `mycel data dedup` runs (record `i` = row `i`,
/// re-read from the column), then computes each removed row's exact Jaccard against its
/// representative. `threshold` `None` is the tier's default of the profile.
pub fn dedup(
    p: &'static ProfileInfo,
    tier: Tier,
    threshold: Option<f64>,
    texts: &TextColumn,
) -> Result<DedupOutput> {
    let threshold = threshold.unwrap_or_else(|| default_threshold(p, tier));
    if u32::try_from(texts.len()).is_err() {
        return Err(Error::Param(format!("{} rows is too many", texts.len())));
    }
    let mut d = BatchDeduper::new(&p.profile, tier, threshold)?;
    for (i, t) in texts.iter().enumerate() {
        d.push(t, i as u64)?;
    }
    let res = d.finish(&mut { texts })?;
    // The engine's own verification is the evidence: no text is shingled twice.
    let evidence = res
        .evidence
        .iter()
        .map(|&(row, why)| Evidence {
            row,
            rep: res.reps[row as usize],
            jaccard: match why {
                batch::Evidence::Exact => 1.0,
                batch::Evidence::Near(s) => s.jaccard(),
            },
            exact: why == batch::Evidence::Exact,
        })
        .collect();
    Ok(DedupOutput {
        reps: res.reps,
        evidence,
        stats: res.stats,
        banding: res.banding,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::{lookup, sign_text};
    use arrow_array::{Array, RecordBatch, StringArray};
    use arrow_schema::Schema;

    fn column(texts: &[&str]) -> (Arc<Schema>, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
        let half = texts.len() / 2;
        let batches = [&texts[..half], &texts[half..]]
            .iter()
            .map(|c| {
                RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(StringArray::from(c.to_vec()))],
                )
                .unwrap()
            })
            .collect();
        (schema, batches)
    }

    fn words(seed: u64, n: usize) -> Vec<String> {
        let mut s = seed;
        (0..n)
            .map(|_| format!("w{}", mycel_data::minhash::splitmix64(&mut s) % 5000))
            .collect()
    }

    #[test]
    fn dedup_matches_dedup_texts_and_gives_evidence() {
        let p = lookup("mycel-text/v1").unwrap();
        let a = words(1, 300);
        let mut near = a.clone();
        near[100] = "changed".into();
        let docs = [
            a.join(" "),
            words(2, 300).join(" "),
            a.join("  ").to_uppercase(),
            near.join(" "),
            "!!!".to_string(),
            "???".to_string(),
        ];
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let (s, b) = column(&refs);
        let col = TextColumn::new(&s, &b, "text").unwrap();
        let out = dedup(p, Tier::D, None, &col).unwrap();
        let want = mycel_data::batch::dedup_texts(&p.profile, Tier::D, 0.8, &refs).unwrap();
        assert_eq!(out.reps, want.reps);
        assert_eq!(out.reps, vec![0, 1, 0, 0, 4, 4]);
        assert_eq!(out.threshold, 0.8);
        let ev: Vec<(u32, u32, bool)> = out
            .evidence
            .iter()
            .map(|e| (e.row, e.rep, e.exact))
            .collect();
        assert_eq!(ev, vec![(2, 0, true), (3, 0, false), (5, 4, true)]);
        assert_eq!(out.evidence[0].jaccard, 1.0);
        assert!(out.evidence[1].jaccard > 0.9 && out.evidence[1].jaccard < 1.0);
    }

    #[test]
    fn chunk_signatures_match_sign_text() {
        let p = lookup("mycel-text/v1").unwrap();
        let texts = ["the quick brown fox jumps over the lazy dog", ""];
        let [sig, ids, n] = sign_chunk(p, &texts).unwrap();
        let sig = sig.as_any().downcast_ref::<FixedSizeListArray>().unwrap();
        let first = sig.value(0);
        let first = first.as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!(first.values().as_ref(), &sign_text(p, texts[0]).0[..]);
        assert_eq!(ids.len(), 2);
        let n = n.as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!(n.values().as_ref(), &[5, 0]);
    }
}
