//! Data provenance and dedup engine: record IDs, content-defined chunks, dataset Merkle roots and
//! proofs, MinHash-LSH near-dup tiers, exact-dup filters, manifests.
//!
//! Terms:
//! - **raw ID**: a record's content ID over its bytes ([`id::raw_id`]).
//! - **normalised ID**: a record's ID over its profile-normalised text ([`id::norm_id`]).
//! - **profile**: the named, versioned normalisation + shingling + seeds + banding ([`profile`]).
//! - **dataset root**: RFC 6962 root over the sorted raw IDs ([`tree`]).
//! - **Tier D / Tier L**: near-dup removal and lineage linking from one MinHash signature
//!   ([`dedup`] streaming with estimate verification, [`batch`] two-pass with exact verification).
//!
//! ```
//! use mycel_data::{id::raw_id, tree::DatasetTree};
//! let ids = vec![raw_id(b"a"), raw_id(b"b")];
//! let tree = DatasetTree::new(ids.clone());
//! let proof = tree.prove(&ids[0]);
//! assert!(proof.verify(&ids[0], &tree.root()).unwrap());
//! let absent = raw_id(b"c");
//! assert!(!tree.prove(&absent).verify(&absent, &tree.root()).unwrap());
//! ```

pub mod batch;
pub mod blobs;
pub mod dedup;
pub mod error;
pub mod exact;
pub mod formats;
pub mod id;
pub mod ingest;
pub mod jsonl;
pub mod manifest;
pub mod minhash;
pub mod normalize;
pub mod profile;
pub mod progress;
pub mod siglog;
pub mod sigtable;
pub mod stages;
pub mod synth;
pub mod tree;
pub mod versioned;

pub use error::{Error, RecordError, Result};
