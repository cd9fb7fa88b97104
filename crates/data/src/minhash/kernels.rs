//! The MinHash permutation kernels: for every shingle value `x < 2^32` and permutation `i`,
//! `sig[i] = min(sig[i], ((a_i · x + b_i) mod 2^64) >> 32)`, with the same bits on every path.
//!
//! - **portable**: the definition, one `u64` multiply-add per permutation (the reference).
//! - **AVX2** (the workspace's compile-time baseline, still detected at run time) and **AVX-512**
//!   (F/BW/DQ/VL, detected at run time) compute the same value in 32-bit lanes. Since `x < 2^32`,
//!   splitting `a = a_hi · 2^32 + a_lo`,
//!   `(a · x + b) mod 2^64 = a_lo · x + b + ((a_hi · x) mod 2^32) · 2^32 (mod 2^64)`, so the top
//!   half is `hi32((a_lo · x + b) mod 2^64) + a_hi · x (mod 2^32)`: one 32×32→64 multiply
//!   (`vpmuludq`) and add per permutation in 64-bit lanes, then one low 32-bit multiply (`vpmulld`)
//!   and add in 32-bit lanes. Even and odd permutations go to separate 64-bit vectors, whose top
//!   halves one shuffle (AVX-512) or a shift and a blend (AVX2) interleave back into permutation
//!   order. AVX-512 keeps all 128 running minima in 8 registers over a text's shingles; AVX2 has
//!   16 registers, so it makes two passes of 64 permutations. (`vpmullq` on the full 64-bit `a`
//!   measured ~15% slower here.)
//!
//! `MYCEL_DATA_KERNEL=portable` (read once per process; also `avx2`) or [`force_portable_kernels`]
//! pins signers created afterwards to a slower path; the bits are the same either way.
//!
//! `unsafe` is allowed here only for the intrinsics behind run-time CPU detection and their
//! loads and stores within fixed-size arrays.
#![allow(unsafe_code)]

use super::K;
use std::sync::{
    OnceLock,
    atomic::{AtomicBool, Ordering},
};

/// Permutations per AVX-512 group (one vector of 16 `u32` minima).
const G: usize = 16;
/// Groups in a signature.
const GROUPS: usize = K / G;

/// A MinHash kernel implementation, ordered slowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// Scalar `u64` arithmetic: the reference, on any CPU.
    Portable,
    /// x86-64 AVX2 (32-bit lanes, 8 permutations a vector).
    Avx2,
    /// x86-64 AVX-512F/BW/DQ/VL (32-bit lanes, 16 permutations a vector).
    Avx512,
}

/// Set by [`force_portable_kernels`].
static FORCE_PORTABLE: AtomicBool = AtomicBool::new(false);

/// Signers created after `force_portable_kernels(true)` use [`Kernel::Portable`] (as
/// `MYCEL_DATA_KERNEL=portable` does for a whole process). All kernels give the same bits; this
/// exists to show it, and to time one against the other.
pub fn force_portable_kernels(on: bool) {
    FORCE_PORTABLE.store(on, Ordering::Relaxed);
}

impl Kernel {
    /// Every kernel, fastest last.
    pub const ALL: [Kernel; 3] = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];

    /// The kernel new signers use: the fastest this CPU supports, lowered by `MYCEL_DATA_KERNEL`
    /// (`portable` or `avx2`; read once) and by [`force_portable_kernels`].
    pub fn detect() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        if FORCE_PORTABLE.load(Ordering::Relaxed) {
            return Kernel::Portable;
        }
        *BEST.get_or_init(|| {
            let cap = match std::env::var("MYCEL_DATA_KERNEL").as_deref() {
                Ok("portable") => Kernel::Portable,
                Ok("avx2") => Kernel::Avx2,
                _ => Kernel::Avx512,
            };
            Kernel::ALL
                .into_iter()
                .rev()
                .find(|k| *k <= cap && k.is_supported())
                .unwrap_or(Kernel::Portable)
        })
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512 => false,
        }
    }

    /// A short name: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

/// The permutation constants, in the definition's layout and in the vector kernels'.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(super) struct Perms {
    a: [u64; K],
    b: [u64; K],
    /// `a_even[g][k] = a[16g + 2k]` (the vector kernels read only its low half).
    a_even: [[u64; 8]; GROUPS],
    /// `a_odd[g][k] = a[16g + 2k + 1]`.
    a_odd: [[u64; 8]; GROUPS],
    b_even: [[u64; 8]; GROUPS],
    b_odd: [[u64; 8]; GROUPS],
    /// `a_hi[g][j] = a[16g + j] >> 32`.
    a_hi: [[u32; G]; GROUPS],
}

impl Perms {
    pub(super) fn new(a: [u64; K], b: [u64; K]) -> Self {
        let mut p = Perms {
            a,
            b,
            a_even: [[0; 8]; GROUPS],
            a_odd: [[0; 8]; GROUPS],
            b_even: [[0; 8]; GROUPS],
            b_odd: [[0; 8]; GROUPS],
            a_hi: [[0; G]; GROUPS],
        };
        for g in 0..GROUPS {
            for k in 0..8 {
                p.a_even[g][k] = a[G * g + 2 * k];
                p.a_odd[g][k] = a[G * g + 2 * k + 1];
                p.b_even[g][k] = b[G * g + 2 * k];
                p.b_odd[g][k] = b[G * g + 2 * k + 1];
            }
            for j in 0..G {
                p.a_hi[g][j] = (a[G * g + j] >> 32) as u32;
            }
        }
        p
    }
}

/// Sets `sig` to the signature of the shingle values `xs` (all `u32::MAX` when empty).
///
/// `kernel` must be supported by this CPU (the signer checks it once, when it is made).
pub(super) fn sign(kernel: Kernel, perms: &Perms, xs: &[u32], sig: &mut [u32; K]) {
    if xs.is_empty() {
        sig.fill(u32::MAX);
        return;
    }
    match kernel {
        Kernel::Portable => portable(perms, xs, sig),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            // SAFETY: signers hold `Kernel::Avx2` only where `is_supported` found AVX2.
            unsafe { avx2(perms, xs, sig) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            // SAFETY: signers hold `Kernel::Avx512` only where `is_supported` found
            // AVX-512F/BW/DQ/VL.
            unsafe { avx512(perms, xs, sig) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Kernel::Avx2 | Kernel::Avx512 => portable(perms, xs, sig),
    }
}

/// The definition.
fn portable(perms: &Perms, xs: &[u32], sig: &mut [u32; K]) {
    sig.fill(u32::MAX);
    for &x in xs {
        let x = u64::from(x);
        for ((s, a), b) in sig.iter_mut().zip(&perms.a).zip(&perms.b) {
            let v = (a.wrapping_mul(x).wrapping_add(*b) >> 32) as u32;
            *s = (*s).min(v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn avx512(perms: &Perms, xs: &[u32], sig: &mut [u32; K]) {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_epi32(-1); GROUPS];
    for &x in xs {
        let xv = _mm512_set1_epi32(x as i32);
        for (g, acc) in acc.iter_mut().enumerate() {
            // SAFETY: each load reads exactly the 64 bytes of one `[u64; 8]` or `[u32; 16]`.
            let (a_even, a_odd, b_even, b_odd, a_hi) = unsafe {
                (
                    _mm512_loadu_si512(perms.a_even[g].as_ptr().cast()),
                    _mm512_loadu_si512(perms.a_odd[g].as_ptr().cast()),
                    _mm512_loadu_si512(perms.b_even[g].as_ptr().cast()),
                    _mm512_loadu_si512(perms.b_odd[g].as_ptr().cast()),
                    _mm512_loadu_si512(perms.a_hi[g].as_ptr().cast()),
                )
            };
            // `vpmuludq` multiplies the low halves of the 64-bit lanes: `a_lo · x`, plus `b`.
            let e = _mm512_add_epi64(_mm512_mul_epu32(a_even, xv), b_even);
            let o = _mm512_add_epi64(_mm512_mul_epu32(a_odd, xv), b_odd);
            // Lane 2k takes the top half of `e`'s lane k (swapping each 32-bit pair); lane 2k + 1
            // keeps `o`'s.
            let hi = _mm512_mask_shuffle_epi32::<0b10_11_00_01>(o, 0x5555, e);
            let v = _mm512_add_epi32(hi, _mm512_mullo_epi32(a_hi, xv));
            *acc = _mm512_min_epu32(*acc, v);
        }
    }
    for (g, acc) in acc.into_iter().enumerate() {
        // SAFETY: writes the 16 `u32` of `sig[16g..16g + 16]`, `g < 8`.
        unsafe { _mm512_storeu_si512(sig[G * g..G * (g + 1)].as_mut_ptr().cast(), acc) };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2(perms: &Perms, xs: &[u32], sig: &mut [u32; K]) {
    use std::arch::x86_64::*;
    // 16 registers: 8 running minima (64 permutations) a pass over the shingles.
    for pass in 0..2 {
        // The pass's constants, `[a_even, a_odd, b_even, b_odd, a_hi]` for each 8 permutations.
        let mut c = [[_mm256_setzero_si256(); 5]; 8];
        for (j, c) in c.iter_mut().enumerate() {
            // Permutations 8h..8h + 8 are half `h % 2` of 16-permutation group `h / 2`.
            let h = 8 * pass + j;
            let (g, q) = (h / 2, 4 * (h % 2));
            // SAFETY: each load reads 32 bytes: 4 `u64` from index 0 or 4 of a `[u64; 8]`, or
            // 8 `u32` from index 0 or 8 of a `[u32; 16]`.
            *c = unsafe {
                [
                    _mm256_loadu_si256(perms.a_even[g][q..].as_ptr().cast()),
                    _mm256_loadu_si256(perms.a_odd[g][q..].as_ptr().cast()),
                    _mm256_loadu_si256(perms.b_even[g][q..].as_ptr().cast()),
                    _mm256_loadu_si256(perms.b_odd[g][q..].as_ptr().cast()),
                    _mm256_loadu_si256(perms.a_hi[g][2 * q..].as_ptr().cast()),
                ]
            };
        }
        let mut acc = [_mm256_set1_epi32(-1); 8];
        for &x in xs {
            let xv = _mm256_set1_epi32(x as i32);
            for (acc, [a_even, a_odd, b_even, b_odd, a_hi]) in acc.iter_mut().zip(c) {
                let e = _mm256_add_epi64(_mm256_mul_epu32(a_even, xv), b_even);
                let o = _mm256_add_epi64(_mm256_mul_epu32(a_odd, xv), b_odd);
                // Even lanes take the top halves of `e`'s 64-bit lanes, odd lanes keep `o`'s.
                let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(e), o);
                let v = _mm256_add_epi32(hi, _mm256_mullo_epi32(a_hi, xv));
                *acc = _mm256_min_epu32(*acc, v);
            }
        }
        for (j, acc) in acc.into_iter().enumerate() {
            let h = 8 * pass + j;
            // SAFETY: writes the 8 `u32` of `sig[8h..8h + 8]`, `h < 16`.
            unsafe { _mm256_storeu_si256(sig[8 * h..8 * (h + 1)].as_mut_ptr().cast(), acc) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::splitmix64;
    use proptest::prelude::*;

    fn perms(seed: u64) -> Perms {
        let mut s = seed;
        let mut a = [0; K];
        let mut b = [0; K];
        for i in 0..K {
            a[i] = splitmix64(&mut s) | 1;
            b[i] = splitmix64(&mut s);
        }
        Perms::new(a, b)
    }

    fn check(p: &Perms, xs: &[u32]) {
        let mut want = [0; K];
        sign(Kernel::Portable, p, xs, &mut want);
        for k in Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            let mut got = [0; K];
            sign(k, p, xs, &mut got);
            assert_eq!(got, want, "{k:?}");
        }
    }

    #[test]
    fn extreme_values_match() {
        // All-ones and all-zero constants and shingle values exercise every carry.
        let mut a = [u64::MAX; K];
        let mut b = [u64::MAX; K];
        for i in (0..K).step_by(3) {
            a[i] = 1;
            b[i] = 0;
        }
        let p = Perms::new(a, b);
        check(
            &p,
            &[0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7fff_ffff],
        );
        check(&p, &[u32::MAX]);
        check(&perms(1), &[0]);
    }

    #[test]
    fn detect_respects_force_portable() {
        assert!(Kernel::detect().is_supported());
        // Other tests may sign meanwhile: any kernel gives them the same bits.
        force_portable_kernels(true);
        assert_eq!(Kernel::detect(), Kernel::Portable);
        force_portable_kernels(false);
        assert!(Kernel::detect().is_supported());
    }

    proptest! {
        #[test]
        fn vector_kernels_match_portable(
            seed: u64,
            xs in prop::collection::vec(any::<u32>(), 0..300),
        ) {
            check(&perms(seed), &xs);
        }
    }
}
