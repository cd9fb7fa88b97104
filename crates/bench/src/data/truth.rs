//! Ground truth for a corpus nobody labelled, and the scores of a clustering against it.
//!
//! Records are taken after the profile's normalisation and collapsed to their distinct texts
//! (*uniques*); every pair below is a pair of uniques, so a thousand copies of one licence file
//! weigh as one text, and each engine is separately checked to keep exact copies together.
//!
//! Truth pairs without O(n²): candidates are the pairs sharing a band of a very permissive
//! banding ([`TRUTH_BANDS`] × [`TRUTH_ROWS`] over the same 128-value signatures), with a size
//! filter that cannot drop a true pair (J(A, B) ≤ min(|A|, |B|) / max(|A|, |B|)); every candidate
//! is checked on the exact shingle Jaccard. A pair at J ≥ 0.8 escapes the banding with
//! probability (1 − 0.8²)^64 ≈ 4·10⁻²⁹ ([`miss_probability`]).

use mycel_data::{
    minhash::{K, Signer, jaccard_sorted, shingle_vec},
    normalize::normalize_into,
    profile::Profile,
};
use std::collections::HashMap;

/// Bands of the truth banding.
pub const TRUTH_BANDS: usize = 64;
/// Rows per band of the truth banding.
pub const TRUTH_ROWS: usize = 2;

/// Probability that a pair at exact Jaccard `j` shares no band of the truth banding.
pub fn miss_probability(j: f64) -> f64 {
    (1.0 - j.powi(TRUTH_ROWS as i32)).powi(TRUTH_BANDS as i32)
}

/// The distinct normalised texts of a corpus, their shingle sets, and the pairs at or above the
/// threshold.
pub struct Truth {
    threshold: f64,
    /// Unique index of every record.
    unique_of: Vec<u32>,
    /// First record of every unique.
    first: Vec<u32>,
    /// Sorted shingle set of every unique.
    sets: Vec<Vec<u64>>,
    /// Truth pairs `(a << 32) | b`, `a < b` uniques, sorted.
    pairs: Vec<u64>,
    /// Candidate pairs the permissive banding produced (after the size filter).
    pub candidates: u64,
    /// Seconds to build the truth.
    pub seconds: f64,
}

/// The scores of one clustering (a representative record per record) against the truth.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Scores {
    /// Distinct texts clustered.
    pub uniques: u64,
    /// Clusters of uniques (uniques that are their cluster's representative).
    pub clusters: u64,
    /// Truth pairs (exact J ≥ threshold).
    pub truth_pairs: u64,
    /// Predicted pairs: pairs of uniques in one cluster.
    pub predicted_pairs: u64,
    /// Predicted pairs that are truth pairs.
    pub correct_pairs: u64,
    /// `correct_pairs / predicted_pairs` (1 with none predicted).
    pub pair_precision: f64,
    /// `correct_pairs / truth_pairs` (1 with no truth pairs).
    pub pair_recall: f64,
    /// Uniques placed with a representative other than themselves.
    pub members: u64,
    /// Of those, with exact J ≥ threshold to their representative.
    pub members_ok: u64,
    /// `members_ok / members` (1 with no members).
    pub cluster_precision: f64,
    /// Lowest exact J of a member to its representative (1 with no members).
    pub min_member_jaccard: f64,
    /// Records whose cluster differs from the cluster of the first record with the same text.
    pub copies_split: u64,
    /// Representatives with an earlier representative at exact J ≥ threshold: records the rule
    /// "join the earliest representative at J ≥ threshold" would have placed, left alone (a
    /// missed candidate, not the rule).
    pub missed_joins: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Truth {
    /// Builds the truth of `docs` (records in order) at `threshold` under `profile`.
    pub fn build<S: AsRef<str>>(profile: &Profile, docs: &[S], threshold: f64) -> Truth {
        let start = std::time::Instant::now();
        let mut norm = String::new();
        let mut by_text: HashMap<String, u32> = HashMap::new();
        let mut unique_of = Vec::with_capacity(docs.len());
        let mut first = Vec::new();
        let mut sets: Vec<Vec<u64>> = Vec::new();
        let mut sigs: Vec<[u32; K]> = Vec::new();
        let mut signer = Signer::new(profile);
        for (i, d) in docs.iter().enumerate() {
            normalize_into(d.as_ref(), &mut norm);
            if let Some(&u) = by_text.get(norm.as_str()) {
                unique_of.push(u);
                continue;
            }
            let u = first.len() as u32;
            by_text.insert(norm.clone(), u);
            unique_of.push(u);
            first.push(i as u32);
            let mut set = Vec::new();
            shingle_vec(profile, &norm, &mut set);
            set.shrink_to_fit();
            sets.push(set);
            let mut sig = [0u32; K];
            signer.sign(&norm, &mut sig);
            sigs.push(sig);
        }
        drop(by_text);
        let mut cand: Vec<u64> = Vec::new();
        let mut compacted = 0;
        let mut band: Vec<(u64, u32)> = Vec::with_capacity(sigs.len());
        for b in 0..TRUTH_BANDS {
            band.clear();
            for (u, sig) in sigs.iter().enumerate() {
                if sets[u].is_empty() {
                    continue;
                }
                let r = &sig[b * TRUTH_ROWS..(b + 1) * TRUTH_ROWS];
                band.push(((u64::from(r[0]) << 32) | u64::from(r[1]), u as u32));
            }
            band.sort_unstable();
            for run in band.chunk_by(|x, y| x.0 == y.0) {
                for (i, &(_, a)) in run.iter().enumerate() {
                    for &(_, c) in &run[i + 1..] {
                        let (la, lc) = (sets[a as usize].len(), sets[c as usize].len());
                        if la.min(lc) as f64 >= threshold * la.max(lc) as f64 - 1e-9 {
                            cand.push((u64::from(a) << 32) | u64::from(c));
                        }
                    }
                }
            }
            // A near-duplicate pair shares most bands: compact as the list doubles.
            if cand.len() > 2 * compacted + (1 << 20) {
                cand.sort_unstable();
                cand.dedup();
                compacted = cand.len();
            }
        }
        cand.sort_unstable();
        cand.dedup();
        let candidates = cand.len() as u64;
        let sets_ref = &sets;
        let check = |chunk: &[u64]| -> Vec<u64> {
            chunk
                .iter()
                .copied()
                .filter(|&p| {
                    let (a, c) = ((p >> 32) as usize, (p as u32) as usize);
                    jaccard_sorted(&sets_ref[a], &sets_ref[c]) >= threshold
                })
                .collect()
        };
        // Exact checks on every core: this is the bench's own bookkeeping, not a figure.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = cand.len().div_ceil(workers).max(1);
        let pairs: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = cand.chunks(per).map(|c| s.spawn(|| check(c))).collect();
            hs.into_iter()
                .flat_map(|h| h.join().expect("truth worker"))
                .collect()
        });
        Truth {
            threshold,
            unique_of,
            first,
            sets,
            pairs,
            candidates,
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// Records.
    pub fn records(&self) -> usize {
        self.unique_of.len()
    }

    /// Distinct normalised texts.
    pub fn uniques(&self) -> usize {
        self.first.len()
    }

    /// Truth pairs (exact J ≥ threshold).
    pub fn truth_pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Exact Jaccard of two uniques.
    fn jaccard(&self, a: u32, b: u32) -> f64 {
        jaccard_sorted(&self.sets[a as usize], &self.sets[b as usize])
    }

    /// Scores `reps` (the representative record of every record).
    pub fn score(&self, reps: &[u32]) -> Scores {
        assert_eq!(reps.len(), self.records(), "one representative per record");
        let label: Vec<u32> = self
            .first
            .iter()
            .map(|&r| self.unique_of[reps[r as usize] as usize])
            .collect();
        let copies_split = reps
            .iter()
            .zip(&self.unique_of)
            .filter(|&(&r, &u)| r != reps[self.first[u as usize] as usize])
            .count() as u64;
        self.score_labels(&label, copies_split)
    }

    /// The clustering rule itself on the complete truth: each unique, in order, joins the
    /// earliest representative it has a truth pair with, else represents its own cluster. What
    /// an engine with that rule and no missed candidate gives (its pairwise ceiling).
    pub fn greedy(&self) -> Scores {
        let n = self.uniques();
        let mut earlier: Vec<Vec<u32>> = vec![Vec::new(); n];
        for &e in &self.pairs {
            earlier[(e as u32) as usize].push((e >> 32) as u32);
        }
        let mut label: Vec<u32> = (0..n as u32).collect();
        for u in 0..n {
            earlier[u].sort_unstable();
            if let Some(&v) = earlier[u].iter().find(|&&v| label[v as usize] == v) {
                label[u] = v;
            }
        }
        self.score_labels(&label, 0)
    }

    /// What connected components over the truth pairs (union-find, the earliest unique of each
    /// component as its representative) would give.
    pub fn components(&self) -> Scores {
        let mut parent: Vec<u32> = (0..self.uniques() as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        for &e in &self.pairs {
            let (a, b) = (
                find(&mut parent, (e >> 32) as u32),
                find(&mut parent, e as u32),
            );
            // The smaller index is the root, so every root is its component's earliest unique.
            let (lo, hi) = (a.min(b), a.max(b));
            parent[hi as usize] = lo;
        }
        let label: Vec<u32> = (0..self.uniques() as u32)
            .map(|u| find(&mut parent, u))
            .collect();
        self.score_labels(&label, 0)
    }

    fn score_labels(&self, label: &[u32], copies_split: u64) -> Scores {
        let mut sizes: HashMap<u32, u64> = HashMap::new();
        for &l in label {
            *sizes.entry(l).or_default() += 1;
        }
        let predicted: u64 = sizes.values().map(|&m| m * (m - 1) / 2).sum();
        let correct = self
            .pairs
            .iter()
            .filter(|&&e| label[(e >> 32) as usize] == label[(e as u32) as usize])
            .count() as u64;
        let (mut members, mut ok, mut min_j) = (0u64, 0u64, 1.0f64);
        for (u, &l) in label.iter().enumerate() {
            if l as usize == u {
                continue;
            }
            members += 1;
            let j = self.jaccard(u as u32, l);
            min_j = min_j.min(j);
            ok += u64::from(j >= self.threshold);
        }
        let missed_joins = self
            .pairs
            .iter()
            .filter(|&&e| {
                let (a, b) = ((e >> 32) as usize, (e as u32) as usize);
                label[a] == a as u32 && label[b] == b as u32
            })
            .map(|&e| e as u32)
            .collect::<std::collections::HashSet<u32>>()
            .len() as u64;
        Scores {
            missed_joins,
            uniques: label.len() as u64,
            clusters: sizes.len() as u64,
            truth_pairs: self.pairs.len() as u64,
            predicted_pairs: predicted,
            correct_pairs: correct,
            pair_precision: ratio(correct, predicted),
            pair_recall: ratio(correct, self.pairs.len() as u64),
            members,
            members_ok: ok,
            cluster_precision: ratio(ok, members),
            min_member_jaccard: min_j,
            copies_split,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycel_data::{batch::dedup_texts, dedup::Tier, synth};

    #[test]
    fn truth_finds_every_labelled_pair_and_the_batch_engine_is_precise() {
        let p = Profile::text_v1();
        let c = synth::corpus(&p, 300, 100, 200, 3);
        let t = Truth::build(&p, &c.docs, 0.8);
        // Every labelled pair at J >= 0.8 between distinct texts is a truth pair.
        for pair in c.pairs.iter().filter(|x| x.jaccard >= 0.8) {
            let (a, b) = (
                t.unique_of[pair.source] as u64,
                t.unique_of[pair.variant] as u64,
            );
            if a != b {
                let key = (a.min(b) << 32) | a.max(b);
                assert!(t.pairs.binary_search(&key).is_ok(), "{pair:?}");
            }
        }
        let res = dedup_texts(&p, Tier::D, 0.8, &c.docs).unwrap();
        let s = t.score(&res.reps);
        assert_eq!(s.cluster_precision, 1.0, "{s:?}");
        assert_eq!(s.copies_split, 0);
        assert!(s.pair_recall >= 0.95, "{s:?}");
        assert_eq!(s.missed_joins, 0, "{s:?}");
        let cc = t.components();
        assert_eq!(cc.pair_recall, 1.0);
        let g = t.greedy();
        assert_eq!(g.missed_joins, 0);
        assert_eq!(g.cluster_precision, 1.0);
        assert!(g.pair_recall >= s.pair_recall);
        // Singletons score 1 on precision and 0 on recall whenever there are truth pairs.
        let alone: Vec<u32> = (0..c.docs.len() as u32).collect();
        let s = t.score(&alone);
        assert_eq!(s.predicted_pairs, 0);
        assert!(s.copies_split > 0);
    }

    #[test]
    fn miss_probability_at_the_threshold_is_negligible() {
        assert!(miss_probability(0.8) < 1e-27);
        assert!(miss_probability(0.3) > 1e-3);
    }
}
