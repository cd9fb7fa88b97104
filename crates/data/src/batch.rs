//! Batch (two-pass) near-dup clustering for files and labelled sets, with exact verification.
//!
//! 1. **Index** ([`BatchDeduper::push`], streaming over records): normalise; exact check on the
//!    normalised ID; MinHash signature; one band key per band of the tier's banding appended to a
//!    flat per-band list of `(key, slot)` entries (8 B each); an 8-bit signature for a cheap
//!    prefilter; and a 64-bit *locator* to re-read the record's text later (a byte offset for
//!    JSONL, an index for in-memory corpora). Records that are exact duplicates of an earlier one,
//!    or have no shingles, are not indexed.
//! 2. **Candidates**: each band list is sorted (deterministic total order) and freed in turn; a
//!    run of equal keys yields all its pairs when it has at most [`SMALL_RUN`] entries, else a star
//!    from its earliest record. Pairs whose 8-bit estimate is below `threshold − PREFILTER_SLACK`
//!    are dropped; the rest are sorted and deduplicated.
//! 3. **Exact verification against representatives**: records are visited in order; each one
//!    tries its candidates in order and joins the first that is a cluster representative and whose
//!    exact word-shingle Jaccard ([`minhash::shingle_vec`], the definition the labelled corpora
//!    use) with it reaches the threshold; with none, it represents a cluster of its own. Shingle
//!    sets are cached under a byte budget ([`DEFAULT_CACHE_BYTES`]); when the cache would exceed it
//!    it is emptied and sets are recomputed on demand (slower, never different).
//!
//! Precision by construction: every member of a cluster is verified against the cluster's
//! representative, never only against another member, so a chain of pairs each above the
//! threshold cannot pull in a record far below it (the failure of connected components that
//! collapsed whole sources in other pipelines; `reference/scale-out.md` §1.3). A representative
//! is the earliest record of its cluster; exact duplicates join their first occurrence's cluster
//! (their text is the same, so they are exactly as similar to its representative). The result is
//! a function of the candidate set alone: [`assign`] is the same rule over verified edges, which
//! the staged pipeline uses.

use crate::{
    Error, Result,
    dedup::{Tier, checked_banding},
    id::norm_id,
    minhash::{self, K, Signer, band_keys, estimate_b8},
    normalize::normalize_into,
    profile::{Banding, Profile},
};
use mycel_primitives::Hash;
use mycel_text::Similarity;
use std::collections::HashMap;

/// Runs of equal band keys up to this length yield all their pairs; longer ones a star from their
/// earliest record.
pub const SMALL_RUN: usize = 16;

/// Candidates whose 8-bit signature estimate is below `threshold − PREFILTER_SLACK` are not
/// verified (about 2.8 standard deviations of the 128-value estimate at J = 0.8).
pub const PREFILTER_SLACK: f64 = 0.1;

/// Default byte budget of the shingle-set cache of the verification pass.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Entries per allocation block of the pass-1 lists: the allocated slack is at most one block per
/// list (8 KiB per band list).
const BLOCK: usize = 1024;

/// High bit of a per-record link: the record is not indexed and the low bits are its
/// representative's record index.
const NOT_INDEXED: u32 = 1 << 31;

/// Where the verification pass re-reads a record's text from.
pub trait TextSource {
    /// Writes the text of the record with `locator` (as given to [`BatchDeduper::push`]) to `out`.
    fn read_text(&mut self, locator: u64, out: &mut String) -> Result<()>;
}

/// An in-memory corpus: the locator is the index.
pub struct SliceSource<'a, S>(pub &'a [S]);

impl<S: AsRef<str>> TextSource for SliceSource<'_, S> {
    fn read_text(&mut self, locator: u64, out: &mut String) -> Result<()> {
        let t = self
            .0
            .get(locator as usize)
            .ok_or_else(|| Error::InvalidParam(format!("no record {locator}")))?;
        out.clear();
        out.push_str(t.as_ref());
        Ok(())
    }
}

/// Append-only list in fixed blocks, so growing never copies and over-allocates at most one block.
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Blocks<T> {
    fn new() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, v: T) {
        if self.len.is_multiple_of(BLOCK) {
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        self.blocks.last_mut().expect("a block").push(v);
        self.len += 1;
    }

    fn get(&self, i: usize) -> &T {
        &self.blocks[i / BLOCK][i % BLOCK]
    }

    fn allocated_bytes(&self) -> usize {
        self.blocks.len() * BLOCK * std::mem::size_of::<T>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<T>>()
    }

    /// One contiguous vector of exactly `len` entries; each block is freed once copied.
    fn into_vec(self) -> Vec<T> {
        let mut v = Vec::with_capacity(self.len);
        for b in self.blocks {
            v.extend_from_slice(&b);
        }
        v
    }
}

/// Locators by slot: per block of [`BLOCK`] slots a 64-bit base (the block's first locator) and
/// per slot a 32-bit delta from it, so about 4 B per slot for the increasing offsets of a file.
/// A locator below its block's base or 4 GiB or more above it is kept whole in a side map.
struct Locators {
    bases: Vec<u64>,
    deltas: Blocks<u32>,
    far: HashMap<u32, u64>,
}

impl Locators {
    const FAR: u32 = u32::MAX;

    fn new() -> Self {
        Locators {
            bases: Vec::new(),
            deltas: Blocks::new(),
            far: HashMap::new(),
        }
    }

    fn push(&mut self, locator: u64) {
        let i = self.deltas.len;
        if i.is_multiple_of(BLOCK) {
            self.bases.push(locator);
        }
        let base = *self.bases.last().expect("a base");
        match locator.checked_sub(base) {
            Some(d) if d < u64::from(Self::FAR) => self.deltas.push(d as u32),
            _ => {
                self.deltas.push(Self::FAR);
                self.far.insert(i as u32, locator);
            }
        }
    }

    fn get(&self, i: u32) -> u64 {
        match *self.deltas.get(i as usize) {
            Self::FAR => self.far[&i],
            d => self.bases[i as usize / BLOCK] + u64::from(d),
        }
    }

    fn allocated_bytes(&self) -> usize {
        self.deltas.allocated_bytes()
            + self.bases.capacity() * 8
            + self.far.capacity() * (std::mem::size_of::<(u32, u64)>() + 1)
    }
}

/// Counters of a batch run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchStats {
    /// Records pushed.
    pub records: u64,
    /// Records whose normalised text equals an earlier record's.
    pub exact_dups: u64,
    /// Records put in the band index.
    pub indexed: u64,
    /// Pairs produced by band runs (a pair sharing several bands counts once per band).
    pub band_pairs: u64,
    /// Of those, rejected by the 8-bit prefilter.
    pub prefiltered_out: u64,
    /// Distinct candidate pairs left for exact verification.
    pub candidates: u64,
    /// Candidates skipped because both records were already in one cluster.
    pub skipped: u64,
    /// Candidates whose exact Jaccard reached the threshold.
    pub verified: u64,
    /// Texts re-read and shingled for verification.
    pub texts_read: u64,
    /// Times the shingle cache reached its budget and was emptied.
    pub cache_resets: u64,
}

/// Memory of a batch run, in bytes (allocated, not just used).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchMemory {
    /// Records pushed.
    pub records: u64,
    /// Records indexed.
    pub indexed: u64,
    /// Band lists at the end of pass 1: 8 B per band per indexed record, plus block slack.
    pub band_entries: usize,
    /// Locators at the end of pass 1: about 4 B per indexed record (see `Locators`), plus block
    /// slack.
    pub locators: usize,
    /// 8-bit prefilter signatures: `K` B per indexed record, plus block slack.
    pub signatures: usize,
    /// Per-record link (exact-dup and cluster bookkeeping): 4 B per record.
    pub links: usize,
    /// Exact-dup map of normalised IDs (approximate: capacity × entry size).
    pub exact_map: usize,
    /// Largest candidate-pair list (8 B per pair).
    pub pairs_peak: usize,
    /// Largest shingle-cache size reached.
    pub cache_peak: usize,
}

impl BatchMemory {
    /// The near-dup band index per record: band entries plus locators.
    pub fn index_bytes_per_record(&self) -> f64 {
        (self.band_entries + self.locators) as f64 / self.records.max(1) as f64
    }

    /// The 8-bit prefilter signatures per record.
    pub fn signature_bytes_per_record(&self) -> f64 {
        self.signatures as f64 / self.records.max(1) as f64
    }
}

/// Why a record joined its representative's cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Its normalised text is the representative's.
    Exact,
    /// Its shingle set's exact similarity with the representative's, as verified (an exact
    /// duplicate of a member carries the member's).
    Near(Similarity),
}

/// The outcome of a batch run.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// Representative (earliest record index of its cluster) of every record, by record index.
    pub reps: Vec<u32>,
    /// `(record, why)` of every record that is not its own representative, in record order.
    pub evidence: Vec<(u32, Evidence)>,
    /// Counters.
    pub stats: BatchStats,
    /// Memory.
    pub memory: BatchMemory,
    /// The banding used.
    pub banding: Banding,
}

impl BatchResult {
    /// Records that are their own representative.
    pub fn clusters(&self) -> u64 {
        self.reps
            .iter()
            .enumerate()
            .filter(|(i, r)| *i as u32 == **r)
            .count() as u64
    }
}

/// The two-pass deduplicator: [`push`](Self::push) every record, then [`finish`](Self::finish).
pub struct BatchDeduper {
    profile: Profile,
    profile_id: Hash,
    signer: Signer,
    banding: Banding,
    threshold: f64,
    cache_budget: usize,
    exact: HashMap<[u8; 16], u32>,
    links: Vec<u32>,
    bands: Vec<Blocks<u64>>,
    locators: Locators,
    sigs: Blocks<[u8; K]>,
    stats: BatchStats,
    norm: String,
    keys: Vec<u32>,
    /// `(slot, similarity)` of every slot verified against its representative.
    verified: Vec<(u32, Similarity)>,
}

impl BatchDeduper {
    /// A deduplicator for `tier` at exact Jaccard `threshold` under `profile`.
    pub fn new(profile: &Profile, tier: Tier, threshold: f64) -> Result<Self> {
        let banding = checked_banding(profile, tier, threshold)?;
        Ok(BatchDeduper {
            profile: profile.clone(),
            profile_id: profile.id(),
            signer: Signer::new(profile),
            banding,
            threshold,
            cache_budget: DEFAULT_CACHE_BYTES,
            exact: HashMap::new(),
            links: Vec::new(),
            bands: (0..banding.bands).map(|_| Blocks::new()).collect(),
            locators: Locators::new(),
            sigs: Blocks::new(),
            stats: BatchStats::default(),
            norm: String::new(),
            keys: Vec::new(),
            verified: Vec::new(),
        })
    }

    /// Sets the byte budget of the verification pass's shingle-set cache.
    pub fn with_cache_budget(mut self, bytes: usize) -> Self {
        self.cache_budget = bytes;
        self
    }

    /// The banding in use.
    pub fn banding(&self) -> Banding {
        self.banding
    }

    /// Pass 1: adds the next record, whose text `finish` can re-read at `locator`.
    pub fn push(&mut self, text: &str, locator: u64) -> Result<()> {
        let doc = self.links.len() as u32;
        if doc >= NOT_INDEXED {
            return Err(Error::InvalidParam(format!(
                "more than {NOT_INDEXED} records"
            )));
        }
        self.stats.records += 1;
        normalize_into(text, &mut self.norm);
        let nid = norm_id(&self.profile_id, &self.norm);
        let key: [u8; 16] = nid.0.0[..16].try_into().expect("16 bytes");
        if let Some(&first) = self.exact.get(&key) {
            self.stats.exact_dups += 1;
            let l = self.links[first as usize];
            self.links.push(l);
            return Ok(());
        }
        self.exact.insert(key, doc);
        let mut sig = [0u32; K];
        if self.signer.sign(&self.norm, &mut sig) == 0 {
            self.links.push(NOT_INDEXED | doc);
            return Ok(());
        }
        let slot = self.stats.indexed as u32;
        self.stats.indexed += 1;
        self.links.push(slot);
        band_keys(&sig, self.banding.bands, self.banding.rows, &mut self.keys);
        for (band, &k) in self.bands.iter_mut().zip(&self.keys) {
            band.push((u64::from(k) << 32) | u64::from(slot));
        }
        self.locators.push(locator);
        self.sigs.push(sig.map(|v| v as u8));
        Ok(())
    }

    /// Memory so far (the band lists and locators are at their largest at the end of pass 1).
    pub fn memory(&self) -> BatchMemory {
        BatchMemory {
            records: self.stats.records,
            indexed: self.stats.indexed,
            band_entries: self.bands.iter().map(Blocks::allocated_bytes).sum(),
            locators: self.locators.allocated_bytes(),
            signatures: self.sigs.allocated_bytes(),
            links: self.links.capacity() * 4,
            exact_map: self.exact.capacity() * (std::mem::size_of::<([u8; 16], u32)>() + 1),
            pairs_peak: 0,
            cache_peak: 0,
        }
    }

    /// Passes 2 and 3: candidate pairs from the band lists, exact verification of each against
    /// the texts re-read from `source`, clusters.
    pub fn finish(mut self, source: &mut dyn TextSource) -> Result<BatchResult> {
        let mut memory = self.memory();
        drop(std::mem::take(&mut self.exact));
        let pairs = self.candidates(&mut memory);
        let slots = self.stats.indexed as usize;
        let locators = std::mem::replace(&mut self.locators, Locators::new());
        let mut rep: Vec<u32> = (0..slots as u32).collect();
        self.verify(&pairs, &locators, &mut rep, source, &mut memory)?;
        drop(pairs);
        drop(locators);
        // Slot `s` belongs to the `s`-th record whose link is a fresh slot (slots are handed out
        // in record order, and exact duplicates of a slot's record come after it).
        let mut slot_doc = Vec::with_capacity(slots);
        for (doc, &l) in self.links.iter().enumerate() {
            if l == slot_doc.len() as u32 {
                slot_doc.push(doc as u32);
            }
        }
        let reps: Vec<u32> = self
            .links
            .iter()
            .map(|&l| {
                if l & NOT_INDEXED != 0 {
                    l & !NOT_INDEXED
                } else {
                    slot_doc[rep[l as usize] as usize]
                }
            })
            .collect();
        // Verified slots are in increasing order (each is assigned once, visited in order).
        let mut evidence = Vec::new();
        for (doc, &l) in self.links.iter().enumerate() {
            if reps[doc] == doc as u32 {
                continue;
            }
            let why = if l & NOT_INDEXED != 0 || rep[l as usize] == l {
                Evidence::Exact
            } else {
                let i = self
                    .verified
                    .binary_search_by_key(&l, |v| v.0)
                    .expect("a member was verified");
                Evidence::Near(self.verified[i].1)
            };
            evidence.push((doc as u32, why));
        }
        Ok(BatchResult {
            reps,
            evidence,
            stats: self.stats,
            memory,
            banding: self.banding,
        })
    }

    /// Pass 2: sorted, deduplicated candidate pairs `(b << 32 | a)`, `a < b` slots (so a record's
    /// candidates are together, in order), that pass the 8-bit prefilter. Frees the band lists one
    /// by one.
    fn candidates(&mut self, memory: &mut BatchMemory) -> Vec<u64> {
        let mut pairs: Vec<u64> = Vec::new();
        let mut compacted = 0;
        let bands = std::mem::take(&mut self.bands);
        for band in bands {
            let mut v = band.into_vec();
            v.sort_unstable();
            let stats = &mut self.stats;
            let sigs = &self.sigs;
            let threshold = self.threshold;
            run_pairs(
                &v,
                |e| e >> 32,
                |ea, eb| {
                    let (a, b) = (ea as u32, eb as u32);
                    stats.band_pairs += 1;
                    if passes_prefilter(sigs.get(a as usize), sigs.get(b as usize), threshold) {
                        pairs.push(later_first(a, b));
                    } else {
                        stats.prefiltered_out += 1;
                    }
                },
            );
            drop(v);
            // A pair sharing many bands appears once per band: compact as the list doubles.
            if pairs.len() > 2 * compacted + (1 << 16) {
                memory.pairs_peak = memory.pairs_peak.max(pairs.capacity() * 8);
                pairs.sort_unstable();
                pairs.dedup();
                compacted = pairs.len();
            }
        }
        memory.pairs_peak = memory.pairs_peak.max(pairs.capacity() * 8);
        pairs.sort_unstable();
        pairs.dedup();
        pairs.shrink_to_fit();
        self.stats.candidates = pairs.len() as u64;
        drop(std::mem::replace(&mut self.sigs, Blocks::new()));
        pairs
    }

    /// Pass 3: for each slot in order, the first of its candidates (`pairs`, sorted) that is a
    /// representative and verifies becomes its representative in `rep` (`rep[s] == s` before).
    fn verify(
        &mut self,
        pairs: &[u64],
        locators: &Locators,
        rep: &mut [u32],
        source: &mut dyn TextSource,
        memory: &mut BatchMemory,
    ) -> Result<()> {
        let mut cache: HashMap<u32, Vec<u64>> = HashMap::new();
        let mut cache_bytes = 0usize;
        let mut text = String::new();
        let mut current: Option<(u32, Vec<u64>)> = None;
        let mut scratch = Vec::new();
        for &p in pairs {
            let (b, a) = ((p >> 32) as u32, p as u32);
            // `a < b`, so `a`'s fate is already decided: only a representative can take members.
            if rep[a as usize] != a || rep[b as usize] != b {
                self.stats.skipped += 1;
                continue;
            }
            if current.as_ref().is_none_or(|(c, _)| *c != b) {
                let set = match cache.remove(&b) {
                    Some(s) => {
                        cache_bytes -= s.capacity() * 8;
                        s
                    }
                    None => self.shingles(locators.get(b), source, &mut text)?,
                };
                current = Some((b, set));
            }
            if !cache.contains_key(&a) {
                self.shingles_into(locators.get(a), source, &mut text, &mut scratch)?;
                let set = std::mem::take(&mut scratch);
                let bytes = set.capacity() * 8;
                if cache_bytes + bytes > self.cache_budget && !cache.is_empty() {
                    cache.clear();
                    cache_bytes = 0;
                    self.stats.cache_resets += 1;
                }
                cache_bytes += bytes;
                memory.cache_peak = memory.cache_peak.max(cache_bytes);
                cache.insert(a, set);
            }
            let sb = &current.as_ref().expect("current set").1;
            let sa = &cache[&a];
            let sim = Similarity::of_sorted(sa, sb);
            if reaches(&sim, self.threshold) {
                self.stats.verified += 1;
                rep[b as usize] = a;
                self.verified.push((b, sim));
            }
        }
        Ok(())
    }

    fn shingles(
        &mut self,
        locator: u64,
        source: &mut dyn TextSource,
        text: &mut String,
    ) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.shingles_into(locator, source, text, &mut out)?;
        Ok(out)
    }

    fn shingles_into(
        &mut self,
        locator: u64,
        source: &mut dyn TextSource,
        text: &mut String,
        out: &mut Vec<u64>,
    ) -> Result<()> {
        source.read_text(locator, text)?;
        normalize_into(text, &mut self.norm);
        minhash::shingle_vec(&self.profile, &self.norm, out);
        out.shrink_to_fit();
        self.stats.texts_read += 1;
        Ok(())
    }
}

/// The candidate rule of one band, shared by the batch engine and the staged pipeline: `sorted`
/// holds the band's entries in ascending order, records in record order within equal keys, and
/// `key` gives an entry's band key. Each run of equal keys yields all its pairs when it has at most
/// [`SMALL_RUN`] entries, else a star from its first (earliest) entry; `emit(earlier, later)` is
/// called for each pair, in order.
pub fn run_pairs<E: Copy, K: PartialEq>(
    sorted: &[E],
    key: impl Fn(E) -> K,
    mut emit: impl FnMut(E, E),
) {
    let mut i = 0;
    while i < sorted.len() {
        let k = key(sorted[i]);
        let mut j = i + 1;
        while j < sorted.len() && key(sorted[j]) == k {
            j += 1;
        }
        let run = &sorted[i..j];
        let centres = if run.len() <= SMALL_RUN { run.len() } else { 1 };
        for (x, &ea) in run.iter().enumerate().take(centres) {
            for &eb in &run[x + 1..] {
                emit(ea, eb);
            }
        }
        i = j;
    }
}

/// Whether a candidate pair with 8-bit signatures `a` and `b` passes the prefilter at `threshold`
/// (its estimate is at least `threshold − PREFILTER_SLACK`).
pub fn passes_prefilter(a: &[u8], b: &[u8], threshold: f64) -> bool {
    estimate_b8(a, b) >= threshold - PREFILTER_SLACK
}

/// Whether an exact similarity reaches `threshold`: the one decision both the batch engine and
/// the staged pipeline take (on the `f64` Jaccard `inter / union`).
pub fn reaches(s: &Similarity, threshold: f64) -> bool {
    s.jaccard() >= threshold
}

/// The sort key of candidate pair `{a, b}`, `a < b`: later record first, so each record's
/// candidates sort together, earliest first.
pub fn later_first(a: u32, b: u32) -> u64 {
    let (a, b) = (a.min(b), a.max(b));
    (u64::from(b) << 32) | u64::from(a)
}

/// The clustering rule over verified edges: `edges` holds `later_first(a, b)` of every candidate
/// pair whose exact Jaccard reached the threshold (any order, duplicates allowed); records
/// `0..n` each get the earliest representative among their verified partners, where a
/// representative is a record that got none. The batch engine applies the same rule while it
/// verifies, skipping pairs that cannot matter, so both give the same representatives.
pub fn assign(n: usize, edges: &mut [u64]) -> Vec<u32> {
    edges.sort_unstable();
    let mut rep: Vec<u32> = (0..n as u32).collect();
    for &e in edges.iter() {
        let (b, a) = ((e >> 32) as usize, e as u32);
        if rep[a as usize] == a && rep[b] == b as u32 && a != b as u32 {
            rep[b] = a;
        }
    }
    rep
}

/// Clusters an in-memory corpus (`docs` in record order) with the batch path.
pub fn dedup_texts<S: AsRef<str>>(
    profile: &Profile,
    tier: Tier,
    threshold: f64,
    docs: &[S],
) -> Result<BatchResult> {
    let mut d = BatchDeduper::new(profile, tier, threshold)?;
    for (i, t) in docs.iter().enumerate() {
        d.push(t.as_ref(), i as u64)?;
    }
    d.finish(&mut SliceSource(docs))
}

#[cfg(test)]
mod tests;
