//! The canonical binary codec and the protocol's size limits.
//!
//! Every consensus-relevant type (transactions, blocks, state values) is encoded with
//! commonware-codec: fixed-width big-endian integers, length-prefixed sequences whose lengths are
//! bounded at decode time, and no trailing bytes. Decoding untrusted bytes never allocates more
//! than the limits below allow.

pub use commonware_codec::{
    Buf, Copying, Decode, DecodeExt, Encode, EncodeSize, Error as CodecError, FixedSize, RangeCfg,
    Read, ReadExt, Write,
};

/// Decodes a value that needs no configuration from a byte slice, rejecting trailing bytes.
pub fn decode<T: Read<Cfg = ()>>(bytes: &[u8]) -> Result<T, CodecError> {
    T::decode_cfg(Copying(bytes), &())
}

/// Decodes a value with a configuration (e.g. length limits) from a byte slice.
pub fn decode_cfg<T: Read>(bytes: &[u8], cfg: &T::Cfg) -> Result<T, CodecError> {
    T::decode_cfg(Copying(bytes), cfg)
}

/// Maximum encoded size of one transaction.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Maximum number of messages in one transaction.
pub const MAX_MESSAGES_PER_TX: usize = 64;
/// Maximum number of transactions in one block.
pub const MAX_TXS_PER_BLOCK: usize = 10_000;
/// Maximum encoded size of one block.
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// Maximum length of a short string field (memo, names, URIs).
pub const MAX_STRING_BYTES: usize = 256;

/// Reads a length-prefixed UTF-8 string of at most `max` bytes.
pub fn read_string(buf: &mut impl commonware_codec::Buf, max: usize) -> Result<String, CodecError> {
    let raw = Vec::<u8>::read_cfg(buf, &(RangeCfg::new(0..=max), ()))?;
    String::from_utf8(raw).map_err(|_| CodecError::Invalid("string", "not utf-8"))
}

/// Writes a length-prefixed UTF-8 string.
pub fn write_string(s: &str, buf: &mut impl bytes::BufMut) {
    s.as_bytes().to_vec().write(buf)
}

/// The encoded size of a string written by [`write_string`].
pub fn string_size(s: &str) -> usize {
    s.len().encode_size() + s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_limit() {
        let mut buf = Vec::new();
        write_string("héllo", &mut buf);
        assert_eq!(buf.len(), string_size("héllo"));
        assert_eq!(read_string(&mut Copying(&buf), 16).unwrap(), "héllo");
        assert!(read_string(&mut Copying(&buf), 2).is_err());
        let mut bad = Vec::new();
        vec![0xffu8, 0xfe].write(&mut bad);
        assert!(read_string(&mut Copying(&bad), 16).is_err());
    }
}
