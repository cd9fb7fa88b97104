use super::*;
use crate::dedup::{Deduper, Outcome};

fn words(seed: u64, n: usize) -> Vec<String> {
    let mut s = seed;
    (0..n)
        .map(|_| format!("w{}", crate::minhash::splitmix64(&mut s) % 5000))
        .collect()
}

fn edit(base: &[String], every: usize, tag: &str) -> String {
    base.iter()
        .enumerate()
        .map(|(i, w)| {
            if i % every == every / 2 {
                format!("{tag}{i}")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn clusters_and_earliest_representative() {
    let p = Profile::text_v1();
    let a = words(1, 400);
    let b = words(2, 400);
    let docs = vec![
        "!!!".to_string(),           // 0: no shingles
        a.join(" "),                 // 1
        b.join(" "),                 // 2
        edit(&a, 100, "x"),          // 3: near 1 (J ≈ 0.95)
        a.join("  ").to_uppercase(), // 4: exact dup of 1
        words(3, 400).join(" "),     // 5: unrelated
        edit(&b, 80, "y"),           // 6: near 2
        "...".to_string(),           // 7: exact dup of 0 (empty after normalising)
        edit(&a, 100, "z"),          // 8: near 1 and 3
        edit(&a, 15, "far"),         // 9: J ≈ 0.5 with 1: alone in tier D
    ];
    let r = dedup_texts(&p, Tier::D, 0.8, &docs).unwrap();
    assert_eq!(r.reps, vec![0, 1, 2, 1, 1, 5, 2, 0, 1, 9]);
    // 3, 6 and 8 verified near their representative; 4 and 7 exact copies of one.
    let kinds: Vec<(u32, bool)> = r
        .evidence
        .iter()
        .map(|(i, e)| (*i, matches!(e, Evidence::Exact)))
        .collect();
    assert_eq!(
        kinds,
        vec![(3, false), (4, true), (6, false), (7, true), (8, false)]
    );
    assert_eq!(r.stats.exact_dups, 2);
    assert_eq!(r.stats.indexed, 7);
    assert_eq!(r.clusters(), 5);
    assert!(r.stats.verified >= 2, "{:?}", r.stats);
    // The streaming engine agrees on this set.
    let mut d = Deduper::new(&p, Tier::D, 0.8).unwrap();
    for t in &docs {
        let _: Outcome = d.push(t);
    }
    assert_eq!(d.clusters(), r.reps);
    // Tier L links the far edit too, and any cache budget gives the same clusters.
    let l = dedup_texts(&p, Tier::L, 0.4, &docs).unwrap();
    assert_eq!(l.reps[9], 1);
    let mut d = BatchDeduper::new(&p, Tier::D, 0.8)
        .unwrap()
        .with_cache_budget(0);
    for (i, t) in docs.iter().enumerate() {
        d.push(t, i as u64).unwrap();
    }
    let z = d.finish(&mut SliceSource(&docs)).unwrap();
    assert_eq!(z.reps, r.reps);
    assert!(z.stats.cache_resets > 0 || z.stats.texts_read <= 2);
}

#[test]
fn bridging_record_does_not_merge_clusters() {
    // 1 and 2 are too far apart to link (J ≈ 0.33), 3 is near both (J ≈ 0.66): 3 joins the
    // earlier representative, 1; 2 stays apart (connected components would have pulled it in
    // through 3); 0 is unrelated.
    let p = Profile::text_v1();
    let base = words(7, 600);
    let left: String = base[..400].join(" ");
    let right: String = base[200..].join(" ");
    let docs = vec![words(8, 300).join(" "), left, right, base.join(" ")];
    let r = dedup_texts(&p, Tier::L, 0.4, &docs).unwrap();
    assert_eq!(r.reps, vec![0, 1, 2, 1]);
    // The order of the records decides the representative, nothing else.
    let rev: Vec<String> = vec![
        docs[3].clone(),
        docs[2].clone(),
        docs[1].clone(),
        docs[0].clone(),
    ];
    let r = dedup_texts(&p, Tier::L, 0.4, &rev).unwrap();
    assert_eq!(r.reps, vec![0, 0, 0, 3]);
}

#[test]
fn chains_do_not_pull_in_records_below_the_threshold() {
    // Each record overlaps the next in 560 of 600 words (J ≈ 0.87 before shingling effects), so
    // consecutive records are near duplicates, but the 30th shares nothing with the first.
    let p = Profile::text_v1();
    let base = words(31, 600 + 40 * 30);
    let docs: Vec<String> = (0..30)
        .map(|k| base[40 * k..40 * k + 600].join(" "))
        .collect();
    let r = dedup_texts(&p, Tier::D, 0.8, &docs).unwrap();
    let norm: Vec<String> = docs
        .iter()
        .map(|d| crate::normalize::normalize(d))
        .collect();
    for (i, &rep) in r.reps.iter().enumerate() {
        let j = crate::minhash::exact_jaccard(&p, &norm[i], &norm[rep as usize]);
        assert!(j >= 0.8, "record {i} joined {rep} at J = {j}");
    }
    assert!(r.clusters() >= 10, "{:?}", r.reps);
    // The evidence is the verified similarity with the representative, for every member.
    let members: Vec<u32> = (0..docs.len() as u32)
        .filter(|&i| r.reps[i as usize] != i)
        .collect();
    assert_eq!(r.evidence.iter().map(|e| e.0).collect::<Vec<_>>(), members);
    for &(i, why) in &r.evidence {
        let Evidence::Near(sim) = why else {
            panic!("record {i}: no exact duplicates here");
        };
        let rep = r.reps[i as usize] as usize;
        let j = crate::minhash::exact_jaccard(&p, &norm[i as usize], &norm[rep]);
        assert_eq!(sim.jaccard(), j);
    }
    // The rule over all verified pairs gives the same representatives.
    let mut edges = Vec::new();
    for b in 0..docs.len() {
        for a in 0..b {
            if crate::minhash::exact_jaccard(&p, &norm[a], &norm[b]) >= 0.8 {
                edges.push(later_first(a as u32, b as u32));
            }
        }
    }
    edges.reverse();
    assert_eq!(assign(docs.len(), &mut edges), r.reps);
}

#[test]
fn long_runs_use_a_star_and_still_cluster() {
    let p = Profile::text_v1();
    let base = words(11, 500);
    // 40 near-identical records (one distinct word each): every band run is longer than
    // SMALL_RUN.
    let docs: Vec<String> = (0..40)
        .map(|k| {
            let mut w = base.clone();
            w[250] = format!("v{k}");
            w.join(" ")
        })
        .collect();
    let r = dedup_texts(&p, Tier::D, 0.8, &docs).unwrap();
    assert!(r.reps.iter().all(|&x| x == 0), "{:?}", r.reps);
    // Star: at most 39 pairs per band before deduplication.
    assert!(r.stats.band_pairs <= 39 * 16, "{:?}", r.stats);
    assert_eq!(r.stats.exact_dups, 0);
}

#[test]
fn strict_threshold_rejects_pairs_the_estimate_would_take() {
    // Pairs around the threshold: a candidate under it is never united, whatever the
    // signature estimates.
    let p = Profile::text_v1();
    let a = words(21, 2000);
    let mut rejected = 0;
    for every in [36, 38, 40, 42, 44, 45, 46, 48, 50, 55] {
        let b = edit(&a, every, "e");
        let na = crate::normalize::normalize(&a.join(" "));
        let nb = crate::normalize::normalize(&b);
        let j = crate::minhash::exact_jaccard(&p, &na, &nb);
        let r = dedup_texts(&p, Tier::D, 0.8, &[a.join(" "), b]).unwrap();
        let united = r.reps[1] == 0;
        assert!(!united || j >= 0.8, "united at J = {j}");
        assert_eq!(united, r.stats.verified == 1);
        rejected += usize::from(r.stats.candidates == 1 && !united);
    }
    assert!(rejected >= 1);
}

#[test]
fn band_index_is_eight_bytes_per_band_plus_a_compact_locator() {
    let p = Profile::text_v1();
    let docs: Vec<String> = (0..2 * BLOCK as u64)
        .map(|i| words(i + 100, 30).join(" "))
        .collect();
    let mut d = BatchDeduper::new(&p, Tier::D, 0.8).unwrap();
    for (i, t) in docs.iter().enumerate() {
        d.push(t, i as u64).unwrap();
    }
    let m = d.memory();
    assert_eq!(m.indexed, docs.len() as u64);
    let per_doc = m.index_bytes_per_record();
    assert!((132.0..133.0).contains(&per_doc), "{per_doc}");
    assert_eq!(m.signatures / docs.len(), K);
}

#[test]
fn locators_round_trip() {
    let mut l = Locators::new();
    let vals: Vec<u64> = (0..3000u64)
        .map(|i| match i {
            1500 => 3,             // below its block's base
            2000 => (1 << 40) + 7, // far above
            2001 => (1 << 40) + 9,
            _ => i * 5000 + (1 << 33),
        })
        .collect();
    for &v in &vals {
        l.push(v);
    }
    for (i, &v) in vals.iter().enumerate() {
        assert_eq!(l.get(i as u32), v);
    }
    assert_eq!(l.far.len(), 3);
}

#[test]
fn bad_parameters() {
    let p = Profile::text_v1();
    assert!(BatchDeduper::new(&p, Tier::D, 0.0).is_err());
    assert!(BatchDeduper::new(&p, Tier::D, 1.5).is_err());
    let empty: [&str; 0] = [];
    let r = dedup_texts(&p, Tier::D, 0.8, &empty).unwrap();
    assert!(r.reps.is_empty());
    assert_eq!(r.memory.index_bytes_per_record(), 0.0);
}
