//! The local keystore: named ed25519 keys derived from BIP39 mnemonics.
//!
//! A key's secret is `BLAKE3-derive_key("mycel 2026 ed25519 from seed v1", BIP39 seed)` of its
//! 24-word mnemonic (empty passphrase), so `mycel keys import` restores the same address
//! anywhere. Files are `keys/<name>.json`, readable by the owner only.

use crate::{Error, Result, error::io};
use bip39::Mnemonic;
use commonware_cryptography::Signer;
use mycel_primitives::{
    Address, PrivateKey,
    keys::{private_key_bytes, private_key_from_bytes, private_key_from_seed},
};
use std::path::{Path, PathBuf};

/// A stored key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct KeyFile {
    /// Name.
    pub name: String,
    /// `myc1…` address.
    pub address: Address,
    /// Public key, hex.
    pub public_key: String,
    /// Secret key, hex.
    pub secret_key: String,
    /// The mnemonic it came from.
    pub mnemonic: String,
}

impl KeyFile {
    /// The signing key.
    pub fn private_key(&self) -> Result<PrivateKey> {
        let bytes = hex::decode(&self.secret_key).map_err(|e| Error::Invalid {
            what: format!("key {}", self.name),
            why: e.to_string(),
        })?;
        private_key_from_bytes(&bytes).map_err(|e| Error::Invalid {
            what: format!("key {}", self.name),
            why: e.to_string(),
        })
    }
}

/// Derives the key of a mnemonic phrase.
pub fn key_from_mnemonic(phrase: &str) -> Result<(Mnemonic, PrivateKey)> {
    let m = Mnemonic::parse_normalized(phrase.trim()).map_err(|e| Error::Invalid {
        what: "mnemonic".into(),
        why: e.to_string(),
    })?;
    let key = private_key_from_seed(&m.to_seed(""));
    Ok((m, key))
}

/// The keystore directory.
pub struct Keystore {
    dir: PathBuf,
}

fn valid_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Invalid {
            what: format!("key name {name:?}"),
            why: "use 1-64 letters, digits, '-' or '_'".into(),
        });
    }
    Ok(())
}

impl Keystore {
    /// The keystore in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Keystore {
        Keystore { dir: dir.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Creates a key with a fresh 24-word mnemonic.
    pub fn generate(&self, name: &str) -> Result<KeyFile> {
        let mut entropy = [0u8; 32];
        rand::fill(&mut entropy);
        let m = Mnemonic::from_entropy(&entropy).expect("32 bytes is valid BIP39 entropy");
        self.import(name, &m.to_string())
    }

    /// Stores the key of `phrase` under `name`.
    pub fn import(&self, name: &str, phrase: &str) -> Result<KeyFile> {
        valid_name(name)?;
        let p = self.path(name);
        if p.exists() {
            return Err(Error::Invalid {
                what: format!("key name {name:?}"),
                why: "a key with this name exists".into(),
            });
        }
        let (m, key) = key_from_mnemonic(phrase)?;
        let pk = key.public_key();
        let kf = KeyFile {
            name: name.to_string(),
            address: Address::from_public_key(&pk),
            public_key: hex::encode(pk.as_ref()),
            secret_key: hex::encode(private_key_bytes(&key)),
            mnemonic: m.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        write_private(
            &p,
            serde_json::to_string_pretty(&kf)
                .expect("serializes")
                .as_bytes(),
        )?;
        Ok(kf)
    }

    /// Loads a key by name.
    pub fn load(&self, name: &str) -> Result<KeyFile> {
        valid_name(name)?;
        let p = self.path(name);
        if !p.exists() {
            return Err(Error::UnknownKey(name.to_string()));
        }
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        let kf: KeyFile = serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: p.display().to_string(),
            why: e.to_string(),
        })?;
        // Never trust the cached address: recompute it from the secret.
        let key = kf.private_key()?;
        if Address::from_public_key(&key.public_key()) != kf.address {
            return Err(Error::Invalid {
                what: p.display().to_string(),
                why: "address does not match the secret key".into(),
            });
        }
        Ok(kf)
    }

    /// All keys, by name.
    pub fn list(&self) -> Result<Vec<KeyFile>> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names.iter().map(|n| self.load(n)).collect()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_import_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path());
        let a = ks.generate("alice").unwrap();
        assert_eq!(a.mnemonic.split_whitespace().count(), 24);
        let other = Keystore::new(dir.path().join("other"));
        let b = other.import("alice2", &a.mnemonic).unwrap();
        assert_eq!(a.address, b.address);
        assert!(ks.generate("alice").is_err());
        assert!(ks.import("bad name", &a.mnemonic).is_err());
        assert!(ks.import("x", "not a mnemonic").is_err());
        assert!(matches!(ks.load("nobody"), Err(Error::UnknownKey(_))));
        assert_eq!(ks.list().unwrap().len(), 1);
    }
}
