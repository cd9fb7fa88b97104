//! Dataset trees: an RFC 6962 root over the dataset's record IDs sorted ascending, with
//! inclusion proofs and non-membership proofs.
//!
//! Leaves are `merkle::leaf_hash(record_id)` in ascending ID order, duplicates removed, so the root
//! does not depend on the order records were added. A non-membership proof for an ID `x` shows the
//! two adjacent leaves around where `x` would sit (the predecessor `< x` at index `i` and the
//! successor `> x` at `i + 1`), or only the first leaf (`x` below all) or only the last (`x` above
//! all); adjacency of indices in the same tree proves nothing lies between.

use crate::{Error, Result, id::RecordId};
use mycel_primitives::{
    Hash,
    merkle::{self, InclusionProof},
};

/// A dataset's sorted, deduplicated record IDs and their Merkle leaves.
#[derive(Clone, Debug, Default)]
pub struct DatasetTree {
    ids: Vec<RecordId>,
    leaves: Vec<Hash>,
}

/// One ID with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// The record ID.
    pub id: RecordId,
    /// Its inclusion proof.
    pub proof: InclusionProof,
}

/// A proof that an ID is, or is not, in a dataset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// The ID is a leaf.
    Inclusion(Member),
    /// The ID is not a leaf.
    NonMembership {
        /// Number of leaves.
        size: u64,
        /// The largest ID below the queried one, if any.
        left: Option<Member>,
        /// The smallest ID above the queried one, if any.
        right: Option<Member>,
    },
}

/// The leaf of a record ID in a dataset tree.
pub fn leaf(id: &RecordId) -> Hash {
    merkle::leaf_hash(id.0.as_bytes())
}

impl DatasetTree {
    /// Builds the tree from IDs in any order; duplicates are dropped.
    pub fn new(mut ids: Vec<RecordId>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let leaves = ids.iter().map(leaf).collect();
        DatasetTree { ids, leaves }
    }

    /// The root.
    pub fn root(&self) -> Hash {
        merkle::root(&self.leaves)
    }

    /// Number of distinct records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the tree has no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The sorted IDs.
    pub fn ids(&self) -> &[RecordId] {
        &self.ids
    }

    fn member(&self, i: usize) -> Member {
        Member {
            id: self.ids[i],
            proof: merkle::prove(&self.leaves, i).expect("index in range"),
        }
    }

    /// Proves that `id` is or is not in the dataset.
    pub fn prove(&self, id: &RecordId) -> Proof {
        match self.ids.binary_search(id) {
            Ok(i) => Proof::Inclusion(self.member(i)),
            Err(i) => Proof::NonMembership {
                size: self.ids.len() as u64,
                left: (i > 0).then(|| self.member(i - 1)),
                right: (i < self.ids.len()).then(|| self.member(i)),
            },
        }
    }
}

impl Proof {
    /// Checks the proof for `id` against `root`; returns whether `id` is a member.
    pub fn verify(&self, id: &RecordId, root: &Hash) -> Result<bool> {
        match self {
            Proof::Inclusion(m) => {
                if &m.id != id {
                    return Err(Error::Verify("proof is for another id".into()));
                }
                m.proof.verify(&leaf(id), root)?;
                Ok(true)
            }
            Proof::NonMembership { size, left, right } => {
                let check = |m: &Member| -> Result<()> {
                    if m.proof.size != *size {
                        return Err(Error::Verify("proofs are for different tree sizes".into()));
                    }
                    m.proof.verify(&leaf(&m.id), root)?;
                    Ok(())
                };
                match (left, right) {
                    (None, None) => {
                        if *size != 0 || *root != merkle::root(&[]) {
                            return Err(Error::Verify(
                                "empty-tree proof for a non-empty root".into(),
                            ));
                        }
                    }
                    (Some(l), None) => {
                        check(l)?;
                        if l.proof.index + 1 != *size || l.id >= *id {
                            return Err(Error::Verify(
                                "left neighbour is not the last leaf below the id".into(),
                            ));
                        }
                    }
                    (None, Some(r)) => {
                        check(r)?;
                        if r.proof.index != 0 || r.id <= *id {
                            return Err(Error::Verify(
                                "right neighbour is not the first leaf above the id".into(),
                            ));
                        }
                    }
                    (Some(l), Some(r)) => {
                        check(l)?;
                        check(r)?;
                        if l.proof.index + 1 != r.proof.index || l.id >= *id || r.id <= *id {
                            return Err(Error::Verify(
                                "neighbours are not adjacent around the id".into(),
                            ));
                        }
                    }
                }
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::raw_id;

    fn ids(n: usize) -> Vec<RecordId> {
        (0..n)
            .map(|i| raw_id(format!("record {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn root_is_order_independent_and_deduplicated() {
        let mut a = ids(10);
        let t1 = DatasetTree::new(a.clone());
        a.reverse();
        a.push(a[0]);
        let t2 = DatasetTree::new(a);
        assert_eq!(t1.root(), t2.root());
        assert_eq!(t2.len(), 10);
    }

    #[test]
    fn golden_dataset_root() {
        assert_eq!(
            DatasetTree::new(ids(3)).root().to_hex(),
            "7c0ba88d56327ae44c32da0267db42a4f6a94079ba05b9cf5693d98c4a0cf3d7"
        );
    }

    #[test]
    fn inclusion_and_non_membership_verify_for_many_sizes() {
        let absent = ids(60);
        for n in 0..25 {
            let (present, missing) = absent.split_at(n);
            let t = DatasetTree::new(present.to_vec());
            let root = t.root();
            for id in present {
                let p = t.prove(id);
                assert!(p.verify(id, &root).unwrap());
                assert!(
                    p.verify(id, &merkle::leaf_hash(b"wrong")).is_err(),
                    "wrong root must fail"
                );
            }
            for id in &missing[..10] {
                let p = t.prove(id);
                assert!(!p.verify(id, &root).unwrap(), "n={n}");
                assert!(
                    p.verify(id, &merkle::leaf_hash(b"wrong")).is_err(),
                    "wrong root must fail"
                );
            }
        }
    }

    #[test]
    fn forged_proofs_fail() {
        let all = ids(20);
        let t = DatasetTree::new(all[..10].to_vec());
        let root = t.root();
        // Claim a present id is absent by reusing another id's non-membership proof.
        let absent = t.prove(&all[15]);
        for present in &all[..10] {
            assert!(absent.verify(present, &root).is_err());
        }
        // Non-adjacent neighbours are rejected.
        if let (Proof::Inclusion(a), Proof::Inclusion(c)) =
            (t.prove(&t.ids()[2]), t.prove(&t.ids()[4]))
        {
            let between = t.ids()[3];
            let forged = Proof::NonMembership {
                size: 10,
                left: Some(a),
                right: Some(c),
            };
            assert!(forged.verify(&between, &root).is_err());
        } else {
            panic!("expected inclusion proofs");
        }
        // An inclusion proof for one id does not prove another.
        let inc = t.prove(&t.ids()[0]);
        assert!(inc.verify(&t.ids()[1], &root).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::id::raw_id;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn proofs_round_trip_and_verify(n in 0usize..40, probe in 0u32..80) {
            let ids: Vec<RecordId> = (0..n as u32).map(|i| raw_id(&i.to_le_bytes())).collect();
            let t = DatasetTree::new(ids);
            let id = raw_id(&probe.to_le_bytes());
            let p = t.prove(&id);
            let back: Proof = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            prop_assert_eq!(&back, &p);
            prop_assert_eq!(back.verify(&id, &t.root()).unwrap(), (probe as usize) < n);
        }
    }
}
