//! Text identity: the normalisation and word shingles that a dedup profile defines, and the
//! integer similarity of two texts under it.
//!
//! The data engine clusters with these definitions and the ledger recomputes them to decide a
//! near-duplicate challenge, so they live below both (the ledger never imports the data engine).
//! Everything here is deterministic: no floats in the decision, no randomness, no unordered
//! iteration; the Unicode tables are those of the pinned `unicode-normalization` and toolchain.
//!
//! ```
//! use mycel_text::{TEXT_V1, similarity};
//! let a = "The quick brown fox jumps over the lazy dog, again and again.";
//! let b = "the QUICK brown fox jumps over the lazy dog -- again and again";
//! let s = similarity(&TEXT_V1.shingling, a, b);
//! assert_eq!((s.inter, s.union), (8, 8)); // 12 words: 8 word 5-grams, all shared
//! assert!(s.reaches(TEXT_V1.near_dup_milli));
//! ```

pub mod normalize;

pub use normalize::{normalize, normalize_into};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Word `n`-gram shingling: `words` per shingle, hashed with seeded xxh3-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shingling {
    /// Words per shingle.
    pub words: usize,
    /// Seed of the xxh3 shingle hash.
    pub seed: u64,
}

/// What the ledger needs of a dedup profile: its name, shingling and near-duplicate threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextProfile {
    /// Profile name and version, as registrations carry it.
    pub name: &'static str,
    /// Shingling.
    pub shingling: Shingling,
    /// Exact shingle Jaccard, in thousandths, at or above which two records are near duplicates
    /// (Tier D: one of them is not novel).
    pub near_dup_milli: u32,
}

/// The `mycel-text/v1` profile: word 5-grams, near duplicates at J ≥ 0.8.
pub const TEXT_V1: TextProfile = TextProfile {
    name: "mycel-text/v1",
    shingling: Shingling {
        words: 5,
        seed: 0x6d79_6365_6c5f_7368,
    },
    near_dup_milli: 800,
};

/// The text profile registered under `name`, if any.
pub fn profile(name: &str) -> Option<TextProfile> {
    [TEXT_V1].into_iter().find(|p| p.name == name)
}

/// The shingle set of a normalised text as a sorted, deduplicated vector in `out` (cleared
/// first): word `n`-grams of the non-empty words joined by one space, or the whole text as one
/// shingle when it has at most `n` words; none for empty text.
pub fn shingles(sh: &Shingling, normalised: &str, out: &mut Vec<u64>) {
    out.clear();
    let canonical =
        !normalised.starts_with(' ') && !normalised.ends_with(' ') && !normalised.contains("  ");
    if !canonical {
        let joined = normalised
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        return shingles(sh, &joined, out);
    }
    if normalised.is_empty() {
        return;
    }
    let bytes = normalised.as_bytes();
    let n = sh.words.max(1);
    let mut starts = Vec::with_capacity(bytes.len() / 4 + 1);
    starts.push(0usize);
    starts.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b' ')
            .map(|(i, _)| i + 1),
    );
    let words = starts.len();
    if words <= n {
        out.push(xxh3_64_with_seed(bytes, sh.seed));
        return;
    }
    out.reserve(words + 1 - n);
    for i in 0..=words - n {
        let end = if i + n < words {
            starts[i + n] - 1
        } else {
            bytes.len()
        };
        out.push(xxh3_64_with_seed(&bytes[starts[i]..end], sh.seed));
    }
    out.sort_unstable();
    out.dedup();
}

/// Shared and total shingles of two texts: the exact Jaccard similarity is `inter / union`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Similarity {
    /// Shingles in both.
    pub inter: u64,
    /// Shingles in either.
    pub union: u64,
}

impl Similarity {
    /// Of two sorted, deduplicated shingle vectors; two empty sets are identical (1 / 1).
    pub fn of_sorted(a: &[u64], b: &[u64]) -> Self {
        if a.is_empty() && b.is_empty() {
            return Similarity { inter: 1, union: 1 };
        }
        let (mut i, mut j, mut inter) = (0, 0, 0u64);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    inter += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        Similarity {
            inter,
            union: (a.len() + b.len()) as u64 - inter,
        }
    }

    /// Whether the similarity is at least `milli` thousandths, in integers.
    pub fn reaches(&self, milli: u32) -> bool {
        u128::from(self.inter) * 1000 >= u128::from(milli) * u128::from(self.union)
    }

    /// The similarity as a float (reports only; decisions use [`Self::reaches`]).
    pub fn jaccard(&self) -> f64 {
        self.inter as f64 / self.union as f64
    }
}

/// The similarity of two raw texts: normalised, shingled, compared.
pub fn similarity(sh: &Shingling, a: &str, b: &str) -> Similarity {
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    shingles(sh, &normalize(a), &mut sa);
    shingles(sh, &normalize(b), &mut sb);
    Similarity::of_sorted(&sa, &sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reencodings_are_identical_and_edits_are_measured() {
        let words: Vec<String> = (0..200).map(|i| format!("w{}", i * 37 % 101)).collect();
        let a = words.join(" ");
        // Fullwidth letters, NBSP, punctuation and case: the same text after normalisation.
        let b = format!("{}\u{a0}!", a.to_uppercase().replace("W1", "\u{ff37}1"));
        let s = similarity(&TEXT_V1.shingling, &a, &b);
        assert_eq!(s.inter, s.union);
        let mut edited = words.clone();
        for w in edited.iter_mut().step_by(10) {
            *w = "zz".into();
        }
        let s = similarity(&TEXT_V1.shingling, &a, &edited.join(" "));
        assert!(s.inter < s.union && s.inter > 0);
        assert!(!s.reaches(800));
        assert!(s.reaches(0));
    }

    #[test]
    fn integer_threshold_is_exact_at_the_boundary() {
        let s = Similarity { inter: 4, union: 5 };
        assert!(s.reaches(800));
        assert!(!s.reaches(801));
        let s = Similarity {
            inter: 799_999,
            union: 1_000_000,
        };
        assert!(!s.reaches(800));
        let big = Similarity {
            inter: u64::MAX,
            union: u64::MAX,
        };
        assert!(big.reaches(1000));
    }

    #[test]
    fn profiles_by_name() {
        assert_eq!(profile("mycel-text/v1"), Some(TEXT_V1));
        assert_eq!(profile("mycel-text/v2"), None);
        assert_eq!(profile(""), None);
    }

    #[test]
    fn empty_and_short_texts() {
        let mut v = Vec::new();
        shingles(&TEXT_V1.shingling, "", &mut v);
        assert!(v.is_empty());
        shingles(&TEXT_V1.shingling, "two words", &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(similarity(&TEXT_V1.shingling, "", "!!!").inter, 1);
    }
}
