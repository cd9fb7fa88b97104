//! MinHash signatures over word n-gram shingles of normalised text.
//!
//! Shingles are word `n`-grams of the normalised text, hashed with seeded xxh3-64 (never used as
//! an ID) and folded to 32 bits; each of the `K` permutations is a multiply-add-shift hash
//! `((a_i · x + b_i) mod 2^64) >> 32` with `a_i`, `b_i` from a seeded SplitMix64 stream, so a
//! signature is fully determined by the profile.

use crate::profile::Profile;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Signature length of the v1 profile.
pub const K: usize = 128;

/// Computes signatures for one profile.
#[derive(Clone, Debug)]
pub struct Signer {
    a: [u64; K],
    b: [u64; K],
    shingle_words: usize,
    shingle_seed: u64,
    starts: Vec<usize>,
}

/// SplitMix64 step.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Signer {
    /// A signer for `profile` (which must have [`K`] permutations).
    pub fn new(profile: &Profile) -> Self {
        assert_eq!(profile.permutations, K, "profile signature length");
        let mut s = profile.minhash_seed;
        let mut a = [0u64; K];
        let mut b = [0u64; K];
        for i in 0..K {
            a[i] = splitmix64(&mut s) | 1;
            b[i] = splitmix64(&mut s);
        }
        Signer {
            a,
            b,
            shingle_words: profile.shingle_words,
            shingle_seed: profile.shingle_seed,
            starts: Vec::new(),
        }
    }

    /// Signature of already-normalised text (words separated by single spaces). Returns the number
    /// of shingles; with none, the signature is all `u32::MAX`.
    pub fn sign(&mut self, normalised: &str, sig: &mut [u32; K]) -> usize {
        sig.fill(u32::MAX);
        if normalised.is_empty() {
            return 0;
        }
        let bytes = normalised.as_bytes();
        self.starts.clear();
        self.starts.push(0);
        for (i, &c) in bytes.iter().enumerate() {
            if c == b' ' {
                self.starts.push(i + 1);
            }
        }
        let words = self.starts.len();
        let n = self.shingle_words;
        if words <= n {
            // Short text: the whole text is its one shingle.
            self.update(xxh3_64_with_seed(bytes, self.shingle_seed), sig);
            return 1;
        }
        let shingles = words + 1 - n;
        for i in 0..shingles {
            let start = self.starts[i];
            let end = if i + n < words {
                self.starts[i + n] - 1
            } else {
                bytes.len()
            };
            self.update(
                xxh3_64_with_seed(&bytes[start..end], self.shingle_seed),
                sig,
            );
        }
        shingles
    }

    #[inline]
    fn update(&self, h: u64, sig: &mut [u32; K]) {
        let x = (h ^ (h >> 32)) & 0xffff_ffff;
        for ((s, a), b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
            let v = (a.wrapping_mul(x).wrapping_add(*b) >> 32) as u32;
            *s = (*s).min(v);
        }
    }
}

/// Estimated Jaccard similarity of two full signatures.
pub fn estimate(a: &[u32; K], b: &[u32; K]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / K as f64
}

/// Estimated Jaccard similarity of two 8-bit (b-bit MinHash, b = 8) signatures, corrected for
/// the 1/256 chance that two different values share their low byte.
pub fn estimate_b8(a: &[u8], b: &[u8]) -> f64 {
    let raw = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64;
    ((raw - 1.0 / 256.0) / (1.0 - 1.0 / 256.0)).max(0.0)
}

/// Exact Jaccard similarity of the shingle sets of two normalised texts: the reference definition
/// the labelled corpora and the benchmark use (the batch engine computes the same value with
/// [`shingle_vec`] and [`jaccard_sorted`]; the streaming engine verifies with the estimate).
pub fn exact_jaccard(profile: &Profile, a: &str, b: &str) -> f64 {
    let sa = shingle_set(profile, a);
    let sb = shingle_set(profile, b);
    if sa.is_empty() && sb.is_empty() {
        return 1.0;
    }
    let inter = sa.intersection(&sb).count();
    inter as f64 / (sa.len() + sb.len() - inter) as f64
}

/// The set of shingle hashes of a normalised text.
pub fn shingle_set(profile: &Profile, normalised: &str) -> std::collections::HashSet<u64> {
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    let n = profile.shingle_words;
    let mut out = std::collections::HashSet::new();
    if words.is_empty() {
        return out;
    }
    if words.len() <= n {
        out.insert(xxh3_64_with_seed(
            words.join(" ").as_bytes(),
            profile.shingle_seed,
        ));
        return out;
    }
    for w in words.windows(n) {
        out.insert(xxh3_64_with_seed(
            w.join(" ").as_bytes(),
            profile.shingle_seed,
        ));
    }
    out
}

/// The shingle set of a normalised text as a sorted, deduplicated vector in `out` (cleared first):
/// the same hashes as [`shingle_set`] (word `n`-grams of the non-empty words joined by one space,
/// or the whole text when it has at most `n` words), at a fraction of the cost. This is what exact
/// verification compares.
pub fn shingle_vec(profile: &Profile, normalised: &str, out: &mut Vec<u64>) {
    mycel_text::shingles(&profile.shingling(), normalised, out);
}

/// Exact Jaccard similarity of two sorted, deduplicated shingle vectors (1 when both are empty).
pub fn jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    mycel_text::Similarity::of_sorted(a, b).jaccard()
}

/// Band keys of a signature: band `j` hashes rows `j·rows .. (j+1)·rows`.
pub fn band_keys(sig: &[u32; K], bands: usize, rows: usize, out: &mut Vec<u32>) {
    out.clear();
    for j in 0..bands {
        let mut h = 0x243f_6a88_85a3_08d3u64 ^ j as u64;
        for &v in &sig[j * rows..(j + 1) * rows] {
            h = (h ^ u64::from(v)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        out.push((h >> 32) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn sig(s: &mut Signer, text: &str) -> [u32; K] {
        let mut out = [0; K];
        s.sign(&normalize(text), &mut out);
        out
    }

    #[test]
    fn golden_signature_prefix() {
        let mut s = Signer::new(&Profile::text_v1());
        let g = sig(&mut s, "the quick brown fox jumps over the lazy dog");
        assert_eq!(&g[..4], &GOLDEN_SIG);
    }

    const GOLDEN_SIG: [u32; 4] = [410362072, 126225734, 1062077109, 558187176];

    #[test]
    fn identical_and_normalised_variants_match() {
        let mut s = Signer::new(&Profile::text_v1());
        let a = sig(
            &mut s,
            "The quick brown fox jumps over the lazy dog again and again",
        );
        let b = sig(
            &mut s,
            "the QUICK brown fox, jumps over the lazy dog -- again and again!",
        );
        assert_eq!(estimate(&a, &b), 1.0);
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        let p = Profile::text_v1();
        let mut s = Signer::new(&p);
        let words: Vec<String> = (0..400).map(|i| format!("w{}", i * 7919 % 1000)).collect();
        let a = words.join(" ");
        let mut edited = words.clone();
        for i in (0..400).step_by(40) {
            edited[i] = format!("x{i}");
        }
        let b = edited.join(" ");
        let exact = exact_jaccard(&p, &normalize(&a), &normalize(&b));
        let (sa, sb) = (sig(&mut s, &a), sig(&mut s, &b));
        let est = estimate(&sa, &sb);
        assert!((est - exact).abs() < 0.15, "est {est} exact {exact}");
        let (a8, b8): (Vec<u8>, Vec<u8>) = (
            sa.iter().map(|&v| v as u8).collect(),
            sb.iter().map(|&v| v as u8).collect(),
        );
        assert!((estimate_b8(&a8, &b8) - est).abs() < 0.1);
    }

    #[test]
    fn shingle_vec_matches_shingle_set() {
        let p = Profile::text_v1();
        let texts = [
            "",
            "one",
            "one two three four five",
            "one two three four five six",
            "a b a b a b a b a b a b",
            " leading  and   doubled spaces trailing here now ",
            "the quick brown fox jumps over the lazy dog again and again and again",
        ];
        let mut v = Vec::new();
        for t in texts {
            let set = shingle_set(&p, t);
            shingle_vec(&p, t, &mut v);
            let mut want: Vec<u64> = set.into_iter().collect();
            want.sort_unstable();
            assert_eq!(v, want, "{t:?}");
        }
        let words: Vec<String> = (0..300).map(|i| format!("w{}", i * 7919 % 97)).collect();
        let a = words.join(" ");
        let b = words[20..].join(" ");
        let (mut va, mut vb) = (Vec::new(), Vec::new());
        shingle_vec(&p, &a, &mut va);
        shingle_vec(&p, &b, &mut vb);
        assert_eq!(jaccard_sorted(&va, &vb), exact_jaccard(&p, &a, &b));
        assert_eq!(jaccard_sorted(&[], &[]), 1.0);
    }

    #[test]
    fn short_and_empty_texts() {
        let mut s = Signer::new(&Profile::text_v1());
        let mut out = [0; K];
        assert_eq!(s.sign("", &mut out), 0);
        assert!(out.iter().all(|&v| v == u32::MAX));
        assert_eq!(s.sign("two words", &mut out), 1);
        assert_eq!(s.sign("one two three four five six", &mut out), 2);
    }
}
