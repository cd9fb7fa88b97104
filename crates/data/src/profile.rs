//! Dedup profiles: the named, versioned parameters that record IDs and signatures depend on.
//!
//! Normalisation, shingling, seeds and banding all change which records count as equal or similar,
//! so they are part of the ID: a normalised-record ID is computed over the profile's ID and the
//! normalised text, and a signature is only comparable with signatures of the same profile.

use crate::{Error, Result};
use mycel_primitives::{
    Hash,
    hash::{Domain, hash},
};

/// LSH banding: `bands` bands of `rows` signature values each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Banding {
    /// Number of bands.
    pub bands: usize,
    /// Signature values per band.
    pub rows: usize,
}

impl Banding {
    /// Probability that a pair with Jaccard similarity `s` shares at least one band:
    /// `1 - (1 - s^rows)^bands`.
    pub fn detection_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// Signature values this banding reads.
    pub fn width(&self) -> usize {
        self.bands * self.rows
    }
}

/// A versioned dedup profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Profile name and version, e.g. `mycel-text/v1`.
    pub name: String,
    /// Word n-gram size of shingles.
    pub shingle_words: usize,
    /// MinHash permutations (signature length).
    pub permutations: usize,
    /// Seed of the xxh3 shingle hash.
    pub shingle_seed: u64,
    /// Seed of the multiply-shift permutation parameters.
    pub minhash_seed: u64,
    /// Tier D (removal) banding.
    pub tier_d: Banding,
    /// Tier D default Jaccard threshold, in thousandths.
    pub tier_d_threshold_milli: u32,
    /// Tier L (lineage) banding over the same signature.
    pub tier_l: Banding,
    /// Tier L default Jaccard threshold, in thousandths.
    pub tier_l_threshold_milli: u32,
    /// Slack below the threshold accepted when verifying with the estimated Jaccard, in thousandths
    /// (the 128-value estimate has a standard deviation of about 0.035 at J = 0.8).
    pub verify_slack_milli: u32,
}

impl Profile {
    /// The default text profile: NFKC + case + punctuation + whitespace + confusable folding,
    /// word 5-grams, 128 permutations, Tier D 16×8, Tier L 42×3.
    pub fn text_v1() -> Self {
        Profile {
            name: mycel_text::TEXT_V1.name.into(),
            shingle_words: mycel_text::TEXT_V1.shingling.words,
            permutations: 128,
            shingle_seed: mycel_text::TEXT_V1.shingling.seed,
            minhash_seed: 0x6d79_6365_6c5f_6d68,
            tier_d: Banding { bands: 16, rows: 8 },
            tier_d_threshold_milli: mycel_text::TEXT_V1.near_dup_milli,
            tier_l: Banding { bands: 42, rows: 3 },
            tier_l_threshold_milli: 400,
            verify_slack_milli: 50,
        }
    }

    /// The shingling (what `mycel-text` and the ledger need of the profile).
    pub fn shingling(&self) -> mycel_text::Shingling {
        mycel_text::Shingling {
            words: self.shingle_words,
            seed: self.shingle_seed,
        }
    }

    /// Looks a profile up by name.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "mycel-text/v1" => Ok(Self::text_v1()),
            other => Err(Error::InvalidParam(format!(
                "unknown dedup profile {other:?}"
            ))),
        }
    }

    /// The canonical description hashed into the profile ID. Normalisation steps are fixed per
    /// name (see [`crate::normalize`]).
    pub fn canonical(&self) -> String {
        format!(
            "{};norm=nfkd,strip-marks,nfkc,casefold,confusables-v1,punct-to-space,ws;shingle=word{};\
             shingle-hash=xxh3-64/{:016x};minhash=mulshift32x{}/{:016x};tier-d={}x{}@{};tier-l={}x{}@{};slack={}",
            self.name,
            self.shingle_words,
            self.shingle_seed,
            self.permutations,
            self.minhash_seed,
            self.tier_d.bands,
            self.tier_d.rows,
            self.tier_d_threshold_milli,
            self.tier_l.bands,
            self.tier_l.rows,
            self.tier_l_threshold_milli,
            self.verify_slack_milli,
        )
    }

    /// The profile's ID.
    pub fn id(&self) -> Hash {
        hash(Domain::DataProfile, self.canonical().as_bytes())
    }

    /// Checks that the bandings fit in the signature.
    pub fn validate(&self) -> Result<()> {
        if self.shingle_words == 0 || self.permutations == 0 {
            return Err(Error::InvalidParam("empty shingles or signature".into()));
        }
        for b in [self.tier_d, self.tier_l] {
            if b.bands == 0 || b.rows == 0 || b.width() > self.permutations {
                return Err(Error::InvalidParam(format!(
                    "banding {}x{} does not fit {} permutations",
                    b.bands, b.rows, self.permutations
                )));
            }
        }
        Ok(())
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::text_v1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_id_golden() {
        let p = Profile::text_v1();
        p.validate().unwrap();
        // Golden: changing any parameter changes this ID; bump the profile name instead.
        assert_eq!(p.id().to_hex(), PROFILE_V1_ID);
        let mut q = p.clone();
        q.minhash_seed += 1;
        assert_ne!(q.id(), p.id());
    }

    pub(crate) const PROFILE_V1_ID: &str =
        "ddf389bdb8d971e9acf45e67551653bff2634f29e52a3c7f7722d346063a328f";

    #[test]
    fn banding_probabilities() {
        let p = Profile::text_v1();
        assert!(p.tier_d.detection_probability(0.8) > 0.94);
        assert!(p.tier_d.detection_probability(0.5) < 0.07);
        assert!(p.tier_l.detection_probability(0.56) > 0.99);
        assert!(p.tier_l.detection_probability(0.4) > 0.9);
    }

    #[test]
    fn bad_banding_rejected() {
        let mut p = Profile::text_v1();
        p.tier_l = Banding { bands: 50, rows: 4 };
        assert!(p.validate().is_err());
        assert!(Profile::by_name("nope").is_err());
    }
}
