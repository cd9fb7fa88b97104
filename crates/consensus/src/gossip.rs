//! Transaction gossip between validators: admitted transactions travel in batches, so the
//! message rate (and the per-peer quota it needs) stays small at high transaction rates.
//!
//! A batch is `count: u32` then, per transaction, `len: u32` and the transaction's bytes (all
//! little-endian). Every transaction in a batch must decode; the receiving mempool checks each
//! signature once, at admission. A peer only gossips what its own mempool admitted, so a
//! malformed batch or a bad signature marks it as faulty.

use crate::engine::MAX_GOSSIP_TXS;
use mycel_ledger::Tx;
use mycel_primitives::codec::MAX_TX_BYTES;

/// Why a gossip message was refused (the sender is penalised).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GossipError {
    /// The framing is wrong: truncated, trailing bytes, or a length above the limits.
    #[error("malformed gossip batch: {0}")]
    Malformed(String),
    /// A transaction does not decode.
    #[error("gossip transaction {index}: {why}")]
    BadTx {
        /// Position in the batch.
        index: usize,
        /// What is wrong with it.
        why: String,
    },
}

/// Packs encoded transactions into batches of at most [`MAX_GOSSIP_TXS`] and `max_bytes`.
pub fn encode_batches(txs: &[Vec<u8>], max_bytes: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<&[u8]> = Vec::new();
    let mut size = 4;
    let flush = |cur: &mut Vec<&[u8]>, out: &mut Vec<Vec<u8>>| {
        if cur.is_empty() {
            return;
        }
        let mut b = Vec::with_capacity(4 + cur.iter().map(|t| 4 + t.len()).sum::<usize>());
        b.extend_from_slice(&(cur.len() as u32).to_le_bytes());
        for t in cur.iter() {
            b.extend_from_slice(&(t.len() as u32).to_le_bytes());
            b.extend_from_slice(t);
        }
        out.push(b);
        cur.clear();
    };
    for t in txs {
        if cur.len() == MAX_GOSSIP_TXS || size + 4 + t.len() > max_bytes {
            flush(&mut cur, &mut out);
            size = 4;
        }
        size += 4 + t.len();
        cur.push(t);
    }
    flush(&mut cur, &mut out);
    out
}

/// Decodes a batch (signatures are left to the mempool).
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Tx>, GossipError> {
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], GossipError> {
        if rest.len() < n {
            return Err(GossipError::Malformed(format!(
                "truncated: {n} bytes wanted, {} left",
                rest.len()
            )));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
    let count = u32_at(take(4)?);
    if count == 0 || count > MAX_GOSSIP_TXS {
        return Err(GossipError::Malformed(format!(
            "{count} transactions (1..={MAX_GOSSIP_TXS})"
        )));
    }
    let mut txs = Vec::with_capacity(count);
    for index in 0..count {
        let len = u32_at(take(4)?);
        if len > MAX_TX_BYTES {
            return Err(GossipError::Malformed(format!(
                "transaction {index} of {len} bytes, above {MAX_TX_BYTES}"
            )));
        }
        let tx = Tx::decode_bytes(take(len)?).map_err(|e| GossipError::BadTx {
            index,
            why: e.to_string(),
        })?;
        txs.push(tx);
    }
    if !rest.is_empty() {
        return Err(GossipError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use mycel_ledger::{Message, TxBody, genesis::dev_key, modules::bank};
    use mycel_primitives::{Address, Amount, codec::Encode};

    fn tx(nonce: u64) -> Vec<u8> {
        let k = dev_key("account", 0);
        TxBody {
            chain_id: "g".into(),
            sender: k.public_key(),
            nonce,
            fee: Amount::from_myc(1),
            messages: vec![Message::Bank(bank::Msg::Transfer {
                to: Address([5; 20]),
                amount: Amount(1),
            })],
            memo: String::new(),
        }
        .sign(&k)
        .encode()
        .to_vec()
    }

    #[test]
    fn batches_round_trip_and_split() {
        let txs: Vec<Vec<u8>> = (0..1_100).map(tx).collect();
        let batches = encode_batches(&txs, usize::MAX);
        assert_eq!(batches.len(), 3, "512 + 512 + 76");
        let back: Vec<Vec<u8>> = batches
            .iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .map(|t| t.encode().to_vec())
            .collect();
        assert_eq!(back, txs);
        let small = encode_batches(&txs[..10], 4 + 3 * (4 + txs[0].len()));
        assert_eq!(small.len(), 4, "three a batch under the byte limit");
    }

    #[test]
    fn malformed_and_forged_batches_are_refused() {
        let good = encode_batches(&[tx(0), tx(1)], usize::MAX).remove(0);
        assert!(matches!(
            decode_batch(&good[..good.len() - 1]),
            Err(GossipError::Malformed(_))
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode_batch(&trailing),
            Err(GossipError::Malformed(_))
        ));
        assert!(matches!(
            decode_batch(&0u32.to_le_bytes()),
            Err(GossipError::Malformed(_))
        ));
        let mut huge = 1u32.to_le_bytes().to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_batch(&huge),
            Err(GossipError::Malformed(_))
        ));
        // A second transaction that does not decode.
        let mut bad = 2u32.to_le_bytes().to_vec();
        let t = tx(0);
        bad.extend_from_slice(&(t.len() as u32).to_le_bytes());
        bad.extend_from_slice(&t);
        bad.extend_from_slice(&3u32.to_le_bytes());
        bad.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            decode_batch(&bad),
            Err(GossipError::BadTx { index: 1, .. })
        ));
    }
}
