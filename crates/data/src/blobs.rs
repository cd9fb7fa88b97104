//! The node's content-addressed blob store (`$MYCEL_HOME/blobs`), shared with the HTTP API and
//! the worker: dataset chunks written here are the blobs a worker fetches by hash.

pub use mycel_store::{BlobStore, blob_hash};
