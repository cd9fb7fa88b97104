//! Token amounts.
//!
//! The native token is MYC; 1 MYC = 10^9 base units. Amounts are `u128` base units and every
//! arithmetic operation is checked: money never wraps.

use crate::{Error, Result};
use commonware_codec::{FixedSize, Read, Write};
use std::{fmt, str::FromStr};

/// Base units per MYC.
pub const BASE_UNITS_PER_MYC: u128 = 1_000_000_000;
/// Decimal places of MYC.
pub const DECIMALS: u32 = 9;

/// An amount of MYC in base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// `n` whole MYC. Panics only on constants that cannot fit (callers pass literals).
    pub const fn from_myc(n: u64) -> Amount {
        Amount(n as u128 * BASE_UNITS_PER_MYC)
    }

    /// Base units.
    pub const fn base(self) -> u128 {
        self.0
    }

    /// Checked addition.
    pub fn checked_add(self, o: Amount) -> Result<Amount> {
        self.0
            .checked_add(o.0)
            .map(Amount)
            .ok_or(Error::AmountOverflow)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, o: Amount) -> Result<Amount> {
        self.0
            .checked_sub(o.0)
            .map(Amount)
            .ok_or(Error::AmountOverflow)
    }

    /// `self * num / den`, rounded down, without intermediate overflow for realistic supplies
    /// (the product is computed in 256 bits).
    pub fn mul_div(self, num: u128, den: u128) -> Result<Amount> {
        if den == 0 {
            return Err(Error::AmountOverflow);
        }
        mul_div_u128(self.0, num, den)
            .map(Amount)
            .ok_or(Error::AmountOverflow)
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Computes `a * b / d` exactly in 256 bits; `None` if the quotient does not fit in `u128`.
pub fn mul_div_u128(a: u128, b: u128, d: u128) -> Option<u128> {
    if d == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some(p / d);
    }
    // Schoolbook 128x128 -> 256 multiplication in 64-bit limbs.
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    let lo = (p00 & u64::MAX as u128) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    if hi >= d {
        return None;
    }
    // Long division of (hi, lo) by d, bit by bit (rare path).
    let mut rem = hi;
    let mut q: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            q |= 1;
        }
    }
    Some(q)
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / BASE_UNITS_PER_MYC;
        let frac = self.0 % BASE_UNITS_PER_MYC;
        if frac == 0 {
            write!(f, "{whole} MYC")
        } else {
            let s = format!("{frac:09}");
            write!(f, "{whole}.{} MYC", s.trim_end_matches('0'))
        }
    }
}

impl FromStr for Amount {
    type Err = Error;

    /// Parses `"1.5"`, `"1.5 MYC"`, `"1.5myc"` (MYC) or `"1500u"` / `"1500 base"` (base units).
    fn from_str(s: &str) -> Result<Amount> {
        let bad = |why| Error::InvalidAmount(s.to_string(), why);
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if let Some(base) = lower
            .strip_suffix("base")
            .or_else(|| lower.strip_suffix('u'))
        {
            let v: u128 = base.trim().parse().map_err(|_| bad("not an integer"))?;
            return Ok(Amount(v));
        }
        let num = lower.strip_suffix("myc").unwrap_or(&lower).trim();
        if num.is_empty() {
            return Err(bad("empty"));
        }
        let (w, fr) = num.split_once('.').unwrap_or((num, ""));
        if fr.len() > DECIMALS as usize {
            return Err(bad("more than 9 decimal places"));
        }
        if !w.chars().all(|c| c.is_ascii_digit()) || !fr.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("not a decimal number"));
        }
        let whole: u128 = if w.is_empty() {
            0
        } else {
            w.parse().map_err(|_| bad("too large"))?
        };
        let frac: u128 = if fr.is_empty() {
            0
        } else {
            fr.parse::<u128>().map_err(|_| bad("bad fraction"))?
                * 10u128.pow(DECIMALS - fr.len() as u32)
        };
        whole
            .checked_mul(BASE_UNITS_PER_MYC)
            .and_then(|v| v.checked_add(frac))
            .map(Amount)
            .ok_or_else(|| bad("too large"))
    }
}

impl Write for Amount {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.0.write(buf)
    }
}

impl FixedSize for Amount {
    const SIZE: usize = 16;
}

impl Read for Amount {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> std::result::Result<Self, commonware_codec::Error> {
        u128::read_cfg(buf, &()).map(Amount)
    }
}

/// Amounts serialize in JSON as decimal strings of base units, because JSON numbers lose
/// precision above 2^53.
impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            S(String),
            N(u64),
        }
        match Repr::deserialize(d)? {
            Repr::N(n) => Ok(Amount(n as u128)),
            Repr::S(s) => s
                .parse::<u128>()
                .map(Amount)
                .map_err(|_| serde::de::Error::custom(format!("invalid base-unit amount {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("1.5".parse::<Amount>().unwrap(), Amount(1_500_000_000));
        assert_eq!("1.5 MYC".parse::<Amount>().unwrap(), Amount(1_500_000_000));
        assert_eq!("7u".parse::<Amount>().unwrap(), Amount(7));
        assert_eq!(".000000001".parse::<Amount>().unwrap(), Amount(1));
        assert_eq!(Amount(1_500_000_000).to_string(), "1.5 MYC");
        assert_eq!(Amount(1).to_string(), "0.000000001 MYC");
        assert!("1.0000000001".parse::<Amount>().is_err());
        assert!("-1".parse::<Amount>().is_err());
        assert!("".parse::<Amount>().is_err());
        assert!("1e9".parse::<Amount>().is_err());
    }

    #[test]
    fn checked() {
        assert!(Amount(u128::MAX).checked_add(Amount(1)).is_err());
        assert!(Amount(0).checked_sub(Amount(1)).is_err());
        assert_eq!(Amount(10).checked_sub(Amount(3)).unwrap(), Amount(7));
    }

    #[test]
    fn mul_div_wide() {
        assert_eq!(mul_div_u128(u128::MAX, 3, 3), Some(u128::MAX));
        assert_eq!(mul_div_u128(u128::MAX, 2, 4), Some(u128::MAX / 2));
        assert_eq!(mul_div_u128(u128::MAX, 2, 1), None);
        assert_eq!(mul_div_u128(1 << 100, 1 << 100, 1 << 110), Some(1 << 90));
        assert_eq!(mul_div_u128(7, 5, 0), None);
    }

    proptest::proptest! {
        #[test]
        fn mul_div_matches_small(a in 0u64.., b in 0u64.., d in 1u64..) {
            let expect = (a as u128 * b as u128) / d as u128;
            proptest::prop_assert_eq!(mul_div_u128(a as u128, b as u128, d as u128), Some(expect));
        }

        #[test]
        fn display_parse_round_trip(v in 0u128..u64::MAX as u128 * 1000) {
            let s = Amount(v).to_string();
            proptest::prop_assert_eq!(s.parse::<Amount>().unwrap(), Amount(v));
        }
    }
}
