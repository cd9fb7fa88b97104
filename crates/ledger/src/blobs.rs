//! The blobs the chain points at: what a node's upload collector must keep.
//!
//! A module records a blob's hash where a later reader fetches it by that hash: a dataset's
//! manifest and signature table, a model's files, licence text and card, a job's input and
//! output, an edge job's input and each unit's answer. A dataset manifest lists its chunks in
//! turn; the ledger does not parse manifests, so it names them for the node to expand.

use crate::{
    Result,
    modules::{data, device, market, model},
};
use mycel_primitives::Hash;
use mycel_store::StateRead;
use std::collections::BTreeSet;

/// How many datasets one read of the registration order takes.
const PAGE: usize = 1024;

/// The blobs a state references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobRefs {
    /// Every referenced blob, manifests included (never the zero hash).
    pub blobs: BTreeSet<Hash>,
    /// The dataset manifests among them, with their contributors: the chunks a manifest lists
    /// are referenced too.
    pub manifests: Vec<(Hash, mycel_primitives::Address)>,
}

/// Every blob `state` references (a full read of the registries: the collector calls it only
/// when it has uploads old enough to delete).
pub fn referenced(state: &(impl StateRead + ?Sized)) -> Result<BlobRefs> {
    let mut r = BlobRefs::default();
    let add = |blobs: &mut BTreeSet<Hash>, h: Hash| {
        if h != Hash::ZERO {
            blobs.insert(h);
        }
    };
    let mut seq = 0u64;
    loop {
        let page = data::datasets_from(state, seq, PAGE)?;
        for d in &page {
            add(&mut r.blobs, d.registration.manifest);
            add(&mut r.blobs, d.registration.signatures);
            r.manifests.push((d.registration.manifest, d.contributor));
        }
        if page.len() < PAGE {
            break;
        }
        seq += PAGE as u64;
    }
    for v in model::recent_models(state, usize::MAX)? {
        let g = &v.registration;
        for h in [g.id, g.files, g.license_text, g.card] {
            add(&mut r.blobs, h);
        }
    }
    for j in market::recent_jobs(state, u64::MAX)? {
        add(&mut r.blobs, j.input);
        add(&mut r.blobs, j.output);
    }
    for j in device::edge_jobs(state)? {
        add(&mut r.blobs, j.input);
        for (_, u) in device::units_of(state, j.id)? {
            add(&mut r.blobs, u.output);
        }
    }
    Ok(r)
}
