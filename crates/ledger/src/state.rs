//! Buffered state access for block execution.
//!
//! [`StateCache`] reads through two write buffers (the current transaction's and the block's)
//! down to the parent state. A transaction whose messages fail is rolled back by dropping its
//! buffer; the fee and nonce are charged in the block buffer before the messages run.

use crate::{Error, Result};
use mycel_primitives::{
    Amount,
    codec::{Encode, Read},
};
use mycel_store::{StateRead, WriteSet};
use std::collections::BTreeMap;

/// Read-write view of state during block execution.
pub struct StateCache<'a, S: StateRead + ?Sized> {
    base: &'a S,
    block: WriteSet,
    tx: WriteSet,
}

impl<'a, S: StateRead + ?Sized> StateCache<'a, S> {
    /// A cache over `base` with empty buffers.
    pub fn new(base: &'a S) -> Self {
        StateCache {
            base,
            block: BTreeMap::new(),
            tx: BTreeMap::new(),
        }
    }

    /// Raw read.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.tx.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.get(key) {
            return Ok(v.clone());
        }
        Ok(self.base.get(key)?)
    }

    /// Raw write into the current transaction buffer.
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.insert(key, Some(value));
    }

    /// Deletes a key.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// Reads and decodes a value.
    pub fn get<T: Read<Cfg = ()>>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.get_raw(key)? {
            Some(b) => mycel_primitives::codec::decode::<T>(&b)
                .map(Some)
                .map_err(|e| corrupt(key, e)),
            None => Ok(None),
        }
    }

    /// Encodes and writes a value.
    pub fn put<T: Encode>(&mut self, key: Vec<u8>, value: &T) {
        self.put_raw(key, value.encode().to_vec());
    }

    /// Reads an amount, zero when absent.
    pub fn amount(&self, key: &[u8]) -> Result<Amount> {
        Ok(self.get::<Amount>(key)?.unwrap_or_default())
    }

    /// Writes an amount, deleting the key when zero so state holds no empty entries.
    pub fn set_amount(&mut self, key: Vec<u8>, v: Amount) {
        if v.is_zero() {
            self.delete(key)
        } else {
            self.put(key, &v)
        }
    }

    /// Adds one to (`up`) or takes one from (saturating) the `u64` counter at `key`, deleting
    /// the key at zero so state holds no empty entries; returns the new count.
    pub fn step_counter(&mut self, key: Vec<u8>, up: bool) -> Result<u64> {
        let n = self.get::<u64>(&key)?.unwrap_or(0);
        let n = if up {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        };
        if n == 0 {
            self.delete(key);
        } else {
            self.put(key, &n);
        }
        Ok(n)
    }

    /// All live entries under `prefix`, in key order, including buffered writes.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .base
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for buf in [&self.block, &self.tx] {
            for (k, v) in buf.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// Keeps the current transaction's writes.
    pub fn commit_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    /// Discards the current transaction's writes.
    pub fn rollback_tx(&mut self) {
        self.tx.clear();
    }

    /// The block's write set (any uncommitted transaction writes are discarded).
    pub fn into_writes(self) -> WriteSet {
        self.block
    }
}

impl<S: StateRead + ?Sized> StateRead for StateCache<'_, S> {
    fn get(&self, key: &[u8]) -> mycel_store::Result<Option<Vec<u8>>> {
        if let Some(v) = self.tx.get(key).or_else(|| self.block.get(key)) {
            return Ok(v.clone());
        }
        self.base.get(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> mycel_store::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        StateCache::scan_prefix(self, prefix).map_err(|e| mycel_store::Error::Db(e.to_string()))
    }
}

/// Builds a key from a prefix and parts.
pub fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// Decodes a value read from a [`StateRead`].
pub fn read<T: Read<Cfg = ()>>(state: &(impl StateRead + ?Sized), key: &[u8]) -> Result<Option<T>> {
    match state.get(key)? {
        Some(b) => mycel_primitives::codec::decode::<T>(&b)
            .map(Some)
            .map_err(|e| corrupt(key, e)),
        None => Ok(None),
    }
}

pub(crate) fn corrupt(key: &[u8], e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        why: e.to_string(),
    }
}
