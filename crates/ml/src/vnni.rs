//! AVX512-VNNI kernels for the two GGUF block formats SmolLM2 runs in quantized mode — Q4_1 for every
//! linear layer, Q8_0 for the output layer — giving the same bits as the kernels they replace.
//!
//! Why the bits cannot move: the integer part of a block's dot product is exact in any order, so
//! `vpdpbusd` (64 byte products a cycle, summed four by four into i32 lanes) may compute it however it
//! likes. Only the float part decides the bits, and it runs the replaced kernel's IEEE operations in its
//! order, one row per vector lane:
//! - Q4_1 (replaces [`crate::q4`], itself bit-identical to candle): per block
//!   `sumf += sumi as f32 * d_w * d_x + m_w * s_x`.
//! - Q8_0 (replaces candle 0.11.1's AVX2 `vec_dot_q8_0_q8_0`): eight f32 accumulators per row, lane `l`
//!   fused-multiply-adding the block's `d_w * d_x` times the exact sum of bytes `4l..4l+4`, then candle's
//!   `hsum_float_8` order, `(a0+a4 + a2+a6) + (a1+a5 + a3+a7)`.
//!
//! What makes them faster is the layout (done once at load): 16 rows share a vector, so one pass over a
//! weight group serves up to [`TILE`] tokens of a prompt (prefill reads each weight once per tile instead
//! of once per token), scales stay f16 as in the file (a quarter less memory to stream per decode step
//! than the f32 copies the portable kernel keeps), and rows are independent, so any thread count gives
//! the same bits. Tests check both kernels against candle bit for bit.
//!
//! `unsafe` is allowed here only for the intrinsics (behind runtime CPU detection) and for the disjoint
//! output writes of the parallel tasks.
#![allow(unsafe_code)]

use crate::{
    Error, Result,
    q4::{QK, f16_to_f32, f32_to_f16, quantize_q8_1, raw_blocks, round_half_away},
};
use candle_core::{
    Tensor,
    quantized::{GgmlDType, QTensor},
};
use rayon::prelude::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows per vector (one i32 / f32 lane each).
const G: usize = 16;
/// Tokens computed per pass over a weight group.
const TILE: usize = 4;
/// Row groups per parallel task (64 rows).
const GROUPS_PER_TASK: usize = 4;
/// Bytes per (group, block) of the Q4_1 layout: 4 × 64 bytes of packed nibbles, 16 f16 `d`, 16 f16 `m`.
const Q41_BYTES: usize = 4 * 64 + 2 * 2 * G;
/// Bytes per (group, block) of the Q8_0 layout: 8 × 64 weight bytes and 16 f16 `d`.
const Q80_BYTES: usize = 8 * 64 + 2 * G;

/// Set by [`crate::runtime::force_portable_kernels`].
static FORCE_PORTABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes models loaded from now on use the portable kernels (or not). For tests and benchmarks that
/// compare kernels; the bits are the same either way.
pub(crate) fn force_portable(on: bool) {
    FORCE_PORTABLE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether this CPU runs the VNNI kernels (`MYCEL_ML_KERNEL=portable`, or [`force_portable`], turns
/// them off).
pub(crate) fn available() -> bool {
    if FORCE_PORTABLE.load(std::sync::atomic::Ordering::Relaxed)
        || std::env::var("MYCEL_ML_KERNEL").is_ok_and(|v| v == "portable")
    {
        return false;
    }
    cpu_has_avx512_vnni()
}

/// Whether the CPU has what every AVX-512 kernel of this crate needs (AVX-512F/BW/VL and VNNI): these
/// matmuls and the int8 BERT's (`bert::Kernel::Vnni512`, whose GELU is compiled for AVX-512VL).
pub(crate) fn cpu_has_avx512_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The block format of a [`VnniMatrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Q41,
    Q80,
}

/// A Q4_1 or Q8_0 weight matrix `(n, k)` (out, in) laid out for the VNNI kernels. Build it only where
/// [`available`] is true.
#[derive(Debug, Clone)]
pub(crate) struct VnniMatrix {
    format: Format,
    n: usize,
    k: usize,
    nb: usize,
    /// `[group][block]` records of [`Q41_BYTES`] or [`Q80_BYTES`]; rows past `n` are zero.
    data: Vec<u8>,
}

/// One activation row, quantized as the replaced kernel quantizes it, with its bytes packed four to an
/// i32 (the operand `vpdpbusd` broadcasts).
struct Act {
    /// Per block, 8 words: bytes `4q..4q+4` of the block's 32 quantized values (Q8_0: offset by 128, as
    /// unsigned bytes).
    quads: Vec<[i32; 8]>,
    /// Per block, the activation scale as the replaced kernel rounds it.
    d: Vec<f32>,
    /// Q4_1 only: per block, `d * sum` rounded through f16.
    s: Vec<f32>,
}

fn pack(bytes: &[u8; QK]) -> [i32; 8] {
    std::array::from_fn(|q| {
        i32::from_le_bytes(bytes[4 * q..4 * q + 4].try_into().expect("4 bytes"))
    })
}

/// candle's `BlockQ8_1::from_float` (via [`quantize_q8_1`]).
fn act_q8_1(xs: &[f32]) -> Act {
    let row = quantize_q8_1(xs);
    Act {
        quads: row.qs.iter().map(|q| pack(&q.map(|v| v as u8))).collect(),
        d: row.d,
        s: row.s,
    }
}

/// candle 0.11.1's `BlockQ8_0::from_float` on x86, bit for bit: the values are rounded with the f32 scale,
/// the scale is stored as f16.
fn act_q8_0(xs: &[f32]) -> Act {
    let nb = xs.len() / QK;
    let mut a = Act {
        quads: Vec::with_capacity(nb),
        d: Vec::with_capacity(nb),
        s: Vec::new(),
    };
    for xs in xs.chunks_exact(QK) {
        let amax = xs.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / ((1 << 7) - 1) as f32;
        let id = if d != 0f32 { 1. / d } else { 0. };
        // |round(x * id)| <= 127, so the offset byte is 1..=255.
        let q: [u8; QK] =
            std::array::from_fn(|j| (round_half_away(xs[j] * id) as i8 as i16 + 128) as u8);
        a.quads.push(pack(&q));
        a.d.push(f16_to_f32(f32_to_f16(d)));
    }
    a
}

impl VnniMatrix {
    /// Re-lays out a 2-D Q4_1 or Q8_0 tensor; `None` for any other dtype or shape.
    pub(crate) fn from_qtensor(q: &QTensor) -> Result<Option<Self>> {
        let (format, block_bytes) = match q.dtype() {
            GgmlDType::Q4_1 => (Format::Q41, 20),
            GgmlDType::Q8_0 => (Format::Q80, 34),
            _ => return Ok(None),
        };
        let Some((n, k, raw)) = raw_blocks(q, q.dtype(), block_bytes)? else {
            return Ok(None);
        };
        let nb = k / QK;
        let groups = n.div_ceil(G);
        let rec = match format {
            Format::Q41 => Q41_BYTES,
            Format::Q80 => Q80_BYTES,
        };
        let mut data = vec![0u8; groups * nb * rec];
        for row in 0..n {
            let (g, r) = (row / G, row % G);
            for b in 0..nb {
                let src = &raw[(row * nb + b) * block_bytes..][..block_bytes];
                let dst = &mut data[(g * nb + b) * rec..][..rec];
                match format {
                    Format::Q41 => {
                        // Quad q of lane r: the file's bytes 4q..4q+4 (low nibbles: weights 4q..4q+4,
                        // high nibbles: weights 16+4q..16+4q+4).
                        for q in 0..4 {
                            dst[q * 64 + 4 * r..][..4].copy_from_slice(&src[4 + 4 * q..][..4]);
                        }
                        dst[256 + 2 * r..][..2].copy_from_slice(&src[0..2]);
                        dst[256 + 2 * G + 2 * r..][..2].copy_from_slice(&src[2..4]);
                    }
                    Format::Q80 => {
                        for q in 0..8 {
                            dst[q * 64 + 4 * r..][..4].copy_from_slice(&src[2 + 4 * q..][..4]);
                        }
                        dst[512 + 2 * r..][..2].copy_from_slice(&src[0..2]);
                    }
                }
            }
        }
        Ok(Some(Self {
            format,
            n,
            k,
            nb,
            data,
        }))
    }

    /// `(out, in)`.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// `x @ w^T` for `x` of shape `(..., k)`, with the bits of the kernel it replaces.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(Self::forward_shared(&[self], x)?.pop().expect("one output"))
    }

    /// `x @ w^T` for several matrices of one format reading the same input (a layer's q, k and v;
    /// its gate and up): the input is quantized once and all their tasks run in one parallel
    /// dispatch. Each output has the bits of its own [`VnniMatrix::forward`].
    pub(crate) fn forward_shared(ms: &[&Self], x: &Tensor) -> Result<Vec<Tensor>> {
        let dims = x.dims().to_vec();
        let k = *dims.last().unwrap_or(&0);
        let Some(first) = ms.first() else {
            return Ok(Vec::new());
        };
        if let Some(m) = ms.iter().find(|m| m.k != k) {
            return Err(Error::InvalidInput(format!(
                "quantized matmul: input width {k}, weights {}x{}",
                m.n, m.k
            )));
        }
        if ms.iter().any(|m| m.format != first.format) {
            // Quantized differently: one at a time.
            return ms.iter().map(|m| m.forward(x)).collect();
        }
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let acts: Vec<Act> = xs
            .par_chunks_exact(k)
            .map(|x| match first.format {
                Format::Q41 => act_q8_1(x),
                Format::Q80 => act_q8_0(x),
            })
            .collect();
        let mut outs: Vec<Vec<f32>> = ms.iter().map(|m| vec![0f32; acts.len() * m.n]).collect();
        let ptrs: Vec<SyncPtr> = outs.iter_mut().map(|o| SyncPtr(o.as_mut_ptr())).collect();
        let tasks: Vec<(usize, usize, &[u8])> = ms
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m.data
                    .chunks(m.task_bytes())
                    .enumerate()
                    .map(move |(t, d)| (i, t, d))
            })
            .collect();
        tasks
            .par_iter()
            .for_each(|&(i, task, data)| ms[i].run_task(task, data, &acts, &ptrs[i]));
        Ok(outs
            .into_iter()
            .zip(ms)
            .map(|(out, m)| {
                let mut shape = dims.clone();
                *shape.last_mut().expect("non-empty shape") = m.n;
                Tensor::from_vec(out, shape, x.device())
            })
            .collect::<candle_core::Result<_>>()?)
    }

    /// Bytes of one parallel task: [`GROUPS_PER_TASK`] row groups, whose weights stay hot in cache
    /// across the token tiles.
    fn task_bytes(&self) -> usize {
        let rec = match self.format {
            Format::Q41 => Q41_BYTES,
            Format::Q80 => Q80_BYTES,
        };
        GROUPS_PER_TASK * self.nb * rec
    }

    /// Every token against the rows of task `task` (its weights `data`), into `out` (`tokens × n`).
    fn run_task(&self, task: usize, data: &[u8], acts: &[Act], out: &SyncPtr) {
        let (n, group_bytes) = (self.n, self.task_bytes() / GROUPS_PER_TASK);
        let mut rows = [[0f32; G]; TILE];
        for (tile, tile_acts) in acts.chunks(TILE).enumerate() {
            for (gi, group) in data.chunks(group_bytes).enumerate() {
                let row0 = (task * GROUPS_PER_TASK + gi) * G;
                self.group_tile(group, tile_acts, &mut rows);
                let live = G.min(n - row0);
                for (t, r) in rows.iter().take(tile_acts.len()).enumerate() {
                    let token = tile * TILE + t;
                    // SAFETY: tasks own disjoint row ranges `row0..row0 + live` of every token's
                    // output row, all within `out` (`token < acts.len()`, `row0 + live <= n`).
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            r.as_ptr(),
                            out.0.add(token * n + row0),
                            live,
                        );
                    }
                }
            }
        }
    }

    /// One row group against up to [`TILE`] tokens.
    fn group_tile(&self, group: &[u8], acts: &[Act], rows: &mut [[f32; G]; TILE]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `VnniMatrix` is only built where `available()` found AVX-512F/BW and VNNI; `group`
        // holds `nb` records of this format.
        unsafe {
            match (self.format, acts.len()) {
                (Format::Q41, 1) => q41_tile::<1>(group, self.nb, acts, rows),
                (Format::Q41, 2) => q41_tile::<2>(group, self.nb, acts, rows),
                (Format::Q41, 3) => q41_tile::<3>(group, self.nb, acts, rows),
                (Format::Q41, _) => q41_tile::<4>(group, self.nb, acts, rows),
                (Format::Q80, 1) => q80_tile::<1>(group, self.nb, acts, rows),
                (Format::Q80, 2) => q80_tile::<2>(group, self.nb, acts, rows),
                (Format::Q80, 3) => {
                    q80_tile::<2>(group, self.nb, &acts[..2], rows);
                    let mut rest = [[0f32; G]; TILE];
                    q80_tile::<1>(group, self.nb, &acts[2..], &mut rest);
                    rows[2] = rest[0];
                }
                (Format::Q80, _) => {
                    q80_tile::<2>(group, self.nb, &acts[..2], rows);
                    let mut rest = [[0f32; G]; TILE];
                    q80_tile::<2>(group, self.nb, &acts[2..4], &mut rest);
                    rows[2] = rest[0];
                    rows[3] = rest[1];
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (group, acts, rows);
            unreachable!("VnniMatrix is built only on x86_64 with AVX512-VNNI");
        }
    }
}

/// `acc[c][l] += x[8c + l] * y[8c + l]` over 32-float chunks, unfused: the partial sums of the decode
/// attention's dot products (`llama::dot`). LLVM vectorises the plain loop two lanes wide; the AVX
/// version does the same operations eight wide, so both give the same bits.
pub(crate) fn dot_lanes<'a>(
    xs: impl Iterator<Item = &'a [f32]>,
    ys: impl Iterator<Item = &'a [f32]>,
) -> [[f32; 8]; 4] {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    // SAFETY: AVX is enabled at compile time (x86-64-v3); every load reads `8c..8c + 8 <= 32` floats
    // of a chunk checked to hold 32, every store writes eight f32 into a `[f32; 8]`.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 4];
        for (x, y) in xs.zip(ys) {
            assert!(x.len() >= 32 && y.len() >= 32);
            for (c, acc) in acc.iter_mut().enumerate() {
                let (x, y) = (
                    _mm256_loadu_ps(x.as_ptr().add(8 * c)),
                    _mm256_loadu_ps(y.as_ptr().add(8 * c)),
                );
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(x, y));
            }
        }
        let mut out = [[0f32; 8]; 4];
        for (o, a) in out.iter_mut().zip(acc) {
            _mm256_storeu_ps(o.as_mut_ptr(), a);
        }
        out
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
    {
        let mut acc = [[0f32; 8]; 4];
        for (x, y) in xs.zip(ys) {
            for (c, acc) in acc.iter_mut().enumerate() {
                for l in 0..8 {
                    acc[l] += x[8 * c + l] * y[8 * c + l];
                }
            }
        }
        acc
    }
}

/// A raw output pointer shared by tasks that write disjoint ranges.
struct SyncPtr(*mut f32);
// SAFETY: only used for disjoint writes (see `VnniMatrix::matmul`).
unsafe impl Sync for SyncPtr {}

/// Q4_1: `T` tokens against one group of 16 rows.
///
/// # Safety
/// AVX-512F/BW and VNNI must be available; `group` holds `nb` records of [`Q41_BYTES`]; `acts` has at
/// least `T` rows of `nb` blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn q41_tile<const T: usize>(
    group: &[u8],
    nb: usize,
    acts: &[Act],
    rows: &mut [[f32; G]; TILE],
) {
    debug_assert!(group.len() >= nb * Q41_BYTES && acts.len() >= T);
    let low = _mm512_set1_epi8(0x0F);
    let mut sumf = [_mm512_setzero_ps(); T];
    for b in 0..nb {
        // SAFETY: record `b` is within `group` (checked by the caller's layout).
        let p = unsafe { group.as_ptr().add(b * Q41_BYTES) };
        let v: [__m512i; 4] =
            std::array::from_fn(|q| unsafe { _mm512_loadu_si512(p.add(q * 64).cast()) });
        let w: [__m512i; 8] = std::array::from_fn(|q| {
            if q < 4 {
                _mm512_and_si512(v[q], low)
            } else {
                _mm512_and_si512(_mm512_srli_epi16::<4>(v[q - 4]), low)
            }
        });
        let d = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.add(256).cast()) });
        let m = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.add(256 + 2 * G).cast()) });
        for t in 0..T {
            let a = &acts[t];
            let y = &a.quads[b];
            let mut acc = _mm512_setzero_si512();
            for q in 0..8 {
                acc = _mm512_dpbusd_epi32(acc, w[q], _mm512_set1_epi32(y[q]));
            }
            // sumf += sumi as f32 * d_w * d_x + m_w * s_x, in that order, unfused.
            let prod = _mm512_mul_ps(
                _mm512_mul_ps(_mm512_cvtepi32_ps(acc), d),
                _mm512_set1_ps(a.d[b]),
            );
            let min = _mm512_mul_ps(m, _mm512_set1_ps(a.s[b]));
            sumf[t] = _mm512_add_ps(sumf[t], _mm512_add_ps(prod, min));
        }
    }
    for t in 0..T {
        // SAFETY: 16 f32 into a `[f32; 16]`.
        unsafe { _mm512_storeu_ps(rows[t].as_mut_ptr(), sumf[t]) };
    }
}

/// Q8_0: `T` (1 or 2) tokens against one group of 16 rows.
///
/// # Safety
/// As [`q41_tile`], with records of [`Q80_BYTES`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::needless_range_loop)]
unsafe fn q80_tile<const T: usize>(
    group: &[u8],
    nb: usize,
    acts: &[Act],
    rows: &mut [[f32; G]; TILE],
) {
    debug_assert!(group.len() >= nb * Q80_BYTES && acts.len() >= T);
    // `vpdpbusd` multiplies unsigned by signed bytes: the activations go in offset by 128, and
    // 128 × (the weights' sum) comes off again, exactly.
    let c128 = _mm512_set1_epi32(0x8080_8080_u32 as i32);
    let zero = _mm512_setzero_si512();
    let mut acc = [[_mm512_setzero_ps(); 8]; T];
    for b in 0..nb {
        // SAFETY: record `b` is within `group`.
        let p = unsafe { group.as_ptr().add(b * Q80_BYTES) };
        let dw = _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.add(512).cast()) });
        for l in 0..8 {
            let w = unsafe { _mm512_loadu_si512(p.add(l * 64).cast()) };
            let bias = _mm512_dpbusd_epi32(zero, c128, w);
            for t in 0..T {
                let a = &acts[t];
                let s = _mm512_sub_epi32(
                    _mm512_dpbusd_epi32(zero, _mm512_set1_epi32(a.quads[b][l]), w),
                    bias,
                );
                let d = _mm512_mul_ps(dw, _mm512_set1_ps(a.d[b]));
                acc[t][l] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[t][l]);
            }
        }
    }
    for t in 0..T {
        let a = &acc[t];
        // candle's hsum_float_8: (a0+a4 + a2+a6) + (a1+a5 + a3+a7).
        let r: [__m512; 4] = std::array::from_fn(|i| _mm512_add_ps(a[4 + i], a[i]));
        let sum = _mm512_add_ps(_mm512_add_ps(r[0], r[2]), _mm512_add_ps(r[1], r[3]));
        // SAFETY: 16 f32 into a `[f32; 16]`.
        unsafe { _mm512_storeu_ps(rows[t].as_mut_ptr(), sum) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{runtime::with_threads, sampling::Rng};
    use candle_core::{Device, Module, quantized::QMatMul};
    use std::sync::Arc;

    fn bits(t: &Tensor) -> Vec<u32> {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    #[test]
    fn matches_candle_bit_for_bit_at_any_thread_count_and_token_count() {
        if !available() {
            eprintln!("SKIP: this CPU has no AVX512-VNNI; the portable kernels run instead");
            return;
        }
        let dev = Device::Cpu;
        let mut rng = Rng::new(9);
        // Rows not a multiple of 16 or 64, token counts around the tile size, activations of several
        // magnitudes (f16 subnormal scales), one all-zero row of activations.
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            for (n, k, tokens, scale) in [
                (40, 64, 1, 1.0f32),
                (48, 192, 3, 30.0),
                (33, 128, 5, 1e-4),
                (16, 64, 1, 0.0),
                (130, 576, 9, 2.0),
                (7, 64, 2, 1.0),
            ] {
                let w: Vec<f32> = (0..n * k).map(|_| rng.uniform(0.5)).collect();
                let w = Tensor::from_vec(w, (n, k), &dev).unwrap();
                let q = QTensor::quantize(&w, dtype).unwrap();
                let ours = VnniMatrix::from_qtensor(&q).unwrap().unwrap();
                let theirs = QMatMul::QTensor(Arc::new(q));
                let mut x: Vec<f32> = (0..tokens * k).map(|_| rng.uniform(1.0) * scale).collect();
                if tokens > 2 {
                    x[k..2 * k].fill(0.0);
                }
                let x = Tensor::from_vec(x, (1, tokens, k), &dev).unwrap();
                let want = bits(&theirs.forward(&x).unwrap());
                for threads in [1, 2] {
                    let got = with_threads(threads, || bits(&ours.forward(&x).unwrap())).unwrap();
                    assert_eq!(
                        got, want,
                        "{dtype:?} n={n} k={k} tokens={tokens} scale={scale} threads={threads}"
                    );
                }
                // One token at a time gives each token's row of the batched product.
                for t in 0..tokens {
                    let one = x.narrow(1, t, 1).unwrap();
                    assert_eq!(bits(&ours.forward(&one).unwrap()), want[t * n..(t + 1) * n]);
                }
            }
        }
    }

    #[test]
    fn shared_input_gives_each_matrix_its_own_bits() {
        if !available() {
            eprintln!("SKIP: this CPU has no AVX512-VNNI");
            return;
        }
        let dev = Device::Cpu;
        let mut rng = Rng::new(11);
        let mut mat = |n: usize, dtype| {
            let w: Vec<f32> = (0..n * 128).map(|_| rng.uniform(0.5)).collect();
            let w = Tensor::from_vec(w, (n, 128), &dev).unwrap();
            VnniMatrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap())
                .unwrap()
                .unwrap()
        };
        // Three of one format (one dispatch), then a mix (one at a time).
        let (a, b, c) = (
            mat(70, GgmlDType::Q4_1),
            mat(16, GgmlDType::Q4_1),
            mat(33, GgmlDType::Q8_0),
        );
        let x: Vec<f32> = (0..5 * 128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
            .collect();
        let x = Tensor::from_vec(x, (1, 5, 128), &dev).unwrap();
        for set in [vec![&a, &b], vec![&a, &b, &c]] {
            for threads in [1, 2] {
                let shared =
                    with_threads(threads, || VnniMatrix::forward_shared(&set, &x).unwrap())
                        .unwrap();
                for (m, y) in set.iter().zip(&shared) {
                    assert_eq!(bits(y), bits(&m.forward(&x).unwrap()), "threads={threads}");
                }
            }
        }
        let wrong = Tensor::zeros((1, 64), candle_core::DType::F32, &dev).unwrap();
        assert!(matches!(
            VnniMatrix::forward_shared(&[&a, &b], &wrong),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn other_formats_and_widths_are_left_to_candle() {
        let w = Tensor::ones((16, 48), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::F32).unwrap();
        assert!(VnniMatrix::from_qtensor(&q).unwrap().is_none());
    }
}
