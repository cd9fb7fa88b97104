//! A BERT sentence encoder (all-MiniLM-L6-v2) with int8 linear layers whose output bits do not depend on
//! the CPU, the thread count, the batch or the build, so a verifier can re-embed and compare hashes.
//!
//! How the bits are pinned, by construction rather than by testing alone:
//! - Linear layers run on integers. Weights are quantized once per output row and activations once per
//!   token row (symmetric, `s = max|x| / 127`, `q = round(x / s)` half away from zero, clamped to ±127);
//!   the dot product of two int8 rows is an exact i32 in any summation order, so the AVX512-VNNI, AVX2
//!   and scalar kernels agree bit for bit. Dequantization is `acc as f32 * (s_w * s_x) + bias`, the same
//!   IEEE operations everywhere (Rust never contracts to FMA).
//! - Everything else (embeddings, LayerNorm, attention, softmax, GELU, pooling) is plain f32 in a fixed
//!   order with sequential sums, and `exp`/`erf` are our own ([`exp_f32`], [`erf_f32`]) because libm
//!   differs across platforms. Loops are shaped so the compiler vectorizes *across* independent sums
//!   (rows, keys, dimensions), never inside one, so SIMD width changes no bit.
//! - Rows never interact outside attention, and each sentence runs at its own length (no padding), so
//!   grouping sentences into one matrix, or splitting output columns or queries across threads, cannot
//!   move a bit.
//!
//! `output_bits_are_pinned` (and the real-model test) hash the output: a change to any operation or
//! its order is a change of the model's numerics and must be deliberate.
//!
//! Speed comes from the layout: weights (~10.6 MB int8 for MiniLM) are packed at load into panels of
//! 16 output columns × 4 inputs (one 64-byte vector per step); a VNNI tile of up to 6 token rows × 4
//! panels reuses every loaded weight vector across the rows; and short sentences of a batch are grouped
//! so that the weights are streamed once per ~[`GROUP_ROWS`] tokens rather than once per sentence.
//! `vpdpbusd` multiplies unsigned by signed bytes: activations go in offset by +128 and each column's
//! `128 × Σ w` is subtracted afterwards (exact; no per-step sign fix-up as in the AVX2 kernel).

use crate::{Error, Result};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

/// Output columns per packed weight panel: one 512-bit vector of i32 accumulators.
const PANEL: usize = 16;
/// Bytes of one panel step: 16 columns × 4 consecutive inputs.
const STEP: usize = PANEL * 4;
/// Token rows per group of a batch: enough rows that each weight loaded from memory serves many tokens,
/// few enough that a batch still splits into tasks for every thread.
const GROUP_ROWS: usize = 64;
/// Queries whose attention runs side by side.
const QUERY_BLOCK: usize = 4;
/// Multiply-adds below which a lone sentence's linear layer stays on one thread: waking a pool thread
/// costs ~10 µs, more than splitting a short sentence's layer saves (measured: a 9-token sentence took
/// 1.15 ms split over 2 threads, 0.89 ms on one).
const PARALLEL_MIN_MACS: usize = 1 << 24;

/// The integer GEMM kernel. All give identical results; [`Kernel::best`] is the fastest this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// AVX512-VNNI `vpdpbusd` (64 byte products per instruction).
    Vnni512,
    /// AVX2 `vpmaddubsw` + `vpmaddwd` with the sign trick.
    Avx2,
    /// Portable i32 loops (the reference, and the path on non-x86 CPUs).
    Scalar,
}

impl Kernel {
    /// Whether this CPU can run the kernel.
    pub(crate) fn available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2"),
            Kernel::Vnni512 => crate::vnni::cpu_has_avx512_vnni(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 => false,
        }
    }

    /// The fastest available kernel.
    pub(crate) fn best() -> Self {
        [Kernel::Vnni512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(Kernel::Scalar)
    }
}

// ---------------------------------------------------------------------------------------------------
// Quantization and packing
// ---------------------------------------------------------------------------------------------------

/// Quantizes one row symmetrically to ±127 and returns its scale (`0` for a row that would divide by
/// zero, with all-zero output). `q` may be longer than `x` (padding); the tail is zeroed.
fn quantize_row(x: &[f32], q: &mut [i8]) -> f32 {
    // max |x| on the bit patterns: the same value as a float max for any non-NaN row (and NaN or
    // infinity lead to a zero row below), but an integer max the compiler vectorizes.
    let mut amax = 0u32;
    for &v in x {
        amax = amax.max(v.to_bits() & 0x7fff_ffff);
    }
    let s = f32::from_bits(amax) / 127.0;
    if !(s > 0.0 && s.is_finite()) {
        q.fill(0);
        return 0.0;
    }
    for (q, &v) in q.iter_mut().zip(x) {
        let r = (v / s).round().clamp(-127.0, 127.0);
        // r is an integer in [-127, 127]: adding 1.5 × 2²³ leaves it in the low mantissa bits exactly,
        // so the low byte is its two's complement (an exact cast that vectorizes, unlike `as i8`).
        *q = (r + 12_582_912.0).to_bits() as u8 as i8;
    }
    q[x.len()..].fill(0);
    s
}

/// Int8 weights in the kernels' layout: panel `p` holds output columns `16p..16p+16`; inside it, step `g`
/// is 64 bytes, column `c`'s inputs `4g..4g+4` at bytes `4c..4c+4` (the `vpdpbusd` lane layout).
/// Missing columns and inputs are zero.
#[derive(Clone)]
struct Packed {
    /// Inputs rounded up to a multiple of 4.
    kp: usize,
    /// Output panels (`n` rounded up to 16, over 16).
    panels: usize,
    w: Vec<i8>,
    /// `128 × Σ_k q[col][k]` per (padded) column: the VNNI kernel feeds activations offset by +128 as
    /// unsigned bytes and subtracts this to get the exact signed dot product back.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    colsum128: Vec<i32>,
}

impl Packed {
    fn new(q: &[i8], n: usize, k: usize) -> Self {
        let kp = k.div_ceil(4) * 4;
        let panels = n.div_ceil(PANEL);
        let mut w = vec![0i8; panels * kp * PANEL];
        let mut colsum128 = vec![0i32; panels * PANEL];
        for (col, row) in q.chunks_exact(k).enumerate().take(n) {
            let (p, c) = (col / PANEL, col % PANEL);
            let base = p * kp * PANEL + c * 4;
            let mut sum = 0i32;
            for (j, &v) in row.iter().enumerate() {
                w[base + (j / 4) * STEP + j % 4] = v;
                sum += i32::from(v);
            }
            colsum128[col] = 128 * sum;
        }
        Self {
            kp,
            panels,
            w,
            colsum128,
        }
    }

    /// The weight at (column, input), for tests.
    #[cfg(test)]
    fn get(&self, col: usize, j: usize) -> i8 {
        self.w[(col / PANEL) * self.kp * PANEL + (j / 4) * STEP + (col % PANEL) * 4 + j % 4]
    }
}

/// A linear layer `y = x Wᵀ + b` with `W (n, k)` quantized per output row.
#[derive(Clone)]
struct QLinear {
    n: usize,
    k: usize,
    packed: Packed,
    scale: Vec<f32>,
    bias: Vec<f32>,
}

impl QLinear {
    /// Quantizes `w` (`n × k`, row-major as PyTorch stores it).
    fn new(w: &[f32], n: usize, k: usize, bias: Vec<f32>) -> Self {
        let mut q = vec![0i8; n * k];
        let scale = w
            .chunks_exact(k)
            .zip(q.chunks_exact_mut(k))
            .map(|(row, q)| quantize_row(row, q))
            .collect();
        Self {
            n,
            k,
            packed: Packed::new(&q, n, k),
            scale,
            bias,
        }
    }
}

/// Activation-side buffers of one linear call, reused across layers.
#[derive(Default)]
struct GemmScratch {
    /// Quantized rows, `m × kp`.
    xq: Vec<i8>,
    /// The same offset by +128 as unsigned bytes (VNNI only).
    xu: Vec<u8>,
    /// Row scales.
    sx: Vec<f32>,
    /// Exact dot products, row-major per task (see [`gemm_panels`]).
    acc: Vec<i32>,
}

/// Exact integer products of `m` quantized rows (`xq`, `m × kp`) with panels `p0..p1` of `w`, into
/// `out`, row-major `m × 16 (p1 − p0)`. `xu` is `xq` offset by +128, needed only by
/// [`Kernel::Vnni512`].
fn gemm_panels(
    kernel: Kernel,
    xq: &[i8],
    xu: &[u8],
    m: usize,
    w: &Packed,
    (p0, p1): (usize, usize),
    out: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    if x86::gemm(kernel, xq, xu, m, w, (p0, p1), out) {
        return;
    }
    let _ = (kernel, xu);
    gemm_scalar(xq, m, w, (p0, p1), out);
}

/// The portable kernel: plain i32 arithmetic on the packed layout.
fn gemm_scalar(xq: &[i8], m: usize, w: &Packed, (p0, p1): (usize, usize), out: &mut [i32]) {
    let kp = w.kp;
    let width = (p1 - p0) * PANEL;
    for (x, orow) in xq.chunks_exact(kp).zip(out.chunks_exact_mut(width)).take(m) {
        for (p, acc) in (p0..p1).zip(orow.chunks_exact_mut(PANEL)) {
            let panel = &w.w[p * kp * PANEL..(p + 1) * kp * PANEL];
            let mut sums = [0i32; PANEL];
            for (xg, wg) in x.chunks_exact(4).zip(panel.chunks_exact(STEP)) {
                for (s, wc) in sums.iter_mut().zip(wg.chunks_exact(4)) {
                    *s += i32::from(xg[0]) * i32::from(wc[0])
                        + i32::from(xg[1]) * i32::from(wc[1])
                        + i32::from(xg[2]) * i32::from(wc[2])
                        + i32::from(xg[3]) * i32::from(wc[3]);
                }
            }
            acc.copy_from_slice(&sums);
        }
    }
}

/// The SIMD kernels. `unsafe` is confined here: the intrinsics run only after runtime CPU detection,
/// and every pointer offset is within slices whose lengths are asserted on entry.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code, clippy::needless_range_loop)]
mod x86 {
    use super::{Kernel, PANEL, Packed, STEP};
    use std::arch::x86_64::*;

    /// Runs `kernel` if it is a SIMD kernel this CPU has; `false` means the caller runs the scalar one.
    pub(super) fn gemm(
        kernel: Kernel,
        xq: &[i8],
        xu: &[u8],
        m: usize,
        w: &Packed,
        (p0, p1): (usize, usize),
        out: &mut [i32],
    ) -> bool {
        let kp = w.kp;
        assert!(kp.is_multiple_of(4) && p0 <= p1 && p1 <= w.panels);
        assert!(w.w.len() >= w.panels * kp * PANEL && w.colsum128.len() >= w.panels * PANEL);
        assert!(out.len() >= (p1 - p0) * m * PANEL);
        match kernel {
            Kernel::Vnni512 if Kernel::Vnni512.available() => {
                assert!(xu.len() >= m * kp);
                // SAFETY: the CPU has AVX512F/BW/VNNI (checked above), and the slice lengths asserted
                // above bound every access the kernel makes.
                unsafe { vnni(xu.as_ptr(), m, w, p0, p1, out.as_mut_ptr()) };
                true
            }
            Kernel::Avx2 if Kernel::Avx2.available() => {
                assert!(xq.len() >= m * kp);
                // SAFETY: the CPU has AVX2 (checked above); lengths asserted above.
                unsafe { avx2(xq.as_ptr(), m, w, p0, p1, out.as_mut_ptr()) };
                true
            }
            _ => false,
        }
    }

    /// GELU over a slice, compiled for AVX-512 (16 lanes); the same IEEE operations as the plain loop.
    pub(super) fn gelu_slice(x: &mut [f32]) -> bool {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
        fn run(x: &mut [f32]) {
            for v in x {
                *v = super::gelu_erf(*v);
            }
        }
        if !Kernel::Vnni512.available() {
            return false;
        }
        // SAFETY: the CPU has AVX-512F/BW/VL (checked above).
        unsafe { run(x) };
        true
    }

    /// VNNI tiles of up to 6 rows × 4 panels over panels `p0..p1`; `out` is row-major, 16 (p1 − p0)
    /// wide.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn vnni(x: *const u8, m: usize, w: &Packed, p0: usize, p1: usize, out: *mut i32) {
        let ostride = (p1 - p0) * PANEL;
        let mut p = p0;
        while p < p1 {
            let c = (p1 - p).min(4);
            // SAFETY: panels p..p+c are within 0..w.panels and their columns within `out` (caller).
            unsafe {
                let o = out.add((p - p0) * PANEL);
                match c {
                    4 => vnni_rows::<4>(x, m, w, p, o, ostride),
                    3 => vnni_rows::<3>(x, m, w, p, o, ostride),
                    2 => vnni_rows::<2>(x, m, w, p, o, ostride),
                    _ => vnni_rows::<1>(x, m, w, p, o, ostride),
                }
            }
            p += c;
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn vnni_rows<const C: usize>(
        x: *const u8,
        m: usize,
        w: &Packed,
        p: usize,
        out: *mut i32,
        ostride: usize,
    ) {
        let kp = w.kp;
        // SAFETY: rows r..r+R < m and panels p..p+C are in bounds (caller).
        unsafe {
            let wp = w.w.as_ptr().add(p * kp * PANEL);
            let cs = w.colsum128.as_ptr().add(p * PANEL);
            let mut r = 0;
            while r + 6 <= m {
                vnni_tile::<6, C>(x.add(r * kp), kp, wp, cs, out.add(r * ostride), ostride);
                r += 6;
            }
            let (x, o) = (x.add(r * kp), out.add(r * ostride));
            match m - r {
                5 => vnni_tile::<5, C>(x, kp, wp, cs, o, ostride),
                4 => vnni_tile::<4, C>(x, kp, wp, cs, o, ostride),
                3 => vnni_tile::<3, C>(x, kp, wp, cs, o, ostride),
                2 => vnni_tile::<2, C>(x, kp, wp, cs, o, ostride),
                1 => vnni_tile::<1, C>(x, kp, wp, cs, o, ostride),
                _ => {}
            }
        }
    }

    /// One tile: `R` rows (`x`, stride `kp`, bytes offset by +128) × `C` panels (`w`, stride
    /// `kp × 16`), accumulated with `vpdpbusd` (u8 × i8, four products per i32 lane, no overflow:
    /// 1536 × 255 × 127 < 2³¹) and corrected by `128 × colsum` to the signed product.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn vnni_tile<const R: usize, const C: usize>(
        x: *const u8,
        kp: usize,
        w: *const i8,
        colsum128: *const i32,
        out: *mut i32,
        ostride: usize,
    ) {
        let pstride = kp * PANEL;
        let mut acc = [[_mm512_setzero_si512(); C]; R];
        // SAFETY: step g < kp / 4 reads bytes 4g..4g+4 of each row and 64g..64g+64 of each panel.
        unsafe {
            for g in 0..kp / 4 {
                let mut wv = [_mm512_setzero_si512(); C];
                for c in 0..C {
                    wv[c] = _mm512_loadu_si512(w.add(c * pstride + g * STEP).cast());
                }
                for r in 0..R {
                    let xb =
                        _mm512_set1_epi32(x.add(r * kp + g * 4).cast::<i32>().read_unaligned());
                    for c in 0..C {
                        acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], xb, wv[c]);
                    }
                }
            }
            for c in 0..C {
                let cs = _mm512_loadu_si512(colsum128.add(c * PANEL).cast());
                for r in 0..R {
                    let v = _mm512_sub_epi32(acc[r][c], cs);
                    _mm512_storeu_si512(out.add(r * ostride + c * PANEL).cast(), v);
                }
            }
        }
    }

    /// AVX2 tiles of up to 4 rows × 1 panel (two 256-bit halves); `out` as for [`vnni`].
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(x: *const i8, m: usize, w: &Packed, p0: usize, p1: usize, out: *mut i32) {
        let kp = w.kp;
        let ostride = (p1 - p0) * PANEL;
        for p in p0..p1 {
            // SAFETY: panel p < w.panels; rows r..r+R < m; its columns within `out` (caller).
            unsafe {
                let wp = w.w.as_ptr().add(p * kp * PANEL);
                let o = out.add((p - p0) * PANEL);
                let mut r = 0;
                while r + 4 <= m {
                    avx2_tile::<4>(x.add(r * kp), kp, wp, o.add(r * ostride), ostride);
                    r += 4;
                }
                let (x, o) = (x.add(r * kp), o.add(r * ostride));
                match m - r {
                    3 => avx2_tile::<3>(x, kp, wp, o, ostride),
                    2 => avx2_tile::<2>(x, kp, wp, o, ostride),
                    1 => avx2_tile::<1>(x, kp, wp, o, ostride),
                    _ => {}
                }
            }
        }
    }

    /// One AVX2 tile with the sign trick: `|w|` as the unsigned operand and `x · sign(w)` as the signed
    /// one, so `vpmaddubsw` sees pairs of at most 2 × 127 × 127 < 2¹⁵ (no saturation), then `vpmaddwd`
    /// with ones widens to i32 lanes.
    #[target_feature(enable = "avx2")]
    unsafe fn avx2_tile<const R: usize>(
        x: *const i8,
        kp: usize,
        w: *const i8,
        out: *mut i32,
        ostride: usize,
    ) {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        // SAFETY: step g < kp / 4 reads bytes 4g..4g+4 of each row and 64g..64g+64 of the panel.
        unsafe {
            for g in 0..kp / 4 {
                let w0 = _mm256_loadu_si256(w.add(g * STEP).cast());
                let w1 = _mm256_loadu_si256(w.add(g * STEP + 32).cast());
                let a0 = _mm256_sign_epi8(w0, w0);
                let a1 = _mm256_sign_epi8(w1, w1);
                for r in 0..R {
                    let xb =
                        _mm256_set1_epi32(x.add(r * kp + g * 4).cast::<i32>().read_unaligned());
                    let p0 = _mm256_maddubs_epi16(a0, _mm256_sign_epi8(xb, w0));
                    let p1 = _mm256_maddubs_epi16(a1, _mm256_sign_epi8(xb, w1));
                    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
                    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
                }
            }
            for r in 0..R {
                _mm256_storeu_si256(out.add(r * ostride).cast(), acc[r][0]);
                _mm256_storeu_si256(out.add(r * ostride + 8).cast(), acc[r][1]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Deterministic f32 math
// ---------------------------------------------------------------------------------------------------

/// `eˣ` from `+ - * /`, `floor` and exponent bits only, so every platform computes the same bits
/// (within 1 ulp of the true value; branch-free, so loops over it vectorize).
///
/// Range reduction `x = k ln2 + r` with `ln2` split in two (Cody–Waite: `k × LN2_HI` is exact), the
/// Cephes `expf` polynomial on `|r| ≤ ln2/2`, and `2ᵏ` applied as two power-of-two factors so that
/// results near overflow need no special case. Results below `e⁻⁸⁷ ≈ 1.6e-38` are flushed to zero:
/// subnormal arithmetic takes microcode assists (~100× slower) and such weights do not matter to a
/// softmax or an erf.
#[inline]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 355/512, 9 significant bits
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.clamp(-87.0, 89.0);
    let k = (xc * LOG2E + 0.5).floor();
    let r = (xc - k * LN2_HI) - k * LN2_LO;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5) // Cephes: 5.0000001201e-1, which is 0.5 in f32
        * z
        + r
        + 1.0;
    // k is an integer in [-126, 128]: adding 1.5 × 2²³ puts it in the low mantissa bits exactly (a
    // vectorizable float-to-int conversion, unlike a saturating cast).
    let ki = (k + 12_582_912.0).to_bits() as i32 - 0x4b40_0000;
    let k1 = ki >> 1;
    let k2 = ki - k1;
    let y =
        p * f32::from_bits(((k1 + 127) as u32) << 23) * f32::from_bits(((k2 + 127) as u32) << 23);
    if x > 88.722_84 {
        f32::INFINITY
    } else if x < -87.0 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// `erf(x)` from `+ - * /` and our [`exp_f32`]: the Maclaurin series below `|x| < 0.5`, and above it
/// `1 − erfc(|x|)` with the Chebyshev fit of Numerical Recipes (`erfcc`, §6.2: relative error of erfc
/// < 1.2e-7, so the absolute error of erf stays near 1e-7). Both sides are cheap and computed, so the
/// select is branch-free and loops over it vectorize; odd by construction.
#[inline]
pub(crate) fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    // Series: erf(a) = 2/√π Σ (−1)ⁿ a^(2n+1) / (n! (2n+1)); 7 terms reach 1e-9 relative at a = 0.5.
    let s = a * a;
    let series = a
        * (std::f32::consts::FRAC_2_SQRT_PI
            + s * (-0.376_126_4
                + s * (0.112_837_92
                    + s * (-0.026_866_17
                        + s * (5.223_977_6e-3 + s * (-8.548_327e-4 + s * 1.205_533_3e-4))))));
    // erfc(9) < 1e-36 already rounds `1 − erfc` to 1; the clamp keeps `t × exp` out of subnormals.
    let ac = if a < 9.0 { a } else { 9.0 };
    let t = 1.0 / (1.0 + 0.5 * ac);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    let erfc = t * exp_f32(poly - ac * ac);
    let y = if a < 0.5 { series } else { 1.0 - erfc };
    if x < 0.0 {
        -y
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// GELU with the exact erf, as BERT's `gelu`: `0.5 x (1 + erf(x / √2))`.
#[inline]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU with the tanh approximation (`gelu_new`); `tanh(u) = 1 − 2 / (e^{2u} + 1)`.
#[inline]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    let tanh = 1.0 - 2.0 / (exp_f32(2.0 * u) + 1.0);
    0.5 * x * (1.0 + tanh)
}

/// LayerNorm parameters.
#[derive(Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// LayerNorm over rows of `x` in place: mean, then variance as the mean of squared deviations (both
/// sequential sums in index order), then `(x − mean) / √(var + eps) × γ + β`. Eight rows run
/// interleaved so their sums overlap in the pipeline; each row's own order is unchanged.
fn layer_norm(x: &mut [f32], norm: &Norm, eps: f32) {
    const LANES: usize = 8;
    let h = norm.gamma.len();
    let hf = h as f32;
    for block in x.chunks_mut(LANES * h) {
        let rows = block.len() / h;
        let mut mean = [0f32; LANES];
        let mut den = [0f32; LANES];
        let mut sum = [0f32; LANES];
        for j in 0..h {
            for (r, s) in sum.iter_mut().enumerate().take(rows) {
                *s += block[r * h + j];
            }
        }
        for r in 0..rows {
            mean[r] = sum[r] / hf;
        }
        let mut var = [0f32; LANES];
        for j in 0..h {
            for (r, v) in var.iter_mut().enumerate().take(rows) {
                let d = block[r * h + j] - mean[r];
                *v += d * d;
            }
        }
        for r in 0..rows {
            den[r] = (var[r] / hf + eps).sqrt();
        }
        for (r, row) in block.chunks_exact_mut(h).enumerate() {
            for ((v, &g), &b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
                *v = (*v - mean[r]) / den[r] * g + b;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Layer {
    /// Query, key and value fused into one `3h × h` layer (rows are quantized independently, so fusing
    /// changes no bit).
    qkv: QLinear,
    attn_out: QLinear,
    attn_norm: Norm,
    inter: QLinear,
    out: QLinear,
    out_norm: Norm,
}

/// An all-MiniLM-style BERT encoder with int8 linear layers and bit-reproducible output.
#[derive(Clone)]
pub(crate) struct Int8Bert {
    hidden: usize,
    heads: usize,
    intermediate: usize,
    vocab: usize,
    max_positions: usize,
    type_vocab: usize,
    eps: f32,
    act: HiddenAct,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    kernel: Kernel,
    /// [`PARALLEL_MIN_MACS`], lowered by tests to exercise the split.
    parallel_min_macs: usize,
}

impl std::fmt::Debug for Int8Bert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Int8Bert")
            .field("hidden", &self.hidden)
            .field("layers", &self.layers.len())
            .field("kernel", &self.kernel)
            .finish()
    }
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::InvalidModel {
        what: "bert weights".into(),
        reason: e.to_string(),
    }
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

fn load_norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Norm> {
    let ln = candle_nn::layer_norm(size, eps, vb)?;
    let beta = match ln.bias() {
        Some(b) => values(b)?,
        None => vec![0.0; size],
    };
    Ok(Norm {
        gamma: values(ln.weight())?,
        beta,
    })
}

/// Reads a linear layer's f32 weight `(out, in)` and bias through candle (same names and init hints as
/// candle's BERT, so a seeded test backend gives both models the same weights).
fn load_linear(k: usize, n: usize, vb: VarBuilder) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
    let l = candle_nn::linear(k, n, vb)?;
    let bias = match l.bias() {
        Some(b) => values(b)?,
        None => vec![0.0; n],
    };
    Ok((values(l.weight())?, bias))
}

struct Embeddings {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    norm: Norm,
}

fn load_embeddings(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Embeddings> {
    let h = cfg.hidden_size;
    let table = |n: usize, name: &str| -> candle_core::Result<Vec<f32>> {
        values(candle_nn::embedding(n, h, vb.pp(name))?.embeddings())
    };
    Ok(Embeddings {
        word: table(cfg.vocab_size, "word_embeddings")?,
        position: table(cfg.max_position_embeddings, "position_embeddings")?,
        token_type: table(cfg.type_vocab_size, "token_type_embeddings")?,
        norm: load_norm(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
    })
}

fn load_layers(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Vec<Layer>> {
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    (0..cfg.num_hidden_layers)
        .map(|l| {
            let vb = vb.pp(format!("layer.{l}"));
            let att = vb.pp("attention");
            let (mut w, mut b) = (Vec::with_capacity(3 * h * h), Vec::with_capacity(3 * h));
            for name in ["query", "key", "value"] {
                let (wi, bi) = load_linear(h, h, att.pp("self").pp(name))?;
                w.extend(wi);
                b.extend(bi);
            }
            let (wo, bo) = load_linear(h, h, att.pp("output").pp("dense"))?;
            let (wi, bi) = load_linear(h, i, vb.pp("intermediate").pp("dense"))?;
            let (wd, bd) = load_linear(i, h, vb.pp("output").pp("dense"))?;
            Ok(Layer {
                qkv: QLinear::new(&w, 3 * h, h, b),
                attn_out: QLinear::new(&wo, h, h, bo),
                attn_norm: load_norm(h, cfg.layer_norm_eps, att.pp("output").pp("LayerNorm"))?,
                inter: QLinear::new(&wi, i, h, bi),
                out: QLinear::new(&wd, h, i, bd),
                out_norm: load_norm(h, cfg.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
            })
        })
        .collect()
}

/// Per-group activations, sized once per group and reused by every layer.
struct Scratch {
    h: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    attn: Vec<f32>,
    inter: Vec<f32>,
    gemm: GemmScratch,
    /// One sentence's keys transposed (`hidden × len`), so score loops run over keys.
    kt: Vec<f32>,
    probs: Vec<f32>,
}

impl Int8Bert {
    /// Loads and quantizes a BERT from a candle variable source (safetensors or a test backend), with
    /// the tensor names and prefix fallbacks of candle 0.11.1's `BertModel::load`.
    pub(crate) fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        if cfg.num_attention_heads == 0
            || cfg.hidden_size == 0
            || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
            || cfg.intermediate_size == 0
        {
            return Err(invalid(format!(
                "hidden size {} is not a positive multiple of {} heads (intermediate {})",
                cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size
            )));
        }
        let vb = if vb.contains_tensor("bert") {
            vb.pp("bert")
        } else {
            vb
        };
        let (emb, layers) = match (
            load_embeddings(vb.pp("embeddings"), cfg),
            load_layers(vb.pp("encoder"), cfg),
        ) {
            (Ok(e), Ok(l)) => (e, l),
            (Err(err), _) | (_, Err(err)) => {
                let fallback = cfg.model_type.as_ref().map(|t| {
                    (
                        load_embeddings(vb.pp(format!("{t}.embeddings")), cfg),
                        load_layers(vb.pp(format!("{t}.encoder")), cfg),
                    )
                });
                match fallback {
                    Some((Ok(e), Ok(l))) => (e, l),
                    _ => return Err(invalid(err)),
                }
            }
        };
        Ok(Self {
            hidden: cfg.hidden_size,
            heads: cfg.num_attention_heads,
            intermediate: cfg.intermediate_size,
            vocab: cfg.vocab_size,
            max_positions: cfg.max_position_embeddings,
            type_vocab: cfg.type_vocab_size,
            eps: cfg.layer_norm_eps as f32,
            act: cfg.hidden_act,
            word: emb.word,
            position: emb.position,
            token_type: emb.token_type,
            emb_norm: emb.norm,
            layers,
            kernel: Kernel::best(),
            parallel_min_macs: PARALLEL_MIN_MACS,
        })
    }

    /// Forces an integer kernel (the results are the same; for tests and benchmarks).
    #[cfg_attr(not(test), allow(dead_code))] // tests and benchmarks
    pub(crate) fn with_kernel(mut self, kernel: Kernel) -> Result<Self> {
        if !kernel.available() {
            return Err(Error::NotImplemented(format!(
                "the {kernel:?} kernel on this CPU"
            )));
        }
        self.kernel = kernel;
        Ok(self)
    }

    /// The kernel in use.
    #[cfg_attr(not(test), allow(dead_code))] // tests and benchmarks
    pub(crate) fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Embedding width.
    #[cfg_attr(not(test), allow(dead_code))] // tests and benchmarks
    pub(crate) fn dim(&self) -> usize {
        self.hidden
    }

    /// One L2-normalised mean-pooled embedding per sentence; `ids[i]` and `type_ids[i]` are sentence
    /// `i`'s tokens (no padding). The bits do not depend on the batch or the rayon pool's size.
    pub(crate) fn embed(&self, ids: &[Vec<u32>], type_ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        self.validate(ids, type_ids)?;
        // Consecutive sentences up to GROUP_ROWS tokens share one pass over the weights.
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let (mut start, mut rows) = (0, 0);
        for (i, s) in ids.iter().enumerate() {
            if i > start && rows + s.len() > GROUP_ROWS {
                groups.push(start..i);
                (start, rows) = (i, 0);
            }
            rows += s.len();
        }
        groups.push(start..ids.len());
        if groups.len() == 1 {
            // One group: its large layers split their columns (and a long sentence its queries)
            // across the pool instead.
            let parallel = rayon::current_num_threads() > 1;
            return Ok(self.embed_group(ids, type_ids, parallel));
        }
        let out: Vec<Vec<Vec<f32>>> = groups
            .par_iter()
            .map(|g| self.embed_group(&ids[g.clone()], &type_ids[g.clone()], false))
            .collect();
        Ok(out.into_iter().flatten().collect())
    }

    fn validate(&self, ids: &[Vec<u32>], type_ids: &[Vec<u32>]) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        if ids.is_empty() {
            return bad("nothing to embed".into());
        }
        if ids.len() != type_ids.len() {
            return bad(format!(
                "{} token sequences but {} type-id sequences",
                ids.len(),
                type_ids.len()
            ));
        }
        for (i, (s, t)) in ids.iter().zip(type_ids).enumerate() {
            if s.is_empty() {
                return bad(format!("sentence {i} has no tokens"));
            }
            if s.len() != t.len() {
                return bad(format!(
                    "sentence {i}: {} tokens but {} type ids",
                    s.len(),
                    t.len()
                ));
            }
            if s.len() > self.max_positions {
                return bad(format!(
                    "sentence {i}: {} tokens exceed the model's {} positions",
                    s.len(),
                    self.max_positions
                ));
            }
            if let Some(id) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return bad(format!(
                    "sentence {i}: token id {id} outside the vocabulary of {}",
                    self.vocab
                ));
            }
            if let Some(id) = t.iter().find(|&&id| id as usize >= self.type_vocab) {
                return bad(format!(
                    "sentence {i}: token type {id} outside the {} types",
                    self.type_vocab
                ));
            }
        }
        Ok(())
    }

    /// Runs validated sentences as one matrix of rows; `parallel` lets large linear layers split their
    /// columns, and long sentences their queries, across the current pool.
    fn embed_group(
        &self,
        ids: &[Vec<u32>],
        type_ids: &[Vec<u32>],
        parallel: bool,
    ) -> Vec<Vec<f32>> {
        let (h, i) = (self.hidden, self.intermediate);
        let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
        let m: usize = lens.iter().sum();
        let max_len = lens.iter().copied().max().unwrap_or(0);
        let mut s = Scratch {
            h: vec![0.0; m * h],
            qkv: vec![0.0; m * 3 * h],
            ctx: vec![0.0; m * h],
            attn: vec![0.0; m * h],
            inter: vec![0.0; m * i],
            gemm: GemmScratch::default(),
            kt: vec![0.0; h * max_len.next_multiple_of(8)],
            probs: vec![0.0; QUERY_BLOCK * max_len.next_multiple_of(8)],
        };

        // Embeddings: (word + type) + position, as candle adds them, then LayerNorm.
        let rows = ids
            .iter()
            .zip(type_ids)
            .flat_map(|(s, t)| s.iter().zip(t).enumerate());
        for (row, (pos, (&id, &tt))) in s.h.chunks_exact_mut(h).zip(rows) {
            let w = &self.word[id as usize * h..][..h];
            let t = &self.token_type[tt as usize * h..][..h];
            let p = &self.position[pos * h..][..h];
            for (((o, &w), &t), &p) in row.iter_mut().zip(w).zip(t).zip(p) {
                *o = (w + t) + p;
            }
        }
        layer_norm(&mut s.h, &self.emb_norm, self.eps);

        for layer in &self.layers {
            self.linear(&layer.qkv, &s.h, m, &mut s.qkv, &mut s.gemm, parallel);
            self.attention(&s.qkv, &lens, &mut s.ctx, &mut s.kt, &mut s.probs, parallel);
            self.linear(
                &layer.attn_out,
                &s.ctx,
                m,
                &mut s.attn,
                &mut s.gemm,
                parallel,
            );
            for (a, &x) in s.attn.iter_mut().zip(&s.h) {
                *a += x;
            }
            layer_norm(&mut s.attn, &layer.attn_norm, self.eps);
            self.linear(
                &layer.inter,
                &s.attn,
                m,
                &mut s.inter,
                &mut s.gemm,
                parallel,
            );
            self.activation(&mut s.inter);
            self.linear(&layer.out, &s.inter, m, &mut s.h, &mut s.gemm, parallel);
            for (o, &a) in s.h.iter_mut().zip(&s.attn) {
                *o += a;
            }
            layer_norm(&mut s.h, &layer.out_norm, self.eps);
        }

        // Mean pooling (sequential over tokens), then L2 normalisation.
        let mut out = Vec::with_capacity(lens.len());
        let mut r0 = 0;
        for &t in &lens {
            let mut v = vec![0f32; h];
            for row in s.h[r0 * h..(r0 + t) * h].chunks_exact(h) {
                for (a, &x) in v.iter_mut().zip(row) {
                    *a += x;
                }
            }
            for a in &mut v {
                *a /= t as f32;
            }
            let mut sq = 0f32;
            for &a in &v {
                sq += a * a;
            }
            let norm = sq.sqrt();
            let norm = if norm > 1e-12 { norm } else { 1e-12 };
            for a in &mut v {
                *a /= norm;
            }
            out.push(v);
            r0 += t;
        }
        out
    }

    /// The feed-forward activation in place. With the VNNI kernel (so AVX-512 is there) GELU runs as
    /// an AVX-512 build of the same loop: 16 lanes instead of 8, the same operations per element.
    fn activation(&self, x: &mut [f32]) {
        match self.act {
            HiddenAct::Gelu => {
                #[cfg(target_arch = "x86_64")]
                if self.kernel == Kernel::Vnni512 && x86::gelu_slice(x) {
                    return;
                }
                x.iter_mut().for_each(|v| *v = gelu_erf(*v))
            }
            HiddenAct::GeluApproximate => x.iter_mut().for_each(|v| *v = gelu_tanh(*v)),
            // Not `f32::max`, which may return either zero for ±0.
            HiddenAct::Relu => x
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { *v } else { 0.0 }),
        }
    }

    /// `y = x Wᵀ + b` for `m` rows: quantize rows, exact integer products, dequantize.
    fn linear(
        &self,
        lin: &QLinear,
        x: &[f32],
        m: usize,
        y: &mut [f32],
        g: &mut GemmScratch,
        parallel: bool,
    ) {
        let (k, kp, n) = (lin.k, lin.packed.kp, lin.n);
        g.xq.resize(m * kp, 0);
        g.sx.resize(m, 0.0);
        for ((row, q), s) in x
            .chunks_exact(k)
            .zip(g.xq.chunks_exact_mut(kp))
            .zip(&mut g.sx)
        {
            *s = quantize_row(row, q);
        }
        if self.kernel == Kernel::Vnni512 {
            g.xu.clear();
            g.xu.extend(g.xq.iter().map(|&q| (q as u8) ^ 0x80));
        }
        let panels = lin.packed.panels;
        g.acc.resize(panels * m * PANEL, 0);
        let acc = &mut g.acc[..panels * m * PANEL];
        // Any split gives the same bits: columns are independent. Each task's output is row-major
        // over its own panels.
        let per_task = if parallel && panels >= 8 && m * n * k >= self.parallel_min_macs {
            panels
                .div_ceil(2 * rayon::current_num_threads())
                .next_multiple_of(4)
        } else {
            panels
        };
        let (xq, xu) = (&g.xq[..], &g.xu[..]);
        let task = |t: usize, out: &mut [i32]| {
            let p0 = t * per_task;
            let p1 = (p0 + per_task).min(panels);
            gemm_panels(self.kernel, xq, xu, m, &lin.packed, (p0, p1), out);
        };
        if per_task < panels {
            acc.par_chunks_mut(per_task * m * PANEL)
                .enumerate()
                .for_each(|(t, out)| task(t, out));
        } else {
            task(0, acc);
        }
        // Dequantize: exactly `acc * (s_w * s_x) + b`, in that order.
        for (t, acc) in acc.chunks(per_task * m * PANEL).enumerate() {
            let width = acc.len() / m;
            let c0 = t * per_task * PANEL;
            let cols = width.min(n - c0);
            let (sw, b) = (&lin.scale[c0..c0 + cols], &lin.bias[c0..c0 + cols]);
            for ((a, yr), &sx) in acc
                .chunks_exact(width)
                .zip(y.chunks_exact_mut(n))
                .zip(&g.sx)
            {
                for (((y, &a), &sw), &b) in yr[c0..c0 + cols].iter_mut().zip(a).zip(sw).zip(b) {
                    *y = a as f32 * (sw * sx) + b;
                }
            }
        }
    }

    /// Multi-head self-attention of each sentence over its own tokens (`qkv` rows are `[q | k | v]`),
    /// into `ctx`. A long lone sentence (`parallel`) splits its queries across the pool: queries are
    /// independent, so the bits do not change.
    fn attention(
        &self,
        qkv: &[f32],
        lens: &[usize],
        ctx: &mut [f32],
        kt: &mut [f32],
        probs: &mut [f32],
        parallel: bool,
    ) {
        let h = self.hidden;
        let mut r0 = 0;
        for &t in lens {
            // Keys transposed and padded with zeros to whole vectors of 8: score loops run over keys.
            let tp = t.next_multiple_of(8);
            let kt = &mut kt[..h * tp];
            kt.fill(0.0);
            let rows = &qkv[r0 * 3 * h..(r0 + t) * 3 * h];
            for (j, row) in rows.chunks_exact(3 * h).enumerate() {
                for (c, &k) in row[h..2 * h].iter().enumerate() {
                    kt[c * tp + j] = k;
                }
            }
            let kt = &kt[..];
            let ctx = &mut ctx[r0 * h..(r0 + t) * h];
            if parallel && 2 * t * t * h >= self.parallel_min_macs / 8 {
                ctx.par_chunks_mut(QUERY_BLOCK * h)
                    .enumerate()
                    .for_each_init(
                        || vec![0f32; QUERY_BLOCK * tp],
                        |probs, (b, out)| self.attend(rows, kt, t, b * QUERY_BLOCK, probs, out),
                    );
            } else {
                for (b, out) in ctx.chunks_mut(QUERY_BLOCK * h).enumerate() {
                    self.attend(rows, kt, t, b * QUERY_BLOCK, probs, out);
                }
            }
            r0 += t;
        }
    }

    /// All heads of queries `i0..i0 + 4` (fewer at the end) of one sentence (`rows`: its `qkv` rows;
    /// `kt`: its keys transposed, rows padded to `tp`), into `out` (those queries' context rows).
    ///
    /// Scores are `(q·k) × 1/√d` with the dot product summed in index order; softmax subtracts the max
    /// and divides by the sum of the exponentials (sequential over keys); the context sums `p_j v_j`
    /// over keys in order. The four queries run side by side so that their independent sums fill the
    /// pipeline; no sum changes its order.
    fn attend(
        &self,
        rows: &[f32],
        kt: &[f32],
        t: usize,
        i0: usize,
        probs: &mut [f32],
        out: &mut [f32],
    ) {
        const QB: usize = QUERY_BLOCK;
        let h = self.hidden;
        let dh = h / self.heads;
        let tp = t.next_multiple_of(8);
        let scale = 1.0 / (dh as f32).sqrt();
        // A short last block repeats its last query; those results are not stored.
        let qi: [usize; QB] = std::array::from_fn(|b| (i0 + b).min(t - 1));
        let n_out = out.len() / h;
        let probs = &mut probs[..QB * tp];
        for head in 0..self.heads {
            let kh = &kt[head * dh * tp..(head + 1) * dh * tp];
            let q: [&[f32]; QB] =
                qi.map(|i| &rows[i * 3 * h + head * dh..i * 3 * h + (head + 1) * dh]);
            for c in 0..tp / 8 {
                let mut acc = [[0f32; 8]; QB];
                for (d, kd) in kh.chunks_exact(tp).enumerate() {
                    let k8 = &kd[c * 8..c * 8 + 8];
                    for (a, q) in acc.iter_mut().zip(&q) {
                        let qd = q[d];
                        for (a, &k) in a.iter_mut().zip(k8) {
                            *a += qd * k;
                        }
                    }
                }
                for (b, a) in acc.iter().enumerate() {
                    probs[b * tp + c * 8..b * tp + c * 8 + 8].copy_from_slice(a);
                }
            }
            for p in probs.chunks_exact_mut(tp) {
                for s in p.iter_mut() {
                    *s *= scale;
                }
                // The max in eight lanes (its value does not depend on the order; only the sign of a
                // zero maximum could, and `s − (±0)` is the same for every s that matters).
                p[t..].fill(f32::NEG_INFINITY);
                let mut m8 = [f32::NEG_INFINITY; 8];
                for p8 in p.chunks_exact(8) {
                    for (m, &s) in m8.iter_mut().zip(p8) {
                        if s > *m {
                            *m = s;
                        }
                    }
                }
                let mut max = f32::NEG_INFINITY;
                for m in m8 {
                    if m > max {
                        max = m;
                    }
                }
                for s in p[..t].iter_mut() {
                    *s = exp_f32(*s - max);
                }
            }
            let mut sum = [0f32; QB];
            for j in 0..t {
                for (b, sum) in sum.iter_mut().enumerate() {
                    *sum += probs[b * tp + j];
                }
            }
            for (p, &sum) in probs.chunks_exact_mut(tp).zip(&sum) {
                for s in &mut p[..t] {
                    *s /= sum;
                }
            }
            let vcol = 2 * h + head * dh;
            let mut d0 = 0;
            while d0 < dh {
                let mut acc = [[0f32; 8]; QB];
                if d0 + 8 <= dh {
                    for (j, vrow) in rows.chunks_exact(3 * h).enumerate() {
                        let v8 = &vrow[vcol + d0..vcol + d0 + 8];
                        for (b, a) in acc.iter_mut().enumerate() {
                            let p = probs[b * tp + j];
                            for (a, &v) in a.iter_mut().zip(v8) {
                                *a += p * v;
                            }
                        }
                    }
                } else {
                    for (j, vrow) in rows.chunks_exact(3 * h).enumerate() {
                        let v = &vrow[vcol + d0..vcol + dh];
                        for (b, a) in acc.iter_mut().enumerate() {
                            let p = probs[b * tp + j];
                            for (a, &v) in a.iter_mut().zip(v) {
                                *a += p * v;
                            }
                        }
                    }
                }
                let w = (dh - d0).min(8);
                for (b, a) in acc.iter().enumerate().take(n_out) {
                    let o = b * h + head * dh + d0;
                    out[o..o + w].copy_from_slice(&a[..w]);
                }
                d0 += w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        embed::cosine,
        registry::{FileRole, MINILM, ModelStore},
        runtime::with_threads,
        sampling::Rng,
    };
    use candle_core::Device;
    use candle_transformers::models::bert::BertModel;
    use std::time::Instant;

    use crate::embed::SeededInit;

    fn tiny_config(hidden: usize, heads: usize, inter: usize, vocab: usize, pos: usize) -> Config {
        serde_json::from_value(serde_json::json!({
            "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": 2,
            "num_attention_heads": heads, "intermediate_size": inter, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0, "max_position_embeddings": pos, "type_vocab_size": 2,
            "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
            "position_embedding_type": "absolute", "use_cache": false, "classifier_dropout": null,
            "model_type": "bert"
        }))
        .unwrap()
    }

    /// Both models on the same seeded weights.
    fn tiny(seed: u64, cfg: &Config) -> (Int8Bert, BertModel) {
        let vb = VarBuilder::from_backend(Box::new(SeededInit(seed)), DType::F32, Device::Cpu);
        (
            Int8Bert::load(vb.clone(), cfg).unwrap(),
            BertModel::load(vb, cfg).unwrap(),
        )
    }

    /// `n` random sentences of 1..=max_len tokens, with a few long ones and both token types.
    fn sentences(
        seed: u64,
        n: usize,
        cfg: &Config,
        max_len: usize,
    ) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let mut rng = Rng::new(seed);
        let (mut ids, mut types) = (Vec::new(), Vec::new());
        for i in 0..n {
            let len = if i % 7 == 3 {
                max_len
            } else {
                1 + (rng.next_u64() % 24) as usize
            };
            ids.push(
                (0..len)
                    .map(|_| (rng.next_u64() % cfg.vocab_size as u64) as u32)
                    .collect(),
            );
            let split = len / 2;
            types.push(
                (0..len)
                    .map(|j| u32::from(i % 2 == 1 && j >= split))
                    .collect(),
            );
        }
        (ids, types)
    }

    /// candle's f32 forward, mean pooling and L2 norm for one sentence (no padding).
    fn candle_embed(model: &BertModel, ids: &[u32], types: &[u32]) -> Vec<f32> {
        let t = ids.len();
        let ids = Tensor::from_vec(ids.to_vec(), (1, t), &Device::Cpu).unwrap();
        let types = Tensor::from_vec(types.to_vec(), (1, t), &Device::Cpu).unwrap();
        let hidden = model.forward(&ids, &types, None).unwrap();
        let mean = (hidden.sum(1).unwrap() / t as f64).unwrap();
        let v = mean.squeeze(0).unwrap().to_vec1::<f32>().unwrap();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter().map(|x| x / norm).collect()
    }

    fn bits(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
        v.iter()
            .map(|r| r.iter().map(|x| x.to_bits()).collect())
            .collect()
    }

    fn simd_kernels() -> Vec<Kernel> {
        [Kernel::Avx2, Kernel::Vnni512]
            .into_iter()
            .filter(|k| {
                let ok = k.available();
                if !ok {
                    eprintln!("SKIP {k:?}: this CPU lacks it");
                }
                ok
            })
            .collect()
    }

    /// Runs one kernel over all panels and returns row-major `m × n` results.
    fn run_kernel(kernel: Kernel, xq: &[i8], m: usize, w: &Packed, n: usize) -> Vec<i32> {
        let xu: Vec<u8> = xq.iter().map(|&q| (q as u8) ^ 0x80).collect();
        let mut acc = vec![0i32; w.panels * m * PANEL];
        gemm_panels(kernel, xq, &xu, m, w, (0, w.panels), &mut acc);
        let mut out = vec![0i32; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = acc[r * w.panels * PANEL + c];
            }
        }
        out
    }

    #[test]
    fn integer_kernels_agree_exactly() {
        let mut rng = Rng::new(11);
        let mut rand_i8 = |len: usize| -> Vec<i8> {
            (0..len)
                .map(|_| (rng.next_u64() % 255) as i32 - 127)
                .map(|v| v as i8)
                .collect()
        };
        let kernels = simd_kernels();
        for m in [1, 3, 17] {
            for k in [32, 384, 1536] {
                for n in [1, 83, 149] {
                    let mut x = rand_i8(m * k);
                    let mut w = rand_i8(n * k);
                    // Extremes: +127 and −127 rows, alternating signs, zero rows.
                    let fill = |v: &mut [i8], row: usize, f: &dyn Fn(usize) -> i8| {
                        for (j, q) in v[row * k..(row + 1) * k].iter_mut().enumerate() {
                            *q = f(j);
                        }
                    };
                    let patterns: [&dyn Fn(usize) -> i8; 4] = [
                        &|_| 127,
                        &|_| -127,
                        &|j| if j % 2 == 0 { 127 } else { -127 },
                        &|_| 0,
                    ];
                    for (row, f) in patterns.iter().enumerate() {
                        if row < m {
                            fill(&mut x, m - 1 - row, f);
                        }
                        if row < n {
                            fill(&mut w, row, f);
                        }
                    }
                    let mut reference = vec![0i32; m * n];
                    for r in 0..m {
                        for c in 0..n {
                            reference[r * n + c] = (0..k)
                                .map(|j| i32::from(x[r * k + j]) * i32::from(w[c * k + j]))
                                .sum();
                        }
                    }
                    let packed = Packed::new(&w, n, k);
                    assert_eq!(packed.get(n - 1, k - 1), w[n * k - 1]);
                    assert_eq!(
                        run_kernel(Kernel::Scalar, &x, m, &packed, n),
                        reference,
                        "scalar m={m} k={k} n={n}"
                    );
                    for &kernel in &kernels {
                        assert_eq!(
                            run_kernel(kernel, &x, m, &packed, n),
                            reference,
                            "{kernel:?} m={m} k={k} n={n}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn quantization_follows_the_contract() {
        let mut q = [9i8; 6];
        assert_eq!(quantize_row(&[0.0; 4], &mut q), 0.0);
        assert_eq!(q, [0; 6]);
        let s = quantize_row(&[2.54, -1.27, 0.005, 0.015], &mut q);
        assert_eq!(s, 2.54f32 / 127.0);
        assert_eq!(&q[..4], &[127, -64, 0, 1]);
        assert_eq!(&q[4..], &[0, 0]);
    }

    #[test]
    fn encoder_bits_do_not_depend_on_batch_threads_or_kernel() {
        for (seed, cfg) in [
            (3, tiny_config(48, 4, 90, 100, 80)),
            (5, tiny_config(32, 4, 64, 64, 64)),
        ] {
            let (model, _) = tiny(seed, &cfg);
            let (ids, types) = sentences(seed, 20, &cfg, cfg.max_position_embeddings);
            let batch = model.embed(&ids, &types).unwrap();
            assert_eq!(batch.len(), ids.len());
            assert!(batch.iter().all(|v| v.len() == model.dim()));
            for v in &batch {
                let n: f32 = v.iter().map(|x| x * x).sum();
                assert!((n - 1.0).abs() < 1e-5, "norm {n}");
            }
            let want = bits(&batch);
            for (i, (s, t)) in ids.iter().zip(&types).enumerate() {
                let alone = model
                    .embed(std::slice::from_ref(s), std::slice::from_ref(t))
                    .unwrap();
                assert_eq!(bits(&alone)[0], want[i], "sentence {i} alone vs in a batch");
            }
            let mut split = model.clone();
            split.parallel_min_macs = 0;
            for threads in [1, 2] {
                let got = with_threads(threads, || model.embed(&ids, &types).unwrap()).unwrap();
                assert_eq!(bits(&got), want, "batch at {threads} threads");
                // One sentence: its layers' columns split across the pool.
                let one = with_threads(threads, || split.embed(&ids[3..4], &types[3..4]).unwrap())
                    .unwrap();
                assert_eq!(bits(&one)[0], want[3], "one sentence at {threads} threads");
            }
            let mut kernels = simd_kernels();
            kernels.push(Kernel::Scalar);
            for kernel in kernels {
                let m = model.clone().with_kernel(kernel).unwrap();
                assert_eq!(m.kernel(), kernel);
                assert_eq!(bits(&m.embed(&ids, &types).unwrap()), want, "{kernel:?}");
            }
        }
    }

    /// BLAKE3 over the little-endian bytes of every vector.
    fn digest(v: &[Vec<f32>]) -> String {
        let mut h = blake3::Hasher::new();
        for x in v.iter().flatten() {
            h.update(&x.to_le_bytes());
        }
        h.finalize().to_hex().to_string()
    }

    /// Pins the numerics: any change to an operation or its order changes these bits, which breaks
    /// replays of work embedded before it, so it must be deliberate (and change the runtime version).
    #[test]
    fn output_bits_are_pinned() {
        let cfg = tiny_config(48, 4, 90, 100, 80);
        let (model, _) = tiny(3, &cfg);
        let (ids, types) = sentences(3, 20, &cfg, cfg.max_position_embeddings);
        assert_eq!(
            digest(&model.embed(&ids, &types).unwrap()),
            "574f50f9cb3da205ecce00266641176c89701ffb8bd0621c674162aa1db49b2a"
        );
    }

    #[test]
    fn close_to_candle_f32() {
        for (seed, cfg) in [
            (3, tiny_config(48, 4, 90, 100, 80)),
            (5, tiny_config(32, 4, 64, 64, 64)),
        ] {
            let (model, reference) = tiny(seed, &cfg);
            let (ids, types) = sentences(seed + 1, 12, &cfg, 40);
            let ours = model.embed(&ids, &types).unwrap();
            let mut min = 1f32;
            for ((s, t), v) in ids.iter().zip(&types).zip(&ours) {
                let c = cosine(v, &candle_embed(&reference, s, t));
                min = min.min(c);
            }
            eprintln!("tiny bert seed {seed}: min cosine int8 vs candle f32 = {min}");
            assert!(min >= 0.99, "min cosine {min}");
        }
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut max_rel = 0f64;
        let mut x = -90.0f32;
        while x < 88.7 {
            let got = exp_f32(x);
            if x < -87.0 {
                assert_eq!(got, 0.0, "exp({x}) is flushed to zero");
            } else {
                let want = (x as f64).exp();
                assert!(got >= f32::MIN_POSITIVE, "exp({x}) = {got} is normal");
                max_rel = max_rel.max((got as f64 - want).abs() / want);
            }
            x += 1.0 / 1024.0 + x.abs() * 1e-6;
        }
        eprintln!("exp: max relative error {max_rel:e}");
        assert!(max_rel < 1.2e-7, "exp max relative error {max_rel:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());

        let (mut max_erf, mut max_gelu) = (0f64, 0f64);
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            let want = candle_core::cpu::erf::erf_f64(x as f64);
            max_erf = max_erf.max((erf_f32(x) as f64 - want).abs());
            let g = 0.5 * x as f64 * (1.0 + candle_core::cpu::erf::erf_f64(x as f64 / 2f64.sqrt()));
            max_gelu = max_gelu.max((gelu_erf(x) as f64 - g).abs() / (x.abs() as f64).max(1.0));
        }
        eprintln!("erf: max absolute error {max_erf:e}; gelu: max error/max(1,|x|) {max_gelu:e}");
        assert!(max_erf < 2e-7, "erf max abs error {max_erf:e}");
        assert!(max_gelu < 4e-7, "gelu error {max_gelu:e}");
        assert_eq!(erf_f32(0.0), 0.0);
        assert_eq!(erf_f32(10.0), 1.0);
        assert_eq!(erf_f32(-10.0), -1.0);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert!(erf_f32(f32::NAN).is_nan());
    }

    #[test]
    fn invalid_inputs_are_typed() {
        let cfg = tiny_config(32, 4, 64, 64, 64);
        let (model, _) = tiny(5, &cfg);
        let bad = |ids: Vec<Vec<u32>>, types: Vec<Vec<u32>>| {
            matches!(model.embed(&ids, &types), Err(Error::InvalidInput(_)))
        };
        assert!(bad(vec![], vec![]));
        assert!(bad(vec![vec![]], vec![vec![]]));
        assert!(bad(vec![vec![1, 2]], vec![vec![0]]));
        assert!(bad(vec![vec![1]], vec![]));
        assert!(bad(vec![vec![64]], vec![vec![0]]));
        assert!(bad(vec![vec![1]], vec![vec![2]]));
        assert!(bad(vec![vec![1; 65]], vec![vec![0; 65]]));
        assert!(!bad(vec![vec![63; 64]], vec![vec![1; 64]]));
        let mut odd = cfg.clone();
        odd.num_attention_heads = 5;
        let vb = VarBuilder::from_backend(Box::new(SeededInit(1)), DType::F32, Device::Cpu);
        assert!(matches!(
            Int8Bert::load(vb, &odd),
            Err(Error::InvalidModel { .. })
        ));
    }

    /// The store holding MiniLM, or `None` (skip) — a failure when `MYCEL_REQUIRE_MODELS=1`.
    fn minilm_store() -> Option<ModelStore> {
        let store = ModelStore::new(ModelStore::default_root());
        if store.is_present(&MINILM) {
            return Some(store);
        }
        let why = format!(
            "minilm not found under {} (run scripts/fetch-models.sh)",
            store.root().display()
        );
        assert!(
            std::env::var("MYCEL_REQUIRE_MODELS").as_deref() != Ok("1"),
            "MYCEL_REQUIRE_MODELS=1 and {why}"
        );
        eprintln!("SKIP: {why}");
        None
    }

    /// Our encoder, candle's f32 `BertModel` and an unpadded tokenizer, all from the pinned files.
    fn load_minilm(store: &ModelStore) -> (Int8Bert, BertModel, tokenizers::Tokenizer) {
        let weights = store.read_verified(&MINILM, FileRole::Weights).unwrap();
        let config = store.read_verified(&MINILM, FileRole::Config).unwrap();
        let tok = store.read_verified(&MINILM, FileRole::Tokenizer).unwrap();
        let cfg: Config = serde_json::from_slice(&config).unwrap();
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).unwrap();
        let ours = Int8Bert::load(vb.clone(), &cfg).unwrap();
        let reference = BertModel::load(vb, &cfg).unwrap();
        let mut tokenizer = tokenizers::Tokenizer::from_bytes(&tok).unwrap();
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).unwrap();
        (ours, reference, tokenizer)
    }

    /// candle's f32 path as served before the int8 encoder: one forward over the batch padded to its
    /// longest sentence, attention-masked mean pooling, L2 norm.
    fn candle_embed_padded(
        model: &BertModel,
        ids: &[Vec<u32>],
        types: &[Vec<u32>],
    ) -> Vec<Vec<f32>> {
        let (b, t) = (ids.len(), ids.iter().map(Vec::len).max().unwrap());
        let pad = |v: &[Vec<u32>], f: &dyn Fn(usize, u32) -> u32| -> Tensor {
            let flat: Vec<u32> = v
                .iter()
                .flat_map(|s| (0..t).map(move |j| s.get(j).map_or(0, |&x| f(j, x))))
                .collect();
            Tensor::from_vec(flat, (b, t), &Device::Cpu).unwrap()
        };
        let mask = pad(ids, &|_, _| 1);
        let hidden = model
            .forward(&pad(ids, &|_, x| x), &pad(types, &|_, x| x), Some(&mask))
            .unwrap();
        let m = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let mean = hidden
            .broadcast_mul(&m)
            .unwrap()
            .sum(1)
            .unwrap()
            .broadcast_div(&m.sum(1).unwrap())
            .unwrap();
        let norm = mean.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
        mean.broadcast_div(&norm).unwrap().to_vec2().unwrap()
    }

    fn tokenize(tk: &tokenizers::Tokenizer, texts: &[&str]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        texts
            .iter()
            .map(|t| {
                let e = tk.encode(*t, true).unwrap();
                (e.get_ids().to_vec(), e.get_type_ids().to_vec())
            })
            .unzip()
    }

    const REAL: [&str; 10] = [
        "The cat sat on the mat.",
        "A quick brown fox jumps over the lazy dog near the riverbank.",
        "Quantum computers exploit superposition and entanglement to solve certain problems faster.",
        "How do I reset my password if I no longer have access to my email?",
        "The central bank raised interest rates by a quarter point to curb inflation.",
        "She played a haunting melody on the old piano while the rain fell outside.",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
        "Error: connection refused (os error 111) while fetching https://example.com/api/v2",
        "I can't believe it's already December — where did the year go?!",
        "Mix two cups of flour with one teaspoon of baking soda and a pinch of salt.",
    ];

    #[test]
    fn real_minilm_close_to_candle_f32() {
        let Some(store) = minilm_store() else { return };
        let (ours, candle, tk) = load_minilm(&store);
        let (ids, types) = tokenize(&tk, &REAL);
        let got = ours.embed(&ids, &types).unwrap();
        let mut min = 1f32;
        for (text, v) in REAL.iter().zip(&got) {
            let e = tk.encode(*text, true).unwrap();
            let c = cosine(v, &candle_embed(&candle, e.get_ids(), e.get_type_ids()));
            eprintln!("cosine {c:.6}  {text}");
            min = min.min(c);
        }
        eprintln!(
            "real MiniLM ({:?}): min cosine int8 vs candle f32 = {min}",
            ours.kernel()
        );
        assert!(min >= 0.99, "min cosine {min}");
        assert_eq!(
            digest(&got),
            "c0448a15d59a3187147a8695213c3d1651e7e42563a7e3160fdffeaeeee0cbdd",
            "pinned bits of the real model"
        );
        // The portable kernel gives the same bits on the real weights too.
        let scalar = ours.clone().with_kernel(Kernel::Scalar).unwrap();
        assert_eq!(bits(&scalar.embed(&ids, &types).unwrap()), bits(&got));
    }

    /// Timing, not a test: one sentence, a batch of 64 and one long text, per kernel, beside candle's f32
    /// path. `RAYON_NUM_THREADS=1 cargo test -p mycel-ml --release --lib bert -- --ignored --nocapture`
    /// (candle's matmul sizes its own threads from that variable).
    #[test]
    #[ignore]
    fn bench_minilm() {
        let Some(store) = minilm_store() else { return };
        let (ours, candle, tk) = load_minilm(&store);
        let one = ["The cat sat on the mat."];
        let (one_ids, one_types) = tokenize(&tk, &one);
        let long = REAL.join(" ");
        let (long_ids, long_types) = tokenize(&tk, &[long.as_str()]);
        let subjects = [
            "The cat",
            "My neighbour",
            "A tired engineer",
            "The committee",
            "Our server",
            "This old car",
            "The river",
            "A small child",
        ];
        let verbs = [
            "quietly watched",
            "finally fixed",
            "barely noticed",
            "loudly praised",
            "slowly crossed",
            "never trusted",
            "happily painted",
            "carefully sorted",
        ];
        let texts: Vec<String> = (0..64)
            .map(|i| {
                format!(
                    "{} {} the {} today.",
                    subjects[i % 8],
                    verbs[(i / 8) % 8],
                    ["garden", "bridge", "report", "kitchen"][i % 4]
                )
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (ids, types) = tokenize(&tk, &refs);
        let tokens: usize = ids.iter().map(Vec::len).sum();
        eprintln!(
            "RAYON_NUM_THREADS={:?}; one sentence: {} tokens; batch: 64 sentences, {tokens} tokens",
            std::env::var("RAYON_NUM_THREADS").ok(),
            one_ids[0].len()
        );
        let time = |reps: usize, f: &dyn Fn()| -> f64 {
            f();
            let mut v: Vec<f64> = (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v[reps / 2]
        };
        for threads in [1, 2] {
            with_threads(threads, || {
                let mut kernels = vec![Kernel::Scalar];
                kernels.extend(simd_kernels());
                for k in kernels {
                    let m = ours.clone().with_kernel(k).unwrap();
                    let t1 = time(30, &|| {
                        m.embed(&one_ids, &one_types).unwrap();
                    });
                    let tb = time(5, &|| {
                        m.embed(&ids, &types).unwrap();
                    });
                    let tl = time(10, &|| {
                        m.embed(&long_ids, &long_types).unwrap();
                    });
                    eprintln!(
                        "{threads} thread(s) int8 {k:?}: one sentence {:.3} ms; batch-64 {:.0} sentences/s; one {}-token text {:.2} ms",
                        t1 * 1e3,
                        64.0 / tb,
                        long_ids[0].len(),
                        tl * 1e3
                    );
                }
                let t1 = time(30, &|| {
                    candle_embed_padded(&candle, &one_ids, &one_types);
                });
                let tb = time(5, &|| {
                    candle_embed_padded(&candle, &ids, &types);
                });
                let tt = time(5, &|| {
                    tokenize(&tk, &refs);
                });
                eprintln!(
                    "{threads} thread(s) candle f32 (padded batch): one sentence {:.3} ms; batch-64 {:.0} sentences/s (tokenizing the batch, not included: {:.3} ms)",
                    t1 * 1e3,
                    64.0 / tb,
                    tt * 1e3
                );
            })
            .unwrap();
        }
    }
}
