//! An f64 written as short decimal text for the error details (`RopeError`'s `Display`),
//! without core's float formatting.
//!
//! Decided: four error variants print a float, and `{}` on an f64 links core's exact
//! shortest-digits machinery (Grisu with a Dragon4 fallback and their tables) into every
//! library and program that can print an error (`docs/design.md`, "Code size";
//! `scripts/sizes.sh` measures the libraries). This writes the shortest decimal of at
//! most 15 significant digits that reads back as the same f64 (it is within half the gap
//! to the next f64), else 17 significant digits (which always read back); the value times
//! a power of ten is computed as a double-double (about 106 bits), far more than these
//! decisions need.

use core::fmt;

use crate::trig::two_prod;

/// Exact powers of ten in f64 (10^0 ..= 10^22); `json/float.rs` reads with them too.
pub(crate) const POW10: [f64; 23] = {
    let mut p = [1.0; 23];
    let mut i = 1;
    while i < 23 {
        p[i] = p[i - 1] * 10.0;
        i += 1;
    }
    p
};

/// `Display` of an f64 for error details: `NaN`, `inf`, `-inf`, plain decimals from
/// 10^-5 to 10^17 (`0.1`, `-1`, `65536.5`), scientific notation outside (`1e30`,
/// `2.5e-7`).
pub(crate) struct FloatText(pub f64);

impl fmt::Display for FloatText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        if v.is_sign_negative() {
            f.write_str("-")?;
        }
        let a = f64::from_bits(v.to_bits() & !(1 << 63));
        if a.is_infinite() {
            return f.write_str("inf");
        }
        if a == 0.0 {
            return f.write_str("0");
        }
        let (mut digits, exp) = decimal(a);
        while digits % 10 == 0 {
            digits /= 10;
        }
        // Room for any u64, though `decimal` gives at most 17 digits.
        let mut text = [0u8; 20];
        let mut d = digits;
        let mut len = 0;
        while d > 0 {
            text[19 - len] = b'0' + (d % 10) as u8;
            d /= 10;
            len += 1;
        }
        let (text, n) = (&text[20 - len..], len);
        // `exp` is the power of ten of the first digit.
        let put = |f: &mut fmt::Formatter<'_>, s: &[u8]| -> fmt::Result {
            // Only ASCII digits were written.
            f.write_str(core::str::from_utf8(s).map_err(|_| fmt::Error)?)
        };
        if (-5..17).contains(&exp) {
            if exp < 0 {
                f.write_str("0.")?;
                for _ in 0..(-exp - 1) {
                    f.write_str("0")?;
                }
                put(f, text)
            } else if exp as usize + 1 >= n {
                put(f, text)?;
                for _ in 0..(exp as usize + 1 - n) {
                    f.write_str("0")?;
                }
                Ok(())
            } else {
                let point = exp as usize + 1;
                put(f, &text[..point])?;
                f.write_str(".")?;
                put(f, &text[point..])
            }
        } else {
            put(f, &text[..1])?;
            if n > 1 {
                f.write_str(".")?;
                put(f, &text[1..])?;
            }
            write!(f, "e{exp}")
        }
    }
}

/// The digits of a finite `a > 0` and the power of ten of the first: `a` is about
/// `digits x 10^(exp - digit count + 1)`.
fn decimal(a: f64) -> (u64, i32) {
    let (m, e2) = unpack(a);
    // floor(log10(a)) from the binary exponent, off by at most one; the 17-digit
    // scaling corrects it.
    let mut exp = (e2 as f64 * core::f64::consts::LOG10_2) as i32 - i32::from(e2 < 0);
    let mut d17 = 0;
    for _ in 0..3 {
        d17 = round(scaled(m, e2, 16 - exp));
        if d17 >= 100_000_000_000_000_000 {
            exp += 1;
        } else if d17 < 10_000_000_000_000_000 {
            exp -= 1;
        } else {
            break;
        }
    }
    // Two turns settle it (the estimate's one step, a carry's one more); the clamp keeps a
    // 17-digit count, and so the text's buffer and its digit loop, safe regardless.
    debug_assert!((10_000_000_000_000_000..100_000_000_000_000_000).contains(&d17));
    let d17 = d17.clamp(10_000_000_000_000_000, 99_999_999_999_999_999);
    // Half the gap to the neighbouring f64s (a quarter below a power of two, whose lower
    // neighbour is closer), as the exponent of a power of two.
    let half_ulp = e2.max(-1022) - 53;
    let below = half_ulp - i32::from(m == 1.0 && e2 > -1022);
    for p in 1..=15 {
        let s = p - 1 - exp;
        let x = scaled(m, e2, s);
        let d = round(x);
        if reads_back(a, m, e2, d, s, x, half_ulp, below) {
            return if d == POW10[p as usize] as u64 {
                (1, exp + 1)
            } else {
                (d, exp)
            };
        }
    }
    (d17, exp)
}

/// Whether `d * 10^-s` (`d` below 10^16; `x` is `a * 10^s`) reads back as `a`: it is
/// within half the gap to `a`'s neighbour on its side, or exactly at that half and `a`'s
/// last bit is even (reading rounds to even). A decimal can sit exactly at the half only
/// when it is an integer and `a >= 2^53`; there the check is in integers, where they fit.
/// Elsewhere a difference within 2^-40 of the half counts as not reading back, so
/// the text is at worst longer than the shortest, never wrong.
#[allow(clippy::too_many_arguments)]
fn reads_back(
    a: f64,
    m: f64,
    e2: i32,
    d: u64,
    s: i32,
    x: (f64, f64),
    half_ulp: i32,
    below: i32,
) -> bool {
    if (-22..=0).contains(&s) && (53..=126).contains(&e2) {
        let whole = ((m.to_bits() & ((1 << 52) - 1)) | 1 << 52) as u128;
        let a_int = whole << (e2 - 52);
        let dec = d as u128 * POW10[(-s) as usize] as u128;
        let (dist, exp) = if dec >= a_int {
            (dec - a_int, half_ulp)
        } else {
            (a_int - dec, below)
        };
        // Twice both sides: a quarter gap below 2^53 is half a unit.
        let (dist, gap) = (2 * dist, 1u128 << (exp + 1));
        return dist < gap || (dist == gap && a.to_bits() & 1 == 0);
    }
    let diff = (d as f64 - x.0) - x.1;
    let gap = scaled(1.0, if diff < 0.0 { below } else { half_ulp }, s).0;
    diff.abs() < gap * (1.0 - 1.0 / 1_099_511_627_776.0)
}

/// `a > 0` as `m * 2^e2` with `m` in `[1, 2)`.
fn unpack(a: f64) -> (f64, i32) {
    let (b, shift) = if a < f64::MIN_POSITIVE {
        (a * pow2(64), 64)
    } else {
        (a, 0)
    };
    let bits = b.to_bits();
    let e2 = ((bits >> 52) & 0x7ff) as i32 - 1023 - shift;
    (f64::from_bits(bits & ((1 << 52) - 1) | 1023 << 52), e2)
}

/// 2^k for `k` in `[-1022, 1023]`.
fn pow2(k: i32) -> f64 {
    f64::from_bits(((1023 + k) as u64) << 52)
}

/// `m * 2^e2 * 10^s` as a double-double (`hi + lo`, about 106 bits), for a result in
/// `[2^-1000, 2^63)`: kept near 1 by taking its binary exponent out after each step, so no
/// step overflows or loses bits.
fn scaled(m: f64, mut e2: i32, mut s: i32) -> (f64, f64) {
    let mut x = (m, 0.0);
    while s != 0 {
        let k = s.clamp(-22, 22);
        let p = POW10[k.unsigned_abs() as usize];
        x = if k > 0 { mul(x, p) } else { div(x, p) };
        s -= k;
        let k2 = ((x.0.to_bits() >> 52) & 0x7ff) as i32 - 1023;
        x = (x.0 * pow2(-k2), x.1 * pow2(-k2));
        e2 += k2;
    }
    let e2 = e2.clamp(-1000, 63);
    (x.0 * pow2(e2), x.1 * pow2(e2))
}

/// `hi + lo` (below 2^63) rounded to the nearest integer, half away from zero.
fn round((hi, lo): (f64, f64)) -> u64 {
    let whole = hi as u64;
    let f = (hi - whole as f64) + lo;
    let mut down = f as i64;
    if (down as f64) > f {
        down -= 1;
    }
    let up = f - down as f64 >= 0.5;
    (whole as i64 + down + i64::from(up)) as u64
}

/// `(hi, lo) * p` as a double-double.
fn mul(x: (f64, f64), p: f64) -> (f64, f64) {
    let (h, e) = two_prod(x.0, p);
    two_sum(h, e + x.1 * p)
}

/// `(hi, lo) / p` as a double-double.
fn div(x: (f64, f64), p: f64) -> (f64, f64) {
    let q = x.0 / p;
    let (ph, pl) = two_prod(q, p);
    two_sum(q, ((x.0 - ph) - pl + x.1) / p)
}

/// `a + b` for `|a| >= |b|`, as the rounded sum and its error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::FloatText;
    use std::format;
    use std::string::String;

    fn text(v: f64) -> String {
        format!("{}", FloatText(v))
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe arithmetic only, and too slow under Miri")]
    fn specials_and_plain_values() {
        for (v, want) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (65536.5, "65536.5"),
            (1.0 / 65536.0, "0.0000152587890625"),
            (500000.0, "500000"),
            (1e16, "10000000000000000"),
            (1e17, "1e17"),
            (1e30, "1e30"),
            (2.5e-7, "2.5e-7"),
            (0.00001, "0.00001"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e308"),
            (1.0800000429153442, "1.0800000429153442"),
            (5e-324, "5e-324"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (-3e-31, "-3e-31"),
            (9007199254740992.0, "9007199254740992"),
            (1.35791658398169e17, "1.35791658398169e17"),
        ] {
            assert_eq!(text(v), want, "{v:e}");
        }
    }

    /// Within the plain range and 15 digits, the text is core's (the shortest); every
    /// text reads back as the value, or (17 digits scaled in f64) within 2 ulps of it.
    #[test]
    #[cfg_attr(miri, ignore = "safe arithmetic only, and too slow under Miri")]
    fn matches_core_and_reads_back() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 3 {
                // Random bits: every magnitude.
                0 => f64::from_bits(x),
                // Short decimals, as configs hold them.
                1 => (x % 10_000_000) as f64 / 10f64.powi((x >> 40) as i32 % 12),
                _ => {
                    f64::from_bits(x >> 2 | 0x3ff0_0000_0000_0000)
                        * 10f64.powi((x >> 56) as i32 % 20 - 10)
                }
            };
            if !v.is_finite() {
                continue;
            }
            let t = text(v);
            let back: f64 = t.parse().unwrap();
            let digits = t
                .trim_start_matches('-')
                .split('e')
                .next()
                .unwrap()
                .replace('.', "");
            let digits = digits.trim_start_matches('0').trim_end_matches('0').len();
            assert_eq!(
                back.to_bits(),
                v.to_bits(),
                "{v:e} -> {t} ({digits} digits)"
            );
            let core = format!("{v}");
            let core_digits = core.trim_start_matches('-').replace('.', "");
            let core_digits = core_digits
                .trim_start_matches('0')
                .trim_end_matches('0')
                .len();
            if core_digits <= 15 && (1e-5..1e17).contains(&v.abs()) {
                assert_eq!(t, core, "{v:e}");
            }
            // Up to 10^37 (where ties are decided exactly), the digits are core's shortest
            // when it needs at most 15.
            let sci = format!("{v:e}");
            let (mant, e) = sci.split_once('e').unwrap();
            if mant.trim_start_matches('-').replace('.', "").len() <= 15 && v.abs() < 1e37 {
                let (t_mant, t_e) = t.split_once('e').unwrap_or((&t, "0"));
                if t.contains('e') {
                    assert_eq!((t_mant, t_e), (mant, e), "{v:e}");
                }
            }
        }
    }
}
