//! Streaming dedup: exact (normalised ID) and near (MinHash-LSH) in two tiers.
//!
//! - **Tier D** (removal, J ≳ 0.8): band index over the signature, every candidate pair verified
//!   with the signature's Jaccard estimate (`≥ threshold − slack`), then union-find.
//! - **Tier L** (lineage, J ≳ 0.4): a second banding over the same signature that links records
//!   for attribution and never removes them.
//!
//! Each band bucket remembers the first record that landed in it, so memory grows with distinct
//! band keys, not with pairs. A cluster's representative is the earliest record in it (union by
//! smallest index), so the result is deterministic and independent of candidate order.

use crate::{
    Error, Result,
    id::{RecordId, norm_id},
    minhash::{K, Signer, band_keys, estimate_b8},
    normalize::normalize_into,
    profile::{Banding, Profile},
};
use mycel_primitives::Hash;
use std::collections::HashMap;

/// Which tier clusters are computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tier {
    /// Removal tier.
    D,
    /// Lineage tier.
    L,
}

impl std::str::FromStr for Tier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "d" | "D" => Ok(Tier::D),
            "l" | "L" => Ok(Tier::L),
            o => Err(Error::InvalidParam(format!(
                "tier must be d or l, not {o:?}"
            ))),
        }
    }
}

/// What happened to one pushed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First record with its normalised ID and not near any earlier one (so far).
    Unique,
    /// Same normalised text as the earlier record with this index.
    Exact(u32),
    /// Verified near-duplicate of (at least) the earlier record with this index.
    Near(u32),
}

/// Counters of a dedup run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Records pushed.
    pub records: u64,
    /// Records whose normalised text equals an earlier record's.
    pub exact_dups: u64,
    /// Candidate pairs from the band index.
    pub candidates: u64,
    /// Candidate pairs that verified.
    pub verified: u64,
}

/// Picks a banding for `threshold`: the profile's own at its default threshold, otherwise the
/// widest-row banding over the signature that still detects a pair at `threshold` with
/// probability ≥ 0.94.
pub fn banding_for(profile: &Profile, tier: Tier, threshold: f64) -> Banding {
    let (b, t) = match tier {
        Tier::D => (profile.tier_d, profile.tier_d_threshold_milli),
        Tier::L => (profile.tier_l, profile.tier_l_threshold_milli),
    };
    if (threshold * 1000.0).round() as u32 == t {
        return b;
    }
    let options = [
        (16, 8),
        (18, 7),
        (21, 6),
        (25, 5),
        (32, 4),
        (42, 3),
        (64, 2),
    ];
    for (bands, rows) in options {
        let b = Banding { bands, rows };
        if b.detection_probability(threshold) >= 0.94 {
            return b;
        }
    }
    Banding { bands: 64, rows: 2 }
}

/// Validates the profile and the threshold, then picks the banding ([`banding_for`]).
pub fn checked_banding(profile: &Profile, tier: Tier, threshold: f64) -> Result<Banding> {
    profile.validate()?;
    if !(0.05..=1.0).contains(&threshold) {
        return Err(Error::InvalidParam(format!(
            "threshold {threshold} outside 0.05..=1"
        )));
    }
    Ok(banding_for(profile, tier, threshold))
}

/// The streaming deduplicator.
pub struct Deduper {
    signer: Signer,
    profile_id: Hash,
    banding: Banding,
    verify_at: f64,
    tables: Vec<HashMap<u32, u32>>,
    /// 8-bit signatures of indexed records, `K` bytes each, by slot.
    sigs: Vec<u8>,
    slot_doc: Vec<u32>,
    exact: HashMap<[u8; 16], u32>,
    parent: Vec<u32>,
    stats: Stats,
    norm: String,
    sig: [u32; K],
    keys: Vec<u32>,
    cands: Vec<u32>,
}

impl Deduper {
    /// A deduplicator for `tier` at Jaccard `threshold` under `profile`.
    pub fn new(profile: &Profile, tier: Tier, threshold: f64) -> Result<Self> {
        let banding = checked_banding(profile, tier, threshold)?;
        Ok(Deduper {
            signer: Signer::new(profile),
            profile_id: profile.id(),
            banding,
            verify_at: threshold - f64::from(profile.verify_slack_milli) / 1000.0,
            tables: (0..banding.bands).map(|_| HashMap::new()).collect(),
            sigs: Vec::new(),
            slot_doc: Vec::new(),
            exact: HashMap::new(),
            parent: Vec::new(),
            stats: Stats::default(),
            norm: String::new(),
            sig: [0; K],
            keys: Vec::new(),
            cands: Vec::new(),
        })
    }

    /// The banding in use.
    pub fn banding(&self) -> Banding {
        self.banding
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.parent[hi as usize] = lo;
        }
    }

    /// Adds the next record's text; returns what it matched so far.
    pub fn push(&mut self, text: &str) -> Outcome {
        normalize_into(text, &mut self.norm);
        let nid = norm_id(&self.profile_id, &self.norm);
        let mut sig = [0u32; K];
        let shingles = self.signer.sign(&self.norm, &mut sig);
        self.push_signed(&nid, (shingles > 0).then_some(&sig))
    }

    /// Adds the next record by its normalised ID and signature, computed earlier under the same
    /// profile (`None` when the text had no shingles: exact matches only). This is how records
    /// registered earlier are put in front of a new dataset without their texts.
    pub fn push_signed(&mut self, nid: &RecordId, sig: Option<&[u32; K]>) -> Outcome {
        let doc = self.parent.len() as u32;
        self.parent.push(doc);
        self.stats.records += 1;
        let key: [u8; 16] = nid.0.0[..16].try_into().expect("16 bytes");
        if let Some(&first) = self.exact.get(&key) {
            self.stats.exact_dups += 1;
            self.union(first, doc);
            return Outcome::Exact(first);
        }
        self.exact.insert(key, doc);
        let Some(sig) = sig else {
            return Outcome::Unique;
        };
        self.sig = *sig;
        band_keys(
            &self.sig,
            self.banding.bands,
            self.banding.rows,
            &mut self.keys,
        );
        let slot = self.slot_doc.len() as u32;
        self.cands.clear();
        for (j, &k) in self.keys.iter().enumerate() {
            match self.tables[j].entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => self.cands.push(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(slot);
                }
            }
        }
        self.slot_doc.push(doc);
        self.sigs.extend(self.sig.iter().map(|&v| v as u8));
        self.cands.sort_unstable();
        self.cands.dedup();
        let mut matched = None;
        let mine = slot as usize * K..(slot as usize + 1) * K;
        for i in 0..self.cands.len() {
            let c = self.cands[i];
            let cdoc = self.slot_doc[c as usize];
            if self.find(cdoc) == self.find(doc) {
                continue;
            }
            self.stats.candidates += 1;
            let theirs = c as usize * K..(c as usize + 1) * K;
            if estimate_b8(&self.sigs[mine.clone()], &self.sigs[theirs]) >= self.verify_at {
                self.stats.verified += 1;
                self.union(cdoc, doc);
                matched = Some(matched.map_or(cdoc, |m: u32| m.min(cdoc)));
            }
        }
        matched.map_or(Outcome::Unique, Outcome::Near)
    }

    /// Representative (earliest record index) of every record's cluster, by record index.
    pub fn clusters(&mut self) -> Vec<u32> {
        (0..self.parent.len() as u32)
            .map(|i| self.find(i))
            .collect()
    }

    /// Approximate resident bytes of the band index (tables) and of the verification signatures.
    pub fn memory(&self) -> (usize, usize) {
        let tables: usize = self
            .tables
            .iter()
            .map(|t| t.capacity() * (std::mem::size_of::<(u32, u32)>() + 1))
            .sum();
        let sigs = self.sigs.capacity() + self.slot_doc.capacity() * 4;
        (tables, sigs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(seed: u64, words: usize) -> Vec<String> {
        let mut s = seed;
        (0..words)
            .map(|_| format!("w{}", crate::minhash::splitmix64(&mut s) % 5000))
            .collect()
    }

    #[test]
    fn exact_near_and_unrelated() {
        let p = Profile::text_v1();
        let mut d = Deduper::new(&p, Tier::D, 0.8).unwrap();
        let a = doc(1, 300);
        assert_eq!(d.push(&a.join(" ")), Outcome::Unique);
        // Re-encoded exact copy.
        assert_eq!(d.push(&a.join("  ").to_uppercase()), Outcome::Exact(0));
        // One word changed: J ≈ 0.97.
        let mut b = a.clone();
        b[150] = "changed".into();
        assert_eq!(d.push(&b.join(" ")), Outcome::Near(0));
        // Unrelated.
        assert_eq!(d.push(&doc(2, 300).join(" ")), Outcome::Unique);
        assert_eq!(d.clusters(), vec![0, 0, 0, 3]);
        assert_eq!(d.stats().exact_dups, 1);
    }

    #[test]
    fn representative_is_earliest_even_when_clusters_merge() {
        let p = Profile::text_v1();
        let mut d = Deduper::new(&p, Tier::D, 0.8).unwrap();
        let base = doc(7, 400);
        let left: Vec<String> = base[..200].iter().cloned().chain(doc(8, 40)).collect();
        let right: Vec<String> = doc(9, 40)
            .into_iter()
            .chain(base[200..].iter().cloned())
            .collect();
        d.push(&left.join(" "));
        d.push(&right.join(" "));
        d.push(&base.join(" "));
        let c = d.clusters();
        assert_eq!(c[0], 0);
        assert!(c[2] == 2 || c[2] == 0);
        assert!(c.iter().all(|&r| r <= 2));
    }

    #[test]
    fn tier_l_links_what_tier_d_does_not() {
        let p = Profile::text_v1();
        let a = doc(3, 400);
        let mut b = a.clone();
        for i in (0..400).step_by(12) {
            b[i] = format!("edit{i}");
        }
        let mut dd = Deduper::new(&p, Tier::D, 0.8).unwrap();
        dd.push(&a.join(" "));
        assert_eq!(dd.push(&b.join(" ")), Outcome::Unique);
        let mut dl = Deduper::new(&p, Tier::L, 0.4).unwrap();
        dl.push(&a.join(" "));
        assert_eq!(dl.push(&b.join(" ")), Outcome::Near(0));
    }

    #[test]
    fn bad_parameters() {
        let p = Profile::text_v1();
        assert!(Deduper::new(&p, Tier::D, 0.0).is_err());
        assert!(Deduper::new(&p, Tier::D, 1.5).is_err());
        assert!("x".parse::<Tier>().is_err());
        assert_eq!(banding_for(&p, Tier::D, 0.8), p.tier_d);
        assert_eq!(banding_for(&p, Tier::D, 0.6).rows, 4);
    }
}
