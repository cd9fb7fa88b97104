//! The canonical binary codec and the protocol's size limits.
//!
//! Every consensus-relevant type (transactions, blocks, state values) is encoded with
//! commonware-codec: fixed-width big-endian integers, length-prefixed sequences whose lengths are
//! bounded at decode time, and no trailing bytes. Decoding untrusted bytes never allocates more
//! than the limits below allow.

pub use bytes::BufMut;
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

/// Implements [`Write`], [`Read`] (with `Cfg = ()`) and [`EncodeSize`] from one field list, in
/// wire order, so that a type's format is written down once.
///
/// Three forms:
/// - a struct: `impl_codec!(Name { a, b: string(64), c: vec(0..=16) })`;
/// - a tagged enum: `impl_codec!(enum Name, unknown = |tag| error, { 0 => A { x, y }, 1 => B {},
///   2 => C(inner: boxed) })`: a `u8` tag, then the variant's fields; a tag not listed is
///   `unknown(tag)`. Unit variants are written `B {}`; tuple variants have exactly one field,
///   given a binding name;
/// - a field-less enum stored as one byte: `impl_codec!(Name as u8, from = Name::from_u8)`
///   (an unknown byte is [`CodecError::InvalidEnum`]).
///
/// Fields are named, never typed: reads are typed by the struct itself, and naming every field
/// (destructuring without `..`) makes the compiler reject a list that misses one. Each field
/// may carry how it is encoded:
/// - nothing: the field type's own codec, read with `Cfg = ()`;
/// - `string(max)`: a UTF-8 string ([`write_string`]/[`read_string`]) of at most `max` bytes;
/// - `vec(range)`: a sequence read with `(RangeCfg::new(range), ())` (length bounds);
/// - `cfg(expr)`: read with `&expr` as the configuration;
/// - `boxed`: a `Box<T>` encoded as `T`.
///
/// ```
/// use mycel_primitives::{impl_codec, codec::{Encode, decode}};
/// #[derive(Debug, PartialEq)]
/// struct Note { id: u64, text: String, tags: Vec<u8> }
/// impl_codec!(Note { id, text: string(16), tags: vec(0..=4) });
///
/// let n = Note { id: 7, text: "hi".into(), tags: vec![1, 2] };
/// let bytes = n.encode();
/// assert_eq!(bytes.len(), 8 + 1 + 2 + 1 + 2);
/// assert_eq!(decode::<Note>(&bytes).unwrap(), n);
/// ```
#[macro_export]
macro_rules! impl_codec {
    // A field-less enum stored as one byte.
    ($name:ident as u8, from = $from:path) => {
        impl $crate::codec::Write for $name {
            fn write(&self, buf: &mut impl $crate::codec::BufMut) {
                $crate::codec::Write::write(&(*self as u8), buf)
            }
        }
        impl $crate::codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                1
            }
        }
        impl $crate::codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::codec::Buf,
                _: &(),
            ) -> ::core::result::Result<Self, $crate::codec::CodecError> {
                let v = <u8 as $crate::codec::Read>::read_cfg(buf, &())?;
                $from(v).ok_or($crate::codec::CodecError::InvalidEnum(v))
            }
        }
    };

    // A tagged enum.
    (enum $name:ident, unknown = $unknown:expr, {
        $( $tag:literal => $variant:ident $shape:tt ),* $(,)?
    }) => {
        impl $crate::codec::Write for $name {
            fn write(&self, buf: &mut impl $crate::codec::BufMut) {
                match self {
                    $( $crate::impl_codec!(@pat $name $variant $shape) => {
                        $crate::codec::Write::write(&($tag as u8), buf);
                        $crate::impl_codec!(@write_shape buf $shape);
                    } )*
                }
            }
        }
        impl $crate::codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                match self {
                    $( $crate::impl_codec!(@pat $name $variant $shape) => {
                        1 + $crate::impl_codec!(@size_shape $shape)
                    } )*
                }
            }
        }
        impl $crate::codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::codec::Buf,
                _: &(),
            ) -> ::core::result::Result<Self, $crate::codec::CodecError> {
                match <u8 as $crate::codec::Read>::read_cfg(buf, &())? {
                    $( $tag => Ok($crate::impl_codec!(@build buf $name $variant $shape)), )*
                    tag => Err(($unknown)(tag)),
                }
            }
        }
    };

    // A struct.
    ($name:ident { $( $field:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? ),* $(,)? }) => {
        impl $crate::codec::Write for $name {
            fn write(&self, buf: &mut impl $crate::codec::BufMut) {
                let $name { $( $field ),* } = self;
                $( $crate::impl_codec!(@write buf $field $( $kind $( ( $($arg)* ) )? )?); )*
            }
        }
        impl $crate::codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                let $name { $( $field ),* } = self;
                0 $( + $crate::impl_codec!(@size $field $( $kind $( ( $($arg)* ) )? )?) )*
            }
        }
        impl $crate::codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::codec::Buf,
                _: &(),
            ) -> ::core::result::Result<Self, $crate::codec::CodecError> {
                Ok($name {
                    $( $field: $crate::impl_codec!(@read buf $( $kind $( ( $($arg)* ) )? )?), )*
                })
            }
        }
    };

    // Variant patterns and constructors.
    (@pat $name:ident $variant:ident { $( $field:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? ),* $(,)? }) => {
        $name::$variant { $( $field ),* }
    };
    (@pat $name:ident $variant:ident ( $bind:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? )) => {
        $name::$variant($bind)
    };
    (@build $buf:ident $name:ident $variant:ident { $( $field:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? ),* $(,)? }) => {
        $name::$variant { $( $field: $crate::impl_codec!(@read $buf $( $kind $( ( $($arg)* ) )? )?), )* }
    };
    (@build $buf:ident $name:ident $variant:ident ( $bind:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? )) => {
        $name::$variant($crate::impl_codec!(@read $buf $( $kind $( ( $($arg)* ) )? )?))
    };
    (@write_shape $buf:ident { $( $field:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? ),* $(,)? }) => {
        $( $crate::impl_codec!(@write $buf $field $( $kind $( ( $($arg)* ) )? )?); )*
    };
    (@write_shape $buf:ident ( $bind:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? )) => {
        $crate::impl_codec!(@write $buf $bind $( $kind $( ( $($arg)* ) )? )?);
    };
    (@size_shape { $( $field:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? ),* $(,)? }) => {
        0 $( + $crate::impl_codec!(@size $field $( $kind $( ( $($arg)* ) )? )?) )*
    };
    (@size_shape ( $bind:ident $( : $kind:ident $( ( $($arg:tt)* ) )? )? )) => {
        $crate::impl_codec!(@size $bind $( $kind $( ( $($arg)* ) )? )?)
    };

    // One field, by kind. `$f` is a reference to the field.
    (@write $buf:ident $f:ident string($max:expr)) => { $crate::codec::write_string($f, $buf) };
    (@write $buf:ident $f:ident boxed) => { $crate::codec::Write::write(&**$f, $buf) };
    (@write $buf:ident $f:ident $($kind:ident $( ( $($arg:tt)* ) )?)?) => {
        $crate::codec::Write::write($f, $buf)
    };
    (@size $f:ident string($max:expr)) => { $crate::codec::string_size($f) };
    (@size $f:ident boxed) => { $crate::codec::EncodeSize::encode_size(&**$f) };
    (@size $f:ident $($kind:ident $( ( $($arg:tt)* ) )?)?) => {
        $crate::codec::EncodeSize::encode_size($f)
    };
    (@read $buf:ident string($max:expr)) => { $crate::codec::read_string($buf, $max)? };
    (@read $buf:ident vec($range:expr)) => {
        $crate::codec::Read::read_cfg($buf, &($crate::codec::RangeCfg::new($range), ()))?
    };
    (@read $buf:ident cfg($cfg:expr)) => { $crate::codec::Read::read_cfg($buf, &$cfg)? };
    (@read $buf:ident boxed) => {
        ::std::boxed::Box::new($crate::codec::Read::read_cfg($buf, &())?)
    };
    (@read $buf:ident) => { $crate::codec::Read::read_cfg($buf, &())? };
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

    #[derive(Debug, PartialEq)]
    struct Flat {
        a: u64,
        s: String,
        v: Vec<u8>,
        b: Box<u32>,
    }
    crate::impl_codec!(Flat {
        a,
        s: string(8),
        v: vec(1..=3),
        b: boxed,
    });

    #[derive(Debug, PartialEq)]
    enum Tagged {
        Unit,
        Fields { x: u8, y: u16 },
        One(Box<Flat>),
    }
    crate::impl_codec!(enum Tagged, unknown = CodecError::InvalidEnum, {
        0 => Unit {},
        3 => Fields { x, y },
        5 => One(inner: boxed),
    });

    #[test]
    fn macro_formats_are_the_hand_written_ones() {
        let f = Flat {
            a: 1,
            s: "ab".into(),
            v: vec![9],
            b: Box::new(2),
        };
        let mut want = Vec::new();
        1u64.write(&mut want);
        write_string("ab", &mut want);
        vec![9u8].write(&mut want);
        2u32.write(&mut want);
        assert_eq!(f.encode().to_vec(), want);
        assert_eq!(f.encode_size(), want.len());
        assert_eq!(decode::<Flat>(&want).unwrap(), f);
        let long = Flat {
            v: vec![1, 2, 3, 4],
            ..f
        };
        assert!(decode::<Flat>(&long.encode()).is_err());

        assert_eq!(Tagged::Unit.encode().to_vec(), vec![0]);
        let t = Tagged::Fields { x: 7, y: 0x0102 };
        assert_eq!(t.encode().to_vec(), vec![3, 7, 1, 2]);
        assert_eq!(decode::<Tagged>(&[3, 7, 1, 2]).unwrap(), t);
        let one = Tagged::One(Box::new(decode::<Flat>(&want).unwrap()));
        assert_eq!(one.encode_size(), 1 + want.len());
        assert_eq!(decode::<Tagged>(&one.encode()).unwrap(), one);
        assert!(matches!(
            decode::<Tagged>(&[4]),
            Err(CodecError::InvalidEnum(4))
        ));
    }
}
