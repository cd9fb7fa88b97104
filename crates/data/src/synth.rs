//! Seeded synthetic corpora with labelled near-duplicates, for quality tests and benchmarks.
//!
//! Every variant records its edit kind and the exact shingle Jaccard with its source (computed
//! on normalised text under the profile), so recall can be reported per Jaccard band.

use crate::{minhash::splitmix64, normalize::normalize, profile::Profile};

/// An edit applied to a source document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Edit {
    /// Byte-identical copy.
    ExactCopy,
    /// Character typos in a share of words.
    Typos,
    /// A header and a footer of boilerplate added.
    Boilerplate,
    /// Two halves swapped.
    Reorder,
    /// The tail cut off.
    Truncate,
    /// Unicode re-encoding: fullwidth letters, accents as combining marks, homoglyphs, zero-width
    /// spaces, case and punctuation changes.
    Reencode,
    /// Random words inserted (sweeps Jaccard from 1 down to ~0.4).
    Insert,
}

/// A labelled pair: `variant` was made from `source` (indices into the corpus).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pair {
    /// Source index.
    pub source: usize,
    /// Variant index.
    pub variant: usize,
    /// Edit kind.
    pub edit: Edit,
    /// Exact shingle Jaccard of the two normalised texts.
    pub jaccard: f64,
}

/// A corpus: documents in file order, and the labelled pairs.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Documents.
    pub docs: Vec<String>,
    /// Labelled (source, variant) pairs; every other pair is an unrelated negative.
    pub pairs: Vec<Pair>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn word(r: &mut Rng) -> String {
    // Zipf-like: small ranks are common, as in natural text.
    let u = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
    let rank = (20_000f64.powf(u)) as u64;
    let syll = [
        "ka", "lo", "mi", "ten", "ra", "su", "vo", "ne", "di", "pha", "gor", "el",
    ];
    let mut s = String::new();
    let mut x = rank.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
    for _ in 0..(1 + rank % 3) {
        s.push_str(syll[(x % syll.len() as u64) as usize]);
        x /= syll.len() as u64;
    }
    s
}

/// A document of about `words` words, with sentences and punctuation.
pub fn document(seed: u64, words: usize) -> String {
    let mut r = Rng(seed);
    let mut out = String::new();
    for i in 0..words {
        let mut w = word(&mut r);
        if i == 0 || out.ends_with(". ") {
            let mut c = w.chars();
            w = c
                .next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default();
        }
        out.push_str(&w);
        out.push_str(if r.chance(0.08) {
            ". "
        } else if r.chance(0.05) {
            ", "
        } else {
            " "
        });
    }
    out.trim_end().to_string() + "."
}

/// Applies `edit` with strength `x` in `0..1`.
pub fn apply(edit: Edit, src: &str, x: f64, seed: u64) -> String {
    let mut r = Rng(seed);
    let words: Vec<&str> = src.split(' ').collect();
    match edit {
        Edit::ExactCopy => src.to_string(),
        Edit::Typos => words
            .iter()
            .map(|w| {
                if r.chance(x * 0.06) && w.len() > 2 {
                    let mut b: Vec<char> = w.chars().collect();
                    let i = r.below(b.len());
                    b[i] = ['q', 'z', 'x', 'j'][r.below(4)];
                    b.into_iter().collect()
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Edit::Boilerplate => format!(
            "Copyright (c) All rights reserved. Subscribe to our newsletter for more. {src} \
             Share this article. Terms of use. Privacy policy. Cookie settings."
        ),
        Edit::Reorder => {
            let cut = words.len() / 2;
            format!("{} {}", words[cut..].join(" "), words[..cut].join(" "))
        }
        Edit::Truncate => {
            let keep = ((1.0 - 0.15 * x) * words.len() as f64) as usize;
            words[..keep.max(1)].join(" ")
        }
        Edit::Reencode => src
            .chars()
            .map(|c| match c {
                'a' if r.chance(0.3) => "\u{430}".to_string(),
                'o' if r.chance(0.3) => "\u{43e}".to_string(),
                'e' if r.chance(0.3) => "e\u{301}".to_string(),
                ' ' if r.chance(0.1) => "\u{a0}".to_string(),
                ' ' if r.chance(0.05) => " \u{200b}".to_string(),
                'k' if r.chance(0.3) => "\u{ff4b}".to_string(),
                c if r.chance(0.05) => c.to_uppercase().collect(),
                c => c.to_string(),
            })
            .collect(),
        Edit::Insert => {
            let mut out = Vec::with_capacity(words.len() * 2);
            for w in &words {
                out.push(w.to_string());
                if r.chance(x * 0.12) {
                    out.push(format!("ins{}", r.next() % 100_000));
                }
            }
            out.join(" ")
        }
    }
}

/// Builds a corpus of `sources` documents of ~`words` words; every source gets one variant
/// (edit kinds in rotation, strengths swept), and `negatives` unrelated documents are mixed in.
/// Variants come after their sources in file order, shuffled among other documents.
pub fn corpus(
    profile: &Profile,
    sources: usize,
    negatives: usize,
    words: usize,
    seed: u64,
) -> Corpus {
    let kinds = [
        Edit::ExactCopy,
        Edit::Typos,
        Edit::Boilerplate,
        Edit::Reorder,
        Edit::Truncate,
        Edit::Reencode,
        Edit::Insert,
        Edit::Insert,
        Edit::Insert,
    ];
    let mut r = Rng(seed);
    let mut c = Corpus::default();
    for i in 0..sources + negatives {
        c.docs.push(document(
            seed ^ (i as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1),
            words,
        ));
    }
    for s in 0..sources {
        let kind = kinds[s % kinds.len()];
        let x = (s / kinds.len()) as f64 % 10.0 / 9.0;
        let v = apply(kind, &c.docs[s], x, r.next());
        let j = crate::minhash::exact_jaccard(profile, &normalize(&c.docs[s]), &normalize(&v));
        c.pairs.push(Pair {
            source: s,
            variant: c.docs.len(),
            edit: kind,
            jaccard: j,
        });
        c.docs.push(v);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_labelled() {
        let p = Profile::text_v1();
        let a = corpus(&p, 18, 5, 200, 42);
        let b = corpus(&p, 18, 5, 200, 42);
        assert_eq!(a.docs, b.docs);
        assert_eq!(a.pairs.len(), 18);
        for pair in &a.pairs {
            match pair.edit {
                Edit::ExactCopy | Edit::Reencode => assert!(pair.jaccard > 0.99, "{pair:?}"),
                Edit::Boilerplate | Edit::Reorder => assert!(pair.jaccard > 0.85, "{pair:?}"),
                _ => assert!(pair.jaccard > 0.3, "{pair:?}"),
            }
        }
    }
}
