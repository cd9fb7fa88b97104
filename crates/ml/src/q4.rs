//! A faster, bit-identical replacement for candle's Q4_1 matmul on CPU.
//!
//! candle 0.11.1 has no SIMD kernel for Q4_1 (`BlockQ4_1::vec_dot` is the generic `vec_dot_unopt`): each
//! 32-weight block of one output row is reduced horizontally on its own, then combined with the block scales
//! in scalar code. On SmolLM2 (Q4_1 for every linear layer but the output) that kernel was 75% of decode time.
//!
//! [`Q41Matrix`] keeps the same 4-bit weights but lays them out at load time so that 16 output rows share one
//! vector lane each: the integer dot products of a block are exact in any order, and the float part runs the
//! same IEEE operations in the same order per row as candle's
//! `sumf += (sumi as f32 * d_w * d_x) + m_w * s_x`, block after block. The activation is quantized to Q8_1
//! exactly as candle does (`quantize_row_q8_1`). The result is therefore bit-identical to
//! `QMatMul::forward` for any thread count (rows are independent); a test checks it against candle.

use crate::Result;
use candle_core::{
    Tensor,
    quantized::{GgmlDType, QTensor},
};
use rayon::prelude::*;

/// Weights per block.
pub(crate) const QK: usize = 32;
/// Output rows computed together by one task (the vectorized loops run over them).
const RANGE: usize = 64;

/// A Q4_1 weight matrix `(n, k)` (out, in) in a row-interleaved layout.
#[derive(Debug, Clone)]
pub(crate) struct Q41Matrix {
    n: usize,
    k: usize,
    /// Blocks per row (`k / 32`).
    nb: usize,
    /// Rows in ranges of 64 (the last one padded with zero rows), each range contiguous so that one task
    /// streams through memory: for each range, block `b` and byte `j` in `0..16`, byte `j` of that block of
    /// the range's 64 rows (low nibble: weight `j`, high nibble: weight `16 + j`).
    qs: Vec<u8>,
    /// Row scales `d` as f32, `[range][b][64]`.
    d: Vec<f32>,
    /// Row minimums `m` as f32, `[range][b][64]`.
    m: Vec<f32>,
}

/// f16 bits to f32, exactly (as `half::f16::to_f32`).
pub(crate) fn f16_to_f32(i: u16) -> f32 {
    if i & 0x7FFF == 0 {
        return f32::from_bits((i as u32) << 16);
    }
    let sign = ((i & 0x8000) as u32) << 16;
    let exp = (i & 0x7C00) as u32;
    let man = (i & 0x03FF) as u32;
    if exp == 0x7C00 {
        return if man == 0 {
            f32::from_bits(sign | 0x7F80_0000)
        } else {
            f32::from_bits(sign | 0x7FC0_0000 | (man << 13))
        };
    }
    if exp == 0 {
        // Subnormal: normalize.
        let e = (man as u16).leading_zeros() - 6;
        let exp = (127 - 15 - e) << 23;
        let man = (man << (14 + e)) & 0x7F_FFFF;
        return f32::from_bits(sign | exp | man);
    }
    let exp = ((((exp >> 10) as i32) - 15 + 127) as u32) << 23;
    f32::from_bits(sign | exp | (man << 13))
}

/// f32 to f16 bits, rounding to nearest even (as `half::f16::from_f32`).
pub(crate) fn f32_to_f16(value: f32) -> u16 {
    let x = value.to_bits();
    let sign = x & 0x8000_0000;
    let exp = x & 0x7F80_0000;
    let man = x & 0x007F_FFFF;
    if exp == 0x7F80_0000 {
        let nan_bit = if man == 0 { 0 } else { 0x0200 };
        return ((sign >> 16) | 0x7C00 | nan_bit | (man >> 13)) as u16;
    }
    let half_sign = sign >> 16;
    let half_exp = ((exp >> 23) as i32) - 127 + 15;
    if half_exp >= 0x1F {
        return (half_sign | 0x7C00) as u16;
    }
    if half_exp <= 0 {
        if 14 - half_exp > 24 {
            return half_sign as u16;
        }
        let man = man | 0x0080_0000;
        let mut half_man = man >> (14 - half_exp);
        let round_bit = 1 << (13 - half_exp);
        if (man & round_bit) != 0 && (man & (3 * round_bit - 1)) != 0 {
            half_man += 1;
        }
        return (half_sign | half_man) as u16;
    }
    let half_exp = (half_exp as u32) << 10;
    let half_man = man >> 13;
    let round_bit = 0x0000_1000;
    if (man & round_bit) != 0 && (man & (3 * round_bit - 1)) != 0 {
        ((half_sign | half_exp | half_man) + 1) as u16
    } else {
        (half_sign | half_exp | half_man) as u16
    }
}

/// `f32::round` (half away from zero), exactly, in instructions that vectorise: `x - trunc(x)` is
/// exact, so comparing it with one half decides the rounding as libm does. (`roundf` is a call per value
/// on x86, and activations are quantized 200 times per decoded token.)
#[inline]
pub(crate) fn round_half_away(x: f32) -> f32 {
    let t = x.trunc();
    if (x - t).abs() >= 0.5 {
        t + 1f32.copysign(x)
    } else {
        t
    }
}

/// One activation row quantized to Q8_1: per block 32 values, the scale `d` and `s = d * sum` (both rounded
/// through f16 as candle stores them).
pub(crate) struct Q81Row {
    pub(crate) qs: Vec<[i8; QK]>,
    pub(crate) d: Vec<f32>,
    pub(crate) s: Vec<f32>,
}

/// `BlockQ8_1::from_float` of candle 0.11.1, bit for bit.
pub(crate) fn quantize_q8_1(xs: &[f32]) -> Q81Row {
    let nb = xs.len() / QK;
    let mut row = Q81Row {
        qs: Vec::with_capacity(nb),
        d: Vec::with_capacity(nb),
        s: Vec::with_capacity(nb),
    };
    for xs in xs.chunks_exact(QK) {
        let mut amax = 0f32;
        for &x in xs {
            amax = amax.max(x.abs());
        }
        let d = amax / ((1 << 7) - 1) as f32;
        let id = if d != 0f32 { 1. / d } else { 0. };
        let d16 = f32_to_f16(d);
        let mut qs = [0i8; QK];
        let mut sum = 0i32;
        for j in 0..QK / 2 {
            qs[j] = round_half_away(xs[j] * id) as i8;
            qs[j + QK / 2] = round_half_away(xs[j + QK / 2] * id) as i8;
            sum += qs[j] as i32 + qs[j + QK / 2] as i32;
        }
        let dx = f16_to_f32(d16);
        let s16 = f32_to_f16(f16_to_f32(f32_to_f16(sum as f32)) * dx);
        row.qs.push(qs);
        row.d.push(dx);
        row.s.push(f16_to_f32(s16));
    }
    row
}

/// `(n, k, bytes)` of a 2-D block-quantized matrix.
pub(crate) type RawBlocks<'a> = (usize, usize, std::borrow::Cow<'a, [u8]>);

/// The raw blocks of a 2-D block-quantized `(n, k)` tensor of `dtype` (`block_bytes` per 32 weights),
/// or `None` for another dtype, shape or size.
pub(crate) fn raw_blocks(
    q: &QTensor,
    dtype: GgmlDType,
    block_bytes: usize,
) -> Result<Option<RawBlocks<'_>>> {
    if q.dtype() != dtype {
        return Ok(None);
    }
    let &[n, k] = q.shape().dims() else {
        return Ok(None);
    };
    if !k.is_multiple_of(QK) || n == 0 {
        return Ok(None);
    }
    let raw = q.data()?;
    if raw.len() != n * (k / QK) * block_bytes {
        return Ok(None);
    }
    Ok(Some((n, k, raw)))
}

impl Q41Matrix {
    /// Re-lays out a 2-D Q4_1 tensor; `None` for any other dtype or shape.
    pub(crate) fn from_qtensor(q: &QTensor) -> Result<Option<Self>> {
        const BLOCK_BYTES: usize = 20;
        let Some((n, k, raw)) = raw_blocks(q, GgmlDType::Q4_1, BLOCK_BYTES)? else {
            return Ok(None);
        };
        let nb = k / QK;
        let ranges = n.div_ceil(RANGE);
        let mut qs = vec![0u8; ranges * nb * QK / 2 * RANGE];
        let mut d = vec![0f32; ranges * nb * RANGE];
        let mut m = vec![0f32; ranges * nb * RANGE];
        for row in 0..n {
            let (rg, r) = (row / RANGE, row % RANGE);
            for b in 0..nb {
                let blk = &raw[(row * nb + b) * BLOCK_BYTES..][..BLOCK_BYTES];
                d[(rg * nb + b) * RANGE + r] = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                m[(rg * nb + b) * RANGE + r] = f16_to_f32(u16::from_le_bytes([blk[2], blk[3]]));
                for (j, &byte) in blk[4..].iter().enumerate() {
                    qs[((rg * nb + b) * QK / 2 + j) * RANGE + r] = byte;
                }
            }
        }
        Ok(Some(Self { n, k, nb, qs, d, m }))
    }

    /// `(out, in)`.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// Dot products of the rows of range `rg` with one quantized activation row, into `out` (the range's
    /// rows that exist).
    fn range_dot(&self, rg: usize, x: &Q81Row, out: &mut [f32]) {
        let nb = self.nb;
        let qs = &self.qs[rg * nb * QK / 2 * RANGE..][..nb * QK / 2 * RANGE];
        let dr = &self.d[rg * nb * RANGE..][..nb * RANGE];
        let mr = &self.m[rg * nb * RANGE..][..nb * RANGE];
        let mut sumf = [0f32; RANGE];
        for b in 0..nb {
            let y = &x.qs[b];
            let w = &qs[b * QK / 2 * RANGE..][..QK / 2 * RANGE];
            let mut sumi = [0i32; RANGE];
            // Two halves of 4 byte pairs: each sums 16 products of magnitude at most 15 * 128 in i16, which
            // cannot overflow, so the integer sums are exact.
            for half in 0..2 {
                let mut acc = [0i16; RANGE];
                for c in half * 4..half * 4 + 4 {
                    let (y0, y1) = (y[2 * c] as i16, y[2 * c + 1] as i16);
                    let (y2, y3) = (y[16 + 2 * c] as i16, y[16 + 2 * c + 1] as i16);
                    let wa: &[u8; RANGE] = w[2 * c * RANGE..][..RANGE].try_into().expect("range");
                    let wb: &[u8; RANGE] =
                        w[(2 * c + 1) * RANGE..][..RANGE].try_into().expect("range");
                    for r in 0..RANGE {
                        let (a, bb) = (wa[r] as i16, wb[r] as i16);
                        let p = (a & 15)
                            .wrapping_mul(y0)
                            .wrapping_add((bb & 15).wrapping_mul(y1))
                            .wrapping_add((a >> 4).wrapping_mul(y2))
                            .wrapping_add((bb >> 4).wrapping_mul(y3));
                        acc[r] = acc[r].wrapping_add(p);
                    }
                }
                for r in 0..RANGE {
                    sumi[r] += acc[r] as i32;
                }
            }
            let d: &[f32; RANGE] = dr[b * RANGE..][..RANGE].try_into().expect("range");
            let m: &[f32; RANGE] = mr[b * RANGE..][..RANGE].try_into().expect("range");
            let (dy, sy) = (x.d[b], x.s[b]);
            // candle: `sumf += sumi as f32 * d_w * d_x + m_w * s_x`, the same operations in the same order.
            for r in 0..RANGE {
                sumf[r] += sumi[r] as f32 * d[r] * dy + m[r] * sy;
            }
        }
        out.copy_from_slice(&sumf[..out.len()]);
    }

    /// `x @ w^T` for `x` of shape `(..., k)`: the same bits as candle's `QMatMul::forward`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let k = *dims.last().unwrap_or(&0);
        if k != self.k {
            return Err(crate::Error::InvalidInput(format!(
                "q4_1 matmul: input width {k}, weights {}x{}",
                self.n, self.k
            )));
        }
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let n = self.n;
        let mut out = vec![0f32; xs.len() / k * n];
        for (x, dst) in xs.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            let qx = quantize_q8_1(x);
            dst.par_chunks_mut(RANGE)
                .enumerate()
                .for_each(|(rg, dst)| self.range_dot(rg, &qx, dst));
        }
        let mut shape = dims;
        *shape.last_mut().expect("non-empty shape") = n;
        Ok(Tensor::from_vec(out, shape, x.device())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Rng;
    use candle_core::{Device, Module, quantized::QMatMul};
    use std::sync::Arc;

    #[test]
    fn round_half_away_is_roundf() {
        let mut rng = Rng::new(3);
        let specials = [
            0.5f32,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999997,
            -0.49999997,
            8388607.5,
            8388608.0,
            -0.0,
            f32::MAX,
            f32::MIN,
            1e-40,
            126.5,
            -127.5,
        ];
        for x in specials
            .into_iter()
            .chain((0..200_000).map(|i| rng.uniform(140.0) * if i % 7 == 0 { 1e-3 } else { 1.0 }))
        {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x}");
        }
    }

    #[test]
    fn f16_conversions_round_trip() {
        for bits in 0..=u16::MAX {
            let f = f16_to_f32(bits);
            if f.is_nan() {
                continue;
            }
            assert_eq!(f32_to_f16(f), bits, "{bits:#x}");
        }
        // Round to nearest even, overflow and underflow.
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3C00);
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3C02);
        assert_eq!(f32_to_f16(1e6), 0x7C00);
        assert_eq!(f32_to_f16(1e-9), 0);
    }

    #[test]
    fn matches_candle_bit_for_bit() {
        let dev = Device::Cpu;
        let mut rng = Rng::new(5);
        // Rows not a multiple of the lane count, activations of several magnitudes (f16 subnormal scales).
        for (n, k, rows, scale) in [
            (40, 64, 1, 1.0f32),
            (48, 192, 3, 30.0),
            (33, 128, 2, 1e-4),
            (16, 64, 1, 0.0),
        ] {
            let w: Vec<f32> = (0..n * k).map(|_| rng.uniform(0.5)).collect();
            let w = Tensor::from_vec(w, (n, k), &dev).unwrap();
            let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
            let ours = Q41Matrix::from_qtensor(&q).unwrap().unwrap();
            let theirs = QMatMul::QTensor(Arc::new(q));
            let x: Vec<f32> = (0..rows * k).map(|_| rng.uniform(1.0) * scale).collect();
            let x = Tensor::from_vec(x, (1, rows, k), &dev).unwrap();
            let a: Vec<u32> = ours
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            let b: Vec<u32> = theirs
                .forward(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(a, b, "n={n} k={k} rows={rows} scale={scale}");
        }
    }
}
