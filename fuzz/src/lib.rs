//! cargo-fuzz targets for every mycel decoder of untrusted bytes (opt-in, not part of CI).
//!
//! This library holds the targets' shared check: decode untrusted bytes and, when they decode,
//! prove that the value re-encodes to the same bytes and decodes back to itself.

use mycel_primitives::codec::{Encode, Read, decode};
use std::fmt::Debug;

/// Decodes `data` as a `T`; if that succeeds, the encoding is canonical (re-encoding gives the
/// input back), its announced size is exact and it decodes to an equal value.
pub fn canonical<T>(data: &[u8]) -> Option<T>
where
    T: Encode + Read<Cfg = ()> + PartialEq + Debug,
{
    let value = decode::<T>(data).ok()?;
    check_reencoding(data, &value, |b| decode::<T>(b).ok());
    Some(value)
}

/// The re-encoding checks of [`canonical`] for a decoder with its own entry point.
pub fn check_reencoding<T>(data: &[u8], value: &T, decode: impl Fn(&[u8]) -> Option<T>)
where
    T: Encode + PartialEq + Debug,
{
    let bytes = value.encode();
    assert_eq!(bytes.len(), value.encode_size(), "encode_size of {value:?}");
    assert_eq!(
        &bytes[..],
        data,
        "non-canonical encoding accepted for {value:?}"
    );
    let again = decode(&bytes).expect("a re-encoding decodes");
    assert_eq!(&again, value, "re-encoding decodes to another value");
}
