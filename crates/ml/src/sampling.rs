//! Sampling parameters, a seeded RNG and the token sampler.
//!
//! The sampler works in `f64` on a copy of the logits and sorts with a total order, so a given seed, logits
//! and parameters always pick the same token on every platform.

use crate::{Error, Result};

/// Parameters of a generation request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; `0` means greedy (argmax).
    pub temperature: f64,
    /// Nucleus sampling mass in `(0, 1]`.
    pub top_p: f64,
    /// Keep only the `top_k` most likely tokens (`0` = no limit).
    pub top_k: usize,
    /// Seed of the sampler.
    pub seed: u64,
    /// Maximum number of new tokens.
    pub max_tokens: usize,
    /// Generation stops when the text contains one of these; the stop text is not returned.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            seed: 0,
            max_tokens: 128,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Greedy decoding of up to `max_tokens`.
    pub fn greedy(max_tokens: usize) -> Self {
        Self {
            max_tokens,
            ..Self::default()
        }
    }

    /// Rejects out-of-range values.
    pub fn validate(&self) -> Result<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(Error::param(
                "temperature",
                format!("{} is not a finite number >= 0", self.temperature),
            ));
        }
        if !self.top_p.is_finite() || self.top_p <= 0.0 || self.top_p > 1.0 {
            return Err(Error::param(
                "top_p",
                format!("{} is not in (0, 1]", self.top_p),
            ));
        }
        if self.max_tokens == 0 {
            return Err(Error::param("max_tokens", "must be at least 1"));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(Error::param("stop", "stop sequences must not be empty"));
        }
        Ok(())
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast and fully specified, so sampling is reproducible
/// from the seed alone.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator from a 64-bit seed.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-bound, bound)`.
    pub fn uniform(&mut self, bound: f32) -> f32 {
        ((self.next_f64() * 2.0 - 1.0) * bound as f64) as f32
    }
}

/// Picks tokens from logits according to [`SamplingParams`].
#[derive(Debug, Clone)]
pub struct Sampler {
    temperature: f64,
    top_p: f64,
    top_k: usize,
    rng: Rng,
}

impl Sampler {
    /// A sampler for validated parameters.
    pub fn new(params: &SamplingParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            temperature: params.temperature,
            top_p: params.top_p,
            top_k: params.top_k,
            rng: Rng::new(params.seed),
        })
    }

    /// Chooses the next token.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(Error::InvalidInput("empty logits".into()));
        }
        if self.temperature == 0.0 {
            return Ok(argmax(logits));
        }
        // Candidates sorted by logit (desc), ties by id, so the order is total and platform-independent.
        let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            logits[b as usize]
                .total_cmp(&logits[a as usize])
                .then(a.cmp(&b))
        });
        if self.top_k > 0 && self.top_k < idx.len() {
            idx.truncate(self.top_k);
        }
        let max = logits[idx[0] as usize] as f64;
        let mut probs: Vec<f64> = idx
            .iter()
            .map(|&i| ((logits[i as usize] as f64 - max) / self.temperature).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if self.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = probs.len();
            for (n, p) in probs.iter().enumerate() {
                acc += p;
                if acc >= self.top_p {
                    keep = n + 1;
                    break;
                }
            }
            probs.truncate(keep);
            idx.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.next_f64() * total;
        for (p, &i) in probs.iter().zip(&idx) {
            if r < *p {
                return Ok(i);
            }
            r -= p;
        }
        Ok(*idx.last().unwrap_or(&0))
    }
}

/// Index of the largest logit (the first on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, v) in logits.iter().enumerate() {
        if v.total_cmp(&logits[best]).is_gt() {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_golden_and_seeded() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
        // SplitMix64(0) first output, the published reference value.
        let mut x = 0u64.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        assert_eq!(x ^ (x >> 31), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn invalid_params_are_rejected() {
        let bad = [
            SamplingParams {
                top_p: 1.5,
                ..Default::default()
            },
            SamplingParams {
                top_p: 0.0,
                ..Default::default()
            },
            SamplingParams {
                temperature: -0.1,
                ..Default::default()
            },
            SamplingParams {
                temperature: f64::NAN,
                ..Default::default()
            },
            SamplingParams {
                max_tokens: 0,
                ..Default::default()
            },
        ];
        for p in bad {
            assert!(
                matches!(Sampler::new(&p), Err(Error::InvalidParam { .. })),
                "{p:?}"
            );
        }
    }

    #[test]
    fn greedy_top_k_and_seeded_sampling() {
        let logits = [0.1f32, 3.0, 2.9, -1.0];
        let mut g = Sampler::new(&SamplingParams::greedy(1)).unwrap();
        assert_eq!(g.sample(&logits).unwrap(), 1);
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 2,
            seed: 7,
            ..Default::default()
        };
        let mut s1 = Sampler::new(&p).unwrap();
        let mut s2 = Sampler::new(&p).unwrap();
        let a: Vec<u32> = (0..64).map(|_| s1.sample(&logits).unwrap()).collect();
        let b: Vec<u32> = (0..64).map(|_| s2.sample(&logits).unwrap()).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&t| t == 1 || t == 2));
        assert!(a.contains(&1) && a.contains(&2));
        let tiny_p = SamplingParams {
            temperature: 1.0,
            top_p: 0.01,
            ..Default::default()
        };
        let mut s = Sampler::new(&tiny_p).unwrap();
        assert!((0..16).all(|_| s.sample(&logits).unwrap() == 1));
    }
}
