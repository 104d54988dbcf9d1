//! Exact angles: `cos(p * theta)` and `sin(p * theta)` rounded to f32, accurate at any position.
//!
//! The usual `(p as f32) * theta` loses the angle at long context: at p = 500 000 an f32
//! product is off by up to ~3e-2 rad. Here every angle is formed and reduced in
//! double-double arithmetic, then evaluated in f64:
//!
//! 1. Once per frequency, `theta / 2pi` is stored as a double-double `t = hi + lo`
//!    (≈106 bits), so the angle in *turns* is `p * t`. Frequencies are at most 2pi
//!    (validated), so `t <= 1` and `p * t < 2^53`.
//! 2. Per position, `p * hi` is split exactly into `h + l` (Dekker's two-product; `p` is an
//!    integer below 2^53, exact in f64), the whole turns `round(h)` are dropped exactly, and
//!    `f = (h - round(h)) + (l + p * lo)` is the fraction of a turn, in [-0.5, 0.5], with an
//!    absolute error near 2^-54 turns for every position below 2^32 (the error
//!    of `p * lo` grows with `p`, and stays below 2^-53 turns up to the 2^53 limit).
//! 3. The fraction is split into a quarter turn `q` (its nearest multiple of 1/4) and a
//!    remainder `r` in [-1/8, 1/8] turns (exactly), `x = r * 2pi` (|x| <= pi/4), and
//!    sin/cos of `x` come from their Taylor series to degree 17 and 18 (truncation error
//!    below 2e-19), evaluated by Horner's rule in f64; the quadrant `q` swaps and negates
//!    them. The magnitude scale is applied in f64 and the result rounded to f32 once.
//!
//! Every step is branch-free f64 arithmetic on independent pairs, so a token's pairs are
//! computed in SIMD lanes where the compiler vectorizes the loop (AVX-512 and AVX2 builds
//! of it are dispatched at run time) and in plain scalar code elsewhere, with the same
//! bits: IEEE operations in a fixed order, no fused multiply-add, no library calls.
//!
//! The f64 value is within about 1e-15 of the true `cos(p*theta)` (theta being the f64
//! inverse frequency), so the f32 result is the correctly rounded one but for values within
//! ~2^-28 ulp of a rounding tie: at most 1 ulp off, at position 10 or position 10^9 alike. Every
//! step is plain IEEE f64 arithmetic with no fused operations, so the bits are the same on
//! every architecture and backend. The measured accuracy is in the crate docs and checked by
//! `tests/angles.rs`.

/// 2*pi split as a double-double: `TAU_HI + TAU_LO` to ~107 bits.
const TAU_HI: f64 = core::f64::consts::TAU;
const TAU_LO: f64 = 2.449_293_598_294_706_4e-16;

/// Dekker's split of an f64 into two halves of 26 significant bits each.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a * b` as an exact sum `p + e` (no FMA, so identical on every target).
#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// An inverse frequency expressed in turns per position (`theta / 2pi`) as a double-double.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Turns {
    hi: f64,
    lo: f64,
}

impl Turns {
    /// `theta / 2pi` to about 106 bits (double-double division by `TAU_HI + TAU_LO`).
    pub(crate) fn from_inv_freq(theta: f64) -> Self {
        let hi = theta / TAU_HI;
        let (p, e) = two_prod(hi, TAU_HI);
        let rem = ((theta - p) - e) - hi * TAU_LO;
        Turns {
            hi,
            lo: rem / TAU_HI,
        }
    }

    /// The inverse frequency these turns came from (to f64 precision).
    #[cfg(test)]
    pub(crate) fn inv_freq(self) -> f64 {
        self.hi * TAU_HI + (self.lo * TAU_HI + self.hi * TAU_LO)
    }

    /// From the parts returned by [`Turns::parts`].
    pub(crate) fn from_parts(hi: f64, lo: f64) -> Self {
        Turns { hi, lo }
    }

    /// The turn's parts, for the batch kernel.
    pub(crate) fn parts(self) -> (f64, f64) {
        (self.hi, self.lo)
    }
}

/// `x` rounded to the nearest integer (ties to even) for `|x| < 2^52`; for larger `|x|`
/// (already integers) it may be off by a whole number, which only adds whole turns.
#[inline(always)]
fn round_int(x: f64) -> f64 {
    const SIGN: u64 = 1 << 63;
    let magic = f64::from_bits(0x4330_0000_0000_0000 | (x.to_bits() & SIGN)); // +-2^52
    (x + magic) - magic
}

// Taylor coefficients: (-1)^k / (2k+1)! and (-1)^k / (2k)!.
const S: [f64; 8] = [
    -1.666_666_666_666_666_6e-1,
    8.333_333_333_333_333e-3,
    -1.984_126_984_126_984e-4,
    2.755_731_922_398_589_3e-6,
    -2.505_210_838_544_172e-8,
    1.605_904_383_682_161_3e-10,
    -7.647_163_731_819_816e-13,
    2.811_457_254_345_520_6e-15,
];
const C: [f64; 9] = [
    -0.5,
    4.166_666_666_666_666_4e-2,
    -1.388_888_888_888_889e-3,
    2.480_158_730_158_73e-5,
    -2.755_731_922_398_589_3e-7,
    2.087_675_698_786_81e-9,
    -1.147_074_559_772_972_5e-11,
    4.779_477_332_387_385e-14,
    -1.561_920_696_858_622_6e-16,
];

/// `(cos, sin)` in f64 of the angle `p * (hi + lo)` turns (p an integer below 2^53).
#[inline(always)]
fn cos_sin_turns(p: f64, hi: f64, lo: f64) -> (f64, f64) {
    let (h, l) = two_prod(p, hi);
    let frac = (h - round_int(h)) + (l + p * lo); // turns, |frac| <= ~1.5
                                                  // Nearest quarter turn: q4 + MAGIC holds the integer round(q4) in its low bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    let biased = frac * 4.0 + MAGIC;
    let q = biased - MAGIC;
    let quadrant = biased.to_bits() & 3;
    let x = (frac - q * 0.25) * TAU_HI; // |x| <= pi/4; the subtraction is exact
    let x2 = x * x;
    let mut s = S[7];
    for &k in S[..7].iter().rev() {
        s = s * x2 + k;
    }
    let s = x + x * (x2 * s);
    let mut c = C[8];
    for &k in C[..8].iter().rev() {
        c = c * x2 + k;
    }
    let c = 1.0 + x2 * c;
    // Turn by the quadrant: (sin, cos) of x + quadrant * pi/2.
    let (s, c) = if quadrant & 1 == 1 { (c, s) } else { (s, c) };
    let sin_neg = (quadrant & 2) << 62;
    let cos_neg = ((quadrant + 1) & 2) << 62;
    (
        f64::from_bits(c.to_bits() ^ cos_neg),
        f64::from_bits(s.to_bits() ^ sin_neg),
    )
}

/// `(cos, sin)` of `position * theta` in f64 (within about 1e-16 of the true values).
#[inline]
pub(crate) fn cos_sin_f64(position: u64, turns: Turns) -> (f64, f64) {
    cos_sin_turns(position as f64, turns.hi, turns.lo)
}

/// `(cos, sin)` of `position * theta`, times `scale`, each rounded once to f32.
#[inline]
pub(crate) fn cos_sin(position: u64, turns: Turns, scale: f64) -> (f32, f32) {
    let (c, s) = cos_sin_f64(position, turns);
    ((c * scale) as f32, (s * scale) as f32)
}

/// [`cos_sin`] for every pair at once: `hi[i] + lo[i]` are pair `i`'s turns. Written as
/// one branch-free loop so that it vectorizes; inlined into each backend's
/// `#[target_feature]` wrapper.
#[inline(always)]
pub(crate) fn cos_sin_batch(
    position: u64,
    hi: &[f64],
    lo: &[f64],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let p = position as f64;
    let n = cos.len().min(sin.len()).min(hi.len()).min(lo.len());
    for i in 0..n {
        let (c, s) = cos_sin_turns(p, hi[i], lo[i]);
        cos[i] = (c * scale) as f32;
        sin[i] = (s * scale) as f32;
    }
}

/// cos/sin of `a + b` from those of `a` (`coarse = [cos a, sin a]`) and `b` (`fine`), times
/// `scale`, rounded to f32: the compact table's lookup. A branch-free loop that vectorizes;
/// inlined into each backend's `#[target_feature]` wrapper.
#[inline(always)]
pub(crate) fn angle_sum(
    coarse: [&[f64]; 2],
    fine: [&[f64]; 2],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let [cc, cs] = coarse;
    let [fc, fs] = fine;
    let n = cos
        .len()
        .min(sin.len())
        .min(cc.len())
        .min(cs.len())
        .min(fc.len())
        .min(fs.len());
    for i in 0..n {
        let c = cc[i] * fc[i] - cs[i] * fs[i];
        let s = cs[i] * fc[i] + cc[i] * fs[i];
        cos[i] = (c * scale) as f32;
        sin[i] = (s * scale) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_prod_is_exact_on_integers() {
        let (p, e) = two_prod(123_456_789.0, 987_654_321.0);
        // 123456789 * 987654321 = 121932631112635269, beyond 2^53.
        assert_eq!(p as u128 as i128 + e as i128, 121_932_631_112_635_269);
    }

    #[test]
    fn turns_round_trip_the_frequency() {
        for theta in [1.0, 0.1, 1e-4, 3.7e-7] {
            let t = Turns::from_inv_freq(theta);
            assert!((t.inv_freq() - theta).abs() <= theta * 1e-15);
        }
    }

    #[test]
    fn multiples_of_a_turn_give_cos_one() {
        // theta = 2pi/8 (to f64): p = 8k is (almost) a whole number of turns.
        let t = Turns::from_inv_freq(TAU_HI / 8.0);
        let (c, s) = cos_sin_f64(8 * 1_000_003, t);
        assert!((c - 1.0).abs() < 1e-15 && s.abs() < 1e-8, "{c} {s}");
    }

    #[test]
    fn taylor_coefficients_are_the_factorials() {
        let mut fact = 1.0f64;
        for n in 1..=18u32 {
            fact *= f64::from(n);
            if n == 1 {
                continue;
            }
            let k = if n % 2 == 1 {
                (n as usize - 3) / 2
            } else {
                n as usize / 2 - 1
            };
            let sign = if (n / 2) % 2 == 1 { -1.0 } else { 1.0 };
            if n % 2 == 1 && n >= 3 {
                assert!((S[k] - sign / fact).abs() <= 2.3e-16 / fact, "sin {n}");
            } else if n % 2 == 0 {
                assert!((C[k] - sign / fact).abs() <= 2.3e-16 / fact, "cos {n}");
            }
        }
    }

    #[test]
    fn every_quadrant_matches_libm() {
        for i in -2000..=2000 {
            let theta = 0.001 * f64::from(i) + 0.000_37;
            let t = Turns::from_inv_freq(theta.abs());
            for p in [1u64, 3, 17, 1000] {
                let (c, s) = cos_sin_f64(p, t);
                // The reference's own product `p * theta` is rounded: allow for that.
                let x = p as f64 * theta.abs();
                let tol = 4e-16 + x * 2.3e-16;
                assert!(
                    (c - libm::cos(x)).abs() < tol && (s - libm::sin(x)).abs() < tol,
                    "{p} {theta}"
                );
            }
        }
    }
}
