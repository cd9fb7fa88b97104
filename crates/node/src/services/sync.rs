//! State sync, the client side: fetch a peer's snapshot, check it, import it.
//!
//! What is checked before anything is written: the genesis block is this chain's; the blocks
//! follow each other; the certificate finalizes the last of them with a quorum of its epoch's
//! validators, known from the genesis validators through the snapshot's hand-offs (each set
//! change, proven; see `mycel_consensus::light`), or else the first block is the one the
//! operator trusts (`trust_hash`, as Cosmos state sync's trust hash); the snapshot's entries
//! rebuild, in a fresh Jellyfish Merkle tree, to the first block's state root. The blocks after
//! it are then executed like any others.

use crate::{Error, Result, client::Client, http::sync::Snapshot};
use mycel_consensus::block::{self, Block, Certificate};
use mycel_ledger::genesis::Genesis;
use mycel_primitives::Hash;
use mycel_store::{BlockRecord, CommitInfo, Store};

/// What a synced store still has to do: execute `blocks` (after the imported anchor), then
/// start consensus from `certificate`.
pub struct Synced {
    /// The height imported.
    pub height: u64,
    /// Blocks after it, up to the certified one.
    pub blocks: Vec<Block>,
    /// The certificate of the last block.
    pub certificate: Certificate,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::Invalid {
        what: "state snapshot".into(),
        why: why.into(),
    }
}

fn unhex(what: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s).map_err(|e| invalid(format!("{what} is not hex: {e}")))
}

/// Checks `snap` against `genesis` (and `trust`, a block digest at the snapshot's height the
/// operator trusts) and imports it into the empty `store`.
pub fn import(
    store: &Store,
    genesis: &Genesis,
    trust: Option<Hash>,
    snap: &Snapshot,
) -> Result<Synced> {
    let genesis_block = block::decode(&unhex("genesis", &snap.genesis)?)
        .map_err(|e| invalid(format!("genesis block: {e}")))?;
    if block::to_hash(&genesis_block.parent) != genesis.digest() || genesis_block.height != 0 {
        return Err(invalid("its genesis block is not this chain's"));
    }
    let blocks = snap
        .blocks
        .iter()
        .map(|b| block::decode(&unhex("block", b)?).map_err(|e| invalid(format!("block: {e}"))))
        .collect::<Result<Vec<Block>>>()?;
    let anchor = blocks.first().ok_or_else(|| invalid("no blocks"))?;
    if anchor.height != snap.height || anchor.state_root != snap.state_root {
        return Err(invalid("the first block is not the snapshot's"));
    }
    let certificate_bytes = unhex("certificate", &snap.certificate)?;
    let certificate: Certificate = mycel_primitives::codec::decode_cfg(&certificate_bytes, &())
        .map_err(|e| invalid(format!("certificate: {e}")))?;
    let proof = mycel_consensus::light::FinalityProof {
        headers: blocks.iter().map(Block::header).collect(),
        certificate: certificate_bytes,
        handoffs: snap.handoffs.clone(),
    };
    let validators = genesis.validator_keys()?;
    // The hand-offs are kept (and served on) only when they led to the certificate's set.
    let mut keep_handoffs = false;
    match mycel_consensus::light::verify_finality(&validators, &proof) {
        Ok((height, root)) if height == snap.height && root == snap.state_root => {
            keep_handoffs = true;
        }
        Ok(_) => return Err(invalid("the finality proof is for another state")),
        Err(e) => match trust {
            // The hand-offs do not lead to the certificate's set (the serving node lacks one):
            // the operator's trusted digest anchors the headers instead (they still chain up
            // to the certified block).
            Some(t) if anchor.hash() == t && chained(&blocks) => {}
            Some(_) => return Err(invalid("the first block is not the trusted one")),
            None => {
                return Err(invalid(format!(
                    "{e} (if the serving node lacks a hand-off of the validator-set changes since genesis, pass a trusted block digest at height {})",
                    snap.height
                )));
            }
        },
    }
    let entries = snap
        .entries
        .iter()
        .map(|(k, v)| Ok((unhex("key", k)?, unhex("value", v)?)))
        .collect::<Result<Vec<_>>>()?;
    let record = |b: &Block| BlockRecord {
        height: b.height,
        digest: b.hash(),
        bytes: block::encode(b),
        txs: Vec::new(),
        events: Vec::new(),
    };
    store.import(
        CommitInfo {
            height: anchor.height,
            digest: anchor.hash(),
            root: anchor.state_root,
        },
        &record(&genesis_block),
        &record(anchor),
        &entries,
    )?;
    store.put_meta(SYNC_ANCHOR, &proof.certificate)?;
    if keep_handoffs {
        for h in &snap.handoffs {
            mycel_consensus::handoffs::save(store, h)?;
        }
    }
    Ok(Synced {
        height: snap.height,
        blocks: blocks.into_iter().skip(1).collect(),
        certificate,
    })
}

/// True when each block names the one before it.
fn chained(blocks: &[Block]) -> bool {
    blocks.windows(2).all(|w| {
        w[1].parent == commonware_cryptography::Digestible::digest(&w[0])
            && w[1].height == w[0].height + 1
    })
}

/// Store metadata key of the certificate a synced store started consensus from.
pub const SYNC_ANCHOR: &str = "sync_anchor";

/// Fetches `peer`'s snapshot and imports it (see [`import`]).
pub async fn from_peer(
    peer: &str,
    store: &Store,
    genesis: &Genesis,
    trust: Option<Hash>,
) -> Result<Synced> {
    let snap: Snapshot = Client::new(peer).get("/api/v1/sync/snapshot").await?;
    import(store, genesis, trust, &snap)
}

/// The certificate a synced store started from, if it was synced.
pub fn anchor(store: &Store) -> Result<Option<Certificate>> {
    match store.meta(SYNC_ANCHOR)? {
        None => Ok(None),
        Some(b) => Ok(Some(
            mycel_primitives::codec::decode_cfg(&b, &())
                .map_err(|e| invalid(format!("stored sync anchor: {e}")))?,
        )),
    }
}
