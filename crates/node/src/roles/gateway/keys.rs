//! API keys: a secret a user pastes into an OpenAI SDK, bound to an on-chain account whose key
//! this node holds, with an optional spend limit and rate limit.
//!
//! Only the BLAKE3 hash of each secret is stored (`gateway/api-keys.json`, written atomically).
//! The running gateway re-reads the file when it changes, so `mycel keys api-key create|revoke`
//! take effect without a restart. Spend is counted from the receipts the gateway accepted and
//! kept beside the keys (`gateway/spent.json`).

use crate::{Error, Result, error::io};
use mycel_primitives::{Address, Amount, Hash};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Instant, SystemTime},
};

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "myc-sk-";

/// One API key as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKey {
    /// Public identifier (shown in lists and usage; part of the secret).
    pub id: String,
    /// A label.
    pub name: String,
    /// The keystore key that pays (its account funds the sessions).
    pub account: String,
    /// That key's address.
    pub address: Address,
    /// BLAKE3 of the secret.
    pub secret_hash: Hash,
    /// Most this key may spend in total, base units (`None`: no limit).
    #[serde(default)]
    pub spend_limit: Option<Amount>,
    /// Most requests per minute (`None`: no limit).
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Unix seconds at creation.
    pub created: u64,
    /// Revoked keys authenticate nothing.
    #[serde(default)]
    pub revoked: bool,
}

/// A key with what it has spent, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct KeyUsage {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKey,
    /// Spent so far, base units.
    pub spent: Amount,
    /// Requests billed so far.
    pub requests: u64,
}

#[derive(Default, Serialize, Deserialize, Clone)]
struct Spent {
    amount: Amount,
    requests: u64,
}

struct Loaded {
    keys: Vec<ApiKey>,
    modified: Option<SystemTime>,
    spent: BTreeMap<String, Spent>,
    buckets: BTreeMap<String, (f64, Instant)>,
    dirty: bool,
}

/// The API keys of a home.
pub struct ApiKeys {
    dir: PathBuf,
    inner: Mutex<Loaded>,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No key, or not one of ours.
    Invalid,
    /// Revoked.
    Revoked,
    /// Over its rate limit.
    RateLimited,
    /// Over its spend limit.
    OverSpent,
}

// Off the ledger: a key's creation time is for its owner to read, nothing depends on it.
#[allow(clippy::disallowed_methods)]
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl ApiKeys {
    /// The keys in `dir` (the home's `gateway/`).
    pub fn open(dir: impl Into<PathBuf>) -> Result<ApiKeys> {
        let dir = dir.into();
        let keys = ApiKeys {
            inner: Mutex::new(Loaded {
                keys: Vec::new(),
                modified: None,
                spent: BTreeMap::new(),
                buckets: BTreeMap::new(),
                dirty: false,
            }),
            dir,
        };
        keys.reload()?;
        let spent_path = keys.spent_path();
        if let Ok(bytes) = std::fs::read(&spent_path) {
            keys.inner.lock().spent =
                serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                    what: spent_path.display().to_string(),
                    why: e.to_string(),
                })?;
        }
        Ok(keys)
    }

    fn path(&self) -> PathBuf {
        self.dir.join("api-keys.json")
    }

    fn spent_path(&self) -> PathBuf {
        self.dir.join("spent.json")
    }

    /// Re-reads the key file if it changed since the last read.
    fn reload(&self) -> Result<()> {
        let path = self.path();
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mut inner = self.inner.lock();
        if modified.is_some() && modified == inner.modified {
            return Ok(());
        }
        inner.keys = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                what: path.display().to_string(),
                why: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        inner.modified = modified;
        Ok(())
    }

    fn save(&self, keys: &[ApiKey]) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(keys).expect("keys serialize");
        write_atomic(&self.path(), &bytes)
    }

    /// Creates a key for the keystore key `account` (address `address`); returns the secret,
    /// shown once.
    pub fn create(
        &self,
        name: &str,
        account: &str,
        address: Address,
        spend_limit: Option<Amount>,
        rpm: Option<u32>,
    ) -> Result<(String, ApiKey)> {
        self.reload()?;
        let mut raw = [0u8; 24];
        rand::fill(&mut raw);
        let id = hex::encode(&raw[..4]);
        let secret = format!("{SECRET_PREFIX}{id}-{}", hex::encode(&raw[4..]));
        let key = ApiKey {
            id,
            name: name.to_string(),
            account: account.to_string(),
            address,
            secret_hash: mycel_store::blob_hash(secret.as_bytes()),
            spend_limit,
            rpm,
            created: now_secs(),
            revoked: false,
        };
        let mut keys = self.inner.lock().keys.clone();
        keys.push(key.clone());
        self.save(&keys)?;
        self.inner.lock().modified = None;
        self.reload()?;
        Ok((secret, key))
    }

    /// Revokes the key with this id or name; returns it.
    pub fn revoke(&self, id_or_name: &str) -> Result<ApiKey> {
        self.reload()?;
        let mut keys = self.inner.lock().keys.clone();
        let k = keys
            .iter_mut()
            .find(|k| k.id == id_or_name || k.name == id_or_name)
            .ok_or_else(|| Error::UnknownKey(format!("API key {id_or_name}")))?;
        k.revoked = true;
        let out = k.clone();
        self.save(&keys)?;
        self.inner.lock().modified = None;
        self.reload()?;
        Ok(out)
    }

    /// Every key with its spend (as this handle counted it, or as the gateway last saved it
    /// when this handle counted nothing since).
    pub fn list(&self) -> Result<Vec<KeyUsage>> {
        self.reload()?;
        let saved: Option<BTreeMap<String, Spent>> = std::fs::read(self.spent_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let mut inner = self.inner.lock();
        if let Some(saved) = saved
            && !inner.dirty
        {
            inner.spent = saved;
        }
        Ok(inner
            .keys
            .iter()
            .map(|k| {
                let s = inner.spent.get(&k.id).cloned().unwrap_or_default();
                KeyUsage {
                    key: k.clone(),
                    spent: s.amount,
                    requests: s.requests,
                }
            })
            .collect())
    }

    /// The key a request's bearer secret names, if it is valid, unrevoked, within its rate
    /// limit (one request is taken) and under its spend limit.
    pub fn authenticate(&self, secret: &str) -> std::result::Result<ApiKey, KeyRefusal> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(KeyRefusal::Invalid);
        }
        if let Err(e) = self.reload() {
            tracing::warn!(target: "mycel::gateway", error = %e, "API keys not re-read");
        }
        let hash = mycel_store::blob_hash(secret.as_bytes());
        let mut inner = self.inner.lock();
        let key = inner
            .keys
            .iter()
            .find(|k| k.secret_hash == hash)
            .cloned()
            .ok_or(KeyRefusal::Invalid)?;
        if key.revoked {
            return Err(KeyRefusal::Revoked);
        }
        if let Some(limit) = key.spend_limit
            && inner.spent.get(&key.id).map_or(Amount::ZERO, |s| s.amount) >= limit
        {
            return Err(KeyRefusal::OverSpent);
        }
        if let Some(rpm) = key.rpm {
            // A token bucket holding up to a minute's requests, refilled continuously.
            let cap = f64::from(rpm.max(1));
            let now = Instant::now();
            let (tokens, at) = inner.buckets.entry(key.id.clone()).or_insert((cap, now));
            *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * cap / 60.0).min(cap);
            *at = now;
            if *tokens < 1.0 {
                return Err(KeyRefusal::RateLimited);
            }
            *tokens -= 1.0;
        }
        Ok(key)
    }

    /// Counts a billed request against the key.
    pub fn record_spend(&self, id: &str, amount: Amount) {
        let mut inner = self.inner.lock();
        let s = inner.spent.entry(id.to_string()).or_default();
        s.amount = Amount(s.amount.0.saturating_add(amount.0));
        s.requests += 1;
        inner.dirty = true;
    }

    /// Writes the spend counters if they changed.
    pub fn flush(&self) -> Result<()> {
        let bytes = {
            let mut inner = self.inner.lock();
            if !inner.dirty {
                return Ok(());
            }
            inner.dirty = false;
            serde_json::to_vec(&inner.spent).expect("spend serializes")
        };
        write_atomic(&self.spent_path(), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_authenticate_until_revoked_and_respect_limits() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ApiKeys::open(dir.path()).unwrap();
        let addr = Address([1; 20]);
        let (secret, k) = keys
            .create("app", "dev0", addr, Some(Amount(100)), Some(2))
            .unwrap();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert_eq!(keys.authenticate(&secret).unwrap().id, k.id);
        assert_eq!(
            keys.authenticate("myc-sk-nope"),
            Err(KeyRefusal::Invalid),
            "unknown secrets are refused"
        );
        assert_eq!(
            keys.authenticate(&format!("{secret}x")),
            Err(KeyRefusal::Invalid)
        );
        // Two per minute: the third at once is refused.
        assert!(keys.authenticate(&secret).is_ok());
        assert_eq!(keys.authenticate(&secret), Err(KeyRefusal::RateLimited));
        // A second handle on the same folder (the CLI) sees the key and revokes it.
        let other = ApiKeys::open(dir.path()).unwrap();
        let (secret2, _) = other
            .create("b", "dev0", addr, Some(Amount(100)), None)
            .unwrap();
        keys.record_spend(&other.list().unwrap()[1].key.id, Amount(100));
        assert_eq!(keys.authenticate(&secret2), Err(KeyRefusal::OverSpent));
        other.revoke("app").unwrap();
        assert_eq!(keys.authenticate(&secret), Err(KeyRefusal::Revoked));
        // Spend survives a restart.
        keys.flush().unwrap();
        let again = ApiKeys::open(dir.path()).unwrap();
        assert_eq!(again.list().unwrap()[1].spent, Amount(100));
    }
}
