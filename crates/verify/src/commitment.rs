//! Result commitments of batch jobs: an RFC 6962 Merkle root over the hashes of the job's
//! individual results (one per embedded line, per cluster, per adapter…), so a verifier can
//! check any single item against what the worker committed on chain without the whole output.

use mycel_primitives::{
    Hash,
    merkle::{self, InclusionProof},
};

fn leaves(items: &[Hash]) -> Vec<Hash> {
    items.iter().map(|h| merkle::leaf_hash(&h.0)).collect()
}

/// The commitment a worker puts in `CommitResult` for results `items`, in output order.
pub fn result_commitment(items: &[Hash]) -> Hash {
    merkle::root(&leaves(items))
}

/// The proof that item `index` is under [`result_commitment`]`(items)`.
pub fn item_proof(items: &[Hash], index: usize) -> Option<InclusionProof> {
    merkle::prove(&leaves(items), index)
}

/// True when `item` sits at `proof.index` under `commitment`.
pub fn verify_item(item: &Hash, proof: &InclusionProof, commitment: &Hash) -> bool {
    proof
        .verify(&merkle::leaf_hash(&item.0), commitment)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mycel_store::blob_hash;

    #[test]
    fn every_item_proves_and_a_changed_item_does_not() {
        let items: Vec<Hash> = (0..7u8).map(|i| blob_hash(&[i])).collect();
        let c = result_commitment(&items);
        for (i, item) in items.iter().enumerate() {
            let p = item_proof(&items, i).expect("in range");
            assert!(verify_item(item, &p, &c));
            assert!(!verify_item(&blob_hash(b"forged"), &p, &c));
        }
        assert!(item_proof(&items, 7).is_none());
        let mut swapped = items.clone();
        swapped.swap(0, 1);
        assert_ne!(result_commitment(&swapped), c, "order is committed");
    }
}
