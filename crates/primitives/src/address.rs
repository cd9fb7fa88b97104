//! Account addresses: the first 20 bytes of the public key's hash, printed as bech32m `myc1…`.

use crate::{
    Error, Result,
    hash::{Domain, hash},
    keys::PublicKey,
};
use bech32::{Bech32m, Hrp};
use commonware_codec::{FixedSize, Read, Write};
use std::{fmt, str::FromStr};

/// The human-readable part of every address.
pub const HRP: &str = "myc";

/// A 20-byte account address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address controlled by `key`.
    pub fn from_public_key(key: &PublicKey) -> Address {
        let h = hash(Domain::Address, key.as_ref());
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.0[..20]);
        Address(a)
    }

    /// A well-known address that no key controls (e.g. a module account), from a name.
    pub fn module(name: &str) -> Address {
        let h = hash(Domain::Address, format!("module:{name}").as_bytes());
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.0[..20]);
        Address(a)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(HRP);
        let s = bech32::encode::<Bech32m>(hrp, &self.0).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Address> {
        let bad = |why: String| Error::InvalidAddress(s.to_string(), why);
        let checked = bech32::primitives::decode::CheckedHrpstring::new::<Bech32m>(s)
            .map_err(|e| bad(e.to_string()))?;
        if checked.hrp().as_str() != HRP {
            return Err(bad(format!("expected prefix {HRP:?}")));
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 20] = data
            .try_into()
            .map_err(|_| bad("expected 20 bytes".into()))?;
        Ok(Address(arr))
    }
}

impl Write for Address {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
}

impl FixedSize for Address {
    const SIZE: usize = 20;
}

impl Read for Address {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, commonware_codec::Error> {
        <[u8; 20]>::read_cfg(buf, &()).map(Address)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefix() {
        let a = Address([7; 20]);
        let s = a.to_string();
        assert!(s.starts_with("myc1"), "{s}");
        assert_eq!(s.parse::<Address>().unwrap(), a);
    }

    #[test]
    fn rejects_bad_input() {
        let s = Address([7; 20]).to_string();
        let mut corrupted = s.clone().into_bytes();
        let last = corrupted.len() - 1;
        corrupted[last] = if corrupted[last] == b'q' { b'p' } else { b'q' };
        assert!(
            String::from_utf8(corrupted)
                .unwrap()
                .parse::<Address>()
                .is_err()
        );
        assert!(
            "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a"
                .parse::<Address>()
                .is_err()
        );
        assert!("myc1".parse::<Address>().is_err());
        assert!("hello".parse::<Address>().is_err());
    }
}
