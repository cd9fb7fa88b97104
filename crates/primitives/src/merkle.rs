//! RFC 6962 Merkle trees (Certificate Transparency shape) over BLAKE3.
//!
//! Leaves are hashed in [`Domain::MerkleLeaf`] and interior nodes in [`Domain::MerkleNode`], the
//! RFC's `0x00`/`0x01` prefixes expressed as hash domains. The tree over `n` leaves splits at the
//! largest power of two below `n`, so roots and proofs are compatible with any RFC 6962 verifier
//! that uses the same leaf and node hashes. The root of an empty tree is the hash of nothing.

use crate::{
    Error, Hash, Result,
    hash::{Domain, hash},
};

/// Hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    hash(Domain::MerkleLeaf, data)
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Domain::MerkleNode.hasher();
    h.update(&left.0);
    h.update(&right.0);
    Hash(*h.finalize().as_bytes())
}

/// The root over already-hashed leaves.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => hash(Domain::MerkleNode, b""),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Where a tree over `n` leaves splits: the largest power of two strictly less than `n`; 0 for
/// `n` below 2. Bisection over a committed tree (disputes) walks the same split.
pub fn split(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1 << (63 - (n - 1).leading_zeros())
}

/// An inclusion proof: the audit path from a leaf to the root (RFC 6962 §2.1.1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf.
    pub index: u64,
    /// Number of leaves in the tree.
    pub size: u64,
    /// Sibling hashes, leaf level first.
    pub path: Vec<Hash>,
}

/// Longest audit path a decoded [`InclusionProof`] may carry (a tree of 2^64 leaves).
pub const MAX_PROOF_PATH: usize = 64;

// Wire format: index, size, then the path as a length-prefixed sequence of at most
// `MAX_PROOF_PATH` hashes.
crate::impl_codec!(InclusionProof {
    index,
    size,
    path: vec(0..=MAX_PROOF_PATH),
});

/// Builds the inclusion proof of leaf `index`.
pub fn prove(leaves: &[Hash], index: usize) -> Option<InclusionProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    build_path(leaves, index, &mut path);
    Some(InclusionProof {
        index: index as u64,
        size: leaves.len() as u64,
        path,
    })
}

fn build_path(leaves: &[Hash], index: usize, path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len() as u64) as usize;
    if index < k {
        build_path(&leaves[..k], index, path);
        path.push(root(&leaves[k..]));
    } else {
        build_path(&leaves[k..], index - k, path);
        path.push(root(&leaves[..k]));
    }
}

impl InclusionProof {
    /// Checks that `leaf` sits at `self.index` in a tree of `self.size` leaves with root `root`
    /// (RFC 9162 §2.1.3.2).
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<()> {
        if self.index >= self.size {
            return Err(Error::InvalidProof("index beyond tree size"));
        }
        let (mut fnode, mut snode) = (self.index, self.size - 1);
        let mut r = *leaf;
        for p in &self.path {
            if snode == 0 {
                return Err(Error::InvalidProof("path longer than the tree"));
            }
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                if fnode & 1 == 0 {
                    while fnode & 1 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        if snode != 0 {
            return Err(Error::InvalidProof("path shorter than the tree"));
        }
        if &r != root {
            return Err(Error::InvalidProof("root mismatch"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn every_proof_verifies_for_many_sizes() {
        for n in 1..40 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = prove(&l, i).unwrap();
                p.verify(&l[i], &r).unwrap();
                // Wrong leaf, wrong root, wrong index all fail.
                assert!(p.verify(&leaf_hash(b"other"), &r).is_err());
                assert!(p.verify(&l[i], &leaf_hash(b"x")).is_err());
                if n > 1 {
                    let mut q = p.clone();
                    q.index = ((i + 1) % n) as u64;
                    assert!(q.verify(&l[i], &r).is_err());
                }
            }
        }
    }

    #[test]
    fn shape_matches_rfc6962() {
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert!(prove(&l, 3).is_none());
    }
}
