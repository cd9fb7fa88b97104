//! MinHash signatures over word n-gram shingles of normalised text.
//!
//! Shingles are word `n`-grams of the normalised text, hashed with seeded xxh3-64 (never used as
//! an ID) and folded to 32 bits; each of the `K` permutations is a multiply-add-shift hash
//! `((a_i · x + b_i) mod 2^64) >> 32` with `a_i`, `b_i` from a seeded SplitMix64 stream, so a
//! signature is fully determined by the profile.
//!
//! [`Signer::sign`] runs in two passes over a text: the shingle hashes first (word starts from a
//! 64-bytes-at-a-time space scan, then xxh3 per shingle), then all permutations over them with
//! the fastest [`Kernel`] the CPU has (AVX-512 or AVX2 on x86-64, else portable), all with the
//! same bits.

use crate::profile::Profile;
use xxhash_rust::xxh3::xxh3_64_with_seed;

mod kernels;

pub use kernels::{Kernel, force_portable_kernels};

/// Signature length of the v1 profile.
pub const K: usize = 128;

/// Computes signatures for one profile.
#[derive(Clone, Debug)]
pub struct Signer {
    perms: Box<kernels::Perms>,
    kernel: Kernel,
    shingle_words: usize,
    shingle_seed: u64,
    /// Word starts of the text being signed, in a grow-only buffer (see [`word_starts`]).
    starts: Vec<usize>,
    /// The text's shingle hashes, folded to 32 bits.
    xs: Vec<u32>,
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
    /// A signer for `profile` (which must have [`K`] permutations), running
    /// [`Kernel::detect`]'s kernel.
    pub fn new(profile: &Profile) -> Self {
        Self::with_kernel(profile, Kernel::detect()).expect("detected kernels are supported")
    }

    /// A signer for `profile` with a given kernel, or `None` where this CPU lacks it. Every kernel
    /// gives the same signatures.
    pub fn with_kernel(profile: &Profile, kernel: Kernel) -> Option<Self> {
        assert_eq!(profile.permutations, K, "profile signature length");
        if !kernel.is_supported() {
            return None;
        }
        let mut s = profile.minhash_seed;
        let mut a = [0u64; K];
        let mut b = [0u64; K];
        for i in 0..K {
            a[i] = splitmix64(&mut s) | 1;
            b[i] = splitmix64(&mut s);
        }
        Some(Signer {
            perms: Box::new(kernels::Perms::new(a, b)),
            kernel,
            shingle_words: profile.shingle_words,
            shingle_seed: profile.shingle_seed,
            starts: Vec::new(),
            xs: Vec::new(),
        })
    }

    /// The kernel this signer runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Signature of already-normalised text (words separated by single spaces). Returns the number
    /// of shingles; with none, the signature is all `u32::MAX`.
    ///
    /// Shingle `i` is the bytes from the start of word `i` to the end of word `i + n - 1` (words
    /// are what lies between single spaces, so other spacing yields empty words); a text of at
    /// most `n` words is one shingle.
    pub fn sign(&mut self, normalised: &str, sig: &mut [u32; K]) -> usize {
        self.shingle_hashes(normalised.as_bytes());
        kernels::sign(self.kernel, &self.perms, &self.xs, sig);
        self.xs.len()
    }

    /// Fills `xs` with the folded shingle hashes of `bytes`.
    fn shingle_hashes(&mut self, bytes: &[u8]) {
        self.xs.clear();
        if bytes.is_empty() {
            return;
        }
        let fold = |h: u64| (h ^ (h >> 32)) as u32;
        let words = word_starts(bytes, &mut self.starts);
        let n = self.shingle_words;
        if words <= n {
            // Short text: the whole text is its one shingle.
            self.xs
                .push(fold(xxh3_64_with_seed(bytes, self.shingle_seed)));
            return;
        }
        let starts = &self.starts[..words];
        let shingles = words + 1 - n;
        self.xs.reserve(shingles);
        for i in 0..shingles {
            let end = if i + n < words {
                starts[i + n] - 1
            } else {
                bytes.len()
            };
            let h = xxh3_64_with_seed(&bytes[starts[i]..end], self.shingle_seed);
            self.xs.push(fold(h));
        }
    }
}

/// Writes the word starts of `bytes` (0, and the index after every space) to `out[..count]` and
/// returns `count`.
///
/// `out` is a grow-only buffer: the scan handles 64 bytes at a time and writes their spaces'
/// positions 8 at a time (a fixed number of steps rather than one unpredictable branch per
/// word), so it may write past `count`.
fn word_starts(bytes: &[u8], out: &mut Vec<usize>) -> usize {
    const SLACK: usize = 64;
    let mut count = 1;
    let mut emit = |mut mask: u64, base: usize, out: &mut Vec<usize>| {
        if out.len() < count + SLACK {
            out.resize((count + SLACK).max(2 * out.len()), 0);
        }
        let spaces = mask.count_ones() as usize;
        let slots = &mut out[count..count + SLACK];
        let mut k = 0;
        while k < spaces {
            for slot in &mut slots[k..k + 8] {
                // Past the last space the mask is 0 and this writes an unused slot.
                *slot = base + mask.trailing_zeros() as usize + 1;
                mask &= mask.wrapping_sub(1);
            }
            k += 8;
        }
        count += spaces;
    };
    if out.is_empty() {
        out.resize(1 + SLACK, 0);
    }
    out[0] = 0;
    let mut chunks = bytes.chunks_exact(64);
    let mut base = 0;
    for chunk in &mut chunks {
        emit(space_mask(chunk.try_into().expect("64 bytes")), base, out);
        base += 64;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut chunk = [0u8; 64];
        chunk[..rest.len()].copy_from_slice(rest);
        emit(space_mask(&chunk), base, out);
    }
    count
}

/// Bit `j` set where `chunk[j]` is a space.
#[inline(always)]
fn space_mask(chunk: &[u8; 64]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut mask = 0;
    for (j, word) in chunk.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ 0x2020_2020_2020_2020;
        // Top bit of each byte: set iff the byte is 0 (the addition cannot carry across bytes).
        let zero = !((w & LOW7).wrapping_add(LOW7) | w | LOW7);
        // Gather the 8 top bits, byte `i`'s to bit `i` of the top byte.
        let bits = (zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= bits << (8 * j);
    }
    mask
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

    /// The signature as first defined: one shingle at a time, every permutation in `u64`.
    fn reference_sign(p: &Profile, text: &str) -> ([u32; K], usize) {
        let mut s = p.minhash_seed;
        let ab: Vec<(u64, u64)> = (0..K)
            .map(|_| (splitmix64(&mut s) | 1, splitmix64(&mut s)))
            .collect();
        let mut sig = [u32::MAX; K];
        let mut update = |h: u64| {
            let x = (h ^ (h >> 32)) & 0xffff_ffff;
            for (s, (a, b)) in sig.iter_mut().zip(&ab) {
                *s = (*s).min((a.wrapping_mul(x).wrapping_add(*b) >> 32) as u32);
            }
        };
        if text.is_empty() {
            return (sig, 0);
        }
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == b' ')
                .map(|(i, _)| i + 1),
        );
        let (words, n) = (starts.len(), p.shingle_words);
        if words <= n {
            update(xxh3_64_with_seed(bytes, p.shingle_seed));
            return (sig, 1);
        }
        for i in 0..words + 1 - n {
            let end = if i + n < words {
                starts[i + n] - 1
            } else {
                bytes.len()
            };
            update(xxh3_64_with_seed(&bytes[starts[i]..end], p.shingle_seed));
        }
        (sig, words + 1 - n)
    }

    fn signers(p: &Profile) -> Vec<Signer> {
        let all: Vec<Signer> = Kernel::ALL
            .into_iter()
            .filter_map(|k| Signer::with_kernel(p, k))
            .collect();
        assert_eq!(all[0].kernel(), Kernel::Portable);
        all
    }

    fn check_all_kernels(signers: &mut [Signer], p: &Profile, text: &str) {
        let want = reference_sign(p, text);
        for s in signers {
            let mut got = [0; K];
            let n = s.sign(text, &mut got);
            assert_eq!((got, n), want, "{:?} on {text:?}", s.kernel());
        }
    }

    #[test]
    fn kernels_match_reference_on_edge_texts() {
        let p = Profile::text_v1();
        let mut signers = signers(&p);
        let long: String = (0..3000)
            .map(|i| format!("w{}", i * 7919 % 1000))
            .collect::<Vec<_>>()
            .join(" ");
        let mut texts = vec![
            String::new(),
            " ".into(),
            "  ".into(),
            "one".into(),
            "one two three four five".into(),
            "one two three four five six".into(),
            " leading  and   doubled spaces trailing ".into(),
            normalize("Ça fait déjà l'été — naïve café, Ελληνικά и русский 日本語 テキスト"),
            "a".repeat(200),
            long,
        ];
        // Spaces at and around every 64-byte chunk boundary, and texts of every length up to 200.
        for len in 0..200 {
            texts.push(
                (0..len)
                    .map(|i| if i % 7 == 6 { ' ' } else { 'x' })
                    .collect(),
            );
            texts.push(
                (0..len)
                    .map(|i| if i % 2 == 1 { ' ' } else { 'y' })
                    .collect(),
            );
        }
        for t in &texts {
            check_all_kernels(&mut signers, &p, t);
        }
    }

    #[test]
    fn word_starts_marks_every_space() {
        let mut buf = Vec::new();
        let mut r = 3u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| match splitmix64(&mut r) % 4 {
                    0 => b' ',
                    1 => 0xa0,
                    2 => b'\0',
                    _ => b'a',
                })
                .collect();
            let n = word_starts(&bytes, &mut buf);
            let want: Vec<usize> = std::iter::once(0)
                .chain((0..len).filter(|&i| bytes[i] == b' ').map(|i| i + 1))
                .collect();
            assert_eq!(&buf[..n], &want[..], "{bytes:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn kernels_match_reference(
            words in proptest::collection::vec("[a-z0-9]{1,12}|[\\p{L}\\p{N}]{1,6}", 0..400),
        ) {
            let p = Profile::text_v1();
            let text = words.join(" ");
            check_all_kernels(&mut signers(&p), &p, &text);
            check_all_kernels(&mut signers(&p), &p, &normalize(&text));
        }

        #[test]
        fn kernels_match_reference_on_any_string(text in "\\PC{0,300}") {
            let p = Profile::text_v1();
            check_all_kernels(&mut signers(&p), &p, &text);
        }
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
