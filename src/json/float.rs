//! A JSON number's text to the nearest f64 (ties to even), without core's `parse`.
//!
//! Decided: core's float parsing carries a table of 128-bit powers of five for its fast
//! path, most of that parser's size; a config is read once, so this takes a guess in f64
//! arithmetic (a few units in the last place off at most) and corrects it exactly: the
//! decimal is compared in integers with the midpoints between the guess and its
//! neighbours, and the guess moves one f64 at a time until the decimal lies between them
//! (`docs/design.md`, "Code size").

use core::cmp::Ordering;

use crate::float_text::POW10;

/// Significant digits kept; past them a nonzero digit only breaks a tie upward.
const MAX_DIGITS: usize = 780;

/// The decimal: `digits x 10^exp`, digits most significant first.
struct Decimal {
    /// Significant digits kept (`MAX_DIGITS` at most), after the leading zeros.
    count: usize,
    /// Where the significant digits start in the digit sequence.
    first: usize,
    /// Power of ten of the last kept digit.
    exp: i64,
    /// A nonzero digit past the kept ones.
    sticky: bool,
}

/// The f64 nearest a number in JSON's grammar (`-?int(.frac)?([eE][+-]?exp)?`, checked
/// by the caller); infinite past f64's range.
pub(super) fn parse(text: &str) -> f64 {
    let s = text.as_bytes();
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mantissa_end = s
        .iter()
        .position(|&b| b == b'e' || b == b'E')
        .unwrap_or(s.len());
    let (mantissa, exp_part) = s.split_at(mantissa_end);
    let mut exp10: i64 = 0;
    if let Some((_, e)) = exp_part.split_first() {
        let (eneg, e) = match e.split_first() {
            Some((b'-', r)) => (true, r),
            Some((b'+', r)) => (false, r),
            _ => (false, e),
        };
        // Saturated: past a million the value is 0 or infinite whatever the digits.
        let mut v: i64 = 0;
        for &b in e {
            v = (v * 10 + i64::from(b - b'0')).min(1_000_000);
        }
        exp10 = if eneg { -v } else { v };
    }
    let point = mantissa.iter().position(|&b| b == b'.');
    let fraction_len = point.map_or(0, |p| mantissa.len() - p - 1) as i64;
    let digit_at = |i: usize| -> u8 {
        // The digit sequence skips the point.
        let j = match point {
            Some(p) if i >= p => i + 1,
            _ => i,
        };
        mantissa[j] - b'0'
    };
    let total = mantissa.len() - usize::from(point.is_some());
    let first = (0..total).find(|&i| digit_at(i) != 0);
    let Some(first) = first else {
        return if neg { -0.0 } else { 0.0 };
    };
    let count = (total - first).min(MAX_DIGITS);
    let sticky = (first + count..total).any(|i| digit_at(i) != 0);
    let dec = Decimal {
        count,
        first,
        exp: exp10 - fraction_len + (total - first - count) as i64,
        sticky,
    };
    let v = nearest(&dec, digit_at);
    if neg {
        -v
    } else {
        v
    }
}

/// The nearest f64 to a nonzero decimal.
fn nearest(d: &Decimal, digit_at: impl Fn(usize) -> u8 + Copy) -> f64 {
    // The value is in [10^(top - 1), 10^top).
    let top = d.exp + d.count as i64;
    if top > 310 {
        return f64::INFINITY;
    }
    if top < -326 {
        return 0.0;
    }
    // The guess: the first 19 digits, scaled in f64.
    let mut lead: u64 = 0;
    let n = d.count.min(19);
    for i in 0..n {
        lead = lead * 10 + u64::from(digit_at(d.first + i));
    }
    let mut f = lead as f64;
    let mut s = d.exp + (d.count - n) as i64;
    while s > 0 {
        let k = s.min(22);
        f *= POW10[k as usize];
        s -= k;
    }
    while s < 0 {
        let k = (-s).min(22);
        f /= POW10[k as usize];
        s += k;
    }
    // The correction: a few steps at most from that guess, each toward the nearest f64
    // (the midpoints only move one way as `f` does), so it ends.
    loop {
        if f.is_infinite() {
            // Past the midpoint between f64::MAX and 2^1024 (odd MAX: a tie goes up).
            let c = compare(d, digit_at, (1 << 54) - 1, 970);
            if c == Ordering::Less {
                f = f64::MAX;
                continue;
            }
            return f64::INFINITY;
        }
        let bits = f.to_bits();
        let (m, e) = if bits >> 52 == 0 {
            (bits, -1074)
        } else {
            (bits & ((1 << 52) - 1) | 1 << 52, (bits >> 52) as i32 - 1075)
        };
        let odd = m & 1 == 1;
        // Above the midpoint with the next f64 (or at it, from an odd f): up.
        let c = compare(d, digit_at, 2 * m + 1, e - 1);
        if c == Ordering::Greater || (c == Ordering::Equal && odd) {
            f = f64::from_bits(bits + 1);
            continue;
        }
        if f == 0.0 {
            return f;
        }
        // Below the midpoint with the previous f64 (closer below a power of two).
        let c = if m == 1 << 52 && e > -1074 {
            compare(d, digit_at, 4 * m - 1, e - 2)
        } else {
            compare(d, digit_at, 2 * m - 1, e - 1)
        };
        if c == Ordering::Less || (c == Ordering::Equal && odd) {
            f = f64::from_bits(bits - 1);
            continue;
        }
        return f;
    }
}

/// The decimal against `m * 2^e`.
fn compare(d: &Decimal, digit_at: impl Fn(usize) -> u8, m: u64, e: i32) -> Ordering {
    let mut x = Big::ZERO;
    for i in 0..d.count {
        x.mul_add(10, u32::from(digit_at(d.first + i)));
    }
    let mut y = Big::ZERO;
    y.mul_add(1 << 16, (m >> 48) as u32);
    y.mul_add(1 << 16, (m >> 32 & 0xffff) as u32);
    y.mul_add(1 << 16, (m >> 16 & 0xffff) as u32);
    y.mul_add(1 << 16, (m & 0xffff) as u32);
    // digits * 5^exp * 2^exp against m * 2^e: the fives go to the side of a positive
    // power, then both sides are shifted up to the larger power of two.
    let (five, twos_x) = (d.exp.unsigned_abs(), d.exp);
    if d.exp >= 0 {
        x.mul_pow5(five);
    } else {
        y.mul_pow5(five);
    }
    let twos_x = if d.exp >= 0 { twos_x } else { 0 };
    let twos_y = i64::from(e) - if d.exp >= 0 { 0 } else { d.exp };
    let low = twos_x.min(twos_y);
    x.shl((twos_x - low) as u32);
    y.shl((twos_y - low) as u32);
    match x.cmp(&y) {
        Ordering::Equal if d.sticky => Ordering::Greater,
        c => c,
    }
}

/// Limbs of the integers compared: the largest is about the kept digits' 2 600 bits.
const LIMBS: usize = 96;

/// A fixed-size unsigned integer, little-endian 32-bit limbs.
#[derive(Clone, Copy)]
struct Big {
    limbs: [u32; LIMBS],
}

impl Big {
    const ZERO: Big = Big { limbs: [0; LIMBS] };

    /// `self = self * m + a`; bits past the top are dropped (never reached: see `LIMBS`).
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.limbs {
            let t = u64::from(*l) * u64::from(m) + carry;
            *l = t as u32;
            carry = t >> 32;
        }
    }

    /// `self *= 5^n`.
    fn mul_pow5(&mut self, mut n: u64) {
        // 5^13 is the largest power of five in 32 bits.
        while n >= 13 {
            self.mul_add(1_220_703_125, 0);
            n -= 13;
        }
        self.mul_add(5u32.pow(n as u32), 0);
    }

    /// `self <<= n`.
    fn shl(&mut self, n: u32) {
        let (words, bits) = ((n / 32) as usize, n % 32);
        if words >= LIMBS {
            self.limbs = [0; LIMBS];
            return;
        }
        for i in (0..LIMBS).rev() {
            let hi = if i >= words { self.limbs[i - words] } else { 0 };
            let lo = if i > words {
                self.limbs[i - words - 1]
            } else {
                0
            };
            self.limbs[i] = if bits == 0 {
                hi
            } else {
                hi << bits | lo >> (32 - bits)
            };
        }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs.iter().rev().cmp(other.limbs.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::parse;
    use std::format;
    use std::string::String;

    fn check(text: &str) {
        let want: f64 = text.parse().unwrap();
        let got = parse(text);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{text}: {got:e} against {want:e}"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe arithmetic only, and too slow under Miri")]
    fn edges() {
        for t in [
            "0",
            "-0",
            "0.0",
            "1",
            "-1",
            "0.1",
            "10000.0",
            "500000",
            "1e6",
            "1E+6",
            "1e-6",
            "1.0800000429153442",
            "0.000001",
            "00.5e1",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "-1e309",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "9007199254740993",
            "9007199254740993.0000000000000000000000000000001",
            "123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000001e45",
            "1e1000000000000",
            "1e-1000000000000",
            "179769313486231580793728971405301e276",
            // The midpoint below 1.0 (the gap below a power of two is half) and beside it.
            "0.999999999999999944488848768742172978818416595458984375",
            "0.999999999999999944488848768742172978818416595458984374",
            "0.999999999999999944488848768742172978818416595458984376",
        ] {
            check(t);
        }
        // A tie broken by a digit past the ones kept, and not.
        check(&format!("9007199254740993.{}1", "0".repeat(900)));
        check(&format!("9007199254740993.{}", "0".repeat(900)));
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe arithmetic only, and too slow under Miri")]
    fn random_texts() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..if cfg!(debug_assertions) {
            10_000
        } else {
            100_000
        } {
            let r = next();
            let text = match i % 4 {
                // Every f64, as core writes it (shortest) and with 17 and 25 digits.
                0 => format!("{:e}", f64::from_bits(r >> 1)),
                1 => format!("{:.16e}", f64::from_bits(r >> 1)),
                2 => format!("{:.24e}", f64::from_bits(r >> 1)),
                // Halfway cases: the exact midpoint of an f64 in [2^-60, 2^70) and the
                // next, which rounds to the even one.
                _ => {
                    let exp_field = 963 + (r >> 52) % 130;
                    midpoint(f64::from_bits(exp_field << 52 | r & ((1 << 52) - 1)))
                }
            };
            if text.contains("inf") || text.contains("NaN") {
                continue;
            }
            check(&text);
        }
    }

    /// The exact decimal of the midpoint between `f` (positive, in [2^-60, 2^70)) and the
    /// next f64: `(2m + 1) * 2^(e - 1)`, by long division below 1.
    fn midpoint(f: f64) -> String {
        let bits = f.to_bits();
        let (m, e) = (
            (bits & ((1 << 52) - 1)) | 1 << 52,
            (bits >> 52) as i32 - 1076,
        );
        let num = 2 * m as u128 + 1;
        if e >= 0 {
            return format!("{}", num << e);
        }
        let shift = -e as u32;
        let mut text = format!("{}.", num >> shift);
        let mask = (1u128 << shift) - 1;
        let mut frac = num & mask;
        for _ in 0..shift {
            frac *= 10;
            text.push(char::from(b'0' + (frac >> shift) as u8));
            frac &= mask;
        }
        text
    }
}
