//! Node-descent bisection over a trace's RFC 6962 tree: the rounds a dispute plays on chain.
//!
//! The dispute starts at the committed root (offset 0, size n). Each round the worker reveals the
//! two children of the current node, split exactly as [`mycel_primitives::merkle::root`] splits
//! (at the largest power of two below the size), and the chain checks
//! `node_hash(left, right) == node`. The challenger then names the child it disputes: the
//! leftmost one that differs from its own tree, so every leaf left of the final one is agreed and
//! the referee may take the predecessor as given. A leaf is reached in at most ⌈log₂ n⌉ rounds.
//!
//! Everything is integers and hashes so the ledger can port [`Bisection`] line for line.

use mycel_primitives::{Hash, merkle};

/// Why a move of the game is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GameError {
    /// The game is at a single leaf: no more reveals or choices.
    #[error("the dispute is already at a leaf")]
    AtLeaf,
    /// A choice before the children were revealed, or a second reveal in a round.
    #[error("out of turn: {0}")]
    OutOfTurn(&'static str),
    /// The revealed children do not hash to the disputed node.
    #[error("revealed children do not hash to the disputed node")]
    BadReveal,
    /// The trace is empty: there is nothing to dispute.
    #[error("empty trace")]
    Empty,
}

pub use mycel_primitives::merkle::split;

/// Root of the subtree over leaves `offset..offset + size`; leaves past the end of `leaves`
/// count as [`Hash::ZERO`], so a party whose trace is shorter still has an answer.
pub fn subtree_root(leaves: &[Hash], offset: u64, size: u64) -> Hash {
    let len = leaves.len() as u64;
    if offset.saturating_add(size) <= len {
        return merkle::root(&leaves[offset as usize..(offset + size) as usize]);
    }
    let padded: Vec<Hash> = (offset..offset.saturating_add(size))
        .map(|i| leaves.get(i as usize).copied().unwrap_or(Hash::ZERO))
        .collect();
    merkle::root(&padded)
}

/// The two children of node `(offset, size)` (size ≥ 2).
pub fn children(leaves: &[Hash], offset: u64, size: u64) -> (Hash, Hash) {
    let k = split(size);
    (
        subtree_root(leaves, offset, k),
        subtree_root(leaves, offset + k, size - k),
    )
}

/// Rounds to reach leaf `index` of a tree of `size` leaves: its depth.
pub fn depth(index: u64, size: u64) -> u32 {
    let (mut offset, mut size, mut d) = (0, size, 0);
    while size > 1 {
        let k = split(size);
        if index < offset + k {
            size = k;
        } else {
            offset += k;
            size -= k;
        }
        d += 1;
    }
    d
}

/// ⌈log₂ n⌉: the most rounds a dispute over `n` leaves takes.
pub fn max_rounds(n: u64) -> u32 {
    if n < 2 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// The challenger's answer to a reveal: `Some(false)` for the left child, `Some(true)` for the
/// right one, `None` when it agrees with both (it then has no dispute left and times out).
pub fn challenger_choice(
    own: &[Hash],
    offset: u64,
    size: u64,
    left: &Hash,
    right: &Hash,
) -> Option<bool> {
    let (l, r) = children(own, offset, size);
    if &l != left {
        Some(false)
    } else if &r != right {
        Some(true)
    } else {
        None
    }
}

/// The on-chain state of a bisection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bisection {
    /// First leaf of the disputed subtree.
    pub offset: u64,
    /// Leaves in the disputed subtree.
    pub size: u64,
    /// The worker's hash of the disputed subtree.
    pub node: Hash,
    /// Rounds played.
    pub round: u32,
    /// The children revealed this round, awaiting the challenger's choice.
    pub revealed: Option<(Hash, Hash)>,
}

impl Bisection {
    /// A dispute over the whole committed trace.
    pub fn new(trace_root: Hash, trace_len: u64) -> Result<Self, GameError> {
        if trace_len == 0 {
            return Err(GameError::Empty);
        }
        Ok(Self {
            offset: 0,
            size: trace_len,
            node: trace_root,
            round: 0,
            revealed: None,
        })
    }

    /// Whether the dispute has narrowed to one leaf (`offset`, claimed hash `node`).
    pub fn at_leaf(&self) -> bool {
        self.size == 1
    }

    /// The worker reveals the current node's children.
    pub fn reveal(&mut self, left: Hash, right: Hash) -> Result<(), GameError> {
        if self.at_leaf() {
            return Err(GameError::AtLeaf);
        }
        if self.revealed.is_some() {
            return Err(GameError::OutOfTurn("already revealed"));
        }
        if merkle::node_hash(&left, &right) != self.node {
            return Err(GameError::BadReveal);
        }
        self.revealed = Some((left, right));
        Ok(())
    }

    /// The challenger disputes the right child (`true`) or the left one.
    pub fn choose(&mut self, right: bool) -> Result<(), GameError> {
        let (left, r) = self
            .revealed
            .take()
            .ok_or(GameError::OutOfTurn("nothing revealed"))?;
        let k = split(self.size);
        if right {
            self.offset += k;
            self.size -= k;
            self.node = r;
        } else {
            self.size = k;
            self.node = left;
        }
        self.round += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64, salt: u8) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&[salt, i as u8, (i >> 8) as u8]))
            .collect()
    }

    #[test]
    fn split_and_children_match_the_merkle_root() {
        for n in 2..70u64 {
            let l = leaves(n, 0);
            let k = split(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n {n}");
            let (a, b) = children(&l, 0, n);
            assert_eq!(merkle::node_hash(&a, &b), merkle::root(&l));
        }
        assert_eq!(split(1), 0);
        assert_eq!(max_rounds(256), 8);
        assert_eq!(max_rounds(257), 9);
        assert_eq!(max_rounds(1), 0);
    }

    #[test]
    fn descent_finds_the_first_difference_within_max_rounds() {
        for n in [1u64, 2, 3, 7, 8, 33, 64, 100] {
            let honest = leaves(n, 0);
            for j in 0..n {
                let mut cheat = honest.clone();
                cheat[j as usize] = Hash([0xee; 32]);
                if j + 2 < n {
                    // A later difference must not distract the challenger.
                    cheat[(j + 2) as usize] = Hash([0xdd; 32]);
                }
                let mut b = Bisection::new(merkle::root(&cheat), n).unwrap();
                while !b.at_leaf() {
                    let (l, r) = children(&cheat, b.offset, b.size);
                    assert_eq!(
                        b.choose(true),
                        Err(GameError::OutOfTurn("nothing revealed"))
                    );
                    b.reveal(l, r).unwrap();
                    let c = challenger_choice(&honest, b.offset, b.size, &l, &r).unwrap();
                    b.choose(c).unwrap();
                }
                assert_eq!((b.offset, b.node), (j, cheat[j as usize]));
                assert_eq!(b.round, depth(j, n));
                assert!(b.round <= max_rounds(n));
                if n.is_power_of_two() {
                    assert_eq!(b.round, max_rounds(n));
                }
            }
        }
    }

    #[test]
    fn a_reveal_that_does_not_hash_to_the_node_is_rejected() {
        let l = leaves(5, 0);
        let mut b = Bisection::new(merkle::root(&l), 5).unwrap();
        let (a, c) = children(&l, 0, 5);
        assert_eq!(b.reveal(c, a), Err(GameError::BadReveal));
        b.reveal(a, c).unwrap();
        assert!(matches!(b.reveal(a, c), Err(GameError::OutOfTurn(_))));
        assert_eq!(Bisection::new(Hash::ZERO, 0), Err(GameError::Empty));
    }
}
